/** One call for everything the implicit PRM says about one group (for the CLI, the viewer and users). */
import { groupAdvantages, perToken, type AdvantageOptions } from "./advantages.js";
import { intermediateProportions, isFlat, overlapSummary, pathDepths, type OverlapSummary } from "./metrics.js";
import { buildPrefixTree, type PrefixTree, type Tokens } from "./tree.js";

export interface GroupAnalysis {
  tree: PrefixTree;
  /** a_i per completion. */
  advantages: Float64Array;
  /** Per step id: R (mean reward of its members) and A. */
  stepRewards: Float64Array;
  stepAdvantages: Float64Array;
  /** Per completion, per token: R_it, A_it, |lambda(i,t)| (the last is `tree.lambdaSize`). */
  processRewards: Float64Array[];
  processAdvantages: Float64Array[];
  lambdaSize: Int32Array[];
  /** Per completion. */
  pathDepths: Int32Array;
  intermediateProportions: Float64Array;
  flat: boolean;
  /** The group's overlap figures (means and medians over its completions). */
  overlap: OverlapSummary;
}

export function analyzeGroup(
  completions: readonly Tokens[],
  rewards: ArrayLike<number>,
  opts: AdvantageOptions = {},
): GroupAnalysis {
  const tree = buildPrefixTree(completions);
  const { advantages, stepRewards, stepAdvantages } = groupAdvantages(tree, rewards, opts);
  return {
    tree,
    advantages,
    stepRewards,
    stepAdvantages,
    processRewards: perToken(tree, stepRewards),
    processAdvantages: perToken(tree, stepAdvantages),
    lambdaSize: tree.lambdaSize,
    pathDepths: pathDepths(tree),
    intermediateProportions: intermediateProportions(tree),
    flat: isFlat(tree),
    overlap: overlapSummary(tree),
  };
}
