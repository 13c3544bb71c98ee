// Edge cases of B(G) and the advantages, and errors that name what was wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  analyzeGroup,
  buildPrefixTree,
  DEFAULT_EPS,
  outcomeAdvantages,
  OverlapStats,
  processAdvantages,
  processRewards,
  rewardStd,
  stepProcessAdvantages,
} from "../../src/prm/index.js";

test("an empty group gives an empty tree and empty results", () => {
  const tree = buildPrefixTree([]);
  assert.deepEqual(tree.steps, []);
  assert.deepEqual(tree.roots, []);
  assert.equal(tree.leafOf.length, 0);
  assert.equal(outcomeAdvantages([]).length, 0);
  assert.deepEqual(processAdvantages(tree, []), []);
  const g = analyzeGroup([], []);
  assert.equal(g.overlap.completions, 0);
  assert.throws(() => new OverlapStats().add(0, tree), /no completions/);
});

test("an empty completion passes through no step: leafOf -1, no tokens, path depth 0", () => {
  const g = analyzeGroup([[], [5, 6], []], [1, 0, 0]);
  assert.equal(g.tree.steps.length, 1);
  assert.deepEqual([...g.tree.leafOf], [-1, 0, -1]);
  assert.equal(g.tree.stepOf[0].length, 0);
  assert.deepEqual([...g.pathDepths], [0, 1, 0]);
  assert.equal(g.processAdvantages[0].length, 0);
  // Its reward still counts in the group's mean: the one step holds only completion 1.
  assert.equal(g.stepRewards[0], 0);
  assert.ok(g.flat);
  assert.equal(g.overlap.intermediateProportionMean, 0);
  assert.equal(g.overlap.pathDepthMean, 1 / 3);
});

test("a completion that is a prefix of another ends in an empty end step of its own", () => {
  // [1,2] ends where [1,2,3] goes on; the duplicate [1,2] ends there too.
  const tree = buildPrefixTree([[1, 2], [1, 2, 3], [1, 2]]);
  assert.deepEqual(
    tree.steps.map((s) => [s.parent, s.start, s.length, s.members]),
    [
      [-1, 0, 2, [0, 1, 2]],
      [0, 2, 0, [0, 2]],
      [0, 2, 1, [1]],
    ],
  );
  assert.deepEqual([...tree.leafOf], [1, 2, 1]);
  assert.deepEqual(tree.lambdaSize.map((l) => [...l]), [[3, 3], [3, 3, 1], [3, 3]]);
  // R at the shared step is the mean of all three; the end step holds no token.
  const R = processRewards(tree, [1, 0, 1]);
  assert.equal(R[1][0], 2 / 3);
  assert.equal(R[1][2], 0);
});

test("identical trajectories stay separate members of every step", () => {
  const g = analyzeGroup([[7, 8, 9], [7, 8, 9]], [1, 0]);
  assert.equal(g.tree.steps.length, 1);
  assert.deepEqual(g.tree.steps[0].members, [0, 1]);
  assert.deepEqual([...g.lambdaSize[0]], [2, 2, 2]);
  assert.equal(g.flat, false);
  // Both hold the same tokens, so the PRM sees one value: the mean, advantage 0.
  assert.deepEqual([...g.processAdvantages[1]], [0, 0, 0]);
  assert.notEqual(g.advantages[0], 0);
});

test("a single completion: one step, lambda 1, advantages 0", () => {
  const g = analyzeGroup([Int32Array.of(3, 1, 4)], [0.9]);
  assert.equal(g.tree.steps.length, 1);
  assert.deepEqual([...g.advantages], [0]);
  assert.deepEqual([...g.processAdvantages[0]], [0, 0, 0]);
  assert.deepEqual([...g.lambdaSize[0]], [1, 1, 1]);
  assert.ok(g.flat);
});

test("all-equal rewards give exactly 0 under every scaling (no float dust, no NaN)", () => {
  const ys = [[1, 2], [1, 3], [4]];
  const tree = buildPrefixTree(ys);
  for (const opts of [{}, { scale: "batch" as const, batchStd: 0 }, { scale: "none" as const }, { eps: 0 }]) {
    assert.deepEqual([...outcomeAdvantages([0.1, 0.1, 0.1], opts)], [0, 0, 0]);
    assert.deepEqual([...stepProcessAdvantages(tree, [0.1, 0.1, 0.1], opts)], [0, 0, 0, 0]);
  }
});

test("scalings: group (n-1 std + eps), batch (given std + eps), none (centred only)", () => {
  const r = [1, 0, 0, 0];
  const mean = 0.25;
  const std = Math.sqrt((0.75 ** 2 + 3 * 0.25 ** 2) / 3);
  assert.equal(rewardStd(r), std);
  assert.equal(outcomeAdvantages(r)[0], 0.75 / (std + DEFAULT_EPS));
  assert.equal(outcomeAdvantages(r, { scale: "batch", batchStd: 2 })[1], -mean / (2 + DEFAULT_EPS));
  assert.equal(outcomeAdvantages(r, { scale: "none" })[0], 0.75);
  assert.equal(outcomeAdvantages(r, { eps: 0.5 })[0], 0.75 / (std + 0.5));
  assert.equal(rewardStd([3]), 0);
});

test("bad input is rejected with the field and what was expected", () => {
  assert.throws(() => outcomeAdvantages([1, NaN]), /rewards\[1\]: expected a finite number, got NaN/);
  assert.throws(() => outcomeAdvantages([Infinity, 0]), /rewards\[0\]: expected a finite number/);
  assert.throws(() => outcomeAdvantages(["1" as unknown as number]), /rewards\[0\]/);
  const tree = buildPrefixTree([[1], [2]]);
  assert.throws(() => processAdvantages(tree, [1]), /rewards: expected 2 \(one per completion\), got 1/);
  assert.throws(() => outcomeAdvantages([1, 0], { scale: "batch" }), /batchStd: required with scale "batch"/);
  assert.throws(() => outcomeAdvantages([1, 0], { scale: "max" as never }), /scale: expected "group"/);
  assert.throws(() => outcomeAdvantages([1, 0], { eps: -1 }), /eps: expected a finite number >= 0/);
  assert.throws(() => buildPrefixTree([[1, 2.5]]), /completions\[0\]\[1\]: expected an integer token id/);
  assert.throws(() => buildPrefixTree([[1], "ab" as never]), /completions\[1\]: expected an array of token ids/);
  assert.throws(() => buildPrefixTree({} as never), /completions: expected an array/);
});

test("a step through the whole group has R = the group mean and A exactly 0", () => {
  const tree = buildPrefixTree([[9, 1, 2], [9, 1, 3], [9, 4]]);
  const r = [0.3, 0.7, 0.1];
  assert.deepEqual(tree.steps[0].members, [0, 1, 2]);
  assert.equal(stepProcessAdvantages(tree, r)[0], 0);
  assert.equal(processAdvantages(tree, r, { scale: "none" })[2][0], 0);
});

test("OverlapStats leaves empty completions out of the intermediate proportion, not the path depth", () => {
  const stats = new OverlapStats();
  stats.add(0, buildPrefixTree([[], [1, 2], [1, 3]]));
  const s = stats.stepSummary(0)!;
  assert.equal(s.completions, 3);
  assert.equal(s.intermediateProportionMean, 0.5);
  assert.equal(s.pathDepthMean, 4 / 3);
});
