/**
 * `lambda-grpo sft` as a user runs it, on the reasoning task family and a tiny GPT-2: killed with SIGKILL
 * after a checkpoint and resumed, it ends with the metrics.jsonl and model/ of a run never stopped; model/ is
 * a Hugging Face directory (weights, config, tokenizer) that createPolicy loads and `sft` takes as its model;
 * bad configs and rows are one-line errors naming file, line and field.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createPolicy } from "../../src/policy/index.js";
import { readCheckpoint } from "../../src/rl/checkpoint.js";
import { writeTaskData } from "../../src/reasoning/data.js";
import { killedAndResumed, runCli } from "../cli/helpers.js";
import { withoutSeconds } from "../rl/helpers.js";

test("sft: SIGKILL after a checkpoint, then --resume: same metrics and model as an uninterrupted run; model/ loads back", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lgrpo-sftcli-"));
  const data = join(dir, "data");
  await writeTaskData(data, { seed: 0, train: 120, heldOut: 12, contextLength: 192 });
  const cfg = join(dir, "sft.yaml");
  const steps = 60;
  await writeFile(cfg, [
    "model: {vocab_size: 128, context_length: 192, n_layer: 1, n_head: 2, n_embd: 32}",
    `tokenizer: ${join(data, "tokenizer")}`,
    `dataset: ${join(data, "train.jsonl")}`,
    `eval_dataset: ${join(data, "validation.jsonl")}`,
    "learning_rate: 0.003",
    "num_train_epochs: 2",
    "per_device_train_batch_size: 2",
    "gradient_accumulation_steps: 2",
    "warmup_ratio: 0.1",
    "logging_steps: 4",
    "eval_steps: 15",
    "save_steps: 10",
    "seed: 1",
    "",
  ].join("\n"));
  const { whole, broken } = await killedAndResumed(["sft", cfg], dir, join("checkpoints", "step-00000020.safetensors"), (killed) => {
    assert.ok(!existsSync(join(killed, "model")), "model/ is written at the end only");
  });
  const metrics = withoutSeconds(await readFile(join(whole, "metrics.jsonl"), "utf8"));
  assert.deepEqual(withoutSeconds(await readFile(join(broken, "metrics.jsonl"), "utf8")), metrics);
  assert.equal(metrics.length, steps / 4 + 3, "every 4th step, and steps 15, 30, 45 for eval (60 is both)");
  const last = JSON.parse(metrics[metrics.length - 1]);
  assert.equal(last.step, steps);
  assert.ok(last.eval_loss < JSON.parse(metrics[0]).loss, "it learns");
  assert.deepEqual(await readFile(join(broken, "model", "model.safetensors")), await readFile(join(whole, "model", "model.safetensors")));

  // model/ is the final weights, with the tokenizer beside them
  const loaded = (await createPolicy(join(whole, "model"), { seed: 0 })).exportState().tensors;
  const final = (await readCheckpoint(join(whole, "checkpoints", `step-${String(steps).padStart(8, "0")}.safetensors`))).state.tensors;
  for (const [name, w] of Object.entries(loaded)) {
    if (!name.startsWith("adamw.")) assert.deepEqual(w, final[name], name);
  }
  for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "config.json"]) assert.ok(existsSync(join(whole, "model", f)), f);

  // ... and `sft` takes it as its model (the tokenizer found in it); writing model/ over it is refused
  const again = join(dir, "again.yaml");
  await writeFile(again, `model: ${join(whole, "model")}\ndataset: ${join(data, "train.jsonl")}\nmax_steps: 2\nper_device_train_batch_size: 2\noutput_dir: ${join(dir, "again")}\n`);
  const d = runCli(["sft", again, "--quiet"]);
  assert.equal(d.status, 0, d.stderr);
  const self = runCli(["sft", again, "--quiet", "--output-dir", whole, "--overwrite"]);
  assert.equal(self.status, 1);
  assert.match(self.stderr, /would write its model over its input/);
  await rm(dir, { recursive: true });
});

test("sft: bad configs and rows are one line naming file, line and field", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lgrpo-sftcli-"));
  const data = join(dir, "data");
  await writeTaskData(data, { seed: 0, train: 10, heldOut: 2, contextLength: 192 });
  const cfg = join(dir, "c.yaml");
  const base = `model: {vocab_size: 128, context_length: 192, n_layer: 1, n_head: 2, n_embd: 32}\ntokenizer: ${join(data, "tokenizer")}\noutput_dir: ${join(dir, "out")}\n`;
  const run = async (extra: string) => {
    await writeFile(cfg, base + extra);
    return runCli(["sft", cfg, "--quiet"]);
  };
  let r = await run(`dataset: ${join(data, "train.jsonl")}\nnum_train_epoch: 2\n`);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /c\.yaml:5: num_train_epoch: unknown field \(did you mean 'num_train_epochs'\?\)/);
  const rows = join(dir, "rows.jsonl");
  await writeFile(rows, '{"problem": "Given a = 1 . Find a .", "solution": "\\\\boxed{1}"}\n{"problem": "Given a = 1 . Find a ."}\n');
  r = await run(`dataset: ${rows}\n`);
  assert.match(r.stderr, /rows\.jsonl:2: solution: missing/);
  await writeFile(rows, '{"problem": "Given a = 1 ; Find a .", "solution": "\\\\boxed{1}"}\n');
  r = await run(`dataset: ${rows}\n`);
  assert.match(r.stderr, /rows\.jsonl:1: problem: piece ' ;' has no id/);
  await writeFile(cfg, `model: {vocab_size: 128, context_length: 192, n_layer: 1, n_head: 2, n_embd: 32}\ndataset: ${join(data, "train.jsonl")}\n`);
  r = runCli(["sft", cfg, "--quiet"]);
  assert.match(r.stderr, /tokenizer: required when model is not a directory/);
  await writeFile(cfg, `model: {vocab_size: 64, context_length: 192, n_layer: 1, n_head: 2, n_embd: 32}\ntokenizer: ${join(data, "tokenizer")}\ndataset: ${join(data, "train.jsonl")}\noutput_dir: ${join(dir, "out")}\n`);
  r = runCli(["sft", cfg, "--quiet"]);
  assert.match(r.stderr, /model: the tokenizer's id \d+ is outside the model's vocabulary \(64 tokens\)/);
  await rm(dir, { recursive: true });
});

test("sft on the Llama base preset: model/ is a Llama directory with the final weights and the tokenizer, which createPolicy loads", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lgrpo-sftcli-"));
  const data = join(dir, "data");
  await writeTaskData(data, { seed: 0, train: 4, heldOut: 2, contextLength: 256 });
  const cfg = join(dir, "llama.yaml");
  await writeFile(cfg, [
    "model: llama-reasoning",
    `tokenizer: ${join(data, "tokenizer")}`,
    `dataset: ${join(data, "train.jsonl")}`,
    "learning_rate: 0.001",
    "max_steps: 2",
    "per_device_train_batch_size: 2",
    `output_dir: ${join(dir, "run")}`,
    "",
  ].join("\n"));
  const r = runCli(["sft", cfg, "--quiet"]);
  assert.equal(r.status, 0, r.stderr);
  const model = join(dir, "run", "model");
  const hf = JSON.parse(await readFile(join(model, "config.json"), "utf8"));
  assert.equal(hf.model_type, "llama");
  assert.equal(hf.vocab_size, 128);
  // createPolicy loads it back with the final weights
  const loaded = (await createPolicy(model, { seed: 0 })).exportState().tensors;
  const final = (await readCheckpoint(join(dir, "run", "checkpoints", "step-00000002.safetensors"))).state.tensors;
  const names = Object.keys(loaded).filter((n) => !n.startsWith("adamw."));
  assert.ok(names.length > 10);
  for (const name of names) assert.deepEqual(loaded[name], final[name], name);
  for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]) assert.ok(existsSync(join(model, f)), f);
  await rm(dir, { recursive: true });
});
