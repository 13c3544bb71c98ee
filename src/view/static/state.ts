/**
 * The one state object the page's views share: what is shown (run, step, group), the display choices
 * (colour scale, smoothing), and what the pointer is on. A view reads it and listens for the changes it
 * draws; it never reaches into another view.
 */
import type { CompletionView, GroupView, StepView } from "../groupView.js";
import type { RunInfo } from "../server.js";
import { niceMax } from "./colour.js";

/** The process advantage's colour domain: rescaled to each group, or held at the run's largest |A|. */
export type ColourScale = "group" | "run";

/** Smallest colour domain of A: below it, near-zero advantages would be drawn as strong colours. */
const A_DOMAIN_FLOOR = 0.5;

/**
 * Default EMA smoothing of the run curves (weight of the past, TensorBoard's convention). Short runs are
 * drawn raw; longer ones at TensorBoard's default, a per-step reward of 16 samples being noisy.
 */
export function defaultSmoothing(steps: number): number {
  return steps < 30 ? 0 : 0.6;
}

interface Events {
  view: GroupView;
  colour: ColourScale;
  smoothing: number;
  hoverStep: StepView | null;
  hoverCompletion: CompletionView | null;
  pickStep: StepView | null;
}

export class State {
  view: GroupView | null = null;
  colourScale: ColourScale = "group";
  smoothing = 0;
  private listeners = new Map<keyof Events, ((v: never) => void)[]>();

  constructor(public run: RunInfo) {}

  on<K extends keyof Events>(event: K, fn: (v: Events[K]) => void): void {
    const list = this.listeners.get(event) ?? [];
    list.push(fn as (v: never) => void);
    this.listeners.set(event, list);
  }

  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const fn of this.listeners.get(event) ?? []) (fn as (v: Events[K]) => void)(value);
  }

  /** The colour domain [-m, m] of A for `view` under the chosen scale. */
  aDomain(view: GroupView): number {
    if (this.colourScale === "run" && this.run.maxAbsAdvantage !== null) return niceMax(this.run.maxAbsAdvantage, A_DOMAIN_FLOOR);
    let maxA = 0;
    for (const s of view.steps) maxA = Math.max(maxA, Math.abs(s.processAdvantage));
    return niceMax(maxA, A_DOMAIN_FLOOR);
  }
}
