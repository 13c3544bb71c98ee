// PAPER.md section 2: L_PRM (a_i replaced by A_it) equals L_GRPO when P_it and D_it are equal within a step,
// as they are for a real policy (same context, same token). Section 3: lambda-GRPO weight = GRPO weight / |lambda|.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/util/rng.js";
import {
  buildPrefixTree,
  lossWeights,
  outcomeAdvantages,
  processAdvantages,
  rewardStd,
  type AdvantageOptions,
  type LossType,
  type PrefixTree,
} from "../../src/prm/index.js";

const CLIP_LO = 0.2;
const CLIP_HI = 0.28;

/** A group with shared openings: each completion copies a prefix of an earlier one, then goes its own way. */
function sharedGroup(rng: Rng, k: number): Int32Array[] {
  const ys: number[][] = [];
  for (let i = 0; i < k; i++) {
    const base = i > 0 ? ys[rng.int(i)] : [];
    const y = base.slice(0, rng.int(base.length + 1));
    const len = 1 + rng.int(25);
    while (y.length < len) y.push(rng.int(3));
    ys.push(y);
  }
  return ys.map((y) => Int32Array.from(y));
}

interface Batch {
  trees: PrefixTree[];
  rewards: number[][];
  /** Per group, per completion, per token: ratio P and KL term D, equal within a step. */
  P: Float64Array[][];
  D: Float64Array[][];
}

function randomBatch(rng: Rng): Batch {
  const groups = 1 + rng.int(4);
  const batch: Batch = { trees: [], rewards: [], P: [], D: [] };
  for (let g = 0; g < groups; g++) {
    const ys = sharedGroup(rng, 2 + rng.int(12));
    const tree = buildPrefixTree(ys);
    // Inside the clip range, so min(P a, clip(P) a) is linear in a (mu = 1 has P = 1 exactly).
    const Pstep = tree.steps.map((s) => Float64Array.from({ length: s.length }, () => 1 - 0.19 + 0.45 * rng.next()));
    const Dstep = tree.steps.map((s) => Float64Array.from({ length: s.length }, () => 0.05 * rng.next()));
    const per = (v: Float64Array[]) =>
      ys.map((y, i) => Float64Array.from(y, (_, t) => v[tree.stepOf[i][t]][t - tree.steps[tree.stepOf[i][t]].start]));
    batch.trees.push(tree);
    batch.rewards.push(ys.map(() => rng.int(5) / 4));
    batch.P.push(per(Pstep));
    batch.D.push(per(Dstep));
  }
  return batch;
}

function term(P: number, adv: number, D: number): number {
  const clipped = Math.min(Math.max(P, 1 - CLIP_LO), 1 + CLIP_HI);
  return Math.min(P * adv, clipped * adv) - D;
}

/** J = sum of w_it * term_it with a_i (process: false) or A_it (process: true). */
function objective(b: Batch, w: Float32Array[][], process: boolean, opts: AdvantageOptions): number {
  let J = 0;
  b.trees.forEach((tree, g) => {
    const a = outcomeAdvantages(b.rewards[g], opts);
    const A = processAdvantages(tree, b.rewards[g], opts);
    for (let i = 0; i < tree.lengths.length; i++) {
      for (let t = 0; t < tree.lengths[i]; t++) {
        J += w[g][i][t] * term(b.P[g][i][t], process ? A[i][t] : a[i], b.D[g][i][t]);
      }
    }
  });
  return J;
}

function batchStd(b: Batch): number {
  return rewardStd(b.rewards.flat());
}

test("L_PRM = L_GRPO for dapo, dr_grpo, bnpo (groups whole in a micro-batch), with and without lambda", () => {
  const rng = new Rng(7);
  for (let n = 0; n < 300; n++) {
    const b = randomBatch(rng);
    const scales: AdvantageOptions[] = [{}, { scale: "batch", batchStd: batchStd(b) }, { scale: "none" }];
    const micro = b.trees.flatMap((t, g) => Array.from(t.lengths, () => g >> 1));
    const cases: [LossType, object][] = [
      ["dapo", {}],
      ["dr_grpo", { maxCompletionLength: 40 }],
      ["bnpo", {}],
      ["bnpo", { microBatchOf: micro }],
    ];
    for (const [lossType, extra] of cases) {
      for (const lambda of [false, true]) {
        const w = lossWeights(b.trees, { lossType, lambda, ...extra });
        for (const opts of scales) {
          const grpo = objective(b, w, false, opts);
          const prm = objective(b, w, true, opts);
          assert.ok(Math.abs(grpo - prm) <= 1e-12 * (1 + Math.abs(grpo)), `${lossType} lambda=${lambda}: ${grpo} vs ${prm}`);
        }
      }
    }
  }
});

test("per step and position, d J / d P is the same with a_i and with A_it (the gradient agrees, not just J)", () => {
  const rng = new Rng(9);
  for (let n = 0; n < 300; n++) {
    const b = randomBatch(rng);
    for (const lambda of [false, true]) {
      const w = lossWeights(b.trees, { lossType: "dapo", lambda });
      b.trees.forEach((tree, g) => {
        const a = outcomeAdvantages(b.rewards[g]);
        const A = processAdvantages(tree, b.rewards[g]);
        for (const s of tree.steps) {
          for (let t = s.start; t < s.start + s.length; t++) {
            // Inside the clip range the term is P * adv - D, so dJ/dP at this node is sum over members w * adv.
            let withA = 0;
            let withPrm = 0;
            for (const m of s.members) {
              withA += w[g][m][t] * a[m];
              withPrm += w[g][m][t] * A[m][t];
            }
            if (Math.abs(withA - withPrm) > 1e-12) assert.fail(`step ${s.id} t ${t}: ${withA} vs ${withPrm}`);
          }
        }
      });
    }
  }
});

test("the identity needs weights equal within a step: it fails for grpo (1/|y_i| differs between members)", () => {
  // AB (reward 1) and ACDE (reward 0) share A; A's process advantage is 0 but the length-weighted a_i are not.
  const trees = [buildPrefixTree([Int32Array.of(1, 2), Int32Array.of(1, 3, 4, 5)])];
  const rewards = [[1, 0]];
  const ones = (n: number) => new Float64Array(n).fill(1);
  const b: Batch = { trees, rewards, P: [[ones(2), ones(4)]], D: [[new Float64Array(2), new Float64Array(4)]] };
  const w = lossWeights(trees, { lossType: "grpo" });
  const a = outcomeAdvantages([1, 0])[0];
  // By hand: J_GRPO = (a/2 * 2 - a/4 * 4) / 2 = 0 and J_PRM = (a/2 + 0 - 3a/4) / 2 = -a/8.
  assert.ok(Math.abs(objective(b, w, false, {})) < 1e-7);
  assert.ok(Math.abs(objective(b, w, true, {}) - -a / 8) < 1e-7);
  // The same batch under "dapo" agrees.
  const wd = lossWeights(trees, { lossType: "dapo" });
  assert.ok(Math.abs(objective(b, wd, false, {}) - objective(b, wd, true, {})) < 1e-12);
});

test("each lambda-GRPO weight is the GRPO weight / |lambda(i,t)|, for every aggregation", () => {
  const rng = new Rng(11);
  for (let n = 0; n < 200; n++) {
    const b = randomBatch(rng);
    const micro = b.trees.flatMap((t) => Array.from(t.lengths, () => rng.int(3)));
    const cases: [LossType, object][] = [
      ["grpo", {}],
      ["dapo", {}],
      ["bnpo", {}],
      ["bnpo", { microBatchOf: micro }],
      ["dr_grpo", {}],
    ];
    for (const [lossType, extra] of cases) {
      const plain = lossWeights(b.trees, { lossType, lambda: false, ...extra });
      const lam = lossWeights(b.trees, { lossType, lambda: true, ...extra });
      b.trees.forEach((tree, g) => {
        for (let i = 0; i < tree.lengths.length; i++) {
          for (let t = 0; t < tree.lengths[i]; t++) {
            const want = plain[g][i][t] / tree.lambdaSize[i][t];
            if (Math.abs(lam[g][i][t] - want) > 1e-7 * want) assert.fail(`${lossType} (${g},${i},${t})`);
          }
        }
      });
    }
  }
});
