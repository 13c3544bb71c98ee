/**
 * `toy` into a folder that already holds a sweep: refused by default; --overwrite removes the old runs;
 * --resume keeps the finished runs of the same grid and settings, reruns the cut-short ones, and refuses runs
 * of other settings or outside the grid (so results.json always describes the runs beside it).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { toyRuns, toySweepDir, type ToyRun } from "../../src/rl/toy.js";

const root = mkdtempSync(join(tmpdir(), "lgrpo-toydir-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A run directory as the trainer leaves it: config.json and `lines` of metrics. */
function fakeRun(run: ToyRun, lines: number): void {
  mkdirSync(run.config.output_dir, { recursive: true });
  writeFileSync(join(run.config.output_dir, "config.json"), JSON.stringify(run.config, null, 2) + "\n");
  const metrics = Array.from({ length: lines }, (_, s) => JSON.stringify({ step: s + 1, reward_mean: 0.5, "env/target_rate": s / 10, seconds: 0.25 }));
  writeFileSync(join(run.config.output_dir, "metrics.jsonl"), metrics.map((l) => l + "\n").join(""));
}

test("an empty or new folder is fine in every mode", async () => {
  const runs = toyRuns({ preset: "small", seeds: 1, steps: 4, outDir: join(root, "new") });
  for (const mode of ["refuse", "overwrite", "resume"] as const) assert.equal((await toySweepDir(join(root, "new"), runs, mode)).size, 0);
});

test("a folder with a sweep: refused, or overwritten, or resumed keeping only the finished runs of the same sweep", async () => {
  const out = join(root, "sweep");
  const runs = toyRuns({ preset: "small", seeds: 2, steps: 4, outDir: out });
  runs.forEach((r, i) => fakeRun(r, i === 3 ? 2 : 4)); // run 3 was cut short
  writeFileSync(join(out, "results.json"), "{}\n");

  await assert.rejects(toySweepDir(out, runs, "refuse"), /already holds a toy sweep \(24 runs under runs\/, results\.json\); pass --resume .* or --overwrite/);

  const kept = await toySweepDir(out, runs, "resume");
  assert.deepEqual([...kept.keys()].sort((a, b) => a - b), runs.map((_, i) => i).filter((i) => i !== 3));
  assert.deepEqual(kept.get(0), { targetRate: [0, 0.1, 0.2, 0.3], rewardMean: [0.5, 0.5, 0.5, 0.5], seconds: 1 });

  // more seeds: the old runs are kept, the new ones run
  const more = toyRuns({ preset: "small", seeds: 3, steps: 4, outDir: out });
  assert.equal((await toySweepDir(out, more, "resume")).size, 23);
  // other settings (steps) or a smaller grid (fewer seeds) would leave results.json beside runs it does not describe
  await assert.rejects(
    toySweepDir(out, toyRuns({ preset: "small", seeds: 2, steps: 8, outDir: out }), "resume"),
    /config\.json: steps: the sweep in .* ran with 4, this one with 8/,
  );
  await assert.rejects(toySweepDir(out, toyRuns({ preset: "small", seeds: 1, steps: 4, outDir: out }), "resume"), /_seed1: not a run of this sweep/);

  await toySweepDir(out, runs, "overwrite");
  assert.deepEqual(readdirSync(join(out, "runs")), []);
  assert.ok(!existsSync(join(out, "results.json")));
});
