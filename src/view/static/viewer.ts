/**
 * The viewer page (runs in the browser; see src/view/assets.ts for how it gets there). One code path for
 * both forms of the page: served (data from the local JSON API, one group at a time) and report (data
 * embedded in the file). Globals `uPlot` and `d3` (d3-hierarchy) are loaded by the page before this module.
 *
 * Text from the run (ids, token pieces) is only ever set with textContent / attributes, never as HTML.
 */
import type * as D3 from "d3-hierarchy";
import type uPlotT from "uplot";
import type { CompletionView, GroupView, StepView } from "../groupView.js";
import type { MetricsColumns } from "../metrics.js";
import type { GroupRef, RunInfo } from "../server.js";

declare const d3: typeof D3;
declare const uPlot: typeof uPlotT;

/** The report's embedded data (src/view/report.ts writes it). */
interface ReportData {
  run: RunInfo;
  metrics: MetricsColumns | null;
  groups: GroupRef[];
  views: GroupView[];
}

interface Source {
  run(): Promise<RunInfo>;
  metrics(): Promise<MetricsColumns | null>;
  groups(step: number | null): Promise<GroupRef[]>;
  group(handle: number): Promise<GroupView>;
  search(q: string): Promise<GroupRef[]>;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      msg = ((await res.json()) as { error?: string }).error ?? msg;
    } catch {
      // not JSON
    }
    throw new Error(msg);
  }
  return (await res.json()) as T;
}

const stepQuery = (step: number | null): string => (step === null ? "none" : String(step));

function serverSource(): Source {
  return {
    run: () => getJson<RunInfo>("/api/run"),
    metrics: () => getJson<MetricsColumns | null>("/api/metrics"),
    groups: (step) => getJson<GroupRef[]>(`/api/groups?step=${stepQuery(step)}`),
    group: (handle) => getJson<GroupView>(`/api/group?handle=${handle}`),
    search: (q) => getJson<GroupRef[]>(`/api/search?q=${encodeURIComponent(q)}`),
  };
}

function reportSource(data: ReportData): Source {
  const views = new Map(data.views.map((v) => [v.handle, v]));
  return {
    run: async () => data.run,
    metrics: async () => data.metrics,
    groups: async (step) => data.groups.filter((g) => g.step === step),
    group: async (handle) => {
      const v = views.get(handle);
      if (v === undefined) throw new Error(`group ${handle} is not in this report`);
      return v;
    },
    search: async (q) => {
      const ql = q.toLowerCase();
      return data.groups.filter((g) => String(g.id).toLowerCase().includes(ql)).slice(0, 50);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// DOM helpers

const SVG_NS = "http://www.w3.org/2000/svg";

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function svgEl(tag: string, attrs: Record<string, string | number> = {}): SVGElement {
  const e = document.createElementNS(SVG_NS, tag) as SVGElement;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** Signed number with a true minus sign, e.g. "+1.55", "\u22120.22". */
function signed(x: number, digits = 2): string {
  if (Object.is(x, -0) || Math.abs(x) < 0.5 * 10 ** -digits) return (0).toFixed(digits);
  return (x > 0 ? "+" : "\u2212") + Math.abs(x).toFixed(digits);
}

function num(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) return x.toExponential(2).replace("-", "\u2212");
  return Number(x.toFixed(digits)).toString().replace("-", "\u2212");
}

// ---------------------------------------------------------------------------------------------------------
// Colour: ColorBrewer RdBu (diverging; blue = positive advantage, red = negative) and a sequential purple.

const RDBU = ["#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac"];
const PURPLES = ["#fcfbfd", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#4a1486"];

function hexToRgb(h: string): [number, number, number] {
  return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
}

function ramp(stops: string[], t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(stops[i]);
  const b = hexToRgb(stops[i + 1]);
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Diverging colour of v in [-m, m]. */
const diverging = (v: number, m: number): string => ramp(RDBU, m > 0 ? 0.5 + v / (2 * m) : 0.5);
/** Sequential colour of v in [0, m]. */
const sequential = (v: number, m: number): string => ramp(PURPLES, m > 0 ? v / m : 0);

/** A symmetric colour domain that reads well: at least `floor`, rounded up to 1, 2 or 5 times a power of ten. */
function niceMax(x: number, floor: number): number {
  const v = Math.max(x, floor);
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v - 1e-12) return m * p;
  return 10 * p;
}

function legend(caption: string, stops: string[], lo: string, mid: string | null, hi: string): HTMLElement {
  const bar = el("div", { class: "bar" });
  bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  const ticks = el("div", { class: "ticks" }, el("span", {}, lo), el("span", {}, mid ?? ""), el("span", {}, hi));
  return el("div", { class: "legend" }, el("span", { class: "scale" }, bar, ticks), el("span", {}, caption));
}

// ---------------------------------------------------------------------------------------------------------
// Tooltip

const tooltip = el("div", { id: "tooltip", role: "tooltip" });

function showTip(ev: MouseEvent, parts: (Node | string)[]): void {
  tooltip.replaceChildren(...parts);
  tooltip.style.display = "block";
  const pad = 14;
  const w = tooltip.offsetWidth;
  const h = tooltip.offsetHeight;
  let x = ev.clientX + pad;
  let y = ev.clientY + pad;
  if (x + w > window.innerWidth - 4) x = ev.clientX - w - pad;
  if (y + h > window.innerHeight - 4) y = ev.clientY - h - pad;
  tooltip.style.left = `${Math.max(4, x)}px`;
  tooltip.style.top = `${Math.max(4, y)}px`;
}

function hideTip(): void {
  tooltip.style.display = "none";
}

// ---------------------------------------------------------------------------------------------------------
// Run curves

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

/** An axis tick: short, and still distinct for tiny values such as a learning rate of 3e-4. */
function tick(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) < 1e-2 || Math.abs(v) >= 1e5) return v.toExponential(1).replace("-", "\u2212");
  return Number(v.toPrecision(3)).toString().replace("-", "\u2212");
}

const metricLabel = (k: string): string => METRIC_LABELS[k] ?? (k.startsWith("env/") ? `env: ${k.slice(4)}` : k);

class Curves {
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

// ---------------------------------------------------------------------------------------------------------
// The prefix tree B(G)

const BOX_W = 184;
const BOX_H = 58;
const COL = 262;
const ROW = BOX_H + 16;
const CHAR_W = 7.83; // 13px monospace
const PAD = 18;

interface TreeDatum {
  step: StepView | null; // null: the prompt (root)
  children: TreeDatum[];
}

/** Display text of one token: its decoded piece (whitespace made visible) or its id. */
function tokenText(view: GroupView, step: StepView, t: number): string {
  if (step.pieces !== null) return step.pieces[t].replace(/\n/g, "\u23ce").replace(/\t/g, "\u2192");
  return String(step.tokens[t]);
}

function stepText(view: GroupView, step: StepView): string {
  if (step.length === 0) return "\u27e8end\u27e9";
  const parts: string[] = [];
  for (let t = 0; t < step.length; t++) parts.push(tokenText(view, step, t));
  return step.pieces !== null ? parts.join("") : parts.join(" ");
}

/**
 * Up to two lines of at most `width` characters, the last ending in an ellipsis when cut. Token ids
 * (`words`) break between ids, never inside one.
 */
function wrap(text: string, width: number, words: boolean): string[] {
  const chars = [...text];
  if (chars.length <= width) return [text];
  let cut = width;
  if (words) {
    const space = text.lastIndexOf(" ", width);
    if (space > 0) cut = space;
  }
  const first = chars.slice(0, cut).join("");
  const rest = chars.slice(words && cut < width ? cut + 1 : cut);
  if (rest.length <= width) return [first, rest.join("")];
  let second = rest.slice(0, width - 1).join("");
  if (words && second.lastIndexOf(" ") > 0) second = second.slice(0, second.lastIndexOf(" "));
  return [first, second + "\u2026"];
}

class TreeView {
  readonly root = el("div", { class: "tree-wrap" });

  constructor() {
    const box = el("input", { type: "checkbox" });
    box.addEventListener("change", () => {
      this.fit = box.checked;
      this.applyFit();
    });
    this.fitToggle = el("label", { title: "scale the whole tree into view" }, box, " fit tree");
  }

  private applyFit(): void {
    if (this.svg === null) return;
    const w = this.svg.getAttribute("data-width") ?? "0";
    const h = this.svg.getAttribute("data-height") ?? "0";
    if (this.fit) {
      this.svg.setAttribute("width", String(Math.min(Number(w), this.root.clientWidth - 2)));
      this.svg.setAttribute("height", String(Math.round((Number(h) * Math.min(Number(w), this.root.clientWidth - 2)) / Number(w))));
    } else {
      this.svg.setAttribute("width", w);
      this.svg.setAttribute("height", h);
    }
  }

  readonly legendBox = el("div");
  private svg: SVGSVGElement | null = null;
  private fit = false;
  readonly fitToggle: HTMLElement;
  onHoverStep: (step: StepView | null) => void = () => {};

  draw(view: GroupView): void {
    const steps = view.steps;
    const build = (s: StepView): TreeDatum => ({ step: s, children: s.children.map((c) => build(steps[c])) });
    const datum: TreeDatum = { step: null, children: view.roots.map((r) => build(steps[r])) };
    const h = d3.hierarchy<TreeDatum>(datum, (d) => d.children);
    d3.tree<TreeDatum>().nodeSize([ROW, COL]).separation((a, b) => (a.parent === b.parent ? 1 : 1.12))(h);
    let minX = Infinity;
    let maxX = -Infinity;
    let maxDepth = 0;
    h.each((n) => {
      minX = Math.min(minX, n.x!);
      maxX = Math.max(maxX, n.x!);
      maxDepth = Math.max(maxDepth, n.depth);
    });
    const promptW = 74;
    const tagW = 110;
    // Screen: depth to the right, the layout's x downwards.
    const sx = (n: D3.HierarchyNode<TreeDatum>): number => (n.depth === 0 ? PAD : PAD + promptW + 40 + (n.depth - 1) * COL);
    const sy = (n: D3.HierarchyNode<TreeDatum>): number => PAD + (n.x! - minX);
    const width = PAD + promptW + 40 + Math.max(0, maxDepth - 1) * COL + BOX_W + tagW + PAD;
    const height = PAD * 2 + (maxX - minX) + BOX_H;

    let maxA = 0;
    for (const s of steps) maxA = Math.max(maxA, Math.abs(s.processAdvantage));
    const domain = niceMax(maxA, 0.5);

    const svg = svgEl("svg", { class: "tree", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" }) as SVGSVGElement;
    svg.setAttribute("aria-label", `prefix tree of group ${view.id}: ${steps.length} process steps, ${view.k} completions`);
    svg.setAttribute("data-group", String(view.id));
    svg.setAttribute("data-width", String(width));
    svg.setAttribute("data-height", String(height));
    svg.setAttribute("data-handle", String(view.handle));
    const links = svgEl("g", { class: "links" });
    const nodes = svgEl("g", { class: "nodes" });
    svg.append(links, nodes);

    const left = (n: D3.HierarchyNode<TreeDatum>): number => sx(n);
    const right = (n: D3.HierarchyNode<TreeDatum>): number => sx(n) + (n.depth === 0 ? promptW : BOX_W);
    for (const n of h.descendants()) {
      if (n.parent === null) continue;
      const p = n.parent;
      const x0 = right(p);
      const y0 = sy(p) + BOX_H / 2;
      const x1 = left(n);
      const y1 = sy(n) + BOX_H / 2;
      const mx = (x0 + x1) / 2;
      const lam = n.data.step!.lambdaSize;
      links.append(
        svgEl("path", {
          class: "link",
          d: `M${x0},${y0} C${mx},${y0} ${mx},${y1} ${x1},${y1}`,
          // Thickness grows with |lambda|: the number of trajectories that pass (and count) this step.
          "stroke-width": (1 + 1.6 * Math.sqrt(lam - 1)).toFixed(2),
        }),
      );
    }

    const charsPerLine = Math.floor((BOX_W - 14) / CHAR_W);
    for (const n of h.descendants()) {
      const x = sx(n);
      const y = sy(n);
      const s = n.data.step;
      if (s === null) {
        const g = svgEl("g", { class: "prompt", transform: `translate(${x},${y})` });
        g.append(svgEl("rect", { width: promptW, height: BOX_H, rx: 6 }));
        const t = svgEl("text", { x: promptW / 2, y: BOX_H / 2 + 4, "text-anchor": "middle" });
        t.textContent = "prompt";
        g.append(t);
        nodes.append(g);
        continue;
      }
      const g = svgEl("g", {
        class: `step${s.length === 0 ? " end" : ""}${s.leafOf.length > 0 ? " leaf" : ""}`,
        transform: `translate(${x},${y})`,
        "data-step": s.id,
        "data-parent": s.parent,
        "data-depth": s.depth,
        "data-tokens": s.tokens.join(" "),
        "data-text": s.pieces !== null ? s.pieces.join("") : "",
        "data-lambda": s.lambdaSize,
        "data-r": s.processReward,
        "data-a": s.processAdvantage,
        "data-members": s.members.join(" "),
        "data-leaf-of": s.leafOf.join(" "),
      });
      const fill = diverging(s.processAdvantage, domain);
      const dark = Math.abs(s.processAdvantage) / domain > 0.62;
      const ink = dark ? "#ffffff" : "#1d2329";
      g.append(svgEl("rect", { width: BOX_W, height: BOX_H, rx: 5, fill }));
      const lines = wrap(stepText(view, s), charsPerLine, s.pieces === null);
      lines.forEach((line, i) => {
        const t = svgEl("text", { class: "tok", x: 7, y: 17 + i * 16, fill: ink });
        t.textContent = line;
        g.append(t);
      });
      const stats = svgEl("text", { class: "stats", x: 7, y: BOX_H - 8, fill: ink });
      stats.textContent = `|\u03bb|=${s.lambdaSize}  \u00b7  R=${num(s.processReward, 3)}  \u00b7  A=${signed(s.processAdvantage)}`;
      g.append(stats);
      if (s.leafOf.length > 0) {
        // Identical trajectories end in one leaf; name a few, count the rest.
        const who = s.leafOf.slice(0, 3).map((i) => `#${i}`).join(" ") + (s.leafOf.length > 3 ? ` +${s.leafOf.length - 3}` : "");
        const rewards = [...new Set(s.leafOf.map((i) => view.completions[i].reward))].map((r) => num(r, 3)).join(", ");
        const tag = svgEl("g", { class: "leaftag", transform: `translate(${BOX_W + 8},${BOX_H / 2 - 18})` });
        const label = `${who}`;
        const reward = `r = ${rewards}`;
        const w = Math.max(label.length, reward.length) * 7 + 12;
        tag.append(svgEl("rect", { width: w, height: 36, rx: 4 }));
        const t1 = svgEl("text", { x: 6, y: 14 });
        t1.textContent = label;
        const t2 = svgEl("text", { x: 6, y: 29, "font-weight": 600 });
        t2.textContent = reward;
        tag.append(t1, t2);
        g.append(tag);
      }
      g.addEventListener("mouseenter", (ev) => {
        this.highlight(s.members, s.id);
        this.onHoverStep(s);
        showTip(ev, this.stepTip(view, s));
      });
      g.addEventListener("mousemove", (ev) => showTip(ev, this.stepTip(view, s)));
      g.addEventListener("mouseleave", () => {
        this.highlight(null, null);
        this.onHoverStep(null);
        hideTip();
      });
      nodes.append(g);
    }
    this.svg = svg;
    this.root.replaceChildren(svg);
    this.applyFit();
    // Deep trees are taller than the view: start with the prompt (the root) in sight.
    const rootY = sy(h) * (this.fit ? Number(svg.getAttribute("height")) / height : 1);
    this.root.scrollTop = Math.max(0, rootY - this.root.clientHeight / 2 + BOX_H / 2);
    this.root.scrollLeft = 0;
    this.legendBox.replaceChildren(
      legend(
        "process advantage A of a step (blue: its tokens are pushed up, red: pushed down); link width grows with |\u03bb|; leaves show each completion's outcome reward r",
        RDBU,
        signed(-domain, domain < 1 ? 2 : 1),
        "0",
        signed(domain, domain < 1 ? 2 : 1),
      ),
    );
  }

  private stepTip(view: GroupView, s: StepView): (Node | string)[] {
    const text = stepText(view, s);
    const shown = text.length > 400 ? text.slice(0, 400) + "\u2026" : text;
    return [
      el("b", {}, `process step ${s.id}`),
      s.length > 0
        ? `  (depth ${s.depth}; ${s.length} token${s.length === 1 ? "" : "s"}, positions ${s.start}..${s.start + s.length - 1})\n`
        : `  (depth ${s.depth}; an end step: these trajectories stop here)\n`,
      el("span", { class: "tt-tok" }, shown),
      `\n|\u03bb| = ${s.lambdaSize} trajectories: ${s.members.map((m) => `#${m}`).join(" ")}\n`,
      `R = ${num(s.processReward, 4)} (mean reward of its trajectories)\nA = ${signed(s.processAdvantage, 3)}\n`,
      `weight of each token in the loss, summed over its trajectories:\n  GRPO ${signed(s.pushGrpo, 3)}   \u03bb-GRPO ${signed(s.pushLambda, 3)}  (\u00d7 1/T)`,
    ];
  }

  /** Highlight the steps on the paths of `members` (null: clear). */
  highlight(members: number[] | null, stepId: number | null): void {
    if (this.svg === null) return;
    const on = new Set(members ?? []);
    this.svg.querySelectorAll<SVGGElement>("g.step").forEach((g) => {
      const ms = (g.getAttribute("data-members") ?? "").split(" ").map(Number);
      const hit = members !== null && ms.some((m) => on.has(m));
      g.classList.toggle("hl", members !== null && Number(g.getAttribute("data-step")) === stepId);
      g.classList.toggle("dim", members !== null && !hit);
    });
  }

  highlightPath(path: number[] | null): void {
    if (this.svg === null) return;
    const on = new Set(path ?? []);
    this.svg.querySelectorAll<SVGGElement>("g.step").forEach((g) => {
      const id = Number(g.getAttribute("data-step"));
      g.classList.toggle("hl", path !== null && on.has(id));
      g.classList.toggle("dim", path !== null && !on.has(id));
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Token strips: per completion, its tokens coloured by their weight under GRPO and under lambda-GRPO.

type StripMode = "push" | "weight";

class Strips {
  readonly root = el("section", { id: "strips" });
  private rows = el("div", { class: "strips" });
  private legendBox = el("div");
  private mode: StripMode = "push";
  private view: GroupView | null = null;
  onHoverCompletion: (c: CompletionView | null) => void = () => {};

  constructor() {
    const radio = (value: StripMode, label: string, checked: boolean): HTMLElement => {
      const input = el("input", { type: "radio", name: "strip-mode", value });
      input.checked = checked;
      input.addEventListener("change", () => {
        if (input.checked) {
          this.mode = value;
          if (this.view) this.draw(this.view);
        }
      });
      return el("label", {}, input, ` ${label}`);
    };
    this.root.append(
      el("h2", {}, "Per-token weights: GRPO and \u03bb-GRPO"),
      el(
        "p",
        { class: "note" },
        "Each completion's tokens, left to right, in two strips on one colour scale. " +
          "\u201cweight \u00d7 advantage, summed over the step\u201d is what the loss does to the token: the sum over all trajectories " +
          "through its process step of w\u00b7a. GRPO counts a step once per trajectory, so it is |\u03bb|\u00b7A (shared early steps are " +
          "pushed |\u03bb| times); \u03bb-GRPO divides by |\u03bb|, so every step counts once. \u201closs weight w\u201d is the per-token weight " +
          "itself. Units of 1/T (T = tokens in the group); white gaps separate process steps.",
      ),
      el(
        "div",
        { class: "strips-head" },
        el("span", {}, "colour by:"),
        radio("push", "weight \u00d7 advantage, summed over the step", true),
        radio("weight", "loss weight w", false),
      ),
      this.legendBox,
      this.rows,
    );
  }

  private values(c: CompletionView, view: GroupView, kind: "grpo" | "lambda"): { v: number[]; step: number[] } {
    const v: number[] = [];
    const step: number[] = [];
    c.path.forEach((sid, p) => {
      const s = view.steps[sid];
      const x =
        this.mode === "push" ? (kind === "grpo" ? s.pushGrpo : s.pushLambda) : kind === "grpo" ? c.wGrpo[p] : c.wLambda[p];
      for (let t = 0; t < s.length; t++) {
        v.push(x);
        step.push(sid);
      }
    });
    return { v, step };
  }

  draw(view: GroupView): void {
    this.view = view;
    let maxLen = 1;
    let maxAbs = 0;
    for (const c of view.completions) {
      maxLen = Math.max(maxLen, c.length);
      for (const kind of ["grpo", "lambda"] as const) for (const x of this.values(c, view, kind).v) maxAbs = Math.max(maxAbs, Math.abs(x));
    }
    const domain = this.mode === "push" ? niceMax(maxAbs, 0.05) : niceMax(maxAbs, 0.05);
    const colour = (x: number): string => (this.mode === "push" ? diverging(x, domain) : sequential(x, domain));
    this.legendBox.replaceChildren(
      this.mode === "push"
        ? legend("\u03a3 over the step's trajectories of w\u00b7a (\u00d7 1/T)", RDBU, signed(-domain, 1), "0", signed(domain, 1))
        : legend("per-token loss weight w (\u00d7 1/T)", PURPLES, "0", null, num(domain, 2)),
    );
    const rows: HTMLElement[] = [];
    const avail = Math.max(300, this.rows.clientWidth - 200 - 58 - 40);
    const cell = Math.max(1, Math.min(22, avail / maxLen));
    for (const c of view.completions) {
      const row = el("div", {
        class: "strip-row",
        "data-completion": String(c.index),
        "data-path": c.path.join(" "),
      });
      const who = el(
        "div",
        { class: "who" },
        `#${c.index}  r = ${num(c.reward, 3)}`,
        el("span", { class: "sub" }, `a = ${signed(c.advantage)} \u00b7 ${c.length} tok \u00b7 depth ${c.pathDepth}`),
      );
      row.append(who);
      for (const kind of ["grpo", "lambda"] as const) {
        const { v, step } = this.values(c, view, kind);
        const canvas = el("canvas", { "data-kind": kind, "data-values": v.map((x) => String(Number(x.toPrecision(6)))).join(",") });
        const cssW = Math.max(1, Math.ceil(cell * Math.max(1, c.length)));
        const dpr = window.devicePixelRatio || 1;
        canvas.width = Math.ceil(cssW * dpr);
        canvas.height = Math.ceil(16 * dpr);
        canvas.style.width = `${cssW}px`;
        const ctx = canvas.getContext("2d")!;
        ctx.scale(dpr, dpr);
        for (let t = 0; t < v.length; t++) {
          ctx.fillStyle = colour(v[t]);
          const gap = t > 0 && step[t] !== step[t - 1] && cell >= 3 ? 1.5 : 0;
          ctx.fillRect(t * cell + gap, 0, Math.max(0.6, cell - gap), 16);
        }
        if (cell >= 11) {
          ctx.font = "11px ui-monospace, DejaVu Sans Mono, monospace";
          ctx.textAlign = "center";
          ctx.textBaseline = "middle";
          for (let t = 0; t < v.length; t++) {
            const s = view.steps[step[t]];
            const label = tokenText(view, s, t - s.start);
            if (label.length * 6.6 > cell) continue;
            const dark = this.mode === "push" ? Math.abs(v[t]) / domain > 0.62 : v[t] / domain > 0.55;
            ctx.fillStyle = dark ? "#fff" : "#1d2329";
            ctx.fillText(label, t * cell + cell / 2, 8.5);
          }
        }
        canvas.addEventListener("mousemove", (ev) => {
          const t = Math.floor(ev.offsetX / cell);
          if (t < 0 || t >= v.length) return hideTip();
          const s = view.steps[step[t]];
          const p = c.path.indexOf(s.id);
          showTip(ev, [
            el("b", {}, `#${c.index}, token ${t}: `),
            el("span", { class: "tt-tok" }, tokenText(view, s, t - s.start)),
            `\nprocess step ${s.id}: |\u03bb| = ${s.lambdaSize}, R = ${num(s.processReward, 4)}, A = ${signed(s.processAdvantage, 3)}\n`,
            `loss weight w (\u00d7 1/T): GRPO ${num(c.wGrpo[p], 4)}   \u03bb-GRPO ${num(c.wLambda[p], 4)}\n`,
            `\u03a3 w\u00b7a over the step: GRPO ${signed(s.pushGrpo, 3)}   \u03bb-GRPO ${signed(s.pushLambda, 3)}`,
          ]);
        });
        canvas.addEventListener("mouseleave", hideTip);
        row.append(el("div", { class: "kind" }, kind === "grpo" ? "GRPO" : "\u03bb-GRPO"), canvas);
      }
      row.addEventListener("mouseenter", () => this.onHoverCompletion(c));
      row.addEventListener("mouseleave", () => this.onHoverCompletion(null));
      rows.push(row);
    }
    this.rows.replaceChildren(...rows);
  }

  highlight(members: number[] | null): void {
    const on = new Set(members ?? []);
    this.rows.querySelectorAll<HTMLElement>(".strip-row").forEach((row) => {
      const i = Number(row.getAttribute("data-completion"));
      row.classList.toggle("hl", members !== null && on.has(i));
      row.classList.toggle("dim", members !== null && !on.has(i));
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// The page

class App {
  private run!: RunInfo;
  private steps: (number | null)[] = [];
  private stepIndex = 0;
  private refs: GroupRef[] = [];
  private handle = -1;
  private ticket = 0;
  private curves: Curves | null = null;
  private tree = new TreeView();
  private strips = new Strips();
  private searchHits: GroupRef[] = [];

  private slider = el("input", { type: "range", min: "0", max: "0", value: "0", "aria-label": "step" });
  private stepLabel = el("span", { class: "stepval" });
  private groupSelect = el("select", { "aria-label": "group" });
  private search = el("input", { type: "search", placeholder: "search group id", list: "group-ids", "aria-label": "search group id" });
  private searchList = el("datalist", { id: "group-ids" });
  private summary = el("div", { class: "summary" });
  private status = el("div");

  constructor(
    private source: Source,
    private app: HTMLElement,
    private mode: "server" | "report",
  ) {}

  async start(): Promise<void> {
    this.run = await this.source.run();
    const run = this.run;
    const objective = run.lambda === null ? null : run.lambda ? "trained with \u03bb-GRPO" : "trained with GRPO";
    const header = el(
      "header",
      { class: "top" },
      el("h1", {}, this.mode === "report" ? "\u03bb-GRPO report" : "\u03bb-GRPO viewer"),
      el("span", { class: "run" }, run.name),
      el(
        "span",
        {},
        ...[
          `${run.steps.length} step${run.steps.length === 1 ? "" : "s"}`,
          `${run.groups} groups`,
          `loss_type ${run.lossType}`,
          `scale_rewards ${run.scaleRewards}`,
          ...(objective ? [objective] : []),
          ...(run.tokenText === "tokenizer" ? ["token text: tokenizer"] : run.tokenText === "tree env" ? ["tokens: the tree env's L / R"] : []),
        ].map((t) => el("span", { class: "badge" }, t)),
      ),
    );
    this.app.append(header);
    if (run.subset) this.app.append(el("p", { class: "note" }, run.subset));

    const metrics = run.hasMetrics ? await this.source.metrics() : null;
    if (metrics && metrics.keys.length > 0) {
      this.curves = new Curves(metrics, (step) => void this.goToStep(step));
      this.app.append(this.curves.root);
    }

    const browser = el("section", { id: "groups" });
    const prev = el("button", { type: "button", title: "previous step (\u2190)" }, "\u25c0");
    const next = el("button", { type: "button", title: "next step (\u2192)" }, "\u25b6");
    prev.addEventListener("click", () => void this.setStepIndex(this.stepIndex - 1));
    next.addEventListener("click", () => void this.setStepIndex(this.stepIndex + 1));
    this.slider.addEventListener("input", () => {
      this.stepLabel.textContent = this.stepName(this.steps[Number(this.slider.value)]);
    });
    this.slider.addEventListener("change", () => void this.setStepIndex(Number(this.slider.value)));
    this.groupSelect.addEventListener("change", () => void this.showGroup(Number(this.groupSelect.value)));
    let timer = 0;
    this.search.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => void this.runSearch(false), 120);
    });
    this.search.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") void this.runSearch(true);
    });
    this.search.addEventListener("change", () => void this.runSearch(true));
    const controls = el(
      "div",
      { class: "controls" },
      el("label", {}, "step", prev, this.slider, next, this.stepLabel),
      el("label", {}, "group", this.groupSelect),
      el("label", {}, "find", this.search, this.searchList),
      this.tree.fitToggle,
    );
    browser.append(
      el("h2", {}, "Group browser: the prefix tree B(G)"),
      el(
        "p",
        { class: "note" },
        "One box per process step (a maximal run of tokens shared by the same trajectories) with its tokens, " +
          "|\u03bb| (trajectories through it), process reward R (their mean reward) and process advantage A. " +
          "Hover a step to see its trajectories below; hover a completion below to see its path.",
      ),
      controls,
      this.summary,
      this.status,
      this.tree.root,
      this.tree.legendBox,
    );
    this.app.append(browser, this.strips.root);
    this.app.append(
      el(
        "footer",
        {},
        "Numbers from the lambda-grpo PRM library (src/prm): R and A per step as in PAPER.md section 2, loss weights " +
          `from lossWeights with loss_type ${run.lossType} and the group as the batch (other groups of a step only rescale them).`,
      ),
      tooltip,
    );

    this.tree.onHoverStep = (s) => this.strips.highlight(s ? s.members : null);
    this.strips.onHoverCompletion = (c) => this.tree.highlightPath(c ? c.path : null);

    document.addEventListener("keydown", (ev) => {
      const t = ev.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
      if (ev.key === "ArrowLeft") void this.setStepIndex(this.stepIndex - 1);
      else if (ev.key === "ArrowRight") void this.setStepIndex(this.stepIndex + 1);
      else if (ev.key === "ArrowUp" || ev.key === "ArrowDown") {
        const i = this.refs.findIndex((r) => r.handle === this.handle) + (ev.key === "ArrowDown" ? 1 : -1);
        if (i >= 0 && i < this.refs.length) {
          ev.preventDefault();
          void this.showGroup(this.refs[i].handle);
        }
      }
    });
    let resizeTimer = 0;
    window.addEventListener("resize", () => {
      window.clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(() => this.curves?.resize(), 150);
    });

    // A link or a typed address with #step=..&group=.. opens that group.
    window.addEventListener("hashchange", () => {
      const want = this.fromHash();
      if (want !== null) void this.openRef(want);
    });

    this.curves?.draw();
    this.setSteps(run);
    const wanted = this.fromHash();
    if (wanted !== null) await this.openRef(wanted);
    else await this.setStepIndex(0);
    if (this.mode === "server") this.poll();
  }

  private stepName(step: number | null | undefined): string {
    return step === null || step === undefined ? "\u2014" : String(step);
  }

  private setSteps(run: RunInfo): void {
    this.steps = run.steps.map((s) => s.step);
    this.slider.max = String(Math.max(0, this.steps.length - 1));
    this.slider.disabled = this.steps.length <= 1;
  }

  /** A live run grows: pick up new steps and metrics every few seconds while the page is visible. */
  private poll(): void {
    let metricRows = -1;
    window.setInterval(async () => {
      if (document.hidden) return;
      try {
        const run = await this.source.run();
        if (run.groups !== this.run.groups) {
          this.run = run;
          this.setSteps(run);
        }
        if (this.curves && run.hasMetrics) {
          const m = await this.source.metrics();
          if (m && metricRows >= 0 && m.step.length !== metricRows) {
            this.curves.setMetrics(m);
            this.curves.mark(this.steps[this.stepIndex] ?? null);
          }
          if (m) metricRows = m.step.length;
        }
      } catch {
        // the server went away (the command was stopped); keep what is shown
      }
    }, 5000);
  }

  private fromHash(): { step: number | null; id: string } | null {
    const p = new URLSearchParams(location.hash.slice(1));
    const id = p.get("group");
    if (id === null) return null;
    const s = p.get("step");
    return { step: s === null || s === "" || s === "none" ? null : Number(s), id };
  }

  private async openRef(want: { step: number | null; id: string }): Promise<void> {
    const i = this.steps.indexOf(want.step);
    await this.setStepIndex(i >= 0 ? i : 0, false);
    const ref = this.refs.find((r) => String(r.id) === want.id);
    await this.showGroup(ref ? ref.handle : this.refs[0]?.handle ?? -1);
  }

  async goToStep(step: number): Promise<void> {
    if (this.steps.length === 0) return;
    let best = 0;
    this.steps.forEach((s, i) => {
      if (Math.abs((s ?? 0) - step) < Math.abs((this.steps[best] ?? 0) - step)) best = i;
    });
    await this.setStepIndex(best);
    document.getElementById("groups")?.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  async setStepIndex(i: number, showFirst = true): Promise<void> {
    if (this.steps.length === 0) {
      this.status.replaceChildren(el("p", { class: "note" }, "No rollout groups yet (rollouts.jsonl is empty or absent)."));
      return;
    }
    i = Math.max(0, Math.min(this.steps.length - 1, i));
    this.stepIndex = i;
    const step = this.steps[i];
    this.slider.value = String(i);
    this.stepLabel.textContent = this.stepName(step);
    this.curves?.mark(step);
    const keep = this.refs.find((r) => r.handle === this.handle)?.index ?? 0;
    this.refs = await this.source.groups(step);
    this.groupSelect.replaceChildren(
      ...this.refs.map((r) => el("option", { value: String(r.handle) }, `${r.id}`)),
    );
    if (showFirst && this.refs.length > 0) {
      // Stay on the same group position when moving between steps.
      await this.showGroup(this.refs[Math.min(keep, this.refs.length - 1)].handle);
    }
  }

  private async runSearch(go: boolean): Promise<void> {
    const q = this.search.value.trim();
    if (q === "") return;
    this.searchHits = await this.source.search(q);
    this.searchList.replaceChildren(...this.searchHits.map((r) => el("option", { value: String(r.id) }, `step ${this.stepName(r.step)}`)));
    if (!go) return;
    const hit = this.searchHits.find((r) => String(r.id) === q) ?? (this.searchHits.length === 1 ? this.searchHits[0] : undefined);
    if (hit === undefined) {
      this.status.replaceChildren(el("p", { class: "note" }, `No group with id '${q}'${this.searchHits.length > 1 ? ` (${this.searchHits.length} contain it)` : ""}.`));
      return;
    }
    await this.openRef({ step: hit.step, id: String(hit.id) });
  }

  async showGroup(handle: number): Promise<void> {
    if (handle < 0) return;
    const ticket = ++this.ticket;
    this.handle = handle;
    this.groupSelect.value = String(handle);
    this.status.replaceChildren(el("p", { class: "loading" }, "loading group\u2026"));
    let view: GroupView;
    try {
      view = await this.source.group(handle);
    } catch (err) {
      if (ticket !== this.ticket) return;
      this.status.replaceChildren(el("p", { class: "error" }, `Cannot show this group: ${(err as Error).message}`));
      return;
    }
    if (ticket !== this.ticket) return; // a later choice won
    this.status.replaceChildren();
    const stepPart = view.step === null ? "" : `step=${view.step}&`;
    history.replaceState(null, "", `#${stepPart}group=${encodeURIComponent(String(view.id))}`);
    const item = (label: string, value: string): (Node | string)[] => [label + " ", el("b", {}, value), el("span", { class: "sep" }, "|")];
    this.summary.replaceChildren(
      ...item("group", String(view.id)),
      ...item("step", this.stepName(view.step)),
      ...item("completions", String(view.k)),
      ...item("tokens", String(view.tokens)),
      ...item("reward", `${num(view.rewardMean, 3)} \u00b1 ${num(view.rewardStd, 3)}`),
      ...item("process steps", String(view.steps.length)),
      ...item("path depth", num(view.pathDepthMean, 2)),
      ...item("intermediate proportion", num(view.intermediateProportionMean, 2)),
      "flat ",
      el("b", {}, view.flat ? "yes" : "no"),
    );
    this.tree.draw(view);
    this.strips.draw(view);
    document.body.setAttribute("data-group", String(view.id));
  }
}

async function main(): Promise<void> {
  const app = document.getElementById("app")!;
  const embedded = document.getElementById("lgrpo-data");
  const source = embedded ? reportSource(JSON.parse(embedded.textContent ?? "null") as ReportData) : serverSource();
  try {
    await new App(source, app, embedded ? "report" : "server").start();
    document.body.setAttribute("data-ready", "1");
  } catch (err) {
    app.append(el("p", { class: "error" }, `The viewer could not start: ${(err as Error).message}`));
    throw err;
  }
}

void main();
