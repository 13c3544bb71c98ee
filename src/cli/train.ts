/**
 * `lambda-grpo train [config.yaml|json] [--resume] [--overwrite] [--output-dir DIR] [--steps N] [--quiet]`:
 * GRPO / lambda-GRPO training from one config file (src/rl/config.ts documents the fields; docs/trainer.md
 * has the table). Progress: a bar with reward and ETA on a terminal, plain lines otherwise. With `lora:` the
 * run ends by writing output_dir/adapter/, a PEFT adapter directory.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { prepareOutputs, sameFile } from "../io/outputs.js";
import { configWarnings, loadConfigFile, resolveConfig } from "../rl/config.js";
import { validateEnv } from "../rl/env/index.js";
import { ADAPTER_DIR, train, type StepMetrics } from "../rl/trainer.js";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from "../engine/peft.js";
import { UserError } from "../util/errors.js";
import { intOption, parseCommand, RUN_OPTIONS, usageError } from "./args.js";
import { atConfigLine } from "./config-line.js";
import { RunProgress } from "./run-progress.js";

const USAGE = `usage: lambda-grpo train [CONFIG] [options]

CONFIG is a JSON or YAML file of trainer fields (docs/trainer.md); fields left out take their defaults.

options:
  --resume           continue the run in output_dir from its newest checkpoint
                     (without CONFIG: read output_dir/config.json; needs --output-dir)
  --overwrite        replace a run already in output_dir
  --output-dir DIR   override output_dir
  --steps N          override steps (allowed on --resume: train further)
  -q, --quiet        no progress output
  -h, --help         this text`;

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(argv, { ...RUN_OPTIONS, steps: { type: "string" } }, USAGE);
  if (!parsed) return;
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw usageError("train", `expected one config file, got ${positionals.length}`);
  const quiet = values.quiet ?? false;
  const overrides: Record<string, unknown> = {};
  if (values["output-dir"] !== undefined) overrides.output_dir = values["output-dir"];
  if (values.steps !== undefined) overrides.steps = intOption("steps", values.steps, 0);

  let source: string;
  if (positionals.length === 1) {
    source = positionals[0];
  } else if (values.resume && values["output-dir"] !== undefined) {
    source = join(values["output-dir"], "config.json");
    try {
      await stat(source);
    } catch {
      throw new UserError(`${source}: not found; --resume without CONFIG continues a run started in that directory`);
    }
  } else {
    throw usageError("train", "expected a config file (or --resume --output-dir DIR)");
  }
  let config = await loadConfigFile(source, validateEnv);
  // A resolved config is valid input (the env keeps its resolved parameters), so overrides resolve it again.
  if (Object.keys(overrides).length) config = resolveConfig({ ...config, ...overrides }, validateEnv, source);
  const runFile = (name: string): string => join(config.output_dir, name);
  // The run's own config.json as CONFIG (a resume) is rewritten with itself, resolved: nothing is lost.
  const ownConfig = await sameFile(source, runFile("config.json"));
  const adapterFiles = config.lora === undefined ? [] : [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE].map((f) => join(ADAPTER_DIR, f));
  await prepareOutputs({
    inputs: [{ option: "input", path: source }],
    inputDirs: [
      ...(typeof config.model === "string" ? [{ option: "model", path: config.model }] : []),
      ...(config.lora?.adapter !== undefined ? [{ option: "lora.adapter", path: config.lora.adapter }] : []),
    ],
    outputs: [...(ownConfig ? [] : ["config.json"]), "metrics.jsonl", "rollouts.jsonl", ...adapterFiles].map((name) => ({ option: "output_dir", path: runFile(name) })),
  });

  // warnings are not progress: --quiet keeps them
  for (const w of configWarnings(config)) console.error(`lambda-grpo train: warning: ${source}: ${w}`);

  const progress = new RunProgress("train", config.steps, config.output_dir, quiet);
  const every = Math.max(1, Math.round(config.steps / 25));
  const run = train(config, {
    resume: values.resume,
    overwrite: values.overwrite,
    onStart(startStep) {
      if (startStep >= config.steps) {
        console.error(`${config.output_dir} is already at step ${startStep} of ${config.steps}: nothing to train (pass --steps N to train further)`);
      } else {
        const what = `${config.lambda ? "lambda-GRPO" : "GRPO"} (${config.loss_type}), model ${typeof config.model === "string" ? config.model : "custom"}, env ${config.env.name}`;
        progress.start(startStep, "training", what);
      }
    },
    onStep(m) {
      const envFigures = Object.fromEntries(Object.entries(m).filter(([k]) => k.startsWith("env/")).map(([k, v]) => [k.slice(4), v as number]));
      const plain = m.step % every === 0 || m.step === config.steps || m.step === progress.startStep + 1;
      progress.step(m.step, { reward: m.reward_mean, ...envFigures }, plain ? () => plainLine(m, config.steps) : undefined);
    },
  });
  await run.catch(async (err: unknown) => {
    throw await atConfigLine(err, source);
  });
  progress.done();
}

function plainLine(m: StepMetrics, steps: number): string {
  const env = Object.entries(m)
    .filter(([k]) => k.startsWith("env/"))
    .map(([k, v]) => ` ${k.slice(4)} ${(v as number).toFixed(3)}`)
    .join("");
  return (
    `step ${m.step}/${steps} reward ${m.reward_mean.toFixed(3)}${env} loss ${m.loss.toExponential(2)} kl ${m.kl.toExponential(2)} ` +
    `grad_norm ${m.grad_norm.toFixed(3)}`
  );
}
