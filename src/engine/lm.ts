/**
 * What every causal language model of the engine shares, whatever its blocks: one parameter buffer with
 * named views (and a gradient buffer with the same views), arenas for the activations of scoring and
 * training passes, the padded-batch scoring through the fused LM head (lmHeadLogprobs), one backward per
 * training forward, and full logits for tests and tools. A model (GPT2, TransformerLM) supplies its
 * final hidden states and its LM head.
 */
import { Arena, GradPool, Tape, alloc, checkpoint, currentArena, gradOf, isRecording, noGrad, recording, withArena } from "./autograd.js";
import { kernels } from "./backend.js";
import { lmHeadLogprobs } from "./lmHead.js";
import { Tensor, type FloatArray } from "./tensor.js";

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

/** Views start at multiples of 16 elements (64 bytes for float32: a cache line, one AVX-512 vector). */
const ALIGN = 16;

/**
 * One buffer holding parameters of these shapes, and (trainable) a gradient buffer with the same layout.
 * Layout: the matrices and embeddings first, then the vectors (biases, norms), so AdamW updates each
 * weight-decay group with one kernel call; `params` keeps the order of `shapes`. Alignment gaps stay 0.
 * Not trainable: grad is empty and every parameter's grad is that empty array.
 */
export function parameterBuffer<F extends FloatArray>(
  shapes: { name: string; shape: number[] }[], float64: boolean, trainable: boolean,
): { data: F; grad: F; params: Parameter<F>[] } {
  let total = 0;
  const offsets: number[] = new Array(shapes.length);
  for (const matrices of [true, false]) {
    for (const [i, s] of shapes.entries()) {
      if ((s.shape.length >= 2) !== matrices) continue;
      offsets[i] = total;
      total += Math.ceil(s.shape.reduce((a, b) => a * b, 1) / ALIGN) * ALIGN;
    }
  }
  const make = (n: number): F => (float64 ? new Float64Array(n) : new Float32Array(n)) as F;
  const data = make(total);
  const grad = make(trainable ? total : 0);
  const params = shapes.map((s, i) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    return {
      name: s.name,
      shape: s.shape,
      data: data.subarray(offsets[i], offsets[i] + n) as F,
      grad: (trainable ? grad.subarray(offsets[i], offsets[i] + n) : grad) as F,
    };
  });
  return { data, grad, params };
}

export abstract class CausalLM<F extends FloatArray = Float32Array> {
  /** what errors call the model ("GPT2", "TransformerLM") */
  protected abstract readonly label: string;
  abstract readonly vocabSize: number;
  /** C of the final hidden states */
  abstract readonly hiddenSize: number;
  /** the longest sequence (prompt + completion) the model takes */
  abstract readonly maxSequenceLength: number;
  /** every trained parameter, contiguous (the buffer AdamW updates) */
  abstract readonly data: F;
  /** their gradients, same layout; empty when nothing is trained */
  abstract readonly grad: F;

  /** training activations (forward and backward), reused across steps */
  protected readonly trainArena = new Arena();
  /** inference activations */
  protected readonly scoreArena = new Arena();
  /** activation gradients, handed back as soon as they are consumed */
  protected readonly gradPool = new GradPool();
  /** one layer's activations, recomputed in the backward (gradientCheckpointing) */
  protected readonly recomputeArena = new Arena();
  /**
   * true: training passes keep each layer's input only and recompute the layer in the backward (HF's
   * gradient_checkpointing): activation memory of one layer plus nLayer residual streams, for one more
   * forward's work.
   */
  gradientCheckpointing = false;
  private pending: { tape: Tape; logprobs: Tensor; B: number; T: number } | null = null;
  /** true while a logprobsForTraining pass runs (LoRA dropout is on in training passes only, as PEFT's) */
  protected training = false;
  /**
   * false: every pass allocates its activations and gradients afresh, as a framework without an arena
   * does (`lambda-grpo bench step --fresh-buffers` measures what reuse saves).
   */
  reuseBuffers = true;

  /** The final hidden states [B,T,C] of a padded batch (padding rows' values are unused). */
  abstract hidden(batch: TokenBatch): Tensor;
  /** The LM head [V,C] (the tied embeddings or lm_head.weight). */
  protected abstract head(): Tensor;
  /** The trained parameters; data and grad are views into `data` and `grad`. */
  abstract parameters(): Parameter<F>[];

  get trainable(): boolean {
    return this.grad.length > 0;
  }

  zeroGrad(): void {
    this.grad.fill(0);
  }

  /** Per-position log-probs of the next token and entropies, [B*T] each (see PositionScores). */
  private scores(batch: TokenBatch, opts: LogprobOptions): { logprobs: Tensor; entropy: Tensor } {
    const { tokens, batch: B, seqLen: T, lengths } = batch;
    this.checkBatch(batch);
    const temperature = opts.temperature ?? 1;
    if (!(temperature > 0 && Number.isFinite(temperature))) throw new Error(`${this.label}: temperature must be a positive number, got ${temperature}`);
    const targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) targets[b * T + t] = t + 1 < lengths[b] ? tokens[b * T + t + 1] : -1;
    }
    const h = this.hidden(batch);
    return lmHeadLogprobs(h.reshape([B * T, this.hiddenSize]), this.head(), targets, opts);
  }

  /** Log-probs and entropies with nothing kept for backward. Returns fresh arrays [B*T]. */
  logprobs(batch: TokenBatch, opts: LogprobOptions = {}): PositionScores {
    this.scoreArena.reset();
    const s = withArena(this.scoreArena, () => noGrad(() => this.scores(batch, opts)));
    return { logprobs: s.logprobs.data.slice(), entropy: s.entropy.data.slice() };
  }

  /** As logprobs, keeping what `backward` needs (until the next call of either). */
  logprobsForTraining(batch: TokenBatch, opts: LogprobOptions = {}): PositionScores {
    if (!this.trainable) throw new Error(`${this.label}: this model was made without gradients (trainable: false)`);
    this.pending = null;
    this.trainArena.reset();
    const tape = new Tape();
    this.training = true;
    let s: { logprobs: Tensor; entropy: Tensor };
    try {
      s = withArena(this.reuseBuffers ? this.trainArena : null, () => recording(tape, () => this.scores(batch, opts)));
    } finally {
      this.training = false;
    }
    this.pending = { tape, logprobs: s.logprobs, B: batch.batch, T: batch.seqLen };
    return { logprobs: s.logprobs.data.slice(), entropy: s.entropy.data.slice() };
  }

  /**
   * Adds d(objective)/d(params) to the gradients, given dLogprobs [B*T] in the layout of the last
   * logprobsForTraining. One backward per forward.
   */
  backward(dLogprobs: ArrayLike<number>): void {
    const p = this.pending;
    if (p === null) throw new Error(`${this.label}.backward: no logprobsForTraining pass to go back through (one backward per forward)`);
    this.pending = null;
    if (dLogprobs.length !== p.B * p.T) throw new Error(`${this.label}.backward: ${dLogprobs.length} gradients for [${p.B},${p.T}]`);
    withArena(this.reuseBuffers ? this.trainArena : null, () => {
      const g = gradOf(p.logprobs);
      for (let i = 0; i < g.length; i++) g[i] = dLogprobs[i];
      p.tape.backward(this.reuseBuffers ? this.gradPool : null);
    });
  }

  /** Logits [B,T,V] of every position (tests and tools; the training path never builds these). */
  logits(batch: TokenBatch): FloatArray {
    this.checkBatch(batch);
    const { batch: B, seqLen: T } = batch;
    const V = this.vocabSize;
    const C = this.hiddenSize;
    return noGrad(() => {
      const h = this.hidden(batch);
      const out = h.data instanceof Float64Array ? new Float64Array(B * T * V) : new Float32Array(B * T * V);
      kernels.gemm(false, true, B * T, V, C, 1, h.data, this.head().data, 0, out);
      return out;
    });
  }

  /**
   * Bytes held for activations (arenas: trainBytes the training passes', recomputeBytes the recomputed
   * layer's) and activation gradients (gradBytes: the pool's free buffers; gradAllocatedBytes: all it
   * holds, lent ones too), and the buffers created so far (the
   * allocate-once check).
   */
  arenaStats(): { bytes: number; allocations: number; gradBytes: number; gradAllocatedBytes: number; trainBytes: number; recomputeBytes: number } {
    return {
      gradBytes: this.gradPool.bytes,
      gradAllocatedBytes: this.gradPool.allocatedBytes,
      trainBytes: this.trainArena.bytes,
      recomputeBytes: this.recomputeArena.bytes,
      bytes: this.trainArena.bytes + this.scoreArena.bytes + this.recomputeArena.bytes + this.gradPool.bytes,
      allocations: this.trainArena.allocations + this.scoreArena.allocations + this.recomputeArena.allocations + this.gradPool.allocations,
    };
  }

  /** The arena of recomputed layers when gradientCheckpointing is on, else null (see throughLayers). */
  protected get recompute(): Arena | null {
    return this.gradientCheckpointing ? this.recomputeArena : null;
  }

  protected checkBatch(batch: TokenBatch): void {
    const { tokens, batch: B, seqLen: T, lengths } = batch;
    const V = this.vocabSize;
    if (tokens.length !== B * T) throw new Error(`${this.label}: ${tokens.length} tokens for a batch of [${B},${T}]`);
    if (lengths.length !== B) throw new Error(`${this.label}: ${lengths.length} lengths for a batch of ${B}`);
    if (T > this.maxSequenceLength) throw new Error(`${this.label}: sequence length ${T} exceeds the context length ${this.maxSequenceLength}`);
    for (let b = 0; b < B; b++) {
      if (!(lengths[b] >= 1 && lengths[b] <= T)) throw new Error(`${this.label}: lengths[${b}] = ${lengths[b]}, expected 1..${T}`);
      for (let t = 0; t < lengths[b]; t++) {
        const tok = tokens[b * T + t];
        if (!(tok >= 0 && tok < V)) throw new Error(`${this.label}: token ${tok} at row ${b}, position ${t} is outside the vocabulary [0, ${V})`);
      }
    }
  }
}

/** The batch's tokens with padding positions set to 0 (padding may hold any id, even an invalid one). */
export function withoutPadding(batch: TokenBatch): Int32Array {
  const { tokens, batch: B, seqLen: T, lengths } = batch;
  let clean = true;
  for (let b = 0; b < B && clean; b++) if (lengths[b] < T) clean = false;
  if (clean) return tokens;
  const out = tokens.slice();
  for (let b = 0; b < B; b++) out.fill(0, b * T + lengths[b], (b + 1) * T);
  return out;
}

/**
 * The residual stream x [B,T,C] through nLayer blocks, `block(l, x)` giving layer l's output. Inference
 * (no tape, an arena) keeps nothing for a backward: each layer's buffers are dead once the next residual
 * stream exists, so the arena is rewound per layer and the stream ping-pongs between two buffers
 * (memory of one layer, not nLayer: the attention probabilities alone are B*H*T*T floats a layer).
 * Training with `recompute` (an arena): each layer is checkpointed (autograd.ts `checkpoint`), and
 * `block(l, x, replay)` runs again with replay true in the backward.
 */
export function throughLayers(
  x: Tensor, nLayer: number, block: (l: number, x: Tensor, replay: boolean) => Tensor, recompute: Arena | null = null,
): Tensor {
  const arena = isRecording() ? null : currentArena();
  const stream = arena ? [alloc(x.data, x.size), alloc(x.data, x.size)] : null;
  for (let l = 0; l < nLayer; l++) {
    const mark = arena?.mark() ?? 0;
    x = recompute !== null && isRecording() ? checkpoint(x, recompute, (xi, replay) => block(l, xi, replay)) : block(l, x, false);
    if (arena && stream) {
      const keep = stream[l % 2];
      keep.set(x.data);
      x = new Tensor(x.shape, keep);
      arena.rewind(mark);
    }
  }
  return x;
}
