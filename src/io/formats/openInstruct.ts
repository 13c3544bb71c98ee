/**
 * open-instruct's rollout traces (`--save_traces --rollouts_save_path DIR`): `<run>_rollouts_<shard:06d>.jsonl`,
 * one completion per line,
 *   {"step", "sample_idx", "prompt_idx", "prompt_tokens": [...], "response_tokens": [...], "reward",
 *    "advantage", "finish_reason", "dataset", "ground_truth", "request_info", "logprobs"}
 * (`<run>_metadata.jsonl` beside them is not a rollout file). Token ids are the sampled ones. A group: the
 * rows of one step with one `prompt_idx` (open-instruct's index of the prompt within the step's batch).
 */
import { inputError } from "../../util/errors.js";
import { tokenIds } from "../rollouts.js";
import type { LogFile } from "./files.js";
import { jsonlRecords } from "./files.js";
import { rewardFrom, type RewardSpec } from "./reward.js";
import { stepOf, type Row } from "./rows.js";

export const OPEN_INSTRUCT_FILE = /_rollouts_(\d+)\.jsonl(?:\.gz)?$/;

export function isOpenInstructRecord(rec: Record<string, unknown>): boolean {
  return "response_tokens" in rec && "prompt_idx" in rec;
}

export async function* openInstructRows(files: readonly LogFile[], reward: RewardSpec): AsyncGenerator<Row> {
  for await (const { value, file, line, bytesRead } of jsonlRecords(files)) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw inputError(file, line, null, "expected a JSON object (one rollout record of open-instruct)");
    const rec = value as Record<string, unknown>;
    const promptIdx = rec.prompt_idx;
    if (typeof promptIdx !== "number" || !Number.isSafeInteger(promptIdx) || promptIdx < 0) {
      throw inputError(file, line, "prompt_idx", `expected a non-negative integer, got ${JSON.stringify(promptIdx)?.slice(0, 40) ?? "nothing"}`);
    }
    yield {
      file,
      line,
      step: stepOf(rec.step, file, line),
      key: promptIdx,
      id: promptIdx,
      tokens: tokenIds(rec.response_tokens, file, line, "response_tokens"),
      reward: rewardFrom(rec, reward, file, line, ["reward"]),
      bytesRead,
    };
  }
}
