/**
 * createPolicy: a Policy (src/rl/policy.ts) from a model name, a config, or a Hugging Face directory --
 * GPT-2 (GPT2Policy) or a decoder family, Llama 3 / Qwen2 / Qwen3 (DecoderPolicy), optionally with LoRA.
 * The RL layer sees the interface only.
 */
import { existsSync, statSync } from "node:fs";
import { ADAMW_DEFAULTS, type AdamWConfig } from "../engine/adamw.js";
import { FAMILY_PRESETS, type DecoderConfig, type LoraConfig } from "../engine/families/config.js";
import { GPT2, GPT2_PRESETS, validateConfig, type GPT2Config } from "../engine/gpt2.js";
import { TransformerLM } from "../engine/transformer.js";
import type { Policy } from "../rl/policy.js";
import { UserError } from "../util/errors.js";
import { Rng } from "../util/rng.js";
import { DecoderPolicy } from "./family.js";
import { GPT2Policy } from "./gpt2.js";

export { EnginePolicy, type EngineModel } from "./engine-policy.js";
export { DecoderPolicy, DECODER_POLICY_STATE_FORMAT } from "./family.js";
export { GPT2Policy, POLICY_STATE_FORMAT } from "./gpt2.js";

export interface CreatePolicyOptions {
  /** seeds the initialisation of random weights (ignored for loaded ones) and of LoRA adapters */
  seed: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEps?: number;
  weightDecay?: number;
  /** LoRA adapters on a decoder family (the base weights frozen); null or absent: full fine-tuning */
  lora?: LoraConfig | null;
  /** recompute each layer in the backward instead of keeping its activations (default false) */
  gradientCheckpointing?: boolean;
}

/**
 * A policy from a preset name (GPT-2's `toy`, `gpt2-small`; the families' FAMILY_PRESETS, e.g.
 * `qwen2-0.5b`, `llama-tiny`), a GPT2Config or DecoderConfig (random weights from opts.seed), or a
 * Hugging Face-format directory (config.json + safetensors).
 */
export async function createPolicy(model: string | GPT2Config | DecoderConfig, opts: CreatePolicyOptions): Promise<Policy> {
  const adam: AdamWConfig = {
    beta1: opts.adamBeta1 ?? ADAMW_DEFAULTS.beta1,
    beta2: opts.adamBeta2 ?? ADAMW_DEFAULTS.beta2,
    eps: opts.adamEps ?? ADAMW_DEFAULTS.eps,
    weightDecay: opts.weightDecay ?? ADAMW_DEFAULTS.weightDecay,
  };
  const lora = opts.lora ?? null;
  const gpt2 = (config: GPT2Config): GPT2Policy => {
    if (lora !== null) throw new UserError("lora: LoRA is for the decoder families (Llama 3, Qwen2, Qwen3), not GPT-2");
    const m = new GPT2(config);
    m.initialize(new Rng(opts.seed));
    m.gradientCheckpointing = opts.gradientCheckpointing ?? false;
    return new GPT2Policy(m, adam);
  };
  if (typeof model !== "string") {
    if ("family" in model) return decoder(model, opts, adam);
    try {
      validateConfig(model);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    return gpt2(model);
  }
  if (GPT2_PRESETS[model]) return gpt2(GPT2_PRESETS[model]);
  if (FAMILY_PRESETS[model]) return decoder(FAMILY_PRESETS[model], opts, adam);
  if (existsSync(model) && statSync(model).isDirectory()) {
    const { hfModelKind, loadHFModel } = await import("../engine/hf.js");
    if ((await hfModelKind(model)) === "gpt2") {
      if (lora !== null) throw new UserError(`${model}: lora: LoRA is for the decoder families (Llama 3, Qwen2, Qwen3), not GPT-2`);
      const m = await loadHFModel(model);
      m.gradientCheckpointing = opts.gradientCheckpointing ?? false;
      return new GPT2Policy(m, adam);
    }
    const { loadDecoderModel } = await import("../engine/hf-families.js");
    const { model: m } = await loadDecoderModel(model, { lora, seed: opts.seed });
    m.gradientCheckpointing = opts.gradientCheckpointing ?? false;
    return new DecoderPolicy(m, adam);
  }
  throw new UserError(
    `model '${model}': expected a preset (${[...Object.keys(GPT2_PRESETS), ...Object.keys(FAMILY_PRESETS)].join(", ")}) or a Hugging Face-format directory`,
  );
}

/** A decoder-family policy with random weights (and fresh adapters) from opts.seed. */
function decoder(config: DecoderConfig, opts: CreatePolicyOptions, adam: AdamWConfig): DecoderPolicy {
  let m: TransformerLM;
  try {
    m = new TransformerLM(config, { lora: opts.lora ?? null, dropoutSeed: opts.seed, gradientCheckpointing: opts.gradientCheckpointing });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  m.initialize(new Rng(opts.seed));
  return new DecoderPolicy(m, adam);
}
