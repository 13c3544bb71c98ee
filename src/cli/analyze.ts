/**
 * `lambda-grpo analyze <in.jsonl> [--json summary.json] [--report report.html]`: prefix-overlap metrics of
 * rollout groups (path depth, intermediate proportion, flat trees; PAPER.md section 2), overall and per step.
 *
 * Streams the input (one group in memory at a time, plus one number per completion for the medians), prints
 * a readable summary to stdout, and writes the JSON summary and a self-contained HTML report atomically.
 */
import { writeFileAtomic } from "../io/atomic.js";
import type { RolloutInput } from "../io/formats/index.js";
import { prepareOutputs, rolloutSourceFiles } from "../io/outputs.js";
import { createProgress } from "../io/progress.js";
import { buildPrefixTree, OverlapStats, type OverlapSummary } from "../prm/index.js";
import { analyzeReportHtml, SUMMARY_HEADERS, summaryCells, type AnalyzeSummary } from "../report/analyze.js";
import { cannotWrite, UserError } from "../util/errors.js";
import { evenlySpaced } from "../util/spread.js";
import { onePositional, parseCommand } from "./args.js";
import { INPUT_OPTIONS, INPUT_USAGE, openInput, reportNotes } from "./input.js";

const USAGE = `usage: lambda-grpo analyze <rollouts | -> [--json summary.json] [--report report.html] [options]

Prefix-overlap metrics of rollout groups, overall and per step: groups, completions, tokens, fraction of
flat trees, path depth and intermediate proportion (mean and median over completions).

options:
  --json <file>        write the summary as JSON ({input, overall, steps: [...]})
  --report <file>      write a self-contained HTML report (tables and plots against step; works offline)
${INPUT_USAGE}
  -q, --quiet          no progress bar (it is shown only on a terminal anyway)
  -h, --help           this text`;

/** Steps printed in the terminal table at most; --json and --report always have every step. */
const MAX_PRINTED_STEPS = 30;

/** Reads a rollouts source and returns its overlap summary. */
async function analyzeRollouts(input: RolloutInput, quiet: boolean | undefined): Promise<AnalyzeSummary> {
  const stats = new OverlapStats();
  const bar = createProgress({ label: "analyze", total: input.size, unit: "bytes", quiet });
  let groups = 0;
  try {
    for await (const group of input.groups()) {
      stats.add(group.step, buildPrefixTree(group.completions.map((c) => c.tokens)));
      groups += 1;
      bar.update(group.bytesRead, { groups });
    }
  } finally {
    bar.stop();
  }
  reportNotes("analyze", input);
  if (groups === 0) throw new UserError(`${input.name}: no rollout groups (the input is empty)`);
  const { overall, steps } = stats.summary();
  return { input: input.name, format: input.format, notes: input.notes.lines(), overall, steps };
}

function textTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const fmt = (r: string[]): string => r.map((cell, c) => cell.padStart(widths[c])).join("  ");
  return [fmt(headers), ...rows.map(fmt)].join("\n");
}

const SHORT_HEADERS = ["groups", "completions", "tokens", "flat", "depth mean", "depth median", "interm. mean", "interm. median", "shared wt", "mean |lambda|"];

/** The readable summary printed to stdout. */
function summaryText(summary: AnalyzeSummary): string {
  const o: OverlapSummary = summary.overall;
  const cells = summaryCells(o);
  const label = (i: number): string => SUMMARY_HEADERS[i].padEnd(32);
  const count = (n: number, what: string): string => `${n.toLocaleString("en-US")} ${what}${n === 1 ? "" : "s"}`;
  const lines = [
    `${summary.input}: ${count(o.groups, "group")}, ${count(o.completions, "completion")}, ${count(o.tokens, "token")}` +
      (summary.steps.length > 0 ? `, ${count(summary.steps.length, "step")}` : " (no steps)"),
    `${label(3)}${o.flatGroups} of ${count(o.groups, "group")} (${(100 * o.flatFraction).toFixed(1)}%)`,
    `${"path depth".padEnd(32)}mean ${cells[4]}, median ${cells[5]}`,
    `${"intermediate proportion".padEnd(32)}mean ${cells[6]}, median ${cells[7]}`,
    `${"GRPO weight on shared steps".padEnd(32)}${cells[8]} (|lambda| > 1; lambda-GRPO divides it by |lambda|)`,
    `${"token-weighted mean |lambda|".padEnd(32)}${cells[9]}`,
  ];
  if (summary.steps.length > 0) {
    const shown = evenlySpaced(summary.steps, MAX_PRINTED_STEPS);
    const note =
      shown.length < summary.steps.length ? `\n(${shown.length} of ${summary.steps.length} steps shown; --json and --report have them all)` : "";
    lines.push("", "per step:", textTable(["step", ...SHORT_HEADERS], shown.map((s) => [String(s.step), ...summaryCells(s)])) + note);
  }
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      json: { type: "string" },
      report: { type: "string" },
      ...INPUT_OPTIONS,
      quiet: { type: "boolean", short: "q" },
    },
    USAGE,
  );
  if (!parsed) return;
  const { values, positionals } = parsed;
  const path = onePositional("analyze", positionals, "input file");
  await prepareOutputs({
    ...rolloutSourceFiles(path, values.tokenizer),
    outputs: [{ option: "--json", path: values.json }, { option: "--report", path: values.report }],
  });
  const input = await openInput("analyze", path, values);
  const summary = await analyzeRollouts(input, values.quiet);

  // Render both before writing either, so a failure leaves neither half-done.
  const outputs: [string, string, string][] = [];
  if (values.json !== undefined) outputs.push(["--json", values.json, JSON.stringify(summary, null, 2) + "\n"]);
  if (values.report !== undefined) outputs.push(["--report", values.report, analyzeReportHtml(summary)]);
  for (const [option, file, text] of outputs) {
    try {
      await writeFileAtomic(file, text);
    } catch (err) {
      throw cannotWrite(option, file, err);
    }
  }
  console.log(summaryText(summary));
}
