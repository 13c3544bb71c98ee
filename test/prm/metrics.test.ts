// Overlap metrics (PAPER.md section 2) on hand-made trees, expected values worked out from the definitions.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  buildPrefixTree,
  intermediateProportions,
  isFlat,
  lambdaWeightSums,
  OverlapStats,
  overlapSummary,
  pathDepths,
  pathOf,
} from "../../src/prm/index.js";

import { Rng } from "../../src/util/rng.js";
import { charIds as ids, PAPER_WORDS } from "../fixtures/paper-example.js";

const example = buildPrefixTree(PAPER_WORDS.map(ids));
const flat = buildPrefixTree(["ABC", "DE", "FGHI"].map(ids));

test("a flat tree: every step a whole trajectory, depth 1, nothing shared", () => {
  assert.ok(isFlat(flat));
  assert.equal(flat.steps.length, 3);
  assert.deepEqual([...pathDepths(flat)], [1, 1, 1]);
  assert.deepEqual([...intermediateProportions(flat)], [0, 0, 0]);
  assert.ok(!isFlat(buildPrefixTree(["AB", "AC"].map(ids))), "sharing the first token is not flat");
});

test("paper example: path depths and intermediate proportions by hand", () => {
  assert.ok(!isFlat(example));
  // ABCD: AB,CD; ABEFHI: AB,EFHI; JKLM: JKL,M; JKLNQST: JKL,NQ,ST; JKLNQU: JKL,NQ,U; VWYZ.
  assert.deepEqual([...pathDepths(example)], [2, 2, 2, 3, 3, 1]);
  // Shared tokens (|lambda| > 1) over length: AB of 4, AB of 6, JKL of 4, JKLNQ of 7, JKLNQ of 6, none of 4.
  const want = [2 / 4, 2 / 6, 3 / 4, 5 / 7, 5 / 6, 0];
  intermediateProportions(example).forEach((p, i) => assert.ok(Math.abs(p - want[i]) < 1e-15));
  const s = overlapSummary(example);
  assert.equal(s.pathDepthMean, 13 / 6);
  assert.equal(s.pathDepthMedian, 2);
  assert.ok(Math.abs(s.intermediateProportionMean - want.reduce((a, b) => a + b) / 6) < 1e-15);
  assert.ok(Math.abs(s.intermediateProportionMedian - (2 / 4 + 5 / 7) / 2) < 1e-15);
  assert.equal(s.tokens, 31);
  assert.equal(s.flatFraction, 0);
});

test("an end step counts in the path depth", () => {
  // AB ends where ABC goes on: AB -> {end, C}.
  assert.deepEqual([...pathDepths(buildPrefixTree(["AB", "ABC"].map(ids)))], [2, 2]);
});

test("OverlapStats pools completions per training step and overall", () => {
  const stats = new OverlapStats();
  stats.add(3, example);
  stats.add(3, flat);
  stats.add(5, flat);
  stats.add(null, flat);
  const { overall, steps } = stats.summary();
  assert.deepEqual(
    steps.map((s) => [s.step, s.groups, s.completions, s.flatGroups, s.flatFraction]),
    [
      [3, 2, 9, 1, 0.5],
      [5, 1, 3, 1, 1],
    ],
  );
  assert.equal(steps[0].pathDepthMean, (13 + 3) / 9);
  assert.equal(steps[0].pathDepthMedian, 2);
  assert.equal(steps[1].pathDepthMean, 1);
  assert.equal(steps[1].intermediateProportionMedian, 0);
  assert.equal(overall.groups, 4);
  assert.equal(overall.completions, 15);
  assert.equal(overall.flatFraction, 3 / 4);
  assert.equal(overall.pathDepthMedian, 1);
  assert.deepEqual(stats.stepSummary(5), steps[1]);
  assert.equal(stats.stepSummary(4), null);
});

test("pathOf walks root to leaf; its length is the path depth", () => {
  assert.deepEqual(pathOf(example, 3), [3, 5, 6]); // JKL, NQ, ST
  assert.deepEqual(pathOf(example, 5), [8]);
  const depths = pathDepths(example);
  for (let i = 0; i < 6; i++) assert.equal(pathOf(example, i).length, depths[i]);
  assert.deepEqual(pathOf(buildPrefixTree([[], [1]]), 0), []);
  assert.throws(() => pathOf(example, 6), /pathOf: no completion 6/);
});

/** |lambda(i,t)| from its definition: the completions whose first t+1 tokens equal completion i's. */
function bruteLambda(group: readonly number[][], i: number, t: number): number {
  let n = 0;
  for (const y of group) {
    if (y.length <= t) continue;
    let same = true;
    for (let u = 0; u <= t && same; u++) same = y[u] === group[i][u];
    if (same) n++;
  }
  return n;
}

test("shared weight share and token-weighted mean |lambda| equal their per-token definitions, pooled per step", () => {
  const rng = new Rng(11);
  const stats = new OverlapStats();
  const byStep = new Map<number, { tokens: number; shared: number; lambda: number }>();
  for (let g = 0; g < 40; g++) {
    const step = g % 3;
    // Small vocabulary and short lengths: many shared prefixes, end steps and empty completions.
    const group = Array.from({ length: 1 + rng.int(7) }, () => Array.from({ length: rng.int(6) }, () => rng.int(3)));
    const tree = buildPrefixTree(group);
    stats.add(step, tree);
    const acc = byStep.get(step) ?? { tokens: 0, shared: 0, lambda: 0 };
    for (let i = 0; i < group.length; i++) {
      for (let t = 0; t < group[i].length; t++) {
        const lam = bruteLambda(group, i, t);
        acc.tokens++;
        acc.lambda += lam;
        if (lam > 1) acc.shared++;
      }
    }
    byStep.set(step, acc);
    const one = lambdaWeightSums(tree);
    const single = overlapSummary(tree);
    assert.ok(Math.abs(single.lambdaSizeMean - (one.tokens > 0 ? one.lambdaSum / one.tokens : 0)) < 1e-12);
  }
  for (const s of stats.summary().steps) {
    const want = byStep.get(s.step)!;
    assert.equal(s.tokens, want.tokens);
    assert.ok(Math.abs(s.sharedWeightShare - want.shared / want.tokens) < 1e-12, `step ${s.step} shared share`);
    assert.ok(Math.abs(s.lambdaSizeMean - want.lambda / want.tokens) < 1e-12, `step ${s.step} mean |lambda|`);
  }
});

test("on the paper's group: 17 of 31 token weights lie on shared steps (AB, JKL, NQ), mean |lambda| 57/31", () => {
  const s = overlapSummary(buildPrefixTree(PAPER_WORDS.map(ids)));
  // AB: 2 tokens x 2 members, JKL: 3 x 3, NQ: 2 x 2 -> 4 + 9 + 4 = 17 shared token-weights of 31 tokens.
  assert.equal(s.tokens, 31);
  assert.ok(Math.abs(s.sharedWeightShare - 17 / 31) < 1e-15);
  // lambda sum: AB 4*2 + JKL 9*3 + NQ 4*2 + the 14 unshared tokens at 1 = 8 + 27 + 8 + 14 = 57.
  assert.ok(Math.abs(s.lambdaSizeMean - 57 / 31) < 1e-15);
});
