/**
 * From the config's `model` to a Policy: the rl presets (`small`), explicit shapes, and everything else
 * (engine presets, decoder-family presets, Hugging Face directories) handed to createPolicy (src/policy/).
 */
import type { GPT2Config } from "../engine/gpt2.js";
import type { TrainConfig } from "./config.js";
import type { Policy } from "./policy.js";

/**
 * `small`: the toy sweep's default model. 2 layers, width 64, 2 heads, a 64-token vocabulary (the toy needs
 * 3 ids: the prompt and L/R at GPT-2's ids 43 and 49), context 16. Sized so the full default sweep (60 runs x
 * 250 steps) fits in 5 minutes on 2 cores; a random init, unlike the paper's pretrained GPT-2 small.
 */
export const RL_PRESETS: Record<string, GPT2Config> = {
  small: { vocabSize: 64, contextLength: 16, nLayer: 2, nHead: 2, nEmbd: 64, layerNormEpsilon: 1e-5 },
};

export function modelSpec(model: TrainConfig["model"]): string | GPT2Config {
  if (typeof model === "string") return RL_PRESETS[model] ?? model;
  return {
    vocabSize: model.vocab_size,
    contextLength: model.context_length,
    nLayer: model.n_layer,
    nHead: model.n_head,
    nEmbd: model.n_embd,
    layerNormEpsilon: model.layer_norm_epsilon,
  };
}

/** The config fields a policy is built from (train's and sft's configs both have them). */
export type PolicyFields = Pick<TrainConfig, "model" | "lora" | "gradient_checkpointing" | "seed" | "adam_beta1" | "adam_beta2" | "adam_epsilon" | "weight_decay">;

export type PolicyFactory = (config: PolicyFields) => Promise<Policy>;

/**
 * The engine's policy for `config.model` (GPT-2 or a decoder family, with `config.lora`'s adapters: fresh,
 * or read from `lora.adapter`), initialised from `config.seed` (deterministic).
 */
export const createEnginePolicy: PolicyFactory = async (config) => {
  const { createPolicy } = await import("../policy/index.js");
  const l = config.lora;
  return createPolicy(modelSpec(config.model), {
    seed: config.seed,
    lora: l === undefined || l.adapter !== undefined ? null : { r: l.r, alpha: l.lora_alpha, dropout: l.lora_dropout, targetModules: l.target_modules },
    adapter: l?.adapter === undefined ? null : { dir: l.adapter, r: l.r, alpha: l.lora_alpha, dropout: l.lora_dropout, targetModules: l.target_modules },
    gradientCheckpointing: config.gradient_checkpointing,
    adamBeta1: config.adam_beta1,
    adamBeta2: config.adam_beta2,
    adamEps: config.adam_epsilon,
    weightDecay: config.weight_decay,
  });
};

/** Writes a trained policy's LoRA adapters as a PEFT directory; `baseModel` is its base_model_name_or_path. */
export type AdapterSaver = (policy: Policy, dir: string, baseModel: string | null) => Promise<void>;

/** The engine's AdapterSaver (a decoder-family policy with LoRA; anything else is a bug). */
export const saveEngineAdapter: AdapterSaver = async (policy, dir, baseModel) => {
  const { saveAdapter } = await import("../policy/index.js");
  await saveAdapter(policy, dir, baseModel);
};
