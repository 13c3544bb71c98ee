/**
 * The viewer page (runs in the browser; see src/view/assets.ts for how its modules get there). One code path
 * for both forms of the page: served (data from the local JSON API, one group at a time) and report (data
 * embedded in the file). Globals `uPlot` and `d3` are loaded by the page before this script.
 *
 * This module wires the views (curves.ts, tree.ts, strips.ts, controls.ts) to one State (state.ts) and
 * does the navigation: which step and group are shown.
 *
 * Text from the run (ids, token pieces) is only ever set with textContent / attributes, never as HTML.
 */
import type { GroupView } from "../groupView.js";
import type { GroupRef, RunInfo } from "../server.js";
import { Controls } from "./controls.js";
import { Curves, SweepCurves } from "./curves.js";
import { el, num, tooltip } from "./dom.js";
import { reportSource, serverSource, type ReportData, type Source } from "./source.js";
import { defaultSmoothing, State } from "./state.js";
import { Strips } from "./strips.js";
import { TreeView } from "./tree.js";

function header(run: RunInfo, title: string, badges: string[]): HTMLElement {
  return el(
    "header",
    { class: "top" },
    el("h1", {}, title),
    el("span", { class: "run" }, run.name),
    el("span", {}, ...badges.map((t) => el("span", { class: "badge" }, t))),
  );
}

class App {
  private steps: (number | null)[] = [];
  private stepIndex = 0;
  private refs: GroupRef[] = [];
  private handle = -1;
  private ticket = 0;
  private curves: Curves | null = null;
  private tree: TreeView;
  private strips: Strips;
  private controls: Controls;
  private summary = el("div", { class: "summary" });
  private status = el("div");

  constructor(
    private source: Source,
    private app: HTMLElement,
    private mode: "server" | "report",
    private state: State,
  ) {
    this.tree = new TreeView(state);
    this.strips = new Strips(state);
    this.controls = new Controls(
      state,
      {
        setStepIndex: (i) => this.setStepIndex(i),
        stepIndex: () => this.stepIndex,
        showGroup: (h) => this.showGroup(h),
        search: (q, go) => this.runSearch(q, go),
      },
      (i) => this.stepName(this.steps[i]),
      [this.tree.zoomControls],
    );
  }

  async start(): Promise<void> {
    const run = this.state.run;
    const objective = run.lambda === null ? null : run.lambda ? "trained with \u03bb-GRPO" : "trained with GRPO";
    this.app.append(
      header(run, this.mode === "report" ? "\u03bb-GRPO report" : "\u03bb-GRPO viewer", [
        `${run.steps.length} step${run.steps.length === 1 ? "" : "s"}`,
        `${run.groups} groups`,
        `loss_type ${run.lossType}`,
        `scale_rewards ${run.scaleRewards}`,
        ...(objective ? [objective] : []),
        ...(run.tokenText === "tokenizer" ? [`token text: ${run.tokenizer ?? "tokenizer"}`] : run.tokenText === "tree env" ? ["tokens: the tree env's L / R"] : []),
      ]),
    );
    if (run.subset) this.app.append(el("p", { class: "note" }, run.subset));

    const metrics = run.hasMetrics ? await this.source.metrics() : null;
    if (metrics && metrics.keys.length > 0) {
      this.state.smoothing = defaultSmoothing(metrics.step.length);
      this.curves = new Curves(metrics, this.state, (step) => void this.goToStep(step));
      this.app.append(this.curves.root);
    }

    const browser = el("section", { id: "groups" });
    browser.append(
      el("h2", {}, "Group browser: the prefix tree B(G)"),
      el(
        "p",
        { class: "note" },
        "One box per process step (a maximal run of tokens shared by the same trajectories) with its tokens, " +
          "|\u03bb| (trajectories through it), process reward R (their mean reward) and process advantage A. " +
          "Long spans show their first and last tokens, with their length above the box. Drag to pan, wheel to zoom; " +
          "hover a step to see its trajectories below, click it for its whole text; hover a completion below to see its path.",
      ),
      this.controls.root,
      this.summary,
      this.status,
      this.tree.root,
      this.tree.legendBox,
      this.tree.detail,
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
    this.controls.slider.max = String(Math.max(0, this.steps.length - 1));
    this.controls.slider.disabled = this.steps.length <= 1;
  }

  /** A live run grows: pick up new steps and metrics every few seconds while the page is visible. */
  private poll(): void {
    let metricRows = -1;
    window.setInterval(async () => {
      if (document.hidden) return;
      try {
        const run = await this.source.run();
        if (run.groups !== this.state.run.groups) {
          this.state.run = run;
          this.setSteps(run);
          this.controls.setRunMax(run.maxAbsAdvantage);
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
    this.controls.slider.value = String(i);
    this.controls.stepLabel.textContent = this.stepName(step);
    this.curves?.mark(step);
    const keep = this.refs.find((r) => r.handle === this.handle)?.index ?? 0;
    this.refs = await this.source.groups(step);
    this.controls.groupSelect.replaceChildren(...this.refs.map((r) => el("option", { value: String(r.handle) }, `${r.id}`)));
    if (showFirst && this.refs.length > 0) {
      // Stay on the same group position when moving between steps.
      await this.showGroup(this.refs[Math.min(keep, this.refs.length - 1)].handle);
    }
  }

  private async runSearch(q: string, go: boolean): Promise<void> {
    if (q === "") return;
    const hits = await this.source.search(q);
    this.controls.searchList.replaceChildren(...hits.map((r) => el("option", { value: String(r.id) }, `step ${this.stepName(r.step)}`)));
    if (!go) return;
    const hit = hits.find((r) => String(r.id) === q) ?? (hits.length === 1 ? hits[0] : undefined);
    if (hit === undefined) {
      this.status.replaceChildren(el("p", { class: "note" }, `No group with id '${q}'${hits.length > 1 ? ` (${hits.length} contain it)` : ""}.`));
      return;
    }
    await this.openRef({ step: hit.step, id: String(hit.id) });
  }

  async showGroup(handle: number): Promise<void> {
    if (handle < 0) return;
    const ticket = ++this.ticket;
    this.handle = handle;
    this.controls.groupSelect.value = String(handle);
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
    this.state.view = view;
    this.state.emit("view", view);
    document.body.setAttribute("data-group", String(view.id));
  }
}

/** A sweep folder: the overlaid curves, one cell at a time. */
async function startSweep(source: Source, app: HTMLElement, state: State): Promise<void> {
  const sweep = await source.sweep();
  app.append(header(state.run, "\u03bb-GRPO viewer", [`sweep of ${sweep.runs.length} runs`, `${sweep.cells.length} cells`, ...(sweep.results ? ["results.json"] : [])]));
  const first = sweep.runs.length > 0 ? await source.sweepMetrics(sweep.runs[0].handle) : null;
  state.smoothing = defaultSmoothing(first?.step.length ?? 0);
  const curves = new SweepCurves(sweep, source, state);
  app.append(curves.root, tooltip);
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(() => curves.resize(), 150);
  });
  await curves.draw();
}

async function main(): Promise<void> {
  const app = document.getElementById("app")!;
  const embedded = document.getElementById("lgrpo-data");
  const source = embedded ? reportSource(JSON.parse(embedded.textContent ?? "null") as ReportData) : serverSource();
  try {
    const state = new State(await source.run());
    if (state.run.kind === "sweep") await startSweep(source, app, state);
    else await new App(source, app, embedded ? "report" : "server", state).start();
    document.body.setAttribute("data-ready", "1");
  } catch (err) {
    app.append(el("p", { class: "error" }, `The viewer could not start: ${(err as Error).message}`));
    throw err;
  }
}

void main();
