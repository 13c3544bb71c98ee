import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { main, shortestFloat32 } from "../../src/cli/logprobs.js";
import { UserError } from "../../src/util/errors.js";
import { GPT2_TINY_DIR, readGolden } from "../fixtures/gpt2-tiny/fixture.js";
import { runCli, tempDir } from "./helpers.js";

const INPUTS = join(GPT2_TINY_DIR, "inputs.jsonl");

/** The bound for the golden comparison (see test/engine/golden.test.ts). */
const REL_TOL = 1e-4;

function lines(text: string): unknown[] {
  return text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

test("logprobs CLI writes PyTorch's per-token log-probs for the golden sequences (tokens - 1 per line)", async () => {
  const g = await readGolden();
  const dir = tempDir();
  const out = join(dir, "lp.jsonl");
  const r = runCli(["logprobs", "--model", GPT2_TINY_DIR, "--input", INPUTS, "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /4 sequences -> /);
  const got = lines(await readFile(out, "utf8")) as { logprobs: number[] }[];
  const inputs = lines(await readFile(INPUTS, "utf8")) as { tokens: number[] }[];
  assert.equal(got.length, inputs.length);
  const T = g.seqLen;
  let diff = 0;
  let scale = 0;
  got.forEach((row, b) => {
    assert.deepEqual(Object.keys(row), ["logprobs"]);
    assert.equal(row.logprobs.length, inputs[b].tokens.length - 1);
    row.logprobs.forEach((x, t) => {
      const ref = g.logprobs[b * (T - 1) + t];
      diff = Math.max(diff, Math.abs(x - ref));
      scale = Math.max(scale, Math.abs(ref));
    });
  });
  assert.ok(diff / scale < REL_TOL, `relative error ${diff / scale}`);
});

test("batch size does not change the answers; stdin to stdout; one-token and blank lines", async () => {
  const dir = tempDir();
  const text = (await readFile(INPUTS, "utf8")) + "\n   \n" + '{"tokens": [7], "id": "x"}\n';
  const input = join(dir, "in.jsonl");
  await writeFile(input, text);
  const outs: string[] = [];
  for (const bs of ["1", "3", "64"]) {
    const out = join(dir, `out-${bs}.jsonl`);
    await main(["--model", GPT2_TINY_DIR, "--input", input, "--out", out, "--batch-size", bs, "--quiet"]);
    outs.push(await readFile(out, "utf8"));
  }
  const rows = lines(outs[0]) as { logprobs: number[] }[];
  for (const other of outs.slice(1)) {
    // other paddings change GEMM shapes, hence float32 rounding at most
    (lines(other) as { logprobs: number[] }[]).forEach((row, i) => {
      assert.equal(row.logprobs.length, rows[i].logprobs.length);
      row.logprobs.forEach((x, t) => assert.ok(Math.abs(x - rows[i].logprobs[t]) < 1e-5, `${x} vs ${rows[i].logprobs[t]}`));
    });
  }
  assert.equal(rows.length, 5, "blank lines give no output line");
  assert.deepEqual(rows[4], { logprobs: [] });
  const piped = runCli(["logprobs", "--model", GPT2_TINY_DIR, "--input", "-", "--out", "-", "--batch-size", "1"], text);
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(piped.stdout, outs[0]);
});

test("bad input: file:line: field in the message, exit 1, and no output file left behind", async () => {
  const dir = tempDir();
  const out = join(dir, "out.jsonl");
  const good = '{"tokens": [1, 2, 3]}\n';
  const cases: [string, RegExp][] = [
    [good + "{oops\n", /in\.jsonl:2: malformed JSON/],
    [good + "[1,2]\n", /in\.jsonl:2: expected an object \{"tokens": \[\.\.\.\]\}/],
    [good + '{"text": "hi"}\n', /in\.jsonl:2: tokens: missing/],
    [good + '{"tokens": "1 2"}\n', /in\.jsonl:2: tokens: expected an array of token ids/],
    [good + '{"tokens": []}\n', /in\.jsonl:2: tokens: empty/],
    [good + '{"tokens": [1, 61]}\n', /in\.jsonl:2: tokens\[1\]: expected a token id in \[0, 61\), got 61/],
    [good + '{"tokens": [1, -1]}\n', /in\.jsonl:2: tokens\[1\]: expected a token id in \[0, 61\), got -1/],
    [good + '{"tokens": [1, 2.5]}\n', /in\.jsonl:2: tokens\[1\]: .*got 2\.5/],
    [good + `{"tokens": [${new Array(17).fill(1).join(",")}]}\n`, /in\.jsonl:2: tokens: 17 tokens, more than the model's context length 16/],
  ];
  for (const [text, re] of cases) {
    const input = join(dir, "in.jsonl");
    await writeFile(input, text);
    // batch size 1: the good first line is already written to the temporary file when line 2 fails
    await assert.rejects(main(["--model", GPT2_TINY_DIR, "--input", input, "--out", out, "--batch-size", "1"]), (e: Error) => e instanceof UserError && re.test(e.message), String(re));
    assert.deepEqual((await readdir(dir)).sort(), ["in.jsonl"], `nothing left behind for ${re}`);
  }
  const r = runCli(["logprobs", "--model", GPT2_TINY_DIR, "--input", join(dir, "in.jsonl"), "--out", out]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^lambda-grpo logprobs: .*in\.jsonl:2: tokens: 17 tokens/);
});

test("bad arguments and model directories are reported before any output", async () => {
  const dir = tempDir();
  const out = join(dir, "out.jsonl");
  await assert.rejects(main(["--input", INPUTS, "--out", out]), /--model is required/);
  await assert.rejects(main(["--model", GPT2_TINY_DIR, "--out", out]), /--input is required/);
  await assert.rejects(main(["--model", GPT2_TINY_DIR, "--input", INPUTS]), /--out is required/);
  await assert.rejects(main(["--model", GPT2_TINY_DIR, "--input", INPUTS, "--out", out, "--batch-size", "0"]), /--batch-size: expected an integer >= 1, got '0'/);
  await assert.rejects(main(["--model", dir, "--input", INPUTS, "--out", out]), /config\.json: no such file/);
  await assert.rejects(main(["--model", GPT2_TINY_DIR, "--input", join(dir, "nope.jsonl"), "--out", out]), /nope\.jsonl: cannot read input/);
  await assert.rejects(main(["--model", GPT2_TINY_DIR, "--input", INPUTS, "--out", join(dir, "no", "out.jsonl")]), /--out: cannot write/);
  await copyFile(join(GPT2_TINY_DIR, "config.json"), join(dir, "config.json"));
  await assert.rejects(main(["--model", dir, "--input", INPUTS, "--out", out]), /model\.safetensors: no such file/);
  assert.deepEqual((await readdir(dir)).sort(), ["config.json"]);
  const r = runCli(["logprobs", "--bogus"]);
  assert.equal(r.status, 2);
});

test("numbers are written as the shortest decimal that reads back as the same float32", () => {
  for (const x of [-5.5882044, -1e-7, -0.5, -123.456, Math.fround(-Math.PI), -3.4028234663852886e38]) {
    const f = Math.fround(x);
    const s = shortestFloat32(f);
    assert.equal(Math.fround(Number(s)), f, s);
    assert.ok(s.replace(/^-|e.*$/g, "").replace(".", "").replace(/^0+/, "").length <= 9, s);
  }
  assert.equal(shortestFloat32(Math.fround(-0.5)), "-0.5");
  assert.equal(shortestFloat32(Math.fround(-4.150465)), "-4.150465");
});
