// Overlap metrics (PAPER.md section 2) on hand-made trees, expected values worked out from the definitions.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  buildPrefixTree,
  intermediateProportions,
  isFlat,
  OverlapStats,
  overlapSummary,
  pathDepths,
  pathOf,
} from "../../src/prm/index.js";

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
