/**
 * createPolicy: a Policy (src/rl/policy.ts) from a model name, a config, or a Hugging Face directory --
 * GPT-2 (GPT2Policy) or a decoder family, Llama 3 / Qwen2 / Qwen3 (DecoderPolicy), optionally with LoRA.
 * The RL layer sees the interface only.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { ADAMW_DEFAULTS, type AdamWConfig } from "../engine/adamw.js";
import { FAMILY_PRESETS, loraTargets, type DecoderConfig, type LoraConfig } from "../engine/families/config.js";
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
  /**
   * Start the adapters from a PEFT adapter directory (a decoder-family directory model only); its
   * adapter_config.json gives the LoRA config, which the other fields, when given, must agree with
   * (`dropout` may differ: it replaces the adapter's). Not together with `lora`.
   */
  adapter?: AdapterStart | null;
  /** recompute each layer in the backward instead of keeping its activations (default false) */
  gradientCheckpointing?: boolean;
}

/** An adapter to start from and the LoRA fields a config gave beside it. */
export interface AdapterStart {
  dir: string;
  r?: number;
  alpha?: number;
  dropout?: number;
  targetModules?: LoraConfig["targetModules"];
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
  const adapter = opts.adapter ?? null;
  if (lora !== null && adapter !== null) throw new Error("createPolicy: give lora (fresh adapters) or adapter (a PEFT directory), not both");
  const decoderDir = typeof model === "string" && !GPT2_PRESETS[model] && !FAMILY_PRESETS[model] && existsSync(model) && statSync(model).isDirectory();
  if (adapter !== null && !decoderDir) {
    throw new UserError(`lora.adapter: ${adapter.dir}: starting from an adapter needs model to be a Hugging Face Llama 3 / Qwen2 / Qwen3 directory, not ${typeof model === "string" ? `'${model}'` : "a shape"}`);
  }
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
      if (lora !== null || adapter !== null) throw new UserError(`${model}: lora: LoRA is for the decoder families (Llama 3, Qwen2, Qwen3), not GPT-2`);
      const m = await loadHFModel(model);
      m.gradientCheckpointing = opts.gradientCheckpointing ?? false;
      return new GPT2Policy(m, adam);
    }
    const { loadDecoderModel } = await import("../engine/hf-families.js");
    const m = adapter !== null ? await loadWithAdapter(model, adapter, opts.seed) : (await loadDecoderModel(model, { lora, seed: opts.seed })).model;
    m.gradientCheckpointing = opts.gradientCheckpointing ?? false;
    return new DecoderPolicy(m, adam);
  }
  throw new UserError(
    `model '${model}': expected a preset (${[...Object.keys(GPT2_PRESETS), ...Object.keys(FAMILY_PRESETS)].join(", ")}) or a Hugging Face-format directory`,
  );
}

/**
 * The model of directory `dir` with the adapters of `start.dir`: the adapter's LoRA config, which the
 * config's r, lora_alpha and target_modules must agree with; its dropout replaced when the config gives one.
 */
async function loadWithAdapter(dir: string, start: AdapterStart, seed: number): Promise<TransformerLM> {
  const { loadDecoderModel, readDecoderConfig } = await import("../engine/hf-families.js");
  const { ADAPTER_CONFIG_FILE, readAdapter } = await import("../engine/peft.js");
  const { config } = await readDecoderConfig(dir);
  const { adapter, tensors } = await readAdapter(start.dir, config);
  const file = join(start.dir, ADAPTER_CONFIG_FILE);
  const saved = adapter.lora;
  const disagree = (field: string, given: unknown, theirs: unknown): UserError =>
    new UserError(`lora.${field}: ${JSON.stringify(given)}, but lora.adapter's ${file} has ${field} ${JSON.stringify(theirs)} (leave it out to take the adapter's)`);
  if (start.r !== undefined && start.r !== saved.r) throw disagree("r", start.r, saved.r);
  if (start.alpha !== undefined && start.alpha !== saved.alpha) throw disagree("lora_alpha", start.alpha, saved.alpha);
  if (start.targetModules !== undefined) {
    let given: string[];
    try {
      given = loraTargets({ ...saved, targetModules: start.targetModules });
    } catch (err) {
      throw new UserError(`lora.${(err as Error).message}`);
    }
    // "all-linear" and the list of all seven modules adapt the same layers
    if (given.join() !== loraTargets(saved).join()) throw disagree("target_modules", start.targetModules, saved.targetModules);
  }
  const lora = { ...saved, dropout: start.dropout ?? saved.dropout };
  const { model } = await loadDecoderModel(dir, { lora, seed });
  const byName = new Map(tensors.map((t) => [t.name, t.data]));
  for (const p of model.loraParameters()) p.data.set(byName.get(p.name)!);
  return model;
}

/**
 * Writes a decoder-family policy's LoRA adapters to `dir` as a PEFT adapter directory (src/engine/peft.ts,
 * each file atomically), which `--lora` of eval, generate, logprobs and export and `lora.adapter` take.
 */
export async function saveAdapter(policy: Policy, dir: string, baseModel: string | null): Promise<void> {
  if (!(policy instanceof DecoderPolicy) || policy.model.lora === null) throw new Error("saveAdapter: the policy has no LoRA adapters");
  const m = policy.model;
  const { writeAdapter } = await import("../engine/peft.js");
  await writeAdapter(dir, m.config, { lora: m.lora!, baseModelNameOrPath: baseModel }, m.loraParameters());
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
