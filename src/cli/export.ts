/**
 * `lambda-grpo export --model DIR --lora DIR --out DIR`: merges a PEFT LoRA adapter into its base model
 * (W += (alpha / r) B A, src/engine/peft.ts) and writes a plain Hugging Face checkpoint that loads without
 * PEFT, with the base's tokenizer and generation files beside it.
 *
 * The output appears whole or not at all: everything is written into a temporary directory beside --out,
 * which then takes its place. --out may not be the model or the adapter directory, nor (without
 * --overwrite) an existing non-empty directory.
 */
import { copyFile, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { hfModelKind } from "../engine/hf.js";
import { allocateParameters, loadDecoderWeights, readDecoderConfig, saveDecoderModel } from "../engine/hf-families.js";
import { mergeLora, readAdapter } from "../engine/peft.js";
import { removeStaleTemps } from "../io/atomic.js";
import type { WritableDtype } from "../io/safetensors.js";
import { reason, UserError } from "../util/errors.js";
import { choiceOption, parseCommand, requiredOption, usageError } from "./args.js";

/** Files of the base directory a merged checkpoint needs to be used as the base was (tokenizer, chat template, generation defaults). */
const COPIED_FILES = [
  "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json",
  "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json",
];

const DTYPES = ["float32", "bfloat16"] as const;
const DTYPE: Record<(typeof DTYPES)[number], WritableDtype> = { float32: "F32", bfloat16: "BF16" };

const USAGE = `usage: lambda-grpo export --model <dir> --lora <dir> --out <dir> [options]

Merges a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) into its base model, a Hugging
Face Llama 3 / Qwen2 / Qwen3 directory, and writes the merged model as a plain Hugging Face checkpoint
(config.json, model.safetensors or shards) with the base's tokenizer files.

options:
  --model <dir>          the base model the adapter was trained on
  --lora <dir>           the PEFT adapter directory
  -o, --out <dir>        where the merged checkpoint goes (created; written whole or not at all)
  --dtype <d>            float32 or bfloat16 (default: bfloat16 when the base is all BF16, else float32)
  --max-shard-size <mb>  shard above this many MB (default 5000, transformers' 5GB)
  --overwrite            replace an existing non-empty --out
  -h, --help             this text`;

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      model: { type: "string" },
      lora: { type: "string" },
      out: { type: "string", short: "o" },
      dtype: { type: "string" },
      "max-shard-size": { type: "string" },
      overwrite: { type: "boolean" },
    },
    USAGE,
    false,
  );
  if (!parsed) return;
  const { values } = parsed;
  const modelDir = requiredOption("export", "model", values.model);
  const loraDir = requiredOption("export", "lora", values.lora);
  const out = requiredOption("export", "out", values.out);
  const dtypeName = choiceOption("dtype", values.dtype, DTYPES);
  let maxShardBytes: number | undefined;
  if (values["max-shard-size"] !== undefined) {
    const mb = Number(values["max-shard-size"]);
    if (!(mb > 0) || !Number.isFinite(mb)) throw new UserError(`--max-shard-size: expected a number of MB > 0, got '${values["max-shard-size"]}'`);
    maxShardBytes = mb * 1e6;
  }
  await checkOut(out, [["--model", modelDir], ["--lora", loraDir]], values.overwrite ?? false);
  await removeStaleTemps(dirname(resolve(out)), basename(out));

  const kind = await hfModelKind(modelDir);
  if (kind === "gpt2") throw usageError("export", `--model ${modelDir}: a GPT-2 checkpoint; export merges adapters of Llama 3, Qwen2 and Qwen3 models`);
  const { config, json } = await readDecoderConfig(modelDir);
  const { adapter, tensors } = await readAdapter(loraDir, config);
  const base = allocateParameters(config);
  const { dtypes } = await loadDecoderWeights(modelDir, config, base);
  mergeLora(base, tensors, config, adapter.lora);
  const dtype = dtypeName !== undefined ? DTYPE[dtypeName] : dtypes.length === 1 && dtypes[0] === "BF16" ? "BF16" : "F32";

  const temp = join(dirname(resolve(out)), `.${basename(out)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await mkdir(temp);
  } catch (err) {
    throw new UserError(`--out: cannot create ${out} (${reason(err)})`);
  }
  try {
    await saveDecoderModel(temp, config, base, { dtype, maxShardBytes, extraConfig: json });
    for (const f of COPIED_FILES) if (existsSync(join(modelDir, f))) await copyFile(join(modelDir, f), join(temp, f));
    if (existsSync(out)) {
      // the old directory steps aside only once the new one is complete
      const old = `${temp}.old`;
      await rename(out, old);
      await rename(temp, out);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temp, out);
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  const targets = adapter.lora.targetModules === "all-linear" ? "all-linear" : adapter.lora.targetModules.join(", ");
  console.error(`lambda-grpo export: ${modelDir} + ${loraDir} (r ${adapter.lora.r}, alpha ${adapter.lora.alpha}, ${targets}) -> ${out} (${dtype})`);
}

/** --out must be a new place: not an input, not a non-empty directory unless --overwrite. */
async function checkOut(out: string, inputs: [string, string][], overwrite: boolean): Promise<void> {
  const real = (p: string): string => (existsSync(p) ? realpathSync(p) : resolve(p));
  for (const [option, dir] of inputs) {
    const input = real(dir);
    const target = real(out);
    if (input === target || input.startsWith(target + "/")) throw new UserError(`--out ${out}: is the ${option} directory (or holds it); export never overwrites its input`);
  }
  if (!existsSync(out)) return;
  if (!(await stat(out)).isDirectory()) throw new UserError(`--out ${out}: exists and is not a directory`);
  if (!overwrite && (await readdir(out)).length > 0) throw new UserError(`--out ${out}: exists and is not empty (--overwrite replaces it)`);
}
