/**
 * Llama 3 (3.1, 3.2): the reference block -- RMSNorm, RoPE, grouped-query attention, SwiGLU -- with
 * `attention_bias` (q, k, v and o together) and `mlp_bias` as config choices, and Llama 3's frequency
 * scaling of RoPE (rope_scaling type "llama3").
 */
import type { FamilySpec } from "./family.js";

export const llama: FamilySpec = { family: "llama", modelType: "llama", fixed: { qkNorm: false }, llama3RopeScaling: true };
