/**
 * Supervised fine-tuning through the model interface (src/rl/policy.ts), like the GRPO trainer: the loss is
 * the mean negative log-likelihood of the completion tokens of an optimiser step,
 *
 *   L = -(1/N) sum_{completion tokens t of the step's sequences} log pi(token_t | tokens_<t),
 *
 * N counting every completion token of all the step's micro-batches (so gradient accumulation gives the
 * gradient of one large batch, whatever the split), and the policy gets dL/d(logprobs) = -1/N at those
 * positions and 0 at the prompt's. Nothing in the engine is specific to SFT.
 *
 * The run directory is the trainer's (docs/CONTRACTS.md): config.json, metrics.jsonl (a line every
 * `logging_steps`, and at `eval_steps` with `eval_loss`), checkpoints/ (atomic; weights, AdamW state, the
 * data order's RNG, the logging window), and at the end model/ through `saveModel`. Deterministic: the
 * same config gives the same metrics.jsonl, and a run killed at any point and resumed ends the same.
 */
import { appendFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { checkpointPath, listCheckpoints, pruneCheckpoints, readCheckpoint, writeCheckpoint } from "../rl/checkpoint.js";
import { createEnginePolicy, type PolicyFactory } from "../rl/model.js";
import type { Policy, SequenceBatch } from "../rl/policy.js";
import { checkSameConfig, exists, fileSize, syncFile, truncateTo } from "../rl/rundir.js";
import { NonFiniteError } from "../rl/trainer.js";
import { reason, UserError } from "../util/errors.js";
import { Rng, type RngState } from "../util/rng.js";
import { SFT_RESUMABLE, sftLearningRate, type SftConfig } from "./config.js";
import type { Example } from "./data.js";

/** One line of an sft run's metrics.jsonl. */
export interface SftMetrics {
  step: number;
  /** epochs done, fractional */
  epoch: number;
  /** mean of the window's step losses (present on logging steps) */
  loss?: number;
  grad_norm?: number;
  learning_rate?: number;
  /** completion tokens trained on so far */
  num_tokens: number;
  /** seconds of the window's steps */
  seconds?: number;
  /** mean completion NLL over eval_dataset (present on eval steps) */
  eval_loss?: number;
}

export interface SftOptions {
  train: Example[];
  eval?: Example[];
  resume?: boolean;
  overwrite?: boolean;
  policyFactory?: PolicyFactory;
  /**
   * Writes the final policy as a Hugging Face directory, output_dir/model/ (the CLI passes the engine's
   * saver). `unsupported` is asked first, when the policy is built: a reason it cannot save this policy
   * skips model/ (with `onStart` told why) instead of failing after the training.
   */
  saveModel?: { unsupported(policy: Policy): string | null; save(policy: Policy, dir: string): Promise<void> };
  onStart?: (startStep: number, totalSteps: number, noModel: string | null) => void;
  /** After each optimiser step (metrics only on logging / eval steps). */
  onStep?: (step: number, loss: number, metrics: SftMetrics | null) => void;
}

export interface SftResult {
  totalSteps: number;
  startStep: number;
  /** the lines written by this call */
  metrics: SftMetrics[];
  policy: Policy;
}

/** Optimiser steps of a run: `max_steps`, else ceil(num_train_epochs x steps an epoch). */
export function sftSteps(config: SftConfig, rows: number): { perEpoch: number; total: number } {
  const perEpoch = Math.ceil(rows / (config.per_device_train_batch_size * config.gradient_accumulation_steps));
  return { perEpoch, total: config.max_steps > 0 ? config.max_steps : Math.ceil(config.num_train_epochs * perEpoch) };
}

/** The running sums of a logging window (checkpointed, so a resume logs what an unbroken run would). */
interface Window {
  lossSum: number;
  steps: number;
  seconds: number;
}

export async function sft(config: SftConfig, options: SftOptions): Promise<SftResult> {
  const dir = config.output_dir;
  const files = { config: join(dir, "config.json"), metrics: join(dir, "metrics.jsonl"), checkpoints: join(dir, "checkpoints") };
  const train = options.train;
  if (train.length === 0) throw new UserError("dataset: no rows");
  // what building the policy finds wrong (a lora: block, a lora.adapter) is found before output_dir is touched
  const policy = await (options.policyFactory ?? createEnginePolicy)(config);
  checkFits(policy, [...train, ...(options.eval ?? [])]);
  const noModel = options.saveModel ? options.saveModel.unsupported(policy) : "no saver given";
  try {
    await mkdir(files.checkpoints, { recursive: true });
  } catch (err) {
    throw new UserError(`output_dir: cannot create ${files.checkpoints} (${reason(err)})`);
  }
  const { perEpoch, total } = sftSteps(config, train.length);
  const seqsPerStep = config.per_device_train_batch_size * config.gradient_accumulation_steps;

  // The data order: epoch e's permutation is drawn from `rng` at the epoch's start; a checkpoint stores the
  // state at the start of the epoch it is in, so a resume draws the same permutation again.
  const rng = new Rng(config.seed).fork();
  let epochStart: RngState = rng.getState();
  let order: Int32Array | null = null;
  let window: Window = { lossSum: 0, steps: 0, seconds: 0 };
  let numTokens = 0;

  let startStep = 0;
  const existing = await listCheckpoints(files.checkpoints);
  const hasRun = existing.length > 0 || (await exists(files.metrics));
  if (options.resume && hasRun) {
    await checkSameConfig(files.config, config, SFT_RESUMABLE);
    if (existing.length === 0) {
      await rm(files.metrics, { force: true });
    } else {
      const last = existing[existing.length - 1];
      const { state, meta } = await readCheckpoint(checkpointPath(files.checkpoints, last));
      policy.importState(state);
      startStep = meta.step;
      rng.setState(meta.rng);
      const loop = meta.loop as { window: Window; numTokens: number } | undefined;
      if (!loop) throw new UserError(`${checkpointPath(files.checkpoints, last)}: not an sft checkpoint (no loop state)`);
      window = loop.window;
      numTokens = loop.numTokens;
      await truncateTo(files.metrics, meta.metricsBytes);
    }
  } else if (hasRun) {
    if (!options.overwrite) {
      throw new UserError(`${dir}: already holds a run (metrics.jsonl or checkpoints); pass --resume to continue it or --overwrite to replace it`);
    }
    await rm(files.metrics, { force: true });
    for (const s of existing) await rm(checkpointPath(files.checkpoints, s), { force: true });
  }
  await writeFileAtomic(files.config, JSON.stringify(config, null, 2) + "\n");
  if (startStep === 0) await writeFileAtomic(files.metrics, "");
  options.onStart?.(startStep, total, noModel);

  let metricsBytes = await fileSize(files.metrics);
  let lastCheckpoint: number | null = options.resume && existing.length > 0 ? existing[existing.length - 1] : null;
  const written: SftMetrics[] = [];
  for (let step = startStep + 1; step <= total; step++) {
    const t0 = performance.now();
    const at = ((step - 1) % perEpoch) * seqsPerStep;
    if (at === 0 || order === null) {
      // a fresh epoch draws its order; a resume mid-epoch redraws the one it was in
      epochStart = rng.getState();
      order = permutation(train.length, rng);
    }
    const rows = Array.from(order.subarray(at, Math.min(at + seqsPerStep, train.length)), (i) => train[i]);
    const lr = sftLearningRate(config, step, total);
    const { loss, gradNorm, tokens } = sftStep(policy, rows, config.per_device_train_batch_size, lr, config.max_grad_norm);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      const keep = lastCheckpoint === null ? "no checkpoint was written yet" : `the last good checkpoint is ${checkpointPath(files.checkpoints, lastCheckpoint)} (step ${lastCheckpoint})`;
      throw new NonFiniteError(`step ${step}: the ${Number.isFinite(loss) ? "gradient norm" : "loss"} is ${Number.isFinite(loss) ? gradNorm : loss}; stopped, ${keep}. Lower learning_rate or set max_grad_norm.`);
    }
    numTokens += tokens;
    window.lossSum += loss;
    window.steps += 1;
    window.seconds += (performance.now() - t0) / 1000;

    const logDue = step % config.logging_steps === 0 || step === total;
    const evalDue = options.eval !== undefined && ((config.eval_steps > 0 && step % config.eval_steps === 0) || step === total);
    let line: SftMetrics | null = null;
    if (logDue || evalDue) {
      const epoch = Math.floor((step - 1) / perEpoch) + (at + rows.length) / train.length;
      line = { step, epoch: round6(epoch), num_tokens: numTokens };
      if (logDue) {
        Object.assign(line, { loss: window.lossSum / window.steps, grad_norm: gradNorm, learning_rate: lr, seconds: window.seconds });
        window = { lossSum: 0, steps: 0, seconds: 0 };
      }
      if (evalDue) line.eval_loss = evalLoss(policy, options.eval!, config.per_device_eval_batch_size);
      const text = JSON.stringify(line) + "\n";
      await appendFile(files.metrics, text);
      metricsBytes += Buffer.byteLength(text);
      written.push(line);
    }
    options.onStep?.(step, loss, line);

    if (config.save_strategy === "steps" && (step % config.save_steps === 0 || step === total)) {
      await syncFile(files.metrics);
      const state = policy.exportState();
      // at an epoch's end the next epoch has not drawn its order yet: its start is the current state
      const rngAt = step % perEpoch === 0 ? rng.getState() : epochStart;
      await writeCheckpoint(files.checkpoints, state, {
        step,
        rng: rngAt,
        metricsBytes,
        rolloutsBytes: 0,
        policyMeta: state.meta,
        loop: { window, numTokens },
      });
      lastCheckpoint = step;
      await pruneCheckpoints(files.checkpoints, config.save_total_limit);
    }
  }
  if (options.saveModel && noModel === null) await options.saveModel.save(policy, join(dir, "model"));
  return { totalSteps: total, startStep, metrics: written, policy };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function permutation(n: number, rng: Rng): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

function checkFits(policy: Policy, examples: Example[]): void {
  let longest = 0;
  for (const e of examples) {
    longest = Math.max(longest, e.prompt.length + e.completion.length);
    for (const ids of [e.prompt, e.completion]) {
      for (const id of ids) {
        if (id >= policy.vocabSize) throw new UserError(`model: the tokenizer's id ${id} is outside the model's vocabulary (${policy.vocabSize} tokens)`);
      }
    }
  }
  if (longest > policy.contextLength) {
    throw new UserError(`max_length: a row is ${longest} tokens, the model's context is ${policy.contextLength}; lower max_length or use a longer context`);
  }
}

/** prompt + completion per row, padded with 0 to the longest. */
function pack(rows: Example[]): SequenceBatch {
  const lens = rows.map((r) => r.prompt.length + r.completion.length);
  const seqLen = Math.max(2, ...lens);
  const tokens = new Int32Array(rows.length * seqLen);
  rows.forEach((r, i) => {
    tokens.set(r.prompt, i * seqLen);
    tokens.set(r.completion, i * seqLen + r.prompt.length);
  });
  return { tokens, batch: rows.length, seqLen, lengths: Int32Array.from(lens) };
}

/** Sum of -logprob over the completion tokens of a scored batch ([batch, seqLen - 1] layout). */
function completionNll(logprobs: Float32Array, batch: SequenceBatch, rows: Example[]): number {
  let nll = 0;
  const w = batch.seqLen - 1;
  rows.forEach((r, i) => {
    const start = i * w + r.prompt.length - 1;
    for (let t = 0; t < r.completion.length; t++) nll -= logprobs[start + t];
  });
  return nll;
}

/**
 * One optimiser step on `rows` in micro-batches of `microBatch`: L = (sum of completion NLL) / N over all of
 * them, each micro-batch's backward given -1/N at its completion positions. Returns L, the gradient norm
 * before clipping, and N.
 */
export function sftStep(policy: Policy, rows: Example[], microBatch: number, learningRate: number, maxGradNorm: number): { loss: number; gradNorm: number; tokens: number } {
  const tokens = rows.reduce((a, r) => a + r.completion.length, 0);
  policy.zeroGrad();
  let nll = 0;
  for (let s = 0; s < rows.length; s += microBatch) {
    const part = rows.slice(s, s + microBatch);
    const batch = pack(part);
    const scores = policy.scoreForTraining(batch);
    nll += completionNll(scores.logprobs, batch, part);
    const w = batch.seqLen - 1;
    const d = new Float32Array(batch.batch * w);
    part.forEach((r, i) => d.fill(-1 / tokens, i * w + r.prompt.length - 1, i * w + r.prompt.length - 1 + r.completion.length));
    policy.backward(d);
  }
  const { gradNorm } = policy.optimizerStep({ learningRate, maxGradNorm });
  return { loss: nll / tokens, gradNorm, tokens };
}

/** Mean completion NLL per token over `examples` (no gradients). */
export function evalLoss(policy: Policy, examples: Example[], batchSize: number): number {
  let nll = 0;
  let tokens = 0;
  for (let s = 0; s < examples.length; s += batchSize) {
    const part = examples.slice(s, s + batchSize);
    const batch = pack(part);
    nll += completionNll(policy.score(batch).logprobs, batch, part);
    tokens += part.reduce((a, r) => a + r.completion.length, 0);
  }
  return nll / tokens;
}
