/**
 * Which column is the reward (`--reward-field`): one name, or several separated by commas whose sum is the
 * reward. The sum skips missing and NaN entries (TRL sums its reward functions with nansum); a row with
 * none of them is a completion without a reward.
 */
import { inputError, UserError } from "../../util/errors.js";
import { rewardOf } from "./rows.js";

export interface RewardSpec {
  /** Columns summed; null = the format's default. */
  fields: string[] | null;
}

export function rewardSpec(option: string | undefined): RewardSpec {
  if (option === undefined) return { fields: null };
  const fields = option.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (fields.length === 0) throw new UserError(`--reward-field: expected a column name (or several, comma-separated), got '${option}'`);
  return { fields };
}

/** The reward of a record: the sum of `fields` (default `fallback`), null when none has a value. */
export function rewardFrom(rec: Record<string, unknown>, spec: RewardSpec, file: string, line: number, fallback = ["score"]): number | null {
  const fields = spec.fields ?? fallback;
  let sum = 0;
  let any = false;
  for (const f of fields) {
    if (spec.fields !== null && !(f in rec)) {
      throw inputError(file, line, f, `no such field (--reward-field; the record has ${Object.keys(rec).join(", ")})`);
    }
    const r = rewardOf(rec[f], file, line, f);
    if (r !== null) {
      sum += r;
      any = true;
    }
  }
  return any ? sum : null;
}
