/**
 * The trainer's one config: every knob is a field here, with its default and the reason for it. Names follow
 * TRL's GRPOConfig where TRL has the knob (`num_generations`, `beta`, `epsilon`, `loss_type`, ...), so a TRL
 * user reads a config without a glossary. Read from JSON or YAML; every error names the file, the field and
 * what was expected.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import YAML, { LineCounter, isNode } from "yaml";
import { z } from "zod";
import { LOSS_TYPES, REWARD_SCALINGS } from "../prm/index.js";
import { UserError } from "../util/errors.js";

/**
 * Most parameters an explicit shape may have: the engine holds them in one Float32Array (with as many
 * again for gradients and twice that for AdamW), and 2^31 float32 are 8 GiB already.
 */
const MAX_SHAPE_PARAMETERS = 2 ** 31;

/** GPT-2's parameter count: embeddings, 12 C^2 + 13 C per block, the final norm. */
function gpt2Parameters(m: { vocab_size: number; context_length: number; n_layer: number; n_embd: number }): number {
  const C = m.n_embd;
  return (m.vocab_size + m.context_length) * C + m.n_layer * (12 * C * C + 13 * C) + 2 * C;
}

/** An explicit GPT-2 shape (random init from `seed`), for experiments without a preset. */
export const ModelShape = z
  .object({
    vocab_size: z.number().int().min(2),
    context_length: z.number().int().min(2),
    n_layer: z.number().int().min(1),
    n_head: z.number().int().min(1),
    n_embd: z.number().int().min(1),
    layer_norm_epsilon: z.number().positive().default(1e-5),
  })
  .strict()
  .refine((m) => m.n_embd % m.n_head === 0, { message: "n_embd must be a multiple of n_head", path: ["n_embd"] })
  .refine((m) => gpt2Parameters(m) <= MAX_SHAPE_PARAMETERS, {
    message: `the shape has more than ${MAX_SHAPE_PARAMETERS} parameters (2^31, 8 GiB of float32), more than the engine holds`,
  });

/** PEFT's LoraConfig defaults, for a run that starts fresh adapters (no `adapter`). */
const PEFT_LORA_DEFAULTS = { r: 8, lora_alpha: 8, lora_dropout: 0, target_modules: ["q_proj", "v_proj"] };

type TargetModules = "all-linear" | string[];
/**
 * A resolved `lora:` block. Fresh adapters: every field, PEFT's defaults filled in. From `adapter`: only the
 * fields the config gives; the rest comes from the adapter's adapter_config.json, which r, lora_alpha and
 * target_modules must agree with (checked when the policy is built, src/policy/index.ts).
 */
export type LoraSettings =
  | { adapter?: undefined; r: number; lora_alpha: number; lora_dropout: number; target_modules: TargetModules }
  | { adapter: string; r?: number; lora_alpha?: number; lora_dropout?: number; target_modules?: TargetModules };

/**
 * LoRA adapters on a decoder-family model (Llama 3, Qwen2, Qwen3), in PEFT's LoraConfig names and defaults;
 * the base weights are then frozen and, with `beta` > 0, the KL reference is the base (adapters off).
 */
export const LoraField = z
  .object({
    /**
     * A PEFT adapter directory (adapter_config.json + adapter_model.safetensors) to start from, as PEFT's
     * `PeftModel.from_pretrained(model, adapter, is_trainable=True)`: its A and B are the initial adapters and
     * its config gives r, lora_alpha, lora_dropout and target_modules (fields given here must agree, but
     * lora_dropout, a training choice, may differ). Default: fresh adapters, PEFT's init from `seed`.
     */
    adapter: z.string().min(1).optional(),
    /** adapter rank. Default 8 (PEFT). */
    r: z.number().int().min(1).optional(),
    /** the update is (lora_alpha / r) B A. Default 8 (PEFT). */
    lora_alpha: z.number().positive().optional(),
    /** dropout on the adapters' input, training passes only. Default 0 (PEFT). */
    lora_dropout: z.number().min(0).lt(1).optional(),
    /** module names (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj) or "all-linear". Default q_proj, v_proj (PEFT's for these families). */
    target_modules: z.union([z.literal("all-linear"), z.array(z.string().min(1)).min(1)]).optional(),
  })
  .strict()
  .transform((l): LoraSettings => {
    const given = Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined));
    return l.adapter === undefined ? { ...PEFT_LORA_DEFAULTS, ...given } as LoraSettings : given as LoraSettings;
  });

/** The environment: `name` picks it from the registry (src/rl/env/index.ts); its other fields are its own. */
const EnvField = z.looseObject({ name: z.string().min(1) });


export const TrainConfigSchema = z
  .object({
    // ---- model ----
    /**
     * A preset (`small`: 2 layers, width 64, vocabulary 64, the toy sweep's default; `toy` and `gpt2-small`
     * from the engine), a Hugging Face-format GPT-2 directory, or an explicit shape. Default `small`.
     */
    model: z.union([z.string().min(1), ModelShape]).default("small"),
    /**
     * LoRA (PEFT's fields: `r`, `lora_alpha`, `lora_dropout`, `target_modules`, or `adapter` to start from a
     * PEFT adapter directory) on a decoder-family model
     * (`model`: a FAMILY_PRESETS name such as `qwen2-0.5b`, `llama-tiny`, or a Llama / Qwen2 / Qwen3 directory).
     * Absent (default): full fine-tuning.
     */
    lora: LoraField.optional(),

    // ---- environment ----
    /** The environment and its parameters, e.g. `{name: tree, depth: 4, target: LLRL, shared_prefix: 1, r_neg: -1.0}`. */
    env: EnvField.default({ name: "tree" }),

    // ---- generation ----
    /**
     * Completions per prompt, the group size k (TRL `num_generations`). Default 16, the paper's toy group.
     * At least 2, as TRL requires: a group of one has advantage 0 and trains nothing.
     */
    num_generations: z
      .number()
      .int()
      .min(2, { message: "expected at least 2 (GRPO's advantage is relative to the group: a group of one has advantage 0 and trains nothing)" })
      .default(16),
    /** Prompts sampled per step; each gets a group of `num_generations`. Default 1 (the toy has one prompt). */
    prompts_per_step: z.number().int().min(1).default(1),
    /** Sampling temperature; also divides the logits in the loss, as TRL does. Default 1 (the toy's sampler). */
    temperature: z.number().positive().default(1),
    /** Keep only the k most likely tokens when sampling; 0 = off (default). 1 is refused (greedy: a group of copies). */
    top_k: z
      .number()
      .int()
      .min(0)
      .refine((k) => k !== 1, { message: "1 samples greedily: every completion of a group is the same, its advantages 0, and nothing trains" })
      .default(0),
    /** Nucleus sampling mass; 1 = off (default). */
    top_p: z.number().gt(0).max(1).default(1),
    /** Most tokens per completion; the environment may stop earlier (the tree stops at its depth). Default 256 (TRL). */
    max_completion_length: z.number().int().min(1).default(256),

    // ---- objective ----
    /** true: lambda-GRPO, each token's term divided by |lambda(i,t)| (PAPER.md section 3), with any loss_type. */
    lambda: z.boolean().default(false),
    /** Aggregation of token terms (PAPER.md section 1). Default `dapo`, the paper's assumption and TRL's default. */
    loss_type: z.enum(LOSS_TYPES).default("dapo"),
    /** Advantage scale: group std (default, the paper), batch std, or none (Dr. GRPO). */
    scale_rewards: z.enum(REWARD_SCALINGS).default("group"),
    /** Weight of the k3 KL to a frozen copy of the initial policy; 0 (default, TRL) keeps no reference. */
    beta: z.number().min(0).default(0),
    /** Lower clip range of the ratio P: clip(P, 1 - epsilon, 1 + epsilon_high). Default 0.2 (TRL, PPO). */
    epsilon: z.number().min(0).default(0.2),
    /** Upper clip range; default: equal to `epsilon` (TRL; DAPO uses 0.28). */
    epsilon_high: z.number().min(0).optional(),
    /** Updates per batch (mu). Default 1: the ratio P is 1 and the clip never binds (PAPER.md section 1). */
    num_iterations: z.number().int().min(1).default(1),

    // ---- optimisation ----
    /**
     * AdamW learning rate. Default 3e-4: the toy's `small` model from a random init (chosen once, docs/trainer.md
     * says how). Pretrained models want far less (the paper: 1e-6 for 1B models). 0 is allowed (an
     * evaluation run that logs rewards); `train` says on stderr that the policy will not change.
     */
    learning_rate: z.number().min(0).default(3e-4),
    /** `constant` (default) or `linear` decay to 0 over `steps`. */
    lr_scheduler_type: z.enum(["constant", "linear"]).default("constant"),
    /** Global gradient-norm clip; 0 = off. Default 1 (TRL). */
    max_grad_norm: z.number().min(0).default(1),
    /** AdamW decoupled weight decay. Default 0 (TRL). */
    weight_decay: z.number().min(0).default(0),
    adam_beta1: z.number().min(0).lt(1).default(0.9),
    adam_beta2: z.number().min(0).lt(1).default(0.999),
    adam_epsilon: z.number().positive().default(1e-8),
    /** Sequences per forward/backward pass (memory); 0 = the whole batch (default). `bnpo` normalises per pass. */
    micro_batch_size: z.number().int().min(0).default(0),
    /** TRL's name for `micro_batch_size` (sequences per forward/backward pass); give one of the two. */
    per_device_train_batch_size: z.number().int().min(1).optional(),
    /**
     * TRL's micro-batches per optimiser step: the step's prompts_per_step * num_generations completions in
     * this many passes (sets micro_batch_size; must divide the batch, and agree with per_device_train_batch_size).
     */
    gradient_accumulation_steps: z.number().int().min(1).optional(),
    /**
     * Recompute each layer in the backward instead of keeping its activations (HF/TRL's name): activation
     * memory of about one layer, for one more forward's work. Default false.
     */
    gradient_checkpointing: z.boolean().default(false),
    /** Optimiser steps (each on fresh groups). Default 250 (the paper's toy). */
    steps: z.number().int().min(1).default(250),
    /** Seeds the model's init and the sampler. Default 0. */
    seed: z.number().int().min(0).max(0xffffffff).default(0),

    // ---- output ----
    /** Run directory: config.json, metrics.jsonl, rollouts.jsonl, checkpoints/ (docs/CONTRACTS.md). */
    output_dir: z.string().min(1).default("runs/run"),
    /** `steps` (default): checkpoint as below; `no`: never (TRL's `save_strategy`; the toy sweep's runs). */
    save_strategy: z.enum(["steps", "no"]).default("steps"),
    /** Checkpoint every this many steps (and at the end); 0 = only at the end. Default 50. */
    checkpoint_every: z.number().int().min(0).default(50),
    /** Keep the newest this many checkpoints; 0 = keep all. Default 2 (TRL's `save_total_limit`). */
    save_total_limit: z.number().int().min(0).default(2),
    /** Write every group to rollouts.jsonl (the input of `lambda-grpo analyze`). Default true. */
    log_rollouts: z.boolean().default(true),
  })
  .strict();

export type TrainConfigInput = z.input<typeof TrainConfigSchema>;
type Parsed = z.output<typeof TrainConfigSchema>;
/** The resolved config: every default filled in (`epsilon_high` included), the env's parameters validated. */
export type TrainConfig = Omit<Parsed, "epsilon_high" | "env"> & { epsilon_high: number; env: EnvConfig };
export type EnvConfig = { name: string } & Record<string, unknown>;
export type ModelShapeConfig = z.output<typeof ModelShape>;

/** Validates an environment's own parameters (set by the registry, which knows each env's schema). */
export type EnvValidator = (env: { name: string } & Record<string, unknown>) => EnvConfig;

/** One problem of a config: where (the field's path, e.g. ["env", "depth"]) and what. */
export interface ConfigIssue {
  path: PropertyKey[];
  message: string;
}

/** The field names of the object schema at `path` under `schema` (through defaults, optionals, unions). */
function fieldsAt(schema: z.core.$ZodType, path: PropertyKey[]): string[] {
  const def = schema._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; innerType?: z.core.$ZodType; options?: z.core.$ZodType[]; in?: z.core.$ZodType };
  if (def.innerType) return fieldsAt(def.innerType, path);
  if (def.type === "pipe" && def.in) return fieldsAt(def.in, path);
  if (def.options) return def.options.flatMap((o) => fieldsAt(o, path));
  if (!def.shape) return [];
  if (path.length === 0) return Object.keys(def.shape);
  const next = def.shape[String(path[0])];
  return next ? fieldsAt(next, path.slice(1)) : [];
}

/**
 * Zod's issues as ConfigIssues; an unknown field is named by its own path, with the nearest known name
 * (from `fields` when given, else from `schema` at the issue's path).
 */
function configIssues(error: z.ZodError, fields: readonly string[] | z.core.$ZodType, prefix: PropertyKey[] = []): ConfigIssue[] {
  return error.issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code !== "unrecognized_keys") return [{ path, message: issue.message }];
    const known = Array.isArray(fields) ? (fields as readonly string[]) : fieldsAt(fields as z.core.$ZodType, issue.path);
    return issue.keys.map((k) => {
      const near = (Array.isArray(fields) ? undefined : ALIASES[[...issue.path, k].join(".")]) ?? nearestField(k, known);
      return { path: [...path, k], message: `unknown field${near ? ` (did you mean '${near}'?)` : ""}` };
    });
  });
}

function describeIssue(issue: ConfigIssue): string {
  return issue.path.length ? `${issue.path.map(String).join(".")}: ${issue.message}` : issue.message;
}

/** Other trainers' and papers' names for our fields, by path. */
const ALIASES: Record<string, string> = {
  lr: "learning_rate",
  group_size: "num_generations",
  mu: "num_iterations",
  "lora.rank": "r",
  "lora.alpha": "lora_alpha",
  "lora.dropout": "lora_dropout",
};

function nearestField(name: string, fields: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = 3;
  for (const f of fields) {
    const d = editDistance(name, f);
    if (d < bestD) [best, bestD] = [f, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The line (1-based) of the config text where a field's value stands, when known. */
export type Locate = (path: PropertyKey[]) => number | null;

/** One line for all the issues: "file:line: field: message; file:line: field: message". */
function issuesError(source: string, issues: ConfigIssue[], locate?: Locate): UserError {
  const where = (i: ConfigIssue): string => {
    const line = locate?.(i.path) ?? null;
    return line === null ? source : `${source}:${line}`;
  };
  return new UserError(issues.map((i) => `${where(i)}: ${describeIssue(i)}`).join("; "));
}

/** "env.prompt.0: message" (an environment's error, src/rl/env/) as a ConfigIssue. */
function envMessageIssue(message: string): ConfigIssue {
  const m = /^(env(?:\.[A-Za-z0-9_]+)*): (.*)$/s.exec(message);
  if (m === null) return { path: [], message };
  return { path: m[1].split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p)), message: m[2] };
}

/**
 * Validates a config object (already parsed from JSON/YAML, or built in code) and fills in the defaults.
 * `source` names it in errors (a file path, or "config"); `locate` adds the line of the field.
 */
export function resolveConfig(input: unknown, validateEnv: EnvValidator, source = "config", locate?: Locate): TrainConfig {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new UserError(`${source}: expected a mapping of config fields, got ${input === null ? "null" : Array.isArray(input) ? "a list" : typeof input}`);
  }
  const parsed = TrainConfigSchema.safeParse(input);
  if (!parsed.success) throw issuesError(source, configIssues(parsed.error, TrainConfigSchema), locate);
  const c = parsed.data;
  let env: EnvConfig;
  try {
    env = validateEnv(c.env);
  } catch (err) {
    if (err instanceof UserError) throw issuesError(source, err.message.split("; ").map(envMessageIssue), locate);
    throw err;
  }
  return { ...c, epsilon_high: c.epsilon_high ?? c.epsilon, micro_batch_size: microBatchSize(c, source), env };
}

/**
 * Most completions per step (prompts_per_step * num_generations): a step's completions, their prefix trees
 * and weights are held at once, and 2^20 is far past any GRPO batch while still fitting in memory.
 */
const MAX_STEP_COMPLETIONS = 2 ** 20;

/** micro_batch_size from itself or TRL's per_device_train_batch_size / gradient_accumulation_steps. */
function microBatchSize(c: Parsed, source: string): number {
  const batch = c.prompts_per_step * c.num_generations;
  if (batch > MAX_STEP_COMPLETIONS) {
    throw new UserError(`${source}: prompts_per_step * num_generations = ${batch} completions a step, more than the ${MAX_STEP_COMPLETIONS} (2^20) a step holds in memory`);
  }
  const perDevice = c.per_device_train_batch_size;
  const accumulation = c.gradient_accumulation_steps;
  let mbs = c.micro_batch_size;
  if (perDevice !== undefined) {
    if (mbs !== 0 && mbs !== perDevice) {
      throw new UserError(`${source}: per_device_train_batch_size (${perDevice}) and micro_batch_size (${mbs}) name the same thing: give one`);
    }
    mbs = perDevice;
  }
  if (accumulation !== undefined) {
    if (batch % accumulation !== 0) {
      throw new UserError(`${source}: gradient_accumulation_steps: ${accumulation} does not divide the batch of prompts_per_step * num_generations = ${batch} completions`);
    }
    const implied = batch / accumulation;
    if (mbs !== 0 && mbs !== implied) {
      throw new UserError(`${source}: gradient_accumulation_steps: ${accumulation} passes of ${mbs} sequences is not the batch of ${batch} completions`);
    }
    mbs = implied;
  }
  return mbs;
}

/**
 * An env schema's issues as one line, "env.<field>: message; env.<field>: message" (used by the
 * environments). `fields`, the env's own field names, give an unknown field a suggestion.
 */
export function envIssues(error: z.ZodError, fields: readonly string[] = []): string {
  return configIssues(error, fields, ["env"]).map(describeIssue).join("; ");
}

/** An environment's parameters read by its schema (every environment's `parse`); errors as envIssues's. */
export function parseEnvParams<S extends z.ZodObject>(schema: S, params: unknown): z.output<S> {
  const r = schema.safeParse(params);
  if (!r.success) throw new UserError(envIssues(r.error, Object.keys(schema.shape)));
  return r.data;
}

/**
 * What a valid config says that a person should hear before a run: settings that are allowed but change
 * nothing (printed on stderr by `train`). The settings that would train nothing at all are errors instead:
 * num_generations 1 and top_k 1 here, a constant reward in the trainer (docs/trainer.md has the list).
 */
export function configWarnings(config: TrainConfig): string[] {
  const out: string[] = [];
  if (config.learning_rate === 0) out.push("learning_rate is 0: the policy will not change (rewards and metrics are still logged)");
  return out;
}

/**
 * Validates `input` against another command's config schema (sft's), with the errors of this one: one line
 * naming the file (and line, with `locate`), the field and the nearest known name.
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, source: string, locate?: Locate): z.output<S> {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new UserError(`${source}: expected a mapping of config fields, got ${input === null ? "null" : Array.isArray(input) ? "a list" : typeof input}`);
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw issuesError(source, configIssues(parsed.error, schema), locate);
  return parsed.data;
}

/** Reads a JSON (.json) or YAML (.yaml/.yml, and anything else) config file and resolves it. */
export async function loadConfigFile(path: string, validateEnv: EnvValidator): Promise<TrainConfig> {
  const { data, locate } = await readConfigFile(path);
  return resolveConfig(data, validateEnv, path, locate);
}

/** A config file's contents and where each field stands in it; read errors name the file and line. */
export async function readConfigFile(path: string): Promise<{ data: unknown; locate: Locate }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new UserError(`${path}: cannot read config (${(err as Error).message})`);
  }
  let data: unknown;
  // JSON is YAML too: its document gives the lines of the fields either way.
  const lines = new LineCounter();
  const json = extname(path).toLowerCase() === ".json";
  // (JSON.parse keeps the last of repeated keys; YAML refuses them)
  const doc = YAML.parseDocument(text, { prettyErrors: true, lineCounter: lines, uniqueKeys: !json });
  if (json) {
    try {
      data = JSON.parse(text);
    } catch (err) {
      const message = (err as Error).message.split("\n")[0];
      const at = /at position (\d+)/.exec(message);
      const line = at ? `:${lines.linePos(Number(at[1])).line}` : "";
      throw new UserError(`${path}${line}: not valid JSON (${message})`);
    }
  } else {
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      const line = e.linePos?.[0]?.line;
      throw new UserError(`${path}${line ? `:${line}` : ""}: not valid YAML (${e.message.split("\n")[0]})`);
    }
    data = doc.toJS();
  }
  const locate: Locate = (fieldPath) => {
    if (doc.errors.length > 0) return null;
    // the field's own node, else the nearest enclosing one (a missing field: its mapping)
    for (let n = fieldPath.length; n > 0; n--) {
      const node = doc.getIn(fieldPath.slice(0, n), true);
      if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
    }
    return null;
  };
  return { data, locate };
}
