/**
 * Qwen2 (Qwen2.5, DeepSeek-R1-Distill-Qwen): Llama's block with biases on q_proj, k_proj, v_proj always,
 * none on o_proj or the MLP.
 */
import type { FamilySpec } from "./family.js";

export const qwen2: FamilySpec = {
  family: "qwen2", modelType: "qwen2", fixed: { qkvBias: true, oBias: false, mlpBias: false, qkNorm: false }, llama3RopeScaling: false,
};
