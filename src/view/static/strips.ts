/** Token strips: per completion, its tokens coloured by their weight under GRPO and under lambda-GRPO. */
import type { CompletionView, GroupView } from "../groupView.js";
import { diverging, legend, niceMax, PURPLES, RDBU, sequential } from "./colour.js";
import { el, hideTip, num, showTip, signed } from "./dom.js";
import type { State } from "./state.js";
import { tokenText } from "./tree.js";
// Token strips: per completion, its tokens coloured by their weight under GRPO and under lambda-GRPO.

type StripMode = "push" | "weight";

export class Strips {
  readonly root = el("section", { id: "strips" });
  private rows = el("div", { class: "strips" });
  private legendBox = el("div");
  private mode: StripMode = "push";
  private view: GroupView | null = null;
  constructor(private state: State) {
    state.on("view", (v) => this.draw(v));
    state.on("hoverStep", (st) => this.highlight(st ? st.members : null));
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
        // One rectangle per process step (its tokens share one value), a white gap between steps.
        for (let t0 = 0, t1 = 0; t0 < v.length; t0 = t1) {
          while (t1 < v.length && step[t1] === step[t0]) t1++;
          const gap = t0 > 0 && cell >= 3 ? 1.5 : 0;
          ctx.fillStyle = colour(v[t0]);
          ctx.fillRect(t0 * cell + gap, 0, Math.max(0.6, (t1 - t0) * cell - gap), 16);
        }
        if (cell >= 11) {
          ctx.font = "11px ui-monospace, DejaVu Sans Mono, monospace";
          ctx.textAlign = "center";
          ctx.textBaseline = "middle";
          for (let t = 0; t < v.length; t++) {
            const s = view.steps[step[t]];
            const label = tokenText(s, t - s.start);
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
            el("span", { class: "tt-tok" }, tokenText(s, t - s.start)),
            `\nprocess step ${s.id}: |\u03bb| = ${s.lambdaSize}, R = ${num(s.processReward, 4)}, A = ${signed(s.processAdvantage, 3)}\n`,
            `loss weight w (\u00d7 1/T): GRPO ${num(c.wGrpo[p], 4)}   \u03bb-GRPO ${num(c.wLambda[p], 4)}\n`,
            `\u03a3 w\u00b7a over the step: GRPO ${signed(s.pushGrpo, 3)}   \u03bb-GRPO ${signed(s.pushLambda, 3)}`,
          ]);
        });
        canvas.addEventListener("mouseleave", hideTip);
        row.append(el("div", { class: "kind" }, kind === "grpo" ? "GRPO" : "\u03bb-GRPO"), canvas);
      }
      row.addEventListener("mouseenter", () => this.state.emit("hoverCompletion", c));
      row.addEventListener("mouseleave", () => this.state.emit("hoverCompletion", null));
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
