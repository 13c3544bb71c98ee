/**
 * The reasoning sweep's table and report.html, from synthetic results built here: rows of 1 and 3 seeds, a
 * tied cell, a preset without one row, an overlap run whose median path depth is constant (correlation
 * null). The printed cells are parsed back and compared with the numbers; wins and the overlap figures are
 * recomputed here by brute force; the page is loaded offline in Chromium and its curves and cells counted.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  PAPER_SUMMARY,
  RESULT_ROWS,
  type Curve,
  type OverlapResult,
  type ReasoningResults,
  type ResultRow,
  type ResultRowName,
  type Stat,
} from "../../src/reasoning/results.js";
import { formatReasoningTable, reasoningReportHtml, ROW_LABELS } from "../../src/report/reasoning.js";
import { Rng } from "../../src/util/rng.js";
import { meanStd, pearson } from "../../src/util/stats.js";
import { SCREENSHOTS, skip } from "../view/chromium.js";
import { offlinePages } from "./helpers.js";

const BENCHMARKS = ["chains", "long_chains", "large_numbers", "unseen_template", "mixed"];
const STEPS = 40;
/** held-out problems a benchmark, so accuracies are multiples of 1/PROBLEMS */
const PROBLEMS = 200;
const SEEDS: Record<ResultRowName, number> = { base: 1, grpo_beta0: 3, lambda_beta0: 3, "grpo_beta0.04": 1, "lambda_beta0.04": 1 };
const PAIRS: [ResultRowName, ResultRowName][] = [
  ["grpo_beta0", "lambda_beta0"],
  ["grpo_beta0.04", "lambda_beta0.04"],
];

const stat = (runs: number[]): Stat => ({ ...meanStd(runs), runs });
const mean = (xs: number[]) => meanStd(xs).mean;

function build(drop: ResultRowName[]): ReasoningResults {
  const rng = new Rng(3);
  const rows: ResultRow[] = [];
  const curves: Curve[] = [];
  for (const name of RESULT_ROWS) {
    const n = SEEDS[name];
    const perRun: number[][] = Array.from({ length: n }, () => BENCHMARKS.map(() => Math.round(PROBLEMS * (0.1 + 0.6 * rng.next())) / PROBLEMS));
    rows.push({
      name,
      accuracy: Object.fromEntries(BENCHMARKS.map((b, j) => [b, stat(perRun.map((r) => r[j]))])),
      mean: stat(perRun.map(mean)),
    });
    if (name === "base") continue;
    for (let seed = 0; seed < n; seed++) {
      const step = Array.from({ length: STEPS }, (_, i) => i + 1);
      const validationSteps = [0, 10, 20, 30, 40];
      curves.push({
        row: name,
        seed,
        step,
        reward_mean: step.map((s) => 1 / (1 + Math.exp(-(s - 15 - 2 * seed) / 5))),
        entropy: step.map((s) => 1.5 * Math.exp(-s / 20)),
        validation: { step: validationSteps, accuracy: validationSteps.map((s) => 0.2 + 0.4 * (s / STEPS) - 0.02 * seed) },
      });
    }
  }
  // A tie: lambda-GRPO and GRPO at beta 0 equal on the first benchmark.
  const g0 = rows.find((r) => r.name === "grpo_beta0")!;
  const l0 = rows.find((r) => r.name === "lambda_beta0")!;
  l0.accuracy[BENCHMARKS[0]] = stat([...g0.accuracy[BENCHMARKS[0]].runs].reverse());
  const kept = rows.filter((r) => !drop.includes(r.name));
  return {
    preset: "quick",
    benchmarks: BENCHMARKS,
    tuning: { seed: 100, candidates: [{ learning_rate: 1e-4, score: 0.2 }, { learning_rate: 3e-4, score: 0.3 }], chosen: 3e-4 },
    base: { target: 0.3, rounds: [{ step: 250, validation_accuracy: 0.1 }, { step: 500, validation_accuracy: 0.32 }], chosen: 500 },
    rows: kept,
    wins: bruteWins(kept),
    paper: PAPER_SUMMARY,
    curves: curves.filter((c) => !drop.includes(c.row)),
    overlap: [overlapRun(6, false), overlapRun(36, true)],
    settings: { learning_rate: 3e-4, num_generations: 6, temperature: 0.75, seeds: [0, 1, 2], lora: { r: 8 } },
    wall_seconds: 512.3,
  };
}

function overlapRun(groupSize: number, constantMedian: boolean): OverlapResult {
  const step = Array.from({ length: STEPS }, (_, i) => i + 1);
  const entropy = step.map((s) => 1.2 * Math.exp(-s / 25) + 0.01 * Math.sin(s));
  const path_depth_mean = step.map((s) => 1 + s / 8 + 0.1 * Math.cos(s));
  const path_depth_median = constantMedian ? step.map(() => 3) : step.map((s) => Math.round(1 + s / 8));
  const intermediate_proportion_mean = step.map((s) => Math.min(1, 0.1 + s / 60));
  const intermediate_proportion_median = step.map((s) => Math.min(1, 0.05 + s / 50));
  const flat_fraction_per_step = step.map((s) => (groupSize === 6 && s % 10 === 1 ? 0.25 : 0));
  return {
    group_size: groupSize,
    algorithm: "lambda",
    beta: 0,
    seed: 0,
    flat_fraction: mean(flat_fraction_per_step),
    groups: 4 * STEPS,
    step,
    flat_fraction_per_step,
    path_depth_mean,
    path_depth_median,
    intermediate_proportion_mean,
    intermediate_proportion_median,
    entropy,
    correlation_with_entropy: {
      path_depth_mean: pearson(path_depth_mean, entropy),
      path_depth_median: pearson(path_depth_median, entropy),
      intermediate_proportion_mean: pearson(intermediate_proportion_mean, entropy),
      intermediate_proportion_median: pearson(intermediate_proportion_median, entropy),
    },
  };
}

function bruteWins(rows: ResultRow[]): ReasoningResults["wins"] {
  const w = { lambda: 0, grpo: 0, ties: 0, cells: 0 };
  for (const [g, l] of PAIRS) {
    const gr = rows.find((r) => r.name === g);
    const lr = rows.find((r) => r.name === l);
    if (!gr || !lr) continue;
    for (const b of BENCHMARKS) {
      w.cells++;
      const d = lr.accuracy[b].mean - gr.accuracy[b].mean;
      if (d > 0) w.lambda++;
      else if (d < 0) w.grpo++;
      else w.ties++;
    }
  }
  return w;
}

const FULL = build([]);
const PARTIAL = build(["lambda_beta0.04"]);

/** Parses `12.5 +- 3.1 (3)` cells out of a table line. */
function parseCells(line: string): { mean: number; std: number; n: number }[] {
  return [...line.matchAll(/(\d+\.\d) \+- (\d+\.\d) \((\d+)\)/g)].map((m) => ({ mean: Number(m[1]), std: Number(m[2]), n: Number(m[3]) }));
}

for (const [label, results] of [["all five rows", FULL], ["a preset missing lambda-GRPO beta 0.04", PARTIAL]] as const) {
  test(`the terminal table's cells parse back to the numbers (${label})`, () => {
    const text = formatReasoningTable(results);
    const lines = text.split("\n");
    const header = lines[1].trim().split(/\s+/);
    assert.deepEqual(header, [...BENCHMARKS, "mean"]);
    const present = RESULT_ROWS.filter((n) => results.rows.some((r) => r.name === n));
    const tableLines = lines.slice(2, 2 + present.length);
    assert.equal(lines[2 + present.length], "", "the table ends after the rows present");
    present.forEach((name, i) => {
      const line = tableLines[i];
      assert.ok(line.startsWith(ROW_LABELS[name] + " "), `row ${i} is ${name}: ${line}`);
      const row = results.rows.find((r) => r.name === name)!;
      const cells = parseCells(line);
      const want = [...BENCHMARKS.map((b) => row.accuracy[b]), row.mean];
      assert.equal(cells.length, want.length);
      cells.forEach((c, j) => {
        assert.ok(Math.abs(c.mean - 100 * want[j].mean) <= 0.05 + 1e-9, `${name} col ${j}: ${c.mean} vs ${100 * want[j].mean}`);
        assert.ok(Math.abs(c.std - 100 * want[j].std) <= 0.05 + 1e-9, `${name} col ${j} std`);
        assert.equal(c.n, want[j].runs.length);
      });
    });
    if (results === PARTIAL) assert.ok(!text.includes("lambda-GRPO beta 0.04"), "the missing row is skipped");
    assert.doesNotMatch(text, /NaN|undefined|null|Infinity/);
  });

  test(`the wins line counts lambda-GRPO's cells over GRPO, beside the paper's 15 of 20 (${label})`, () => {
    const text = formatReasoningTable(results);
    const w = bruteWins(results.rows);
    const m = /lambda-GRPO higher in (\d+) of (\d+) cells, GRPO in (\d+), (\d+) tied/.exec(text);
    assert.ok(m, text);
    assert.deepEqual(m.slice(1).map(Number), [w.lambda, w.cells, w.grpo, w.ties]);
    assert.ok(w.ties >= 1, "the tied cell is counted as a tie");
    assert.equal(w.cells, results === FULL ? 10 : 5);
    assert.match(text, /paper: 15 of 20 \(2 models x 2 betas x 5 benchmarks\)/);
    // Over the base, brute force: lambda rows against the base row, cell by cell.
    const base = results.rows.find((r) => r.name === "base")!;
    let above = 0;
    let cells = 0;
    for (const r of results.rows.filter((r) => r.name.startsWith("lambda"))) {
      for (const b of BENCHMARKS) {
        cells++;
        if (r.accuracy[b].mean > base.accuracy[b].mean) above++;
      }
    }
    assert.match(text, new RegExp(`lambda-GRPO above the base in ${above} of ${cells} cells; paper: 14 of 20`));
  });
}

test("the overlap lines give non-flat share, first and last figures and correlations beside the paper's", () => {
  const text = formatReasoningTable(FULL);
  // how the base and the learning rate were chosen, from results.base and results.tuning
  assert.match(text, /base: SFT from random init, greedy validation accuracy by step 250: 10\.0%, 500: 32\.0%; taken at step 500 \(target 30%\)/);
  assert.match(text, /learning rate 0\.0003, chosen once for both algorithms on validation \(beta 0, seed 100; 0\.0001: 20\.0%, 0\.0003: 30\.0%\)/);
  const section = (g: number) => text.slice(text.indexOf(`group size ${g} (`), g === 6 ? text.indexOf("group size 36 (") : undefined);
  for (const o of FULL.overlap) {
    const s = section(o.group_size);
    const nonFlat = Number(/non-flat trees: (\d+\.\d)%/.exec(s)![1]);
    assert.ok(Math.abs(nonFlat - 100 * (1 - o.flat_fraction)) <= 0.05 + 1e-9);
    assert.match(s, o.group_size === 6 ? /paper: 99\.8% of 6,700/ : /paper: 100\.0% of 1,100/);
    const m = new RegExp(`path depth, mean: (\\d+\\.\\d+) -> (\\d+\\.\\d+), r ([+-]\\d\\.\\d\\d)`).exec(s)!;
    assert.ok(Math.abs(Number(m[1]) - mean(o.path_depth_mean.slice(0, 5))) <= 0.005 + 1e-9);
    assert.ok(Math.abs(Number(m[2]) - mean(o.path_depth_mean.slice(-5))) <= 0.005 + 1e-9);
    assert.ok(Math.abs(Number(m[3]) - o.correlation_with_entropy.path_depth_mean!) <= 0.005 + 1e-9);
    assert.ok(o.correlation_with_entropy.path_depth_mean! < 0, "the synthetic depth rises as entropy falls");
  }
  assert.equal(FULL.overlap[1].correlation_with_entropy.path_depth_median, null);
  assert.match(section(36), /path depth, median: 3\.00 -> 3\.00, r n\/a \(constant series\)/);
  assert.match(section(36), /paper at group size 36: path depth mean ~3 -> ~11/);
});

const open = offlinePages("lgrpo-reasoningreport-");

/** Lines a pair's plot should draw: per algorithm each seed (when more than one) and the mean. */
function pairLines(results: ReasoningResults, grpo: ResultRowName, lambda: ResultRowName): number {
  return [grpo, lambda].reduce((sum, row) => {
    const n = results.curves.filter((c) => c.row === row).length;
    return sum + (n === 0 ? 0 : n > 1 ? n + 1 : 1);
  }, 0);
}

for (const [label, results] of [["all five rows", FULL], ["a preset missing lambda-GRPO beta 0.04", PARTIAL]] as const) {
  test(`report.html loads offline and draws every curve and cell (${label})`, { skip }, async () => {
    const name = `report-${results === FULL ? "full" : "partial"}.html`;
    const { context, page, errors, requests } = await open(name, reasoningReportHtml(results), { width: 1150, height: 900 });
    await page.waitForSelector("#overlap-36-entropy canvas");
    const series = async (id: string) => Number(await page.locator(`#${id}`).getAttribute("data-series"));
    const expected: Record<string, number> = {
      "validation-beta0": pairLines(results, "grpo_beta0", "lambda_beta0"),
      "validation-beta0.04": pairLines(results, "grpo_beta0.04", "lambda_beta0.04"),
      "reward-beta0": pairLines(results, "grpo_beta0", "lambda_beta0"),
      "reward-beta0.04": pairLines(results, "grpo_beta0.04", "lambda_beta0.04"),
    };
    for (const g of [6, 36]) Object.assign(expected, { [`overlap-${g}-flat`]: 1, [`overlap-${g}-depth`]: 2, [`overlap-${g}-proportion`]: 2, [`overlap-${g}-entropy`]: 1 });
    assert.equal(expected["validation-beta0"], 8, "3 seeds and the mean, for each algorithm");
    for (const [id, n] of Object.entries(expected)) assert.equal(await series(id.replace(".", "\\.")), n, id);
    assert.equal(await page.locator("[data-series]").count(), Object.keys(expected).length);
    assert.equal(await page.locator("figure.plot canvas").count(), Object.keys(expected).length);

    const rows = results.rows.length;
    assert.equal(await page.locator("#accuracy tbody tr").count(), rows);
    assert.equal(await page.locator("#accuracy tbody td").count(), rows * (1 + BENCHMARKS.length + 1));
    // The better of each pair is bold: brute force over the pairs present, benchmarks and the mean column.
    let decided = 0;
    for (const [g, l] of PAIRS) {
      const gr = results.rows.find((r) => r.name === g);
      const lr = results.rows.find((r) => r.name === l);
      if (!gr || !lr) continue;
      for (const [a, b] of [...BENCHMARKS.map((k) => [gr.accuracy[k], lr.accuracy[k]]), [gr.mean, lr.mean]]) if (a.mean !== b.mean) decided++;
    }
    assert.equal(await page.locator("#accuracy td.best").count(), decided);
    assert.equal(await page.locator("table.overlap").count(), 2);

    const text = await page.locator("body").innerText();
    assert.doesNotMatch(text, /NaN|undefined|null|Infinity/);
    assert.match(text, /n\/a \(constant series\)/);
    assert.match(text, /learning_rate = 0\.0003/);
    assert.ok(requests.every((u) => u.startsWith("file://")), requests.join(" "));
    await page.screenshot({ path: join(SCREENSHOTS, `reasoning-report-${results === FULL ? "full" : "partial"}.png`), fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });
}
