/**
 * The trainer's mechanics on a tabular policy (test/rl/tabular-policy.ts): same seed and config give the same
 * metrics; a run that dies after a checkpoint and is resumed ends with the metrics of one never stopped;
 * NaN stops the run and keeps the last good checkpoint; the run directory holds what docs/CONTRACTS.md says.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { resolveConfig, type TrainConfigInput } from "../../src/rl/config.js";
import { validateEnv } from "../../src/rl/env/index.js";
import { buildPrefixTree, intermediateProportions, isFlat, pathDepths } from "../../src/prm/index.js";
import { NonFiniteError, train } from "../../src/rl/trainer.js";
import type { Policy } from "../../src/rl/policy.js";
import { TabularPolicy } from "./tabular-policy.js";
import { withoutSeconds } from "./helpers.js";

const ENV = { name: "tree", left_token: 1, right_token: 2, prompt: [0], shared_prefix: 1, r_neg: -1 };

function config(dir: string, extra: Partial<TrainConfigInput> = {}) {
  return resolveConfig(
    { env: ENV, steps: 10, num_generations: 8, prompts_per_step: 2, learning_rate: 0.1, checkpoint_every: 4, output_dir: dir, ...extra },
    validateEnv,
  );
}
const tabular = async () => new TabularPolicy(4);

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), "lgrpo-trainer-"));
}

test("same seed and config: identical metrics.jsonl; the run directory has config, rollouts, checkpoints", async () => {
  const [a, b] = [await tmp(), await tmp()];
  for (const extra of [{}, { lambda: true, beta: 0.1, num_iterations: 2, loss_type: "grpo" as const }]) {
    await train(config(a, extra), { policyFactory: tabular, overwrite: true });
    await train(config(b, extra), { policyFactory: tabular, overwrite: true });
    const ma = await readFile(join(a, "metrics.jsonl"), "utf8");
    assert.deepEqual(withoutSeconds(ma), withoutSeconds(await readFile(join(b, "metrics.jsonl"), "utf8")));
    const lines = withoutSeconds(ma).map((l) => JSON.parse(l));
    assert.equal(lines.length, 10);
    for (const key of ["reward_mean", "reward_std", "loss", "kl", "clip_fraction", "entropy", "grad_norm", "learning_rate", "path_depth_mean", "path_depth_median", "intermediate_proportion_mean", "intermediate_proportion_median", "flat_fraction", "env/target_rate"]) {
      assert.ok(Number.isFinite(lines[9][key]), key);
    }
    const rollouts = (await readFile(join(a, "rollouts.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(rollouts.length, 20);
    assert.equal(rollouts[3].id, "s2-g1");
    assert.equal(rollouts[3].completions.length, 8);
    assert.deepEqual(await readdir(join(a, "checkpoints")), ["step-00000008.safetensors", "step-00000010.safetensors"]);
    const saved = JSON.parse(await readFile(join(a, "config.json"), "utf8"));
    assert.equal(saved.epsilon_high, 0.2);
    assert.equal(saved.env.depth, 4);
  }
  await rm(a, { recursive: true });
  await rm(b, { recursive: true });
});

test("a step's overlap metrics pool the completions of all its groups (means and medians over completions)", async () => {
  const dir = await tmp();
  await train(config(dir, { num_generations: 5, prompts_per_step: 3, steps: 3 }), { policyFactory: tabular });
  const metrics = (await readFile(join(dir, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
  const groups = (await readFile(join(dir, "rollouts.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  for (const m of metrics) {
    const depths: number[] = [];
    const props: number[] = [];
    let flat = 0;
    const mine = groups.filter((g) => g.step === m.step);
    for (const g of mine) {
      const tree = buildPrefixTree(g.completions.map((c: { tokens: number[] }) => c.tokens));
      depths.push(...pathDepths(tree));
      props.push(...intermediateProportions(tree));
      if (isFlat(tree)) flat++;
    }
    assert.equal(depths.length, 15);
    assert.ok(Math.abs(m.path_depth_mean - depths.reduce((a, b) => a + b, 0) / depths.length) < 1e-12);
    assert.equal(m.path_depth_median, median(depths));
    assert.ok(Math.abs(m.intermediate_proportion_mean - props.reduce((a, b) => a + b, 0) / props.length) < 1e-12);
    assert.ok(Math.abs(m.intermediate_proportion_median - median(props)) < 1e-12);
    assert.equal(m.flat_fraction, flat / mine.length);
  }
  await rm(dir, { recursive: true });
});

test("a run that dies after a checkpoint and is resumed matches one never stopped", async () => {
  const [whole, broken] = [await tmp(), await tmp()];
  const extra = { beta: 0.05, num_iterations: 2, lambda: true };
  await train(config(whole, extra), { policyFactory: tabular });
  await assert.rejects(
    train(config(broken, extra), {
      policyFactory: tabular,
      onStep: (m) => {
        if (m.step === 7) throw new Error("killed");
      },
    }),
    /killed/,
  );
  // metrics.jsonl now has steps 1..7, the newest checkpoint is step 4
  assert.equal((await readFile(join(broken, "metrics.jsonl"), "utf8")).trim().split("\n").length, 7);
  const resumed = await train(config(broken, extra), { policyFactory: tabular, resume: true });
  assert.equal(resumed.startStep, 4);
  assert.deepEqual(
    withoutSeconds(await readFile(join(broken, "metrics.jsonl"), "utf8")),
    withoutSeconds(await readFile(join(whole, "metrics.jsonl"), "utf8")),
  );
  assert.equal(
    await readFile(join(broken, "rollouts.jsonl"), "utf8"),
    await readFile(join(whole, "rollouts.jsonl"), "utf8"),
  );
  await rm(whole, { recursive: true });
  await rm(broken, { recursive: true });
});

test("an existing run is not overwritten without --overwrite, and a resume needs the same config", async () => {
  const dir = await tmp();
  await train(config(dir, { steps: 2 }), { policyFactory: tabular });
  await assert.rejects(train(config(dir, { steps: 2 }), { policyFactory: tabular }), /already holds a run/);
  await assert.rejects(
    train(config(dir, { steps: 4, learning_rate: 0.5 }), { policyFactory: tabular, resume: true }),
    /learning_rate: the run was started with 0.1/,
  );
  const more = await train(config(dir, { steps: 4 }), { policyFactory: tabular, resume: true });
  assert.equal(more.startStep, 2);
  assert.equal(more.metrics.length, 2);
  await rm(dir, { recursive: true });
});

test("NaN in the loss stops the run with a clear message and keeps the last good checkpoint", async () => {
  const dir = await tmp();
  let calls = 0;
  const poisoned = async (): Promise<Policy> => {
    const p = new TabularPolicy(4);
    const score = p.scoreForTraining.bind(p);
    p.scoreForTraining = (batch, opts) => {
      const s = score(batch, opts);
      if (++calls === 6) s.logprobs.fill(NaN);
      return s;
    };
    return p;
  };
  await assert.rejects(train(config(dir), { policyFactory: poisoned }), (err: Error) => {
    assert.ok(err instanceof NonFiniteError);
    assert.match(err.message, /step 6: the loss is NaN/);
    assert.match(err.message, /last good checkpoint is .*step-00000004\.safetensors \(step 4\)/);
    return true;
  });
  assert.deepEqual(await readdir(join(dir, "checkpoints")), ["step-00000004.safetensors"]);
  await rm(dir, { recursive: true });
});

test("every loss_type x scale_rewards x lambda trains; micro-batching leaves the dapo update unchanged", async () => {
  const dir = await tmp();
  for (const loss_type of ["grpo", "dapo", "bnpo", "dr_grpo"] as const) {
    for (const scale_rewards of ["group", "batch", "none"] as const) {
      for (const lambda of [false, true]) {
        const r = await train(config(dir, { steps: 2, loss_type, scale_rewards, lambda, log_rollouts: false }), { policyFactory: tabular, overwrite: true });
        assert.equal(r.metrics.length, 2);
        assert.ok(r.metrics.every((m) => Number.isFinite(m.loss) && Number.isFinite(m.grad_norm)));
      }
    }
  }
  const whole = await train(config(dir, { steps: 3, lambda: true }), { policyFactory: tabular, overwrite: true });
  const split = await train(config(dir, { steps: 3, lambda: true, micro_batch_size: 3 }), { policyFactory: tabular, overwrite: true });
  for (let s = 0; s < 3; s++) {
    assert.equal(split.metrics[s].reward_mean, whole.metrics[s].reward_mean);
    assert.ok(Math.abs(split.metrics[s].loss - whole.metrics[s].loss) < 1e-12);
    assert.ok(Math.abs(split.metrics[s].grad_norm - whole.metrics[s].grad_norm) < 1e-9 * whole.metrics[s].grad_norm);
  }
  await rm(dir, { recursive: true });
});
