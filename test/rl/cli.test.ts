/**
 * The commands end to end, as a user runs them: a `train` run killed with SIGKILL and resumed ends with the
 * same metrics.jsonl (but `seconds`) and rollouts.jsonl as one never stopped; `toy` writes results.json and an
 * offline report. Works from source (tsx) and from dist.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { killedAndResumed, startCli } from "../cli/helpers.js";
import { withoutSeconds } from "./helpers.js";

test("train: killed with SIGKILL after a checkpoint, then --resume: same metrics as an uninterrupted run", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lgrpo-cli-"));
  const cfg = join(dir, "run.yaml");
  const steps = 120;
  await writeFile(
    cfg,
    [
      "model: small",
      `steps: ${steps}`,
      "num_generations: 8",
      "prompts_per_step: 2",
      "learning_rate: 0.001",
      "beta: 0.04",
      "num_iterations: 2",
      "lambda: true",
      "seed: 3",
      "checkpoint_every: 10",
      "env: {name: tree, shared_prefix: 2, r_neg: -1.0}",
      "",
    ].join("\n"),
  );
  const { whole, broken } = await killedAndResumed(["train", cfg], dir, join("checkpoints", "step-00000020.safetensors"), async (killed) => {
    const partial = (await readFile(join(killed, "metrics.jsonl"), "utf8")).trim().split("\n").length;
    assert.ok(partial < steps, `killed mid-run (${partial} of ${steps} steps written)`);
  });
  assert.deepEqual(
    withoutSeconds(await readFile(join(broken, "metrics.jsonl"), "utf8")),
    withoutSeconds(await readFile(join(whole, "metrics.jsonl"), "utf8")),
  );
  assert.equal(await readFile(join(broken, "rollouts.jsonl"), "utf8"), await readFile(join(whole, "rollouts.jsonl"), "utf8"));
  await rm(dir, { recursive: true });
});

test("train: a bad config names the field; --resume with nothing to resume says so", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lgrpo-cli-"));
  const cfg = join(dir, "bad.json");
  await writeFile(cfg, JSON.stringify({ scale_rewards: "std" }));
  const r = await startCli(["train", cfg]).done;
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.json:1: scale_rewards: Invalid option: expected one of "group"\|"batch"\|"none"/);
  const s = await startCli(["train", "--resume", "--output-dir", join(dir, "nothing")]).done;
  assert.equal(s.code, 1);
  assert.match(s.stderr, /config\.json: not found/);
  await rm(dir, { recursive: true });
});

test("toy: writes results.json (cells with grpo/lambda mean, std, runs) and an offline HTML report", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lgrpo-toy-"));
  const r = await startCli(["toy", "--seeds", "2", "--steps", "6", "--out", dir, "--jobs", "2", "--json", "--quiet"]).done;
  assert.equal(r.code, 0, r.stderr);
  const results = JSON.parse(await readFile(join(dir, "results.json"), "utf8"));
  assert.deepEqual(JSON.parse(r.stdout), results);
  assert.equal(results.cells.length, 6);
  for (const c of results.cells) {
    for (const a of [c.grpo, c.lambda]) {
      assert.equal(a.runs.length, 2);
      assert.ok(a.mean >= 0 && a.mean <= 1 && a.std >= 0);
      assert.equal(a.curve.length, 6);
    }
  }
  assert.deepEqual(
    results.cells.map((c: { n: number; r_neg: number }) => [c.n, c.r_neg]),
    [[1, -0.5], [1, -1], [1, -1.5], [2, -0.5], [2, -1], [2, -1.5]],
  );
  const html = await readFile(join(dir, "report.html"), "utf8");
  assert.ok(html.includes("uPlot"));
  assert.ok(!/<script[^>]+src=|<link[^>]+href=/i.test(html), "no external resources");
  await rm(dir, { recursive: true });
});
