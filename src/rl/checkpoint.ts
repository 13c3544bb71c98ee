/**
 * Checkpoints: `<output_dir>/checkpoints/step-<8 digits>.safetensors`, one file per checkpoint, written
 * atomically (temp file, fsync, rename), so a run killed at any moment leaves only whole checkpoints.
 *
 * Tensors: the policy's exported state (weights and AdamW moments, each flat float32 under its engine name).
 * `__metadata__["lambda_grpo"]`: JSON of `CheckpointMeta` (step, sampler RNG state, the byte lengths of
 * metrics.jsonl and rollouts.jsonl after that step, and the policy's own small state such as the AdamW step).
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import { UserError } from "../util/errors.js";
import type { RngState } from "../util/rng.js";
import type { PolicyState } from "./policy.js";

export const CHECKPOINT_FORMAT = 1;

export interface CheckpointMeta {
  format: number;
  /** steps completed */
  step: number;
  rng: RngState;
  /** bytes of metrics.jsonl / rollouts.jsonl that belong to steps 1..step (a resume truncates to these) */
  metricsBytes: number;
  rolloutsBytes: number;
  policyMeta: Record<string, unknown>;
  /** the environment's own state (its place in the dataset's shuffled epoch), when it has one */
  env?: unknown;
  /** the training loop's own running state, when it has some (sft: the logging window's sums) */
  loop?: Record<string, unknown>;
}

/** A checkpoint's file name (also what src/io/atomic.ts's stale-temp sweep looks for). */
export const CHECKPOINT_NAME = /^step-(\d{8})\.safetensors$/;

export function checkpointPath(dir: string, step: number): string {
  return join(dir, `step-${String(step).padStart(8, "0")}.safetensors`);
}

export async function writeCheckpoint(dir: string, state: PolicyState, meta: Omit<CheckpointMeta, "format">): Promise<string> {
  const path = checkpointPath(dir, meta.step);
  const full: CheckpointMeta = { format: CHECKPOINT_FORMAT, ...meta };
  const tensors = Object.entries(state.tensors).map(
    ([name, data]) => [name, { shape: [data.length], data }] as [string, { shape: number[]; data: Float32Array }],
  );
  await writeSafetensors(path, tensors, { lambda_grpo: JSON.stringify(full) });
  return path;
}

/** Steps of the checkpoints in `dir`, ascending (none when the folder does not exist). */
export async function listCheckpoints(dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => CHECKPOINT_NAME.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export async function readCheckpoint(path: string): Promise<{ state: PolicyState; meta: CheckpointMeta }> {
  const contents = await readSafetensors(path);
  const raw = contents.metadata.lambda_grpo;
  if (raw === undefined) throw new UserError(`${path}: not a lambda-grpo checkpoint (no 'lambda_grpo' metadata)`);
  const meta = JSON.parse(raw) as CheckpointMeta;
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new UserError(`${path}: checkpoint format ${meta.format}, this version reads ${CHECKPOINT_FORMAT}`);
  }
  const tensors: Record<string, Float32Array> = {};
  for (const [name, t] of contents.tensors) tensors[name] = t.data;
  return { state: { tensors, meta: meta.policyMeta }, meta };
}

/** Removes all but the newest `keep` checkpoints (keep 0 = keep all). */
export async function pruneCheckpoints(dir: string, keep: number): Promise<void> {
  if (keep <= 0) return;
  const steps = await listCheckpoints(dir);
  for (const s of steps.slice(0, Math.max(0, steps.length - keep))) await rm(checkpointPath(dir, s), { force: true });
}
