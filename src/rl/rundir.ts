/**
 * Run-directory mechanics shared by the commands that train (`train`, `sft`): resuming only with the config
 * the run was started with, cutting logs back to what a checkpoint covers, and the small file checks around
 * that. The layout itself is docs/CONTRACTS.md's; checkpoints are src/rl/checkpoint.ts.
 */
import { open, readFile, stat, truncate } from "node:fs/promises";
import { UserError } from "../util/errors.js";

/**
 * Refuses a resume whose config differs from the run's config.json in any field but `resumable` (fields such
 * as the step count or the checkpoint cadence, which a user may change to train further).
 */
export async function checkSameConfig(path: string, config: object, resumable: ReadonlySet<string>): Promise<void> {
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new UserError(`${path}: cannot read the run's config to resume it (${(err as Error).message})`);
  }
  const now = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  for (const key of new Set([...Object.keys(saved), ...Object.keys(now)])) {
    if (resumable.has(key)) continue;
    if (JSON.stringify(saved[key]) !== JSON.stringify(now[key])) {
      throw new UserError(
        `${path}: ${key}: the run was started with ${JSON.stringify(saved[key])}, the config now says ${JSON.stringify(now[key])}; a resume must use the same config (only ${[...resumable].join(", ")} may change)`,
      );
    }
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Cuts a log back to what a checkpoint covers (a killed run may have written steps after it). */
export async function truncateTo(path: string, bytes: number): Promise<void> {
  const size = await fileSize(path);
  if (size < bytes) throw new UserError(`${path}: has ${size} bytes, the checkpoint expects at least ${bytes}; cannot resume`);
  if (size > bytes) await truncate(path, bytes);
}

/** fsync: the log lines a checkpoint counts are on disk before the checkpoint is. */
export async function syncFile(path: string): Promise<void> {
  const h = await open(path, "r+");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
