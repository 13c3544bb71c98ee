/**
 * Streaming reader of rollout groups (the input of `prm` and `analyze`, and a run's `rollouts.jsonl`).
 *
 * Two line formats, one per file (docs/CONTRACTS.md):
 *   one group per line       {"id": "s12-g3", "step": 12, "completions": [{"tokens": [5, 7], "reward": 1.0}, ...]}
 *   one completion per line  {"group": "s12-g3", "step": 12, "tokens": [5, 7], "reward": 1.0}
 * - `"text": "..."` may stand for `"tokens"` when a tokenizer is given (never both in one completion).
 * - `step` is a non-negative integer, on every line or on none (none: the whole file is one step, null).
 * - `id` (group format) is optional and defaults to the group's 0-based position in the file; `group`
 *   (completion format) is required. Ids are strings or integers and are passed through unchanged; two
 *   groups with one (step, id) are refused, naming both lines (a viewer or a join by id would see only one).
 * - Other fields (`prompt`, metadata) are ignored. Blank lines are skipped.
 *
 * Streaming: groups are yielded as soon as they are complete, so memory holds one group, not the file.
 * In the completion format a group is complete when a line of another group arrives, so the lines of one
 * group must be contiguous; a group that reappears later is an error naming both lines (the only other
 * streaming design, holding every open group until the end, has unbounded memory on exactly the large
 * logs that need streaming). A group is identified by (step, id), so ids such as "g0" may repeat at every
 * step. The reader keeps the keys of finished groups (a few bytes per group) to detect reappearance.
 *
 * Every error is a UserError "file:line: field: what was expected", with field paths such as
 * `completions[2].tokens[5]`.
 */
import { inputError } from "../util/errors.js";
import { printable, readJsonl, type ByteSource } from "./jsonl.js";
import type { TextEncoder } from "./tokenizer.js";

export type GroupId = string | number;

export interface RolloutCompletion {
  /** Completion token ids (the prompt is not part of them). */
  tokens: number[];
  reward: number;
  /** Input line the completion came from (1-based). */
  line: number;
}

export interface RolloutGroup {
  id: GroupId;
  /** Training step, or null when the input has no steps. */
  step: number | null;
  completions: RolloutCompletion[];
  /** First input line (or Parquet row) of the group. */
  line: number;
  /** The file it came from, when the input is a folder of files (src/io/formats); else the input itself. */
  file?: string;
  /** Input bytes consumed when the group was complete (for progress against the file size). */
  bytesRead: number;
}

export type RolloutFormat = "group" | "completion";

export interface ReadRolloutsOptions {
  /** Name used in error messages; defaults to the path, or "<stdin>" for "-", or "<input>". */
  file?: string;
  /** Turns `text` into token ids; without it `text` is an error. */
  tokenizer?: TextEncoder;
}

/** Token ids are held as Int32 by the prefix tree and the engine. */
const MAX_TOKEN_ID = 0x7fffffff;

function show(value: unknown): string {
  return value === undefined ? "nothing" : printable(JSON.stringify(value), 40);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `value` checked to be an array of token ids (non-negative integers that fit Int32); the error names `field`. */
export function tokenIds(value: unknown, file: string, line: number, field: string): number[] {
  if (!Array.isArray(value)) throw inputError(file, line, field, `expected an array of token ids, got ${show(value)}`);
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_TOKEN_ID) {
      throw inputError(file, line, `${field}[${i}]`, `expected a non-negative integer token id, got ${show(v)}`);
    }
  }
  return value as number[];
}

const FORMAT_NAME: Record<RolloutFormat, string> = {
  group: "one group per line",
  completion: "one completion per line",
};

class RecordParser {
  format: RolloutFormat | null = null;
  formatLine = 0;
  hasStep: boolean | null = null;
  stepLine = 0;

  constructor(
    readonly file: string,
    readonly tokenizer: TextEncoder | undefined,
  ) {}

  err(line: number, field: string | null, msg: string): Error {
    return inputError(this.file, line, field, msg);
  }

  formatOf(rec: Record<string, unknown>, line: number): RolloutFormat {
    const isGroup = "completions" in rec;
    const isCompletion = "group" in rec;
    if (isGroup && isCompletion) {
      throw this.err(line, null, "mixed formats: a line has either 'completions' (one group per line) or 'group' (one completion per line), not both");
    }
    if (!isGroup && !isCompletion) {
      if ("tokens" in rec || "text" in rec || "reward" in rec) {
        throw this.err(line, "group", "missing (one completion per line needs the id of its group)");
      }
      throw this.err(line, "completions", "missing (expected one group per line, {\"id\", \"step\", \"completions\": [...]}, or one completion per line, {\"group\", \"step\", \"tokens\", \"reward\"})");
    }
    const format: RolloutFormat = isGroup ? "group" : "completion";
    if (this.format === null) {
      this.format = format;
      this.formatLine = line;
    } else if (this.format !== format) {
      throw this.err(line, isGroup ? "completions" : "group", `mixed formats: this line is ${FORMAT_NAME[format]}, but line ${this.formatLine} is ${FORMAT_NAME[this.format]}`);
    }
    return format;
  }

  step(rec: Record<string, unknown>, line: number): number | null {
    const has = rec.step !== undefined;
    if (this.hasStep === null) {
      this.hasStep = has;
      this.stepLine = line;
    } else if (this.hasStep !== has) {
      throw this.err(line, "step", has
        ? `present, but line ${this.stepLine} has none (give every line a step, or none)`
        : `missing, but line ${this.stepLine} has one (give every line a step, or none)`);
    }
    if (!has) return null;
    const s = rec.step;
    if (typeof s !== "number" || !Number.isSafeInteger(s) || s < 0) {
      throw this.err(line, "step", `expected a non-negative integer, got ${show(s)}`);
    }
    return s;
  }

  id(value: unknown, line: number, field: string): GroupId {
    if (typeof value === "string" || (typeof value === "number" && Number.isSafeInteger(value))) return value;
    throw this.err(line, field, `expected a string or integer id, got ${show(value)}`);
  }

  /** Validates `{tokens|text, reward}` at `prefix` ("" or "completions[3]."). */
  completion(rec: Record<string, unknown>, line: number, prefix: string): RolloutCompletion {
    const hasTokens = rec.tokens !== undefined;
    const hasText = rec.text !== undefined;
    let tokens: number[];
    if (hasTokens && hasText) {
      throw this.err(line, `${prefix}tokens`, "give either 'tokens' or 'text', not both");
    } else if (hasTokens) {
      tokens = tokenIds(rec.tokens, this.file, line, `${prefix}tokens`);
    } else if (hasText) {
      const text = rec.text;
      if (typeof text !== "string") throw this.err(line, `${prefix}text`, `expected a string, got ${show(text)}`);
      if (!this.tokenizer) throw this.err(line, `${prefix}text`, "needs a tokenizer to become token ids (pass --tokenizer <tokenizer.json>), or give 'tokens'");
      try {
        tokens = this.tokenizer.encode(text);
      } catch (e) {
        throw this.err(line, `${prefix}text`, (e as Error).message);
      }
    } else {
      throw this.err(line, `${prefix}tokens`, "missing (give the completion's token ids, or 'text' with --tokenizer)");
    }
    if (!("reward" in rec)) throw this.err(line, `${prefix}reward`, "missing (expected a finite number)");
    const reward = rec.reward;
    // JSON cannot spell NaN, but 1e999 parses as Infinity.
    if (typeof reward !== "number" || !Number.isFinite(reward)) {
      throw this.err(line, `${prefix}reward`, `expected a finite number, got ${show(typeof reward === "number" ? String(reward) : reward)}`);
    }
    return { tokens, reward, line };
  }
}

/** A group's identity: (step, id), with 7 and "7" distinct as in the input. */
function groupKey(step: number | null, id: GroupId): string {
  return JSON.stringify([step, id]);
}

/**
 * The groups of a rollouts file, in input order, each yielded as soon as it is complete. `source` is a
 * path, "-" for stdin, or any (async) iterable of byte/string chunks (a stream, a generator, an array).
 */
export async function* readRolloutGroups(source: ByteSource, options: ReadRolloutsOptions = {}): AsyncGenerator<RolloutGroup> {
  const file = options.file ?? (typeof source === "string" ? (source === "-" ? "<stdin>" : source) : "<input>");
  const p = new RecordParser(file, options.tokenizer);
  let ordinal = 0;
  // Completion format: the group being gathered. Both formats: the first line of every finished group by key.
  let current: RolloutGroup | null = null;
  let currentKey = "";
  const finished = new Map<string, number>();

  for await (const { value, line, bytesRead } of readJsonl(source, file)) {
    if (!isObject(value)) throw p.err(line, null, `expected a JSON object, got ${show(value)}`);
    const format = p.formatOf(value, line);
    const step = p.step(value, line);

    if (format === "group") {
      const id = value.id === undefined ? ordinal : p.id(value.id, line, "id");
      const key = groupKey(step, id);
      const seenAt = finished.get(key);
      if (seenAt !== undefined) {
        throw p.err(line, "id", `group ${show(id)}${step === null ? "" : ` (step ${step})`} appears twice: on line ${seenAt} and here (ids must be unique within a step)`);
      }
      finished.set(key, line);
      const list = value.completions;
      if (!Array.isArray(list)) throw p.err(line, "completions", `expected an array of completions, got ${show(list)}`);
      if (list.length === 0) throw p.err(line, "completions", "empty group (a group needs at least one completion)");
      const completions = list.map((c: unknown, i) => {
        if (!isObject(c)) throw p.err(line, `completions[${i}]`, `expected an object {"tokens", "reward"}, got ${show(c)}`);
        return p.completion(c, line, `completions[${i}].`);
      });
      ordinal += 1;
      yield { id, step, completions, line, bytesRead };
      continue;
    }

    const id = p.id(value.group, line, "group");
    const completion = p.completion(value, line, "");
    const key = groupKey(step, id);
    if (current !== null && key === currentKey) {
      current.completions.push(completion);
      current.bytesRead = bytesRead;
      continue;
    }
    const seenAt = finished.get(key);
    if (seenAt !== undefined) {
      const stepText = step === null ? "" : ` (step ${step})`;
      throw p.err(line, "group", `group ${show(id)}${stepText} began on line ${seenAt} and another group has started since (line ${current!.line}); the lines of one group must be contiguous`);
    }
    if (current !== null) {
      finished.set(currentKey, current.line);
      yield current;
    }
    current = { id, step, completions: [completion], line, bytesRead };
    currentKey = key;
  }
  if (current !== null) yield current;
}

/** Per-step reward statistics of a rollouts source (one streaming pass), e.g. for batch-level scaling. */
export interface StepRewardStats {
  count: number;
  mean: number;
  /** Sum of squared deviations from the mean (Welford's M2); sample variance is m2 / (count - 1). */
  m2: number;
}

/**
 * Reward count, mean and M2 per step (key null when the input has no steps), computed in one pass with
 * Welford's update so that a long log does not lose precision. Validates the input like readRolloutGroups.
 */
export async function rewardStatsByStep(
  source: ByteSource,
  options: ReadRolloutsOptions = {},
  onGroup?: (group: RolloutGroup) => void,
): Promise<Map<number | null, StepRewardStats>> {
  return rewardStatsOfGroups(readRolloutGroups(source, options), onGroup);
}

/** rewardStatsByStep of groups already read (e.g. from another trainer's log, src/io/formats). */
export async function rewardStatsOfGroups(
  groups: AsyncIterable<RolloutGroup>,
  onGroup?: (group: RolloutGroup) => void,
): Promise<Map<number | null, StepRewardStats>> {
  const stats = new Map<number | null, StepRewardStats>();
  for await (const group of groups) {
    onGroup?.(group);
    let s = stats.get(group.step);
    if (!s) stats.set(group.step, (s = { count: 0, mean: 0, m2: 0 }));
    for (const { reward } of group.completions) {
      s.count += 1;
      const delta = reward - s.mean;
      s.mean += delta / s.count;
      s.m2 += delta * (reward - s.mean);
    }
  }
  return stats;
}
