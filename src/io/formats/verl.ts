/**
 * verl's rollout dump (`trainer.rollout_data_dir`): a folder of `<step>.jsonl`, one completion per line,
 *   {"input": prompt text, "output": completion text, "gts": ..., "score": number, "step": int, ...}
 * plus whatever the reward function returned as extra info (e.g. "acc"), and `uid` / `request_id` in some
 * versions. `input` and `output` are decoded text (skip_special_tokens), so completions need --tokenizer.
 * A group: the rows of one step with one `uid` when the log has uids, else with one prompt text. verl's
 * `request_id` names one sample, not a prompt, so it does not group.
 */
import { inputError } from "../../util/errors.js";
import type { LogFile } from "./files.js";
import { jsonlRecords } from "./files.js";
import { rewardFrom, type RewardSpec } from "./reward.js";
import type { Row } from "./rows.js";
import { stepOf } from "./rows.js";

/** `<step>.jsonl`, optionally gzipped. */
export const VERL_FILE = /^(\d+)\.jsonl(?:\.gz)?$/;

export function isVerlRecord(rec: Record<string, unknown>): boolean {
  return "input" in rec && "output" in rec && ("score" in rec || "step" in rec);
}

export async function* verlRows(files: readonly LogFile[], reward: RewardSpec): AsyncGenerator<Row> {
  for await (const { value, file, line, bytesRead } of jsonlRecords(files)) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw inputError(file, line, null, "expected a JSON object (one completion of verl's dump)");
    const rec = value as Record<string, unknown>;
    for (const f of ["input", "output"] as const) {
      if (typeof rec[f] !== "string") throw inputError(file, line, f, `expected text, got ${JSON.stringify(rec[f])?.slice(0, 40) ?? "nothing"}`);
    }
    const uid = rec.uid;
    const hasUid = typeof uid === "string" || typeof uid === "number";
    yield {
      file,
      line,
      step: stepOf(rec.step, file, line),
      key: hasUid ? `u${String(uid)}` : `t${rec.input as string}`,
      id: hasUid ? uid : null,
      text: rec.output as string,
      reward: rewardFrom(rec, reward, file, line),
      bytesRead,
    };
  }
}
