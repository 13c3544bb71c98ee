/** `lambda-grpo grade`: per-line grades in input order, stdin/stdout, one-line errors, never its own input. */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runCli, tempDir } from "./helpers.js";

const dir = tempDir();
const lines = [
  { gold: "\\frac{1}{2}", completion: "half: \\boxed{0.5}" },
  { gold: "7", completion: "\\boxed{8}" },
  { gold: "(1, 2]", completion: "no box, 1 then 2" },
  { gold: 42, completion: "The answer is \\boxed{42}." },
];
const input = join(dir, "in.jsonl");
writeFileSync(input, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");

test("one grade per line, in input order", () => {
  const out = join(dir, "out.jsonl");
  const r = runCli(["grade", input, "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  const got = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(got, [
    { correct: true, extracted: "0.5", gold: "\\frac{1}{2}" },
    { correct: false, extracted: "8", gold: "7" },
    { correct: false, extracted: null, gold: "(1, 2]" },
    { correct: true, extracted: "42", gold: "42" },
  ]);
});

test("stdin to stdout, with a fallback", () => {
  const r = runCli(["grade", "-", "--out", "-", "--fallbacks", "last_number"], JSON.stringify({ gold: "12", completion: "so 12" }) + "\n");
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { correct: true, extracted: "12", gold: "12" });
});

test("a bad line is one error naming file, line and field, and leaves no output", () => {
  const bad = join(dir, "bad.jsonl");
  writeFileSync(bad, `${JSON.stringify(lines[0])}\n\n${JSON.stringify({ gold: "1", completion: 5 })}\n`);
  const out = join(dir, "bad-out.jsonl");
  const r = runCli(["grade", bad, "--out", out]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), `lambda-grpo grade: ${bad}:3: completion: expected a string, got number`);
  assert.equal(existsSync(out), false);
  const missing = runCli(["grade", "-", "--out", "-"], '{"completion": "x"}\n');
  assert.equal(missing.stderr.trim(), "lambda-grpo grade: <stdin>:1: gold: missing");
  const unknown = runCli(["grade", input, "--out", out, "--fallbacks", "last_word"]);
  assert.match(unknown.stderr, /--fallbacks: expected a comma-separated list of final_answer, last_number, got 'last_word'/);
});

test("refuses to write over its input", () => {
  const before = readFileSync(input, "utf8");
  const r = runCli(["grade", input, "--out", join(dir, ".", "in.jsonl")]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--out: .* is the input/);
  assert.equal(readFileSync(input, "utf8"), before);
});
