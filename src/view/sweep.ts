/**
 * A sweep folder (what `lambda-grpo toy` writes: results.json and runs/<run>/ with each run's config.json
 * and metrics.jsonl) as the viewer overlays it: its runs grouped into cells, runs of one cell differing only
 * in seed and objective (GRPO or lambda-GRPO). Cells are found from the runs' configs, not from the toy's
 * names, so any sweep laid out this way (the reasoning sweep too) is read the same.
 *
 * The runs are listed once, at start; the page asks for a run's metrics by its handle (its position in that
 * list), so no request names a path.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { UserError } from "../util/errors.js";
import { MetricsCache, type MetricsColumns } from "./metrics.js";

export interface SweepRun {
  handle: number;
  name: string;
  /** From config.json's `lambda` (else the run's name): the objective, null when neither says. */
  algorithm: "grpo" | "lambda" | null;
  seed: number | null;
  /** The cell: the config fields in which this run's cell differs from the others, "k=v, ..." ("" for one cell). */
  cell: string;
}

export interface SweepInfo {
  name: string;
  dir: string;
  runs: SweepRun[];
  /** Cells in first-seen order. */
  cells: string[];
  /** Whether results.json is present (the toy's summary). */
  results: boolean;
}

/** Config fields that tell runs of one cell apart rather than cells: the objective, the seed, where it wrote. */
const WITHIN_CELL = new Set(["lambda", "seed", "output_dir"]);

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Dotted leaves of a config object: {"env": {"r_neg": -1}} -> [["env.r_neg", "-1"]]. */
function leaves(v: unknown, prefix: string, out: Map<string, string>): void {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix === "" ? k : `${prefix}.${k}`, out);
  } else if (!WITHIN_CELL.has(prefix)) out.set(prefix, JSON.stringify(v));
}

/** Whether `path` is a sweep folder: no run files of its own, and a runs/ folder of run directories. */
export async function isSweep(path: string): Promise<boolean> {
  const dir = resolve(path);
  if (!(await isDir(dir))) return false;
  if ((await isFile(join(dir, "rollouts.jsonl"))) || (await isFile(join(dir, "metrics.jsonl")))) return false;
  if (!(await isDir(join(dir, "runs")))) return false;
  for (const name of await readdir(join(dir, "runs"))) {
    if (await isFile(join(dir, "runs", name, "metrics.jsonl"))) return true;
  }
  return false;
}

export class SweepData {
  private constructor(
    readonly info: SweepInfo,
    private readonly metrics: MetricsCache[],
  ) {}

  static async open(path: string): Promise<SweepData> {
    const dir = resolve(path);
    const runsDir = join(dir, "runs");
    const names = (await readdir(runsDir)).sort();
    const found: { name: string; config: Record<string, unknown> | null; metrics: string }[] = [];
    for (const name of names) {
      const metrics = join(runsDir, name, "metrics.jsonl");
      if (!(await isFile(metrics))) continue;
      let config: Record<string, unknown> | null = null;
      const cp = join(runsDir, name, "config.json");
      if (await isFile(cp)) {
        try {
          config = JSON.parse(await readFile(cp, "utf8")) as Record<string, unknown>;
        } catch (err) {
          throw new UserError(`${cp}: malformed JSON (${(err as Error).message})`);
        }
      }
      found.push({ name, config, metrics });
    }
    if (found.length === 0) throw new UserError(`${path}: no run directories with a metrics.jsonl under runs/`);
    const fields = found.map((f) => {
      const m = new Map<string, string>();
      if (f.config) leaves(f.config, "", m);
      else m.set("run", JSON.stringify(f.name.replace(/_(grpo|lambda)(?=_|$)/, "").replace(/_?seed\d+$/, "")));
      return m;
    });
    const keys = [...new Set(fields.flatMap((m) => [...m.keys()]))];
    const varying = keys.filter((k) => new Set(fields.map((m) => m.get(k))).size > 1);
    const cells: string[] = [];
    const runs: SweepRun[] = found.map((f, handle) => {
      const cell = varying.map((k) => `${k}=${fields[handle].get(k) ?? "(unset)"}`).join(", ");
      if (!cells.includes(cell)) cells.push(cell);
      const lam = f.config?.lambda;
      const algorithm = typeof lam === "boolean" ? (lam ? "lambda" : "grpo") : /_lambda(_|$)/.test(f.name) ? "lambda" : /_grpo(_|$)/.test(f.name) ? "grpo" : null;
      const s = f.config?.seed;
      const m = /seed(\d+)/.exec(f.name);
      const seed = typeof s === "number" ? s : m ? Number(m[1]) : null;
      return { handle, name: f.name, algorithm, seed, cell };
    });
    const info: SweepInfo = { name: basename(dir), dir, runs, cells, results: await isFile(join(dir, "results.json")) };
    return new SweepData(info, found.map((f) => new MetricsCache(f.metrics)));
  }

  /** The metrics of run `handle` (null: no such run, or its file went away). */
  async runMetrics(handle: number): Promise<MetricsColumns | null> {
    const m = Number.isSafeInteger(handle) ? this.metrics[handle] : undefined;
    return m === undefined ? null : m.get();
  }
}
