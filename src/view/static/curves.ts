/** Run curves: one uPlot chart per numeric field of metrics.jsonl, against the step. */
import type uPlotT from "uplot";
import type { MetricsColumns } from "../metrics.js";
import { el, num, tick } from "./dom.js";

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

export class Curves {
  private plots: uPlotT[] = [];
  private marker: number | null = null;
  readonly root = el("section", { id: "curves" });
  private grid = el("div", { class: "charts" });

  constructor(
    private metrics: MetricsColumns,
    private onPick: (step: number) => void,
  ) {
    this.root.append(
      el("h2", {}, "Run curves"),
      el("p", { class: "note" }, "Against the training step. Click a chart to open that step in the group browser."),
      this.grid,
    );
  }

  draw(): void {
    for (const p of this.plots) p.destroy();
    this.plots = [];
    this.grid.replaceChildren();
    const { step, keys, series } = this.metrics;
    for (const key of keys) {
      const values = series[key];
      let last: number | null = null;
      for (let i = values.length - 1; i >= 0 && last === null; i--) last = values[i];
      const box = el("div", { class: "chart", "data-metric": key });
      box.append(el("h3", {}, metricLabel(key), el("span", { class: "last" }, last === null ? "" : num(last, 4))));
      this.grid.append(box);
      const width = Math.max(280, box.clientWidth - 16);
      const plot = new uPlot(
        {
          width,
          height: 150,
          legend: { show: false },
          cursor: { sync: { key: "run" }, drag: { x: false, y: false }, points: { size: 5 } },
          scales: {
            x: { time: false },
            // A constant series (all 0, say) gets a small band around it, not uPlot's default 0..100.
            y: {
              range: (_u: uPlotT, min: number, max: number): uPlotT.Range.MinMax =>
                min === max ? [min - (Math.abs(min) || 1) * 0.5, max + (Math.abs(max) || 1) * 0.5] : uPlot.rangeNum(min, max, 0.1, true),
            },
          },
          axes: [
            { stroke: "#5f6b76", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#d9dee3" }, size: 28, font: "11px system-ui" },
            {
              stroke: "#5f6b76",
              grid: { stroke: "#eef0f3" },
              ticks: { stroke: "#d9dee3" },
              // Wide enough for the longest tick label (~7 px per character at 11 px, plus tick and gap).
              size: (_u: uPlotT, values: string[] | null) => (values ? Math.max(3, ...values.map((v) => v.length)) * 7 + 24 : 44),
              font: "11px system-ui",
              values: (_u: uPlotT, splits: number[]) => splits.map(tick),
            },
          ],
          series: [{ label: "step" }, { label: metricLabel(key), stroke: "#2166ac", width: 1.5, points: { show: step.length < 40 } }],
          hooks: {
            draw: [
              (u: uPlotT) => {
                if (this.marker === null) return;
                const x = u.valToPos(this.marker, "x", true);
                const ctx = u.ctx;
                ctx.save();
                ctx.strokeStyle = "rgba(178,24,43,0.75)";
                ctx.lineWidth = 1.5 * (window.devicePixelRatio || 1);
                ctx.beginPath();
                ctx.moveTo(x, u.bbox.top);
                ctx.lineTo(x, u.bbox.top + u.bbox.height);
                ctx.stroke();
                ctx.restore();
              },
            ],
          },
        },
        [step, values] as uPlotT.AlignedData,
        box,
      );
      plot.over.addEventListener("click", () => {
        const i = plot.cursor.idx;
        if (i !== null && i !== undefined) this.onPick(step[i]);
      });
      this.plots.push(plot);
    }
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
      if (box) p.setSize({ width: Math.max(280, box.clientWidth - 16), height: 150 });
    }
  }
}
