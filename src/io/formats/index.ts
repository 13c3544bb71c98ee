/**
 * Rollout logs of the trainers people use, read as our groups (src/io/rollouts.ts's RolloutGroup): one
 * adapter per format turns its rows into groups, and nothing downstream knows which format came in.
 *
 *   lambda-grpo    our JSONL (a file, or a run directory's rollouts.jsonl)            src/io/rollouts.ts
 *   verl           trainer.rollout_data_dir: a folder of <step>.jsonl, or one file     verl.ts
 *   trl            log_completions: completions/completions_<step:05d>.parquet        trl.ts
 *   open-instruct  --save_traces: <run>_rollouts_<shard:06d>.jsonl                     openInstruct.ts
 *
 * `auto` decides from the folder's file names, a file's extension, or the fields of its first record, and
 * says why (`RolloutInput.detected`). Any JSONL file may be gzipped.
 */
import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { reason, UserError } from "../../util/errors.js";
import { isGzipPath } from "../jsonl.js";
import { readRolloutGroups, type RolloutGroup } from "../rollouts.js";
import type { TextEncoder } from "../tokenizer.js";
import { firstRecord, numberedFiles, oneFile, type LogFile } from "./files.js";
import { isOpenInstructRecord, OPEN_INSTRUCT_FILE, openInstructRows } from "./openInstruct.js";
import { rewardSpec } from "./reward.js";
import { groupRows, InputNotes, type Row } from "./rows.js";
import { TRL_FILE, trlRows } from "./trl.js";
import { isVerlRecord, VERL_FILE, verlRows } from "./verl.js";

export { InputNotes } from "./rows.js";

export const INPUT_FORMATS = ["auto", "lambda-grpo", "verl", "trl", "open-instruct"] as const;
export type InputFormatOption = (typeof INPUT_FORMATS)[number];
export type InputFormat = Exclude<InputFormatOption, "auto">;

export interface OpenRolloutsOptions {
  format?: InputFormatOption;
  /** --reward-field: a column, or several comma-separated (summed). Not for our own format. */
  rewardField?: string;
  tokenizer?: TextEncoder;
}

export interface RolloutInput {
  format: InputFormat;
  /** With `auto`: what decided the format, e.g. "a folder of 12 <step>.jsonl files". */
  detected: string | null;
  /** For messages: the path as given, or "<stdin>". */
  name: string;
  /** Bytes of input for progress (0 when unknown: stdin, gzip). */
  size: number;
  files: LogFile[];
  /** The groups, in input order; may be called again for a second pass (not on stdin). */
  groups(): AsyncGenerator<RolloutGroup>;
  /** Irregularities seen by the last pass of groups() (uneven groups, empty completions, missing rewards). */
  notes: InputNotes;
}

const DESCRIPTION: Record<InputFormat, string> = {
  "lambda-grpo": "lambda-grpo rollouts",
  verl: "verl rollout dump",
  trl: "TRL completion logs",
  "open-instruct": "open-instruct rollout traces",
};

const FOLDER_FILES: Record<Exclude<InputFormat, "lambda-grpo">, [RegExp, string]> = {
  verl: [VERL_FILE, "<step>.jsonl"],
  trl: [TRL_FILE, "completions_<step>.parquet"],
  "open-instruct": [OPEN_INSTRUCT_FILE, "<run>_rollouts_<shard>.jsonl"],
};

async function kindOf(path: string): Promise<"file" | "dir" | "fifo"> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) return "dir";
    if (s.isFile()) return "file";
    if (s.isFIFO()) return "fifo";
    throw new UserError(`${path}: not a file or folder`);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${path}: cannot read input (${reason(err)})`);
  }
}

/** TRL writes into <output_dir>/completions/ (in some versions completions/train/): accept any of the three. */
async function trlFolder(dir: string): Promise<string> {
  for (const sub of [join("completions", "train"), "completions", "train"]) {
    const p = join(dir, sub);
    if ((await numberedFiles(p, TRL_FILE).catch(() => [])).length > 0) return p;
  }
  return dir;
}

/** The format of a file from its extension or its first record. */
async function fileFormat(path: string): Promise<[InputFormat, string]> {
  if (path.endsWith(".parquet")) return ["trl", "a .parquet file"];
  const rec = await firstRecord(path, path);
  if (typeof rec === "object" && rec !== null && !Array.isArray(rec)) {
    const r = rec as Record<string, unknown>;
    if ("completions" in r || "group" in r) return ["lambda-grpo", "its first record has 'completions' or 'group'"];
    if (isOpenInstructRecord(r)) return ["open-instruct", "its first record has 'response_tokens' and 'prompt_idx'"];
    if (isVerlRecord(r)) return ["verl", "its first record has 'input', 'output' and 'score'"];
  }
  // Our reader then says what is missing.
  return ["lambda-grpo", "no other format's fields in its first record"];
}

async function folderFormat(dir: string): Promise<[InputFormat, string]> {
  const run = join(dir, "rollouts.jsonl");
  if (await stat(run).then((s) => s.isFile(), () => false)) return ["lambda-grpo", "the folder has rollouts.jsonl"];
  for (const format of ["verl", "open-instruct"] as const) {
    const [pattern, shape] = FOLDER_FILES[format];
    const n = (await numberedFiles(dir, pattern)).length;
    if (n > 0) return [format, `a folder of ${n} ${shape} file${n === 1 ? "" : "s"}`];
  }
  const trl = await trlFolder(dir);
  const n = (await numberedFiles(trl, TRL_FILE)).length;
  if (n > 0) return ["trl", `a folder of ${n} ${FOLDER_FILES.trl[1]} file${n === 1 ? "" : "s"}`];
  throw new UserError(
    `${dir}: no rollout files in this folder (expected rollouts.jsonl, verl's <step>.jsonl, TRL's completions/completions_<step>.parquet or open-instruct's <run>_rollouts_<shard>.jsonl)`,
  );
}

/** Our own groups, with the same notes as the adapters keep (their rows are checked by the reader). */
async function* noted(groups: AsyncGenerator<RolloutGroup>, file: string, notes: InputNotes): AsyncGenerator<RolloutGroup> {
  for await (const g of groups) {
    notes.groupSize(g.completions.length, `${file}:${g.line}`);
    for (const c of g.completions) if (c.tokens.length === 0) notes.note("empty completions (kept)", `${file}:${c.line}`);
    yield g;
  }
}

/** Opens a rollout log: detects (or checks) its format and lists its files. */
export async function openRollouts(path: string, opts: OpenRolloutsOptions = {}): Promise<RolloutInput> {
  const option = opts.format ?? "auto";
  const reward = rewardSpec(opts.rewardField);
  const kind = path === "-" ? "fifo" : await kindOf(path);
  // A stream (stdin, bash's <(...)) can be read once: nothing is peeked at, and it is our format unless named.
  const stdin = kind === "fifo";
  let format: InputFormat;
  let detected: string | null = null;
  if (option !== "auto") format = option;
  else if (stdin) [format, detected] = ["lambda-grpo", "a stream (name another format with --format)"];
  else [format, detected] = kind === "dir" ? await folderFormat(path) : await fileFormat(path);

  let files: LogFile[];
  if (stdin) files = [{ path, name: path === "-" ? "<stdin>" : path, size: 0 }];
  else if (kind === "file") files = [await oneFile(path)];
  else if (format === "lambda-grpo") files = [await oneFile(join(path, "rollouts.jsonl")).catch(() => {
    throw new UserError(`${path}: no rollouts.jsonl in this folder (--format lambda-grpo reads a file, or a run directory)`);
  })];
  else {
    const [pattern, shape] = FOLDER_FILES[format];
    const dir = format === "trl" ? await trlFolder(path) : path;
    files = await numberedFiles(dir, pattern);
    if (files.length === 0) throw new UserError(`${path}: no ${shape} files in this folder (--format ${format})`);
  }
  if (stdin && format === "trl") throw new UserError("--format trl reads Parquet files, not a stream");
  if (format === "lambda-grpo" && opts.rewardField !== undefined) {
    throw new UserError("--reward-field: our format has one reward per completion ('reward'); the option is for other trainers' logs");
  }

  const input: RolloutInput = {
    format,
    detected,
    name: path === "-" ? "<stdin>" : path,
    size: files.some((f) => isGzipPath(f.path)) ? 0 : files.reduce((s, f) => s + f.size, 0),
    files,
    notes: new InputNotes(),
    groups: () => {
      input.notes = new InputNotes();
      if (format === "lambda-grpo") {
        const f = files[0];
        return noted(readRolloutGroups(f.path, { file: f.name, tokenizer: opts.tokenizer }), f.name, input.notes);
      }
      const rows: AsyncIterable<Row> =
        format === "verl" ? verlRows(files, reward) : format === "trl" ? trlRows(files, reward) : openInstructRows(files, reward);
      return groupRows(rows, { tokenizer: opts.tokenizer, notes: input.notes, format });
    },
  };
  return input;
}

/** The stderr line for an auto-detected format other than our own (null when there is nothing to say). */
export function detectionLine(input: RolloutInput): string | null {
  if (input.detected === null || input.format === "lambda-grpo") return null;
  return `${basename(input.name)}: read as ${DESCRIPTION[input.format]} (${input.detected}; --format to choose)`;
}
