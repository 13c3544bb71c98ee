/**
 * The adapter between the engine's language models (GPT2, TransformerLM) and the RL layer's model
 * interface (src/rl/policy.ts): one implementation for every model, since the trainer needs the same
 * things of each -- scoring padded batches, backward from d(objective)/d(logprobs), AdamW on the trained
 * buffer (all weights, or the LoRA adapters), sampling with the KV cache, and an exact state.
 */
import { AdamW, type AdamWConfig } from "../engine/adamw.js";
import type { GPT2 } from "../engine/gpt2.js";
import type { PositionScores } from "../engine/lm.js";
import { generate } from "../engine/sample.js";
import type { TransformerLM } from "../engine/transformer.js";
import type {
  OptimizerStepOptions, Policy, PolicyState, SampleOptions, ScoreOptions, SequenceBatch, TokenScores,
} from "../rl/policy.js";
import { UserError } from "../util/errors.js";

export type EngineModel = GPT2 | TransformerLM;

export abstract class EnginePolicy<M extends EngineModel> implements Policy {
  readonly model: M;
  /** null: frozen (a clone: no gradients, no optimizer) */
  readonly optimizer: AdamW | null;
  /** the `meta.format` of the states this policy writes and reads */
  protected abstract readonly format: string;
  private lastShape: [number, number] | null = null;

  constructor(model: M, adam: Partial<AdamWConfig>, frozen: boolean) {
    this.model = model;
    this.optimizer = frozen ? null : new AdamW(model.parameters(), model.data, model.grad, adam);
  }

  /** What a state must agree on to be imported (meta.config and the like), by field. */
  protected abstract identity(): Record<string, unknown>;

  /** Further state of the model beyond its tensors, in meta (restored by restoreMeta). */
  protected extraMeta(): Record<string, unknown> {
    return {};
  }

  protected restoreMeta(_meta: Record<string, unknown>): void {}

  /** A frozen copy with the same weights (the KL reference). */
  abstract clone(): Policy;

  get vocabSize(): number {
    return this.model.vocabSize;
  }

  get contextLength(): number {
    return this.model.maxSequenceLength;
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

  backward(dLogprobs: Float32Array): void {
    this.trainable("backward");
    if (this.lastShape === null) throw new Error(`${this.constructor.name}.backward: call scoreForTraining first (one backward per scoreForTraining)`);
    const [B, T] = this.lastShape;
    this.lastShape = null;
    if (dLogprobs.length !== B * (T - 1)) {
      throw new Error(`${this.constructor.name}.backward: dLogprobs has ${dLogprobs.length} entries, expected [${B}, ${T - 1}] = ${B * (T - 1)}`);
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

  /**
   * The trained parameters by name (all weights; with LoRA the adapters only), AdamW moments as
   * `adamw.m.<name>` and `adamw.v.<name>`, and in meta the identity (config, LoRA), the optimizer's
   * hyperparameters and step count. importState restores all of it bit for bit.
   */
  exportState(): PolicyState {
    const tensors: Record<string, Float32Array> = {};
    const opt = this.optimizer;
    for (const p of this.model.parameters()) {
      tensors[p.name] = p.data.slice();
      if (opt) {
        const off = this.offset(p.data);
        tensors[`adamw.m.${p.name}`] = opt.m.slice(off, off + p.data.length);
        tensors[`adamw.v.${p.name}`] = opt.v.slice(off, off + p.data.length);
      }
    }
    return { tensors, meta: { format: this.format, ...this.identity(), ...this.extraMeta(), adamw: opt ? { ...opt.config, step: opt.step } : null } };
  }

  importState(state: PolicyState): void {
    const meta = state.meta;
    if (meta.format !== this.format) {
      throw new UserError(`policy state: meta.format is ${JSON.stringify(meta.format)}, expected "${this.format}"`);
    }
    for (const [field, mine] of Object.entries(this.identity())) {
      const theirs = meta[field] as Record<string, unknown> | null | undefined;
      if (mine === null || theirs === null || theirs === undefined) {
        if (mine !== theirs) throw new UserError(`policy state: ${field} is ${JSON.stringify(theirs ?? null)}, this policy has ${JSON.stringify(mine)}`);
        continue;
      }
      for (const [k, v] of Object.entries(mine as Record<string, unknown>)) {
        if (JSON.stringify(theirs[k]) !== JSON.stringify(v)) {
          throw new UserError(`policy state: ${field}.${k} is ${JSON.stringify(theirs[k])}, this policy has ${JSON.stringify(v)}`);
        }
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
        const off = this.offset(p.data);
        opt.m.set(state.tensors[`adamw.m.${p.name}`], off);
        opt.v.set(state.tensors[`adamw.v.${p.name}`], off);
      }
    }
    this.restoreMeta(meta);
    if (opt && adam) {
      opt.step = adam.step;
      Object.assign(opt.config, { beta1: adam.beta1, beta2: adam.beta2, eps: adam.eps, weightDecay: adam.weightDecay });
    }
  }

  /** Element offset of a parameter's view in the trained buffer (the optimizer's moments share it). */
  private offset(view: Float32Array): number {
    return (view.byteOffset - this.model.data.byteOffset) / 4;
  }

  protected trainable(what: string): AdamW {
    if (this.optimizer === null) throw new Error(`${this.constructor.name}.${what}: this policy is a frozen clone`);
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
