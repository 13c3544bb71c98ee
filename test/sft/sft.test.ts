/**
 * SFT's facts: the learning-rate schedules are Transformers' (values written from their formulas); the policy
 * gets dL/d(logprobs) = -1/N at exactly the completion positions, N over the whole optimiser step; gradient
 * accumulation gives the gradient of the whole batch on the engine's GPT-2; every epoch visits each row once;
 * a run killed after a checkpoint and resumed writes the metrics and weights of one never stopped; the
 * config's errors name the field.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createPolicy } from "../../src/policy/index.js";
import type { Policy, SequenceBatch } from "../../src/rl/policy.js";
import { resolveSftConfig, sftLearningRate, type SftConfigInput } from "../../src/sft/config.js";
import type { Example } from "../../src/sft/data.js";
import { evalLoss, sft, sftStep } from "../../src/sft/trainer.js";
import { Rng } from "../../src/util/rng.js";
import { TabularPolicy } from "../rl/tabular-policy.js";
import { withoutSeconds } from "../rl/helpers.js";

const V = 6;

/** Random examples over ids 0..V-1 of varying prompt and completion lengths. */
function examples(n: number, seed: number): Example[] {
  const rng = new Rng(seed);
  const seq = (len: number): Int32Array => Int32Array.from({ length: len }, () => rng.int(V));
  return Array.from({ length: n }, () => ({ prompt: seq(1 + rng.int(4)), completion: seq(1 + rng.int(5)) }));
}

function config(extra: Partial<SftConfigInput> = {}) {
  return resolveSftConfig({ model: "unused", dataset: "unused.jsonl", ...extra });
}

test("learning-rate schedules: Transformers' linear, cosine and constant with warmup", () => {
  const lr = 1e-3;
  const c = (lr_scheduler_type: "linear" | "cosine" | "constant" | "constant_with_warmup", warmup_ratio: number) => ({ learning_rate: lr, lr_scheduler_type, warmup_ratio, warmup_steps: 0 });
  // linear, 10 steps, warmup ceil(0.25 * 10) = 3: steps done 0,1,2 warm up as 0/3, 1/3, 2/3; then (10 - d) / 7
  const linear = Array.from({ length: 10 }, (_, i) => sftLearningRate(c("linear", 0.25), i + 1, 10) / lr);
  const expected = [0, 1 / 3, 2 / 3, 7 / 7, 6 / 7, 5 / 7, 4 / 7, 3 / 7, 2 / 7, 1 / 7];
  linear.forEach((x, i) => assert.ok(Math.abs(x - expected[i]) < 1e-12, `linear step ${i + 1}: ${x}`));
  // cosine without warmup: 0.5 (1 + cos(pi d / 4)) for d = 0..3
  const cosine = [1, 2, 3, 4].map((s) => sftLearningRate(c("cosine", 0), s, 4) / lr);
  [1, 0.5 * (1 + Math.SQRT1_2), 0.5, 0.5 * (1 - Math.SQRT1_2)].forEach((e, i) => assert.ok(Math.abs(cosine[i] - e) < 1e-12));
  // constant ignores warmup (as get_constant_schedule does); constant_with_warmup does not
  assert.equal(sftLearningRate(c("constant", 0.5), 1, 10), lr);
  assert.equal(sftLearningRate(c("constant_with_warmup", 0.5), 1, 10), 0);
  assert.equal(sftLearningRate(c("constant_with_warmup", 0.5), 9, 10), lr);
  // warmup_steps replaces the ratio and does not move with the total (Transformers)
  const steps = (total: number) => [1, 2, 3, 4, 5].map((s) => sftLearningRate({ ...c("constant_with_warmup", 0.5), warmup_steps: 4 }, s, total) / lr);
  assert.deepEqual(steps(10), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(steps(1000), steps(10));
});

/** Wraps a policy and records what reaches backward and which rows are trained on. */
class Recording implements Policy {
  grads: { batch: SequenceBatch; d: Float32Array }[] = [];
  private last: SequenceBatch | null = null;
  constructor(readonly inner: Policy) {}
  get vocabSize() { return this.inner.vocabSize; }
  get contextLength() { return this.inner.contextLength; }
  score(b: SequenceBatch) { return this.inner.score(b); }
  scoreForTraining(b: SequenceBatch) { this.last = b; return this.inner.scoreForTraining(b); }
  backward(d: Float32Array) { this.grads.push({ batch: this.last!, d: d.slice() }); this.inner.backward(d); }
  zeroGrad() { this.inner.zeroGrad(); }
  optimizerStep(o: Parameters<Policy["optimizerStep"]>[0]) { return this.inner.optimizerStep(o); }
  sample(p: Int32Array[], o: Parameters<Policy["sample"]>[1]) { return this.inner.sample(p, o); }
  clone() { return this.inner.clone(); }
  exportState() { return this.inner.exportState(); }
  importState(s: Parameters<Policy["importState"]>[0]) { this.inner.importState(s); }
}

test("the policy gets -1/N at the completion positions and 0 elsewhere; the loss is the completion NLL / N", () => {
  const rows = examples(7, 1);
  const p = new Recording(new TabularPolicy(V));
  // an untrained tabular policy is uniform: each completion token costs log V
  const N = rows.reduce((a, r) => a + r.completion.length, 0);
  const { loss, tokens } = sftStep(p, rows, 3, 0.01, 0);
  assert.equal(tokens, N);
  assert.ok(Math.abs(loss - Math.log(V)) < 1e-6);
  assert.equal(p.grads.length, 3, "7 rows in micro-batches of 3");
  let seen = 0;
  for (const { batch, d } of p.grads) {
    const W = batch.seqLen - 1;
    for (let b = 0; b < batch.batch; b++) {
      const r = rows[seen++];
      for (let t = 0; t < W; t++) {
        // entry t is about token t + 1: the completion is tokens prompt.length .. prompt.length + completion.length - 1
        const inCompletion = t + 1 >= r.prompt.length && t + 1 < r.prompt.length + r.completion.length;
        assert.equal(d[b * W + t], inCompletion ? Math.fround(-1 / N) : 0, `row ${seen - 1} position ${t}`);
      }
    }
  }
  assert.equal(seen, 7);
});

test("gradient accumulation: one batch of 8 or micro-batches of 1, 3, 4 give the same loss, gradient norm and update (GPT-2, Llama)", async () => {
  const rows = examples(8, 2);
  const gpt2 = { vocabSize: V, contextLength: 16, nLayer: 1, nHead: 2, nEmbd: 16, layerNormEpsilon: 1e-5 };
  for (const model of [gpt2, "llama-tiny"]) await sameUpdate(rows, model);
});

async function sameUpdate(rows: Example[], model: Parameters<typeof createPolicy>[0]): Promise<void> {
  const results = [];
  for (const mb of [8, 1, 3, 4]) {
    const p = await createPolicy(model, { seed: 5 });
    const r = sftStep(p, rows, mb, 1e-2, 0);
    results.push({ ...r, params: p.exportState().tensors });
  }
  const [whole, ...split] = results;
  for (const s of split) {
    assert.ok(Math.abs(s.loss - whole.loss) < 1e-6 * whole.loss);
    assert.ok(Math.abs(s.gradNorm - whole.gradNorm) < 1e-5 * whole.gradNorm, `${s.gradNorm} vs ${whole.gradNorm}`);
    for (const [name, w] of Object.entries(whole.params) as [string, Float32Array][]) {
      const x = s.params[name];
      for (let i = 0; i < w.length; i++) assert.ok(Math.abs(x[i] - w[i]) < 1e-5, `${name}[${i}]`);
    }
  }
}

test("each epoch visits every row once, in a seeded order; the loss falls as the policy learns the rows", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lgrpo-sft-"));
  const rows = examples(10, 3);
  const key = (b: SequenceBatch, i: number) => Array.from(b.tokens.subarray(i * b.seqLen, i * b.seqLen + b.lengths[i])).join(",");
  const rowKeys = rows.map((r) => [...r.prompt, ...r.completion].join(","));
  const run = async (seed: number) => {
    const rec = new Recording(new TabularPolicy(V));
    const cfg = config({ output_dir: dir, seed, num_train_epochs: 3, per_device_train_batch_size: 2, gradient_accumulation_steps: 2, learning_rate: 0.1, logging_steps: 1, save_strategy: "no" });
    const r = await sft(cfg, { train: rows, eval: rows, policyFactory: async () => rec, overwrite: true });
    return { r, seen: rec.grads.flatMap((g) => Array.from({ length: g.batch.batch }, (_, i) => key(g.batch, i))) };
  };
  const a = await run(0);
  assert.equal(a.r.totalSteps, 9, "ceil(10 / 4) = 3 steps an epoch");
  assert.equal(a.seen.length, 30);
  for (let e = 0; e < 3; e++) assert.deepEqual([...a.seen.slice(10 * e, 10 * e + 10)].sort(), [...rowKeys].sort(), `epoch ${e}`);
  assert.notDeepEqual(a.seen.slice(0, 10), a.seen.slice(10, 20), "each epoch reshuffles");
  assert.deepEqual((await run(0)).seen, a.seen);
  assert.notDeepEqual((await run(1)).seen, a.seen);
  const m = a.r.metrics;
  assert.deepEqual(m.map((x) => x.step), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(m[2].epoch, 1);
  // an untrained tabular policy is uniform (loss log V); three epochs of Adam at 0.1 must lower it well
  assert.ok(Math.abs(m[0].loss! - Math.log(V)) < 1e-6);
  assert.ok(m[8].loss! < 0.8 * Math.log(V), `loss ${m[0].loss} -> ${m[8].loss}`);
  assert.ok(m[8].eval_loss! < 0.8 * Math.log(V), `eval_loss ${m[8].eval_loss}`);
  await rm(dir, { recursive: true });
});

for (const [what, factory] of [
  ["a tabular policy", async () => new TabularPolicy(V)],
  ["the engine's llama-tiny", () => createPolicy("llama-tiny", { seed: 2 })],
] as const) test(`a run that dies after a checkpoint and is resumed ends with the metrics and weights of one never stopped (${what})`, async () => {
  const [whole, broken] = [await mkdtemp(join(tmpdir(), "lgrpo-sft-")), await mkdtemp(join(tmpdir(), "lgrpo-sft-"))];
  const rows = examples(9, 4);
  // save_steps 4 with logging 3: the checkpoint at step 4 carries a half-full logging window; 3 steps an epoch
  const extra = { num_train_epochs: 4, per_device_train_batch_size: 2, gradient_accumulation_steps: 2, learning_rate: 0.05, logging_steps: 3, save_steps: 4, eval_steps: 5, warmup_ratio: 0.2, save_total_limit: 0 };
  const a = await sft(config({ ...extra, output_dir: whole }), { train: rows, eval: rows.slice(0, 3), policyFactory: factory });
  for (const killAt of [6, 10]) {
    await assert.rejects(
      sft(config({ ...extra, output_dir: broken }), {
        train: rows, eval: rows.slice(0, 3), policyFactory: factory, overwrite: true,
        onStep: (step) => { if (step === killAt) throw new Error("killed"); },
      }),
      /killed/,
    );
    const b = await sft(config({ ...extra, output_dir: broken }), { train: rows, eval: rows.slice(0, 3), policyFactory: factory, resume: true });
    assert.equal(b.startStep, killAt === 6 ? 4 : 8);
    assert.deepEqual(
      withoutSeconds(await readFile(join(broken, "metrics.jsonl"), "utf8")),
      withoutSeconds(await readFile(join(whole, "metrics.jsonl"), "utf8")),
    );
    assert.deepEqual(b.policy.exportState(), a.policy.exportState());
  }
  await assert.rejects(sft(config({ ...extra, output_dir: broken }), { train: rows, policyFactory: factory }), /already holds a run/);
  await assert.rejects(
    sft(config({ ...extra, output_dir: broken, learning_rate: 0.5 }), { train: rows, policyFactory: factory, resume: true }),
    /learning_rate: the run was started with 0.05/,
  );
  await rm(whole, { recursive: true });
  await rm(broken, { recursive: true });
});

test("eval_loss is the token-weighted mean completion NLL, whatever the batch size", () => {
  const rows = examples(5, 6);
  const p = new TabularPolicy(V);
  sftStep(p, rows, 5, 0.2, 0);
  const byOne = evalLoss(p, rows, 1);
  assert.ok(Math.abs(evalLoss(p, rows, 5) - byOne) < 1e-6);
  let nll = 0;
  let n = 0;
  for (const r of rows) {
    const seq = Int32Array.from([...r.prompt, ...r.completion]);
    const s = p.score({ tokens: seq, batch: 1, seqLen: seq.length, lengths: Int32Array.of(seq.length) });
    for (let t = r.prompt.length - 1; t < seq.length - 1; t++) nll -= s.logprobs[t];
    n += r.completion.length;
  }
  assert.ok(Math.abs(byOne - nll / n) < 1e-6);
});

test("config errors name the field, with the nearest known name", () => {
  assert.throws(() => resolveSftConfig({ model: "m", dataset: "d", lr: 1e-3 }, "c.yaml"), /c\.yaml: lr: unknown field \(did you mean 'learning_rate'\?\)/);
  assert.throws(() => resolveSftConfig({ model: "m" }, "c.yaml"), /c\.yaml: dataset: /);
  assert.throws(() => resolveSftConfig({ model: "m", dataset: "d", lr_scheduler_type: "step" }, "c.yaml"), /lr_scheduler_type: Invalid option/);
  assert.throws(() => resolveSftConfig({ model: "m", dataset: "d", num_train_epoch: 2 }, "c.yaml"), /did you mean 'num_train_epochs'/);
});
