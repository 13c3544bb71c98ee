/**
 * Run curves: one uPlot chart per numeric field of metrics.jsonl against the step, with axis labels and EMA
 * smoothing (the raw values stay drawn, faint, behind the smoothed line). A series that never changes is no
 * chart: it is listed once, with its value, under the charts. For a sweep (SweepCurves), each chart overlays
 * the runs of one cell, GRPO against lambda-GRPO: every seed thin, the mean over seeds thick.
 */
import type uPlotT from "uplot";
import type { MetricsColumns } from "../metrics.js";
import { el, num, tick } from "./dom.js";
import type { Source, SweepPage } from "./source.js";
import type { State } from "./state.js";

declare const uPlot: typeof uPlotT;

const METRIC_LABELS: Record<string, string> = {
  reward_mean: "reward (mean)",
  reward_std: "reward (std)",
  kl: "KL to the reference",
  loss: "loss",
  path_depth_mean: "path depth (mean)",
  intermediate_proportion_mean: "intermediate proportion (mean)",
  flat_fraction: "flat trees (fraction)",
  clip_fraction: "clip fraction",
  entropy: "entropy",
  grad_norm: "gradient norm",
  learning_rate: "learning rate",
  seconds: "seconds per step",
  completion_length_mean: "completion length (mean)",
};

export const metricLabel = (k: string): string => METRIC_LABELS[k] ?? (k.startsWith("env/") ? `env: ${k.slice(4)}` : k);

const CHART_H = 170;
/** Colours of the two objectives (ColorBrewer Set1 red and blue), and of a run of neither. */
const ALGO_COLOUR: Record<string, [thin: string, thick: string]> = {
  grpo: ["rgba(214,39,40,0.28)", "#d62728"],
  lambda: ["rgba(31,119,180,0.28)", "#1f77b4"],
  other: ["rgba(90,90,90,0.3)", "#444444"],
};

/**
 * Exponential moving average with TensorBoard's debiasing: s_t = a s_{t-1} + (1 - a) x_t, shown as
 * s_t / (1 - a^n) after n values, so the first points are not pulled towards 0. Gaps (null) stay gaps.
 */
export function ema(values: (number | null)[], a: number): (number | null)[] {
  if (a <= 0) return values.slice();
  let s = 0;
  let n = 0;
  return values.map((x) => {
    if (x === null) return null;
    s = a * s + (1 - a) * x;
    n += 1;
    return s / (1 - a ** n);
  });
}

/** The value of a series that never changes (ignoring gaps), else undefined. */
export function constantOf(series: (number | null)[][]): number | undefined {
  let v: number | undefined;
  for (const values of series) {
    for (const x of values) {
      if (x === null) continue;
      if (v === undefined) v = x;
      else if (x !== v) return undefined;
    }
  }
  return v;
}

interface Line {
  label: string;
  values: (number | null)[];
  stroke: string;
  width: number;
}

/** One chart: `lines` against `x`, axis labels, an optional marker at a step; returns the plot. */
function chart(box: HTMLElement, key: string, x: number[], lines: Line[], marker: () => number | null): uPlotT {
  const width = Math.max(280, box.clientWidth - 16);
  return new uPlot(
    {
      width,
      height: CHART_H,
      legend: { show: false },
      cursor: { sync: { key: "run" }, drag: { x: false, y: false }, points: { size: 5 } },
      scales: {
        x: { time: false },
        // A series that is constant in view gets a small band around it, not uPlot's default 0..100.
        y: {
          range: (_u: uPlotT, min: number, max: number): uPlotT.Range.MinMax =>
            min === max ? [min - (Math.abs(min) || 1) * 0.5, max + (Math.abs(max) || 1) * 0.5] : uPlot.rangeNum(min, max, 0.1, true),
        },
      },
      axes: [
        { label: "step", labelSize: 16, labelFont: "11px system-ui", stroke: "#5f6b76", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#d9dee3" }, size: 26, font: "11px system-ui" },
        {
          label: metricLabel(key),
          labelSize: 16,
          labelFont: "11px system-ui",
          stroke: "#5f6b76",
          grid: { stroke: "#eef0f3" },
          ticks: { stroke: "#d9dee3" },
          // Wide enough for the longest tick label (~7 px per character at 11 px, plus tick and gap).
          size: (_u: uPlotT, values: string[] | null) => (values ? Math.max(3, ...values.map((v) => v.length)) * 7 + 18 : 40),
          font: "11px system-ui",
          values: (_u: uPlotT, splits: number[]) => splits.map(tick),
        },
      ],
      series: [{ label: "step" }, ...lines.map((l) => ({ label: l.label, stroke: l.stroke, width: l.width, points: { show: false } }))],
      hooks: {
        draw: [
          (u: uPlotT) => {
            const m = marker();
            if (m === null) return;
            const px = u.valToPos(m, "x", true);
            const ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = "rgba(178,24,43,0.75)";
            ctx.lineWidth = 1.5 * (window.devicePixelRatio || 1);
            ctx.beginPath();
            ctx.moveTo(px, u.bbox.top);
            ctx.lineTo(px, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.restore();
          },
        ],
      },
    },
    [x, ...lines.map((l) => l.values)] as uPlotT.AlignedData,
    box,
  );
}

function smoothingControl(state: State): HTMLElement {
  const input = el("input", { type: "range", min: "0", max: "0.99", step: "0.01", value: String(state.smoothing), "aria-label": "smoothing" });
  const shown = el("span", { class: "stepval" }, state.smoothing.toFixed(2));
  input.addEventListener("input", () => {
    state.smoothing = Number(input.value);
    shown.textContent = state.smoothing.toFixed(2);
    state.emit("smoothing", state.smoothing);
  });
  return el("label", { title: "exponential moving average: weight of the past (0: raw values)" }, "smoothing", input, shown);
}

const rounded = (xs: (number | null)[]): string => xs.map((v) => (v === null ? "" : String(Number(v.toPrecision(6))))).join(",");

/** Charts of one run, a red line at the step shown in the group browser; a click opens that step. */
export class Curves {
  private plots: uPlotT[] = [];
  private marker: number | null = null;
  readonly root = el("section", { id: "curves" });
  private grid = el("div", { class: "charts" });
  private folded = el("p", { class: "note constants" });

  constructor(
    private metrics: MetricsColumns,
    private state: State,
    private onPick: (step: number) => void,
  ) {
    this.root.append(
      el("h2", {}, "Run curves"),
      el(
        "div",
        { class: "curves-head" },
        el("span", { class: "note" }, "Against the training step; faint: the raw values. Click a chart to open that step in the group browser."),
        smoothingControl(state),
      ),
      this.grid,
      this.folded,
    );
    state.on("smoothing", () => this.draw());
  }

  draw(): void {
    for (const p of this.plots) p.destroy();
    this.plots = [];
    this.grid.replaceChildren();
    const { step, keys, series } = this.metrics;
    const constants: string[] = [];
    for (const key of keys) {
      const values = series[key];
      const c = constantOf([values]);
      if (c !== undefined) {
        constants.push(`${metricLabel(key)} = ${num(c, 6)}`);
        continue;
      }
      let last: number | null = null;
      for (let i = values.length - 1; i >= 0 && last === null; i--) last = values[i];
      const smooth = ema(values, this.state.smoothing);
      const box = el("div", { class: "chart", "data-metric": key, "data-smoothed": rounded(smooth) });
      box.append(el("h3", {}, metricLabel(key), el("span", { class: "last" }, last === null ? "" : num(last, 4))));
      this.grid.append(box);
      const lines: Line[] =
        this.state.smoothing > 0
          ? [
              { label: `${key} (raw)`, values, stroke: "rgba(33,102,172,0.25)", width: 1 },
              { label: key, values: smooth, stroke: "#2166ac", width: 1.6 },
            ]
          : [{ label: key, values, stroke: "#2166ac", width: 1.5 }];
      const plot = chart(box, key, step, lines, () => this.marker);
      plot.over.addEventListener("click", () => {
        const i = plot.cursor.idx;
        if (i !== null && i !== undefined) this.onPick(step[i]);
      });
      this.plots.push(plot);
    }
    this.folded.textContent = constants.length > 0 ? `Constant over the run (no chart): ${constants.join("; ")}.` : "";
    this.folded.setAttribute("data-constant", keys.filter((k) => constantOf([series[k]]) !== undefined).join(" "));
  }

  setMetrics(m: MetricsColumns): void {
    this.metrics = m;
    this.draw();
  }

  mark(step: number | null): void {
    this.marker = step;
    for (const p of this.plots) p.redraw(false);
  }

  resize(): void {
    for (const p of this.plots) {
      const box = p.root.parentElement;
      if (box) p.setSize({ width: Math.max(280, box.clientWidth - 16), height: CHART_H });
    }
  }
}

/** Mean over runs at each step (of those that have a value there). */
function meanOver(rows: (number | null)[][]): (number | null)[] {
  const n = Math.max(0, ...rows.map((r) => r.length));
  return Array.from({ length: n }, (_, t) => {
    let sum = 0;
    let count = 0;
    for (const r of rows) {
      const v = r[t];
      if (v !== null && v !== undefined) {
        sum += v;
        count += 1;
      }
    }
    return count > 0 ? sum / count : null;
  });
}

/** A sweep folder: pick a cell; each metric's chart overlays its runs, GRPO against lambda-GRPO. */
export class SweepCurves {
  readonly root = el("section", { id: "sweep" });
  private plots: uPlotT[] = [];
  private grid = el("div", { class: "charts" });
  private folded = el("p", { class: "note constants" });
  private cellSelect = el("select", { "aria-label": "cell" });
  private runList = el("div", { class: "note runs" });
  private cache = new Map<number, MetricsColumns | null>();
  private ticket = 0;

  constructor(
    private sweep: SweepPage,
    private source: Source,
    private state: State,
  ) {
    for (const c of sweep.cells) this.cellSelect.append(el("option", { value: c }, c === "" ? "(all runs)" : c));
    this.cellSelect.addEventListener("change", () => void this.draw());
    const key = (algo: string, text: string): HTMLElement => {
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = ALGO_COLOUR[algo][1];
      return el("span", { class: "key" }, swatch, text);
    };
    this.root.append(
      el("h2", {}, "Sweep: runs overlaid"),
      el(
        "p",
        { class: "note" },
        `${sweep.runs.length} runs in ${sweep.cells.length} cell${sweep.cells.length === 1 ? "" : "s"} (runs that differ only in seed and objective). ` +
          "Thin lines: one seed each; thick: the mean over seeds, at each step.",
      ),
      el("div", { class: "controls" }, el("label", {}, "cell", this.cellSelect), smoothingControl(state), key("grpo", "GRPO"), key("lambda", "\u03bb-GRPO")),
      this.grid,
      this.folded,
      this.runList,
    );
    state.on("smoothing", () => void this.draw());
  }

  private async metricsOf(handle: number): Promise<MetricsColumns | null> {
    if (!this.cache.has(handle)) this.cache.set(handle, await this.source.sweepMetrics(handle));
    return this.cache.get(handle)!;
  }

  async draw(): Promise<void> {
    const ticket = ++this.ticket;
    const cell = this.cellSelect.value;
    const runs = this.sweep.runs.filter((r) => r.cell === cell);
    const cols = await Promise.all(runs.map((r) => this.metricsOf(r.handle)));
    if (ticket !== this.ticket) return;
    for (const p of this.plots) p.destroy();
    this.plots = [];
    this.grid.replaceChildren();
    // One x axis for the cell: the union of the runs' steps.
    const steps = [...new Set(cols.flatMap((m) => m?.step ?? []))].sort((a, b) => a - b);
    const at = new Map(steps.map((s, i) => [s, i]));
    const aligned = (m: MetricsColumns, key: string): (number | null)[] => {
      const out: (number | null)[] = new Array(steps.length).fill(null);
      const v = m.series[key];
      if (v) m.step.forEach((s, i) => (out[at.get(s)!] = v[i]));
      return out;
    };
    const keys: string[] = [];
    for (const m of cols) for (const k of m?.keys ?? []) if (!keys.includes(k)) keys.push(k);
    const constants: string[] = [];
    for (const key of keys) {
      const per = runs.map((r, i) => ({ run: r, values: cols[i] ? aligned(cols[i]!, key) : [] }));
      const c = constantOf(per.map((p) => p.values));
      if (c !== undefined) {
        constants.push(`${metricLabel(key)} = ${num(c, 6)}`);
        continue;
      }
      const lines: Line[] = [];
      const means: Line[] = [];
      for (const algo of ["grpo", "lambda", "other"]) {
        const mine = per.filter((p) => (p.run.algorithm ?? "other") === algo);
        if (mine.length === 0) continue;
        for (const p of mine) {
          lines.push({ label: p.run.name, values: ema(p.values, this.state.smoothing), stroke: ALGO_COLOUR[algo][0], width: 1 });
        }
        const mean = ema(meanOver(mine.map((p) => p.values)), this.state.smoothing);
        means.push({ label: `${algo} mean`, values: mean, stroke: ALGO_COLOUR[algo][1], width: 2.2 });
      }
      const box = el("div", { class: "chart", "data-metric": key, "data-lines": String(lines.length + means.length) });
      for (const m of means) box.setAttribute(`data-mean-${m.label.split(" ")[0]}`, rounded(m.values));
      box.append(el("h3", {}, metricLabel(key)));
      this.grid.append(box);
      this.plots.push(chart(box, key, steps, [...lines, ...means], () => null));
    }
    this.folded.textContent = constants.length > 0 ? `Constant over these runs (no chart): ${constants.join("; ")}.` : "";
    this.runList.replaceChildren(
      "Browse a run's groups with ",
      el("code", {}, "lambda-grpo view <sweep>/runs/<run>"),
      `: ${runs.map((r) => r.name).join(", ")}.`,
    );
    document.body.setAttribute("data-cell", cell);
  }

  resize(): void {
    for (const p of this.plots) {
      const box = p.root.parentElement;
      if (box) p.setSize({ width: Math.max(280, box.clientWidth - 16), height: CHART_H });
    }
  }
}
