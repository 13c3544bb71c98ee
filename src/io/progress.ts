/**
 * Progress for long runs: a cli-progress bar on stderr when stderr is a terminal, nothing at all otherwise
 * (pipes, CI logs, tests) or when the user passed --quiet.
 *
 *   const progress = createProgress({ label: "prm", total: fileBytes, unit: "bytes", quiet });
 *   for (...) progress.update(bytesRead, { groups });
 *   progress.stop();
 *
 * `update` is cheap to call per record: it redraws at most every REDRAW_MS.
 */
import cliProgress from "cli-progress";
import { stderrWritable } from "./stdio.js";

export interface Progress {
  /** Sets the current value (bytes or items, per `unit`); `counts` are shown after it, e.g. { groups: 12 }. */
  update(value: number, counts?: Record<string, number>): void;
  /** Draws the final state and ends the line (idempotent). */
  stop(): void;
}

export interface ProgressOptions {
  /** Shown before the bar, e.g. the command name or "pass 1/2". */
  label: string;
  /** The value at completion; 0 or undefined when unknown (stdin): then only the count is shown. */
  total?: number;
  unit?: "bytes" | "items";
  quiet?: boolean;
  /** Where to draw; defaults to process.stderr. A bar is drawn only if this is a TTY. */
  stream?: NodeJS.WriteStream;
}

/** A terminal redraw costs far more than a record; 10 per second reads as smooth. */
const REDRAW_MS = 100;

const SILENT: Progress = { update() {}, stop() {} };

export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}

/** Whether a bar is drawn: on a terminal, without --quiet (a command may print plain lines instead elsewhere). */
export function drawsBar(quiet = false, stream: NodeJS.WriteStream = process.stderr): boolean {
  return !quiet && Boolean(stream.isTTY);
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  if (!drawsBar(options.quiet, stream)) return SILENT;
  const total = options.total && options.total > 0 ? options.total : 0;
  const fmt = (v: number): string => (options.unit === "bytes" ? formatBytes(v) : v.toLocaleString("en-US"));
  let counts: Record<string, number> = {};
  const countText = (): string =>
    Object.entries(counts)
      .map(([k, v]) => `${v.toLocaleString("en-US")} ${k}`)
      .join(", ");
  const bar = new cliProgress.SingleBar(
    {
      stream,
      fps: 1000 / REDRAW_MS,
      hideCursor: true,
      clearOnComplete: false,
      format: (opts, params) => {
        const extra = countText();
        if (total === 0) return `${options.label} ${fmt(params.value)}${extra ? ` | ${extra}` : ""}`;
        const width = opts.barsize ?? 30;
        const done = Math.round(Math.min(1, params.progress) * width);
        const eta = Number.isFinite(params.eta) && params.value > 0 ? ` | ETA ${params.eta}s` : "";
        return (
          `${options.label} [${"=".repeat(done)}${" ".repeat(width - done)}] ${Math.floor(params.progress * 100)}% ` +
          `| ${fmt(params.value)} / ${fmt(total)}${extra ? ` | ${extra}` : ""}${eta}`
        );
      },
      barsize: 30,
    },
    cliProgress.Presets.legacy,
  );
  bar.start(total || 1, 0);
  let last = 0;
  let latest = 0;
  let stopped = false;
  return {
    update(value, newCounts) {
      if (newCounts) counts = newCounts;
      latest = value;
      if (!stderrWritable()) return;
      const now = Date.now();
      if (now - last < REDRAW_MS) return;
      last = now;
      bar.update(value);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (!stderrWritable()) return;
      bar.update(latest);
      bar.stop();
    },
  };
}
