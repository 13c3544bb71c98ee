/**
 * A policy written as a Hugging Face directory: the weights in GPT-2's or its family's layout, and the
 * tokenizer's files copied beside them, so the directory is one that `createPolicy`, `eval`, `train` and
 * Transformers load whole. `sft` writes its model/ with it, and the reasoning sweep its base. A LoRA policy
 * is written with its adapters merged into the weights.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { exists } from "../rl/rundir.js";
import type { Policy } from "../rl/policy.js";
import { reason, UserError } from "../util/errors.js";
import { DecoderPolicy } from "./family.js";
import { GPT2Policy } from "./gpt2.js";

/** The tokenizer files copied beside the weights. */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "generation_config.json"];

/** Why `savePolicyDirectory` cannot write this policy, or null when it can. */
export function unsavable(policy: Policy): string | null {
  if (!(policy instanceof GPT2Policy || policy instanceof DecoderPolicy)) return "this policy has no Hugging Face layout";
  return null;
}

/** Writes `policy` to `dir` (config.json, model.safetensors; LoRA merged) with `tokenizerDir`'s tokenizer files (those it has). */
export async function savePolicyDirectory(policy: Policy, dir: string, tokenizerDir: string): Promise<void> {
  const why = unsavable(policy);
  if (why !== null) throw new UserError(`${dir}: ${why}`);
  if (policy instanceof GPT2Policy) {
    const { saveHFModel } = await import("../engine/hf.js");
    await saveHFModel(policy.model, dir);
  } else {
    const { allocateParameters, saveDecoderModel } = await import("../engine/hf-families.js");
    const m = (policy as DecoderPolicy).model;
    let weights: Iterable<{ name: string; data: Float32Array }> = m.baseParameters();
    if (m.lora !== null) {
      // the adapters merged in (W + (alpha / r) B A): a plain checkpoint the next stage loads without PEFT
      const { mergeLora } = await import("../engine/peft.js");
      const merged = allocateParameters(m.config);
      const byName = new Map(m.baseParameters().map((p) => [p.name, p.data]));
      for (const p of merged) p.data.set(byName.get(p.name)!);
      mergeLora(merged, m.loraParameters(), m.config, m.lora);
      weights = merged;
    }
    await saveDecoderModel(dir, m.config, weights);
  }
  for (const name of TOKENIZER_FILES) {
    const from = join(tokenizerDir, name);
    if (!(await exists(from))) continue;
    try {
      await writeFileAtomic(join(dir, name), await readFile(from));
    } catch (err) {
      throw new UserError(`${dir}: cannot write ${name} (${reason(err)})`);
    }
  }
}
