/**
 * The GRPO / lambda-GRPO training loop. Each step: sample `prompts_per_step` groups of `num_generations`
 * completions, score their rewards, build each group's prefix tree B(G), compute outcome advantages and the
 * per-token loss weights (both from the PRM library, src/prm), update the policy `num_iterations` times, and
 * log one line of metrics.jsonl and the step's groups to rollouts.jsonl. The run directory is described in
 * docs/CONTRACTS.md; checkpoints in src/rl/checkpoint.ts.
 *
 * Determinism: everything random comes from one seeded Rng (its state is checkpointed) and the policy's
 * seeded init, so the same config gives the same metrics.jsonl, and a resumed run continues bit-for-bit.
 */
import { appendFile, mkdir, rm, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { removeStaleTemps, writeFileAtomic } from "../io/atomic.js";
import {
  buildPrefixTree,
  lossWeights,
  outcomeAdvantages,
  OverlapStats,
  rewardStd,
  type PrefixTree,
} from "../prm/index.js";
import { reason, UserError } from "../util/errors.js";
import { Rng } from "../util/rng.js";
import { CHECKPOINT_NAME, checkpointPath, listCheckpoints, pruneCheckpoints, readCheckpoint, writeCheckpoint } from "./checkpoint.js";
import type { TrainConfig } from "./config.js";
import { createEnvironment, type Environment, type Prompt, type ScoredCompletion } from "./env/index.js";
import { objective, type SequenceTerms } from "./loss.js";
import { createEnginePolicy, saveEngineAdapter, type AdapterSaver, type PolicyFactory } from "./model.js";
import type { Policy, SequenceBatch } from "./policy.js";
import { checkSameConfig, exists, fileSize, syncFile, truncateTo } from "./rundir.js";

/** One line of metrics.jsonl (docs/CONTRACTS.md), plus `env/<name>` entries. */
export interface StepMetrics {
  step: number;
  reward_mean: number;
  reward_std: number;
  loss: number;
  kl: number;
  clip_fraction: number;
  entropy: number;
  grad_norm: number;
  learning_rate: number;
  completion_length_mean: number;
  path_depth_mean: number;
  path_depth_median: number;
  intermediate_proportion_mean: number;
  intermediate_proportion_median: number;
  flat_fraction: number;
  seconds: number;
  [env: `env/${string}`]: number;
  [evaluation: `eval/${string}`]: number;
}

export interface TrainOptions {
  /** Continue from the newest checkpoint in output_dir (a fresh start when there is none). */
  resume?: boolean;
  /** Replace a run already in output_dir instead of refusing. */
  overwrite?: boolean;
  /** Builds the policy (default: the engine's GPT-2); must be deterministic in config.seed. */
  policyFactory?: PolicyFactory;
  /** Writes the LoRA adapters of a `lora:` run to output_dir/adapter/ at the end (default: the engine's, PEFT's format). */
  saveAdapter?: AdapterSaver;
  /** Called after each step's metrics line is written. */
  onStep?: (metrics: StepMetrics, config: TrainConfig) => void;
  /** Called when the run starts (fresh or resumed at `startStep`). */
  onStart?: (startStep: number, config: TrainConfig) => void;
}

export interface TrainResult {
  config: TrainConfig;
  /** metrics of the steps run by this call (after a resume: only the new ones) */
  metrics: StepMetrics[];
  /** step the run started from (0 = fresh) */
  startStep: number;
}

/** NaN or infinity in the loss or gradients: the run stops, the last good checkpoint stays. */
export class NonFiniteError extends UserError {}

/** The run's final LoRA adapters, a PEFT directory (with `lora:`): output_dir/adapter/. */
export const ADAPTER_DIR = "adapter";

/** Fields that may differ between a run's config.json and the config it is resumed with. */
const RESUMABLE_CHANGES = new Set(["steps", "checkpoint_every", "save_total_limit", "output_dir"]);

export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const dir = config.output_dir;
  const files = {
    config: join(dir, "config.json"),
    metrics: join(dir, "metrics.jsonl"),
    rollouts: join(dir, "rollouts.jsonl"),
    checkpoints: join(dir, "checkpoints"),
    adapter: join(dir, ADAPTER_DIR),
  };
  if (config.lora?.adapter !== undefined && resolve(config.lora.adapter) === resolve(files.adapter)) {
    throw new UserError(`lora.adapter: ${config.lora.adapter} is where this run writes its adapter; start from a copy, or pick another output_dir`);
  }
  const policy = await (options.policyFactory ?? createEnginePolicy)(config);
  // The KL reference is the initial policy; the init is deterministic in the seed, so a resume rebuilds it
  // the same way instead of storing a second copy of the weights.
  const ref = config.beta > 0 ? policy.clone() : null;
  const env = await createEnvironment(config.env, { vocabSize: policy.vocabSize, model: config.model });
  const constant = env.constantReward?.(Math.min(config.max_completion_length, env.maxCompletionTokens ?? Infinity)) ?? null;
  if (constant !== null) throw new UserError(`${constant}; every advantage would be 0 and the run would train nothing`);
  // output_dir is touched only once the policy and the environment are built (a lora: block the model refuses
  // leaves nothing behind)
  try {
    await mkdir(files.checkpoints, { recursive: true });
  } catch (err) {
    throw new UserError(`output_dir: cannot create ${files.checkpoints} (${reason(err)})`);
  }
  // what a SIGKILL may have left: checkpoints are the big ones (1.5 GB at gpt2-small)
  await removeStaleTemps(files.checkpoints, CHECKPOINT_NAME);
  for (const f of [files.config, files.metrics, files.rollouts]) await removeStaleTemps(dir, basename(f));
  const rng = new Rng(config.seed).fork();

  let startStep = 0;
  const existing = await listCheckpoints(files.checkpoints);
  const hasRun = existing.length > 0 || (await exists(files.metrics));
  if (options.resume && hasRun) {
    await checkSameConfig(files.config, config, RESUMABLE_CHANGES);
    if (existing.length === 0) {
      // killed before its first checkpoint: nothing to keep
      await rm(files.metrics, { force: true });
      await rm(files.rollouts, { force: true });
    } else {
      const last = existing[existing.length - 1];
      const { state, meta } = await readCheckpoint(checkpointPath(files.checkpoints, last));
      policy.importState(state);
      rng.setState(meta.rng);
      if (meta.env !== undefined) env.setState?.(meta.env);
      startStep = meta.step;
      if (startStep > config.steps) {
        throw new UserError(`steps: ${config.steps}, but the run in ${dir} is already at step ${startStep} (a resume goes forward: pass --steps > ${startStep})`);
      }
      await truncateTo(files.metrics, meta.metricsBytes);
      await truncateTo(files.rollouts, meta.rolloutsBytes);
    }
  } else if (hasRun) {
    if (!options.overwrite) {
      throw new UserError(`${dir}: already holds a run (metrics.jsonl or checkpoints); pass --resume to continue it or --overwrite to replace it`);
    }
    await rm(files.metrics, { force: true });
    await rm(files.rollouts, { force: true });
    for (const s of existing) await rm(checkpointPath(files.checkpoints, s), { force: true });
    await rm(files.adapter, { recursive: true, force: true });
  }
  await writeFileAtomic(files.config, JSON.stringify(config, null, 2) + "\n");
  if (startStep === 0) {
    await writeFileAtomic(files.metrics, "");
    await writeFileAtomic(files.rollouts, "");
  }

  options.onStart?.(startStep, config);
  const metrics: StepMetrics[] = [];
  let lastCheckpoint: number | null = existing.length ? existing[existing.length - 1] : null;
  let metricsBytes = await fileSize(files.metrics);
  let rolloutsBytes = await fileSize(files.rollouts);

  for (let step = startStep + 1; step <= config.steps; step++) {
    const t0 = performance.now();
    let result: { metrics: Omit<StepMetrics, "seconds">; rollouts: string };
    try {
      result = trainStep(step, config, policy, ref, env, rng);
    } catch (err) {
      if (err instanceof NonFiniteError) {
        const keep = lastCheckpoint === null ? "no checkpoint was written yet" : `the last good checkpoint is ${checkpointPath(files.checkpoints, lastCheckpoint)} (step ${lastCheckpoint})`;
        throw new NonFiniteError(`${err.message}; stopped, ${keep}. Lower learning_rate or set max_grad_norm.`);
      }
      throw err;
    }
    const m = { ...result.metrics, seconds: (performance.now() - t0) / 1000 } as StepMetrics;
    const maxNewTokens = Math.min(config.max_completion_length, env.maxCompletionTokens ?? Infinity);
    for (const [name, v] of Object.entries(env.validate?.(policy, step, { maxNewTokens }) ?? {})) m[`eval/${name}`] = v;
    const line = JSON.stringify(m) + "\n";
    await appendFile(files.metrics, line);
    metricsBytes += Buffer.byteLength(line);
    if (config.log_rollouts) {
      await appendFile(files.rollouts, result.rollouts);
      rolloutsBytes += Buffer.byteLength(result.rollouts);
    }
    metrics.push(m);
    options.onStep?.(m, config);
    const due = config.checkpoint_every > 0 && step % config.checkpoint_every === 0;
    if (config.save_strategy === "steps" && (due || step === config.steps)) {
      await syncFile(files.metrics);
      await syncFile(files.rollouts);
      const state = policy.exportState();
      await writeCheckpoint(files.checkpoints, state, {
        step,
        rng: rng.getState(),
        metricsBytes,
        rolloutsBytes,
        policyMeta: state.meta,
        env: env.getState?.(),
      });
      lastCheckpoint = step;
      await pruneCheckpoints(files.checkpoints, config.save_total_limit);
    }
  }
  if (config.lora !== undefined) {
    const model = config.model;
    const base = typeof model === "string" && (await stat(model).then((s) => s.isDirectory(), () => false)) ? model : null;
    await (options.saveAdapter ?? saveEngineAdapter)(policy, files.adapter, base);
  }
  return { config, metrics, startStep };
}

/** The learning rate of a step (1-based). */
export function learningRate(config: TrainConfig, step: number): number {
  if (config.lr_scheduler_type === "linear") return config.learning_rate * (1 - (step - 1) / config.steps);
  return config.learning_rate;
}

interface Sequence {
  group: number;
  prompt: Prompt;
  completion: Int32Array;
  reward: number;
  advantage: number;
  weights: Float32Array;
}

/** One training step: sample, score, weigh, update mu times. Pure in (config, policy, rng state). */
export function trainStep(
  step: number,
  config: TrainConfig,
  policy: Policy,
  ref: Policy | null,
  env: Environment,
  rng: Rng,
): { metrics: Omit<StepMetrics, "seconds">; rollouts: string } {
  const k = config.num_generations;
  const maxNew = Math.min(config.max_completion_length, env.maxCompletionTokens ?? Infinity);
  const allowed = env.allowedTokens();
  const prompts = env.prompts(config.prompts_per_step, rng);
  for (const p of prompts) {
    if (p.tokens.length === 0) throw new UserError(`env '${env.name}' gave an empty prompt (the policy needs at least one token)`);
    if (p.tokens.length + maxNew > policy.contextLength) {
      throw new UserError(
        `a prompt of ${p.tokens.length} tokens plus max_completion_length ${maxNew} exceeds the model's context (${policy.contextLength})`,
      );
    }
  }

  // ---- sample and score ----
  const promptRows = prompts.flatMap((p) => Array.from({ length: k }, () => p.tokens));
  const completions = policy.sample(promptRows, {
    maxNewTokens: maxNew,
    temperature: config.temperature,
    topK: config.top_k,
    topP: config.top_p,
    allowed,
    stopTokens: env.stopTokens,
    stopWhen: env.stopWhen ? (_row, tokens) => env.stopWhen!(tokens) : undefined,
    rng,
  });
  const rewards = completions.map((c, i) => env.reward(prompts[Math.floor(i / k)], c));
  for (let i = 0; i < rewards.length; i++) {
    if (!Number.isFinite(rewards[i])) throw new UserError(`env '${env.name}' gave reward ${rewards[i]} (completion ${i})`);
  }

  // ---- advantages and per-token weights (PRM library) ----
  const trees: PrefixTree[] = prompts.map((_, g) => buildPrefixTree(completions.slice(g * k, (g + 1) * k)));
  const batchStd = rewardStd(rewards);
  const advantages = prompts.flatMap((_, g) =>
    Array.from(outcomeAdvantages(rewards.slice(g * k, (g + 1) * k), { scale: config.scale_rewards, batchStd })),
  );
  const mbs = config.micro_batch_size > 0 ? config.micro_batch_size : completions.length;
  const microBatchOf = completions.map((_, i) => Math.floor(i / mbs));
  const weights = lossWeights(trees, {
    lossType: config.loss_type,
    lambda: config.lambda,
    maxCompletionLength: maxNew,
    microBatchOf,
  }).flat();
  const seqs: Sequence[] = completions.map((c, i) => ({
    group: Math.floor(i / k),
    prompt: prompts[Math.floor(i / k)],
    completion: c,
    reward: rewards[i],
    advantage: advantages[i],
    weights: weights[i],
  }));

  const micro: { batch: SequenceBatch; seqs: Sequence[] }[] = [];
  for (let s = 0; s < seqs.length; s += mbs) {
    const part = seqs.slice(s, s + mbs);
    micro.push({ batch: packBatch(part), seqs: part });
  }
  const scoreOpts = { temperature: config.temperature, allowed };
  const old = config.num_iterations > 1 ? micro.map((m) => completionLogprobs(policy.score(m.batch, scoreOpts).logprobs, m)) : null;
  const refLp = ref ? micro.map((m) => completionLogprobs(ref.score(m.batch, scoreOpts).logprobs, m)) : null;

  // ---- mu updates ----
  const lr = learningRate(config, step);
  let lossSum = 0;
  let klSum = 0;
  let clipSum = 0;
  let gradNormSum = 0;
  let entropy = 0;
  for (let it = 0; it < config.num_iterations; it++) {
    policy.zeroGrad();
    let J = 0;
    let kl = 0;
    let clipped = 0;
    let tokens = 0;
    let entropySum = 0;
    for (let b = 0; b < micro.length; b++) {
      const m = micro[b];
      const scores = policy.scoreForTraining(m.batch, scoreOpts);
      const lp = completionLogprobs(scores.logprobs, m);
      if (it === 0) for (const e of completionLogprobs(scores.entropy, m)) for (const v of e) entropySum += v;
      const terms: SequenceTerms[] = m.seqs.map((s, i) => ({
        logprobs: lp[i],
        old: old ? old[b][i] : null,
        ref: refLp ? refLp[b][i] : null,
        advantage: s.advantage,
        weights: s.weights,
      }));
      const r = objective(terms, { epsilonLow: config.epsilon, epsilonHigh: config.epsilon_high, beta: config.beta });
      if (!Number.isFinite(r.objective)) throw new NonFiniteError(`step ${step}: the loss is ${-r.objective}`);
      J += r.objective;
      kl += r.klSum;
      clipped += r.clipped;
      tokens += r.tokens;
      // the policy gets d(objective)/d(logprobs) of the loss it minimises: loss = -J
      const d = new Float32Array(m.batch.batch * (m.batch.seqLen - 1));
      m.seqs.forEach((s, i) => {
        const start = s.prompt.tokens.length - 1;
        const g = r.grad[i];
        for (let t = 0; t < g.length; t++) d[i * (m.batch.seqLen - 1) + start + t] = -g[t];
      });
      policy.backward(d);
    }
    const { gradNorm } = policy.optimizerStep({ learningRate: lr, maxGradNorm: config.max_grad_norm });
    if (!Number.isFinite(gradNorm)) throw new NonFiniteError(`step ${step}: the gradient norm is ${gradNorm}`);
    lossSum += -J;
    klSum += tokens ? kl / tokens : 0;
    clipSum += tokens ? clipped / tokens : 0;
    gradNormSum += gradNorm;
    if (it === 0) entropy = tokens ? entropySum / tokens : 0;
  }
  const mu = config.num_iterations;

  // ---- metrics and rollouts ----
  const scored: ScoredCompletion[] = seqs.map((s) => ({ prompt: s.prompt, tokens: s.completion, reward: s.reward }));
  const overlapStats = new OverlapStats();
  for (const tree of trees) overlapStats.add(null, tree);
  const overlap = overlapStats.summary().overall;
  const rewardMean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
  const metrics: Omit<StepMetrics, "seconds"> = {
    step,
    reward_mean: rewardMean,
    reward_std: batchStd,
    loss: lossSum / mu,
    kl: klSum / mu,
    clip_fraction: clipSum / mu,
    entropy,
    grad_norm: gradNormSum / mu,
    learning_rate: lr,
    completion_length_mean: completions.reduce((a, c) => a + c.length, 0) / completions.length,
    path_depth_mean: overlap.pathDepthMean,
    path_depth_median: overlap.pathDepthMedian,
    intermediate_proportion_mean: overlap.intermediateProportionMean,
    intermediate_proportion_median: overlap.intermediateProportionMedian,
    flat_fraction: overlap.flatFraction,
  };
  for (const [name, v] of Object.entries(env.stepMetrics(scored))) metrics[`env/${name}`] = v;
  let rollouts = "";
  prompts.forEach((p, g) => {
    const group = {
      id: `s${step}-g${g}`,
      step,
      prompt: Array.from(p.tokens),
      completions: seqs.slice(g * k, (g + 1) * k).map((s) => ({ tokens: Array.from(s.completion), reward: s.reward })),
    };
    rollouts += JSON.stringify(group) + "\n";
  });
  return { metrics, rollouts };
}

/** prompt + completion per row, padded with 0 to the longest row. */
function packBatch(seqs: Sequence[]): SequenceBatch {
  const lens = seqs.map((s) => s.prompt.tokens.length + s.completion.length);
  const seqLen = Math.max(2, ...lens);
  const tokens = new Int32Array(seqs.length * seqLen);
  seqs.forEach((s, i) => {
    tokens.set(s.prompt.tokens, i * seqLen);
    tokens.set(s.completion, i * seqLen + s.prompt.tokens.length);
  });
  return { tokens, batch: seqs.length, seqLen, lengths: Int32Array.from(lens, (l) => Math.max(1, l)) };
}

/** The completion tokens' entries of a [batch, seqLen - 1] score array, per sequence. */
function completionLogprobs(values: Float32Array, m: { batch: SequenceBatch; seqs: Sequence[] }): Float32Array[] {
  const w = m.batch.seqLen - 1;
  return m.seqs.map((s, i) => {
    const start = i * w + s.prompt.tokens.length - 1;
    return values.subarray(start, start + s.completion.length);
  });
}
