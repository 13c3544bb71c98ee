/**
 * `lambda-grpo sft` with `lora:` on a tiny Qwen2 directory: output_dir/adapter/ is the trained adapters in
 * PEFT's format and output_dir/model/ the base with them merged in, a plain checkpoint (no adapter files,
 * the tokenizer beside it) that the next stage loads as its model and that scores like base + adapter.
 */
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadDecoderModel } from "../../src/engine/hf-families.js";
import { createPolicy, DecoderPolicy } from "../../src/policy/index.js";
import type { Policy, SequenceBatch } from "../../src/rl/policy.js";
import { runCli, tempDir } from "../cli/helpers.js";
import { writeFamilyTextModel } from "../fixtures/family-text-model.js";

const SEQ = Int32Array.from(Buffer.from("What is 2 + 3? \\boxed{5}"));
const BATCH: SequenceBatch = { tokens: SEQ, batch: 1, seqLen: SEQ.length, lengths: Int32Array.of(SEQ.length) };
const score = (p: Policy): number[] => Array.from(p.score(BATCH).logprobs);
const maxDiff = (a: number[], b: number[]): number => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

test("sft with lora writes adapter/ (PEFT) and model/ (merged): model/ loads plain and scores like base + adapter", async () => {
  const dir = tempDir();
  const modelDir = await writeFamilyTextModel(join(dir, "base"), "qwen2", 1);
  const data = join(dir, "train.jsonl");
  writeFileSync(data, Array.from({ length: 4 }, (_, i) => JSON.stringify({ problem: `What is ${i} + 3?`, solution: `\\boxed{${i + 3}}` })).join("\n") + "\n");
  const cfg = join(dir, "sft.yaml");
  const out = join(dir, "run");
  writeFileSync(cfg, [
    `model: ${modelDir}`,
    "lora: {r: 4, lora_alpha: 8, target_modules: all-linear}",
    `dataset: ${data}`,
    "max_length: 128",
    "learning_rate: 0.01",
    "max_steps: 2",
    "per_device_train_batch_size: 2",
    "logging_steps: 1",
    `output_dir: ${out}`,
    "",
  ].join("\n"));
  const r = runCli(["sft", cfg, "--quiet"]);
  assert.equal(r.status, 0, r.stderr);

  for (const f of ["adapter_config.json", "adapter_model.safetensors"]) assert.ok(existsSync(join(out, "adapter", f)), f);
  for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) assert.ok(existsSync(join(out, "model", f)), f);
  assert.ok(!existsSync(join(out, "model", "adapter_config.json")));

  const withAdapter = new DecoderPolicy((await loadDecoderModel(modelDir, { trainable: false, adapter: join(out, "adapter") })).model, {}, true);
  const merged = await createPolicy(join(out, "model"), { seed: 0 });
  assert.ok(merged instanceof DecoderPolicy && merged.model.lora === null, "model/ is a plain checkpoint");
  const base = await createPolicy(modelDir, { seed: 0 });
  const d = maxDiff(score(merged), score(withAdapter));
  assert.ok(d < 1e-4, `merged vs base + adapter: ${d}`);
  assert.ok(maxDiff(score(base), score(withAdapter)) > 1e-3, "the adapters trained");
});
