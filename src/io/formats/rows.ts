/**
 * What the adapters of other trainers' logs share: their logs hold one completion per row, and a group is
 * the completions of one prompt within one step. Rows arrive step by step; the rows of one step are held
 * (one training step of completions, never the log) and handed out as groups in order of first appearance.
 *
 * What a log gets wrong is counted, not hidden (InputNotes): completions without a reward are left out of
 * their group, empty completions are kept, and groups whose size differs from the usual one are kept; each
 * note gives the count and the first file:line, printed by the commands on stderr.
 */
import { inputError, UserError } from "../../util/errors.js";
import type { TextEncoder } from "../tokenizer.js";
import type { GroupId, RolloutCompletion, RolloutGroup } from "../rollouts.js";

/** One completion as a log row gives it. */
export interface Row {
  file: string;
  line: number;
  step: number;
  /** The group within the step: a uid or prompt index when the log has one, else the prompt text. */
  key: string | number;
  /** The group's id in our format when the key is not one to show (prompt text): null = `p<index>`. */
  id: GroupId | null;
  tokens?: number[];
  text?: string;
  /** null: the row has no (finite) reward. */
  reward: number | null;
  /** Input bytes consumed up to the end of this row, over all files (for progress). */
  bytesRead: number;
}

interface Note {
  count: number;
  first: string;
}

/** The irregularities of a log, counted with where each kind first occurs. */
export class InputNotes {
  private readonly notes = new Map<string, Note>();
  private readonly sizes = new Map<number, { count: number; first: string }>();

  note(kind: string, where: string): void {
    const n = this.notes.get(kind);
    if (n) n.count++;
    else this.notes.set(kind, { count: 1, first: where });
  }

  groupSize(size: number, where: string): void {
    const s = this.sizes.get(size);
    if (s) s.count++;
    else this.sizes.set(size, { count: 1, first: where });
  }

  /** One line per kind of irregularity (none when the log is regular). */
  lines(): string[] {
    const out = [...this.notes].map(([kind, n]) => `${kind}: ${n.count.toLocaleString("en-US")}, first at ${n.first}`);
    if (this.sizes.size > 1) {
      const bySize = [...this.sizes].sort((x, y) => y[1].count - x[1].count || y[0] - x[0]);
      const usual = bySize[0][0];
      const first = bySize.slice(1).map(([, o]) => o.first).sort(compareWhere)[0];
      out.push(
        `group sizes differ: ${bySize.map(([size, o]) => `${o.count.toLocaleString("en-US")} of ${size}`).join(", ")} ` +
          `(the first not of size ${usual} at ${first})`,
      );
    }
    return out;
  }
}

/** Orders "file:line" texts by file, then line number. */
function compareWhere(a: string, b: string): number {
  const [fa, la] = splitWhere(a);
  const [fb, lb] = splitWhere(b);
  return fa < fb ? -1 : fa > fb ? 1 : la - lb;
}

function splitWhere(w: string): [string, number] {
  const i = w.lastIndexOf(":");
  return i < 0 ? [w, 0] : [w.slice(0, i), Number(w.slice(i + 1))];
}

export interface GroupingOptions {
  tokenizer?: TextEncoder;
  notes: InputNotes;
  /** Format name for messages ("verl"). */
  format: string;
}

/**
 * Groups rows step by step. The rows of one step must be contiguous (each trainer writes a step at once);
 * a step that comes back after another began is an error naming both places.
 */
export async function* groupRows(rows: AsyncIterable<Row>, opts: GroupingOptions): AsyncGenerator<RolloutGroup> {
  let step: number | null = null;
  let stepStart = "";
  let held: Row[] = [];
  const seenSteps = new Map<number, string>();
  for await (const row of rows) {
    if (row.step !== step) {
      if (step !== null) yield* groupsOfStep(held, opts);
      const before = seenSteps.get(row.step);
      if (before !== undefined) {
        throw inputError(row.file, row.line, "step", `step ${row.step} began at ${before} and step ${step} has come since (the rows of one step must be contiguous)`);
      }
      step = row.step;
      stepStart = `${row.file}:${row.line}`;
      seenSteps.set(step, stepStart);
      held = [];
    }
    held.push(row);
  }
  if (step !== null) yield* groupsOfStep(held, opts);
}

function* groupsOfStep(rows: Row[], opts: GroupingOptions): Generator<RolloutGroup> {
  const groups = new Map<string | number, { id: GroupId | null; rows: Row[] }>();
  for (const r of rows) {
    let g = groups.get(r.key);
    if (!g) groups.set(r.key, (g = { id: r.id, rows: [] }));
    g.rows.push(r);
  }
  let index = 0;
  for (const { id, rows: members } of groups.values()) {
    const first = members[0];
    const completions: RolloutCompletion[] = [];
    for (const r of members) {
      const where = `${r.file}:${r.line}`;
      if (r.reward === null) {
        opts.notes.note("completions without a reward (left out of their group)", where);
        continue;
      }
      const tokens = r.tokens ?? encode(r, opts);
      if (tokens.length === 0) opts.notes.note("empty completions (kept)", where);
      completions.push({ tokens, reward: r.reward, line: r.line });
    }
    const gid = id ?? `p${index}`;
    index++;
    if (completions.length === 0) {
      opts.notes.note("groups without a rewarded completion (left out)", `${first.file}:${first.line}`);
      continue;
    }
    opts.notes.groupSize(completions.length, `${first.file}:${first.line}`);
    const last = members[members.length - 1];
    yield { id: gid, step: first.step, completions, line: first.line, file: first.file, bytesRead: last.bytesRead };
  }
}

function encode(r: Row, opts: GroupingOptions): number[] {
  if (r.text === undefined) throw inputError(r.file, r.line, null, "has neither token ids nor text");
  if (!opts.tokenizer) {
    throw new UserError(`${r.file}:${r.line}: ${opts.format} logs hold text, not token ids: pass --tokenizer <the model's tokenizer.json>`);
  }
  try {
    return opts.tokenizer.encode(r.text);
  } catch (e) {
    throw inputError(r.file, r.line, null, `text: ${(e as Error).message}`);
  }
}

/** A reward read from a log value: a finite number, or null when the value is absent, null or NaN. */
export function rewardOf(value: unknown, file: string, line: number, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value !== "number") throw inputError(file, line, field, `expected a number, got ${JSON.stringify(value)?.slice(0, 40)}`);
  return Number.isFinite(value) ? value : null;
}

/** A step read from a log value: a non-negative integer (TRL writes it as text in some versions). */
export function stepOf(value: unknown, file: string, line: number, field = "step"): number {
  const n = typeof value === "bigint" ? Number(value) : typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw inputError(file, line, field, `expected a non-negative integer, got ${JSON.stringify(typeof value === "bigint" ? String(value) : value)?.slice(0, 40)}`);
  }
  return n;
}
