/**
 * `lambda-grpo sft CONFIG [--resume] [--overwrite] [--output-dir DIR] [--max-steps N] [--quiet]`: supervised
 * fine-tuning on (problem, solution) rows, loss on the solution only (src/sft/config.ts documents the fields,
 * docs/reasoning.md the run). At the end the model and its tokenizer are written to output_dir/model/, a
 * Hugging Face directory that `train`, `logprobs` and `sft` itself take as `model`. With `lora:`, model/ is
 * the base with the adapters merged in, and output_dir/adapter/ the adapters alone (PEFT's format).
 */
import { stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { DecoderPolicy, saveAdapter } from "../policy/index.js";
import { savePolicyDirectory, unsavable } from "../policy/save.js";
import { ADAPTER_DIR } from "../rl/trainer.js";
import { loadSftConfig, resolveSftConfig, type SftConfig } from "../sft/config.js";
import { loadChatTokenizer, loadExamples } from "../sft/data.js";
import { sft, sftSteps, type SftMetrics } from "../sft/trainer.js";
import { UserError } from "../util/errors.js";
import { intOption, onePositional, parseCommand, RUN_OPTIONS } from "./args.js";
import { atConfigLine } from "./config-line.js";
import { RunProgress } from "./run-progress.js";

const USAGE = `usage: lambda-grpo sft CONFIG [options]

CONFIG is a JSON or YAML file of sft fields (src/sft/config.ts; docs/reasoning.md); fields left out take
their defaults. Writes output_dir/{config.json, metrics.jsonl, checkpoints/, model/} (with lora: model/
merged, and adapter/, a PEFT adapter directory).

options:
  --resume           continue the run in output_dir from its newest checkpoint
  --overwrite        replace a run already in output_dir
  --output-dir DIR   override output_dir
  --max-steps N      override max_steps
  -q, --quiet        no progress output
  -h, --help         this text`;

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(argv, { ...RUN_OPTIONS, "max-steps": { type: "string" } }, USAGE);
  if (!parsed) return;
  const { values, positionals } = parsed;
  const source = onePositional("sft", positionals, "config file");
  const quiet = values.quiet ?? false;
  let config = await loadSftConfig(source);
  const overrides: Record<string, unknown> = {};
  if (values["output-dir"] !== undefined) overrides.output_dir = values["output-dir"];
  if (values["max-steps"] !== undefined) overrides.max_steps = intOption("max-steps", values["max-steps"], 0);
  if (Object.keys(overrides).length) config = resolveSftConfig({ ...config, ...overrides }, source);

  const tokenizerDir = await tokenizerDirectory(config, source);
  const out = resolve(config.output_dir, "model");
  const adapterOut = join(config.output_dir, ADAPTER_DIR);
  for (const input of [typeof config.model === "string" ? config.model : null, tokenizerDir, config.lora?.adapter ?? null]) {
    if (input === null) continue;
    for (const written of [out, resolve(adapterOut)]) {
      if (resolve(input) === written) {
        throw await atConfigLine(new UserError(`output_dir: the run would write its ${basename(written)} over its input ${input}; pick another output_dir`), source);
      }
    }
  }
  const tok = await loadChatTokenizer(tokenizerDir);
  const train = await loadExamples(config.dataset, tok, config);
  const evalSet = config.eval_dataset ? await loadExamples(config.eval_dataset, tok, config) : undefined;
  const { total } = sftSteps(config, train.examples.length);

  const log = (s: string): void => {
    if (!quiet) console.error(s);
  };
  const truncated = train.truncated + (evalSet?.truncated ?? 0);
  if (truncated > 0) log(`sft: ${truncated} rows longer than max_length ${config.max_length} lose their end`);
  const progress = new RunProgress("sft", total, config.output_dir, quiet);
  const run = sft(config, {
    train: train.examples,
    eval: evalSet?.examples,
    resume: values.resume,
    overwrite: values.overwrite,
    saveModel: {
      unsupported: unsavable,
      save: async (policy, dir) => {
        if (policy instanceof DecoderPolicy && policy.model.lora !== null) {
          const base = typeof config.model === "string" && (await isDirectory(config.model)) ? config.model : null;
          await saveAdapter(policy, adapterOut, base);
        }
        await savePolicyDirectory(policy, dir, tokenizerDir);
      },
    },
    onStart(startStep, _total, noModel) {
      if (noModel !== null) log(`sft: no model/ at the end: ${noModel}`);
      progress.start(startStep, "sft:", `${train.examples.length} rows, ${total} steps, model ${typeof config.model === "string" ? config.model : "custom"}`);
    },
    onStep(step, loss, m) {
      progress.step(step, { loss }, m ? () => plainLine(m, total) : undefined);
    },
  });
  await run.catch(async (err: unknown) => {
    throw await atConfigLine(err, source);
  });
  progress.done();
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function tokenizerDirectory(config: SftConfig, source: string): Promise<string> {
  if (config.tokenizer !== undefined) return config.tokenizer;
  if (typeof config.model === "string" && (await isDirectory(config.model))) return config.model;
  throw new UserError(`${source}: tokenizer: required when model is not a directory (a directory with tokenizer.json and tokenizer_config.json)`);
}

function plainLine(m: SftMetrics, total: number): string {
  const parts = [`step ${m.step}/${total}`, `epoch ${m.epoch.toFixed(2)}`];
  if (m.loss !== undefined) parts.push(`loss ${m.loss.toFixed(4)}`, `lr ${m.learning_rate!.toExponential(2)}`, `grad_norm ${m.grad_norm!.toFixed(3)}`);
  if (m.eval_loss !== undefined) parts.push(`eval_loss ${m.eval_loss.toFixed(4)}`);
  return parts.join(" ");
}

