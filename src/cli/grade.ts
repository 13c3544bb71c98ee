/**
 * `lambda-grpo grade <in.jsonl> --out <out.jsonl>`: grades completions against gold answers with the math
 * grader (src/math). Per input line `{"gold": "...", "completion": "..."}`, per output line, in input order,
 * `{"correct": true|false, "extracted": "..." | null, "gold": "..."}`. Other fields of the input (an `id`)
 * are not copied: the output lines stand beside the input lines by position.
 */
import { resolve } from "node:path";
import { stat } from "node:fs/promises";
import { inputInfo, openSink } from "../io/files.js";
import { readJsonl } from "../io/jsonl.js";
import { createProgress } from "../io/progress.js";
import { DEFAULT_TIME_LIMIT_MS, FALLBACKS, grade, type Fallback } from "../math/index.js";
import { inputError, UserError } from "../util/errors.js";
import { intOption, onePositional, parseCommand, requiredOption } from "./args.js";

const USAGE = `usage: lambda-grpo grade <in.jsonl | -> --out <out.jsonl | -> [options]

Grades math completions: the last \\boxed{...} of each completion against its gold answer (docs/math.md).
Input lines: {"gold": "...", "completion": "..."}; output lines, in input order:
{"correct": true|false, "extracted": "..." | null, "gold": "..."}.

options:
  -o, --out <file>        output JSONL; '-' for stdout. Written to a temporary file and renamed at the
                          end: no output on error. Must not be the input.
  --fallbacks <list>      when no box closes, try these in order (comma-separated): ${FALLBACKS.join(", ")}
                          (default: none, as the authors' reward)
  --time-limit <ms>       wall-clock limit of one comparison (default ${DEFAULT_TIME_LIMIT_MS})
  -q, --quiet             no progress bar (it is shown only on a terminal anyway)
  -h, --help              this text`;

function fallbacksOption(v: string | undefined): Fallback[] {
  if (v === undefined || v === "") return [];
  return v.split(",").map((f) => {
    if (!(FALLBACKS as readonly string[]).includes(f)) throw new UserError(`--fallbacks: expected a comma-separated list of ${FALLBACKS.join(", ")}, got '${f}'`);
    return f as Fallback;
  });
}

/** Refuses an output that is the input itself (by path, or the same file under another name). */
async function checkNotInput(inPath: string, outPath: string): Promise<void> {
  if (inPath === "-" || outPath === "-") return;
  if (resolve(inPath) === resolve(outPath)) throw new UserError(`--out: ${outPath} is the input; write the grades to another file`);
  try {
    const [a, b] = await Promise.all([stat(inPath), stat(outPath)]);
    if (a.dev === b.dev && a.ino === b.ino) throw new UserError(`--out: ${outPath} is the input file (${inPath}); write the grades to another file`);
  } catch (err) {
    if (err instanceof UserError) throw err; // an output that does not exist yet is fine
  }
}

function stringField(o: Record<string, unknown>, field: string, file: string, line: number, numbers = false): string {
  const v = o[field];
  if (v === undefined) throw inputError(file, line, field, "missing");
  // numeric gold answers (AIME's integers) are common in exports: accept them as their decimal text
  if (numbers && typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v !== "string") throw inputError(file, line, field, `expected a string, got ${v === null ? "null" : Array.isArray(v) ? "a list" : typeof v}`);
  return v;
}

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      out: { type: "string", short: "o" },
      fallbacks: { type: "string" },
      "time-limit": { type: "string" },
      quiet: { type: "boolean", short: "q" },
    },
    USAGE,
  );
  if (!parsed) return;
  const { values, positionals } = parsed;
  const path = onePositional("grade", positionals, "input file");
  const outPath = requiredOption("grade", "out", values.out);
  const fallbacks = fallbacksOption(values.fallbacks);
  const timeLimitMs = intOption("time-limit", values["time-limit"], DEFAULT_TIME_LIMIT_MS);
  const input = await inputInfo(path);
  await checkNotInput(path, outPath);

  const sink = await openSink(outPath, "--out");
  const progress = createProgress({ label: "grade", total: input.size, unit: "bytes", quiet: values.quiet ?? false });
  try {
    let n = 0;
    let correct = 0;
    let pending = "";
    for await (const { value, line, bytesRead } of readJsonl(path, input.name)) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) throw inputError(input.name, line, null, "expected a JSON object");
      const o = value as Record<string, unknown>;
      const gold = stringField(o, "gold", input.name, line, true);
      const completion = stringField(o, "completion", input.name, line);
      const g = grade(completion, gold, { fallbacks, timeLimitMs });
      pending += `${JSON.stringify({ correct: g.correct, extracted: g.extracted, gold })}\n`;
      n++;
      if (g.correct) correct++;
      // one write per few hundred lines: a write per line would cost more than grading a plain number
      if (pending.length > 1 << 16) {
        await sink.write(pending);
        pending = "";
      }
      progress.update(bytesRead, { graded: n, correct });
    }
    await sink.write(pending);
    progress.stop();
    if (n === 0) throw new UserError(`${input.name}: no lines to grade (the input is empty)`);
    await sink.commit();
  } finally {
    progress.stop();
    await sink.abort();
  }
}
