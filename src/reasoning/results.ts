/**
 * The shape of `lambda-grpo reasoning`'s results.json (issue 10): the contract between the sweep that
 * writes it (src/reasoning/experiment.ts) and what reads it (src/report/reasoning.ts: the terminal table and
 * report.html). The issue fixes `preset`, `benchmarks`, `rows` (name, accuracy per benchmark as mean, std,
 * runs), `overlap` (group_size, flat_fraction, the per-step means and entropy) and `wall_seconds`; the other
 * fields are ours.
 */

/** Table rows, in the order: the SFT base, then each algorithm at each KL coefficient. */
export const RESULT_ROWS = ["base", "grpo_beta0", "lambda_beta0", "grpo_beta0.04", "lambda_beta0.04"] as const;
export type ResultRowName = (typeof RESULT_ROWS)[number];

/** What the paper reports for its downstream runs (PAPER.md sections 2 and 5), printed beside ours. */
export const PAPER_SUMMARY = {
  /** lambda-GRPO beats GRPO in 15 of 20 cells (2 models x 2 betas x 5 benchmarks) */
  wins: 15,
  cells: 20,
  /** lambda-GRPO improves over the untuned base in 14 of those 20 cells */
  overBase: 14,
  /** share of non-flat prefix trees during training: group size 6, 12 flat of 6,700; group size 36, 0 of 1,100 */
  nonFlat: [
    { group_size: 6, fraction: 1 - 12 / 6700, trees: 6700 },
    { group_size: 36, fraction: 1, trees: 1100 },
  ],
  /** both overlap metrics rise as training converges; at group size 36, read off the paper's figure (approximate) */
  trend: { group_size: 36, path_depth_mean: { first: 3, last: 11 }, intermediate_proportion_last: { mean: 0.8, median: 0.95 } },
} as const;

/** One figure over runs (seeds): `runs` in seed order; `std` is the sample standard deviation (n - 1), 0 for one run. */
export interface Stat {
  mean: number;
  std: number;
  runs: number[];
}

export interface ResultRow {
  name: ResultRowName;
  /** greedy pass@1 per benchmark */
  accuracy: Record<string, Stat>;
  /** per run the mean over the benchmarks, then mean and std over runs */
  mean: Stat;
}

/** One training run's curves (metrics.jsonl), for report.html's accuracy-against-step plot. */
export interface Curve {
  row: Exclude<ResultRowName, "base">;
  seed: number;
  step: number[];
  reward_mean: number[];
  entropy: number[];
  /** greedy accuracy on the validation split during training (the steps it was measured at) */
  validation: { step: number[]; accuracy: number[] };
}

/** Pearson correlation over steps between a metric and the policy's entropy; null when undefined (constant series). */
export interface OverlapCorrelations {
  path_depth_mean: number | null;
  path_depth_median: number | null;
  intermediate_proportion_mean: number | null;
  intermediate_proportion_median: number | null;
}

/** The overlap study: one training run per group size; per-step figures over that step's groups. */
export interface OverlapResult {
  group_size: number;
  /** the run it comes from */
  algorithm: "grpo" | "lambda";
  beta: number;
  seed: number;
  /** share of flat trees over all groups of the run */
  flat_fraction: number;
  groups: number;
  step: number[];
  flat_fraction_per_step: number[];
  path_depth_mean: number[];
  path_depth_median: number[];
  intermediate_proportion_mean: number[];
  intermediate_proportion_median: number[];
  entropy: number[];
  correlation_with_entropy: OverlapCorrelations;
}

/** The learning rate's choice (once, for both algorithms, on validation): each candidate's score and the pick. */
export interface Tuning {
  seed: number;
  candidates: { learning_rate: number; score: number }[];
  chosen: number;
}

/** How the base was taken: each SFT round's greedy validation accuracy and the step chosen. */
export interface BaseSelection {
  target: number;
  rounds: { step: number; validation_accuracy: number }[];
  chosen: number | null;
}

export interface ReasoningResults {
  preset: string;
  /** the five held-out sets, in table order */
  benchmarks: string[];
  rows: ResultRow[];
  /** cells (beta x benchmark) where lambda-GRPO's mean is above GRPO's at the same beta; ties counted apart */
  wins: { lambda: number; grpo: number; ties: number; cells: number };
  paper: typeof PAPER_SUMMARY;
  curves: Curve[];
  overlap: OverlapResult[];
  tuning: Tuning;
  base: BaseSelection;
  /** the settings every run shared (the preset, resolved), for the report's footer */
  settings: Record<string, unknown>;
  wall_seconds: number;
}
