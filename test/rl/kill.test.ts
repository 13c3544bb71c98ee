/**
 * Kill test: `train` (the real CLI, a tiny config) is SIGKILLed at random moments, half of them while a
 * checkpoint is being written (its temp file just appeared), and resumed with --resume until it finishes,
 * again and again. Every run so finished must end as the uninterrupted run did: the same metrics.jsonl (but
 * `seconds`), the same rollouts.jsonl, the same final checkpoint (every tensor's bytes, and its metadata but
 * the byte length of metrics.jsonl, which `seconds` makes vary), and no temp file left behind.
 * 6 kills here; `npm run soak` does 60.
 */
import assert from "node:assert/strict";
import { existsSync, watch } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readSafetensors } from "../../src/io/safetensors.js";
import { Rng } from "../../src/util/rng.js";
import { startCli } from "../cli/helpers.js";
import { withoutSeconds } from "./helpers.js";

const KILLS = process.env.LGRPO_SOAK === "1" ? 60 : 6;
const STEPS = 30;
const FINAL = `step-${String(STEPS).padStart(8, "0")}.safetensors`;

// width 64: checkpoints of 1.2 MB, so that writing one (and its fsync) takes long enough to be caught
const CONFIG = [
  "model: {vocab_size: 8, context_length: 8, n_layer: 2, n_head: 2, n_embd: 64}",
  `steps: ${STEPS}`,
  "num_generations: 4",
  "prompts_per_step: 2",
  "checkpoint_every: 4",
  "save_total_limit: 2",
  "learning_rate: 0.01",
  "beta: 0.04",
  "num_iterations: 2",
  "lambda: true",
  "seed: 5",
  "env: {name: tree, depth: 3, target: LRL, left_token: 1, right_token: 2}",
  "",
].join("\n");

/** The final checkpoint: tensor bytes by name, and its metadata without metricsBytes. */
async function finalCheckpoint(dir: string): Promise<{ tensors: Map<string, Buffer>; meta: Record<string, unknown> }> {
  const { tensors, metadata } = await readSafetensors(join(dir, "checkpoints", FINAL));
  const meta = JSON.parse(metadata.lambda_grpo) as Record<string, unknown>;
  delete meta.metricsBytes;
  return { tensors: new Map([...tensors].map(([name, t]) => [name, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)])), meta };
}

async function tempFiles(dir: string): Promise<string[]> {
  const names = [...(await readdir(dir)), ...(await readdir(join(dir, "checkpoints"))).map((n) => `checkpoints/${n}`)];
  return names.filter((n) => n.endsWith(".tmp"));
}

test(`train: SIGKILLed ${KILLS} times (during checkpoint writes too) and resumed, every run ends as the uninterrupted one`, async () => {
  const root = await mkdtemp(join(tmpdir(), "lgrpo-kill-"));
  const cfg = join(root, "run.yaml");
  await writeFile(cfg, CONFIG);
  const whole = join(root, "whole");
  const a = await startCli(["train", cfg, "--output-dir", whole, "--quiet"]).done;
  assert.equal(a.code, 0, a.stderr);
  const reference = {
    metrics: withoutSeconds(await readFile(join(whole, "metrics.jsonl"), "utf8")),
    rollouts: await readFile(join(whole, "rollouts.jsonl"), "utf8"),
    checkpoint: await finalCheckpoint(whole),
  };

  const rng = new Rng(2026);
  let kills = 0;
  let duringWrite = 0;
  let chains = 0;
  while (kills < KILLS) {
    const dir = join(root, `chain-${chains++}`);
    // one chain: start, then resume after every kill, until a run finishes
    for (let attempt = 0; ; attempt++) {
      const run = startCli(["train", cfg, "--output-dir", dir, "--quiet", ...(attempt > 0 ? ["--resume"] : [])]);
      const checkpoints = join(dir, "checkpoints");
      let watcher: ReturnType<typeof watch> | null = null;
      let timer: NodeJS.Timeout | null = null;
      if (kills < KILLS) {
        if (rng.next() < 0.5) {
          // at the n-th checkpoint temp file that appears
          let seen = rng.int(4);
          const arm = (): void => {
            if (!existsSync(checkpoints)) {
              timer = setTimeout(arm, 2);
              return;
            }
            watcher = watch(checkpoints, (_, name) => {
              if (name?.endsWith(".tmp") && seen-- <= 0) run.child.kill("SIGKILL");
            });
          };
          arm();
        } else {
          // at a random moment of the run (start-up included)
          timer = setTimeout(() => run.child.kill("SIGKILL"), 50 + rng.int(600));
        }
      }
      const r = await run.done;
      (watcher as ReturnType<typeof watch> | null)?.close();
      if (timer) clearTimeout(timer);
      if (r.signal === "SIGKILL") {
        kills++;
        if (existsSync(checkpoints) && (await tempFiles(dir)).some((n) => n.startsWith("checkpoints/"))) duringWrite++;
        continue;
      }
      assert.equal(r.code, 0, r.stderr);
      break;
    }
    assert.deepEqual(withoutSeconds(await readFile(join(dir, "metrics.jsonl"), "utf8")), reference.metrics, dir);
    assert.equal(await readFile(join(dir, "rollouts.jsonl"), "utf8"), reference.rollouts, dir);
    assert.deepEqual(await finalCheckpoint(dir), reference.checkpoint, dir);
    assert.deepEqual(await tempFiles(dir), [], `${dir}: the resume clears what the kills left`);
  }
  assert.ok(duringWrite > 0, `no kill landed during a checkpoint write (${kills} kills)`);
  await rm(root, { recursive: true });
});
