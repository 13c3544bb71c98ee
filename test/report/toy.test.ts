/**
 * The toy sweep's report shows every seed, not only the mean: on a cell whose GRPO seeds split into runs
 * that reach the target and runs that never do, the table lists each seed's rate and the chart draws one
 * line per seed beside the means (offline, in Chromium).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { toyReportHtml } from "../../src/report/toy.js";
import { lastRate, type AlgorithmResult, type ToyResults } from "../../src/rl/toy.js";
import { meanStd } from "../../src/util/stats.js";
import { SCREENSHOTS, skip } from "../view/chromium.js";
import { offlinePages } from "./helpers.js";

const STEPS = 60;

/** A result whose seeds follow `ends` (each seed's curve rises to its end value). */
function algo(ends: number[]): AlgorithmResult {
  const curves = ends.map((end, seed) => Array.from({ length: STEPS }, (_, s) => end / (1 + Math.exp(-(s - 15 - 3 * seed) / 4))));
  const runs = curves.map((c) => lastRate(c, 50));
  const curve = curves[0].map((_, s) => curves.reduce((a, c) => a + c[s], 0) / curves.length);
  return { ...meanStd(runs), runs, seeds: ends.map((_, i) => i), curve, curves, steps_to_half: ends.map(() => null) };
}

const RESULTS: ToyResults = {
  preset: "small",
  model: "small",
  target: "LLRL",
  steps: STEPS,
  seeds: [0, 1, 2, 3, 4],
  last_steps: 50,
  group_size: 16,
  hyperparameters: { learning_rate: 3e-4 },
  note: "test",
  workers: 1,
  wall_seconds: 1,
  cells: [
    { n: 2, r_neg: -1, grpo: algo([1, 1, 0, 1, 1]), lambda: algo([1, 1, 1, 1, 1]), paper: { grpo: 0.0488, lambda: 0.3612 } },
    { n: 1, r_neg: -0.5, grpo: algo([1, 1, 1, 1, 1]), lambda: algo([1, 0.9, 1, 1, 1]), paper: null },
  ],
};

const open = offlinePages("lgrpo-toyreport-");

test("the toy report lists every seed's rate beside the mean", () => {
  const html = toyReportHtml(RESULTS);
  const row = /<tr><td>2<\/td><td>-1\.0<\/td>.*?<\/tr>/.exec(html)?.[0] ?? "";
  const seeds = [...row.matchAll(/<td class="seeds">([^<]*)<\/td>/g)].map((m) => m[1]);
  assert.deepEqual(seeds, [RESULTS.cells[0].grpo.runs.map((r) => r.toFixed(2)).join(" "), RESULTS.cells[0].lambda.runs.map((r) => r.toFixed(2)).join(" ")]);
  assert.match(seeds[0], /^0\.\d\d 0\.\d\d 0\.00 0\.\d\d 0\.\d\d$/, "the seed that never finds the target shows as 0");
});

test("the toy report draws one line per seed and the mean of each objective, offline", { skip }, async () => {
  const { context, page, errors } = await open("report.html", toyReportHtml(RESULTS), { width: 1100, height: 900 });
  await page.waitForSelector("#plots figure canvas");
  const figures = page.locator("#plots figure");
  assert.equal(await figures.count(), 2);
  for (const f of await figures.all()) assert.equal(await f.locator("[data-series]").getAttribute("data-series"), String(2 * (5 + 1)));
  await page.screenshot({ path: join(SCREENSHOTS, "toy-report.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
