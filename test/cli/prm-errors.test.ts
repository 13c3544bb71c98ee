/**
 * Bad input to `lambda-grpo prm`: every class gives one line "file:line: field: what was expected", a
 * non-zero exit, and no output file (nor temporary file) left behind, even when earlier groups were fine
 * and had already been written.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../../src/cli/prm.js";
import { UserError } from "../../src/util/errors.js";
import { runCli, tempDir } from "./helpers.js";

const dir = tempDir();
const good = (id: string) => JSON.stringify({ id, completions: [{ tokens: [1, 2], reward: 1 }, { tokens: [1, 3], reward: 0 }] });
const goodC = (group: string, tokens: number[], reward = 1) => JSON.stringify({ group, tokens, reward });

/** [name, lines of the input, expected error after "<file>:"] */
const CASES: [string, string[], RegExp][] = [
  ["malformed JSON", [good("a"), good("b"), '{"id": "c", "completions": [{"tokens": [1], "reward": 1}'], /^:3: malformed JSON \(/],
  ["not an object", [good("a"), "[1, 2]"], /^:2: expected a JSON object, got \[1,2\]$/],
  ["tokens of the wrong type", [good("a"), '{"id": "b", "completions": [{"tokens": "1 2", "reward": 1}]}'], /^:2: completions\[0\]\.tokens: expected an array of token ids, got "1 2"$/],
  ["reward of the wrong type", [good("a"), '{"id": "b", "completions": [{"tokens": [1], "reward": 1}, {"tokens": [2], "reward": "1.0"}]}'], /^:2: completions\[1\]\.reward: expected a finite number, got "1\.0"$/],
  ["non-finite reward", [good("a"), '{"id": "b", "completions": [{"tokens": [1], "reward": 1e999}]}'], /^:2: completions\[0\]\.reward: expected a finite number, got "Infinity"$/],
  ["null reward", ['{"id": "b", "completions": [{"tokens": [1], "reward": null}]}'], /^:1: completions\[0\]\.reward: expected a finite number, got null$/],
  ["missing reward", [good("a"), good("b"), '{"id": "c", "completions": [{"tokens": [1]}]}'], /^:3: completions\[0\]\.reward: missing/],
  ["negative token id", [good("a"), '{"id": "b", "completions": [{"tokens": [4, 5, -1], "reward": 1}]}'], /^:2: completions\[0\]\.tokens\[2\]: expected a non-negative integer token id, got -1$/],
  ["non-integer token id", ['{"id": "b", "completions": [{"tokens": [4, 1.5], "reward": 1}]}'], /^:1: completions\[0\]\.tokens\[1\]: expected a non-negative integer token id, got 1\.5$/],
  ["empty group", [good("a"), '{"id": "b", "completions": []}'], /^:2: completions: empty group/],
  ["mixed formats", [good("a"), goodC("b", [1])], /^:2: group: mixed formats: this line is one completion per line, but line 1 is one group per line$/],
  ["both formats on one line", ['{"id": "a", "group": "a", "completions": []}'], /^:1: mixed formats: /],
  ["neither format", ['{"id": "a", "rollouts": []}'], /^:1: completions: missing/],
  ["completion without group", [goodC("a", [1]), '{"tokens": [1], "reward": 0}'], /^:2: group: missing/],
  ["group split across the file", [goodC("a", [1]), goodC("a", [2]), goodC("b", [1]), goodC("a", [3])], /^:4: group: group "a" began on line 1 and another group has started since \(line 3\); the lines of one group must be contiguous$/],
  ["step on some lines only", [JSON.stringify({ id: "a", step: 1, completions: [{ tokens: [1], reward: 1 }] }), good("b")], /^:2: step: missing, but line 1 has one/],
  ["step not an integer", [JSON.stringify({ id: "a", step: "1", completions: [{ tokens: [1], reward: 1 }] })], /^:1: step: expected a non-negative integer, got "1"$/],
  ["completion without tokens", [good("a"), '{"id": "b", "completions": [{"reward": 0}]}'], /^:2: completions\[0\]\.tokens: missing/],
  ["empty input", [""], /^: no rollout groups/],
];

for (const [name, lines, expected] of CASES) {
  test(`bad input: ${name}`, async () => {
    const file = `bad-${name.replace(/\W+/g, "-")}.jsonl`;
    const input = join(dir, file);
    writeFileSync(input, lines.join("\n") + "\n");
    const out = join(dir, `${file}.out`);
    const err = await main([input, "--out", out, "--quiet"]).then(
      () => assert.fail("expected an error"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof UserError, `a UserError, got ${String(err)}`);
    assert.ok(err.message.startsWith(input), `names the file: ${err.message}`);
    assert.match(err.message.slice(input.length), expected);
    assert.ok(!err.message.includes("\n"), "one line");
    assert.ok(!existsSync(out), "no output file");
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), [], "no temporary file left");
  });
}

test("text without --tokenizer is an error naming the field", async () => {
  const input = join(dir, "text.jsonl");
  writeFileSync(input, '{"group": "b", "text": "hello", "reward": 1}\n');
  await assert.rejects(main([input, "--out", join(dir, "text.out"), "--quiet"]), (e: Error) => {
    assert.equal(e.message, `${input}:1: text: needs a tokenizer to become token ids (pass --tokenizer <tokenizer.json>), or give 'tokens'`);
    return true;
  });
});

test("the CLI exits 1 with one line on stderr, and leaves no output", () => {
  const input = join(dir, "cli-bad.jsonl");
  writeFileSync(input, [good("a"), good("b"), '{"id": "c", "completions": [{"tokens": [1], "reward": 1}, {"tokens": [2], "reward": "x"}]}'].join("\n") + "\n");
  const out = join(dir, "cli-bad.out.jsonl");
  const r = runCli(["prm", input, "--out", out]);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, `lambda-grpo prm: ${input}:3: completions[1].reward: expected a finite number, got "x"\n`);
  assert.ok(!existsSync(out));
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), []);
});

test("a missing input file and an unwritable output are one-line errors too", async () => {
  await assert.rejects(main([join(dir, "nope.jsonl"), "--out", join(dir, "x.jsonl")]), /nope\.jsonl: cannot read input \(ENOENT\)$/);
  const input = join(dir, "ok.jsonl");
  writeFileSync(input, good("a") + "\n");
  await assert.rejects(main([input, "--out", join(dir, "no-such-dir", "x.jsonl")]), /--out: cannot write .*no-such-dir.*\(ENOENT\)$/);
});
