/** Datasets: the same rows from Parquet and JSONL, field mapping and detection, errors naming file, row, field. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parquetWriteBuffer } from "hyparquet-writer";
import { detectBenchmark, readDataset } from "../../src/data/index.js";

const dir = mkdtempSync(join(tmpdir(), "lgrpo-data-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeJsonl(name: string, rows: object[]): string {
  const path = join(dir, name);
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return path;
}

function writeParquet(name: string, columns: { name: string; data: unknown[]; type?: string }[]): string {
  const path = join(dir, name);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  writeFileSync(path, new Uint8Array(parquetWriteBuffer({ columnData: columns as any })));
  return path;
}

const MATH500 = [
  { problem: "What is $1+1$?", solution: "It is $\\boxed{2}$.", answer: "2", subject: "Algebra", level: 1, unique_id: "test/algebra/1.json" },
  { problem: "Simplify $\\frac{2}{4}$.", solution: "$\\boxed{\\frac{1}{2}}$", answer: "\\frac{1}{2}", subject: "Algebra", level: 2, unique_id: "test/algebra/2.json" },
];

test("a Parquet file and a JSONL file of the same rows read the same", async () => {
  const jsonl = writeJsonl("math500.jsonl", MATH500);
  const parquet = writeParquet("math500.parquet", Object.keys(MATH500[0]).map((k) => ({
    name: k,
    data: MATH500.map((r) => (r as Record<string, unknown>)[k]),
    ...(k === "level" ? { type: "INT32" } : {}),
  })));
  const a = await readDataset(jsonl);
  const b = await readDataset(parquet);
  assert.deepEqual(b.rows, a.rows);
  assert.deepEqual(a.rows[1], { id: "test/algebra/2.json", problem: "Simplify $\\frac{2}{4}$.", answer: "\\frac{1}{2}" });
  assert.equal(a.benchmark, "MATH-500");
  assert.equal(b.benchmark, "MATH-500");
});

test("OlympiadBench's final_answer list: one item, or several as one unordered answer", async () => {
  const path = writeParquet("olympiad.parquet", [
    { name: "id", data: [10, 11], type: "INT32" },
    { name: "question", data: ["Find x.", "Find all x."] },
    { name: "solution", data: [["x is 3"], ["..."]] },
    { name: "final_answer", data: [["$3$"], ["$1$", "$2$"]] },
    { name: "is_multiple_answer", data: [false, true] },
  ]);
  const d = await readDataset(path);
  assert.equal(d.benchmark, "OlympiadBench");
  assert.deepEqual(d.rows.map((r) => [r.id, r.problem, r.answer]), [["10", "Find x.", "$3$"], ["11", "Find all x.", "$1$, $2$"]]);
});

test("question/answer exports (AMC23, Minerva), numeric answers, and the boxed answer of a solution", async () => {
  const amc = await readDataset(writeJsonl("amc.jsonl", [{ id: 0, question: "How many?", answer: 27.0, url: "https://example.org/p1" }]));
  assert.equal(amc.benchmark, "AMC23");
  assert.deepEqual(amc.rows[0], { id: "0", problem: "How many?", answer: "27" });
  const minerva = await readDataset(writeJsonl("minerva.jsonl", [{ question: "Compute v.", answer: "3 \\times 10^8" }]));
  assert.equal(minerva.benchmark, "Minerva");
  assert.equal(minerva.rows[0].id, "0");
  const solutions = await readDataset(writeJsonl("sol.jsonl", [{ problem: "p", solution: "so $\\boxed{\\{1,2\\}}$" }]));
  assert.equal(solutions.rows[0].answer, "\\{1,2\\}");
  const aime = ["problem", "answer", "year"];
  assert.equal(detectBenchmark(["id", ...aime, "solution", "url"]), "AIME24");
  assert.equal(detectBenchmark(["ID", "Problem", "Solution", "Answer"]), "AIME24");
});

test("fields can be named", async () => {
  const path = writeJsonl("custom.jsonl", [{ prompt: "p?", target: "5", key: "k1", answer: "wrong field" }]);
  const d = await readDataset(path, { problem: "prompt", answer: "target", id: "key" });
  assert.deepEqual(d.rows[0], { id: "k1", problem: "p?", answer: "5" });
});

test("errors name the file, the row and the field", async () => {
  const jsonl = writeJsonl("bad.jsonl", [{ problem: "a", answer: "1" }, { problem: "b" }]);
  await assert.rejects(readDataset(jsonl), { message: `${jsonl}:2: answer: missing` });
  const parquet = writeParquet("bad.parquet", [{ name: "problem", data: ["a", ""] }, { name: "answer", data: ["1", "2"] }]);
  await assert.rejects(readDataset(parquet), { message: `${parquet}: row 2: problem: empty` });
  const noBox = writeJsonl("nobox.jsonl", [{ problem: "a", solution: "no box" }]);
  await assert.rejects(readDataset(noBox), { message: `${noBox}:1: solution: the solution has no \\boxed{} answer` });
  const noProblem = writeJsonl("noproblem.jsonl", [{ text: "a", answer: "1" }]);
  await assert.rejects(readDataset(noProblem), /noproblem\.jsonl: no problem field \(looked for problem, question, Problem, Question; columns: text, answer\)/);
  await assert.rejects(readDataset(join(dir, "absent.jsonl")), /absent\.jsonl: cannot read input \(ENOENT\)/);
  const notParquet = join(dir, "broken.parquet");
  writeFileSync(notParquet, "not parquet");
  await assert.rejects(readDataset(notParquet), /broken\.parquet: cannot read Parquet/);
});
