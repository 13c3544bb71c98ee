/**
 * Throughput of the paper's core on one core: prefix tree + outcome and process advantages + lambda-GRPO loss
 * weights + overlap metrics, for group sizes 6, 16, 36 and completion lengths 512..4096 with realistic sharing.
 *
 * Run: npm run bench:prm   (or: node --import tsx bench/prm.ts [--quick])
 *
 * The machine is noisy, so every figure is printed beside an anchor measured in the same run on the same
 * groups: one pass summing every token id (the cheapest thing that touches each token). "x anchor" is the
 * median over repetitions of the pipeline's time over the anchor's, timed back to back; flat across lengths
 * means cost linear in tokens (it falls with length where a fixed cost per group still shows).
 */
import { Rng } from "../src/util/rng.js";
import { makeGroup, VOCAB } from "./workload.js";
import {
  buildPrefixTree,
  lossWeights,
  outcomeAdvantages,
  OverlapStats,
  processAdvantages,
  type PrefixTree,
} from "../src/prm/index.js";

const GROUP_SIZES = [6, 16, 36];
const LENGTHS = [512, 1024, 2048, 4096];
/** Prompts per training step (the paper's code uses 4): lossWeights sees this many groups at once. */
const GROUPS_PER_BATCH = 4;

const quick = process.argv.includes("--quick");
/** Tokens generated per configuration; each is timed over several repetitions, best kept. */
const TOKENS_PER_CONFIG = quick ? 400_000 : 2_000_000;
const REPS = quick ? 3 : 9;

interface Workload {
  groups: Int32Array[][];
  rewards: number[][];
  tokens: number;
}

function makeWorkload(seed: number, k: number, L: number): Workload {
  const rng = new Rng(seed);
  const w: Workload = { groups: [], rewards: [], tokens: 0 };
  while (w.tokens < TOKENS_PER_CONFIG || w.groups.length % GROUPS_PER_BATCH !== 0) {
    const g = makeGroup(rng, k, L);
    w.groups.push(g);
    w.rewards.push(g.map(() => (rng.next() < 0.4 ? 1 : 0)));
    for (const y of g) w.tokens += y.length;
  }
  return w;
}

/**
 * An adversarial shape for the tree build: two identical completions of L tokens, and k - 2 short ones that
 * leave their path one level deeper each (one token of their own, then stop). A scan that compared the long
 * pair once per level would cost k * L for 2L + k^2/2 tokens.
 */
function makeComb(k: number, L: number): Workload {
  const spine = Int32Array.from({ length: L }, (_, t) => (t * 7919) % VOCAB);
  const g = [spine.slice(), spine.slice()];
  for (let j = 2; j < k; j++) {
    const y = spine.slice(0, j);
    y[j - 1] = VOCAB + j;
    g.push(y);
  }
  const w: Workload = { groups: [], rewards: [], tokens: 0 };
  while (w.tokens < TOKENS_PER_CONFIG || w.groups.length % GROUPS_PER_BATCH !== 0) {
    w.groups.push(g);
    w.rewards.push(g.map((_, i) => i % 2));
    for (const y of g) w.tokens += y.length;
  }
  return w;
}

let sink = 0;

function anchor(w: Workload): void {
  let s = 0;
  for (const g of w.groups) {
    for (const y of g) for (let t = 0; t < y.length; t++) s += y[t];
  }
  sink += s;
}

interface StageTimes {
  tree: number;
  advantages: number;
  weights: number;
  metrics: number;
}

function pipeline(w: Workload, times: StageTimes): void {
  const stats = new OverlapStats();
  for (let b = 0; b < w.groups.length; b += GROUPS_PER_BATCH) {
    let t0 = performance.now();
    const trees: PrefixTree[] = [];
    for (let g = b; g < b + GROUPS_PER_BATCH; g++) trees.push(buildPrefixTree(w.groups[g]));
    let t1 = performance.now();
    times.tree += t1 - t0;
    t0 = t1;
    for (let g = b; g < b + GROUPS_PER_BATCH; g++) {
      sink += outcomeAdvantages(w.rewards[g])[0];
      sink += processAdvantages(trees[g - b], w.rewards[g])[0][0];
    }
    t1 = performance.now();
    times.advantages += t1 - t0;
    t0 = t1;
    sink += lossWeights(trees, { lossType: "dapo", lambda: true })[0][0][0];
    t1 = performance.now();
    times.weights += t1 - t0;
    t0 = t1;
    for (const tree of trees) stats.add(b, tree);
    t1 = performance.now();
    times.metrics += t1 - t0;
  }
  sink += stats.summary().overall.pathDepthMean;
}

/**
 * Timed alternately so both see the same moments of a noisy machine: the best time of each, and the median
 * over repetitions of the ratio of the pair timed back to back.
 */
function timeAgainstAnchor(a: () => void, b: () => void): { bestA: number; bestB: number; ratio: number } {
  let bestA = Infinity;
  let bestB = Infinity;
  const ratios: number[] = [];
  for (let r = 0; r < REPS; r++) {
    let t0 = performance.now();
    a();
    const ta = performance.now() - t0;
    t0 = performance.now();
    b();
    const tb = performance.now() - t0;
    bestA = Math.min(bestA, ta);
    bestB = Math.min(bestB, tb);
    ratios.push(ta / tb);
  }
  ratios.sort((x, y) => x - y);
  return { bestA, bestB, ratio: ratios[ratios.length >> 1] };
}

const fmt = (tokPerMs: number) => `${(tokPerMs / 1000).toFixed(1)}M`.padStart(7);

/** Time one configuration and print its row; returns tokens/ms of the pipeline. */
function row(label: string, w: Workload): number {
  // Warm up both so the JIT has seen them, then time alternately.
  anchor(w);
  pipeline(w, { tree: 0, advantages: 0, weights: 0, metrics: 0 });
  const times: StageTimes = { tree: 0, advantages: 0, weights: 0, metrics: 0 };
  const { bestA: tPipe, bestB: tAnchor, ratio } = timeAgainstAnchor(
    () => pipeline(w, times),
    () => anchor(w),
  );
  const total = times.tree + times.advantages + times.weights + times.metrics;
  const share = (x: number) => `${Math.round((100 * x) / total)}%`.padStart(5);
  console.log(
    `${label}  ${fmt(w.tokens / tPipe)}      ${fmt(w.tokens / tAnchor)}     ${ratio.toFixed(1).padStart(5)} |` +
      ` ${share(times.tree)} ${share(times.advantages)}    ${share(times.weights)}    ${share(times.metrics)}`,
  );
  return w.tokens / tPipe;
}

function main(): void {
  console.log(`prm pipeline (tree + advantages + lambda weights + overlap metrics), one core, best of ${REPS}`);
  console.log(`node ${process.version}; ~${(TOKENS_PER_CONFIG / 1e6).toFixed(1)}M tokens per configuration\n`);
  const head = "tokens/s  anchor tok/s  x anchor |  tree   adv  weights  metrics (share of time)";
  console.log(`group  length   ${head}`);
  const rates: number[] = [];
  for (const k of GROUP_SIZES) {
    for (const L of LENGTHS) {
      rates.push(row(`${String(k).padStart(5)}  ${String(L).padStart(6)}`, makeWorkload(1000 * k + L, k, L)));
    }
  }
  rates.sort((a, b) => a - b);
  console.log(`\nslowest configuration: ${fmt(rates[0])} tokens/s (target >= 20M)`);
  console.log(`\nadversarial shape (makeComb: a long identical pair under k - 2 one-token branches)`);
  console.log(`group  length   ${head}`);
  for (const [k, L] of [
    [36, 4096],
    [1000, 100_000],
  ]) {
    row(`${String(k).padStart(5)}  ${String(L).padStart(6)}`, makeComb(k, L));
  }
  if (sink === 42) console.log("");
}

main();
