/**
 * TransformerLM: the decoder block machinery of Llama 3, Qwen2 and Qwen3, one implementation driven by a
 * DecoderConfig (src/engine/families/config.ts; each family's file declares what its architecture fixes):
 *
 *   x = embed_tokens[tokens]
 *   per layer:  h = RMSNorm(x);  q, k, v = h Wq^T (+bq), h Wk^T (+bk), h Wv^T (+bv)
 *               [Qwen3: q, k = RMSNorm over each head's D (q_norm, k_norm)]
 *               q, k = RoPE(q), RoPE(k) at each row's positions (llama3 frequency scaling when given)
 *               x += GQA(q, k, v) Wo^T (+bo)
 *               h = RMSNorm(x);  x += (silu(h Wg^T) * h Wu^T) Wd^T        (SwiGLU, fused silu * up)
 *   RMSNorm(x), then the LM head: embed_tokens (tied) or lm_head.
 *
 * Parameters are Hugging Face's, by name and layout (nn.Linear [out, in]), in one buffer with views
 * (lm.ts). LoRA (PEFT semantics): y = x W^T + b + (alpha / r) dropout(x) A^T B^T on the target modules,
 * A [r, in] and B [out, r] in a buffer of their own; the base weights are then frozen (no gradient
 * buffer) and `parameters()` lists the adapters only. `adapters = false` runs the base model (the KL
 * reference, with no second copy of the weights).
 */
import {
  loraParameterShapes, loraTargets, modulePath, parameterShapes, LINEAR_MODULES,
  type DecoderConfig, type LinearModule, type LoraConfig,
} from "./families/config.js";
import { validateDecoderConfig } from "./families/index.js";
import { CausalLM, parameterBuffer, throughLayers, withoutPadding, type Parameter, type TokenBatch } from "./lm.js";
import { add, groupedQueryAttention, linearT, loraLinear, rmsNorm, rope, swiglu, tokenEmbedding } from "./ops/index.js";
import { Tensor, type FloatArray } from "./tensor.js";
import { Rng, type RngState } from "../util/rng.js";

/** Hugging Face's `initializer_range` default: weights N(0, 0.02), biases 0, norms 1 (`_init_weights`). */
export const INITIALIZER_RANGE = 0.02;

export interface TransformerOptions {
  /** parameters and activations in float64 (gradient checks, on the TypeScript kernels) */
  float64?: boolean;
  /** false: no gradient buffer at all (a frozen model) */
  trainable?: boolean;
  /** LoRA adapters on the target modules; the base weights are then frozen */
  lora?: LoraConfig | null;
  /** seeds LoRA dropout's masks (training passes only); default 0 */
  dropoutSeed?: number;
  /** recompute each layer in the backward instead of keeping its activations (CausalLM.gradientCheckpointing) */
  gradientCheckpointing?: boolean;
}

/** A linear module: W [out, in], its bias [out] or null, and its adapter when LoRA targets it. */
interface Linear {
  w: Tensor;
  b: Tensor | null;
  lora: { A: Tensor; B: Tensor } | null;
}

interface Block {
  inputNorm: Tensor;
  proj: Record<LinearModule, Linear>;
  qNorm: Tensor | null;
  kNorm: Tensor | null;
  postNorm: Tensor;
}

/**
 * Per call of `run`: where each row's positions start (null: 0, a padded batch) and the attention
 * itself, given the layer's roped q [B,T,H*D] and k, v [B,T,KV*D] (the KV-cache decoder writes k, v
 * into its cache and attends over it).
 */
export interface RunContext {
  positions: Int32Array | null;
  attend(layer: number, q: Tensor, k: Tensor, v: Tensor): Tensor;
}

export class TransformerLM<F extends FloatArray = Float32Array> extends CausalLM<F> {
  protected readonly label = "TransformerLM";
  readonly config: DecoderConfig;
  readonly lora: LoraConfig | null;
  /** the base weights, contiguous (matrices first, then vectors) */
  readonly baseData: F;
  /** their gradients (empty with LoRA or when not trainable) */
  readonly baseGrad: F;
  /** the adapters' A and B matrices, contiguous (empty without LoRA) */
  readonly loraData: F;
  readonly loraGrad: F;
  /** false: the adapters are skipped (the base model: LoRA's KL reference) */
  adapters = true;
  private readonly base: Parameter<F>[];
  private readonly loraParams: Parameter<F>[];
  private readonly embed: Tensor;
  private readonly lmHead: Tensor;
  private readonly blocks: Block[];
  private readonly finalNorm: Tensor;
  private readonly loraScale: number;
  /** LoRA dropout's masks (its state travels with the policy state: a resumed run draws the same masks) */
  readonly dropoutRng: Rng;

  /**
   * A model with every parameter 0; call `initialize` or fill `baseParameters()` (e.g. from a checkpoint).
   */
  constructor(config: DecoderConfig, opts: TransformerOptions = {}) {
    super();
    validateDecoderConfig(config);
    this.config = { ...config, ropeScaling: config.ropeScaling === null ? null : { ...config.ropeScaling } };
    const lora = opts.lora ?? null;
    if (lora !== null) checkLora(lora);
    this.lora = lora === null ? null : { ...lora, targetModules: loraTargets(lora) };
    const float64 = opts.float64 ?? false;
    const trainable = opts.trainable ?? true;
    const baseTrained = trainable && lora === null;
    const base = parameterBuffer<F>(parameterShapes(config), float64, baseTrained);
    this.baseData = base.data;
    this.baseGrad = base.grad;
    this.base = base.params;
    const adapters = parameterBuffer<F>(lora === null ? [] : loraParameterShapes(config, lora), float64, trainable && lora !== null);
    this.loraData = adapters.data;
    this.loraGrad = adapters.grad;
    this.loraParams = adapters.params;
    this.loraScale = lora === null ? 0 : lora.alpha / lora.r;
    this.dropoutRng = new Rng(opts.dropoutSeed ?? 0);
    this.gradientCheckpointing = opts.gradientCheckpointing ?? false;

    const tensors = new Map<string, Tensor>();
    for (const [params, grads] of [[this.base, baseTrained], [this.loraParams, trainable]] as const) {
      for (const p of params) tensors.set(p.name, new Tensor(p.shape, p.data, grads, grads ? p.grad : null));
    }
    const get = (name: string): Tensor => tensors.get(name)!;
    const maybe = (name: string): Tensor | null => tensors.get(name) ?? null;
    this.embed = get("model.embed_tokens.weight");
    this.lmHead = config.tieWordEmbeddings ? this.embed : get("lm_head.weight");
    this.finalNorm = get("model.norm.weight");
    this.blocks = [];
    for (let i = 0; i < config.nLayer; i++) {
      const l = `model.layers.${i}.`;
      const proj = {} as Record<LinearModule, Linear>;
      for (const m of LINEAR_MODULES) {
        const p = l + modulePath(m);
        const A = maybe(`${p}.lora_A.weight`);
        proj[m] = { w: get(`${p}.weight`), b: maybe(`${p}.bias`), lora: A === null ? null : { A, B: get(`${p}.lora_B.weight`) } };
      }
      this.blocks.push({
        inputNorm: get(l + "input_layernorm.weight"),
        proj,
        qNorm: maybe(l + "self_attn.q_norm.weight"),
        kNorm: maybe(l + "self_attn.k_norm.weight"),
        postNorm: get(l + "post_attention_layernorm.weight"),
      });
    }
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get hiddenSize(): number {
    return this.config.hiddenSize;
  }

  get maxSequenceLength(): number {
    return this.config.maxPositionEmbeddings;
  }

  /** The trained buffer: the adapters with LoRA, else the base weights. */
  get data(): F {
    return this.lora === null ? this.baseData : this.loraData;
  }

  get grad(): F {
    return this.lora === null ? this.baseGrad : this.loraGrad;
  }

  protected head(): Tensor {
    return this.lmHead;
  }

  /** The trained parameters: the LoRA A and B matrices with LoRA, else every base weight. */
  parameters(): Parameter<F>[] {
    return this.lora === null ? this.base : this.loraParams;
  }

  /** Every base weight by HF name, in parameterShapes order (grads are empty arrays when frozen). */
  baseParameters(): Parameter<F>[] {
    return this.base;
  }

  /** The adapters by PEFT name (without `base_model.model.`), empty without LoRA. */
  loraParameters(): Parameter<F>[] {
    return this.loraParams;
  }

  /** Base weights plus adapters (the tied head counted once). */
  get numParameters(): number {
    let n = 0;
    for (const p of this.base) n += p.data.length;
    for (const p of this.loraParams) n += p.data.length;
    return n;
  }

  /**
   * Hugging Face's initialisation: every matrix (embeddings and linears) N(0, INITIALIZER_RANGE), biases
   * 0, norm weights 1; then the adapters (initializeLora). Deterministic given rng.
   */
  initialize(rng: Rng): void {
    this.baseData.fill(0);
    for (const p of this.base) {
      if (p.shape.length === 2) {
        for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal() * INITIALIZER_RANGE;
      } else if (p.name.endsWith("norm.weight")) {
        p.data.fill(1);
      }
    }
    this.initializeLora(rng);
  }

  /**
   * PEFT's adapter init: A kaiming-uniform with a = sqrt(5) (uniform in +-1/sqrt(in)), B = 0, so a
   * fresh adapter leaves the model unchanged.
   */
  initializeLora(rng: Rng): void {
    for (const p of this.loraParams) {
      if (p.name.endsWith("lora_B.weight")) {
        p.data.fill(0);
        continue;
      }
      const bound = 1 / Math.sqrt(p.shape[1]);
      for (let i = 0; i < p.data.length; i++) p.data[i] = (2 * rng.next() - 1) * bound;
    }
  }

  /** The final hidden states [B,T,C] (after model.norm) of a padded batch; every row starts at position 0. */
  hidden(batch: TokenBatch): Tensor {
    const { batch: B, seqLen: T, lengths } = batch;
    const { nHead, nKvHead } = this.config;
    return this.run(withoutPadding(batch), B, T, {
      positions: null,
      attend: (_l, q, k, v) => groupedQueryAttention(q, k, v, nHead, nKvHead, lengths),
    });
  }

  /** tokens [B,T] through the blocks with ctx's positions and attention -> final hidden states [B,T,C]. */
  run(tokens: Int32Array, B: number, T: number, ctx: RunContext): Tensor {
    const c = this.config;
    if (T > c.maxPositionEmbeddings) throw new Error(`TransformerLM: sequence length ${T} exceeds maxPositionEmbeddings ${c.maxPositionEmbeddings}`);
    const H = c.nHead;
    const KV = c.nKvHead;
    const D = c.headDim;
    const eps = c.rmsNormEps;
    const ropeOpts = { base: c.ropeTheta, scaling: c.ropeScaling, positions: ctx.positions };
    // LoRA dropout's generator where a layer starts drawing (a checkpointed layer replays from there)
    const dropping = this.training && this.lora !== null && this.lora.dropout > 0;
    const rngAt: RngState[] = [];
    const x = throughLayers(tokenEmbedding(tokens, B, T, this.embed), this.blocks.length, (l, x, replay) => {
      const blk = this.blocks[l];
      let rng: Rng | null = null;
      if (dropping) {
        if (!replay) rngAt[l] = this.dropoutRng.getState();
        rng = replay ? new Rng(rngAt[l]) : this.dropoutRng;
      }
      const h = rmsNorm(x, blk.inputNorm, eps);
      let q = this.linear(h, blk.proj.q_proj, rng);
      let k = this.linear(h, blk.proj.k_proj, rng);
      const v = this.linear(h, blk.proj.v_proj, rng);
      if (blk.qNorm !== null && blk.kNorm !== null) {
        q = rmsNorm(q.reshape([B * T * H, D]), blk.qNorm, eps);
        k = rmsNorm(k.reshape([B * T * KV, D]), blk.kNorm, eps);
      }
      q = rope(q.reshape([B, T, H, D]), ropeOpts).reshape([B, T, H * D]);
      k = rope(k.reshape([B, T, KV, D]), ropeOpts).reshape([B, T, KV * D]);
      x = add(x, this.linear(ctx.attend(l, q, k, v), blk.proj.o_proj, rng));
      const g = rmsNorm(x, blk.postNorm, eps);
      const mlp = swiglu(this.linear(g, blk.proj.gate_proj, rng), this.linear(g, blk.proj.up_proj, rng));
      return add(x, this.linear(mlp, blk.proj.down_proj, rng));
    }, this.recompute);
    return rmsNorm(x, this.finalNorm, eps);
  }

  /**
   * x W^T + b, plus (alpha / r) dropout(x) A^T B^T when the module has an adapter and adapters are on;
   * dropout's masks drawn from rng (null: no dropout, a scoring pass).
   */
  private linear(x: Tensor, m: Linear, rng: Rng | null): Tensor {
    if (m.lora === null || !this.adapters) return linearT(x, m.w, m.b);
    return loraLinear(x, m.w, m.b, m.lora.A, m.lora.B, this.loraScale, rng === null ? null : { p: this.lora!.dropout, rng });
  }

  /** The LM head's weights [V,C] (embed_tokens' when tied). */
  get headWeight(): F {
    return this.lmHead.data as F;
  }
}

function checkLora(l: LoraConfig): void {
  if (!Number.isInteger(l.r) || l.r < 1) throw new Error(`LoraConfig.r: expected a positive integer, got ${l.r}`);
  if (!(l.alpha > 0)) throw new Error(`LoraConfig.alpha: expected > 0, got ${l.alpha}`);
  if (!(l.dropout >= 0 && l.dropout < 1)) throw new Error(`LoraConfig.dropout: expected a number in [0, 1), got ${l.dropout}`);
  loraTargets(l);
}
