/**
 * `train` end to end on a decoder family (llama-tiny, random weights) with the tree environment: LoRA on
 * every linear layer with dropout, the KL to the base (adapters off), TRL's micro-batching names, gradient
 * checkpointing; a run resumed from its checkpoint ends with the metrics of one never stopped (dropout's
 * generator travels in the checkpoint).
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { resolveConfig } from "../../src/rl/config.js";
import { validateEnv } from "../../src/rl/env/index.js";
import { train } from "../../src/rl/trainer.js";
import { withoutSeconds } from "./helpers.js";

function config(dir: string) {
  return resolveConfig(
    {
      model: "llama-tiny",
      lora: { r: 4, lora_alpha: 8, lora_dropout: 0.1, target_modules: "all-linear" },
      gradient_checkpointing: true,
      env: { name: "tree", depth: 3, target: "LLR" },
      steps: 4, num_generations: 4, prompts_per_step: 2, per_device_train_batch_size: 4, beta: 0.1,
      learning_rate: 1e-2, checkpoint_every: 2, output_dir: dir,
    },
    validateEnv,
  );
}

test("train on llama-tiny with LoRA (dropout), beta > 0, checkpointing: finite metrics, KL 0 at the start, resume matches", async () => {
  const [whole, broken] = await Promise.all([0, 1].map(() => mkdtemp(join(tmpdir(), "lgrpo-family-"))));
  const c = config(whole);
  assert.equal(c.micro_batch_size, 4);
  await train(c, {});
  const lines = withoutSeconds(await readFile(join(whole, "metrics.jsonl"), "utf8")).map((l) => JSON.parse(l));
  assert.equal(lines.length, 4);
  for (const l of lines) for (const k of ["loss", "kl", "grad_norm", "entropy", "reward_mean"]) assert.ok(Number.isFinite(l[k]), k);
  assert.equal(lines[0].kl, 0, "fresh adapters: the policy is its reference");
  assert.ok(lines[0].grad_norm > 0, "the adapters get gradient");
  assert.deepEqual(await readdir(join(whole, "checkpoints")), ["step-00000002.safetensors", "step-00000004.safetensors"]);
  await assert.rejects(train(config(broken), { onStep: (m) => { if (m.step === 3) throw new Error("killed"); } }), /killed/);
  const resumed = await train(config(broken), { resume: true });
  assert.equal(resumed.startStep, 2);
  assert.deepEqual(
    withoutSeconds(await readFile(join(broken, "metrics.jsonl"), "utf8")),
    withoutSeconds(await readFile(join(whole, "metrics.jsonl"), "utf8")),
  );
  await rm(whole, { recursive: true });
  await rm(broken, { recursive: true });
});
