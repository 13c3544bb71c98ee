/**
 * The prefix tree B(G) of one group: laid out with d3-hierarchy (depth to the right), panned and zoomed with
 * d3-zoom (drag, wheel, the buttons; "fit" shows the whole tree). A span longer than the group's
 * `collapse.over` tokens is drawn as its first and last tokens with its length above the box; hover shows a
 * step's numbers and the start of its text, a click pins its whole text in the panel below the tree.
 */
import type * as D3H from "d3-hierarchy";
import type * as D3S from "d3-selection";
import type * as D3Z from "d3-zoom";
import type { GroupView, StepView } from "../groupView.js";
import { diverging, legend, RDBU } from "./colour.js";
import { el, hideTip, num, showTip, signed, svgEl } from "./dom.js";
import type { State } from "./state.js";

declare const d3: typeof D3H & typeof D3S & typeof D3Z;

const BOX_W = 230;
const BOX_H = 58;
const COL = 300;
/** Row pitch: the box and, above the next one, room for a collapsed span's length label. */
const ROW = BOX_H + 20;
const CHAR_W = 7.83; // 13px monospace
const PAD = 18;
const PROMPT_W = 74;
/** Zoom limits: 5% shows a 36-leaf tree of deep spans whole; 400% reads 13px text at ~50px. */
const SCALE_EXTENT: [number, number] = [0.05, 4];
/** Below this the tree's text cannot be read, so a new group does not open at its whole-tree fit. */
const MIN_START_SCALE = 0.45;
/** Characters of a step's text in its tooltip (the click panel has all of it). */
const TIP_CHARS = 400;

interface TreeDatum {
  step: StepView | null; // null: the prompt (root)
  children: TreeDatum[];
}

/** Whitespace made visible, for text drawn in one line. */
const visible = (s: string): string => s.replace(/\n/g, "\u23ce").replace(/\t/g, "\u2192");

/** Display text of one token: its decoded piece (whitespace made visible) or its id. */
export function tokenText(step: StepView, t: number): string {
  if (step.pieces !== null) return visible(step.pieces[t]);
  return String(step.tokens[t]);
}

/** The whole text of a step (decoded as one run), or its ids. */
export function stepText(step: StepView): string {
  if (step.length === 0) return "\u27e8end\u27e9";
  return step.text !== null ? step.text : step.tokens.join(" ");
}

const isCollapsed = (view: GroupView, s: StepView): boolean => s.length > view.collapse.over;

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

/** At most `width` characters of `text` from its start (`fromEnd`: its end), cut at a space when one is near. */
function clip(text: string, width: number, fromEnd: boolean): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  const kept = fromEnd ? chars.slice(chars.length - width).join("") : chars.slice(0, width).join("");
  const space = fromEnd ? kept.indexOf(" ") : kept.lastIndexOf(" ");
  // A word cut in two reads worse than a shorter line, unless that would drop more than a third of it.
  if (space < 0 || (fromEnd ? space > width / 3 : space < (2 * width) / 3)) return kept;
  return fromEnd ? kept.slice(space + 1) : kept.slice(0, space);
}

/** The two lines of a collapsed span: its first tokens, then its last. */
function collapsedLines(view: GroupView, s: StepView, width: number): [string, string] {
  const e = view.collapse.edge;
  const head = s.head !== null ? visible(s.head) : s.tokens.slice(0, e).join(" ");
  const tail = s.tail !== null ? visible(s.tail) : s.tokens.slice(-e).join(" ");
  return [clip(head.trimStart(), width - 2, false) + " \u2026", "\u2026 " + clip(tail.trim(), width - 2, true)];
}

export class TreeView {
  readonly root = el("div", { class: "tree-wrap" });
  readonly legendBox = el("div");
  /** The pinned step's whole text and numbers (a click on a step). */
  readonly detail = el("div", { class: "step-detail", hidden: "" });
  readonly zoomControls: HTMLElement;
  private svg: SVGSVGElement | null = null;
  private zoom: D3Z.ZoomBehavior<SVGSVGElement, unknown> | null = null;
  private size = { width: 0, height: 0 };
  private rootY = 0;
  private pinned: number | null = null;

  constructor(private state: State) {
    const button = (label: string, title: string, act: () => void): HTMLButtonElement => {
      const b = el("button", { type: "button", title, "data-zoom": label }, label);
      b.addEventListener("click", act);
      return b;
    };
    this.zoomControls = el(
      "span",
      { class: "zoom" },
      "tree ",
      button("\u2212", "zoom out", () => this.zoomBy(1 / 1.5)),
      button("+", "zoom in", () => this.zoomBy(1.5)),
      button("fit", "the whole tree in view", () => this.fit()),
      button("1:1", "actual size, the prompt in view", () => this.actualSize()),
    );
    state.on("view", (v) => this.draw(v));
    state.on("colour", () => {
      if (state.view) this.draw(state.view, true);
    });
    state.on("hoverCompletion", (c) => this.highlightPath(c ? c.path : null));
  }

  private select(): D3S.Selection<SVGSVGElement, unknown, null, undefined> {
    return d3.select(this.svg!);
  }

  zoomBy(factor: number): void {
    if (this.svg && this.zoom) this.zoom.scaleBy(this.select(), factor);
  }

  /** The whole tree, centred, at most actual size. */
  fit(): void {
    if (!this.svg || !this.zoom) return;
    const { width: W, height: H } = this.viewport();
    const k = Math.max(SCALE_EXTENT[0], Math.min(1, W / this.size.width, H / this.size.height));
    const t = d3.zoomIdentity.translate((W - this.size.width * k) / 2, (H - this.size.height * k) / 2).scale(k);
    this.zoom.transform(this.select(), t);
  }

  /** Scale `k` with the prompt (the root) at the left, vertically centred. */
  actualSize(k = 1): void {
    if (!this.svg || !this.zoom) return;
    const { height: H } = this.viewport();
    const y = Math.min(0, Math.max(H - this.size.height * k, H / 2 - this.rootY * k));
    this.zoom.transform(this.select(), d3.zoomIdentity.translate(0, y).scale(k));
  }

  private viewport(): { width: number; height: number } {
    return { width: Math.max(1, this.root.clientWidth), height: Math.max(1, this.root.clientHeight) };
  }

  /** Draw `view`; `keepZoom` redraws in place (a colour change), else the view opens at a readable scale. */
  draw(view: GroupView, keepZoom = false): void {
    const before = keepZoom && this.svg ? d3.zoomTransform(this.svg) : null;
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
    const tagW = 130;
    // Screen: depth to the right, the layout's x downwards.
    const sx = (n: D3H.HierarchyNode<TreeDatum>): number => (n.depth === 0 ? PAD : PAD + PROMPT_W + 40 + (n.depth - 1) * COL);
    const sy = (n: D3H.HierarchyNode<TreeDatum>): number => PAD + (n.x! - minX);
    const width = PAD + PROMPT_W + 40 + Math.max(0, maxDepth - 1) * COL + BOX_W + tagW + PAD;
    const height = PAD * 2 + (maxX - minX) + BOX_H;
    this.size = { width, height };
    this.rootY = sy(h) + BOX_H / 2;

    const domain = this.state.aDomain(view);
    // The viewport: as tall as the tree at actual size, within a screenful.
    this.root.style.height = `${Math.round(Math.max(220, Math.min(window.innerHeight * 0.72, height + 4)))}px`;

    const svg = svgEl("svg", { class: "tree", width: "100%", height: "100%", role: "img" }) as SVGSVGElement;
    svg.setAttribute("aria-label", `prefix tree of group ${view.id}: ${steps.length} process steps, ${view.k} completions`);
    svg.setAttribute("data-group", String(view.id));
    svg.setAttribute("data-width", String(width));
    svg.setAttribute("data-height", String(height));
    svg.setAttribute("data-handle", String(view.handle));
    svg.setAttribute("data-domain", String(domain));
    const canvas = svgEl("g", { class: "canvas" });
    const links = svgEl("g", { class: "links" });
    const nodes = svgEl("g", { class: "nodes" });
    canvas.append(links, nodes);
    svg.append(canvas);

    const left = (n: D3H.HierarchyNode<TreeDatum>): number => sx(n);
    const right = (n: D3H.HierarchyNode<TreeDatum>): number => sx(n) + (n.depth === 0 ? PROMPT_W : BOX_W);
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
        g.append(svgEl("rect", { width: PROMPT_W, height: BOX_H, rx: 6 }));
        const t = svgEl("text", { x: PROMPT_W / 2, y: BOX_H / 2 + 4, "text-anchor": "middle" });
        t.textContent = "prompt";
        g.append(t);
        nodes.append(g);
        continue;
      }
      const collapsed = isCollapsed(view, s);
      const g = svgEl("g", {
        class: `step${s.length === 0 ? " end" : ""}${s.leafOf.length > 0 ? " leaf" : ""}${collapsed ? " collapsed" : ""}${s.id === this.pinned ? " pinned" : ""}`,
        transform: `translate(${x},${y})`,
        "data-step": s.id,
        "data-parent": s.parent,
        "data-depth": s.depth,
        "data-length": s.length,
        "data-tokens": s.tokens.join(" "),
        "data-text": s.text ?? "",
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
      const lines = collapsed ? collapsedLines(view, s, charsPerLine) : wrap(visible(stepText(s)), charsPerLine, s.text === null);
      lines.forEach((line, i) => {
        const t = svgEl("text", { class: "tok", x: 7, y: 17 + i * 16, fill: ink });
        t.textContent = line;
        g.append(t);
      });
      if (collapsed) {
        const len = svgEl("text", { class: "len", x: 3, y: -4 });
        len.textContent = `${s.length.toLocaleString("en-US")} tokens`;
        g.append(len);
      }
      const stats = svgEl("text", { class: "stats", x: 7, y: BOX_H - 8, fill: ink });
      stats.textContent = `|\u03bb|=${s.lambdaSize}  \u00b7  R=${num(s.processReward, 3)}  \u00b7  A=${signed(s.processAdvantage)}`;
      g.append(stats);
      if (s.leafOf.length > 0) {
        // Identical trajectories end in one leaf; name a few, count the rest.
        const who = s.leafOf.slice(0, 3).map((i) => `#${i}`).join(" ") + (s.leafOf.length > 3 ? ` +${s.leafOf.length - 3}` : "");
        const rewards = [...new Set(s.leafOf.map((i) => view.completions[i].reward))].map((r) => num(r, 3)).join(", ");
        const tag = svgEl("g", { class: "leaftag", transform: `translate(${BOX_W + 8},${BOX_H / 2 - 18})` });
        const reward = `r = ${rewards}`;
        const w = Math.max(who.length, reward.length) * 7 + 12;
        tag.append(svgEl("rect", { width: w, height: 36, rx: 4 }));
        const t1 = svgEl("text", { x: 6, y: 14 });
        t1.textContent = who;
        const t2 = svgEl("text", { x: 6, y: 29, "font-weight": 600 });
        t2.textContent = reward;
        tag.append(t1, t2);
        g.append(tag);
      }
      g.addEventListener("mouseenter", (ev) => {
        this.highlight(s.members, s.id);
        this.state.emit("hoverStep", s);
        showTip(ev, this.stepTip(s));
      });
      g.addEventListener("mousemove", (ev) => showTip(ev, this.stepTip(s)));
      g.addEventListener("mouseleave", () => {
        this.highlight(null, null);
        this.state.emit("hoverStep", null);
        hideTip();
      });
      g.addEventListener("click", () => this.pin(view, s.id === this.pinned ? null : s));
      nodes.append(g);
    }
    this.svg = svg;
    this.root.replaceChildren(svg);
    this.zoom = d3
      .zoom<SVGSVGElement, unknown>()
      .scaleExtent(SCALE_EXTENT)
      .on("zoom", (ev: D3Z.D3ZoomEvent<SVGSVGElement, unknown>) => {
        canvas.setAttribute("transform", ev.transform.toString());
        svg.setAttribute("data-scale", ev.transform.k.toFixed(4));
      });
    this.select().call(this.zoom).on("dblclick.zoom", null);
    if (before) this.zoom.transform(this.select(), before);
    else {
      const { width: W, height: H } = this.viewport();
      const fitK = Math.min(1, W / width, H / height);
      if (fitK >= MIN_START_SCALE) this.fit();
      else this.actualSize(MIN_START_SCALE);
    }
    if (!keepZoom) this.pin(view, null);
    this.legendBox.replaceChildren(
      legend(
        `process advantage A of a step, ${this.state.colourScale === "run" ? "on the run's fixed scale (its largest |A|)" : "scaled to this group"} ` +
          "(blue: its tokens are pushed up, red: pushed down); link width grows with |\u03bb|; leaves show each completion's index and outcome reward r",
        RDBU,
        signed(-domain, domain < 1 ? 2 : 1),
        "0",
        signed(domain, domain < 1 ? 2 : 1),
      ),
    );
  }

  /** Pin a step's whole text and numbers below the tree (null: unpin). */
  private pin(view: GroupView, s: StepView | null): void {
    this.pinned = s ? s.id : null;
    this.svg?.querySelectorAll<SVGGElement>("g.step").forEach((g) => g.classList.toggle("pinned", Number(g.getAttribute("data-step")) === this.pinned));
    if (s === null) {
      this.detail.hidden = true;
      this.detail.replaceChildren();
      this.state.emit("pickStep", null);
      return;
    }
    const close = el("button", { type: "button", title: "close" }, "\u00d7");
    close.addEventListener("click", () => this.pin(view, null));
    const where = s.length > 0 ? `${s.length.toLocaleString("en-US")} token${s.length === 1 ? "" : "s"}, positions ${s.start}..${s.start + s.length - 1}` : "an end step";
    this.detail.replaceChildren(
      el(
        "div",
        { class: "head" },
        el("b", {}, `process step ${s.id}`),
        ` depth ${s.depth} \u00b7 ${where} \u00b7 |\u03bb| = ${s.lambdaSize} (${s.members.map((m) => `#${m}`).join(" ")}) \u00b7 R = ${num(s.processReward, 4)} \u00b7 A = ${signed(s.processAdvantage, 3)} \u00b7 \u03a3 w\u00b7a: GRPO ${signed(s.pushGrpo, 3)}, \u03bb-GRPO ${signed(s.pushLambda, 3)}`,
        close,
      ),
      el("pre", { class: "full", "data-step": String(s.id) }, stepText(s)),
    );
    this.detail.hidden = false;
    this.state.emit("pickStep", s);
  }

  private stepTip(s: StepView): (Node | string)[] {
    const text = stepText(s);
    const shown = text.length > TIP_CHARS ? text.slice(0, TIP_CHARS) + "\u2026" : text;
    return [
      el("b", {}, `process step ${s.id}`),
      s.length > 0
        ? `  (depth ${s.depth}; ${s.length} token${s.length === 1 ? "" : "s"}, positions ${s.start}..${s.start + s.length - 1})\n`
        : `  (depth ${s.depth}; an end step: these trajectories stop here)\n`,
      el("span", { class: "tt-tok" }, shown),
      `\n|\u03bb| = ${s.lambdaSize} trajectories: ${s.members.map((m) => `#${m}`).join(" ")}\n`,
      `R = ${num(s.processReward, 4)} (mean reward of its trajectories)\nA = ${signed(s.processAdvantage, 3)}\n`,
      `weight of each token in the loss, summed over its trajectories:\n  GRPO ${signed(s.pushGrpo, 3)}   \u03bb-GRPO ${signed(s.pushLambda, 3)}  (\u00d7 1/T)\n`,
      el("i", {}, "click: the whole text below the tree"),
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
