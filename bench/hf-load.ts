/**
 * Peak memory of loading a Hugging Face checkpoint of the decoder families (issue 8's target: peak RSS <=
 * 1.3x the loaded float32 model). Writes a random checkpoint of about --mb MB of float32 parameters, then
 * loads it in a fresh child process and reports the child's peak RSS (process.resourceUsage().maxRSS)
 * against the model's float32 bytes.
 *
 *   node dist/bench/hf-load.js [--mb 400] [--dtype F32|BF16] [--shard-mb 0]
 *
 * The child (`--load DIR`) prints one JSON line: rss before allocating, peak RSS, model bytes, seconds. The
 * checkpoint is written by another child (`--write DIR`): Linux carries a process's peak RSS across fork and
 * exec, so a loader spawned by a process that had just held the model would report that process's peak.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { DecoderConfig } from "../src/engine/families/config.js";
import { allocateParameters, loadDecoderWeights, readDecoderConfig, saveDecoderModel } from "../src/engine/hf-families.js";

export interface LoadMeasurement {
  rssBeforeBytes: number;
  maxRssBytes: number;
  modelBytes: number;
  seconds: number;
}

/** A Qwen2-shaped config of about `mb` MB of float32 parameters (the embeddings and head dominate, as in the real ones). */
export function configOfSize(mb: number): DecoderConfig {
  const hidden = 512;
  const layers = 4;
  const perLayer = 4 * hidden * hidden + 3 * hidden * 1024;
  const vocab = Math.max(256, Math.round(((mb * 1e6) / 4 - layers * perLayer) / (2 * hidden)));
  return {
    family: "qwen2", vocabSize: vocab, hiddenSize: hidden, intermediateSize: 1024, nLayer: layers, nHead: 8, nKvHead: 8,
    headDim: 64, rmsNormEps: 1e-6, ropeTheta: 1e6, ropeScaling: null, maxPositionEmbeddings: 4096, tieWordEmbeddings: false,
    qkvBias: true, oBias: false, mlpBias: false, qkNorm: false,
  };
}

/** Writes a checkpoint of `config` with cheap pseudo-random weights (one parameter at a time). */
export async function writeRandomCheckpoint(dir: string, config: DecoderConfig, opts: { dtype: "F32" | "BF16"; maxShardBytes?: number }): Promise<void> {
  const params = allocateParameters(config);
  let x = 1;
  for (const p of params) for (let i = 0; i < p.data.length; i++) p.data[i] = ((x = (x * 48271) % 2147483647) / 2147483647 - 0.5) * 0.1;
  await saveDecoderModel(dir, config, params, opts);
}

function runSelf(args: string[]): string {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`hf-load ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Writes a random checkpoint of about `mb` MB of float32 parameters into `dir`, in a child process. */
export function writeCheckpointInChild(dir: string, mb: number, dtype: "F32" | "BF16", shardMb = 0): void {
  runSelf(["--write", dir, "--mb", String(mb), "--dtype", dtype, "--shard-mb", String(shardMb)]);
}

/** Loads `dir` in a child process and returns its measurement (spawn it from a process that is small). */
export function measureLoad(dir: string): LoadMeasurement {
  return JSON.parse(runSelf(["--load", dir]).trim().split("\n").pop()!);
}

async function load(dir: string): Promise<void> {
  const rssBeforeBytes = process.memoryUsage().rss;
  const start = performance.now();
  const { config } = await readDecoderConfig(dir);
  const params = allocateParameters(config);
  await loadDecoderWeights(dir, config, params);
  const seconds = (performance.now() - start) / 1000;
  const modelBytes = params.reduce((a, p) => a + p.data.byteLength, 0);
  // maxRSS is in kilobytes
  const m: LoadMeasurement = { rssBeforeBytes, maxRssBytes: process.resourceUsage().maxRSS * 1024, modelBytes, seconds };
  console.log(JSON.stringify(m));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { load: { type: "string" }, write: { type: "string" }, mb: { type: "string" }, dtype: { type: "string" }, "shard-mb": { type: "string" } },
  });
  if (values.load) return load(values.load);
  const mb = Number(values.mb ?? 400);
  const dtype = (values.dtype ?? "F32") as "F32" | "BF16";
  const shardMb = Number(values["shard-mb"] ?? 0);
  if (values.write) {
    return writeRandomCheckpoint(values.write, configOfSize(mb), { dtype, maxShardBytes: shardMb > 0 ? shardMb * 1e6 : undefined });
  }
  const dir = mkdtempSync(join(tmpdir(), "hf-load-"));
  try {
    writeCheckpointInChild(dir, mb, dtype, shardMb);
    const m = measureLoad(dir);
    const ratio = m.maxRssBytes / m.modelBytes;
    console.log(
      `${dtype}${shardMb > 0 ? `, shards of ${shardMb} MB` : ""}: model ${(m.modelBytes / 1e6).toFixed(0)} MB float32, ` +
        `peak RSS ${(m.maxRssBytes / 1e6).toFixed(0)} MB (${ratio.toFixed(2)}x; ${(m.rssBeforeBytes / 1e6).toFixed(0)} MB before loading), ${m.seconds.toFixed(2)} s`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
