// 10^4 random groups against the definitions: |lambda(i,t)| = #{ j : y_j[0..t] == y_i[0..t] }, a step is a
// maximal run of tokens shared by exactly the same set of trajectories, R_it = mean reward over lambda(i,t).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/util/rng.js";
import {
  buildPrefixTree,
  intermediateProportions,
  isFlat,
  pathDepths,
  processRewards,
  type PrefixTree,
} from "../../src/prm/index.js";

/** Group sizes 1..40, lengths 0..30, small vocabularies so prefixes collide; copies, prefixes, extensions. */
function randomGroup(rng: Rng): number[][] {
  const k = 1 + rng.int(40);
  // Mostly 2-4 token ids; one group in four has 12-31, so a split can have more than 8 branches.
  const vocab = rng.int(4) === 0 ? 12 + rng.int(20) : 2 + rng.int(3);
  const group: number[][] = [];
  for (let i = 0; i < k; i++) {
    const kind = i === 0 ? 0 : rng.int(5);
    const base = group[rng.int(Math.max(1, group.length))] ?? [];
    let y: number[];
    if (kind === 1) y = base.slice();
    else if (kind === 2) y = base.slice(0, rng.int(base.length + 1));
    else {
      y = kind === 3 ? base.slice(0, rng.int(base.length + 1)) : [];
      const len = rng.int(31);
      while (y.length < len) y.push(rng.int(vocab));
    }
    group.push(y);
  }
  return group;
}

/** Common-prefix lengths c[i][j]; c[i][i] = |y_i|. */
function commonPrefix(ys: number[][]): Int32Array[] {
  const c = ys.map(() => new Int32Array(ys.length));
  for (let i = 0; i < ys.length; i++) {
    const a = ys[i];
    c[i][i] = a.length;
    for (let j = i + 1; j < ys.length; j++) {
      const b = ys[j];
      let t = 0;
      while (t < a.length && t < b.length && a[t] === b[t]) t++;
      c[i][j] = c[j][i] = t;
    }
  }
  return c;
}

function checkTree(ys: number[][], rewards: number[], tree: PrefixTree): void {
  const k = ys.length;
  const c = commonPrefix(ys);
  // lamOf[i][t] = #{ j : c[i][j] > t }, by counting the c[i][j] then summing from the top.
  const lamOf = ys.map((y, i) => {
    const cnt = new Int32Array(y.length + 2);
    for (const cij of c[i]) cnt[cij]++;
    const out = new Int32Array(y.length);
    let above = cnt[y.length];
    for (let t = y.length - 1; t >= 0; t--) {
      out[t] = above;
      above += cnt[t];
    }
    return out;
  });
  const lam = (i: number, t: number) => lamOf[i][t];
  const { steps, stepOf, lambdaSize, leafOf } = tree;

  for (let i = 0; i < k; i++) {
    assert.equal(tree.lengths[i], ys[i].length);
    assert.equal(stepOf[i].length, ys[i].length);
    for (let t = 0; t < ys[i].length; t++) {
      if (lambdaSize[i][t] !== lam(i, t)) assert.equal(lambdaSize[i][t], lam(i, t), `|lambda(${i},${t})|`);
      // Same step along a trajectory iff the set of trajectories through it is unchanged.
      if (t + 1 < ys[i].length) assert.equal(stepOf[i][t] === stepOf[i][t + 1], lam(i, t) === lam(i, t + 1));
    }
  }

  // Same step across trajectories iff they share the prefix up to t.
  for (let i = 0; i < k; i++) {
    const si = stepOf[i];
    for (let j = i + 1; j < k; j++) {
      const sj = stepOf[j];
      const cij = c[i][j];
      const m = Math.min(si.length, sj.length);
      for (let t = 0; t < m; t++) {
        if ((si[t] === sj[t]) !== t < cij) assert.fail(`(${i},${t}), (${j},${t}): same step iff same prefix`);
      }
    }
  }

  // Every token in exactly one step, and stepOf agrees with the spans.
  const covered = ys.map((y) => new Int32Array(y.length));
  const roots: number[] = [];
  for (let id = 0; id < steps.length; id++) {
    const s = steps[id];
    if (s.id !== id) assert.fail(`steps[${id}].id is ${s.id}`);
    assert.ok(s.members.length > 0);
    for (let m = 1; m < s.members.length; m++) assert.ok(s.members[m - 1] < s.members[m], "members ascending");
    for (const m of s.members) {
      for (let t = s.start; t < s.start + s.length; t++) {
        covered[m][t]++;
        if (stepOf[m][t] !== s.id) assert.fail(`stepOf[${m}][${t}] is not ${s.id}`);
        if (ys[m][t] !== ys[s.members[0]][t]) assert.fail("members agree on the span's tokens");
      }
      assert.ok(ys[m].length >= s.start + s.length);
    }
    if (s.parent < 0) {
      roots.push(s.id);
      assert.equal(s.depth, 1);
      assert.equal(s.start, 0);
    } else {
      const p = steps[s.parent];
      assert.ok(s.parent < s.id, "preorder ids");
      assert.ok(p.children.includes(s.id));
      assert.equal(s.depth, p.depth + 1);
      assert.equal(s.start, p.start + p.length, "spans contiguous");
      const inParent = new Uint8Array(k);
      for (const m of p.members) inParent[m] = 1;
      assert.ok(s.members.every((m) => inParent[m] === 1), "child members within parent's");
      assert.ok(s.members.length < p.members.length, "maximal: a child never has its parent's members");
    }
    if (s.children.length > 0) {
      const kids = s.children.map((id) => steps[id]);
      for (const ch of kids) assert.equal(ch.parent, s.id);
      const seen = new Int32Array(k);
      let count = 0;
      for (const ch of kids) {
        for (const m of ch.members) seen[m]++;
        count += ch.members.length;
      }
      if (count !== s.members.length || s.members.some((m) => seen[m] !== 1)) {
        assert.fail(`children of step ${id} do not partition its members`);
      }
      for (let j = 1; j < kids.length; j++) assert.ok(kids[j - 1].members[0] < kids[j].members[0]);
    }
    if (s.length === 0) {
      // End step: its members stop where a sibling goes on.
      assert.equal(s.children.length, 0);
      assert.ok(s.parent >= 0);
      assert.ok(steps[s.parent].children.length >= 2);
      for (const m of s.members) assert.equal(ys[m].length, s.start);
    } else {
      // Maximal: at the end of the span, someone stops or the tokens differ.
      const end = s.start + s.length;
      const first = ys[s.members[0]];
      const goesOn = s.members.every((m) => ys[m].length > end && ys[m][end] === first[end]);
      assert.ok(!goesOn, "maximal run");
    }
  }
  assert.deepEqual(tree.roots, roots);
  for (let i = 0; i < k; i++) {
    for (const n of covered[i]) if (n !== 1) assert.fail("every token in exactly one step");
  }

  // Leaves: the step where a trajectory ends, holding exactly the trajectories identical to it.
  const depth = pathDepths(tree);
  const prop = intermediateProportions(tree);
  for (let i = 0; i < k; i++) {
    const n = ys[i].length;
    if (n === 0) {
      assert.equal(leafOf[i], -1);
      assert.equal(depth[i], 0);
      assert.equal(prop[i], 0);
      continue;
    }
    const leaf = steps[leafOf[i]];
    assert.equal(leaf.start + leaf.length, n);
    assert.equal(leaf.children.length, 0);
    const same = ys.map((_, j) => j).filter((j) => c[i][j] === n && ys[j].length === n);
    assert.deepEqual(leaf.members, same);
    // Path depth from the definition: one step per change of the set through it, plus an end step when
    // the trajectory stops inside another's path.
    let changes = 1;
    for (let t = 1; t < n; t++) if (lam(i, t) !== lam(i, t - 1)) changes++;
    const endsInside = c[i].some((cij, j) => cij === n && ys[j].length > n);
    assert.equal(depth[i], changes + (endsInside ? 1 : 0));
    let shared = 0;
    for (let t = 0; t < n; t++) if (lam(i, t) > 1) shared++;
    assert.ok(Math.abs(prop[i] - shared / n) < 1e-15);
  }

  const flat = c.every((row, i) => row.every((cij, j) => i === j || cij === 0));
  assert.equal(isFlat(tree), flat);

  const R = processRewards(tree, rewards);
  for (let i = 0; i < k; i++) {
    // sumAbove = sum of r_j over { j : c[i][j] > t }, from the top down.
    const n = ys[i].length;
    const byC = new Float64Array(n + 1);
    for (let j = 0; j < k; j++) byC[c[i][j]] += rewards[j];
    let sumAbove = byC[n];
    for (let t = n - 1; t >= 0; t--) {
      const want = sumAbove / lam(i, t);
      if (!(Math.abs(R[i][t] - want) < 1e-12)) assert.fail(`R(${i},${t}) is ${R[i][t]}, not ${want}`);
      sumAbove += byC[t];
    }
  }
}

test("10^4 random groups: lambda sizes, steps, leaves, depths, proportions and R match the definitions", () => {
  const rng = new Rng(20260921);
  let tokens = 0;
  let wideSplits = 0;
  for (let n = 0; n < 10_000; n++) {
    const ys = randomGroup(rng);
    const rewards = ys.map(() => rng.int(3) / 2);
    // Half the groups as Int32Array, half as number[]: both are accepted.
    const input = n % 2 === 0 ? ys : ys.map((y) => Int32Array.from(y));
    const tree = buildPrefixTree(input);
    checkTree(ys, rewards, tree);
    tokens += ys.reduce((s, y) => s + y.length, 0);
    wideSplits += tree.roots.length > 8 ? 1 : 0;
    for (const st of tree.steps) wideSplits += st.children.length > 8 ? 1 : 0;
  }
  assert.ok(tokens > 1_000_000);
  assert.ok(wideSplits > 100, "some splits have more than 8 branches");
});
