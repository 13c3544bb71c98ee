/**
 * The paper's toy sweep (PAPER.md section 4): n in {1, 2} x r_neg in {-0.5, -1.0, -1.5} x {GRPO,
 * lambda-GRPO} x seeds, group size 16, 250 steps, the target rate over the last 50 steps. Every run is a
 * normal `train` run (its own run directory), and the runs go in parallel over worker threads.
 *
 * The hyperparameters are one set for both algorithms and all cells (TOY_PRESETS); docs/trainer.md says how
 * they were chosen. With `model` (a user's pretrained directory, src/rl/toy-model.ts) the same sweep runs on
 * it, its tokenizer's "L" and "R" as the actions.
 */
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { resolveConfig, type TrainConfig, type TrainConfigInput } from "./config.js";
import { validateEnv } from "./env/index.js";
import { TOY_MODEL_LEARNING_RATE, type ToyModel } from "./toy-model.js";
import { UserError } from "../util/errors.js";
import { meanStd } from "../util/stats.js";
import { runPool, workerSpawner, type PoolMessage } from "../util/workers.js";

/** The paper's table (PAPER.md section 4): target rate over the last 50 steps, mean over 5 seeds. */
export const PAPER_TABLE: { n: number; r_neg: number; grpo: number; lambda: number }[] = [
  { n: 1, r_neg: -0.5, grpo: 0.3995, lambda: 0.5663 },
  { n: 1, r_neg: -1.0, grpo: 0.0, lambda: 0.7535 },
  { n: 1, r_neg: -1.5, grpo: 0.2, lambda: 0.4463 },
  { n: 2, r_neg: -0.5, grpo: 0.198, lambda: 0.4292 },
  { n: 2, r_neg: -1.0, grpo: 0.0488, lambda: 0.3612 },
  { n: 2, r_neg: -1.5, grpo: 0.0, lambda: 0.382 },
];

/** The paper's example target leaf; the hyperparameters were chosen on a different one (TUNING_TARGET). */
export const TOY_TARGET = "LLRL";
/** Target and seeds used only to choose the hyperparameters, so the reported runs did not pick them. */
export const TUNING_TARGET = "RRLR";
export const TUNING_SEEDS = [100, 101, 102, 103, 104];
/** Steps at the end over which the target rate is averaged (the paper's metric). */
export const LAST_STEPS = 50;

export type ToyPreset = "small" | "gpt2-small";

/**
 * One set of trainer settings per model preset, shared by GRPO and lambda-GRPO and by every cell.
 * Everything not listed is the trainer's default (loss_type dapo, scale_rewards group, beta 0, mu 1,
 * temperature 1, no top-k/top-p, max_grad_norm 1).
 */
export const TOY_PRESETS: Record<ToyPreset, { model: string; hyperparameters: TrainConfigInput; note: string }> = {
  small: {
    model: "small",
    // chosen by src/rl/toy-tune.ts from {1e-4, 3e-4, 1e-3, 3e-3} on target RRLR, seeds 100-104 (docs/trainer.md)
    hyperparameters: { learning_rate: 3e-4 },
    note: "2-layer width-64 GPT-2, random init; learning rate chosen once on target RRLR, seeds 100-104",
  },
  "gpt2-small": {
    model: "gpt2-small",
    // Not tuned (a run is hours here): the largest of {1e-5, 1e-6, 1e-7} whose first steps on the tuning
    // target did not collapse the random-init policy onto one leaf (1e-5: after 1 step, 1e-6: after 3).
    hyperparameters: { learning_rate: 1e-7 },
    note: "GPT-2 small shape (124M), random init (no pretrained weights here); learning rate not tuned",
  },
};

export interface ToyOptions {
  preset: ToyPreset;
  /** a user's pretrained model (src/rl/toy-model.ts); when given, it replaces the preset */
  model?: ToyModel;
  seeds: number;
  steps: number;
  outDir: string;
  /** worker threads; default: the machine's available parallelism */
  jobs?: number;
  /** cells to run (default: all six) */
  cells?: { n: number; r_neg: number }[];
  target?: string;
  /** seed numbers (default 0..seeds-1) */
  seedList?: number[];
  /** overrides of the preset's hyperparameters (for the tuning script only) */
  hyperparameters?: TrainConfigInput;
  /**
   * A folder that already holds a sweep: refuse (default), overwrite it, or resume it (keep the finished
   * runs of this sweep's grid and settings, run the rest; refuse runs of other settings). toySweepDir.
   */
  existing?: "refuse" | "overwrite" | "resume";
  /** progress: called with (steps done over all runs, total steps) */
  onProgress?: (done: number, total: number) => void;
  /** called when a run finishes */
  onRunDone?: (run: ToyRun, result: RunResult, finished: number, total: number) => void;
}

export interface ToyRun {
  name: string;
  n: number;
  r_neg: number;
  algorithm: "grpo" | "lambda";
  seed: number;
  config: TrainConfig;
}

export interface RunResult {
  /** env/target_rate per step */
  targetRate: number[];
  rewardMean: number[];
  seconds: number;
}

export interface CellResult {
  n: number;
  r_neg: number;
  grpo: AlgorithmResult;
  lambda: AlgorithmResult;
  paper: { grpo: number; lambda: number } | null;
}

export interface AlgorithmResult {
  /** mean over seeds of each run's target rate over the last LAST_STEPS steps */
  mean: number;
  /** sample std (n-1) over seeds */
  std: number;
  /** per seed, in seed order */
  runs: number[];
  seeds: number[];
  /** target rate per step, mean over seeds */
  curve: number[];
  /** target rate per step of each seed, in seed order (the mean hides bimodal cells) */
  curves: number[][];
  /**
   * per seed: the first step at which the target rate, averaged over the last 10 steps, reaches 0.5 (null:
   * never). How fast the target is exploited, which the last-50 mean hides when both runs get there.
   */
  steps_to_half: (number | null)[];
}

export interface ToyResults {
  /** the preset, or "model" for a `--model DIR` sweep */
  preset: ToyPreset | "model";
  /** the preset's model name, or the directory */
  model: string;
  /** `--model` only: the token ids of the two actions and the prompt */
  actions?: { L: number; R: number; prompt_text: string; prompt_tokens: number[] };
  target: string;
  steps: number;
  seeds: number[];
  last_steps: number;
  group_size: number;
  hyperparameters: Record<string, unknown>;
  note: string;
  workers: number;
  wall_seconds: number;
  cells: CellResult[];
}

/** What a sweep runs on: the preset's, or (with `model`) the user's directory, its two tokens and prompt. */
function toySetup(opts: ToyOptions): { model: string; hyperparameters: TrainConfigInput; note: string; env: Record<string, unknown> } {
  const m = opts.model;
  if (m === undefined) return { ...TOY_PRESETS[opts.preset], env: {} };
  return {
    model: m.dir,
    hyperparameters: { learning_rate: TOY_MODEL_LEARNING_RATE },
    note: `pretrained model from ${m.dir}; actions "L" = ${m.left}, "R" = ${m.right}; learning rate ${opts.hyperparameters?.learning_rate === undefined ? `the authors' ${TOY_MODEL_LEARNING_RATE.toExponential()} (not tuned here)` : "given"}`,
    env: { left_token: m.left, right_token: m.right, prompt: m.prompt },
  };
}

export function toyRuns(opts: ToyOptions): ToyRun[] {
  const preset = toySetup(opts);
  const seeds = opts.seedList ?? Array.from({ length: opts.seeds }, (_, i) => i);
  const cells = opts.cells ?? PAPER_TABLE.map(({ n, r_neg }) => ({ n, r_neg }));
  const runs: ToyRun[] = [];
  for (const { n, r_neg } of cells) {
    for (const algorithm of ["grpo", "lambda"] as const) {
      for (const seed of seeds) {
        const name = `n${n}_rneg${r_neg.toFixed(1)}_${algorithm}_seed${seed}`;
        const config = resolveConfig(
          {
            model: preset.model,
            num_generations: 16,
            prompts_per_step: 1,
            steps: opts.steps,
            ...preset.hyperparameters,
            ...opts.hyperparameters,
            lambda: algorithm === "lambda",
            seed,
            env: { name: "tree", depth: 4, target: opts.target ?? TOY_TARGET, shared_prefix: n, r_neg, ...preset.env },
            output_dir: join(opts.outDir, "runs", name),
            // a sweep is rerun, not resumed; gpt2-small checkpoints are 1.5 GB each
            save_strategy: "no",
          },
          validateEnv,
          `toy run ${name}`,
        );
        runs.push({ name, n, r_neg, algorithm, seed, config });
      }
    }
  }
  return runs;
}

/** Message from a worker. */
export type WorkerMessage = PoolMessage<RunResult>;

/** Runs the sweep over worker threads; resolves with every run's result, in run order. */
export async function runToy(
  opts: ToyOptions,
): Promise<{ runs: ToyRun[]; results: RunResult[]; workers: number; wallSeconds: number; kept: number }> {
  const runs = toyRuns(opts);
  const kept = await toySweepDir(opts.outDir, runs, opts.existing ?? "refuse");
  const todo = runs.map((_, i) => i).filter((i) => !kept.has(i));
  const workers = Math.max(1, Math.min(opts.jobs ?? availableParallelism(), todo.length));
  const results: RunResult[] = new Array(runs.length);
  for (const [i, r] of kept) results[i] = r;
  const total = runs.reduce((a, r) => a + r.config.steps, 0);
  const stepsDone = runs.map((r, i) => (kept.has(i) ? r.config.steps : 0));
  let done = stepsDone.reduce((a, b) => a + b, 0);
  let finished = kept.size;
  const started = performance.now();
  const fresh = await runPool<TrainConfig, RunResult>(
    runs.map((r) => r.config),
    todo,
    workers,
    workerSpawner(import.meta.url, "toy-worker"),
    {
      step(index, step) {
        done += step - stepsDone[index];
        stepsDone[index] = step;
        opts.onProgress?.(done, total);
      },
      done(index, result) {
        finished++;
        opts.onRunDone?.(runs[index], result, finished, runs.length);
      },
      error: (index, message, user) => (user ? new ToyRunError(`run ${runs[index].name}: ${message}`) : new Error(`run ${runs[index].name}: ${message}`)),
    },
  );
  for (const i of todo) results[i] = fresh[i];
  return { runs, results, workers, wallSeconds: (performance.now() - started) / 1000, kept: kept.size };
}

/** The files of a sweep folder besides its run directories (runs/<name>/). */
const SWEEP_FILES = ["results.json", "report.html"];

/**
 * What `runToy` does with a folder that already holds a sweep (results.json or run directories under
 * runs/): "refuse" (a UserError), "overwrite" (removes the run directories, results.json and report.html),
 * or "resume": every run directory must be a run of `runs` with the same config, else a UserError naming
 * the first difference; the finished ones (metrics.jsonl has every step) are returned by index, to be kept.
 */
export async function toySweepDir(outDir: string, runs: ToyRun[], mode: "refuse" | "overwrite" | "resume"): Promise<Map<number, RunResult>> {
  const kept = new Map<number, RunResult>();
  const runsDir = join(outDir, "runs");
  let names: string[] = [];
  try {
    names = (await readdir(runsDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    // no runs/ yet
  }
  const files = [];
  for (const f of SWEEP_FILES) if (await isFile(join(outDir, f))) files.push(f);
  if (names.length === 0 && files.length === 0) return kept;
  const held = [names.length ? `${names.length} run${names.length === 1 ? "" : "s"} under runs/` : "", ...files].filter(Boolean).join(", ");
  if (mode === "refuse") {
    throw new UserError(`${outDir}: already holds a toy sweep (${held}); pass --resume to keep its finished runs and run the rest, or --overwrite to replace it`);
  }
  if (mode === "overwrite") {
    for (const name of names) await rm(join(runsDir, name), { recursive: true, force: true });
    for (const f of files) await rm(join(outDir, f), { force: true });
    return kept;
  }
  const byName = new Map(runs.map((r, i) => [r.name, i]));
  for (const name of names) {
    const index = byName.get(name);
    if (index === undefined) {
      throw new UserError(`${join(runsDir, name)}: not a run of this sweep (its --preset, --seeds or grid differ); --resume continues the same sweep: give its settings, or --overwrite`);
    }
    const config = runs[index].config;
    const configPath = join(runsDir, name, "config.json");
    let saved: Record<string, unknown> | null = null;
    try {
      saved = JSON.parse(await readFile(configPath, "utf8"));
    } catch {
      continue; // killed before its config was written: run again
    }
    const now = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
    for (const key of new Set([...Object.keys(saved ?? {}), ...Object.keys(now)])) {
      if (JSON.stringify(saved?.[key]) !== JSON.stringify(now[key])) {
        throw new UserError(
          `${configPath}: ${key}: the sweep in ${outDir} ran with ${JSON.stringify(saved?.[key])}, this one with ${JSON.stringify(now[key])}; --resume continues the same sweep: give its settings, or --overwrite`,
        );
      }
    }
    const result = await finishedRun(join(runsDir, name, "metrics.jsonl"), config.steps);
    if (result !== null) kept.set(index, result);
  }
  return kept;
}

/** A run's results from its metrics.jsonl when it holds every step; null when it was cut short. */
async function finishedRun(path: string, steps: number): Promise<RunResult | null> {
  let lines: string[];
  try {
    lines = (await readFile(path, "utf8")).split("\n").filter((l) => l.trim() !== "");
  } catch {
    return null;
  }
  if (lines.length !== steps) return null;
  const result: RunResult = { targetRate: [], rewardMean: [], seconds: 0 };
  try {
    for (const line of lines) {
      const m = JSON.parse(line) as Record<string, number>;
      result.targetRate.push(m["env/target_rate"] ?? 0);
      result.rewardMean.push(m.reward_mean);
      result.seconds += m.seconds ?? 0;
    }
  } catch {
    return null; // not whole: run again
  }
  return result;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** A run that failed on its input (its config or environment), not on a bug: one line for the CLI. */
export class ToyRunError extends UserError {}

/** The target rate of one run over its last `last` steps (the paper's metric). */
export function lastRate(rates: number[], last = LAST_STEPS): number {
  const tail = rates.slice(Math.max(0, rates.length - last));
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}

/** Window of the moving average in `steps_to_half`. */
const HALF_WINDOW = 10;

export function stepsToHalf(rates: number[]): number | null {
  let sum = 0;
  for (let s = 0; s < rates.length; s++) {
    sum += rates[s] - (s >= HALF_WINDOW ? rates[s - HALF_WINDOW] : 0);
    if (s >= HALF_WINDOW - 1 && sum / HALF_WINDOW >= 0.5) return s + 1;
  }
  return null;
}

export function summarise(
  opts: ToyOptions,
  out: { runs: ToyRun[]; results: RunResult[]; workers: number; wallSeconds: number },
): ToyResults {
  const cells: CellResult[] = [];
  const keys = [...new Set(out.runs.map((r) => `${r.n}|${r.r_neg}`))];
  for (const key of keys) {
    const [n, r_neg] = key.split("|").map(Number);
    const algo = (a: "grpo" | "lambda"): AlgorithmResult => {
      const idx = out.runs.map((r, i) => [r, i] as const).filter(([r]) => r.n === n && r.r_neg === r_neg && r.algorithm === a);
      const rates = idx.map(([, i]) => lastRate(out.results[i].targetRate));
      const steps = out.results[idx[0][1]].targetRate.length;
      const curve = Array.from({ length: steps }, (_, s) => idx.reduce((acc, [, i]) => acc + out.results[i].targetRate[s], 0) / idx.length);
      const toHalf = idx.map(([, i]) => stepsToHalf(out.results[i].targetRate));
      const curves = idx.map(([, i]) => out.results[i].targetRate);
      return { ...meanStd(rates), runs: rates, seeds: idx.map(([r]) => r.seed), curve, curves, steps_to_half: toHalf };
    };
    const paper = PAPER_TABLE.find((p) => p.n === n && p.r_neg === r_neg);
    cells.push({ n, r_neg, grpo: algo("grpo"), lambda: algo("lambda"), paper: paper ? { grpo: paper.grpo, lambda: paper.lambda } : null });
  }
  const c = out.runs[0].config;
  const preset = toySetup(opts);
  const m = opts.model;
  return {
    preset: m ? "model" : opts.preset,
    model: preset.model,
    ...(m ? { actions: { L: m.left, R: m.right, prompt_text: m.promptText, prompt_tokens: m.prompt } } : {}),
    target: opts.target ?? TOY_TARGET,
    steps: opts.steps,
    seeds: [...new Set(out.runs.map((r) => r.seed))],
    last_steps: LAST_STEPS,
    group_size: c.num_generations,
    hyperparameters: {
      learning_rate: c.learning_rate,
      loss_type: c.loss_type,
      scale_rewards: c.scale_rewards,
      beta: c.beta,
      epsilon: c.epsilon,
      epsilon_high: c.epsilon_high,
      num_iterations: c.num_iterations,
      temperature: c.temperature,
      top_k: c.top_k,
      top_p: c.top_p,
      max_grad_norm: c.max_grad_norm,
      adam_beta1: c.adam_beta1,
      adam_beta2: c.adam_beta2,
      weight_decay: c.weight_decay,
    },
    note: preset.note,
    workers: out.workers,
    wall_seconds: out.wallSeconds,
    cells,
  };
}

/** The table as Markdown: ours (mean +- std over seeds) beside the paper's means. */
export function formatTable(r: ToyResults): string {
  const f = (a: AlgorithmResult) => `${a.mean.toFixed(4)} +- ${a.std.toFixed(4)}`;
  const lines = [
    `| n | r_neg | GRPO (ours) | lambda-GRPO (ours) | GRPO (paper) | lambda-GRPO (paper) |`,
    `|---|---|---|---|---|---|`,
    ...r.cells.map(
      (c) =>
        `| ${c.n} | ${c.r_neg.toFixed(1)} | ${f(c.grpo)} | ${f(c.lambda)} | ${c.paper ? c.paper.grpo.toFixed(4) : "-"} | ${c.paper ? c.paper.lambda.toFixed(4) : "-"} |`,
    ),
  ];
  return lines.join("\n");
}

/** Per seed, the step where the target rate (10-step average) first reaches 0.5; "-" = never. */
export function formatSpeedTable(r: ToyResults): string {
  const f = (a: AlgorithmResult) => a.steps_to_half.map((s) => (s === null ? "-" : String(s))).join(" ");
  return [
    `| n | r_neg | GRPO | lambda-GRPO |`,
    `|---|---|---|---|`,
    ...r.cells.map((c) => `| ${c.n} | ${c.r_neg.toFixed(1)} | ${f(c.grpo)} | ${f(c.lambda)} |`),
  ].join("\n");
}
