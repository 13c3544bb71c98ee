/**
 * Line plots for the self-contained reports (analyze's, the toy sweep's, the reasoning sweep's): the report
 * computes every line in TypeScript (aligned on one x axis, null for a gap) and embeds the specs as JSON; one
 * small page script draws each with uPlot (inlined, see assets.ts) into its element and records how many
 * lines it drew as `data-series`. Legends are inline SVG beside the plot, so a plot with a faint line per
 * seed still has a short, readable key. The plots two reports share are built here: GRPO against
 * lambda-GRPO over seeds (`pairPlot`), and prefix overlap against step (`overlapPlots`).
 */
import { escapeHtml, inlineJson, inlineScript } from "./assets.js";

export interface PlotLine {
  label: string;
  colour: string;
  /** stroke width in CSS pixels */
  width: number;
  dash?: number[];
  /** one per x; null where the line has no value (drawn as a gap) */
  values: (number | null)[];
}

export interface PlotSpec {
  /** the id of the element it is drawn into */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  /** fixed y range; absent: fitted to the data */
  yRange?: [number, number];
  /** without yRange: the y axis starts here and its top is fitted (a count or a size, read against 0) */
  yFrom?: number;
  x: number[];
  lines: PlotLine[];
}

/** Plot width and height in CSS pixels: two plots side by side in a 1,100-pixel page. */
const WIDTH = 520;
const HEIGHT = 260;

export type LegendKey = Omit<PlotLine, "values">;

/** A figure for one plot: its caption, the element the script draws into, and the key. */
export function plotFigure(spec: PlotSpec, legend: LegendKey[], caption = ""): string {
  const keys = legend
    .map((k) => {
      const dash = k.dash ? ` stroke-dasharray="${k.dash.join(" ")}"` : "";
      return `<span class="key"><svg width="28" height="10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" stroke="${escapeHtml(k.colour)}" stroke-width="${k.width}"${dash}/></svg>${escapeHtml(k.label)}</span>`;
    })
    .join(" ");
  return `<figure class="plot" style="width:${WIDTH}px"><div id="${escapeHtml(spec.id)}"></div><div class="legend">${keys}</div>${caption ? `<figcaption>${caption}</figcaption>` : ""}</figure>`;
}

/** The page CSS of `plotFigure`'s markup (a `.plots` box holds figures side by side). */
export const PLOT_CSS = `
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure.plot { margin: 0 0 1rem; }
.legend { font-size: 12px; color: #333; margin-top: 2px; }
.key { margin-right: 12px; white-space: nowrap; }
.key svg { vertical-align: middle; margin-right: 4px; }
`;

/** Below this many x values every point is marked (a validation curve measured a few times). */
const FEW_POINTS = 30;

const DRAW = `
(function () {
  var specs = JSON.parse(document.getElementById(DATA_ID).textContent);
  // x is a step: integer ticks only.
  var incrs = [];
  for (var m = 1; m <= 1e9; m *= 10) incrs.push(m, 2 * m, 5 * m);
  specs.forEach(function (s) {
    var el = document.getElementById(s.id);
    var opts = {
      title: s.title, width: ${WIDTH}, height: ${HEIGHT},
      legend: { show: false },
      scales: { x: { time: false }, y: s.yRange ? { range: s.yRange } : s.yFrom !== undefined ? { range: function (u, lo, hi) { return [s.yFrom, Math.max(s.yFrom + 1, Math.ceil(hi * 1.1))]; } } : { auto: true } },
      axes: [{ label: s.xLabel, incrs: incrs }, { label: s.yLabel }],
      series: [{ label: s.xLabel }].concat(s.lines.map(function (l) {
        return { label: l.label, stroke: l.colour, width: l.width, dash: l.dash, points: { show: s.x.length < ${FEW_POINTS} } };
      }))
    };
    new uPlot(opts, [s.x].concat(s.lines.map(function (l) { return l.values; })), el);
    el.setAttribute("data-series", String(s.lines.length));
  });
})();
`;

/** The specs as page data and the script that draws them; goes after uPlot's own script. */
export function plotsScript(dataId: string, specs: PlotSpec[]): string {
  return `${inlineJson(dataId, specs)}\n${inlineScript(DRAW.replace("DATA_ID", JSON.stringify(dataId)))}`;
}

/** Trailing moving average over `window` points (fewer at the start). */
export function movingAverage(xs: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < xs.length; i++) {
    sum += xs[i];
    if (i >= window) sum -= xs[i - window];
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

/**
 * Runs measured at possibly different x, on one axis: the union of their x, ascending; each run's value at
 * each x (null where it was not measured); and the mean over runs where every run has a value (null
 * elsewhere, so a mean is never over a changing set of runs).
 */
export function alignRuns(runs: { x: readonly number[]; y: readonly number[] }[]): { x: number[]; ys: (number | null)[][]; mean: (number | null)[] } {
  const x = [...new Set(runs.flatMap((r) => r.x))].sort((a, b) => a - b);
  const ys = runs.map((r) => {
    const at = new Map<number, number>();
    r.x.forEach((xi, i) => at.set(xi, r.y[i]));
    return x.map((xi) => at.get(xi) ?? null);
  });
  const mean = x.map((_, i) => {
    let sum = 0;
    for (const y of ys) {
      const v = y[i];
      if (v === null) return null;
      sum += v;
    }
    return ys.length ? sum / ys.length : null;
  });
  return { x, ys, mean };
}

export type Algorithm = "grpo" | "lambda";

const ALGORITHM_NAME: Record<Algorithm, string> = { grpo: "GRPO", lambda: "lambda-GRPO" };

/** Red GRPO, blue lambda-GRPO: strong for the mean over seeds, faint for each seed. */
const COLOUR: Record<Algorithm, { mean: string; seed: string }> = {
  grpo: { mean: "#d62728", seed: "rgba(214,39,40,0.3)" },
  lambda: { mean: "#1f77b4", seed: "rgba(31,119,180,0.3)" },
};

/** One run of an algorithm: its seed and its values at x. */
export interface SeedRun {
  seed: number;
  x: readonly number[];
  y: readonly number[];
}

/** Each seed faint (when there is more than one), the mean over seeds strong. */
function seedLines(runs: SeedRun[], algo: Algorithm): { x: number[]; lines: PlotLine[] } {
  const name = ALGORITHM_NAME[algo];
  const a = alignRuns(runs);
  const lines: PlotLine[] = runs.length > 1 ? a.ys.map((values, i) => ({ label: `${name} seed ${runs[i].seed}`, colour: COLOUR[algo].seed, width: 1, values })) : [];
  lines.push({ label: `${name} (mean of ${runs.length})`, colour: COLOUR[algo].mean, width: 2.5, values: a.mean });
  return { x: a.x, lines };
}

/** GRPO's and lambda-GRPO's runs on one x axis (the union of both), an algorithm without runs left out. */
export function pairPlot(head: Omit<PlotSpec, "x" | "lines">, runs: Record<Algorithm, SeedRun[]>): PlotSpec {
  const parts = (["grpo", "lambda"] as const).filter((algo) => runs[algo].length > 0).map((algo) => seedLines(runs[algo], algo));
  const x = [...new Set(parts.flatMap((p) => p.x))].sort((a, b) => a - b);
  const lines = parts.flatMap((p) => {
    const at = new Map(p.x.map((xi, i) => [xi, i]));
    return p.lines.map((l) => ({ ...l, values: x.map((xi) => (at.has(xi) ? l.values[at.get(xi)!] : null)) }));
  });
  return { ...head, x, lines };
}

/** The key of a `pairPlot` with this many seeds per algorithm: the mean, and each seed when there are several. */
export function pairLegend(seeds: Record<Algorithm, number>): LegendKey[] {
  const keys: LegendKey[] = [];
  for (const algo of ["grpo", "lambda"] as const) {
    const n = seeds[algo];
    if (n === 0) continue;
    const name = ALGORITHM_NAME[algo];
    keys.push({ label: `${name}, mean over ${n} seed${n === 1 ? "" : "s"}`, colour: COLOUR[algo].mean, width: 2.5 });
    if (n > 1) keys.push({ label: `${name}, each seed`, colour: COLOUR[algo].seed, width: 1 });
  }
  return keys;
}

/** Per-step prefix-overlap figures (src/prm's per-step summary), one value per x. */
export interface OverlapColumns {
  flatFraction: readonly (number | null)[];
  pathDepthMean: readonly (number | null)[];
  pathDepthMedian: readonly (number | null)[];
  intermediateProportionMean: readonly (number | null)[];
  intermediateProportionMedian: readonly (number | null)[];
}

/** A median is dashed, beside its solid mean in the same plot. */
const MEDIAN_DASH = [6, 4];

/**
 * The prefix-overlap plots against step: flat trees, path depth and intermediate proportion (mean solid,
 * median dashed). `id(k)` names each plot's element, `titleSuffix` ends its title.
 */
export function overlapPlots(x: readonly number[], c: OverlapColumns, id: (k: "flat" | "depth" | "proportion") => string, titleSuffix = ""): Record<"flat" | "depth" | "proportion", PlotSpec> {
  const line = (label: string, colour: string, values: readonly (number | null)[], dash?: number[]): PlotLine => ({ label, colour, width: 2, ...(dash ? { dash } : {}), values: [...values] });
  return {
    flat: { id: id("flat"), title: `Flat trees${titleSuffix}`, xLabel: "step", yLabel: "fraction of groups", yRange: [0, 1], x: [...x], lines: [line("flat fraction", "#9467bd", c.flatFraction)] },
    depth: {
      id: id("depth"), title: `Path depth${titleSuffix}`, xLabel: "step", yLabel: "process steps to the leaf", x: [...x],
      lines: [line("path depth, mean", "#1f77b4", c.pathDepthMean), line("path depth, median", "#ff7f0e", c.pathDepthMedian, MEDIAN_DASH)],
    },
    proportion: {
      id: id("proportion"), title: `Intermediate proportion${titleSuffix}`, xLabel: "step", yLabel: "fraction of tokens shared", yRange: [0, 1], x: [...x],
      lines: [line("intermediate proportion, mean", "#2ca02c", c.intermediateProportionMean), line("intermediate proportion, median", "#d62728", c.intermediateProportionMedian, MEDIAN_DASH)],
    },
  };
}

/** A plot's key: its lines, as drawn. */
export function linesLegend(spec: PlotSpec): LegendKey[] {
  return spec.lines.map(({ values: _values, ...k }) => k);
}
