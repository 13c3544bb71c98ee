/**
 * The viewer page (runs in the browser; see src/view/assets.ts for how its modules get there). One code path
 * for both forms of the page: served (data from the local JSON API, one group at a time) and report (data
 * embedded in the file). Globals `uPlot` and `d3` are loaded by the page before this script.
 *
 * Text from the run (ids, token pieces) is only ever set with textContent / attributes, never as HTML.
 */
import type { GroupView } from "../groupView.js";
import type { GroupRef, RunInfo } from "../server.js";
import { Curves } from "./curves.js";
import { el, num, tooltip } from "./dom.js";
import { reportSource, serverSource, type ReportData, type Source } from "./source.js";
import { Strips } from "./strips.js";
import { TreeView } from "./tree.js";
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
