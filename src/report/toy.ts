/**
 * The toy sweep's report: one self-contained HTML file (uPlot and its CSS inlined from node_modules, no
 * network) with the table of target rates beside the paper's (and every seed's), and per cell the
 * target-rate curves of GRPO and lambda-GRPO: every seed thin, the mean over seeds thick, each a 10-step
 * moving average. Every seed is drawn because a cell's mean can hide two kinds of run (at n = 2, GRPO's
 * seeds either reach the target or never find it).
 */
import type { AlgorithmResult, ToyResults } from "../rl/toy.js";
import { asset, escapeHtml, inlineScript, inlineStyle } from "./assets.js";
import { movingAverage, pairLegend, pairPlot, PLOT_CSS, plotFigure, plotsScript, type PlotSpec, type SeedRun } from "./plots.js";

/** Smoothing window of the plotted curves, in steps (single steps of 16 samples are noisy). */
const SMOOTH = 10;

/** A cell's target rate against step, GRPO's and lambda-GRPO's: each seed and the mean, SMOOTH-step averages. */
function cellPlot(c: ToyResults["cells"][number], index: number): PlotSpec {
  const runs = (a: AlgorithmResult): SeedRun[] => a.curves.map((curve, i) => ({ seed: a.seeds[i], x: curve.map((_, s) => s + 1), y: movingAverage(curve, SMOOTH) }));
  return pairPlot({ id: `toy-cell-${index}`, title: `n = ${c.n}, r_neg = ${c.r_neg.toFixed(1)}`, xLabel: "step", yLabel: "target rate", yRange: [0, 1] }, { grpo: runs(c.grpo), lambda: runs(c.lambda) });
}

export function toyReportHtml(r: ToyResults): string {
  const specs = r.cells.map(cellPlot);
  const figures = r.cells
    .map((c, i) => {
      const caption = `last ${r.last_steps} steps: GRPO ${c.grpo.mean.toFixed(3)}, lambda-GRPO ${c.lambda.mean.toFixed(3)}`;
      return plotFigure(specs[i], pairLegend({ grpo: c.grpo.curves.length, lambda: c.lambda.curves.length }), caption);
    })
    .join("\n");
  const rows = r.cells
    .map((c) => {
      const f = (m: number, s: number) => `${m.toFixed(4)} &plusmn; ${s.toFixed(4)}`;
      const better = c.lambda.mean > c.grpo.mean ? "lambda" : c.lambda.mean < c.grpo.mean ? "grpo" : "";
      const seeds = (xs: number[]) => `<td class="seeds">${xs.map((x) => x.toFixed(2)).join(" ")}</td>`;
      return `<tr><td>${c.n}</td><td>${c.r_neg.toFixed(1)}</td><td class="${better === "grpo" ? "win" : ""}">${f(c.grpo.mean, c.grpo.std)}</td><td class="${better === "lambda" ? "win" : ""}">${f(c.lambda.mean, c.lambda.std)}</td>${seeds(c.grpo.runs)}${seeds(c.lambda.runs)}<td>${c.paper ? c.paper.grpo.toFixed(4) : "-"}</td><td>${c.paper ? c.paper.lambda.toFixed(4) : "-"}</td></tr>`;
    })
    .join("\n");
  const speedRows = r.cells
    .map((c) => {
      const f = (xs: (number | null)[]) => xs.map((x) => (x === null ? "&ndash;" : String(x))).join(" ");
      return `<tr><td>${c.n}</td><td>${c.r_neg.toFixed(1)}</td><td>${f(c.grpo.steps_to_half)}</td><td>${f(c.lambda.steps_to_half)}</td></tr>`;
    })
    .join("\n");
  const hp = Object.entries(r.hyperparameters)
    .map(([k, v]) => `${escapeHtml(k)} = ${escapeHtml(String(v))}`)
    .join(", ");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>lambda-grpo toy sweep (${escapeHtml(r.preset)})</title>
${inlineStyle(asset("uplot/dist/uPlot.min.css"))}
${inlineStyle(`body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
td.win{font-weight:bold}td.seeds{font-family:ui-monospace,monospace;font-size:12px;color:#444;white-space:nowrap}
figcaption{font-size:13px;margin-top:4px}.note{color:#555}`)}
${inlineStyle(PLOT_CSS)}
</head>
<body>
<h1>Toy sweep: GRPO vs lambda-GRPO</h1>
<p>Depth-4 binary tree of L/R moves, target leaf ${escapeHtml(r.target)} (+1), leaves sharing its first n moves
r_neg, all others 0.7 (Sullivan &amp; Koller, section 4). Model: ${escapeHtml(r.model)} (${escapeHtml(r.note)}).
Group size ${r.group_size}, ${r.steps} steps, seeds ${escapeHtml(r.seeds.join(", "))}; ${r.workers} worker threads,
${r.wall_seconds.toFixed(1)} s wall.</p>
<p class="note">Same settings for both algorithms and all cells: ${hp}.</p>
<h2>Target rate over the last ${r.last_steps} steps (mean &plusmn; std over seeds, and each seed)</h2>
<table>
<tr><th>n</th><th>r_neg</th><th>GRPO (ours)</th><th>lambda-GRPO (ours)</th><th>GRPO, per seed</th><th>lambda-GRPO, per seed</th><th>GRPO (paper)</th><th>lambda-GRPO (paper)</th></tr>
${rows}
</table>
<h2>Step at which the target rate (10-step average) first reaches 0.5, per seed (&ndash;: never)</h2>
<table>
<tr><th>n</th><th>r_neg</th><th>GRPO</th><th>lambda-GRPO</th></tr>
${speedRows}
</table>
<h2>Target rate per step (${SMOOTH}-step moving average): each seed thin, the mean over seeds thick; red GRPO, blue lambda-GRPO</h2>
<div id="plots" class="plots">${figures}</div>
${inlineScript(asset("uplot/dist/uPlot.iife.min.js"))}
${plotsScript("toy-plots", specs)}
</body>
</html>
`;
}
