/** The families' declarations by name, and the check of a DecoderConfig against its family's. */
import type { DecoderConfig, Family } from "./config.js";
import type { FamilySpec } from "./family.js";
import { llama } from "./llama.js";
import { qwen2 } from "./qwen2.js";
import { qwen3 } from "./qwen3.js";

export type { FamilySpec } from "./family.js";

export const FAMILY_SPECS: Record<Family, FamilySpec> = { llama, qwen2, qwen3 };

/** Throws naming the first field of c that is not a valid value (shapes, or a choice its family fixes). */
export function validateDecoderConfig(c: DecoderConfig): void {
  const spec = FAMILY_SPECS[c.family];
  if (spec === undefined) throw new Error(`DecoderConfig.family: '${c.family}' is not one of ${Object.keys(FAMILY_SPECS).join(", ")}`);
  const ints = ["vocabSize", "hiddenSize", "intermediateSize", "nLayer", "nHead", "nKvHead", "headDim", "maxPositionEmbeddings"] as const;
  for (const k of ints) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`DecoderConfig.${k}: expected a positive integer, got ${c[k]}`);
  }
  if (c.nHead % c.nKvHead !== 0) throw new Error(`DecoderConfig: nHead ${c.nHead} is not a multiple of nKvHead ${c.nKvHead}`);
  if (c.headDim % 2 !== 0) throw new Error(`DecoderConfig.headDim: RoPE needs an even head size, got ${c.headDim}`);
  if (!(c.rmsNormEps > 0)) throw new Error(`DecoderConfig.rmsNormEps: expected > 0, got ${c.rmsNormEps}`);
  if (!(c.ropeTheta > 0)) throw new Error(`DecoderConfig.ropeTheta: expected > 0, got ${c.ropeTheta}`);
  for (const [k, v] of Object.entries(spec.fixed) as [keyof DecoderConfig, unknown][]) {
    if (c[k] !== v) throw new Error(`DecoderConfig.${k}: ${c.family} models have ${k} = ${v}, got ${c[k]}`);
  }
  const s = c.ropeScaling;
  if (s !== null) {
    if (!spec.llama3RopeScaling) throw new Error(`DecoderConfig.ropeScaling: ${c.family} models take no llama3 RoPE scaling`);
    if (!(s.factor > 0 && s.lowFreqFactor > 0 && s.highFreqFactor > s.lowFreqFactor && s.originalMaxPositionEmbeddings > 0)) {
      throw new Error(`DecoderConfig.ropeScaling: expected factor > 0, 0 < lowFreqFactor < highFreqFactor, originalMaxPositionEmbeddings > 0, got ${JSON.stringify(s)}`);
    }
  }
}
