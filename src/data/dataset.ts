/**
 * Math datasets from files: JSON Lines or Parquet (what Hugging Face `datasets` exports), one problem per
 * row, read into `{ id, problem, answer }`. Which fields hold what is given by a `FieldMap`, or detected from
 * the columns of the common exports of the paper's benchmarks (docs/math.md lists them):
 *
 *   MATH-500       problem, solution, answer, subject, level, unique_id
 *   AIME24         id, problem, solution, answer, url, year         (or ID, Problem, Solution, Answer)
 *   AMC23          id, question, answer, url                         (or problem, answer)
 *   Minerva        question, answer                                  (or problem, solution, answer)
 *   OlympiadBench  id, question, solution [list], final_answer [list], is_multiple_answer, unit, ...
 *
 * An answer may be a string, a number (AIME's integers), or a list of strings (OlympiadBench's
 * `final_answer`: one item is the answer, several are joined with ", ", which the grader reads as an
 * unordered list). Without an answer field the last `\boxed{}` of the solution is the answer. Every error
 * names the file, the row (the line of a JSONL file, the 1-based row of a Parquet file) and the field.
 */
import { extname } from "node:path";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { inputInfo } from "../io/files.js";
import { readJsonl } from "../io/jsonl.js";
import { goldFromSolution } from "../math/index.js";
import { reason, UserError } from "../util/errors.js";

export interface MathRow {
  /** the row's id field when it has one, else its 0-based index as text */
  id: string;
  problem: string;
  /** the gold answer (raw LaTeX) */
  answer: string;
}

/** Field names; any left out is detected from the columns. */
export interface FieldMap {
  problem?: string;
  /** holds the answer: a string, a number, or a list of strings */
  answer?: string;
  /** a worked solution whose last `\boxed{}` is the answer, when there is no answer field */
  solution?: string;
  id?: string;
}

/** Candidates in order of preference; the first present among a file's columns is used. */
const CANDIDATES: Required<Record<keyof FieldMap, string[]>> = {
  problem: ["problem", "question", "Problem", "Question"],
  answer: ["answer", "final_answer", "Answer", "expected_answer"],
  solution: ["solution", "Solution"],
  id: ["unique_id", "id", "ID", "idx"],
};

/** The benchmarks recognised by their columns (for messages and the eval table), or null. */
export function detectBenchmark(columns: string[]): string | null {
  const has = (...c: string[]): boolean => c.every((x) => columns.includes(x));
  if (has("final_answer", "is_multiple_answer")) return "OlympiadBench";
  if (has("problem", "answer", "subject", "level", "unique_id")) return "MATH-500";
  if (has("problem", "answer", "year") || has("Problem", "Answer")) return "AIME24";
  if (has("question", "answer", "url")) return "AMC23";
  if (has("question", "answer") && columns.length <= 3) return "Minerva";
  return null;
}

export interface ResolvedFields {
  problem: string;
  answer: string | null;
  solution: string | null;
  id: string | null;
}

/** The field map for a file with these columns; a UserError naming `file` when problem or answer has no home. */
export function resolveFields(columns: string[], fields: FieldMap, file: string): ResolvedFields {
  const pick = (k: keyof FieldMap): string | null => {
    if (fields[k] !== undefined) return fields[k]!;
    return CANDIDATES[k].find((c) => columns.includes(c)) ?? null;
  };
  const problem = pick("problem");
  if (problem === null) {
    throw new UserError(`${file}: no problem field (looked for ${CANDIDATES.problem.join(", ")}; columns: ${columns.join(", ")}); name it with the dataset's problem field`);
  }
  const answer = pick("answer");
  const solution = pick("solution");
  if (answer === null && solution === null) {
    throw new UserError(`${file}: no answer field (looked for ${[...CANDIDATES.answer, ...CANDIDATES.solution].join(", ")}; columns: ${columns.join(", ")}); name it with the dataset's answer field`);
  }
  return { problem, answer, solution, id: pick("id") };
}

function describe(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "a list" : typeof v;
}

function answerText(v: unknown): string | null {
  if (typeof v === "string") return v.trim() === "" ? null : v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string" || typeof x === "number")) return v.map(String).join(", ");
  return null;
}

/** One record to a row; `where` is "file:line" (JSONL) or "file: row N" (Parquet). */
export function toRow(record: unknown, f: ResolvedFields, index: number, where: string): MathRow {
  if (record === null || typeof record !== "object" || Array.isArray(record)) throw new UserError(`${where}: expected an object, got ${describe(record)}`);
  const o = record as Record<string, unknown>;
  const problem = o[f.problem];
  if (typeof problem !== "string" || problem.trim() === "") {
    const got = problem === undefined ? "missing" : typeof problem === "string" ? "empty" : `expected a string, got ${describe(problem)}`;
    throw new UserError(`${where}: ${f.problem}: ${got}`);
  }
  let answer: string | null = null;
  if (f.answer !== null && o[f.answer] !== undefined && o[f.answer] !== null) {
    answer = answerText(o[f.answer]);
    if (answer === null) throw new UserError(`${where}: ${f.answer}: expected a string, a number or a list of strings, got ${describe(o[f.answer])}`);
  } else if (f.solution !== null && typeof o[f.solution] === "string") {
    answer = goldFromSolution(o[f.solution] as string);
    if (answer === null) throw new UserError(`${where}: ${f.solution}: the solution has no \\boxed{} answer`);
  }
  if (answer === null) throw new UserError(`${where}: ${f.answer ?? f.solution}: missing`);
  const id = f.id !== null && o[f.id] !== undefined && o[f.id] !== null ? String(o[f.id]) : String(index);
  return { id, problem, answer };
}

export interface Dataset {
  file: string;
  rows: MathRow[];
  /** the benchmark recognised by the columns, or null */
  benchmark: string | null;
  fields: ResolvedFields;
}

function isParquet(path: string): boolean {
  return extname(path).toLowerCase() === ".parquet";
}

/** Reads a whole dataset (benchmarks and training sets are small: MATH's 12k rows are a few MB). */
export async function readDataset(path: string, fields: FieldMap = {}): Promise<Dataset> {
  const records: { value: unknown; where: string }[] = [];
  if (isParquet(path)) {
    let objects: Record<string, unknown>[];
    try {
      const file = await asyncBufferFromFile(path);
      objects = (await parquetReadObjects({ file, compressors })) as Record<string, unknown>[];
    } catch (err) {
      throw new UserError(`${path}: cannot read Parquet (${reason(err)})`);
    }
    objects.forEach((value, i) => records.push({ value, where: `${path}: row ${i + 1}` }));
  } else {
    await inputInfo(path);
    for await (const { value, line } of readJsonl(path, path)) records.push({ value, where: `${path}:${line}` });
  }
  if (records.length === 0) throw new UserError(`${path}: the dataset has no rows`);
  const first = records[0].value;
  const columns = first !== null && typeof first === "object" && !Array.isArray(first) ? Object.keys(first) : [];
  const resolved = resolveFields(columns, fields, path);
  const rows = records.map((r, i) => toRow(r.value, resolved, i, r.where));
  return { file: path, rows, benchmark: detectBenchmark(columns), fields: resolved };
}
