/**
 * A `lora:` run's PEFT adapter: written to output_dir/adapter/ at the end, it is the trained policy (its
 * log-probs through `logprobs --lora` are the policy's own), what `generate --lora` and `export --lora`
 * take, and a run started from it with `lora.adapter` begins as base + adapter. Fields beside `adapter`
 * must agree with its adapter_config.json.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadDecoderModel } from "../../src/engine/hf-families.js";
import { readAdapter } from "../../src/engine/peft.js";
import { SafetensorsFile } from "../../src/io/safetensors.js";
import { DecoderPolicy } from "../../src/policy/index.js";
import { resolveConfig, type TrainConfigInput } from "../../src/rl/config.js";
import { validateEnv } from "../../src/rl/env/index.js";
import { createEnginePolicy } from "../../src/rl/model.js";
import type { Policy, SequenceBatch } from "../../src/rl/policy.js";
import { train } from "../../src/rl/trainer.js";
import { runCli, tempDir } from "../cli/helpers.js";
import { textConfig, writeFamilyTextModel } from "../fixtures/family-text-model.js";

const dir = tempDir();
const modelDir = join(dir, "qwen2");
await writeFamilyTextModel(modelDir, "qwen2", 3);
const QWEN2 = textConfig("qwen2");
const LORA = { r: 4, lora_alpha: 8, target_modules: "all-linear" as const };

function config(extra: TrainConfigInput) {
  return resolveConfig(
    {
      model: modelDir, lora: LORA, env: { name: "tree", depth: 3, target: "LLR" },
      steps: 2, num_generations: 4, prompts_per_step: 2, learning_rate: 0.05, checkpoint_every: 0, ...extra,
    },
    validateEnv,
  );
}

/** Sequences over the tiny vocabulary, two lengths (padding in the batch). */
const SEQS = [[1, 43, 49, 43, 7, 30, 12], [5, 49, 49, 2]];
const BATCH: SequenceBatch = (() => {
  const T = Math.max(...SEQS.map((s) => s.length));
  const tokens = new Int32Array(SEQS.length * T);
  SEQS.forEach((s, i) => tokens.set(s, i * T));
  return { tokens, batch: SEQS.length, seqLen: T, lengths: Int32Array.from(SEQS, (s) => s.length) };
})();

/** Each sequence's log-probs ([B, T-1] rows cut to the sequence) as plain numbers. */
function rows(lp: Float32Array): number[][] {
  return SEQS.map((s, i) => Array.from(lp.subarray(i * (BATCH.seqLen - 1), i * (BATCH.seqLen - 1) + s.length - 1)));
}

function score(policy: Policy): number[][] {
  return rows(policy.score(BATCH).logprobs);
}

/** `lambda-grpo logprobs --model modelDir [--lora adapter]` on SEQS. */
function cliLogprobs(extra: string[]): number[][] {
  const input = join(dir, "seqs.jsonl");
  writeFileSync(input, SEQS.map((tokens) => JSON.stringify({ tokens })).join("\n") + "\n");
  const r = runCli(["logprobs", "--model", modelDir, ...extra, "--input", input, "--out", "-"]);
  assert.equal(r.status, 0, r.stderr);
  // printed as the shortest decimal of each float32: fround gives the float32 back
  return r.stdout.trim().split("\n").map((l) => (JSON.parse(l).logprobs as number[]).map(Math.fround));
}

const maxDiff = (a: number[][], b: number[][]): number => Math.max(...a.flatMap((r, i) => r.map((v, t) => Math.abs(v - b[i][t]))));

const runA = join(dir, "run-a");
let trained: Policy | null = null;
await train(config({ output_dir: runA }), { policyFactory: async (c) => (trained = await createEnginePolicy(c)) });
const adapterA = join(runA, "adapter");

test("a 2-step lora run writes adapter/ in PEFT's format: its config, PEFT's tensor names, the model directory as its base", async () => {
  const json = JSON.parse(readFileSync(join(adapterA, "adapter_config.json"), "utf8"));
  assert.equal(json.peft_type, "LORA");
  assert.equal(json.base_model_name_or_path, modelDir);
  assert.equal(json.r, 4);
  assert.equal(json.lora_alpha, 8);
  // "all-linear" saved as the modules it resolved to, as PEFT saves it
  assert.deepEqual(json.target_modules, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]);
  const file = await SafetensorsFile.open(join(adapterA, "adapter_model.safetensors"));
  const names = [...file.entries.keys()];
  await file.close();
  // 2 layers x 7 modules x (A, B)
  assert.equal(names.length, 28);
  assert.ok(names.includes("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"), names.join());
  const { tensors } = await readAdapter(adapterA, QWEN2);
  assert.ok(tensors.filter((t) => t.name.includes("lora_B")).some((t) => t.data.some((v) => v !== 0)), "B moved off PEFT's zero init");
});

test("the adapter scores exactly like the trained policy (logprobs --lora) and unlike the base", () => {
  assert.ok(trained instanceof DecoderPolicy);
  const policy = score(trained);
  const withAdapter = cliLogprobs(["--lora", adapterA]);
  assert.deepEqual(withAdapter, policy);
  const base = cliLogprobs([]);
  assert.ok(maxDiff(base, policy) > 1e-3, `base and trained differ by only ${maxDiff(base, policy)}`);
});

test("generate --lora and export --lora take the adapter; the merged model scores like base + adapter", () => {
  const g = runCli(["generate", "--model", modelDir, "--lora", adapterA, "--prompt", "ab", "--max-new-tokens", "3"]);
  assert.equal(g.status, 0, g.stderr);
  assert.ok(g.stdout.length > 0);
  const merged = join(dir, "merged");
  const e = runCli(["export", "--model", modelDir, "--lora", adapterA, "--out", merged]);
  assert.equal(e.status, 0, e.stderr);
  const input = join(dir, "seqs.jsonl");
  const r = runCli(["logprobs", "--model", merged, "--input", input, "--out", "-"]);
  assert.equal(r.status, 0, r.stderr);
  const m = r.stdout.trim().split("\n").map((l) => JSON.parse(l).logprobs as number[]);
  const d = maxDiff(m, score(trained!));
  assert.ok(d < 1e-4, `merged vs adapter: ${d}`);
});

test("lora.adapter: the run's policy at step 0 is base + that adapter, not fresh adapters; lr 0 writes it back unchanged", async () => {
  const c = config({ lora: { adapter: adapterA }, output_dir: join(dir, "run-b"), steps: 1, learning_rate: 0 });
  assert.deepEqual(c.lora, { adapter: adapterA }, "the resolved config keeps only what was given");
  assert.throws(() => config({ lora: { adaptor: adapterA } as never }), /lora\.adaptor: unknown field \(did you mean 'adapter'\?\)/);
  const start = await createEnginePolicy(c);
  const { model } = await loadDecoderModel(modelDir, { trainable: false, adapter: adapterA });
  assert.deepEqual(score(start), score(new DecoderPolicy(model, {}, true)));
  assert.deepEqual(score(start), score(trained!));
  const fresh = await createEnginePolicy(config({}));
  assert.ok(maxDiff(score(fresh), score(start)) > 1e-3, "fresh adapters (B = 0) are the base");
  assert.equal((start as DecoderPolicy).model.lora!.dropout, 0, "the adapter's lora_dropout");

  await train(c);
  const before = await readAdapter(adapterA, QWEN2);
  const after = await readAdapter(join(dir, "run-b", "adapter"), QWEN2);
  assert.deepEqual(after.tensors, before.tensors);
  assert.deepEqual(after.adapter.lora, before.adapter.lora);
});

test("lora.adapter: r, lora_alpha and target_modules must agree with adapter_config.json; lora_dropout may differ", async () => {
  const build = (lora: Record<string, unknown>) => createEnginePolicy(config({ lora: { adapter: adapterA, ...lora } }));
  await assert.rejects(build({ r: 8 }), /^UserError: lora\.r: 8, but lora\.adapter's .*adapter_config\.json has r 4/);
  await assert.rejects(build({ lora_alpha: 16 }), /lora\.lora_alpha: 16, but .* has lora_alpha 8/);
  await assert.rejects(build({ target_modules: ["q_proj", "v_proj"] }), /lora\.target_modules: \["q_proj","v_proj"\], but .* has target_modules \["q_proj","k_proj",/);
  await assert.rejects(build({ target_modules: ["q_proj", "nope"] }), /lora\.target_modules: 'nope' is not a linear module/);
  const all = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
  const same = await build({ r: 4, lora_alpha: 8, target_modules: all, lora_dropout: 0.1 });
  assert.equal((same as DecoderPolicy).model.lora!.dropout, 0.1);
  await assert.rejects(createEnginePolicy(config({ model: "llama-tiny", lora: { adapter: adapterA } })), /lora\.adapter: .*needs model to be a Hugging Face/);
  // through the CLI: one line naming the config file, the field's line and the adapter's file
  const cfg = join(dir, "mismatch.yaml");
  writeFileSync(cfg, [`model: ${modelDir}`, "lora:", `  adapter: ${adapterA}`, "  r: 8", "env: {name: tree, depth: 3, target: LLR}", `output_dir: ${join(dir, "run-d")}`, ""].join("\n"));
  const r = runCli(["train", cfg, "--quiet"]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.ok(r.stderr.includes(`${cfg}:4: lora.r: 8, but lora.adapter's ${join(adapterA, "adapter_config.json")} has r 4`), r.stderr);
  assert.ok(!existsSync(join(dir, "run-d")), "a policy that cannot be built leaves no output_dir");
  await assert.rejects(
    train(config({ lora: { adapter: join(dir, "run-c", "adapter") }, output_dir: join(dir, "run-c") })),
    /lora\.adapter: .* is where this run writes its adapter/,
  );
});
