/**
 * Prefix-overlap metrics of B(G) (PAPER.md section 2), per group and pooled over a run's steps.
 *
 * - path depth of a completion: the number of steps from the root to its leaf (an end step counts, see
 *   tree.ts; an empty completion has depth 0);
 * - intermediate proportion of a completion: the fraction of its tokens in a shared step (|lambda| > 1).
 *   An empty completion has none (0/0): `intermediateProportions` gives it 0, and the means and medians
 *   below leave it out;
 * - flat: no two trajectories share even their first token (every step has one member). An empty group is
 *   flat (vacuously).
 * Means and medians pool completions (not per-group means); with equal group sizes the means agree.
 *
 * How much lambda changes the update: GRPO gives every token of the batch the same weight under the
 * token-sum aggregations (dapo's 1/T; dr_grpo and one-micro-batch bnpo are uniform too), and lambda-GRPO
 * divides a token's weight by its |lambda|. Two figures say how far apart the two updates are:
 * - shared weight share: the share of GRPO's token weight on tokens of shared steps (|lambda| > 1), i.e. the
 *   weight lambda-GRPO scales down;
 * - token-weighted mean |lambda|: sum over tokens of |lambda(i,t)| / T, the factor by which GRPO weighs a
 *   typical token's process step over lambda-GRPO.
 * Both pool the tokens of all groups (the batch's 1/T), not per-group means. (Under grpo's per-sequence
 * mean the weights are 1/|y_i| per completion instead; these figures use the token-sum weights.)
 */
import { UserError } from "../util/errors.js";
import type { PrefixTree } from "./tree.js";

export function isFlat(tree: PrefixTree): boolean {
  for (const s of tree.steps) if (s.members.length > 1) return false;
  return true;
}

/** Per completion: number of steps from the root to its leaf (0 for an empty completion). */
export function pathDepths(tree: PrefixTree): Int32Array {
  const out = new Int32Array(tree.leafOf.length);
  for (let i = 0; i < out.length; i++) {
    const leaf = tree.leafOf[i];
    out[i] = leaf < 0 ? 0 : tree.steps[leaf].depth;
  }
  return out;
}

/** Per completion: tokens in steps with |lambda| > 1 over its tokens (0 for an empty completion). */
export function intermediateProportions(tree: PrefixTree): Float64Array {
  const shared = new Float64Array(tree.leafOf.length);
  for (const s of tree.steps) {
    if (s.members.length > 1) for (const m of s.members) shared[m] += s.length;
  }
  for (let i = 0; i < shared.length; i++) shared[i] = tree.lengths[i] > 0 ? shared[i] / tree.lengths[i] : 0;
  return shared;
}

/** Token-weighted lambda figures of a tree: sums over its tokens (one per completion through each step). */
export interface LambdaWeightSums {
  /** Tokens, counted once per completion: the total GRPO token weight at weight 1 per token. */
  tokens: number;
  /** Of them, tokens in steps with |lambda| > 1. */
  sharedTokens: number;
  /** Sum over tokens of |lambda(i,t)|. */
  lambdaSum: number;
}

/** The sums of one tree, one pass over its steps (a step of length L and m members is L*m tokens). */
export function lambdaWeightSums(tree: PrefixTree): LambdaWeightSums {
  let tokens = 0;
  let sharedTokens = 0;
  let lambdaSum = 0;
  for (const s of tree.steps) {
    const m = s.members.length;
    const n = s.length * m;
    tokens += n;
    if (m > 1) sharedTokens += n;
    lambdaSum += n * m;
  }
  return { tokens, sharedTokens, lambdaSum };
}

/** Overlap figures of a set of groups (one group, one training step, or a whole run). */
export interface OverlapSummary {
  groups: number;
  completions: number;
  tokens: number;
  flatGroups: number;
  /** flatGroups / groups. */
  flatFraction: number;
  pathDepthMean: number;
  pathDepthMedian: number;
  /** Over non-empty completions; 0 when there are none. */
  intermediateProportionMean: number;
  intermediateProportionMedian: number;
  /** Share of GRPO's (token-sum) weight on tokens of shared steps (|lambda| > 1); 0 with no tokens. */
  sharedWeightShare: number;
  /** Token-weighted mean |lambda| (sum of |lambda| over tokens / tokens); 0 with no tokens. */
  lambdaSizeMean: number;
}

export interface OverlapStepSummary extends OverlapSummary {
  /** The training step the groups came from. */
  step: number;
}

/** Grows by doubling; the values of one pool (no per-value objects). */
class Pool {
  data = new Float64Array(64);
  n = 0;
  push(v: number): void {
    if (this.n === this.data.length) {
      const d = new Float64Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.n++] = v;
  }
  mean(): number {
    let s = 0;
    for (let i = 0; i < this.n; i++) s += this.data[i];
    return this.n > 0 ? s / this.n : 0;
  }
  median(): number {
    if (this.n === 0) return 0;
    const v = this.data.slice(0, this.n).sort();
    const h = this.n >> 1;
    return this.n % 2 === 1 ? v[h] : (v[h - 1] + v[h]) / 2;
  }
}

class Acc {
  groups = 0;
  completions = 0;
  tokens = 0;
  flatGroups = 0;
  depth = new Pool();
  proportion = new Pool();
  sharedTokens = 0;
  lambdaSum = 0;

  add(tree: PrefixTree, depths: Int32Array, props: Float64Array, flat: boolean, sums: LambdaWeightSums): void {
    this.groups++;
    this.sharedTokens += sums.sharedTokens;
    this.lambdaSum += sums.lambdaSum;
    if (flat) this.flatGroups++;
    for (let i = 0; i < depths.length; i++) {
      this.completions++;
      this.tokens += tree.lengths[i];
      this.depth.push(depths[i]);
      if (tree.lengths[i] > 0) this.proportion.push(props[i]);
    }
  }

  summary(): OverlapSummary {
    return {
      groups: this.groups,
      completions: this.completions,
      tokens: this.tokens,
      flatGroups: this.flatGroups,
      flatFraction: this.groups > 0 ? this.flatGroups / this.groups : 0,
      pathDepthMean: this.depth.mean(),
      pathDepthMedian: this.depth.median(),
      intermediateProportionMean: this.proportion.mean(),
      intermediateProportionMedian: this.proportion.median(),
      sharedWeightShare: this.tokens > 0 ? this.sharedTokens / this.tokens : 0,
      lambdaSizeMean: this.tokens > 0 ? this.lambdaSum / this.tokens : 0,
    };
  }
}

/** The overlap figures of one group. */
export function overlapSummary(tree: PrefixTree): OverlapSummary {
  const acc = new Acc();
  acc.add(tree, pathDepths(tree), intermediateProportions(tree), isFlat(tree), lambdaWeightSums(tree));
  return acc.summary();
}

/**
 * Overlap figures accumulated group by group, overall and per training step (e.g. for metrics.jsonl's
 * `path_depth_mean`, `intermediate_proportion_mean`, `flat_fraction`). Memory: one number per completion.
 */
export class OverlapStats {
  private all = new Acc();
  private bySteps = new Map<number, Acc>();

  /** Add one group; `step` is its training step, or null when there is none (it then counts overall only). */
  add(step: number | null, tree: PrefixTree): void {
    if (tree.leafOf.length === 0) {
      throw new UserError(`OverlapStats.add: a group with no completions has no overlap to measure`);
    }
    if (step !== null && !Number.isFinite(step)) {
      throw new UserError(`OverlapStats.add: step: expected a number or null, got ${step}`);
    }
    const depths = pathDepths(tree);
    const props = intermediateProportions(tree);
    const flat = isFlat(tree);
    const sums = lambdaWeightSums(tree);
    this.all.add(tree, depths, props, flat, sums);
    if (step !== null) {
      let acc = this.bySteps.get(step);
      if (acc === undefined) {
        acc = new Acc();
        this.bySteps.set(step, acc);
      }
      acc.add(tree, depths, props, flat, sums);
    }
  }

  /** Overall figures and one entry per training step, steps ascending. */
  summary(): { overall: OverlapSummary; steps: OverlapStepSummary[] } {
    const steps = [...this.bySteps.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([step, acc]) => ({ step, ...acc.summary() }));
    return { overall: this.all.summary(), steps };
  }

  /** The figures of one training step, or null when no group of it was added. */
  stepSummary(step: number): OverlapStepSummary | null {
    const acc = this.bySteps.get(step);
    return acc === undefined ? null : { step, ...acc.summary() };
  }
}
