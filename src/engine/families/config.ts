/**
 * The decoder families reasoning RL is done on -- Llama 3, Qwen2 (DeepSeek-R1-Distill-Qwen) and Qwen3 --
 * as one config of their differences. Everything that reads, builds or saves such a model agrees on this
 * file: the model (src/engine/transformer.ts), the Hugging Face reader (src/engine/hf-families.ts), PEFT
 * adapters (src/engine/peft.ts) and the PyTorch golden script (scripts/golden_families.py).
 *
 * Parameter names are Hugging Face's, exactly as `save_pretrained` writes them (`model.layers.0...`), and
 * linear weights keep HF's nn.Linear layout [out, in] (y = x W^T + b): loading is a name check and a copy.
 */

export const FAMILIES = ["llama", "qwen2", "qwen3"] as const;
export type Family = (typeof FAMILIES)[number];

/** Llama 3.1/3.2's `rope_scaling` with `rope_type: "llama3"` (the only scaling supported). */
export interface Llama3RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface DecoderConfig {
  family: Family;
  vocabSize: number;
  /** C, the residual width (`hidden_size`) */
  hiddenSize: number;
  /** I, the SwiGLU width (`intermediate_size`) */
  intermediateSize: number;
  nLayer: number;
  /** H query heads */
  nHead: number;
  /** KV heads (grouped-query attention: nHead % nKvHead == 0; the KV cache holds these only) */
  nKvHead: number;
  /** D per head: `head_dim` when the config gives it (Qwen3), else hiddenSize / nHead */
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: Llama3RopeScaling | null;
  /** the longest sequence (prompt + completion) the model takes */
  maxPositionEmbeddings: number;
  /** true: no lm_head.weight, the head is embed_tokens.weight */
  tieWordEmbeddings: boolean;
  /** biases on q_proj, k_proj, v_proj (Qwen2: always; Llama, Qwen3: `attention_bias`) */
  qkvBias: boolean;
  /** bias on o_proj (Llama, Qwen3: `attention_bias`; Qwen2: never) */
  oBias: boolean;
  /** biases on gate_proj, up_proj, down_proj (Llama's `mlp_bias`) */
  mlpBias: boolean;
  /** Qwen3: RMSNorm over each head's D of q and k (q_norm, k_norm [D]) before RoPE */
  qkNorm: boolean;
}

/** PEFT's LoraConfig fields we honour (adapter_config.json). */
export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  /** module names (`q_proj`, `v_proj`, ...) or "all-linear" (every linear layer but the LM head, as PEFT) */
  targetModules: string[] | "all-linear";
}

/** The linear modules of a block, by HF name: the names `target_modules` may list. */
export const LINEAR_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

/** The parameter names and shapes of a config, in the order HF's modules declare them. */
export function parameterShapes(c: DecoderConfig): { name: string; shape: number[] }[] {
  const C = c.hiddenSize;
  const D = c.headDim;
  const I = c.intermediateSize;
  const q = c.nHead * D;
  const kv = c.nKvHead * D;
  const out: { name: string; shape: number[] }[] = [{ name: "model.embed_tokens.weight", shape: [c.vocabSize, C] }];
  for (let i = 0; i < c.nLayer; i++) {
    const l = `model.layers.${i}.`;
    const lin = (name: string, o: number, n: number, bias: boolean): void => {
      out.push({ name: `${l}${name}.weight`, shape: [o, n] });
      if (bias) out.push({ name: `${l}${name}.bias`, shape: [o] });
    };
    out.push({ name: `${l}input_layernorm.weight`, shape: [C] });
    lin("self_attn.q_proj", q, C, c.qkvBias);
    lin("self_attn.k_proj", kv, C, c.qkvBias);
    lin("self_attn.v_proj", kv, C, c.qkvBias);
    lin("self_attn.o_proj", C, q, c.oBias);
    if (c.qkNorm) out.push({ name: `${l}self_attn.q_norm.weight`, shape: [D] }, { name: `${l}self_attn.k_norm.weight`, shape: [D] });
    out.push({ name: `${l}post_attention_layernorm.weight`, shape: [C] });
    lin("mlp.gate_proj", I, C, c.mlpBias);
    lin("mlp.up_proj", I, C, c.mlpBias);
    lin("mlp.down_proj", C, I, c.mlpBias);
  }
  out.push({ name: "model.norm.weight", shape: [C] });
  if (!c.tieWordEmbeddings) out.push({ name: "lm_head.weight", shape: [c.vocabSize, C] });
  return out;
}

/** The block a linear module belongs to, in HF's module path (`self_attn.q_proj`, `mlp.down_proj`). */
export function modulePath(m: LinearModule): string {
  return m === "gate_proj" || m === "up_proj" || m === "down_proj" ? `mlp.${m}` : `self_attn.${m}`;
}

/** [out, in] of a linear module. */
export function moduleShape(c: DecoderConfig, m: LinearModule): [number, number] {
  const C = c.hiddenSize;
  const q = c.nHead * c.headDim;
  const kv = c.nKvHead * c.headDim;
  const I = c.intermediateSize;
  const shapes: Record<LinearModule, [number, number]> = {
    q_proj: [q, C], k_proj: [kv, C], v_proj: [kv, C], o_proj: [C, q], gate_proj: [I, C], up_proj: [I, C], down_proj: [C, I],
  };
  return shapes[m];
}

/**
 * The modules `target_modules` names (PEFT's matching of module names; "all-linear" is every linear
 * layer but the LM head), in LINEAR_MODULES order. Throws naming a module that is not one of ours.
 */
export function loraTargets(lora: LoraConfig): LinearModule[] {
  if (lora.targetModules === "all-linear") return [...LINEAR_MODULES];
  for (const m of lora.targetModules) {
    if (!(LINEAR_MODULES as readonly string[]).includes(m)) {
      throw new Error(`target_modules: '${m}' is not a linear module of these models (${LINEAR_MODULES.join(", ")}, or "all-linear")`);
    }
  }
  return LINEAR_MODULES.filter((m) => (lora.targetModules as string[]).includes(m));
}

/** LoRA's parameter names and shapes: per layer and target module, lora_A [r, in] then lora_B [out, r]. */
export function loraParameterShapes(c: DecoderConfig, lora: LoraConfig): { name: string; shape: number[] }[] {
  const targets = loraTargets(lora);
  const out: { name: string; shape: number[] }[] = [];
  for (let i = 0; i < c.nLayer; i++) {
    for (const m of targets) {
      const [o, n] = moduleShape(c, m);
      const p = `model.layers.${i}.${modulePath(m)}.`;
      out.push({ name: `${p}lora_A.weight`, shape: [lora.r, n] }, { name: `${p}lora_B.weight`, shape: [o, lora.r] });
    }
  }
  return out;
}

const base = { ropeScaling: null, qkvBias: false, oBias: false, mlpBias: false, qkNorm: false } as const;

/**
 * Shapes of the checkpoints the paper and its users train (random weights: `bench --preset`), and tiny ones
 * for tests. Values are those of the public config.json of each model.
 */
export const FAMILY_PRESETS: Record<string, DecoderConfig> = {
  /** Qwen2.5-0.5B(-Instruct) */
  "qwen2-0.5b": {
    ...base, family: "qwen2", vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, nLayer: 24, nHead: 14,
    nKvHead: 2, headDim: 64, rmsNormEps: 1e-6, ropeTheta: 1e6, maxPositionEmbeddings: 32768, tieWordEmbeddings: true,
    qkvBias: true,
  },
  /** DeepSeek-R1-Distill-Qwen-1.5B (Qwen2 architecture, untied head) */
  "r1-distill-1.5b": {
    ...base, family: "qwen2", vocabSize: 151936, hiddenSize: 1536, intermediateSize: 8960, nLayer: 28, nHead: 12,
    nKvHead: 2, headDim: 128, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 131072,
    tieWordEmbeddings: false, qkvBias: true,
  },
  /** Llama-3.2-1B(-Instruct): llama3 RoPE scaling, tied head */
  "llama-1b": {
    ...base, family: "llama", vocabSize: 128256, hiddenSize: 2048, intermediateSize: 8192, nLayer: 16, nHead: 32,
    nKvHead: 8, headDim: 64, rmsNormEps: 1e-5, ropeTheta: 500000,
    ropeScaling: { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    maxPositionEmbeddings: 131072, tieWordEmbeddings: true,
  },
  /** Qwen3-0.6B: per-head q/k RMSNorm, head_dim 128 != hidden / heads */
  "qwen3-0.6b": {
    ...base, family: "qwen3", vocabSize: 151936, hiddenSize: 1024, intermediateSize: 3072, nLayer: 28, nHead: 16,
    nKvHead: 8, headDim: 128, rmsNormEps: 1e-6, ropeTheta: 1e6, maxPositionEmbeddings: 40960, tieWordEmbeddings: true,
    qkNorm: true,
  },
  /**
   * The reasoning experiment's base model (docs/reasoning.md), trained from random weights by `sft`: the
   * vocabulary of src/reasoning/tokenizer.ts (127 tokens, padded to 128), a context that holds every split
   * (256), SwiGLU at ~8/3 of the width as Llama, 2 KV heads for 4 query heads; 0.74M parameters. Width 128
   * rather than 256: on the same batches it left the loss plateau where the completion ignores the prompt
   * (1.55 nats a token) by step ~400, where width 256 still sat on it at step 1,150, at a quarter of the
   * cost a step (docs/reasoning.md).
   */
  "llama-reasoning": {
    ...base, family: "llama", vocabSize: 128, hiddenSize: 128, intermediateSize: 344, nLayer: 4, nHead: 4, nKvHead: 2,
    headDim: 32, rmsNormEps: 1e-5, ropeTheta: 10000, maxPositionEmbeddings: 256, tieWordEmbeddings: true,
  },
  // Tiny shapes for tests and smoke runs (random weights); each keeps its family's distinguishing
  // choices: GQA, llama3 RoPE scaling with a short original context (so scaling changes frequencies
  // at test lengths), Qwen2's q/k/v biases and untied head, Qwen3's q/k norms with head_dim != C / H.
  "llama-tiny": {
    ...base, family: "llama", vocabSize: 64, hiddenSize: 32, intermediateSize: 48, nLayer: 2, nHead: 4, nKvHead: 2,
    headDim: 8, rmsNormEps: 1e-5, ropeTheta: 500000,
    ropeScaling: { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 },
    maxPositionEmbeddings: 8192, tieWordEmbeddings: true,
  },
  "qwen2-tiny": {
    ...base, family: "qwen2", vocabSize: 64, hiddenSize: 32, intermediateSize: 48, nLayer: 2, nHead: 4, nKvHead: 2,
    headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 8192, tieWordEmbeddings: false,
    qkvBias: true,
  },
  "qwen3-tiny": {
    ...base, family: "qwen3", vocabSize: 64, hiddenSize: 32, intermediateSize: 48, nLayer: 2, nHead: 4, nKvHead: 1,
    headDim: 16, rmsNormEps: 1e-6, ropeTheta: 1e6, maxPositionEmbeddings: 8192, tieWordEmbeddings: true,
    qkNorm: true,
  },
};
