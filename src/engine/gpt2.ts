/**
 * GPT-2: token + position embeddings, nLayer pre-LayerNorm blocks (causal self-attention, GELU MLP),
 * a final LayerNorm and the LM head tied to the token embeddings.
 *
 * All parameters live in one buffer with named views (llm.c), in the order and Hugging Face layouts of
 * docs/CONTRACTS.md, and all gradients in a second buffer with the same views. Training passes take
 * their activations and activation gradients from an arena, so a step of the same shape as the last
 * allocates nothing.
 */
import { CausalLM, parameterBuffer, throughLayers, withoutPadding, type Parameter, type TokenBatch } from "./lm.js";
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

export type { LogprobOptions, Parameter, PositionScores, TokenBatch } from "./lm.js";

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

export class GPT2<F extends FloatArray = Float32Array> extends CausalLM<F> {
  protected readonly label = "GPT2";
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

  /**
   * A model with every parameter 0; call `initialize` or fill `parameters()` (e.g. from a checkpoint).
   * float64: parameters and activations in float64 (gradient checks, on the TypeScript kernels);
   * trainable false: no gradient buffer (a frozen reference policy; grads are then empty arrays).
   */
  constructor(config: GPT2Config, opts: { float64?: boolean; trainable?: boolean } = {}) {
    super();
    validateConfig(config);
    this.config = { ...config };
    const trainable = opts.trainable ?? true;
    const buf = parameterBuffer<F>(parameterShapes(config), opts.float64 ?? false, trainable);
    this.data = buf.data;
    this.grad = buf.grad;
    this.params = buf.params;
    const t = new Map(this.params.map((p) => [p.name, new Tensor(p.shape, p.data, trainable, trainable ? p.grad : null)]));
    const get = (name: string): Tensor => t.get(name)!;
    this.wte = get("wte.weight");
    this.wpe = get("wpe.weight");
    this.blocks = [];
    for (let i = 0; i < config.nLayer; i++) this.blocks.push(blockWeights(i, get));
    this.lnfW = get("ln_f.weight");
    this.lnfB = get("ln_f.bias");
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get hiddenSize(): number {
    return this.config.nEmbd;
  }

  get maxSequenceLength(): number {
    return this.config.contextLength;
  }

  protected head(): Tensor {
    return this.wte;
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

  /**
   * The final hidden states [B,T,C] (after ln_f) of a padded batch; `onQkv(layer, qkv)` sees each
   * layer's packed q,k,v [B,T,3C] (the KV-cache prefill copies k and v from it).
   */
  hidden(batch: TokenBatch, onQkv?: (layer: number, qkv: FloatArray) => void): Tensor {
    const { batch: B, seqLen: T, lengths } = batch;
    const cfg = this.config;
    if (T > cfg.contextLength) throw new Error(`GPT2: sequence length ${T} exceeds the context length ${cfg.contextLength}`);
    const x = throughLayers(embedding(withoutPadding(batch), B, T, this.wte, this.wpe), this.blocks.length, (l, x) => {
      const blk = this.blocks[l];
      const qkv = linear(layerNorm(x, blk.ln1w, blk.ln1b, cfg.layerNormEpsilon), blk.attnW, blk.attnB);
      if (onQkv) onQkv(l, qkv.data);
      const a = causalSelfAttention(qkv, cfg.nHead, lengths);
      x = add(x, linear(a, blk.attnProjW, blk.attnProjB));
      const h = gelu(linear(layerNorm(x, blk.ln2w, blk.ln2b, cfg.layerNormEpsilon), blk.fcW, blk.fcB));
      return add(x, linear(h, blk.fcProjW, blk.fcProjB));
    }, this.recompute);
    return layerNorm(x, this.lnfW, this.lnfB, cfg.layerNormEpsilon);
  }
}
