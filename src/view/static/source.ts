/** Where the page's data comes from: the local server's JSON API, or the report's embedded data. */
import type { GroupView } from "../groupView.js";
import type { MetricsColumns } from "../metrics.js";
import type { GroupRef, RunInfo } from "../server.js";
import type { SweepInfo } from "../sweep.js";

/** A sweep as the page gets it (the server keeps the folder's path to itself). */
export type SweepPage = Omit<SweepInfo, "dir">;

/** The report's embedded data (src/view/report.ts writes it). */
export interface ReportData {
  run: RunInfo;
  metrics: MetricsColumns | null;
  groups: GroupRef[];
  views: GroupView[];
}

export interface Source {
  run(): Promise<RunInfo>;
  metrics(): Promise<MetricsColumns | null>;
  groups(step: number | null): Promise<GroupRef[]>;
  group(handle: number): Promise<GroupView>;
  search(q: string): Promise<GroupRef[]>;
  /** A sweep folder (run().kind "sweep"): its runs, and one run's metrics by handle. */
  sweep(): Promise<SweepPage>;
  sweepMetrics(run: number): Promise<MetricsColumns | null>;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      msg = ((await res.json()) as { error?: string }).error ?? msg;
    } catch {
      // not JSON
    }
    throw new Error(msg);
  }
  return (await res.json()) as T;
}

const stepQuery = (step: number | null): string => (step === null ? "none" : String(step));

export function serverSource(): Source {
  return {
    run: () => getJson<RunInfo>("/api/run"),
    metrics: () => getJson<MetricsColumns | null>("/api/metrics"),
    groups: (step) => getJson<GroupRef[]>(`/api/groups?step=${stepQuery(step)}`),
    group: (handle) => getJson<GroupView>(`/api/group?handle=${handle}`),
    search: (q) => getJson<GroupRef[]>(`/api/search?q=${encodeURIComponent(q)}`),
    sweep: () => getJson<SweepPage>("/api/sweep"),
    sweepMetrics: (run) => getJson<MetricsColumns | null>(`/api/sweep/metrics?run=${run}`),
  };
}

export function reportSource(data: ReportData): Source {
  const views = new Map(data.views.map((v) => [v.handle, v]));
  return {
    run: async () => data.run,
    metrics: async () => data.metrics,
    groups: async (step) => data.groups.filter((g) => g.step === step),
    group: async (handle) => {
      const v = views.get(handle);
      if (v === undefined) throw new Error(`group ${handle} is not in this report`);
      return v;
    },
    search: async (q) => {
      const ql = q.toLowerCase();
      return data.groups.filter((g) => String(g.id).toLowerCase().includes(ql)).slice(0, 50);
    },
    sweep: async () => {
      throw new Error("a report holds one run, not a sweep");
    },
    sweepMetrics: async () => null,
  };
}
