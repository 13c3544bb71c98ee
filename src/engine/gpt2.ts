/**
 * GPT-2: token + position embeddings, nLayer pre-LayerNorm blocks (causal self-attention, GELU MLP),
 * a final LayerNorm and the LM head tied to the token embeddings.
 *
 * All parameters live in one buffer with named views (llm.c), in the order and Hugging Face layouts of
 * docs/CONTRACTS.md, and all gradients in a second buffer with the same views. Training passes take
 * their activations and activation gradients from an arena, so a step of the same shape as the last
 * allocates nothing.
 */
import { Arena, GradPool, Tape, alloc, currentArena, gradOf, isRecording, noGrad, recording, withArena } from "./autograd.js";
import { kernels } from "./backend.js";
import { lmHeadLogprobs } from "./lmHead.js";
import { add, causalSelfAttention, embedding, gelu, layerNorm, linear } from "./ops/index.js";
import { Tensor, type FloatArray } from "./tensor.js";
import type { Rng } from "../util/rng.js";

export interface GPT2Config {
  vocabSize: number;
  contextLength: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  layerNormEpsilon: number;
}

export const GPT2_PRESETS: Record<string, GPT2Config> = {
  /** the paper's toy policy: vocabulary of 8 tokens, 16 positions */
  toy: { vocabSize: 8, contextLength: 16, nLayer: 4, nHead: 4, nEmbd: 128, layerNormEpsilon: 1e-5 },
  /** GPT-2 124M */
  "gpt2-small": { vocabSize: 50257, contextLength: 1024, nLayer: 12, nHead: 12, nEmbd: 768, layerNormEpsilon: 1e-5 },
};

/** GPT-2's initialisation: N(0, 0.02) weights, residual projections scaled by 1/sqrt(2 nLayer). */
export const INIT_STD = 0.02;

/** Views start at multiples of 16 elements (64 bytes for float32: a cache line, one AVX-512 vector). */
const ALIGN = 16;

export interface Parameter<F extends FloatArray = Float32Array> {
  name: string;
  shape: number[];
  data: F;
  grad: F;
}

/** A batch of padded sequences: tokens [B,T]; positions at or past lengths[b] are padding. */
export interface TokenBatch {
  tokens: Int32Array;
  batch: number;
  seqLen: number;
  lengths: Int32Array;
}

export interface LogprobOptions {
  temperature?: number;
  allowed?: Uint8Array | null;
}

/** Per position (b, t) of [B,T]: about token t+1; 0 at the last position of a row and past it. */
export interface PositionScores {
  logprobs: FloatArray;
  entropy: FloatArray;
}

/** One block's weights by role: W is a Tensor (the model) or a parameter's raw data (the decoder). */
export interface BlockWeights<W> {
  ln1w: W; ln1b: W;
  attnW: W; attnB: W;
  attnProjW: W; attnProjB: W;
  ln2w: W; ln2b: W;
  fcW: W; fcB: W;
  fcProjW: W; fcProjB: W;
}

type Block = BlockWeights<Tensor>;

/** Block i's weights, each looked up by its HF parameter name (`h.{i}.ln_1.weight`, ...) with `get`. */
export function blockWeights<W>(i: number, get: (name: string) => W): BlockWeights<W> {
  const h = `h.${i}.`;
  return {
    ln1w: get(h + "ln_1.weight"), ln1b: get(h + "ln_1.bias"),
    attnW: get(h + "attn.c_attn.weight"), attnB: get(h + "attn.c_attn.bias"),
    attnProjW: get(h + "attn.c_proj.weight"), attnProjB: get(h + "attn.c_proj.bias"),
    ln2w: get(h + "ln_2.weight"), ln2b: get(h + "ln_2.bias"),
    fcW: get(h + "mlp.c_fc.weight"), fcB: get(h + "mlp.c_fc.bias"),
    fcProjW: get(h + "mlp.c_proj.weight"), fcProjB: get(h + "mlp.c_proj.bias"),
  };
}

/** The parameter names and shapes of a config, in the contract's order. */
export function parameterShapes(c: GPT2Config): { name: string; shape: number[] }[] {
  const C = c.nEmbd;
  const out: { name: string; shape: number[] }[] = [
    { name: "wte.weight", shape: [c.vocabSize, C] },
    { name: "wpe.weight", shape: [c.contextLength, C] },
  ];
  for (let i = 0; i < c.nLayer; i++) {
    const h = `h.${i}.`;
    out.push(
      { name: h + "ln_1.weight", shape: [C] },
      { name: h + "ln_1.bias", shape: [C] },
      { name: h + "attn.c_attn.weight", shape: [C, 3 * C] },
      { name: h + "attn.c_attn.bias", shape: [3 * C] },
      { name: h + "attn.c_proj.weight", shape: [C, C] },
      { name: h + "attn.c_proj.bias", shape: [C] },
      { name: h + "ln_2.weight", shape: [C] },
      { name: h + "ln_2.bias", shape: [C] },
      { name: h + "mlp.c_fc.weight", shape: [C, 4 * C] },
      { name: h + "mlp.c_fc.bias", shape: [4 * C] },
      { name: h + "mlp.c_proj.weight", shape: [4 * C, C] },
      { name: h + "mlp.c_proj.bias", shape: [C] },
    );
  }
  out.push({ name: "ln_f.weight", shape: [C] }, { name: "ln_f.bias", shape: [C] });
  return out;
}

export function validateConfig(c: GPT2Config): void {
  const ints: (keyof GPT2Config)[] = ["vocabSize", "contextLength", "nLayer", "nHead", "nEmbd"];
  for (const k of ints) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`GPT2Config.${k}: expected a positive integer, got ${c[k]}`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new Error(`GPT2Config: nEmbd ${c.nEmbd} is not divisible by nHead ${c.nHead}`);
  if (!(c.layerNormEpsilon > 0)) throw new Error(`GPT2Config.layerNormEpsilon: expected > 0, got ${c.layerNormEpsilon}`);
}

export class GPT2<F extends FloatArray = Float32Array> {
  readonly config: GPT2Config;
  /** every parameter, contiguous (with alignment gaps that stay 0): matrices first, then vectors */
  readonly data: F;
  /** every gradient, same layout as data */
  readonly grad: F;
  private readonly params: Parameter<F>[];
  private readonly wte: Tensor;
  private readonly wpe: Tensor;
  private readonly blocks: Block[];
  private readonly lnfW: Tensor;
  private readonly lnfB: Tensor;
  /** training activations (forward and backward), reused across steps */
  private readonly trainArena = new Arena();
  /** inference activations */
  private readonly scoreArena = new Arena();
  /** activation gradients, handed back as soon as they are consumed */
  private readonly gradPool = new GradPool();
  private pending: { tape: Tape; logprobs: Tensor; B: number; T: number } | null = null;
  /**
   * false: every pass allocates its activations and gradients afresh, as a framework without an arena
   * does (`lambda-grpo bench step --fresh-buffers` measures what reuse saves).
   */
  reuseBuffers = true;

  /**
   * A model with every parameter 0; call `initialize` or fill `parameters()` (e.g. from a checkpoint).
   * float64: parameters and activations in float64 (gradient checks, on the TypeScript kernels);
   * trainable false: no gradient buffer (a frozen reference policy; grads are then empty arrays).
   */
  constructor(config: GPT2Config, opts: { float64?: boolean; trainable?: boolean } = {}) {
    validateConfig(config);
    this.config = { ...config };
    const shapes = parameterShapes(config);
    // Buffer layout: the matrices and embeddings first, then the vectors (biases, LayerNorm), so AdamW
    // updates each weight-decay group with one kernel call; parameters() still lists the contract's order.
    let total = 0;
    const offsets: number[] = new Array(shapes.length);
    for (const matrices of [true, false]) {
      for (const [i, s] of shapes.entries()) {
        if ((s.shape.length >= 2) !== matrices) continue;
        offsets[i] = total;
        total += Math.ceil(s.shape.reduce((a, b) => a * b, 1) / ALIGN) * ALIGN;
      }
    }
    const make = (n: number): F => (opts.float64 ? new Float64Array(n) : new Float32Array(n)) as F;
    this.data = make(total);
    const trainable = opts.trainable ?? true;
    this.grad = make(trainable ? total : 0);
    this.params = shapes.map((s, i) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      return {
        name: s.name,
        shape: s.shape,
        data: this.data.subarray(offsets[i], offsets[i] + n) as F,
        grad: (trainable ? this.grad.subarray(offsets[i], offsets[i] + n) : this.grad) as F,
      };
    });
    const t = new Map(this.params.map((p) => [p.name, new Tensor(p.shape, p.data, trainable, trainable ? p.grad : null)]));
    const get = (name: string): Tensor => t.get(name)!;
    this.wte = get("wte.weight");
    this.wpe = get("wpe.weight");
    this.blocks = [];
    for (let i = 0; i < config.nLayer; i++) this.blocks.push(blockWeights(i, get));
    this.lnfW = get("ln_f.weight");
    this.lnfB = get("ln_f.bias");
  }

  /** The parameters in the contract's order; data and grad are views into the model's two buffers. */
  parameters(): Parameter<F>[] {
    return this.params;
  }

  /** Number of parameters (the tied LM head counted once). */
  get numParameters(): number {
    let n = 0;
    for (const p of this.params) n += p.data.length;
    return n;
  }

  get trainable(): boolean {
    return this.grad.length > 0;
  }

  /** GPT-2 initialisation (Hugging Face's _init_weights): see INIT_STD. Deterministic given rng. */
  initialize(rng: Rng): void {
    const residualStd = INIT_STD / Math.sqrt(2 * this.config.nLayer);
    this.data.fill(0);
    for (const p of this.params) {
      if (p.name.endsWith("ln_1.weight") || p.name.endsWith("ln_2.weight") || p.name === "ln_f.weight") {
        p.data.fill(1);
      } else if (p.shape.length === 2) {
        const std = p.name.endsWith("c_proj.weight") ? residualStd : INIT_STD;
        const d = p.data;
        for (let i = 0; i < d.length; i++) d[i] = rng.normal() * std;
      }
      // biases and LayerNorm biases stay 0
    }
  }

  zeroGrad(): void {
    this.grad.fill(0);
  }

  /**
   * The final hidden states [B,T,C] (after ln_f) of a padded batch; `onQkv(layer, qkv)` sees each
   * layer's packed q,k,v [B,T,3C] (the KV-cache prefill copies k and v from it).
   */
  hidden(batch: TokenBatch, onQkv?: (layer: number, qkv: FloatArray) => void): Tensor {
    const { batch: B, seqLen: T, lengths } = batch;
    const cfg = this.config;
    if (T > cfg.contextLength) throw new Error(`GPT2: sequence length ${T} exceeds the context length ${cfg.contextLength}`);
    let x = embedding(withoutPadding(batch), B, T, this.wte, this.wpe);
    // Inference keeps nothing for a backward: each layer's buffers are dead once the next residual
    // stream exists, so the arena is rewound per layer and the stream ping-pongs between two buffers
    // (memory of one layer, not nLayer: GPT-2's attention alone is B*12*T*T floats a layer).
    const arena = isRecording() ? null : currentArena();
    const stream = arena ? [alloc(x.data, x.size), alloc(x.data, x.size)] : null;
    for (let l = 0; l < this.blocks.length; l++) {
      const mark = arena?.mark() ?? 0;
      const blk = this.blocks[l];
      const qkv = linear(layerNorm(x, blk.ln1w, blk.ln1b, cfg.layerNormEpsilon), blk.attnW, blk.attnB);
      if (onQkv) onQkv(l, qkv.data);
      const a = causalSelfAttention(qkv, cfg.nHead, lengths);
      x = add(x, linear(a, blk.attnProjW, blk.attnProjB));
      const h = gelu(linear(layerNorm(x, blk.ln2w, blk.ln2b, cfg.layerNormEpsilon), blk.fcW, blk.fcB));
      x = add(x, linear(h, blk.fcProjW, blk.fcProjB));
      if (arena && stream) {
        const keep = stream[l % 2];
        keep.set(x.data);
        x = new Tensor(x.shape, keep);
        arena.rewind(mark);
      }
    }
    return layerNorm(x, this.lnfW, this.lnfB, cfg.layerNormEpsilon);
  }

  /** Per-position log-probs of the next token and entropies, [B*T] each (see PositionScores). */
  private scores(batch: TokenBatch, opts: LogprobOptions): { logprobs: Tensor; entropy: Tensor } {
    const { tokens, batch: B, seqLen: T, lengths } = batch;
    checkBatch(batch, this.config.vocabSize);
    const temperature = opts.temperature ?? 1;
    if (!(temperature > 0 && Number.isFinite(temperature))) throw new Error(`GPT2: temperature must be a positive number, got ${temperature}`);
    const targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) targets[b * T + t] = t + 1 < lengths[b] ? tokens[b * T + t + 1] : -1;
    }
    const h = this.hidden(batch);
    return lmHeadLogprobs(h.reshape([B * T, this.config.nEmbd]), this.wte, targets, opts);
  }

  /** Log-probs and entropies with nothing kept for backward. Returns fresh arrays [B*T]. */
  logprobs(batch: TokenBatch, opts: LogprobOptions = {}): PositionScores {
    this.scoreArena.reset();
    const s = withArena(this.scoreArena, () => noGrad(() => this.scores(batch, opts)));
    return { logprobs: s.logprobs.data.slice(), entropy: s.entropy.data.slice() };
  }

  /** As logprobs, keeping what `backward` needs (until the next call of either). */
  logprobsForTraining(batch: TokenBatch, opts: LogprobOptions = {}): PositionScores {
    if (this.grad.length === 0) throw new Error("GPT2: this model was made without gradients (trainable: false)");
    this.pending = null;
    this.trainArena.reset();
    const tape = new Tape();
    const s = withArena(this.reuseBuffers ? this.trainArena : null, () => recording(tape, () => this.scores(batch, opts)));
    this.pending = { tape, logprobs: s.logprobs, B: batch.batch, T: batch.seqLen };
    return { logprobs: s.logprobs.data.slice(), entropy: s.entropy.data.slice() };
  }

  /**
   * Adds d(objective)/d(params) to the gradients, given dLogprobs [B*T] in the layout of the last
   * logprobsForTraining. One backward per forward.
   */
  backward(dLogprobs: ArrayLike<number>): void {
    const p = this.pending;
    if (p === null) throw new Error("GPT2.backward: no logprobsForTraining pass to go back through (one backward per forward)");
    this.pending = null;
    if (dLogprobs.length !== p.B * p.T) throw new Error(`GPT2.backward: ${dLogprobs.length} gradients for [${p.B},${p.T}]`);
    withArena(this.reuseBuffers ? this.trainArena : null, () => {
      const g = gradOf(p.logprobs);
      for (let i = 0; i < g.length; i++) g[i] = dLogprobs[i];
      p.tape.backward(this.reuseBuffers ? this.gradPool : null);
    });
  }

  /** Logits [B,T,V] of every position (tests and tools; the training path never builds these). */
  logits(batch: TokenBatch): FloatArray {
    checkBatch(batch, this.config.vocabSize);
    const { batch: B, seqLen: T } = batch;
    const V = this.config.vocabSize;
    const C = this.config.nEmbd;
    return noGrad(() => {
      const h = this.hidden(batch);
      const out = h.data instanceof Float64Array ? new Float64Array(B * T * V) : new Float32Array(B * T * V);
      kernels.gemm(false, true, B * T, V, C, 1, h.data, this.wte.data, 0, out);
      return out;
    });
  }

  /**
   * Bytes held for activations (arenas) and activation gradients (gradBytes, the pool), and the buffers
   * created so far (the allocate-once check).
   */
  arenaStats(): { bytes: number; allocations: number; gradBytes: number } {
    return {
      gradBytes: this.gradPool.bytes,
      bytes: this.trainArena.bytes + this.scoreArena.bytes + this.gradPool.bytes,
      allocations: this.trainArena.allocations + this.scoreArena.allocations + this.gradPool.allocations,
    };
  }
}

/** The batch's tokens with padding positions set to 0 (padding may hold any id, even an invalid one). */
function withoutPadding(batch: TokenBatch): Int32Array {
  const { tokens, batch: B, seqLen: T, lengths } = batch;
  let clean = true;
  for (let b = 0; b < B && clean; b++) if (lengths[b] < T) clean = false;
  if (clean) return tokens;
  const out = tokens.slice();
  for (let b = 0; b < B; b++) out.fill(0, b * T + lengths[b], (b + 1) * T);
  return out;
}

function checkBatch(batch: TokenBatch, V: number): void {
  const { tokens, batch: B, seqLen: T, lengths } = batch;
  if (tokens.length !== B * T) throw new Error(`GPT2: ${tokens.length} tokens for a batch of [${B},${T}]`);
  if (lengths.length !== B) throw new Error(`GPT2: ${lengths.length} lengths for a batch of ${B}`);
  for (let b = 0; b < B; b++) {
    if (!(lengths[b] >= 1 && lengths[b] <= T)) throw new Error(`GPT2: lengths[${b}] = ${lengths[b]}, expected 1..${T}`);
    for (let t = 0; t < lengths[b]; t++) {
      const tok = tokens[b * T + t];
      if (!(tok >= 0 && tok < V)) throw new Error(`GPT2: token ${tok} at row ${b}, position ${t} is outside the vocabulary [0, ${V})`);
    }
  }
}
