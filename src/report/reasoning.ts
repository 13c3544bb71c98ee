/**
 * The reasoning sweep's report (issue 10), from its results.json (src/reasoning/results.ts): the table that
 * `lambda-grpo reasoning` prints (held-out accuracy per row and benchmark, lambda-GRPO's wins over GRPO, the
 * overlap study) beside the paper's figures, and report.html: the same table with the better of each
 * GRPO / lambda-GRPO pair marked, validation accuracy and reward against step (each seed faint, the mean over
 * seeds strong), and per group size the overlap metrics and entropy against step with their correlations.
 * Self-contained: uPlot inlined, no network.
 */
import {
  PAPER_SUMMARY,
  RESULT_ROWS,
  type Curve,
  type OverlapCorrelations,
  type OverlapResult,
  type ReasoningResults,
  type ResultRow,
  type ResultRowName,
  type Stat,
} from "../reasoning/results.js";
import { asset, escapeHtml, inlineScript, inlineStyle } from "./assets.js";
import { linesLegend, movingAverage, overlapPlots, pairLegend, pairPlot, plotFigure, PLOT_CSS, plotsScript, type SeedRun, type PlotSpec } from "./plots.js";
import { REPORT_CSS } from "./style.js";

export const ROW_LABELS: Record<ResultRowName, string> = {
  base: "base",
  grpo_beta0: "GRPO beta 0",
  lambda_beta0: "lambda-GRPO beta 0",
  "grpo_beta0.04": "GRPO beta 0.04",
  "lambda_beta0.04": "lambda-GRPO beta 0.04",
};

/** The GRPO / lambda-GRPO pairs compared cell by cell, one per KL coefficient. */
const PAIRS = [
  { beta: "0", grpo: "grpo_beta0", lambda: "lambda_beta0" },
  { beta: "0.04", grpo: "grpo_beta0.04", lambda: "lambda_beta0.04" },
] as const;

/**
 * Training curves are drawn as a moving average over this many steps, and the overlap study's "first" and
 * "last" figures are means over this many steps: a single step's figure is over a few groups only (4 prompts
 * a step by default), too noisy to read alone.
 */
const SMOOTH = 5;

/** The rows present, in the issue's order. */
function presentRows(r: ReasoningResults): ResultRow[] {
  return RESULT_ROWS.map((name) => r.rows.find((row) => row.name === name)).filter((row): row is ResultRow => row !== undefined);
}

function fixed(x: number | null | undefined, digits: number): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits);
}

function signed(r: number | null): string {
  return r === null ? "n/a (constant series)" : `${r >= 0 ? "+" : ""}${r.toFixed(2)}`;
}

/** `23.4 +- 1.2 (3)`: fractions as percent, one decimal, with the number of runs. */
export function formatStat(s: Stat | undefined, pm = "+-"): string {
  if (!s) return "-";
  return `${fixed(100 * s.mean, 1)} ${pm} ${fixed(100 * s.std, 1)} (${s.runs.length})`;
}

function pct(x: number, digits = 1): string {
  return `${fixed(100 * x, digits)}%`;
}

/** Mean of the first and of the last `SMOOTH` values. */
function ends(xs: readonly number[]): { first: number | null; last: number | null } {
  if (xs.length === 0) return { first: null, last: null };
  const k = Math.min(SMOOTH, xs.length);
  const mean = (a: readonly number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  return { first: mean(xs.slice(0, k)), last: mean(xs.slice(-k)) };
}

/** Cells (beta x benchmark) where lambda-GRPO is above the base; the paper's 14 of 20. */
function overBase(r: ReasoningResults): { above: number; cells: number } | null {
  const base = r.rows.find((row) => row.name === "base");
  if (!base) return null;
  let above = 0;
  let cells = 0;
  for (const p of PAIRS) {
    const lambda = r.rows.find((row) => row.name === p.lambda);
    if (!lambda) continue;
    for (const b of r.benchmarks) {
      if (!lambda.accuracy[b] || !base.accuracy[b]) continue;
      cells++;
      if (lambda.accuracy[b].mean > base.accuracy[b].mean) above++;
    }
  }
  return { above, cells };
}

function winsSentence(r: ReasoningResults): string {
  const w = r.wins;
  const p = PAPER_SUMMARY;
  const paper = `paper: ${p.wins} of ${p.cells} (2 models x 2 betas x 5 benchmarks)`;
  if (w.cells === 0) return `lambda-GRPO vs GRPO: no pair at the same beta to compare; ${paper}`;
  const betas = w.cells / Math.max(1, r.benchmarks.length);
  return `lambda-GRPO vs GRPO at the same beta: lambda-GRPO higher in ${w.lambda} of ${w.cells} cells, GRPO in ${w.grpo}, ${w.ties} tied (1 model x ${betas} beta${betas === 1 ? "" : "s"} x ${r.benchmarks.length} benchmarks); ${paper}`;
}

function overBaseSentence(r: ReasoningResults): string | null {
  const o = overBase(r);
  if (!o || o.cells === 0) return null;
  return `lambda-GRPO above the base in ${o.above} of ${o.cells} cells; paper: ${PAPER_SUMMARY.overBase} of ${PAPER_SUMMARY.cells}`;
}

function paperNonFlat(groupSize: number): (typeof PAPER_SUMMARY.nonFlat)[number] | undefined {
  return PAPER_SUMMARY.nonFlat.find((p) => p.group_size === groupSize);
}

/** What a correlation with entropy says about the paper's claim that the metric rises as entropy falls. */
function reading(r: number | null): string {
  if (r === null) return "no reading: the metric did not change";
  return r < 0 ? "rises as entropy falls (supports the paper)" : "does not rise as entropy falls (against the paper)";
}

const METRICS = [
  { key: "path_depth_mean", label: "path depth, mean", digits: 2 },
  { key: "path_depth_median", label: "path depth, median", digits: 2 },
  { key: "intermediate_proportion_mean", label: "intermediate proportion, mean", digits: 3 },
  { key: "intermediate_proportion_median", label: "intermediate proportion, median", digits: 3 },
] as const satisfies readonly { key: keyof OverlapCorrelations; label: string; digits: number }[];

function runLabel(o: OverlapResult): string {
  return `${o.algorithm === "lambda" ? "lambda-GRPO" : "GRPO"} beta ${o.beta}, seed ${o.seed}`;
}

function paperTrendSentence(): string {
  const t = PAPER_SUMMARY.trend;
  return `paper at group size ${t.group_size}: path depth mean ~${t.path_depth_mean.first} -> ~${t.path_depth_mean.last}; intermediate proportion ends ~${t.intermediate_proportion_last.mean} mean, ~${t.intermediate_proportion_last.median} median`;
}

function overlapLines(r: ReasoningResults): string[] {
  if (r.overlap.length === 0) return [];
  const lines = [
    `Prefix overlap during training (first -> last: means over the first and last ${SMOOTH} steps; r: Pearson correlation with the policy's entropy over steps, r < 0 supports the paper's claim that both metrics rise as entropy falls)`,
  ];
  for (const o of [...r.overlap].sort((a, b) => a.group_size - b.group_size)) {
    const paper = paperNonFlat(o.group_size);
    const e = ends(o.entropy);
    lines.push(`  group size ${o.group_size} (${runLabel(o)}; ${o.groups} trees over ${o.step.length} steps)`);
    lines.push(
      `    non-flat trees: ${pct(1 - o.flat_fraction)}` +
        (paper ? `   paper: ${pct(paper.fraction)} of ${paper.trees.toLocaleString("en-US")}` : `   paper: not reported at this size`),
    );
    lines.push(`    entropy: ${fixed(e.first, 3)} -> ${fixed(e.last, 3)}`);
    for (const m of METRICS) {
      const v = ends(o[m.key]);
      const c = o.correlation_with_entropy[m.key];
      lines.push(`    ${m.label}: ${fixed(v.first, m.digits)} -> ${fixed(v.last, m.digits)}, r ${signed(c)}`);
    }
    if (o.group_size === PAPER_SUMMARY.trend.group_size) lines.push(`    ${paperTrendSentence()}`);
  }
  return lines;
}

/** The terminal table `lambda-grpo reasoning` prints, then the wins and the overlap figures beside the paper's. */
export function formatReasoningTable(results: ReasoningResults): string {
  const rows = presentRows(results);
  const header = ["", ...results.benchmarks, "mean"];
  const body = rows.map((row) => [ROW_LABELS[row.name], ...results.benchmarks.map((b) => formatStat(row.accuracy[b])), formatStat(row.mean)]);
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((cells) => cells[j].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j])))
      .join("  ")
      .trimEnd();
  const out = [
    `Greedy pass@1 on the held-out sets, % (mean +- std over seeds, number of runs); preset ${results.preset}`,
    line(header),
    ...body.map(line),
    "",
    winsSentence(results),
  ];
  const base = overBaseSentence(results);
  if (base) out.push(base);
  out.push("", ...setupLines(results));
  const overlap = overlapLines(results);
  if (overlap.length) out.push("", ...overlap);
  return out.join("\n") + "\n";
}

/** How the base and the learning rate were chosen (absent from results.json written before they existed). */
function setupLines(results: ReasoningResults): string[] {
  const lines: string[] = [];
  const b = results.base;
  if (b && b.rounds.length) {
    const rounds = b.rounds.map((r) => `${r.step}: ${(100 * r.validation_accuracy).toFixed(1)}%`).join(", ");
    lines.push(`base: SFT from random init, greedy validation accuracy by step ${rounds}; taken at step ${b.chosen} (target ${(100 * b.target).toFixed(0)}%)`);
  }
  const t = results.tuning;
  if (t) {
    const c = t.candidates.map((x) => `${x.learning_rate}: ${(100 * x.score).toFixed(1)}%`).join(", ");
    lines.push(`learning rate ${t.chosen}, chosen once for both algorithms on validation (beta 0, seed ${t.seed}; ${c})`);
  }
  return lines;
}

// ---- report.html ----

const PAGE_CSS = `
td.name { text-align: left; white-space: nowrap; }
td.best { font-weight: 700; background: #eef5ec; }
td .n { color: #888; font-size: 0.85em; }
.paper { color: #555; }
footer { margin-top: 2rem; border-top: 1px solid #ddd; padding-top: 0.5rem; font-size: 12px; color: #555; }
footer code { font-size: 12px; }
`;

/** For each GRPO / lambda-GRPO pair at one beta, the row that is higher in each column (benchmarks, then mean). */
function bestCells(r: ReasoningResults): Set<string> {
  const best = new Set<string>();
  const columns: [string, (row: ResultRow) => Stat | undefined][] = [
    ...r.benchmarks.map((b) => [b, (row: ResultRow) => row.accuracy[b]] as [string, (row: ResultRow) => Stat | undefined]),
    ["mean", (row: ResultRow) => row.mean],
  ];
  for (const p of PAIRS) {
    const g = r.rows.find((row) => row.name === p.grpo);
    const l = r.rows.find((row) => row.name === p.lambda);
    if (!g || !l) continue;
    for (const [col, get] of columns) {
      const a = get(g);
      const b = get(l);
      if (!a || !b || a.mean === b.mean) continue;
      best.add(`${a.mean > b.mean ? g.name : l.name}/${col}`);
    }
  }
  return best;
}

function tableHtml(r: ReasoningResults): string {
  const best = bestCells(r);
  const cell = (row: ResultRow, col: string, s: Stat | undefined) => {
    if (!s) return `<td>-</td>`;
    const seeds = s.runs.map((v) => fixed(100 * v, 1)).join(", ");
    return `<td class="${best.has(`${row.name}/${col}`) ? "best" : ""}" title="per run: ${seeds}">${fixed(100 * s.mean, 1)} &plusmn; ${fixed(100 * s.std, 1)} <span class="n">(${s.runs.length})</span></td>`;
  };
  const head = `<tr><th></th>${r.benchmarks.map((b) => `<th>${escapeHtml(b)}</th>`).join("")}<th>mean</th></tr>`;
  const body = presentRows(r)
    .map((row) => `<tr><td class="name">${escapeHtml(ROW_LABELS[row.name])}</td>${r.benchmarks.map((b) => cell(row, b, row.accuracy[b])).join("")}${cell(row, "mean", row.mean)}</tr>`)
    .join("\n");
  return `<table id="accuracy"><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

interface CurveGroup {
  beta: string;
  grpo: Curve[];
  lambda: Curve[];
}

function curveGroups(r: ReasoningResults): CurveGroup[] {
  return PAIRS.map((p) => ({
    beta: p.beta,
    grpo: r.curves.filter((c) => c.row === p.grpo).sort((a, b) => a.seed - b.seed),
    lambda: r.curves.filter((c) => c.row === p.lambda).sort((a, b) => a.seed - b.seed),
  })).filter((g) => g.grpo.length + g.lambda.length > 0);
}

/** Both algorithms' runs of a pair, each run's curve picked by `pick`. */
function pairRuns(g: CurveGroup, pick: (c: Curve) => { x: number[]; y: number[] }): Record<"grpo" | "lambda", SeedRun[]> {
  return { grpo: g.grpo.map((c) => ({ seed: c.seed, ...pick(c) })), lambda: g.lambda.map((c) => ({ seed: c.seed, ...pick(c) })) };
}

/** The shared overlap plots and the policy's entropy, each a SMOOTH-step moving average. */
function overlapSizePlots(o: OverlapResult): PlotSpec[] {
  const s = (xs: number[]) => movingAverage(xs, SMOOTH);
  const suffix = ` (group size ${o.group_size})`;
  const id = (k: string) => `overlap-${o.group_size}-${k}`;
  const shared = overlapPlots(
    o.step,
    {
      flatFraction: s(o.flat_fraction_per_step),
      pathDepthMean: s(o.path_depth_mean),
      pathDepthMedian: s(o.path_depth_median),
      intermediateProportionMean: s(o.intermediate_proportion_mean),
      intermediateProportionMedian: s(o.intermediate_proportion_median),
    },
    id,
    suffix,
  );
  const entropy: PlotSpec = { id: id("entropy"), title: `Policy entropy${suffix}`, xLabel: "step", yLabel: "nats per token", x: o.step, lines: [{ label: "entropy", colour: "#444", width: 2, values: s(o.entropy) }] };
  return [shared.flat, shared.depth, shared.proportion, entropy];
}

function overlapSectionHtml(r: ReasoningResults, specs: PlotSpec[]): string {
  if (r.overlap.length === 0) return "";
  const sizes = [...r.overlap].sort((a, b) => a.group_size - b.group_size);
  const summary = sizes
    .map((o) => {
      const p = paperNonFlat(o.group_size);
      return `<tr><td>${o.group_size}</td><td class="name">${escapeHtml(runLabel(o))}</td><td>${o.groups.toLocaleString("en-US")}</td><td>${pct(1 - o.flat_fraction)}</td><td class="paper">${p ? `${pct(p.fraction)} of ${p.trees.toLocaleString("en-US")}` : "-"}</td></tr>`;
    })
    .join("\n");
  const perSize = sizes
    .map((o) => {
      const e = ends(o.entropy);
      const rows = [
        `<tr><td class="name">entropy (nats per token)</td><td>${fixed(e.first, 3)}</td><td>${fixed(e.last, 3)}</td><td></td><td></td></tr>`,
        ...METRICS.map((m) => {
          const v = ends(o[m.key]);
          const c = o.correlation_with_entropy[m.key];
          return `<tr><td class="name">${m.label}</td><td>${fixed(v.first, m.digits)}</td><td>${fixed(v.last, m.digits)}</td><td>${escapeHtml(signed(c))}</td><td class="name">${escapeHtml(reading(c))}</td></tr>`;
        }),
      ].join("\n");
      const trend = o.group_size === PAPER_SUMMARY.trend.group_size ? `<p class="paper">The paper, at this size: ${escapeHtml(paperTrendSentence().replace(/^paper at group size \d+: /, ""))}.</p>` : "";
      const plots = overlapSizePlots(o);
      specs.push(...plots);
      return `<h3>Group size ${o.group_size}: ${escapeHtml(runLabel(o))}, ${o.step.length} steps</h3>
<table class="overlap" data-group-size="${o.group_size}"><thead><tr><th></th><th>first ${SMOOTH} steps</th><th>last ${SMOOTH} steps</th><th>r with entropy</th><th>reading</th></tr></thead><tbody>
${rows}
</tbody></table>
${trend}
<div class="plots">${plots.map((p) => plotFigure(p, linesLegend(p))).join("\n")}</div>`;
    })
    .join("\n");
  return `<h2>Prefix overlap during training</h2>
<p class="note">One training run per group size. A tree is flat when no two completions share even their first token (then the implicit
PRM is the outcome reward alone). Path depth: process steps from the root to a completion's leaf; intermediate proportion: the fraction of
a completion's tokens in a step shared with another completion. The paper: both rise as the policy's entropy falls, so a negative
correlation with entropy supports it. r is Pearson's over the run's steps (unsmoothed); the plots show ${SMOOTH}-step moving averages.</p>
<table id="nonflat"><thead><tr><th>group size</th><th>run</th><th>trees</th><th>non-flat (ours)</th><th>non-flat (paper)</th></tr></thead><tbody>
${summary}
</tbody></table>
${perSize}`;
}

function settingsHtml(r: ReasoningResults): string {
  const items = Object.entries(r.settings)
    .map(([k, v]) => `<code>${escapeHtml(k)} = ${escapeHtml(typeof v === "string" ? v : JSON.stringify(v) ?? String(v))}</code>`)
    .join(", ");
  return `<footer id="settings">Shared by every run (preset ${escapeHtml(r.preset)}, resolved): ${items || "none recorded"}.</footer>`;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "-";
  return seconds < 120 ? `${seconds.toFixed(0)} s` : `${(seconds / 60).toFixed(1)} min`;
}

/** The whole report page. */
export function reasoningReportHtml(results: ReasoningResults): string {
  const r = results;
  const specs: PlotSpec[] = [];
  const groups = curveGroups(r);
  const accuracy = groups
    .map((g) => {
      const head = { id: `validation-beta${g.beta}`, title: `Validation accuracy, beta ${g.beta}`, xLabel: "step", yLabel: "greedy pass@1, %", yRange: [0, 100] as [number, number] };
      const spec = pairPlot(head, pairRuns(g, (c) => ({ x: c.validation.step, y: c.validation.accuracy.map((a) => 100 * a) })));
      specs.push(spec);
      return plotFigure(spec, pairLegend({ grpo: g.grpo.length, lambda: g.lambda.length }));
    })
    .join("\n");
  const reward = groups
    .map((g) => {
      const head = { id: `reward-beta${g.beta}`, title: `Reward, beta ${g.beta} (${SMOOTH}-step moving average)`, xLabel: "step", yLabel: "mean reward", yRange: undefined };
      const spec = pairPlot(head, pairRuns(g, (c) => ({ x: c.step, y: movingAverage(c.reward_mean, SMOOTH) })));
      specs.push(spec);
      return plotFigure(spec, pairLegend({ grpo: g.grpo.length, lambda: g.lambda.length }));
    })
    .join("\n");
  const base = overBaseSentence(r);
  const overlap = overlapSectionHtml(r, specs);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lambda-grpo reasoning sweep (${escapeHtml(r.preset)})</title>
${inlineStyle(asset("uplot/dist/uPlot.min.css"))}
${inlineStyle(REPORT_CSS + PAGE_CSS + PLOT_CSS)}
</head>
<body>
<h1>Reasoning sweep: GRPO vs lambda-GRPO</h1>
<p class="sub">Preset ${escapeHtml(r.preset)}; ${r.benchmarks.length} held-out sets; ${duration(r.wall_seconds)} wall.</p>
<h2>Held-out accuracy</h2>
<p class="note">Greedy pass@1, %: mean &plusmn; std over seeds, and the number of runs (hover a cell for each run).
In each GRPO / lambda-GRPO pair at the same beta the higher mean is bold.</p>
${tableHtml(r)}
<p id="wins">${escapeHtml(winsSentence(r))}.${base ? `<br>${escapeHtml(base)}.` : ""}</p>
${groups.length ? `<h2>Validation accuracy during training</h2>\n<div class="plots">${accuracy}</div>\n<h2>Reward during training</h2>\n<div class="plots">${reward}</div>` : ""}
${overlap}
${settingsHtml(r)}
${inlineScript(asset("uplot/dist/uPlot.iife.min.js"))}
${plotsScript("reasoning-plots", specs)}
</body>
</html>
`;
}
