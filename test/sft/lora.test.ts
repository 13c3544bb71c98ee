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
import { createPolicy, DecoderPolicy, saveAdapter } from "../../src/policy/index.js";
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

test("sft: a lora: block or lora.adapter the model refuses is one line naming the config file, the field's line and the field; output_dir is not created", async () => {
  const dir = tempDir();
  const modelDir = await writeFamilyTextModel(join(dir, "base"), "qwen2", 1);
  const adapter = join(dir, "adapter-r4");
  await saveAdapter(await createPolicy(modelDir, { seed: 0, lora: { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj"] } }), adapter, modelDir);
  const data = join(dir, "train.jsonl");
  writeFileSync(data, JSON.stringify({ problem: "What is 1 + 3?", solution: "\\boxed{4}" }) + "\n");
  const cases = [
    // LoRA on a GPT-2 shape: the lora block (line 3) is the field at fault
    { name: "gpt2", fields: ["model: {vocab_size: 257, context_length: 64, n_layer: 1, n_head: 1, n_embd: 8}", `tokenizer: ${modelDir}`, "lora: {r: 4}"], at: ":3: lora: LoRA is for the decoder families" },
    { name: "adapter", fields: [`model: ${modelDir}`, "lora:", `  adapter: ${adapter}`, "  r: 8"], at: `:4: lora.r: 8, but lora.adapter's ${join(adapter, "adapter_config.json")} has r 4` },
  ];
  for (const c of cases) {
    const cfg = join(dir, `${c.name}.yaml`);
    const out = join(dir, `run-${c.name}`);
    writeFileSync(cfg, [...c.fields, `dataset: ${data}`, "max_steps: 1", `output_dir: ${out}`, ""].join("\n"));
    const r = runCli(["sft", cfg, "--quiet"]);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(r.stderr.includes(`${cfg}${c.at}`), r.stderr);
    assert.ok(!existsSync(out), `${c.name}: ${out} was created`);
  }
});
