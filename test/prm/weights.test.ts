// Each aggregation of PAPER.md section 1, computed directly from its definition on random per-token terms,
// equals sum of w_it * term_it with the weights of lossWeights.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/util/rng.js";
import { buildPrefixTree, lossWeights, type WeightGroup } from "../../src/prm/index.js";

function randomBatch(rng: Rng): { groups: WeightGroup[]; terms: number[][][] } {
  const groups: WeightGroup[] = [];
  const terms: number[][][] = [];
  for (let g = 1 + rng.int(4); g > 0; g--) {
    const lengths = Array.from({ length: 1 + rng.int(6) }, () => rng.int(20));
    groups.push({ lengths });
    terms.push(lengths.map((n) => Array.from({ length: n }, () => rng.normal())));
  }
  return { groups, terms };
}

function weighted(w: Float32Array[][], terms: number[][][]): number {
  let J = 0;
  terms.forEach((grp, g) => grp.forEach((seq, i) => seq.forEach((x, t) => (J += w[g][i][t] * x))));
  return J;
}

const close = (x: number, y: number) => Math.abs(x - y) <= 1e-6 * (1 + Math.abs(y));
const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

test("grpo: mean over each sequence's tokens, then mean over sequences (an empty one counts 0)", () => {
  const rng = new Rng(1);
  for (let n = 0; n < 200; n++) {
    const { groups, terms } = randomBatch(rng);
    const seqs = terms.flat();
    const want = sum(seqs.map((s) => (s.length > 0 ? sum(s) / s.length : 0))) / seqs.length;
    assert.ok(close(weighted(lossWeights(groups, { lossType: "grpo" }), terms), want));
  }
});

test("dapo: sum over all tokens / tokens in the batch; bnpo without micro-batches is the same", () => {
  const rng = new Rng(2);
  for (let n = 0; n < 200; n++) {
    const { groups, terms } = randomBatch(rng);
    const toks = terms.flat(2);
    const want = toks.length > 0 ? sum(toks) / toks.length : 0;
    assert.ok(close(weighted(lossWeights(groups, { lossType: "dapo" }), terms), want));
    assert.ok(close(weighted(lossWeights(groups, { lossType: "bnpo" }), terms), want));
  }
});

test("bnpo: token mean within each micro-batch, then mean over micro-batches (gradient accumulation)", () => {
  const rng = new Rng(3);
  for (let n = 0; n < 200; n++) {
    const { groups, terms } = randomBatch(rng);
    const seqs = terms.flat();
    const microBatchOf = seqs.map(() => 10 + rng.int(3));
    const ids = [...new Set(microBatchOf)];
    const want =
      sum(
        ids.map((b) => {
          const toks = seqs.filter((_, c) => microBatchOf[c] === b).flat();
          return toks.length > 0 ? sum(toks) / toks.length : 0;
        }),
      ) / ids.length;
    assert.ok(close(weighted(lossWeights(groups, { lossType: "bnpo", microBatchOf }), terms), want));
  }
});

test("dr_grpo: sum over tokens / (sequences * max completion length)", () => {
  const rng = new Rng(4);
  for (let n = 0; n < 200; n++) {
    const { groups, terms } = randomBatch(rng);
    const seqs = terms.flat();
    const want = sum(seqs.flat()) / (seqs.length * 64);
    assert.ok(close(weighted(lossWeights(groups, { lossType: "dr_grpo", maxCompletionLength: 64 }), terms), want));
    // Default normaliser: the longest completion of the batch.
    const longest = Math.max(...seqs.map((s) => s.length));
    const wantLongest = longest > 0 ? sum(seqs.flat()) / (seqs.length * longest) : 0;
    assert.ok(close(weighted(lossWeights(groups, { lossType: "dr_grpo" }), terms), wantLongest));
  }
});

test("a PrefixTree is a WeightGroup; lambda needs lambdaSize", () => {
  const tree = buildPrefixTree([[1, 2, 3], [1, 2], [4]]);
  const [w] = lossWeights([tree], { lossType: "dapo", lambda: true });
  assert.deepEqual(w.map((x) => [...x].map((v) => Math.round(v * 6 * 100) / 100)), [[0.5, 0.5, 1], [0.5, 0.5], [1]]);
  assert.throws(() => lossWeights([{ lengths: [2] }], { lossType: "dapo", lambda: true }), /groups\[0\]\.lambdaSize/);
});

test("lossWeights rejects bad options with the field named", () => {
  const groups = [{ lengths: [3, 5] }];
  assert.throws(() => lossWeights(groups, { lossType: "mean" as never }), /lossType: expected one of grpo/);
  assert.throws(() => lossWeights(groups, { lossType: "dr_grpo", maxCompletionLength: 4 }), /maxCompletionLength/);
  assert.throws(() => lossWeights(groups, { lossType: "bnpo", microBatchOf: [0] }), /microBatchOf: expected 2/);
  assert.throws(() => lossWeights([{ lengths: [1.5] }], { lossType: "dapo" }), /groups\[0\]\.lengths\[0\]/);
  assert.deepEqual(lossWeights([], { lossType: "dapo" }), []);
  const bad = [{ lengths: [2, 1], lambdaSize: [[1, 1]] }];
  assert.throws(() => lossWeights(bad, { lossType: "dapo", lambda: true }), /lambdaSize: has 1 completions, lengths has 2/);
  const short = [{ lengths: [2], lambdaSize: [[1]] }];
  assert.throws(() => lossWeights(short, { lossType: "dapo", lambda: true }), /lambdaSize\[0\]: has 1 entries/);
  const zero = [{ lengths: [1], lambdaSize: [[0]] }];
  assert.throws(() => lossWeights(zero, { lossType: "dapo", lambda: true }), /lambdaSize\[0\]\[0\]: expected >= 1/);
});

test("lambda weights from a bare { lengths, lambdaSize } equal those from the PrefixTree", () => {
  const rng = new Rng(5);
  for (let n = 0; n < 100; n++) {
    const trees = Array.from({ length: 1 + rng.int(3) }, () =>
      buildPrefixTree(Array.from({ length: 1 + rng.int(8) }, () => Array.from({ length: rng.int(12) }, () => rng.int(2)))),
    );
    const bare = trees.map((t) => ({ lengths: Array.from(t.lengths), lambdaSize: t.lambdaSize.map((l) => Array.from(l)) }));
    for (const lossType of ["grpo", "dapo", "dr_grpo"] as const) {
      assert.deepEqual(lossWeights(bare, { lossType, lambda: true }), lossWeights(trees, { lossType, lambda: true }));
    }
  }
});
