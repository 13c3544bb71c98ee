/**
 * Qwen3: Llama's block with an RMSNorm over each head's D of q and k (q_norm, k_norm [D]) before RoPE,
 * `attention_bias` as a choice, no MLP bias, and head_dim given by the config (not hidden / heads).
 */
import type { FamilySpec } from "./family.js";

export const qwen3: FamilySpec = { family: "qwen3", modelType: "qwen3", fixed: { qkNorm: true, mlpBias: false }, llama3RopeScaling: false };
