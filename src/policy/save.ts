/**
 * A policy written as a Hugging Face directory: the weights in GPT-2's or its family's layout, and the
 * tokenizer's files copied beside them, so the directory is one that `createPolicy`, `eval`, `train` and
 * Transformers load whole. `sft` writes its model/ with it, and the reasoning sweep its base.
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
  if (policy instanceof DecoderPolicy && policy.model.lora !== null) {
    return "with lora, model/ (adapters merged or as a PEFT directory) is not written yet; the checkpoints hold the adapters";
  }
  return null;
}

/** Writes `policy` to `dir` (config.json, model.safetensors) with `tokenizerDir`'s tokenizer files (those it has). */
export async function savePolicyDirectory(policy: Policy, dir: string, tokenizerDir: string): Promise<void> {
  const why = unsavable(policy);
  if (why !== null) throw new UserError(`${dir}: ${why}`);
  if (policy instanceof GPT2Policy) {
    const { saveHFModel } = await import("../engine/hf.js");
    await saveHFModel(policy.model, dir);
  } else {
    const { saveDecoderModel } = await import("../engine/hf-families.js");
    const m = (policy as DecoderPolicy).model;
    await saveDecoderModel(dir, m.config, m.baseParameters());
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
