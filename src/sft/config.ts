/**
 * The config of `lambda-grpo sft`: supervised fine-tuning on (problem, solution) rows, next-token loss on
 * the solution only. Names are TRL's SFTConfig / Transformers' TrainingArguments where they have the knob
 * (`learning_rate`, `num_train_epochs`, `max_steps`, `max_length`, `per_device_train_batch_size`,
 * `gradient_accumulation_steps`, `lr_scheduler_type`, `warmup_ratio`, `logging_steps`, `save_steps`,
 * `eval_steps`, ...), so a TRL user reads it without a glossary. Validation and errors are the trainer
 * config's (src/rl/config.ts).
 */
import { z } from "zod";
import { LoraField, ModelShape, parseConfig, readConfigFile, type Locate } from "../rl/config.js";
import { DEFAULT_SYSTEM_PROMPT } from "./data.js";

export const LR_SCHEDULERS = ["linear", "cosine", "constant", "constant_with_warmup"] as const;
export type LrScheduler = (typeof LR_SCHEDULERS)[number];

export const SftConfigSchema = z
  .object({
    // ---- model ----
    /** A preset, a Hugging Face-format directory, or an explicit GPT-2 shape (random init from `seed`), as in `train`. */
    model: z.union([z.string().min(1), ModelShape]),
    /** LoRA adapters on a decoder-family model, as in `train` (PEFT's fields); absent: full fine-tuning. */
    lora: LoraField.optional(),
    /**
     * Directory with tokenizer.json and tokenizer_config.json (whose `chat_template` renders the prompt).
     * Default: the model's directory, when `model` is one.
     */
    tokenizer: z.string().min(1).optional(),

    // ---- data ----
    /** JSON Lines of training rows. */
    dataset: z.string().min(1),
    /** JSON Lines of held-out rows: `eval_loss` every `eval_steps` and at the end. Default: none. */
    eval_dataset: z.string().min(1).optional(),
    /** The prompt's field (the user message). Default `problem` (OpenRS, MATH). */
    problem_field: z.string().min(1).default("problem"),
    /** The completion's field (the assistant message, the only tokens with loss). Default `solution`. */
    solution_field: z.string().min(1).default("solution"),
    /**
     * System message before the problem; null for none. Default: the authors' prompt, the math
     * environment's default too, so RL starts from the prompt SFT trained on.
     */
    system_prompt: z.string().nullable().default(DEFAULT_SYSTEM_PROMPT),
    /** Longest sequence (prompt + completion) in tokens; longer rows lose their end, as TRL truncates. Default 1024 (TRL). */
    max_length: z.number().int().min(2).default(1024),

    // ---- optimisation ----
    /** AdamW peak learning rate. Default 2e-5 (TRL's SFTConfig; a model from random init wants ~1e-3). */
    learning_rate: z.number().positive().default(2e-5),
    /** Passes over `dataset`; fractional allowed. Default 3 (Transformers). */
    num_train_epochs: z.number().positive().default(3),
    /** When > 0, the number of optimiser steps, overriding `num_train_epochs`. Default -1 (Transformers). */
    max_steps: z.number().int().min(-1).default(-1),
    /** Sequences per forward/backward pass. Default 8 (Transformers). */
    per_device_train_batch_size: z.number().int().min(1).default(8),
    /** Passes whose gradients add up to one optimiser step. Default 1. */
    gradient_accumulation_steps: z.number().int().min(1).default(1),
    /** Recompute each layer in the backward instead of keeping its activations (Transformers' name). Default false. */
    gradient_checkpointing: z.boolean().default(false),
    /** Sequences per pass when computing `eval_loss`. Default 8 (Transformers). */
    per_device_eval_batch_size: z.number().int().min(1).default(8),
    /** Learning-rate schedule after warmup: linear or cosine decay to 0, or constant. Default linear (Transformers). */
    lr_scheduler_type: z.enum(LR_SCHEDULERS).default("linear"),
    /** Share of the steps spent warming up linearly from 0. Default 0. */
    warmup_ratio: z.number().min(0).max(1).default(0),
    /** Warmup steps; when > 0 it replaces warmup_ratio (Transformers), so the warmup does not move with max_steps. Default 0. */
    warmup_steps: z.number().int().min(0).default(0),
    /** Global gradient-norm clip; 0 = off. Default 1 (Transformers). */
    max_grad_norm: z.number().min(0).default(1),
    weight_decay: z.number().min(0).default(0),
    adam_beta1: z.number().min(0).lt(1).default(0.9),
    adam_beta2: z.number().min(0).lt(1).default(0.999),
    adam_epsilon: z.number().positive().default(1e-8),
    /** Seeds the model's init and the order of the rows in each epoch. Default 0 (as `train`). */
    seed: z.number().int().min(0).max(0xffffffff).default(0),

    // ---- output ----
    /** Run directory: config.json, metrics.jsonl, checkpoints/, and model/ (a Hugging Face directory) at the end. */
    output_dir: z.string().min(1).default("runs/sft"),
    /** One metrics.jsonl line (means over the window) every this many steps. Default 10 (TRL). */
    logging_steps: z.number().int().min(1).default(10),
    /** `steps` (default): checkpoint every `save_steps` and at the end; `no`: never. */
    save_strategy: z.enum(["steps", "no"]).default("steps"),
    /** Default 500 (Transformers). */
    save_steps: z.number().int().min(1).default(500),
    /** Keep the newest this many checkpoints; 0 = all. Default 2 (as `train`). */
    save_total_limit: z.number().int().min(0).default(2),
    /** `eval_loss` every this many steps (with `eval_dataset`); 0 = at the end only (default). */
    eval_steps: z.number().int().min(0).default(0),
  })
  .strict();

export type SftConfigInput = z.input<typeof SftConfigSchema>;
export type SftConfig = z.output<typeof SftConfigSchema>;

/** Validates a config object and fills in the defaults; `source` names it in errors, `locate` adds lines. */
export function resolveSftConfig(input: unknown, source = "config", locate?: Locate): SftConfig {
  return parseConfig(SftConfigSchema, input, source, locate);
}

export async function loadSftConfig(path: string): Promise<SftConfig> {
  const { data, locate } = await readConfigFile(path);
  return resolveSftConfig(data, path, locate);
}

/** Fields a resume may change: how long to train and how often to save. */
export const SFT_RESUMABLE = new Set(["num_train_epochs", "max_steps", "save_steps", "save_total_limit", "output_dir"]);

/**
 * The learning rate of optimiser step `step` (1-based) of `total`: Transformers' schedules, which take the
 * number of steps already done (step - 1) and warm up from 0 over warmup_steps, or when that is 0 over
 * ceil(warmup_ratio * total) steps.
 */
export function sftLearningRate(config: Pick<SftConfig, "learning_rate" | "lr_scheduler_type" | "warmup_ratio" | "warmup_steps">, step: number, total: number): number {
  const warmup = config.warmup_steps > 0 ? config.warmup_steps : Math.ceil(config.warmup_ratio * total);
  const done = step - 1;
  if (done < warmup && config.lr_scheduler_type !== "constant") return (config.learning_rate * done) / Math.max(1, warmup);
  const progress = (done - warmup) / Math.max(1, total - warmup);
  switch (config.lr_scheduler_type) {
    case "linear":
      return config.learning_rate * Math.max(0, 1 - progress);
    case "cosine":
      return config.learning_rate * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    default:
      return config.learning_rate;
  }
}
