/**
 * `lambda-grpo analyze` on a hand-made file whose overlap figures are worked out by hand below, its JSON
 * summary, and the self-contained report.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../../src/cli/analyze.js";
import type { AnalyzeSummary } from "../../src/report/analyze.js";
import { captureStdout, tempDir } from "./helpers.js";

const dir = tempDir();

const g = (id: string, step: number, completions: [number[], number][]) => ({
  id,
  step,
  completions: completions.map(([tokens, reward]) => ({ tokens, reward })),
});

// Step 0
//   g1: 123, 124, 5 -> node "12" (|lambda| 2) then leaves 3 and 4; 5 alone.
//       path depths 2, 2, 1; intermediate proportions 2/3, 2/3, 0.
//   g2: 1, 2 -> flat. Depths 1, 1; proportions 0, 0.
//   => 2 groups, 5 completions, 9 tokens, 1 flat; depth mean 7/5, median 1; proportion mean 4/15, median 0.
//   Token weights: "12" is 2 tokens x 2 members (shared), the other 5 tokens are alone: shared share 4/9;
//   |lambda| summed over tokens 4*2 + 5 = 13: token-weighted mean 13/9.
// Step 1
//   g3: 7777, 7778, 7777 -> "777" (3) then "7" (2: the identical pair stays two members) and "8".
//       depths 2, 2, 2; proportions 1, 3/4, 1.
//   g4: 12, 1 -> "1" (2), then "2" for the first and an end step for the second (it stops where the other
//       goes on): depths 2, 2; proportions 1/2, 1.
//   => 2 groups, 5 completions, 15 tokens, 0 flat; depth mean 2, median 2; proportion mean 0.85, median 1.
//   Token weights: "777" 3 x 3, "7" 1 x 2, "1" 1 x 2 shared (13 of 15); |lambda| sum 27 + 4 + 1 + 4 + 1 = 37.
// Overall: 4 groups, 10 completions, 24 tokens, 1 flat (0.25); depths 1,1,1,2,2,2,2,2,2,2: mean 1.7, median 2;
//   proportions 0,0,0,1/2,2/3,2/3,3/4,1,1,1: mean 67/120, median 2/3; shared share 17/24, mean |lambda| 50/24.
const LINES = [
  g("g1", 0, [[[1, 2, 3], 1], [[1, 2, 4], 0], [[5], 0]]),
  g("g2", 0, [[[1], 1], [[2], 0]]),
  g("g3", 1, [[[7, 7, 7, 7], 1], [[7, 7, 7, 8], 0], [[7, 7, 7, 7], 1]]),
  g("g4", 1, [[[1, 2], 0], [[1], 1]]),
];

function approx(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);
}

test("analyze: overall and per-step figures, printed and in --json, match the hand count", async () => {
  const input = join(dir, "hand.jsonl");
  writeFileSync(input, LINES.map((l) => JSON.stringify(l)).join("\n") + "\n");
  const json = join(dir, "summary.json");
  const report = join(dir, "report.html");
  const stdout = await captureStdout(() => main([input, "--json", json, "--report", report, "--quiet"]));

  const s = JSON.parse(readFileSync(json, "utf8")) as AnalyzeSummary;
  assert.equal(s.input, input);
  const expected = [
    { step: 0, groups: 2, completions: 5, tokens: 9, flatGroups: 1, flatFraction: 0.5, pathDepthMean: 1.4, pathDepthMedian: 1, intermediateProportionMean: 4 / 15, intermediateProportionMedian: 0, sharedWeightShare: 4 / 9, lambdaSizeMean: 13 / 9 },
    { step: 1, groups: 2, completions: 5, tokens: 15, flatGroups: 0, flatFraction: 0, pathDepthMean: 2, pathDepthMedian: 2, intermediateProportionMean: 0.85, intermediateProportionMedian: 1, sharedWeightShare: 13 / 15, lambdaSizeMean: 37 / 15 },
  ];
  const overall = { groups: 4, completions: 10, tokens: 24, flatGroups: 1, flatFraction: 0.25, pathDepthMean: 1.7, pathDepthMedian: 2, intermediateProportionMean: 67 / 120, intermediateProportionMedian: 2 / 3, sharedWeightShare: 17 / 24, lambdaSizeMean: 50 / 24 };
  const check = (actual: Record<string, number>, want: Record<string, number>, where: string) => {
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(want).sort(), where);
    for (const [k, v] of Object.entries(want)) approx(actual[k], v, `${where} ${k}`);
  };
  check(s.overall as unknown as Record<string, number>, overall, "overall");
  assert.equal(s.steps.length, 2);
  s.steps.forEach((st, i) => check(st as unknown as Record<string, number>, expected[i], `step ${i}`));

  // The printed summary says the same, readably.
  assert.match(stdout, /: 4 groups, 10 completions, 24 tokens, 2 steps\n/);
  assert.match(stdout, /flat trees +1 of 4 groups \(25\.0%\)/);
  assert.match(stdout, /path depth +mean 1\.70, median 2/);
  assert.match(stdout, /intermediate proportion +mean 0\.558, median 0\.667/);
  assert.match(stdout, /GRPO weight on shared steps +70\.8% \(\|lambda\| > 1; lambda-GRPO divides it by \|lambda\|\)/);
  assert.match(stdout, /token-weighted mean \|lambda\| +2\.08/);
  assert.match(stdout, /\n +0 +2 +5 +9 +1 \(50\.0%\) +1\.40 +1 +0\.267 +0\.000 +44\.4% +1\.44\n/);
  assert.match(stdout, /\n +1 +2 +5 +15 +0 \(0\.0%\) +2 +2 +0\.850 +1\.000 +86\.7% +2\.47$/);

  // The report: self-contained (uPlot inlined, no external src/href), data and its five plots.
  const html = readFileSync(report, "utf8");
  assert.doesNotMatch(html, /\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, "no network references");
  assert.doesNotMatch(html, /<script[^>]*\bsrc=/i);
  assert.doesNotMatch(html, /<link\b/i);
  assert.match(html, /uPlot/);
  for (const id of ["plot-depth", "plot-proportion", "plot-flat", "plot-shared", "plot-lambda"]) assert.match(html, new RegExp(`id="${id}"`));
  const data = /<script type="application\/json" id="analyze-data">(.*?)<\/script>/s.exec(html);
  assert.ok(data, "embedded data");
  assert.deepEqual(JSON.parse(data[1]), s);
});

test("analyze without steps: one set of figures and a report without plots", async () => {
  const input = join(dir, "nosteps.jsonl");
  // One completion per line; the paper's flat case: no shared first token.
  writeFileSync(input, ['{"group": "a", "tokens": [1, 2], "reward": 1}', '{"group": "a", "tokens": [3], "reward": 0}'].join("\n"));
  const json = join(dir, "nosteps.json");
  const report = join(dir, "nosteps.html");
  const stdout = await captureStdout(() => main([input, "--json", json, "--report", report, "--quiet"]));
  const s = JSON.parse(readFileSync(json, "utf8")) as AnalyzeSummary;
  assert.deepEqual(s.steps, []);
  assert.deepEqual([s.overall.groups, s.overall.flatGroups, s.overall.pathDepthMean, s.overall.intermediateProportionMean], [1, 1, 1, 0]);
  assert.match(stdout, /1 group, 2 completions, 3 tokens \(no steps\)/);
  assert.doesNotMatch(stdout, /per step/);
  assert.doesNotMatch(readFileSync(report, "utf8"), /id="plot-depth"/);
});

test("analyze on bad input writes neither --json nor --report", async () => {
  const input = join(dir, "bad.jsonl");
  writeFileSync(input, JSON.stringify(LINES[0]) + '\n{"id": "x", "step": 0, "completions": [{"tokens": [1], "reward": true}]}\n');
  const json = join(dir, "bad.json");
  const report = join(dir, "bad.html");
  await assert.rejects(main([input, "--json", json, "--report", report, "--quiet"]), (e: Error) => {
    assert.equal(e.message, `${input}:2: completions[0].reward: expected a finite number, got true`);
    return true;
  });
  assert.ok(!existsSync(json) && !existsSync(report));
  assert.ok(!readdirSync(dir).some((f) => f.endsWith(".tmp")));
});
