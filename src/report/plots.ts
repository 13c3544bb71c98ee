/**
 * Line plots for the self-contained reports: the report computes every line in TypeScript (aligned on one x
 * axis, null for a gap) and embeds the specs as JSON; one small page script draws each with uPlot (inlined,
 * see assets.ts) into its element and records how many lines it drew as `data-series`. Legends are inline
 * SVG beside the plot, so a plot with a faint line per seed still has a short, readable key.
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
      scales: { x: { time: false }, y: s.yRange ? { range: s.yRange } : { auto: true } },
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
