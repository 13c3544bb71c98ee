/**
 * The viewer's index of a run: where each rollout group lies in rollouts.jsonl (byte offset and length), so a
 * page can ask for one group and the server reads and analyses only that group.
 *
 * A run of 250 steps x 16 groups x 36 completions of ~1,000 tokens is ~700 MB of JSON; parsing all of it to
 * open the viewer would take seconds and hold gigabytes. Indexing reads the file once as bytes and learns each
 * line's step and group id from its leading scalar fields (`{"id": "s12-g3", "step": 12, "completions": ...`,
 * the order the trainer writes), so it never parses the completions. A line whose id/step do not come first is
 * parsed in full (correct, only slower).
 *
 * A run that is still training appends to rollouts.jsonl: `refresh()` indexes only the bytes added since, and
 * an unfinished last line (no "\n" yet, not yet valid JSON) waits for the next refresh.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { inputError, UserError } from "../util/errors.js";

/** One byte range of rollouts.jsonl: a whole line, "\n" excluded. */
export interface LineRange {
  offset: number;
  length: number;
  /** 1-based line number, for error messages. */
  line: number;
}

/** Where one group's data lies: one line (group format) or one line per completion (completion format). */
export interface GroupEntry {
  /** As in the file (the reader's ids are strings or integers). */
  id: string | number;
  /** Training step, or null for a rollouts file without steps. */
  step: number | null;
  /** Position of the group among the groups of its step (0-based, file order). */
  index: number;
  ranges: LineRange[];
  /**
   * The outcome rewards of its completions as the index found them in the text (rewardsIn), for the run's
   * colour scale only; the group's reader checks the real ones when the group is drawn.
   */
  rewards: number[];
}

/** The files of a run the viewer may read; a null entry is absent. Nothing else is ever opened. */
export interface RunFiles {
  /** The run directory, or null when the viewer was given a rollouts file alone. */
  dir: string | null;
  /** Path of rollouts.jsonl (in a run directory it may not exist yet). */
  rollouts: string;
  metrics: string | null;
  config: string | null;
}

/** The file names of a run directory (docs/CONTRACTS.md) the viewer reads and may serve. */
export const RUN_FILE_NAMES = ["config.json", "metrics.jsonl", "rollouts.jsonl"] as const;

/** Find the run's files from a run directory or a rollouts .jsonl path. */
export async function locateRun(path: string): Promise<RunFiles> {
  const abs = resolve(path);
  let info;
  try {
    info = await stat(abs);
  } catch {
    throw new UserError(`${path}: no such file or directory (expected a run directory or a rollouts .jsonl file)`);
  }
  if (info.isFile()) {
    return { dir: null, rollouts: abs, metrics: null, config: null };
  }
  if (!info.isDirectory()) throw new UserError(`${path}: not a file or directory`);
  const present = async (name: string): Promise<string | null> => {
    const p = join(abs, name);
    try {
      return (await stat(p)).isFile() ? p : null;
    } catch {
      return null;
    }
  };
  const metrics = await present("metrics.jsonl");
  const config = await present("config.json");
  // A run that has just started may have no rollouts yet; the index picks them up when they appear.
  if ((await present("rollouts.jsonl")) === null && metrics === null) {
    throw new UserError(`${path}: neither rollouts.jsonl nor metrics.jsonl in this directory (expected a run directory, docs/CONTRACTS.md)`);
  }
  return { dir: abs, rollouts: join(abs, "rollouts.jsonl"), metrics, config };
}

/** Leading scalar fields of a JSON object text, up to the first object/array value (or the end). */
export function leadingScalars(text: string): { fields: Map<string, string | number | boolean | null>; stoppedAt: string | null } {
  const fields = new Map<string, string | number | boolean | null>();
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const str = (): string | undefined => {
    if (text[i] !== '"') return undefined;
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
    if (j >= text.length) return undefined;
    try {
      const s = JSON.parse(text.slice(i, j + 1)) as string;
      i = j + 1;
      return s;
    } catch {
      return undefined;
    }
  };
  ws();
  if (text[i] !== "{") return { fields, stoppedAt: null };
  i++;
  for (;;) {
    ws();
    const key = str();
    if (key === undefined) return { fields, stoppedAt: null };
    ws();
    if (text[i] !== ":") return { fields, stoppedAt: null };
    i++;
    ws();
    const c = text[i];
    if (c === "{" || c === "[") return { fields, stoppedAt: key };
    if (c === '"') {
      const v = str();
      if (v === undefined) return { fields, stoppedAt: null };
      fields.set(key, v);
    } else {
      const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 40));
      if (!m) return { fields, stoppedAt: null };
      fields.set(key, JSON.parse(m[0]) as number | boolean | null);
      i += m[0].length;
    }
    ws();
    if (text[i] === ",") {
      i++;
      continue;
    }
    return { fields, stoppedAt: null };
  }
}

/**
 * The numbers of every `"reward": x` key in a JSON text, without parsing it: the completions' outcome
 * rewards of a rollout line (the contract's only "reward" key). A quote preceded by an odd number of
 * backslashes is inside a string, so text that merely contains "reward": is not counted.
 */
export function rewardsIn(text: string): number[] {
  const out: number[] = [];
  const re = /"reward"\s*:\s*(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    let slashes = 0;
    for (let j = m.index - 1; j >= 0 && text.charCodeAt(j) === 0x5c; j--) slashes++;
    if (slashes % 2 === 0) out.push(Number(m[1]));
  }
  return out;
}

type LineKind =
  | { kind: "group"; id: string | number | null; step: number | null }
  | { kind: "completion"; group: string | number; step: number | null };

function checkStep(v: unknown, file: string, line: number): number | null {
  if (v === undefined) return null;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw inputError(file, line, "step", `expected a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkId(v: unknown, file: string, line: number, field: string): string | number {
  if (typeof v === "string" || (typeof v === "number" && Number.isSafeInteger(v))) return v;
  throw inputError(file, line, field, `expected a string or integer id, got ${JSON.stringify(v)}`);
}

/**
 * What one line is (a group, or one completion of a group), with its step and id, from its text. The
 * completions themselves are checked when the group is read (src/io/rollouts.ts, the one reader).
 */
export function classifyLine(text: string, file: string, line: number): LineKind {
  const { fields, stoppedAt } = leadingScalars(text);
  let get = (k: string): unknown => fields.get(k);
  let has = (k: string): boolean => fields.has(k) || stoppedAt === k;
  // The fast path needs every field that decides the answer before the first array.
  const enough =
    (stoppedAt === "completions" && fields.has("step") && fields.has("id")) ||
    ((stoppedAt === "tokens" || stoppedAt === null) && fields.has("group") && fields.has("step") && !fields.has("completions"));
  if (!enough) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw inputError(file, line, null, `malformed JSON (${(err as Error).message})`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw inputError(file, line, null, "expected a JSON object (a rollout group or one completion)");
    }
    const obj = value as Record<string, unknown>;
    get = (k) => obj[k];
    has = (k) => obj[k] !== undefined;
  }
  const step = checkStep(get("step"), file, line);
  if (has("completions") && has("group")) {
    throw inputError(file, line, null, "mixed formats: a line has either 'completions' (one group per line) or 'group' (one completion per line), not both");
  }
  if (has("completions")) {
    return { kind: "group", id: has("id") ? checkId(get("id"), file, line, "id") : null, step };
  }
  if (has("group")) return { kind: "completion", group: checkId(get("group"), file, line, "group"), step };
  throw inputError(file, line, "completions", 'missing (expected one group per line, {"id", "step", "completions": [...]}, or one completion per line, {"group", "step", "tokens", "reward"})');
}

/** Key of a group: (step, id) as in src/io/rollouts.ts, ids compared as text. */
function groupKey(step: number | null, id: string | number): string {
  return `${step ?? ""}\u0000${String(id)}`;
}

export class RunIndex {
  readonly files: RunFiles;
  /** Every group in file order; a group's handle is its position here (stable while the file only grows). */
  private readonly entries: GroupEntry[] = [];
  private readonly byKey = new Map<string, number>();
  private readonly byStep = new Map<number | null, number[]>();
  private sortedSteps: (number | null)[] | null = [];
  /** Bytes of rollouts.jsonl indexed so far (always at a line end) and the line count up to there. */
  private indexedBytes = 0;
  private indexedLines = 0;
  /** The file's format and whether its lines have steps, fixed by its first record (as the reader does). */
  private format: { kind: "group" | "completion"; line: number } | null = null;
  private stepped: { has: boolean; line: number } | null = null;
  /** Completion format: the handle of the group whose lines are being read (its lines must be contiguous). */
  private open = -1;
  private refreshing: Promise<void> | null = null;

  private constructor(files: RunFiles) {
    this.files = files;
  }

  /** Locate and index a run directory or rollouts file. */
  static async open(path: string): Promise<RunIndex> {
    const index = new RunIndex(await locateRun(path));
    await index.refresh();
    return index;
  }

  /** Index what was appended to rollouts.jsonl since the last call (a live run); concurrent calls share one pass. */
  refresh(): Promise<void> {
    if (this.refreshing === null) {
      this.refreshing = this.indexNewBytes().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** The steps with groups, ascending; [null] for a file without steps. */
  get steps(): (number | null)[] {
    if (this.sortedSteps === null) {
      this.sortedSteps = [...this.byStep.keys()].sort((a, b) => (a ?? -1) - (b ?? -1));
    }
    return this.sortedSteps;
  }

  /** Handles of the groups of a step, in file order. */
  groupsOf(step: number | null): number[] {
    return this.byStep.get(step) ?? [];
  }

  entry(handle: number): GroupEntry | undefined {
    return Number.isSafeInteger(handle) ? this.entries[handle] : undefined;
  }

  /** The handle of the group (step, id), or -1. */
  find(step: number | null, id: string): number {
    return this.byKey.get(groupKey(step, id)) ?? -1;
  }

  get groupCount(): number {
    return this.entries.length;
  }

  /** Handles of the groups whose id contains `query` (case-insensitive), in file order, at most `limit`. */
  search(query: string, limit: number): number[] {
    const q = query.toLowerCase();
    const out: number[] = [];
    for (let n = 0; n < this.entries.length && out.length < limit; n++) {
      if (String(this.entries[n].id).toLowerCase().includes(q)) out.push(n);
    }
    return out;
  }

  private async indexNewBytes(): Promise<void> {
    const file = this.files.rollouts;
    let size = 0;
    try {
      size = (await stat(file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (size < this.indexedBytes) {
      // Replaced, not appended: start over.
      this.entries.length = 0;
      this.byKey.clear();
      this.byStep.clear();
      this.sortedSteps = null;
      this.indexedBytes = 0;
      this.indexedLines = 0;
      this.format = null;
      this.stepped = null;
      this.open = -1;
    }
    if (size === this.indexedBytes) return;
    const name = basename(file);
    let offset = this.indexedBytes;
    let line = this.indexedLines;
    let pending: Buffer[] = [];
    const take = (buf: Buffer, start: number): void => {
      line += 1;
      let end = buf.length;
      if (end > 0 && buf[end - 1] === 0x0d) end -= 1;
      let text = buf.toString("utf8", 0, end);
      if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.trim().length > 0) this.add(classifyLine(text, name, line), { offset: start, length: buf.length, line }, name, rewardsIn(text));
    };
    // Read up to the size seen now; bytes written meanwhile wait for the next refresh.
    const stream = createReadStream(file, { start: offset, end: size - 1, highWaterMark: 1 << 20 });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      let nl: number;
      while ((nl = chunk.indexOf(0x0a, start)) !== -1) {
        const piece = chunk.subarray(start, nl);
        const buf = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
        take(buf, offset);
        pending = [];
        offset += buf.length + 1;
        start = nl + 1;
      }
      if (start < chunk.length) pending.push(Buffer.from(chunk.subarray(start)));
    }
    if (pending.length > 0) {
      // A last line without "\n": index it only once it is complete JSON (a writer may be mid-line).
      const buf = Buffer.concat(pending);
      let complete: boolean;
      try {
        JSON.parse(buf.toString("utf8"));
        complete = true;
      } catch {
        complete = false;
      }
      if (complete) {
        take(buf, offset);
        offset += buf.length;
      }
    }
    this.indexedBytes = offset;
    this.indexedLines = line;
  }

  private add(kind: LineKind, range: LineRange, file: string, rewards: number[]): void {
    const line = range.line;
    if (this.format === null) this.format = { kind: kind.kind, line };
    else if (this.format.kind !== kind.kind) {
      throw inputError(file, line, null, `mixed formats: this line is one ${kind.kind} per line, but line ${this.format.line} is one ${this.format.kind} per line`);
    }
    const has = kind.step !== null;
    if (this.stepped === null) this.stepped = { has, line };
    else if (this.stepped.has !== has) {
      throw inputError(file, line, "step", `${has ? "present" : "missing"}, but line ${this.stepped.line} has ${this.stepped.has ? "one" : "none"} (give every line a step, or none)`);
    }
    if (kind.kind === "completion") {
      const key = groupKey(kind.step, kind.group);
      const known = this.byKey.get(key);
      if (known !== undefined) {
        if (known !== this.open) {
          throw inputError(file, line, "group", `group ${JSON.stringify(kind.group)} began on line ${this.entries[known].ranges[0].line} and another group has started since; the lines of one group must be contiguous`);
        }
        this.entries[known].ranges.push(range);
        this.entries[known].rewards.push(...rewards);
        return;
      }
      this.open = this.insert({ id: kind.group, step: kind.step, index: 0, ranges: [range], rewards }, key);
      return;
    }
    // As the reader: a group without an id is known by its 0-based position in the file.
    const id = kind.id ?? this.entries.length;
    const key = groupKey(kind.step, id);
    // As the reader (issue 12): one (step, id) is one group, else a page could open only the first.
    const known = this.byKey.get(key);
    if (known !== undefined) {
      const stepText = kind.step === null ? "" : ` (step ${kind.step})`;
      throw inputError(file, line, "id", `group ${JSON.stringify(id)}${stepText} appears twice: on line ${this.entries[known].ranges[0].line} and here (ids must be unique within a step)`);
    }
    this.insert({ id, step: kind.step, index: 0, ranges: [range], rewards }, key);
  }

  private insert(entry: GroupEntry, key: string | null): number {
    let list = this.byStep.get(entry.step);
    if (list === undefined) {
      list = [];
      this.byStep.set(entry.step, list);
      this.sortedSteps = null;
    }
    const handle = this.entries.length;
    entry.index = list.length;
    list.push(handle);
    this.entries.push(entry);
    if (key !== null) this.byKey.set(key, handle);
    return handle;
  }
}
