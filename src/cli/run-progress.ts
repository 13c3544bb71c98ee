/**
 * What a command that trains into output_dir (train, sft) shows while it runs, on stderr: its first line (a
 * fresh start or a resume), a bar with the step's figures on a terminal or plain lines with the elapsed time
 * and ETA otherwise, and `done: DIR (S s)` at the end; nothing of it with --quiet.
 */
import { createProgress, drawsBar, type Progress } from "../io/progress.js";

export class RunProgress {
  private readonly bar: Progress;
  private readonly tty: boolean;
  private readonly started = performance.now();
  /** The step the run starts from: 0, or its checkpoint's on --resume (set by `start`). */
  startStep = 0;

  constructor(
    label: string,
    /** The run's last step. */
    private readonly total: number,
    private readonly outputDir: string,
    private readonly quiet: boolean,
  ) {
    this.tty = drawsBar(quiet);
    this.bar = createProgress({ label, total, unit: "items", quiet });
  }

  /** `resuming DIR at step N: WHAT`, or `FRESH WHAT -> DIR` (fresh: e.g. "training"). */
  start(startStep: number, fresh: string, what: string): void {
    this.startStep = startStep;
    if (this.quiet) return;
    console.error(startStep > 0 ? `resuming ${this.outputDir} at step ${startStep}: ${what}` : `${fresh} ${what} -> ${this.outputDir}`);
  }

  /**
   * Step `step` done: on a terminal the bar shows `figures` (to 3 decimals); elsewhere `line` (given on the steps
   * that print one) is printed with the elapsed time and the ETA from the pace since the start.
   */
  step(step: number, figures: Record<string, number>, line?: () => string): void {
    if (this.quiet) return;
    if (this.tty) {
      this.bar.update(step, Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Math.round(v * 1000) / 1000])));
    } else if (line) {
      const elapsed = this.seconds();
      const eta = (elapsed / (step - this.startStep)) * (this.total - step);
      console.error(`${line()} | ${elapsed.toFixed(1)} s, ETA ${eta.toFixed(0)} s`);
    }
  }

  done(): void {
    this.bar.stop();
    if (!this.quiet) console.error(`done: ${this.outputDir} (${this.seconds().toFixed(1)} s)`);
  }

  private seconds(): number {
    return (performance.now() - this.started) / 1000;
  }
}
