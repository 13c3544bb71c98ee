/**
 * The reasoning sweep end to end on a tiny GPT-2-shaped base (a few steps of everything): the table's rows
 * and statistics come from the runs' own eval files, the runs differ only in algorithm, beta and seed, the
 * overlap entries are the runs' metrics, wins are the cells' comparison, and a rerun continues (here: finds
 * everything done and trains nothing) while other settings in the same folder are refused.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { gridRuns, runReasoning, SHARED, type ReasoningPreset } from "../../src/reasoning/experiment.js";
import { RESULT_ROWS } from "../../src/reasoning/results.js";
import { BENCHMARKS } from "../../src/reasoning/tasks.js";
import { UserError } from "../../src/util/errors.js";

const TINY: ReasoningPreset = {
  model: { vocab_size: 128, context_length: 256, n_layer: 1, n_head: 2, n_embd: 16, layer_norm_epsilon: 1e-5 },
  seeds: 2,
  betas: [0, 0.04],
  sftRound: 2,
  sftSteps: 3,
  rlSteps: 3,
  tuneSteps: 2,
  heldOut: 4,
  validationProblems: 3,
  validationEvery: 2,
  overlapGroupSizes: [6, 12],
};

const fromSource = import.meta.url.endsWith(".ts");
const EXPERIMENT = new URL(fromSource ? "../../src/reasoning/experiment.ts" : "../../src/reasoning/experiment.js", import.meta.url).href;

async function lines(path: string): Promise<Record<string, number>[]> {
  return (await readFile(path, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

test("a tiny sweep: rows from the eval files, fair runs, overlap from the metrics, wins recounted, rerun trains nothing", async () => {
  const out = await mkdtemp(join(tmpdir(), "lgrpo-reasoning-"));
  const r = await runReasoning({ preset: "quick", values: TINY, out, jobs: 2 });

  assert.deepEqual(r.benchmarks, [...BENCHMARKS]);
  assert.deepEqual(r.rows.map((x) => x.name), [...RESULT_ROWS]);
  // the learning rate: chosen on the tuning runs' validation accuracy in their second half, both algorithms together
  assert.deepEqual(r.tuning.candidates.map((c) => c.learning_rate), [...SHARED.rl.learning_rates]);
  for (const c of r.tuning.candidates) {
    const scores = [];
    for (const alg of ["grpo", "lambda"]) {
      const m = await lines(join(out, "runs", `tune-lr${c.learning_rate}-${alg}`, "metrics.jsonl"));
      assert.equal(m.length, 2);
      scores.push(m[1]["eval/validation/accuracy"]);
    }
    assert.ok(Math.abs(c.score - (scores[0] + scores[1]) / 2) < 1e-12);
  }
  const best = Math.max(...r.tuning.candidates.map((c) => c.score));
  assert.equal(r.tuning.chosen, r.tuning.candidates.find((c) => c.score === best)!.learning_rate);
  const grid = gridRuns(TINY, r.tuning.chosen);
  assert.equal(grid.length, 2 * 2 * 2);
  for (const row of r.rows) {
    const runs = row.name === "base" ? ["base"] : grid.filter((g) => g.row === row.name).map((g) => g.name);
    assert.equal(runs.length, row.name === "base" ? 1 : 2, row.name);
    const files = await Promise.all(runs.map(async (n) => JSON.parse(await readFile(join(out, "eval", n, "results.json"), "utf8"))));
    for (const b of BENCHMARKS) {
      const acc = files.map((f) => f[b].accuracy as number);
      assert.deepEqual(row.accuracy[b].runs, acc, `${row.name} ${b}`);
      const m = acc.reduce((a, c) => a + c, 0) / acc.length;
      assert.ok(Math.abs(row.accuracy[b].mean - m) < 1e-12);
      const sd = acc.length > 1 ? Math.sqrt(acc.reduce((a, c) => a + (c - m) ** 2, 0) / (acc.length - 1)) : 0;
      assert.ok(Math.abs(row.accuracy[b].std - sd) < 1e-12);
      for (const f of files) assert.equal(f[b].n, TINY.heldOut);
    }
  }

  // every run's config is the same but for algorithm, beta, seed and its folder
  const configs = await Promise.all(grid.map(async (g) => JSON.parse(await readFile(join(out, "runs", g.name, "config.json"), "utf8"))));
  for (const [i, c] of configs.entries()) {
    assert.equal(c.lambda, grid[i].lambda);
    assert.equal(c.beta, grid[i].beta);
    assert.equal(c.seed, grid[i].seed);
    assert.equal(c.num_generations, 6);
    assert.equal(c.prompts_per_step, 4);
    assert.equal(c.temperature, 0.75);
    assert.equal(c.learning_rate, r.tuning.chosen);
    const strip = (x: Record<string, unknown>) => ({ ...x, lambda: null, beta: null, seed: null, output_dir: null });
    assert.deepEqual(strip(c), strip(configs[0]));
  }

  // the base: SFT rounds of 2 steps up to the cap of 3 (the tiny model never reaches the target), each scored on validation
  const selection = JSON.parse(await readFile(join(out, "base", "selection.json"), "utf8"));
  assert.deepEqual(selection.rounds.map((x: { step: number }) => x.step), [2, 3]);
  assert.equal(selection.chosen, 3);
  const sftMetrics = await lines(join(out, "base", "metrics.jsonl"));
  assert.equal(sftMetrics.at(-1)!.step, 3);

  // curves and overlap are the runs' metrics.jsonl
  assert.equal(r.curves.length, grid.length);
  for (const c of r.curves) {
    const m = await lines(join(out, "runs", `${c.row}-seed${c.seed}`, "metrics.jsonl"));
    assert.deepEqual(c.step, [1, 2, 3]);
    assert.deepEqual(c.reward_mean, m.map((l) => l.reward_mean));
    assert.deepEqual(c.validation.step, [0, 2]);
    assert.equal(c.validation.accuracy[0], selection.rounds[1].validation_accuracy);
    assert.equal(c.validation.accuracy[1], m[1]["eval/validation/accuracy"]);
  }
  assert.deepEqual(r.overlap.map((o) => o.group_size), [6, 12]);
  const g6 = await lines(join(out, "runs", "grpo_beta0-seed1", "metrics.jsonl"));
  assert.deepEqual(r.overlap[0].path_depth_median, g6.map((l) => l.path_depth_median));
  assert.deepEqual(r.overlap[0].entropy, g6.map((l) => l.entropy));
  assert.equal(r.overlap[0].groups, 3 * 4);
  const g12 = JSON.parse(await readFile(join(out, "runs", "overlap-g12-seed1", "config.json"), "utf8"));
  assert.equal(g12.num_generations, 12);
  assert.equal(g12.lambda, false);
  assert.equal(r.overlap[1].groups, 3);

  let wins = 0;
  let cells = 0;
  for (const beta of TINY.betas) {
    const g = r.rows.find((x) => x.name === `grpo_beta${beta}`)!;
    const l = r.rows.find((x) => x.name === `lambda_beta${beta}`)!;
    for (const b of BENCHMARKS) {
      cells++;
      if (l.accuracy[b].mean > g.accuracy[b].mean) wins++;
    }
  }
  assert.equal(r.wins.cells, cells);
  assert.equal(r.wins.lambda, wins);
  assert.equal(r.wins.lambda + r.wins.grpo + r.wins.ties, cells);

  // a rerun finds every stage done: no file of a run changes, the results are the same
  const before = (await stat(join(out, "runs", "lambda_beta0.04-seed2", "metrics.jsonl"))).mtimeMs;
  const again = await runReasoning({ preset: "quick", values: TINY, out, jobs: 2 });
  assert.equal((await stat(join(out, "runs", "lambda_beta0.04-seed2", "metrics.jsonl"))).mtimeMs, before);
  assert.deepEqual({ ...again, wall_seconds: 0 }, { ...r, wall_seconds: 0 });

  // other settings in the same folder are refused, naming it
  await assert.rejects(runReasoning({ preset: "quick", values: { ...TINY, rlSteps: 4 }, out }), (e: Error) => e instanceof UserError && e.message.includes("other settings"));

  // SIGKILLed in the middle of the grid (a run has logged a step) and run again: the results of the sweep never stopped
  const killed = await mkdtemp(join(tmpdir(), "lgrpo-reasoning-kill-"));
  const code = `import(${JSON.stringify(EXPERIMENT)}).then((m) => m.runReasoning({ preset: "quick", values: ${JSON.stringify(TINY)}, out: ${JSON.stringify(killed)}, jobs: 2 }))`;
  const child = spawn(process.execPath, [...(fromSource ? ["--import", "tsx"] : []), "-e", code], { stdio: "ignore" });
  const probe = join(killed, "runs", "grpo_beta0-seed1", "metrics.jsonl");
  const exited = new Promise((resolve) => child.on("exit", resolve));
  for (;;) {
    if (existsSync(probe) && (await readFile(probe, "utf8")).length > 0) break;
    if (child.exitCode !== null) assert.fail("the sweep ended before it could be killed");
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  await exited;
  assert.ok(!existsSync(join(killed, "results.json")));
  const resumed = await runReasoning({ preset: "quick", values: TINY, out: killed, jobs: 2 });
  assert.deepEqual({ ...resumed, wall_seconds: 0 }, { ...r, wall_seconds: 0 });
  await rm(killed, { recursive: true });
  await rm(out, { recursive: true });
});
