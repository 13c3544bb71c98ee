/**
 * `lambda-grpo toy [--preset small|gpt2-small | --model DIR] [--seeds 5] [--steps 250] [--out DIR] [--jobs N]
 * [--json]`: the paper's toy sweep (src/rl/toy.ts), on a preset or on a user's pretrained model
 * (src/rl/toy-model.ts). Prints the table of target rates (ours beside the paper's), writes DIR/results.json,
 * DIR/report.html (offline) and one run directory per run under DIR/runs/.
 */
import { mkdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { createProgress, drawsBar } from "../io/progress.js";
import { toyReportHtml } from "../report/toy.js";
import { TOY_MODEL_LEARNING_RATE, TOY_PROMPT, toyModel } from "../rl/toy-model.js";
import { formatSpeedTable, formatTable, lastRate, runToy, summarise, TOY_PRESETS, type ToyOptions, type ToyPreset } from "../rl/toy.js";
import { cannotWrite } from "../util/errors.js";
import { choiceOption, experimentOutputs, EXPERIMENT_OPTIONS, intOption, jobsOption, numberOption, parseCommand, usageError } from "./args.js";

/** The paper's sweep: 5 seeds per cell, 250 steps per run (PAPER.md section 4). */
const DEFAULT_SEEDS = 5;
const DEFAULT_STEPS = 250;

const USAGE = `usage: lambda-grpo toy [options]

Runs the paper's toy sweep: n in {1, 2} x r_neg in {-0.5, -1.0, -1.5} x {GRPO, lambda-GRPO} x seeds,
group size 16, and prints the target rate over the last 50 steps beside the paper's numbers.

options:
  --preset NAME   small (default: 2-layer width-64 GPT-2, minutes on 2 cores) or gpt2-small (124M, hours)
  --model DIR     instead of a preset: a pretrained Hugging Face directory (config.json, model.safetensors,
                  tokenizer.json; GPT-2, Llama 3, Qwen2 or Qwen3); the actions are its tokens "L" and "R"
  --learning-rate X
                  with --model: the one rate of every run and both algorithms (default ${TOY_MODEL_LEARNING_RATE.toExponential()}, the authors')
  --prompt TEXT   with --model: the text after the model's bos token (default ${JSON.stringify(TOY_PROMPT)})
  --seeds N       seeds per cell and algorithm (default ${DEFAULT_SEEDS})
  --steps N       steps per run (default ${DEFAULT_STEPS})
  --out DIR       output folder (default runs/toy-<preset>, or runs/toy-<name of DIR> with --model)
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
      model: { type: "string" },
      "learning-rate": { type: "string" },
      prompt: { type: "string" },
      seeds: { type: "string" },
      steps: { type: "string" },
      resume: { type: "boolean" },
      ...EXPERIMENT_OPTIONS,
    },
    USAGE,
    false,
  );
  if (!parsed) return;
  const { values } = parsed;
  if (values.model !== undefined && values.preset !== undefined) throw usageError("toy", "--model and --preset exclude each other");
  for (const flag of ["learning-rate", "prompt"] as const) {
    if (values[flag] !== undefined && values.model === undefined) throw usageError("toy", `--${flag} is for --model (a preset's settings are fixed)`);
  }
  const preset = choiceOption("preset", values.preset, Object.keys(TOY_PRESETS) as ToyPreset[]) ?? "small";
  const model = values.model === undefined ? undefined : await toyModel(values.model, values.prompt ?? TOY_PROMPT);
  const outDir = values.out ?? join("runs", `toy-${model ? basename(resolve(model.dir)) : preset}`);
  if (values.resume && values.overwrite) throw usageError("toy", "--resume and --overwrite exclude each other");
  const opts: ToyOptions = {
    preset,
    model,
    hyperparameters: values["learning-rate"] === undefined ? undefined : { learning_rate: numberOption("learning-rate", values["learning-rate"], 0, 0, true) },
    seeds: intOption("seeds", values.seeds, DEFAULT_SEEDS),
    steps: intOption("steps", values.steps, DEFAULT_STEPS),
    outDir,
    jobs: jobsOption(values.jobs),
    existing: values.resume ? "resume" : values.overwrite ? "overwrite" : "refuse",
  };
  const { results, report } = await experimentOutputs(outDir);
  try {
    await mkdir(outDir, { recursive: true });
  } catch (err) {
    throw cannotWrite("--out", outDir, err);
  }

  const tty = drawsBar(values.quiet);
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
    const on = model ? `model ${model.dir} (actions "L" = ${model.left}, "R" = ${model.right}; prompt of ${model.prompt.length} tokens)` : `preset ${preset}`;
    console.error(`toy sweep: ${on}, ${opts.seeds} seeds, ${opts.steps} steps -> ${outDir}`);
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
    console.log(`Target rate over the last ${summary.last_steps} steps, mean +- std over ${summary.seeds.length} seeds (${model ? `model ${model.dir}` : `preset ${preset}`}, ${summary.steps} steps):\n`);
    console.log(formatTable(summary));
    console.log(`\nStep at which the target rate (10-step average) first reaches 0.5, per seed ("-": never):\n`);
    console.log(formatSpeedTable(summary));
    const ran = out.kept > 0 ? `${out.runs.length - out.kept} runs (${out.kept} kept from before)` : `${out.runs.length} runs`;
    console.log(`\n${ran} on ${out.workers} worker threads in ${out.wallSeconds.toFixed(1)} s; ${results}, ${report}`);
  }
}
