/**
 * `lambda-grpo eval --model DIR --data NAME=FILE ... [options]`: math benchmark evaluation (src/rl/eval.ts),
 * results.json, one <name>.jsonl per benchmark, and the table with benchmarks as columns.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { hfModelKind } from "../engine/hf.js";
import { createProgress } from "../io/progress.js";
import { AUTHORS_SYSTEM_PROMPT, PLAIN_TEMPLATE, PROMPT_STYLES } from "../rl/env/math.js";
import { evalContext, evaluate, readBenchmarks, resultsTable, type EvalSettings } from "../rl/eval.js";
import type { Policy } from "../rl/policy.js";
import { UserError } from "../util/errors.js";
import { choiceOption, intOption, numberOption, parseCommand, requiredOption, topPOption, usageError } from "./args.js";

/** Sampling defaults for K > 1: DeepSeek-R1's evaluation settings (temperature 0.6, top-p 0.95). */
const SAMPLED_TEMPERATURE = 0.6;
const SAMPLED_TOP_P = 0.95;

const USAGE = `usage: lambda-grpo eval --model <dir> [--lora <dir>] --data <name>=<file> [--data ...] [options]

Math benchmark evaluation: K completions per problem, graded by the last \\boxed{} (docs/math.md).
K = 1 (default): greedy decoding, pass@1. K > 1: sampling, avg@K and unbiased pass@k.

options:
  --model <dir>            Hugging Face-format model directory (config.json, weights, tokenizer.json):
                           GPT-2, Llama 3, Qwen2, Qwen3
  --lora <dir>             a PEFT LoRA adapter on the model (Llama 3, Qwen2, Qwen3)
  --data <name>=<file>     a benchmark: its name in the table and a JSONL or Parquet file; repeatable
  --samples <K>            completions per problem (default 1)
  --temperature <t>        default 0 (greedy) for K = 1, ${SAMPLED_TEMPERATURE} for K > 1
  --top-p <p>              default 1 for K = 1, ${SAMPLED_TOP_P} for K > 1
  --max-new-tokens <n>     most tokens per completion (default 1024; capped by the model's context)
  --batch-size <n>         problems decoded together (default 8; x K rows)
  --seed <n>               sampling seed (default 0)
  --prompt chat|plain      chat (default): the model's chat template, the instruction as system message;
                           plain: --template (base models, or a model without a chat template)
  --system-prompt <text>   the instruction (default: "${AUTHORS_SYSTEM_PROMPT}")
  --template <text>        the plain prompt, with {problem} and {system_prompt} (default: problem, newline, instruction)
  --no-stop-at-boxed       do not end a completion when its first \\boxed{} closes
  --out <dir>              output directory (default runs/eval): results.json, <name>.jsonl, eval.json.
                           A killed eval run again with the same options continues where it stopped.
  --overwrite              replace an eval with other settings in --out
  -q, --quiet              no progress bar
  -h, --help               this text`;

function dataOption(values: string[] | undefined): Record<string, string> {
  if (!values || values.length === 0) throw usageError("eval", "--data is required (name=file)");
  const data: Record<string, string> = {};
  for (const v of values) {
    const m = /^([\w.-]+)=(.+)$/.exec(v);
    if (!m) throw new UserError(`--data: expected name=file (name: letters, digits, '_', '-', '.'), got '${v}'`);
    if (data[m[1]] !== undefined) throw new UserError(`--data: the name '${m[1]}' is given twice`);
    data[m[1]] = m[2];
  }
  return data;
}

/** The model of a HF directory (with a PEFT adapter for the families) as a frozen policy: sampling only. */
async function evalPolicy(dir: string, lora: string | null): Promise<Policy> {
  if ((await hfModelKind(dir)) === "gpt2") {
    if (lora !== null) throw usageError("eval", "--lora: GPT-2 models take no adapter");
    const { createPolicy } = await import("../policy/index.js");
    return createPolicy(dir, { seed: 0 });
  }
  const { loadDecoderModel } = await import("../engine/hf-families.js");
  const { DecoderPolicy } = await import("../policy/index.js");
  const { model } = await loadDecoderModel(dir, { trainable: false, adapter: lora });
  return new DecoderPolicy(model, {}, true);
}

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      model: { type: "string" },
      lora: { type: "string" },
      data: { type: "string", multiple: true },
      samples: { type: "string" },
      temperature: { type: "string" },
      "top-p": { type: "string" },
      "max-new-tokens": { type: "string" },
      "batch-size": { type: "string" },
      seed: { type: "string" },
      prompt: { type: "string" },
      "system-prompt": { type: "string" },
      template: { type: "string" },
      "no-stop-at-boxed": { type: "boolean" },
      out: { type: "string" },
      overwrite: { type: "boolean" },
      quiet: { type: "boolean", short: "q" },
    },
    USAGE,
    false,
  );
  if (!parsed) return;
  const v = parsed.values;
  const model = requiredOption("eval", "model", v.model);
  const data = dataOption(v.data);
  const samples = intOption("samples", v.samples, 1);
  const template = v.template ?? PLAIN_TEMPLATE;
  if (!template.includes("{problem}")) throw new UserError("--template: must contain {problem}");
  const settings: EvalSettings = {
    model,
    lora: v.lora ?? null,
    data,
    samples,
    temperature: numberOption("temperature", v.temperature, samples === 1 ? 0 : SAMPLED_TEMPERATURE, 0),
    topP: topPOption(v["top-p"], samples === 1 ? 1 : SAMPLED_TOP_P),
    maxNewTokens: intOption("max-new-tokens", v["max-new-tokens"], 1024),
    batchSize: intOption("batch-size", v["batch-size"], 8),
    seed: intOption("seed", v.seed, 0, 0),
    prompt: choiceOption("prompt", v.prompt, PROMPT_STYLES) ?? "chat",
    plainTemplate: template,
    systemPrompt: v["system-prompt"] ?? AUTHORS_SYSTEM_PROMPT,
    stopAtBoxed: !v["no-stop-at-boxed"],
  };
  const out = v.out ?? "runs/eval";
  if (v.overwrite) {
    await rm(join(out, "eval.json"), { force: true });
    for (const name of Object.keys(data)) await rm(join(out, `${name}.jsonl`), { force: true });
  }

  const benchmarks = await readBenchmarks(data);
  const policy = await evalPolicy(model, settings.lora);
  const total = benchmarks.reduce((a, b) => a + b.rows.length * samples, 0);
  const progress = createProgress({ label: "eval", total, unit: "items", quiet: v.quiet ?? false });
  const results = await evaluate(settings, benchmarks, out, await evalContext(settings, policy, progress, "--prompt"));
  console.log(resultsTable(results));
  console.log(`\nwrote ${join(out, "results.json")}`);
}
