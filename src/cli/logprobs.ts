/**
 * `lambda-grpo logprobs --model <dir> --input <in.jsonl> --out <out.jsonl>`: per-token log-probs of token
 * sequences under a Hugging Face model: GPT-2, or a Llama 3 / Qwen2 / Qwen3 (optionally with a PEFT adapter).
 *
 * Input: one `{"tokens": [int, ...]}` per line (other fields ignored, blank lines skipped). Output: one
 * `{"logprobs": [...]}` per input record, in order, where entry t is log p(tokens[t+1] | tokens[0..t])
 * (so tokens.length - 1 entries; the first token is conditioned on, not scored). The input is streamed
 * a batch at a time; the output appears atomically (temporary file + rename), and not at all on an error.
 */
import { hfModelKind, loadHFModel } from "../engine/hf.js";
import { loadDecoderModel } from "../engine/hf-families.js";
import type { CausalLM } from "../engine/lm.js";
import { inputInfo, openSink } from "../io/files.js";
import { prepareOutputs } from "../io/outputs.js";
import { readJsonl } from "../io/jsonl.js";
import { createProgress } from "../io/progress.js";
import { inputError } from "../util/errors.js";
import { intOption, parseCommand, requiredOption, usageError } from "./args.js";

/** Sequences per forward pass: enough to keep the GEMMs efficient, small enough for long contexts. */
const DEFAULT_BATCH_SIZE = 16;

const USAGE = `usage: lambda-grpo logprobs --model <dir> --input <in.jsonl | -> --out <out.jsonl | -> [options]

Per-token log-probs under a Hugging Face model (a directory with config.json and model.safetensors or
shards): GPT-2, Llama 3, Qwen2 or Qwen3.
Each input line {"tokens": [...]} gives one output line {"logprobs": [...]}: the log-prob of each token
given the ones before it (tokens.length - 1 numbers).

options:
  --model <dir>        Hugging Face model directory
  --lora <dir>         a PEFT LoRA adapter on the model (Llama 3, Qwen2, Qwen3)
  --input <file>       JSONL of {"tokens": [int, ...]}; "-" reads stdin
  -o, --out <file>     JSONL output, written atomically; "-" writes stdout
  --batch-size <n>     sequences per forward pass (default ${DEFAULT_BATCH_SIZE})
  -q, --quiet          no progress bar (it is shown only on a terminal anyway)
  -h, --help           this text`;

interface Pending {
  tokens: number[];
  line: number;
}

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      model: { type: "string" },
      lora: { type: "string" },
      input: { type: "string" },
      out: { type: "string", short: "o" },
      "batch-size": { type: "string" },
      quiet: { type: "boolean", short: "q" },
    },
    USAGE,
    false,
  );
  if (!parsed) return;
  const { values } = parsed;
  const modelDir = requiredOption("logprobs", "model", values.model);
  const inputPath = requiredOption("logprobs", "input", values.input);
  const outPath = requiredOption("logprobs", "out", values.out);
  const batchSize = intOption("batch-size", values["batch-size"], DEFAULT_BATCH_SIZE);

  await prepareOutputs({
    inputs: [{ option: "--input", path: inputPath }],
    inputDirs: [{ option: "--model", path: modelDir }],
    outputs: [{ option: "--out", path: outPath }],
  });
  const input = await inputInfo(inputPath);
  const model = await loadModel(modelDir, values.lora);
  const sink = await openSink(outPath, "--out");
  const bar = createProgress({ label: "logprobs", total: input.size, unit: "bytes", quiet: values.quiet });
  let sequences = 0;
  try {
    let batch: Pending[] = [];
    const flush = async (): Promise<void> => {
      const scored = scoreBatch(model, batch);
      for (let i = 0; i < batch.length; i++) {
        const bad = scored[i].findIndex((x) => !Number.isFinite(x));
        if (bad >= 0) {
          throw inputError(input.name, batch[i].line, `tokens[${bad + 1}]`, `the model gave the log-prob ${scored[i][bad]} (are the weights in ${modelDir} finite?)`);
        }
        await sink.write(`{"logprobs":[${scored[i].map(shortestFloat32).join(",")}]}\n`);
      }
      sequences += batch.length;
      batch = [];
    };
    for await (const { value, line, bytesRead } of readJsonl(inputPath, input.name)) {
      batch.push({ tokens: tokensOf(value, input.name, line, model), line });
      if (batch.length === batchSize) {
        await flush();
        bar.update(bytesRead, { sequences });
      }
    }
    await flush();
    bar.stop();
    await sink.commit();
  } finally {
    bar.stop();
    await sink.abort();
  }
  if (outPath !== "-") console.error(`lambda-grpo logprobs: ${sequences} sequence${sequences === 1 ? "" : "s"} -> ${outPath}`);
}

/** The model of a HF directory, whichever family it holds, without gradient buffers. */
async function loadModel(dir: string, lora: string | undefined): Promise<CausalLM> {
  if ((await hfModelKind(dir)) === "gpt2") {
    if (lora !== undefined) throw usageError("logprobs", "--lora: GPT-2 models take no adapter here");
    return loadHFModel(dir, { trainable: false });
  }
  return (await loadDecoderModel(dir, { trainable: false, adapter: lora ?? null })).model;
}

/** The record's token ids, checked against the model (vocabulary, context length). */
function tokensOf(value: unknown, file: string, line: number, model: CausalLM): number[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw inputError(file, line, null, `expected an object {"tokens": [...]}, got ${JSON.stringify(value)?.slice(0, 40)}`);
  }
  const tokens = (value as Record<string, unknown>).tokens;
  if (tokens === undefined) throw inputError(file, line, "tokens", "missing");
  if (!Array.isArray(tokens)) throw inputError(file, line, "tokens", `expected an array of token ids, got ${JSON.stringify(tokens).slice(0, 40)}`);
  if (tokens.length === 0) throw inputError(file, line, "tokens", "empty (at least one token is needed)");
  const V = model.vocabSize;
  const contextLength = model.maxSequenceLength;
  if (tokens.length > contextLength) {
    throw inputError(file, line, "tokens", `${tokens.length} tokens, more than the model's context length ${contextLength}`);
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t >= V) {
      throw inputError(file, line, `tokens[${i}]`, `expected a token id in [0, ${V}), got ${JSON.stringify(t)}`);
    }
  }
  return tokens as number[];
}

/** Log-probs of each sequence of `batch` (tokens.length - 1 each), from one padded forward pass. */
function scoreBatch(model: CausalLM, batch: Pending[]): number[][] {
  if (batch.length === 0) return [];
  const B = batch.length;
  const T = Math.max(...batch.map((p) => p.tokens.length));
  const tokens = new Int32Array(B * T);
  const lengths = new Int32Array(B);
  batch.forEach((p, b) => {
    tokens.set(p.tokens, b * T);
    lengths[b] = p.tokens.length;
  });
  // [B*T]: position t of row b is about token t + 1
  const { logprobs } = model.logprobs({ tokens, batch: B, seqLen: T, lengths });
  return batch.map((p, b) => Array.from(logprobs.subarray(b * T, b * T + p.tokens.length - 1)));
}

/** The shortest decimal that reads back as the same float32 (what the model computed, without noise digits). */
export function shortestFloat32(x: number): string {
  for (let p = 1; p < 9; p++) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(Number(x.toPrecision(9)));
}
