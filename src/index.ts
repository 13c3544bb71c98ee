// Public entry. `lambda-grpo/prm` is the paper's core alone (no engine, no native code); this entry adds
// the engine (GPT-2 policies), the trainer and the rollout I/O.
export * from "./prm/index.js";
export type * from "./rl/policy.js";
export { Rng } from "./util/rng.js";
export type { RngState } from "./util/rng.js";
export { UserError } from "./util/errors.js";

// Engine: GPT-2 and decoder-family (Llama 3, Qwen2, Qwen3) policies on our autograd, Hugging Face-format weights.
export { createPolicy, DecoderPolicy, GPT2Policy } from "./policy/index.js";
export type { CreatePolicyOptions } from "./policy/index.js";
export { TransformerLM } from "./engine/transformer.js";
export { FAMILY_PRESETS } from "./engine/families/config.js";
export type { DecoderConfig, LoraConfig } from "./engine/families/config.js";
export { GPT2, GPT2_PRESETS } from "./engine/gpt2.js";
export type { GPT2Config } from "./engine/gpt2.js";
export { hfModelKind, loadHFModel, saveHFModel } from "./engine/hf.js";
export { decoderConfigFromHF, decoderConfigToHF, loadDecoderModel, loadDecoderWeights, readDecoderConfig, saveDecoderModel } from "./engine/hf-families.js";
export { mergeLora, readAdapter, writeAdapter } from "./engine/peft.js";
export type { AdapterConfig } from "./engine/peft.js";
export { loadChatTemplate, stopTokenIds } from "./io/chat.js";
export type { ChatMessage, ChatTemplate } from "./io/chat.js";

// Trainer: config, training loop, environments.
export { train } from "./rl/trainer.js";
export type { TrainOptions, TrainResult, StepMetrics } from "./rl/trainer.js";
export { resolveConfig, loadConfigFile, TrainConfigSchema } from "./rl/config.js";
export type { TrainConfig, TrainConfigInput } from "./rl/config.js";
export { createEnvironment, environmentNames, validateEnv } from "./rl/env/index.js";

// Rollout logs (the input of `prm` / `analyze`, the `rollouts.jsonl` of a run).
export { readRolloutGroups } from "./io/rollouts.js";
export type { RolloutGroup, RolloutCompletion } from "./io/rollouts.js";
export { readSafetensors, SafetensorsCheckpoint, SafetensorsFile, writeSafetensors, writeSafetensorsCheckpoint } from "./io/safetensors.js";
