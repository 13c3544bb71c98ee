/**
 * `lambda-grpo reasoning [--preset quick|full] [--out DIR] [--jobs N] [--overwrite] [--json] [--quiet]`: the
 * paper's downstream experiment and overlap study at this machine's scale (src/reasoning/experiment.ts,
 * docs/reasoning.md). Prints the table beside the paper's summary, writes results.json and report.html.
 * Run again with the same options, a killed sweep continues from its last checkpoints.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { createProgress, drawsBar, type Progress } from "../io/progress.js";
import { formatReasoningTable, reasoningReportHtml } from "../report/reasoning.js";
import { REASONING_PRESETS, runReasoning, type PresetName } from "../reasoning/experiment.js";
import { choiceOption, experimentOutputs, EXPERIMENT_OPTIONS, jobsOption, parseCommand } from "./args.js";

const USAGE = `usage: lambda-grpo reasoning [options]

Trains the base model (SFT of a small Llama from random init on the generated reasoning tasks), then GRPO
and lambda-GRPO x beta {0, 0.04} x seeds from it, evaluates the base and every run on five held-out sets,
and runs the overlap study (group sizes 6 and 36). Prints the table beside the paper's summary and writes
results.json and report.html. Rerun with the same options to continue a killed sweep.

options:
  --preset quick|full   quick (default): 1 seed, short runs, a weaker base (8 min here); full: 3 seeds (38 min here)
  --out DIR             output folder (default runs/reasoning-<preset>)
  --jobs N              runs at once (default: the machine's cores)
  --overwrite           replace a sweep with other settings in --out
  --json                print results.json instead of the table
  -q, --quiet           no progress output
  -h, --help            this text`;

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(argv, { preset: { type: "string" }, ...EXPERIMENT_OPTIONS }, USAGE, false);
  if (!parsed) return;
  const { values } = parsed;
  const preset = choiceOption("preset", values.preset, Object.keys(REASONING_PRESETS) as PresetName[]) ?? "quick";
  const out = values.out ?? join("runs", `reasoning-${preset}`);
  const { results, report } = await experimentOutputs(out);

  const quiet = values.quiet ?? false;
  const tty = drawsBar(quiet);
  let bar: { stage: string; progress: Progress } | null = null;
  const stopBar = (): void => {
    bar?.progress.stop();
    bar = null;
  };
  const log = (line: string): void => {
    if (quiet) return;
    stopBar();
    console.error(line);
  };
  let lastPlain = 0;
  const started = performance.now();
  if (!quiet) console.error(`reasoning: preset ${preset} -> ${out}`);
  let summary;
  try {
    summary = await runReasoning({
      preset,
      out,
      overwrite: values.overwrite,
      jobs: jobsOption(values.jobs),
      log,
      progress: (stage, done, total) => {
        if (quiet) return;
        if (tty) {
          if (bar?.stage !== stage) {
            stopBar();
            bar = { stage, progress: createProgress({ label: stage, total, unit: "items" }) };
          }
          bar.progress.update(done);
        } else if (performance.now() - lastPlain > 30_000) {
          lastPlain = performance.now();
          console.error(`${stage}: step ${done}/${total} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
        }
      },
    });
  } finally {
    stopBar();
  }
  await writeFileAtomic(report, reasoningReportHtml(summary));
  if (values.json) console.log(JSON.stringify(summary, null, 2));
  else console.log(formatReasoningTable(summary));
  if (!quiet) console.error(`${results}, ${report} (${summary.wall_seconds.toFixed(0)} s)`);
}

