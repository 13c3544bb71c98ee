/**
 * `lambda-grpo toy [--preset small|gpt2-small] [--seeds 5] [--steps 250] [--out DIR] [--jobs N] [--json]`:
 * the paper's toy sweep (src/rl/toy.ts). Prints the table of target rates (ours beside the paper's), writes
 * DIR/results.json, DIR/report.html (offline) and one run directory per run under DIR/runs/.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { prepareOutputs } from "../io/outputs.js";
import { createProgress } from "../io/progress.js";
import { toyReportHtml } from "../report/toy.js";
import { formatSpeedTable, formatTable, lastRate, runToy, summarise, TOY_PRESETS, type ToyOptions, type ToyPreset } from "../rl/toy.js";
import { cannotWrite } from "../util/errors.js";
import { choiceOption, intOption, parseCommand, usageError } from "./args.js";

/** The paper's sweep: 5 seeds per cell, 250 steps per run (PAPER.md section 4). */
const DEFAULT_SEEDS = 5;
const DEFAULT_STEPS = 250;

const USAGE = `usage: lambda-grpo toy [options]

Runs the paper's toy sweep: n in {1, 2} x r_neg in {-0.5, -1.0, -1.5} x {GRPO, lambda-GRPO} x seeds,
group size 16, and prints the target rate over the last 50 steps beside the paper's numbers.

options:
  --preset NAME   small (default: 2-layer width-64 GPT-2, minutes on 2 cores) or gpt2-small (124M, hours)
  --seeds N       seeds per cell and algorithm (default ${DEFAULT_SEEDS})
  --steps N       steps per run (default ${DEFAULT_STEPS})
  --out DIR       output folder (default runs/toy-<preset>)
  --jobs N        worker threads (default: all cores)
  --resume        the folder holds this sweep, cut short: keep its finished runs, run the rest
  --overwrite     the folder holds a sweep: replace it
  --json          print results.json to stdout instead of the table
  -q, --quiet     no progress output
  -h, --help      this text`;

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      preset: { type: "string" },
      seeds: { type: "string" },
      steps: { type: "string" },
      out: { type: "string" },
      jobs: { type: "string" },
      json: { type: "boolean" },
      resume: { type: "boolean" },
      overwrite: { type: "boolean" },
      quiet: { type: "boolean", short: "q" },
    },
    USAGE,
  );
  if (!parsed) return;
  const { values, positionals } = parsed;
  if (positionals.length) throw usageError("toy", `unexpected argument '${positionals[0]}'`);
  const preset = choiceOption("preset", values.preset, Object.keys(TOY_PRESETS) as ToyPreset[]) ?? "small";
  const outDir = values.out ?? join("runs", `toy-${preset}`);
  if (values.resume && values.overwrite) throw usageError("toy", "--resume and --overwrite exclude each other");
  const opts: ToyOptions = {
    preset,
    seeds: intOption("seeds", values.seeds, DEFAULT_SEEDS),
    steps: intOption("steps", values.steps, DEFAULT_STEPS),
    outDir,
    jobs: values.jobs === undefined ? undefined : intOption("jobs", values.jobs, 1),
    existing: values.resume ? "resume" : values.overwrite ? "overwrite" : "refuse",
  };
  const results = join(outDir, "results.json");
  const report = join(outDir, "report.html");
  await prepareOutputs({ outputs: [{ option: "--out", path: results }, { option: "--out", path: report }] });
  try {
    await mkdir(outDir, { recursive: true });
  } catch (err) {
    throw cannotWrite("--out", outDir, err);
  }

  const tty = Boolean(process.stderr.isTTY) && !values.quiet;
  const progress = createProgress({ label: "toy", total: 1, unit: "items", quiet: !tty });
  let bar: ReturnType<typeof createProgress> | null = null;
  opts.onProgress = (done, total) => {
    if (!tty) return;
    if (bar === null) {
      progress.stop();
      bar = createProgress({ label: "toy (steps)", total, unit: "items" });
    }
    bar.update(done);
  };
  opts.onRunDone = (run, result, finished, total) => {
    if (tty || values.quiet) return;
    console.error(
      `[${finished}/${total}] ${run.name}: target rate (last 50) ${lastRate(result.targetRate).toFixed(3)} (${result.seconds.toFixed(1)} s)`,
    );
  };
  if (!values.quiet) {
    console.error(`toy sweep: preset ${preset}, ${opts.seeds} seeds, ${opts.steps} steps -> ${outDir}`);
  }
  let out;
  try {
    out = await runToy(opts);
  } finally {
    progress.stop();
    (bar as ReturnType<typeof createProgress> | null)?.stop();
  }
  const summary = summarise(opts, out);
  await writeFileAtomic(results, JSON.stringify(summary, null, 2) + "\n");
  await writeFileAtomic(report, toyReportHtml(summary));
  if (values.json) {
    console.log(JSON.stringify(summary, null, 2));
  } else {
    console.log(`Target rate over the last ${summary.last_steps} steps, mean +- std over ${summary.seeds.length} seeds (preset ${preset}, ${summary.steps} steps):\n`);
    console.log(formatTable(summary));
    console.log(`\nStep at which the target rate (10-step average) first reaches 0.5, per seed ("-": never):\n`);
    console.log(formatSpeedTable(summary));
    const ran = out.kept > 0 ? `${out.runs.length - out.kept} runs (${out.kept} kept from before)` : `${out.runs.length} runs`;
    console.log(`\n${ran} on ${out.workers} worker threads in ${out.wallSeconds.toFixed(1)} s; ${results}, ${report}`);
  }
}
