/**
 * Outcome advantages a_i and the implicit PRM's process rewards R_it and advantages A_it (PAPER.md 1-2).
 *
 *   a_i  = (r_i  - mean(r)) / d        R_it = mean of r_j over j in lambda(i,t)
 *   A_it = (R_it - mean(r)) / d        d = std(r) + eps ("group"), batchStd + eps ("batch"), 1 ("none")
 *
 * A group of one, or a group whose rewards are all equal, has every a_i and A_it exactly 0 under every
 * scaling (there is no signal; computing it would leave float dust like 1e-13 instead of 0).
 */
import { UserError } from "../util/errors.js";
import { FILL_MIN } from "./span.js";
import type { PrefixTree } from "./tree.js";

/** How a group's centred rewards are scaled (TRL's `scale_rewards`). */
export type RewardScaling = "group" | "batch" | "none";

export const REWARD_SCALINGS: readonly RewardScaling[] = ["group", "batch", "none"];

/**
 * Added to the std before dividing, so a group with nearly equal rewards does not blow up. 1e-4 is the
 * value in the paper's training code and in TRL's GRPO trainer; the paper's worked example assumes it.
 */
export const DEFAULT_EPS = 1e-4;

export interface AdvantageOptions {
  /** "group" (default): the group's n-1 std; "batch": `batchStd`; "none": no division (Dr. GRPO). */
  scale?: RewardScaling;
  /** Added to the std ("group", "batch"); default DEFAULT_EPS. */
  eps?: number;
  /** The n-1 std of all rewards of the training step (required for scale "batch"; see `rewardStd`). */
  batchStd?: number;
}

/** Check rewards are finite numbers (and `expected` many when given); returns them as Float64Array. */
export function checkRewards(rewards: ArrayLike<number>, expected?: number): Float64Array {
  if (rewards === null || typeof rewards !== "object" || typeof rewards.length !== "number") {
    throw new UserError(`rewards: expected an array of numbers, got ${typeof rewards}`);
  }
  if (expected !== undefined && rewards.length !== expected) {
    throw new UserError(`rewards: expected ${expected} (one per completion), got ${rewards.length}`);
  }
  const out = new Float64Array(rewards.length);
  for (let i = 0; i < rewards.length; i++) {
    const r = rewards[i];
    if (typeof r !== "number" || !Number.isFinite(r)) {
      throw new UserError(`rewards[${i}]: expected a finite number, got ${String(r)}`);
    }
    out[i] = r;
  }
  return out;
}

/** Mean (0 when empty) and sample (n-1) std (0 for fewer than two values) of checked rewards. */
function meanAndStd(r: Float64Array): { mean: number; std: number } {
  const n = r.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += r[i];
  const mean = n > 0 ? sum / n : 0;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (r[i] - mean) * (r[i] - mean);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0 };
}

/** Sample (Bessel-corrected, n-1) standard deviation; 0 for fewer than two values. */
export function rewardStd(rewards: ArrayLike<number>): number {
  return meanAndStd(checkRewards(rewards)).std;
}

/** The centring and scaling of one group: a = (r - mean) / denom, or all 0 when `noSignal`. */
export interface GroupScale {
  mean: number;
  /** The n-1 std of the group's rewards. */
  std: number;
  denom: number;
  /** Fewer than two completions, or all rewards equal. */
  noSignal: boolean;
}

export function groupScale(rewards: ArrayLike<number>, opts: AdvantageOptions = {}): GroupScale {
  const r = checkRewards(rewards);
  const scale = opts.scale ?? "group";
  const eps = opts.eps ?? DEFAULT_EPS;
  if (!Number.isFinite(eps) || eps < 0) throw new UserError(`eps: expected a finite number >= 0, got ${eps}`);
  const n = r.length;
  const { mean, std } = meanAndStd(r);
  const allEqual = r.every((x) => x === r[0]);
  let denom: number;
  if (scale === "group") denom = std + eps;
  else if (scale === "batch") {
    const b = opts.batchStd;
    if (b === undefined) {
      throw new UserError(`batchStd: required with scale "batch" (the n-1 std of all rewards of the step)`);
    }
    if (!Number.isFinite(b) || b < 0) throw new UserError(`batchStd: expected a finite number >= 0, got ${b}`);
    denom = b + eps;
  } else if (scale === "none") denom = 1;
  else throw new UserError(`scale: expected "group", "batch" or "none", got ${JSON.stringify(scale)}`);
  const noSignal = n < 2 || allEqual;
  if (!noSignal && denom === 0) {
    throw new UserError(`eps: is 0 and the ${scale} std is 0, so the advantages would divide by 0`);
  }
  return { mean, std, denom, noSignal };
}

/** (x - mean) / denom for each value (a reward or a step's R); all 0 for a group without signal. */
function centreAndScale(values: Float64Array, g: GroupScale): Float64Array {
  const out = new Float64Array(values.length);
  if (g.noSignal) return out;
  for (let i = 0; i < values.length; i++) out[i] = (values[i] - g.mean) / g.denom;
  return out;
}

/** a_i per completion. */
export function outcomeAdvantages(rewards: ArrayLike<number>, opts: AdvantageOptions = {}): Float64Array {
  const r = checkRewards(rewards);
  return centreAndScale(r, groupScale(r, opts));
}

/** R per step: the mean reward of the step's members (summed in ascending member order). */
export function stepProcessRewards(tree: PrefixTree, rewards: ArrayLike<number>): Float64Array {
  const r = checkRewards(rewards, tree.leafOf.length);
  const out = new Float64Array(tree.steps.length);
  for (const s of tree.steps) {
    let sum = 0;
    for (const m of s.members) sum += r[m];
    out[s.id] = sum / s.members.length;
  }
  return out;
}

/** A per step: (R - group mean) / denom, 0 for a group without signal. */
export function stepProcessAdvantages(
  tree: PrefixTree,
  rewards: ArrayLike<number>,
  opts: AdvantageOptions = {},
): Float64Array {
  const r = checkRewards(rewards, tree.leafOf.length);
  return centreAndScale(stepProcessRewards(tree, r), groupScale(r, opts));
}

/** What the implicit PRM gives per completion and per step of one group. */
export interface GroupAdvantages {
  /** a_i per completion. */
  advantages: Float64Array;
  /** Per step id: R (mean reward of its members) and A. */
  stepRewards: Float64Array;
  stepAdvantages: Float64Array;
}

/**
 * `outcomeAdvantages`, `stepProcessRewards` and `stepProcessAdvantages` of one group in one call: the
 * rewards are checked, and the group's scale and R computed, once instead of once per function.
 */
export function groupAdvantages(tree: PrefixTree, rewards: ArrayLike<number>, opts: AdvantageOptions = {}): GroupAdvantages {
  const r = checkRewards(rewards, tree.leafOf.length);
  const g = groupScale(r, opts);
  const stepRewards = stepProcessRewards(tree, r);
  return { advantages: centreAndScale(r, g), stepRewards, stepAdvantages: centreAndScale(stepRewards, g) };
}

/**
 * Spread a per-step value over every token of every member: out[i][t] = perStep[stepOf[i][t]].
 * The per-completion arrays are views into one buffer.
 */
export function perToken(tree: PrefixTree, perStep: ArrayLike<number>): Float64Array[] {
  const k = tree.lengths.length;
  let total = 0;
  for (let i = 0; i < k; i++) total += tree.lengths[i];
  // Views into one buffer per call (one backing store, not one per completion).
  const buf = new Float64Array(total);
  const out: Float64Array[] = new Array(k);
  for (let i = 0, at = 0; i < k; at += tree.lengths[i], i++) out[i] = buf.subarray(at, at + tree.lengths[i]);
  for (const s of tree.steps) {
    if (s.length === 0) continue;
    const v = perStep[s.id];
    const end = s.start + s.length;
    if (s.length < FILL_MIN) {
      for (const m of s.members) {
        const o = out[m];
        for (let t = s.start; t < end; t++) o[t] = v;
      }
    } else for (const m of s.members) out[m].fill(v, s.start, end);
  }
  return out;
}

/** R_it per completion per token (the Monte-Carlo value estimate of the implicit PRM). */
export function processRewards(tree: PrefixTree, rewards: ArrayLike<number>): Float64Array[] {
  return perToken(tree, stepProcessRewards(tree, rewards));
}

/** A_it per completion per token, with the group's mean and the same denominator as `outcomeAdvantages`. */
export function processAdvantages(
  tree: PrefixTree,
  rewards: ArrayLike<number>,
  opts: AdvantageOptions = {},
): Float64Array[] {
  return perToken(tree, stepProcessAdvantages(tree, rewards, opts));
}
