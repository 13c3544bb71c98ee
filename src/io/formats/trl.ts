/**
 * TRL's completion logs (GRPOTrainer with `log_completions=True`): `<output_dir>/completions/
 * completions_<step:05d>.parquet` (in some versions `completions/<mode>/`, of which `train` is read), one
 * completion per row, columns
 *   step, prompt (text), completion (text), one column per reward function (named after it), any columns
 *   given to log_extra, advantage
 * Prompts and completions are text, so completions need --tokenizer. The file does not say which columns
 * are reward functions: by default every numeric column but `step` and `advantage` is, and the reward is
 * their sum with NaN skipped (TRL's nansum, at reward weight 1); name the reward columns with
 * --reward-field when the log has extra numeric columns or weights other than 1. A group: the rows of one
 * step with one prompt text (TRL repeats each prompt num_generations times).
 */
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { inputError, reason, UserError } from "../../util/errors.js";
import type { LogFile } from "./files.js";
import { rewardFrom, type RewardSpec } from "./reward.js";
import { stepOf, type Row } from "./rows.js";

export const TRL_FILE = /^completions_(\d+)\.parquet$/;

/** Columns that are not rewards. */
const NOT_REWARD = new Set(["step", "prompt", "completion", "advantage", "mode", "image", "images"]);

async function readParquet(f: LogFile): Promise<Record<string, unknown>[]> {
  try {
    const file = await asyncBufferFromFile(f.path);
    return (await parquetReadObjects({ file, compressors })) as Record<string, unknown>[];
  } catch (err) {
    throw new UserError(`${f.name}: not a Parquet file this reader can read (${reason(err)})`);
  }
}

export async function* trlRows(files: readonly LogFile[], reward: RewardSpec): AsyncGenerator<Row> {
  let before = 0;
  for (const f of files) {
    const rows = await readParquet(f);
    before += f.size;
    let rewardColumns: string[] | null = null;
    for (let r = 0; r < rows.length; r++) {
      const rec = rows[r];
      const line = r + 1;
      if (rewardColumns === null) {
        rewardColumns = Object.keys(rec).filter((k) => !NOT_REWARD.has(k) && (typeof rec[k] === "number" || typeof rec[k] === "bigint" || rec[k] === null));
        if (reward.fields === null && rewardColumns.length === 0) {
          throw inputError(f.name, line, null, `no reward column (numeric columns other than step and advantage; the file has ${Object.keys(rec).join(", ")})`);
        }
      }
      const completion = rec.completion;
      if (typeof completion !== "string") throw inputError(f.name, line, "completion", `expected text, got ${JSON.stringify(completion)?.slice(0, 40) ?? "nothing"}`);
      if (!("prompt" in rec)) throw inputError(f.name, line, "prompt", "missing (a group is the completions of one prompt)");
      const prompt = typeof rec.prompt === "string" ? rec.prompt : JSON.stringify(rec.prompt);
      yield {
        file: f.name,
        line,
        step: stepOf(rec.step, f.name, line),
        key: prompt,
        id: null,
        text: completion,
        reward: rewardFrom(rec, reward, f.name, line, rewardColumns),
        bytesRead: before,
      };
    }
  }
}
