/**
 * The group browser's controls: step (slider, buttons, arrow keys), group (list, up/down keys), find by id,
 * and the colour scale of A (this group, or the run's fixed scale). They call the page's navigation; the
 * colour choice goes to the shared state, which the views listen to.
 */
import { el } from "./dom.js";
import type { ColourScale, State } from "./state.js";

export interface Navigation {
  setStepIndex(i: number): Promise<void>;
  stepIndex(): number;
  showGroup(handle: number): Promise<void>;
  search(query: string, go: boolean): Promise<void>;
}

export class Controls {
  readonly slider = el("input", { type: "range", min: "0", max: "0", value: "0", "aria-label": "step" });
  readonly stepLabel = el("span", { class: "stepval" });
  readonly groupSelect = el("select", { "aria-label": "group" });
  readonly search = el("input", { type: "search", placeholder: "search group id", list: "group-ids", "aria-label": "search group id" });
  readonly searchList = el("datalist", { id: "group-ids" });
  readonly colourSelect = el("select", { "aria-label": "colour scale" });
  readonly root: HTMLElement;

  constructor(
    private state: State,
    nav: Navigation,
    stepName: (i: number) => string,
    extra: HTMLElement[],
  ) {
    const prev = el("button", { type: "button", title: "previous step (\u2190)" }, "\u25c0");
    const next = el("button", { type: "button", title: "next step (\u2192)" }, "\u25b6");
    prev.addEventListener("click", () => void nav.setStepIndex(nav.stepIndex() - 1));
    next.addEventListener("click", () => void nav.setStepIndex(nav.stepIndex() + 1));
    this.slider.addEventListener("input", () => {
      this.stepLabel.textContent = stepName(Number(this.slider.value));
    });
    this.slider.addEventListener("change", () => void nav.setStepIndex(Number(this.slider.value)));
    this.groupSelect.addEventListener("change", () => void nav.showGroup(Number(this.groupSelect.value)));
    let timer = 0;
    this.search.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => void nav.search(this.search.value.trim(), false), 120);
    });
    this.search.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") void nav.search(this.search.value.trim(), true);
    });
    this.search.addEventListener("change", () => void nav.search(this.search.value.trim(), true));

    const runMax = state.run.maxAbsAdvantage;
    this.colourSelect.append(
      el("option", { value: "group" }, "group"),
      el("option", { value: "run" }, runMax === null ? "run (fixed)" : `run (fixed, |A| \u2264 ${runMax.toPrecision(3)})`),
    );
    this.colourSelect.disabled = runMax === null;
    this.colourSelect.value = state.colourScale;
    this.colourSelect.addEventListener("change", () => {
      state.colourScale = this.colourSelect.value as ColourScale;
      state.emit("colour", state.colourScale);
    });

    this.root = el(
      "div",
      { class: "controls" },
      el("label", {}, "step", prev, this.slider, next, this.stepLabel),
      el("label", {}, "group", this.groupSelect),
      el("label", {}, "find", this.search, this.searchList),
      el("label", { title: "colour domain of the process advantage A: rescaled to each group, or one scale for every step and group of the run" }, "A scaled to", this.colourSelect),
      ...extra,
    );

    document.addEventListener("keydown", (ev) => {
      const t = ev.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
      if (ev.key === "ArrowLeft") void nav.setStepIndex(nav.stepIndex() - 1);
      else if (ev.key === "ArrowRight") void nav.setStepIndex(nav.stepIndex() + 1);
      else if (ev.key === "ArrowUp" || ev.key === "ArrowDown") {
        const opts = Array.from(this.groupSelect.options);
        const i = opts.findIndex((o) => o.value === this.groupSelect.value) + (ev.key === "ArrowDown" ? 1 : -1);
        if (i >= 0 && i < opts.length) {
          ev.preventDefault();
          void nav.showGroup(Number(opts[i].value));
        }
      }
    });
  }

  /** The run grew or changed: the colour option's bound follows it. */
  setRunMax(runMax: number | null): void {
    const opt = this.colourSelect.options[1];
    opt.textContent = runMax === null ? "run (fixed)" : `run (fixed, |A| \u2264 ${runMax.toPrecision(3)})`;
    this.colourSelect.disabled = runMax === null;
    if (runMax !== null && this.state.colourScale === "run" && this.state.view) this.state.emit("colour", "run");
  }
}
