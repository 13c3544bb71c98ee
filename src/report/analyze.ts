/**
 * The `analyze` report: one self-contained HTML file (uPlot and its CSS inlined from node_modules; no
 * network request of any kind), with the overall figures, a table per step, and line plots against step
 * (src/report/plots.ts) of path depth (mean, median), intermediate proportion (mean, median), the fraction of
 * flat trees, GRPO's weight on shared steps and the mean |lambda|. The summary is embedded as data too.
 */
import type { OverlapStepSummary, OverlapSummary } from "../prm/index.js";
import { asset, escapeHtml, inlineJson, inlineScript, inlineStyle } from "./assets.js";
import { linesLegend, overlapPlots, PLOT_CSS, plotFigure, plotsScript, type PlotSpec } from "./plots.js";
import { REPORT_CSS } from "./style.js";

/** What `analyze` computes and writes with --json. */
export interface AnalyzeSummary {
  /** The input's name as given on the command line. */
  input: string;
  /** The log format it was read as (src/io/formats), and what the log got wrong (uneven groups, ...). */
  format: string;
  notes: string[];
  overall: OverlapSummary;
  /** One entry per training step, ascending; empty when the input has no steps. */
  steps: OverlapStepSummary[];
}

function fixed(x: number, digits: number): string {
  return Number.isInteger(x) && digits <= 2 ? String(x) : x.toFixed(digits);
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** The rows shown for a summary, in display form (shared by the terminal table and the HTML tables). */
export function summaryCells(s: OverlapSummary): string[] {
  return [
    s.groups.toLocaleString("en-US"),
    s.completions.toLocaleString("en-US"),
    s.tokens.toLocaleString("en-US"),
    `${s.flatGroups} (${pct(s.flatFraction)})`,
    fixed(s.pathDepthMean, 2),
    fixed(s.pathDepthMedian, 1),
    s.intermediateProportionMean.toFixed(3),
    s.intermediateProportionMedian.toFixed(3),
    pct(s.sharedWeightShare),
    s.lambdaSizeMean.toFixed(2),
  ];
}

export const SUMMARY_HEADERS = [
  "groups",
  "completions",
  "tokens",
  "flat trees",
  "path depth mean",
  "path depth median",
  "intermediate proportion mean",
  "intermediate proportion median",
  "GRPO weight on shared steps",
  "token-weighted mean |lambda|",
];

function table(headers: string[], rows: string[][]): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Against step: the overlap plots the reasoning sweep's report draws too, and how much lambda changes the update. */
function stepPlots(steps: OverlapStepSummary[]): PlotSpec[] {
  const x = steps.map((s) => s.step);
  const col = (k: keyof OverlapStepSummary) => steps.map((s) => s[k]);
  const overlap = overlapPlots(
    x,
    {
      flatFraction: col("flatFraction"),
      pathDepthMean: col("pathDepthMean"),
      pathDepthMedian: col("pathDepthMedian"),
      intermediateProportionMean: col("intermediateProportionMean"),
      intermediateProportionMedian: col("intermediateProportionMedian"),
    },
    (k) => `plot-${k}`,
  );
  return [
    { ...overlap.depth, yFrom: 0 },
    overlap.proportion,
    overlap.flat,
    { id: "plot-shared", title: "GRPO weight on shared steps", xLabel: "step", yLabel: "share of token weight", yRange: [0, 1], x, lines: [{ label: "|lambda| > 1", colour: "#8c564b", width: 2, values: col("sharedWeightShare") }] },
    { id: "plot-lambda", title: "Token-weighted mean |lambda|", xLabel: "step", yLabel: "|lambda|", yFrom: 0, x, lines: [{ label: "mean |lambda|", colour: "#e377c2", width: 2, values: col("lambdaSizeMean") }] },
  ];
}

/** A longer per-step table starts folded, so the plots stay the first thing on the page. */
const COLLAPSE_STEPS = 30;

/** The whole report page. */
export function analyzeReportHtml(summary: AnalyzeSummary): string {
  const o = summary.overall;
  const hasSteps = summary.steps.length > 0;
  const stepRows = summary.steps.map((s) => [String(s.step), ...summaryCells(s)]);
  const specs = hasSteps ? stepPlots(summary.steps) : [];
  const plots = hasSteps
    ? `<h2>Against step</h2>
<div class="plots">${specs.map((p) => plotFigure(p, linesLegend(p))).join("\n")}</div>
<h2>Per step</h2>
${stepRows.length > COLLAPSE_STEPS
  ? `<details><summary>${stepRows.length} steps</summary>\n${table(["step", ...SUMMARY_HEADERS], stepRows)}\n</details>`
  : table(["step", ...SUMMARY_HEADERS], stepRows)}`
    : `<p class="note">The input has no steps: the figures above are for the whole file, and there is nothing to plot against step.</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lambda-grpo analyze: ${escapeHtml(summary.input)}</title>
${inlineStyle(asset("uplot/dist/uPlot.min.css"))}
${inlineStyle(REPORT_CSS + PLOT_CSS)}
</head>
<body>
<h1>Prefix overlap of rollout groups</h1>
<p class="sub">${escapeHtml(summary.input)}: ${o.groups.toLocaleString("en-US")} groups, ${o.completions.toLocaleString("en-US")} completions, ${o.tokens.toLocaleString("en-US")} tokens${hasSteps ? `, ${summary.steps.length} steps` : ""}</p>
<h2>Overall</h2>
${table(SUMMARY_HEADERS, [summaryCells(o)])}
<p class="note">Path depth: process steps (nodes of the group's prefix tree) from the root to a completion's leaf.
Intermediate proportion: the fraction of a completion's tokens that lie in a node shared with another completion (|&lambda;| &gt; 1).
A tree is flat when no two completions share even their first token; there the implicit PRM is just the outcome reward.
How much lambda changes the update: the share of GRPO's token weight (token-sum aggregation, every token alike) on tokens of shared steps, which lambda-GRPO divides by |&lambda;|,
and the token-weighted mean |&lambda;|, the factor by which GRPO weighs a typical token's step over lambda-GRPO.
Means and medians are over completions (an empty completion has no intermediate proportion).</p>
${plots}
${inlineJson("analyze-data", summary)}
${inlineScript(asset("uplot/dist/uPlot.iife.min.js"))}
${plotsScript("analyze-plots", specs)}
</body>
</html>
`;
}
