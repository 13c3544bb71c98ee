/**
 * What a family file declares: the block choices its architecture fixes (the rest of DecoderConfig is
 * read from each checkpoint's config.json) and whether it takes Llama 3's RoPE scaling. The block
 * machinery itself is one, in src/engine/transformer.ts.
 */
import type { DecoderConfig, Family } from "./config.js";

export interface FamilySpec {
  family: Family;
  /** Hugging Face's `model_type` */
  modelType: string;
  /** fields every model of the family has at these values (a config that differs is an error) */
  fixed: Partial<Pick<DecoderConfig, "qkvBias" | "oBias" | "mlpBias" | "qkNorm">>;
  /** whether `rope_scaling` of type llama3 belongs to the family */
  llama3RopeScaling: boolean;
}
