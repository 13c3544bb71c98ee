/**
 * `lambda-grpo info [--json]`: which kernels the engine uses here (native C++ or the TypeScript
 * fallback), the GEMM instruction set and the thread count, and why the native addon did not load.
 * `lambda-grpo info --model DIR [--json]`: what a Hugging Face directory holds (architecture, parameter
 * count, dtype of its files, tied head, vocabulary), read from config.json and the safetensors headers only.
 */
import { join } from "node:path";
import { parameterShapes as decoderShapes } from "../engine/families/config.js";
import { parameterShapes as gpt2Shapes } from "../engine/gpt2.js";
import { configFromHF, HF_CONFIG_FILE, hfModelKind, readJson } from "../engine/hf.js";
import { HF_ARCHITECTURES, readDecoderConfig } from "../engine/hf-families.js";
import { kernelInfo, nativeLoadError } from "../engine/kernels/index.js";
import { SafetensorsCheckpoint } from "../io/safetensors.js";
import { parseCommand } from "./args.js";

const USAGE = `usage: lambda-grpo info [--model <dir>] [--json]

Without --model: which kernels the engine uses here: native (C++, built by npm install) or ts (the
TypeScript fallback, same results, slower); the GEMM instruction set (avx512, avx2, scalar) and the number
of threads. LAMBDA_GRPO_KERNELS=ts|native forces one.

With --model: what a Hugging Face directory holds: architecture and family, parameter count, the dtype and
number of its safetensors files, whether the LM head is tied, the vocabulary and the shapes.

options:
  --model <dir>        a Hugging Face directory (GPT-2, Llama 3, Qwen2, Qwen3)
  --json               one JSON object instead of lines
  -h, --help           this text`;

/** What `info --model` reports. */
export interface ModelInfo {
  dir: string;
  family: string;
  architecture: string;
  parameters: number;
  dtypes: string[];
  files: number;
  tiedHead: boolean;
  vocabSize: number;
  layers: number;
  hiddenSize: number;
  heads: number;
  kvHeads: number;
  maxPositions: number;
}

export async function modelInfo(dir: string): Promise<ModelInfo> {
  const kind = await hfModelKind(dir);
  let info: Omit<ModelInfo, "dtypes" | "files">;
  if (kind === "gpt2") {
    const path = join(dir, HF_CONFIG_FILE);
    const c = configFromHF(await readJson(path), path);
    info = {
      dir, family: "gpt2", architecture: "GPT2LMHeadModel", parameters: count(gpt2Shapes(c)), tiedHead: true, vocabSize: c.vocabSize,
      layers: c.nLayer, hiddenSize: c.nEmbd, heads: c.nHead, kvHeads: c.nHead, maxPositions: c.contextLength,
    };
  } else {
    const { config: c } = await readDecoderConfig(dir);
    info = {
      dir, family: c.family, architecture: HF_ARCHITECTURES[c.family], parameters: count(decoderShapes(c)), tiedHead: c.tieWordEmbeddings,
      vocabSize: c.vocabSize, layers: c.nLayer, hiddenSize: c.hiddenSize, heads: c.nHead, kvHeads: c.nKvHead, maxPositions: c.maxPositionEmbeddings,
    };
  }
  const checkpoint = await SafetensorsCheckpoint.open(dir);
  try {
    return { ...info, dtypes: checkpoint.dtypes(), files: checkpoint.files.length };
  } finally {
    await checkpoint.close();
  }
}

function count(shapes: { shape: number[] }[]): number {
  return shapes.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
}

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      model: { type: "string" },
      json: { type: "boolean" },
    },
    USAGE,
    false,
  );
  if (!parsed) return;
  const { values } = parsed;
  if (values.model !== undefined) {
    const m = await modelInfo(values.model);
    if (values.json) {
      console.log(JSON.stringify(m));
      return;
    }
    console.log(`model:        ${m.dir}`);
    console.log(`architecture: ${m.architecture} (${m.family})`);
    console.log(`parameters:   ${m.parameters.toLocaleString("en-US")}${m.tiedHead ? " (the tied head counted once)" : ""}`);
    console.log(`dtype:        ${m.dtypes.join(", ")} in ${m.files} file${m.files === 1 ? "" : "s"}`);
    console.log(`head:         ${m.tiedHead ? "tied to the token embeddings" : "untied (lm_head.weight)"}`);
    console.log(`vocabulary:   ${m.vocabSize}`);
    console.log(`shape:        ${m.layers} layers, hidden ${m.hiddenSize}, ${m.heads} heads (${m.kvHeads} KV), ${m.maxPositions} positions`);
    return;
  }
  const info = kernelInfo();
  const why = info.name === "ts" ? (nativeLoadError ?? "forced by LAMBDA_GRPO_KERNELS=ts") : null;
  if (values.json) {
    console.log(JSON.stringify({ ...info, node: process.version, native_unavailable: why }));
    return;
  }
  console.log(`kernels: ${info.name}`);
  console.log(`isa:     ${info.isa}`);
  console.log(`threads: ${info.threads}`);
  console.log(`node:    ${process.version}`);
  if (why !== null) console.log(`native:  not in use: ${why}`);
}
