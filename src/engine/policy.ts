/**
 * GPT2Policy: the engine's implementation of the model interface the RL layer sees (src/rl/policy.ts):
 * a GPT-2, its AdamW state, scoring of padded batches, backward from d(objective)/d(logprobs), and
 * sampling with a KV cache.
 */
import { existsSync, statSync } from "node:fs";
import { AdamW, ADAMW_DEFAULTS, type AdamWConfig } from "./adamw.js";
import { GPT2, GPT2_PRESETS, validateConfig, type GPT2Config, type PositionScores } from "./gpt2.js";
import { generate } from "./sample.js";
import type {
  OptimizerStepOptions, Policy, PolicyState, SampleOptions, ScoreOptions, SequenceBatch, TokenScores,
} from "../rl/policy.js";
import { UserError } from "../util/errors.js";
import { Rng } from "../util/rng.js";

export interface CreatePolicyOptions {
  /** seeds the GPT-2 initialisation (ignored when weights are loaded) */
  seed: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEps?: number;
  weightDecay?: number;
}

/** The `meta.format` of PolicyState written by exportState. */
export const POLICY_STATE_FORMAT = "lambda-grpo/gpt2-policy@1";

export class GPT2Policy implements Policy {
  readonly model: GPT2;
  readonly optimizer: AdamW | null;

  /** frozen: no gradients or optimizer (clone()'s reference copy). */
  constructor(model: GPT2, adam: Partial<AdamWConfig> = {}, frozen = false) {
    this.model = model;
    this.optimizer = frozen ? null : new AdamW(model.parameters(), model.data, model.grad, adam);
  }

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  get contextLength(): number {
    return this.model.config.contextLength;
  }

  score(batch: SequenceBatch, opts: ScoreOptions = {}): TokenScores {
    return toTokenScores(this.model.logprobs(batch, opts), batch);
  }

  scoreForTraining(batch: SequenceBatch, opts: ScoreOptions = {}): TokenScores {
    this.trainable("scoreForTraining");
    const s = toTokenScores(this.model.logprobsForTraining(batch, opts), batch);
    this.lastShape = [batch.batch, batch.seqLen];
    return s;
  }

  private lastShape: [number, number] | null = null;

  backward(dLogprobs: Float32Array): void {
    this.trainable("backward");
    if (this.lastShape === null) throw new Error("GPT2Policy.backward: call scoreForTraining first (one backward per scoreForTraining)");
    const [B, T] = this.lastShape;
    this.lastShape = null;
    if (dLogprobs.length !== B * (T - 1)) {
      throw new Error(`GPT2Policy.backward: dLogprobs has ${dLogprobs.length} entries, expected [${B}, ${T - 1}] = ${B * (T - 1)}`);
    }
    // [B, T-1] -> [B, T]: position t of the model's layout is about token t + 1
    const d = new Float32Array(B * T);
    for (let b = 0; b < B; b++) d.set(dLogprobs.subarray(b * (T - 1), (b + 1) * (T - 1)), b * T);
    this.model.backward(d);
  }

  zeroGrad(): void {
    this.trainable("zeroGrad");
    this.model.zeroGrad();
  }

  optimizerStep(opts: OptimizerStepOptions): { gradNorm: number } {
    const opt = this.trainable("optimizerStep");
    if (!(opts.learningRate >= 0)) throw new Error(`optimizerStep: learningRate must be >= 0, got ${opts.learningRate}`);
    return opt.update(opts.learningRate, opts.maxGradNorm);
  }

  sample(prompts: Int32Array[], opts: SampleOptions): Int32Array[] {
    return generate(this.model, prompts, opts);
  }

  /** A frozen copy (same weights, no gradients or optimizer state): the KL reference. */
  clone(): Policy {
    const m = new GPT2(this.model.config, { trainable: false });
    m.data.set(this.model.data);
    return new GPT2Policy(m, {}, true);
  }

  /**
   * Parameters by name, AdamW moments as `adamw.m.<name>` and `adamw.v.<name>`, and in meta the config,
   * the optimizer's hyperparameters and step count. importState restores all of it bit for bit.
   */
  exportState(): PolicyState {
    const tensors: Record<string, Float32Array> = {};
    const opt = this.optimizer;
    for (const p of this.model.parameters()) {
      tensors[p.name] = p.data.slice();
      if (opt) {
        const off = p.data.byteOffset / 4 - this.model.data.byteOffset / 4;
        tensors[`adamw.m.${p.name}`] = opt.m.slice(off, off + p.data.length);
        tensors[`adamw.v.${p.name}`] = opt.v.slice(off, off + p.data.length);
      }
    }
    return {
      tensors,
      meta: {
        format: POLICY_STATE_FORMAT,
        config: { ...this.model.config },
        adamw: opt ? { ...opt.config, step: opt.step } : null,
      },
    };
  }

  importState(state: PolicyState): void {
    const meta = state.meta;
    if (meta.format !== POLICY_STATE_FORMAT) {
      throw new UserError(`policy state: meta.format is ${JSON.stringify(meta.format)}, expected "${POLICY_STATE_FORMAT}"`);
    }
    const cfg = meta.config as GPT2Config;
    for (const k of Object.keys(this.model.config) as (keyof GPT2Config)[]) {
      if (cfg?.[k] !== this.model.config[k]) {
        throw new UserError(`policy state: config.${k} is ${cfg?.[k]}, this policy has ${this.model.config[k]}`);
      }
    }
    const opt = this.optimizer;
    const adam = meta.adamw as (AdamWConfig & { step: number }) | null;
    if (opt && !adam) throw new UserError("policy state: it has no AdamW state (exported from a frozen policy?)");
    const need = (name: string, n: number): Float32Array => {
      const t = state.tensors[name];
      if (!t) throw new UserError(`policy state: tensor ${name} is missing`);
      if (t.length !== n) throw new UserError(`policy state: tensor ${name} has ${t.length} elements, expected ${n}`);
      return t;
    };
    const params = this.model.parameters();
    for (const p of params) {
      need(p.name, p.data.length);
      if (opt) {
        need(`adamw.m.${p.name}`, p.data.length);
        need(`adamw.v.${p.name}`, p.data.length);
      }
    }
    // everything checked: now copy
    for (const p of params) {
      p.data.set(state.tensors[p.name]);
      if (opt) {
        const off = p.data.byteOffset / 4 - this.model.data.byteOffset / 4;
        opt.m.set(state.tensors[`adamw.m.${p.name}`], off);
        opt.v.set(state.tensors[`adamw.v.${p.name}`], off);
      }
    }
    if (opt && adam) {
      opt.step = adam.step;
      Object.assign(opt.config, { beta1: adam.beta1, beta2: adam.beta2, eps: adam.eps, weightDecay: adam.weightDecay });
    }
  }

  private trainable(what: string): AdamW {
    if (this.optimizer === null) throw new Error(`GPT2Policy.${what}: this policy is a frozen clone`);
    return this.optimizer;
  }
}

/** [B*T] per-position scores of the model -> the interface's [B, T-1] (entry t is about token t + 1). */
function toTokenScores(s: PositionScores, batch: SequenceBatch): TokenScores {
  const B = batch.batch;
  const T = batch.seqLen;
  const logprobs = new Float32Array(B * (T - 1));
  const entropy = new Float32Array(B * (T - 1));
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T - 1; t++) {
      logprobs[b * (T - 1) + t] = s.logprobs[b * T + t];
      entropy[b * (T - 1) + t] = s.entropy[b * T + t];
    }
  }
  return { logprobs, entropy };
}

/**
 * A policy from a preset name (`toy`, `gpt2-small`), a GPT2Config (both GPT-2-initialised from
 * opts.seed), or a Hugging Face-format GPT-2 directory (config.json + model.safetensors).
 */
export async function createPolicy(model: string | GPT2Config, opts: CreatePolicyOptions): Promise<Policy> {
  const adam: AdamWConfig = {
    beta1: opts.adamBeta1 ?? ADAMW_DEFAULTS.beta1,
    beta2: opts.adamBeta2 ?? ADAMW_DEFAULTS.beta2,
    eps: opts.adamEps ?? ADAMW_DEFAULTS.eps,
    weightDecay: opts.weightDecay ?? ADAMW_DEFAULTS.weightDecay,
  };
  if (typeof model !== "string") {
    try {
      validateConfig(model);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    return initialised(model, opts.seed, adam);
  }
  const preset = GPT2_PRESETS[model];
  if (preset) return initialised(preset, opts.seed, adam);
  if (existsSync(model) && statSync(model).isDirectory()) {
    const { loadHFModel } = await import("./hf.js");
    return new GPT2Policy(await loadHFModel(model), adam);
  }
  throw new UserError(
    `model '${model}': expected a preset (${Object.keys(GPT2_PRESETS).join(", ")}) or a Hugging Face-format GPT-2 directory`,
  );
}

function initialised(config: GPT2Config, seed: number, adam: AdamWConfig): GPT2Policy {
  const m = new GPT2(config);
  m.initialize(new Rng(seed));
  return new GPT2Policy(m, adam);
}
