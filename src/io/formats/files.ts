/** The files of a log: one file, or the matching files of a folder in step (or shard) order. */
import { readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { reason, UserError } from "../../util/errors.js";
import { readJsonl } from "../jsonl.js";

export interface LogFile {
  path: string;
  /** As shown in messages: the path as given, or folder/name. */
  name: string;
  size: number;
}

/** The files of `dir` whose names match `pattern`, ordered by the number in its first capture group. */
export async function numberedFiles(dir: string, pattern: RegExp): Promise<LogFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new UserError(`${dir}: cannot read folder (${reason(err)})`);
  }
  const matched = names
    .map((n) => ({ n, m: pattern.exec(n) }))
    .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => Number(a.m[1]) - Number(b.m[1]) || (a.n < b.n ? -1 : 1));
  const out: LogFile[] = [];
  for (const { n } of matched) {
    const path = join(dir, n);
    const s = await stat(path);
    if (s.isFile()) out.push({ path, name: join(dir, n), size: s.size });
  }
  return out;
}

export async function oneFile(path: string): Promise<LogFile> {
  const s = await stat(path);
  return { path, name: path, size: s.size };
}

/** JSONL records of several files in turn, with bytes read counted over all of them (for progress). */
export async function* jsonlRecords(files: readonly LogFile[]): AsyncGenerator<{ value: unknown; file: string; line: number; bytesRead: number }> {
  let before = 0;
  for (const f of files) {
    for await (const { value, line, bytesRead } of readJsonl(f.path, f.name)) {
      yield { value, file: f.name, line, bytesRead: before + bytesRead };
    }
    before += f.size;
  }
}

/** The first record of a JSONL file (undefined when it has none), for format detection. */
export async function firstRecord(path: string, name = basename(path)): Promise<unknown> {
  for await (const { value } of readJsonl(path, name)) return value;
  return undefined;
}
