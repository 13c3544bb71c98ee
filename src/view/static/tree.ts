/** The prefix tree B(G) of one group, laid out with d3-hierarchy. */
import type * as D3 from "d3-hierarchy";
import type { GroupView, StepView } from "../groupView.js";
import { diverging, legend, niceMax, RDBU } from "./colour.js";
import { el, hideTip, num, showTip, signed, svgEl } from "./dom.js";

declare const d3: typeof D3;
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
export function tokenText(view: GroupView, step: StepView, t: number): string {
  if (step.pieces !== null) return step.pieces[t].replace(/\n/g, "\u23ce").replace(/\t/g, "\u2192");
  return String(step.tokens[t]);
}

export function stepText(view: GroupView, step: StepView): string {
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

export class TreeView {
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
