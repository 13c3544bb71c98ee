/**
 * The viewer as one self-contained offline HTML file: the run's curves (every step) and the group browser
 * over an embedded subset of the groups.
 *
 * Which groups: every group of `steps` training steps spread evenly over the run (the first and the last
 * always among them), because a reader compares trees across training (overlap grows as the policy
 * converges, PAPER.md section 2). Whole steps are added, first and last first, then the middle ones, until
 * the embedded data would pass `maxBytes`; at least one group is always embedded. With the defaults (8 steps,
 * 24 MB) the toy runs fit whole steps easily; a 36 x 1,000-token run embeds ~100 groups.
 */
import { writeFileAtomic } from "../io/atomic.js";
import type { LossType } from "../prm/index.js";
import { cannotWrite, UserError } from "../util/errors.js";
import { evenlySpaced } from "../util/spread.js";
import type { GroupView } from "./groupView.js";
import { reportPage } from "./page.js";
import { RunData, type GroupRef, type RunInfo } from "./server.js";

export const DEFAULT_REPORT_STEPS = 8;
export const DEFAULT_REPORT_BYTES = 24 * 1024 * 1024;

export interface ReportOptions {
  /** Number of training steps whose groups are embedded (default DEFAULT_REPORT_STEPS). */
  steps?: number;
  /** Budget for the embedded groups' JSON (default DEFAULT_REPORT_BYTES). */
  maxBytes?: number;
  tokenizer?: string;
  lossType?: LossType;
}

/** The embedded data (read by static/viewer.ts as ReportData). */
export interface ReportData {
  run: RunInfo;
  metrics: Awaited<ReturnType<NonNullable<RunData["metrics"]>["get"]>>;
  groups: GroupRef[];
  views: GroupView[];
}

/** `count` of `all` (sorted), spread evenly, in the order to add them: first, last, then the middle ones. */
export function pickSteps<T>(all: T[], count: number): T[] {
  const picked = evenlySpaced(all, count);
  return picked.length <= 2 ? picked : [picked[0], picked[picked.length - 1], ...picked.slice(1, -1)];
}

export async function buildReportData(path: string, opts: ReportOptions = {}): Promise<{ data: ReportData; bytes: number; skipped: number }> {
  const count = opts.steps ?? DEFAULT_REPORT_STEPS;
  const maxBytes = opts.maxBytes ?? DEFAULT_REPORT_BYTES;
  if (!Number.isInteger(count) || count < 1) throw new UserError(`--steps: expected an integer >= 1, got ${count}`);
  if (!(maxBytes > 0)) throw new UserError(`--max-mb: expected a positive number, got ${maxBytes / 2 ** 20}`);
  const run = await RunData.open(path, { tokenizer: opts.tokenizer, lossType: opts.lossType });
  const info = run.info();
  const order = pickSteps(run.index.steps, count);
  const chosen: (number | null)[] = [];
  const groups: GroupRef[] = [];
  const views: GroupView[] = [];
  let bytes = 0;
  let skipped = 0;
  for (const step of order) {
    const refs = run.groupsOf(step);
    const stepViews: GroupView[] = [];
    const sizes: number[] = [];
    for (const ref of refs) {
      const v = await run.group(ref.handle);
      stepViews.push(v);
      sizes.push(JSON.stringify(v).length);
    }
    let stepBytes = sizes.reduce((a, b) => a + b, 0);
    if (bytes + stepBytes > maxBytes && views.length > 0) {
      skipped += 1;
      continue;
    }
    let kept = refs.length;
    if (bytes + stepBytes > maxBytes) {
      // Not even the first step fits: embed as many of its groups as do (at least one).
      kept = 0;
      let b = 0;
      while (kept < refs.length && (kept === 0 || b + sizes[kept] <= maxBytes)) {
        b += sizes[kept];
        kept += 1;
      }
      stepBytes = b;
    }
    chosen.push(step);
    groups.push(...refs.slice(0, kept));
    views.push(...stepViews.slice(0, kept));
    bytes += stepBytes;
  }
  chosen.sort((a, b) => (a ?? -1) - (b ?? -1));
  const stepsText = chosen.map((s) => (s === null ? "(no step)" : String(s))).join(", ");
  const total = info.steps.length;
  const subset =
    `This report embeds ${groups.length} of the run's ${info.groups} groups: ` +
    `${chosen.length === total ? "every step" : `the groups of ${chosen.length} of ${total} steps (${stepsText})`}` +
    `${info.hasMetrics ? "; the run curves cover every step" : ""}. ` +
    "Run 'lambda-grpo view' on the run to browse all of it.";
  const metrics = run.metrics ? await run.metrics.get() : null;
  const groupCount = new Map<number | null, number>();
  for (const g of groups) groupCount.set(g.step, (groupCount.get(g.step) ?? 0) + 1);
  const data: ReportData = {
    run: { ...info, steps: chosen.map((step) => ({ step, groups: groupCount.get(step) ?? 0 })), groups: groups.length, subset },
    metrics,
    groups,
    views,
  };
  return { data, bytes, skipped };
}

/** Write the report; returns what it embeds, for the command's summary line. */
export async function writeReport(path: string, out: string, opts: ReportOptions = {}): Promise<{ groups: number; steps: number; bytes: number }> {
  const { data } = await buildReportData(path, opts);
  const html = await reportPage(`lambda-grpo report · ${data.run.name}`, data);
  try {
    await writeFileAtomic(out, html);
  } catch (err) {
    throw cannotWrite("--out", out, err);
  }
  return { groups: data.groups.length, steps: data.run.steps.length, bytes: Buffer.byteLength(html) };
}
