/**
 * A run's metrics.jsonl (docs/CONTRACTS.md: one object per step) as columns for the run curves.
 */
import { basename } from "node:path";
import { stat } from "node:fs/promises";
import { readJsonl } from "../io/jsonl.js";
import { inputError } from "../util/errors.js";

/** Columns of metrics.jsonl: `step` and one series per numeric field (null where a row lacks it). */
export interface MetricsColumns {
  step: number[];
  /** Field names, in display order: the trainer's figures, then the environment's (`env/...`), then others. */
  keys: string[];
  series: Record<string, (number | null)[]>;
}

/** Display order of the known fields of metrics.jsonl; unknown numeric fields follow. */
export const METRIC_ORDER = [
  "reward_mean",
  "reward_std",
  "kl",
  "loss",
  "path_depth_mean",
  "intermediate_proportion_mean",
  "flat_fraction",
  "clip_fraction",
  "entropy",
  "completion_length_mean",
  "grad_norm",
  "learning_rate",
  "seconds",
];

export async function readMetrics(path: string): Promise<MetricsColumns> {
  const file = basename(path);
  const rows: { step: number; values: Map<string, number> }[] = [];
  const seen = new Set<string>();
  for await (const { value, line } of readJsonl(path, file)) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw inputError(file, line, null, "expected a JSON object (one per step)");
    }
    const obj = value as Record<string, unknown>;
    const step = obj.step;
    if (typeof step !== "number" || !Number.isFinite(step)) {
      throw inputError(file, line, "step", `expected a number, got ${JSON.stringify(step)}`);
    }
    const values = new Map<string, number>();
    for (const [k, v] of Object.entries(obj)) {
      if (k === "step" || typeof v !== "number" || !Number.isFinite(v)) continue;
      values.set(k, v);
      seen.add(k);
    }
    rows.push({ step, values });
  }
  rows.sort((a, b) => a.step - b.step);
  const rank = (k: string): number => {
    const i = METRIC_ORDER.indexOf(k);
    return i >= 0 ? i : k.startsWith("env/") ? METRIC_ORDER.length : METRIC_ORDER.length + 1;
  };
  const keys = [...seen].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const series: Record<string, (number | null)[]> = {};
  for (const k of keys) series[k] = rows.map((r) => r.values.get(k) ?? null);
  return { step: rows.map((r) => r.step), keys, series };
}

/** readMetrics, re-read only when the file's size or mtime changed (a live run appends a line per step). */
export class MetricsCache {
  private key = "";
  private value: MetricsColumns | null = null;
  constructor(private readonly path: string) {}

  async get(): Promise<MetricsColumns | null> {
    let info;
    try {
      info = await stat(this.path);
    } catch {
      return null;
    }
    const key = `${info.size}:${info.mtimeMs}`;
    if (this.value === null || key !== this.key) {
      this.value = await readMetrics(this.path);
      this.key = key;
    }
    return this.value;
  }
}
