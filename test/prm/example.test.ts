// The worked example of PAPER.md section 2 (the paper's figure), letters as token ids.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  analyzeGroup,
  buildPrefixTree,
  outcomeAdvantages,
  processAdvantages,
  processRewards,
  rewardStd,
  stepTokens,
} from "../../src/prm/index.js";

import { charIds, PAPER_REWARDS, PAPER_WORDS } from "../fixtures/paper-example.js";

const words = PAPER_WORDS;
const rewards = PAPER_REWARDS;
const completions = words.map((w) => Int32Array.from(charIds(w)));
const text = (ids: number[]) => String.fromCharCode(...ids);

test("example: the tree is AB -> {CD, EFHI}; JKL -> {M, NQ -> {ST, U}}; VWYZ", () => {
  const tree = buildPrefixTree(completions);
  const show = (id: number): string => {
    const s = tree.steps[id];
    const kids = s.children.map(show);
    const name = text(stepTokens(tree, completions, id));
    return kids.length === 0 ? name : `${name} -> {${kids.join(", ")}}`;
  };
  assert.deepEqual(tree.roots.map(show), ["AB -> {CD, EFHI}", "JKL -> {M, NQ -> {ST, U}}", "VWYZ"]);
  const members = Object.fromEntries(tree.steps.map((s) => [text(stepTokens(tree, completions, s.id)), s.members]));
  assert.deepEqual(members, {
    AB: [0, 1], CD: [0], EFHI: [1], JKL: [2, 3, 4], M: [2], NQ: [3, 4], ST: [3], U: [4], VWYZ: [5],
  });
});

test("example: group mean 0.4167, sample std 0.3764, a = +1.55 / -1.11 / +0.22", () => {
  const mean = rewards.reduce((s, r) => s + r, 0) / rewards.length;
  assert.equal(mean.toFixed(4), "0.4167");
  assert.equal(rewardStd(rewards).toFixed(4), "0.3764");
  const a = outcomeAdvantages(rewards);
  assert.deepEqual([...a].map((x) => x.toFixed(2)), ["0.22", "0.22", "1.55", "-1.11", "-1.11", "0.22"]);
});

test("example: R and A per node; JKL has R = 0.333, A = -0.22 although JKLM is best", () => {
  const tree = buildPrefixTree(completions);
  const R = processRewards(tree, rewards);
  const A = processAdvantages(tree, rewards);
  const mean = 2.5 / 6;
  const denom = rewardStd(rewards) + 1e-4;
  // Per node, by hand: the mean reward of the trajectories through it.
  const expectR: Record<string, number> = {
    AB: 0.5, CD: 0.5, EFHI: 0.5, JKL: 1 / 3, M: 1, NQ: 0, ST: 0, U: 0, VWYZ: 0.5,
  };
  for (const s of tree.steps) {
    const name = text(stepTokens(tree, completions, s.id));
    for (const i of s.members) {
      for (let t = s.start; t < s.start + s.length; t++) {
        assert.ok(Math.abs(R[i][t] - expectR[name]) < 1e-15, `R at ${name}`);
        assert.ok(Math.abs(A[i][t] - (expectR[name] - mean) / denom) < 1e-12, `A at ${name}`);
      }
    }
  }
  const jkl = tree.steps.find((s) => text(stepTokens(tree, completions, s.id)) === "JKL")!;
  assert.equal(R[2][0].toFixed(3), "0.333");
  assert.equal(A[2][jkl.start].toFixed(2), "-0.22");
});

test("example: lambda-GRPO scales AB 1/2, JKL 1/3, NQ 1/2, every leaf span 1", () => {
  const g = analyzeGroup(completions, rewards);
  const scale = words.map((_, i) => [...g.lambdaSize[i]].map((l) => `1/${l}`).join(" "));
  assert.deepEqual(scale, [
    "1/2 1/2 1/1 1/1",
    "1/2 1/2 1/1 1/1 1/1 1/1",
    "1/3 1/3 1/3 1/1",
    "1/3 1/3 1/3 1/2 1/2 1/1 1/1",
    "1/3 1/3 1/3 1/2 1/2 1/1",
    "1/1 1/1 1/1 1/1",
  ]);
});
