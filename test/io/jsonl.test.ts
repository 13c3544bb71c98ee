/**
 * The line splitter and the rollout reader stream: lines and groups come out while the input is still
 * arriving, whatever the chunk boundaries (mid-line, mid-UTF-8 character, between "\r" and "\n").
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { readJsonl, readLines } from "../../src/io/jsonl.js";
import { readRolloutGroups } from "../../src/io/rollouts.js";

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* chunks(parts: (string | Buffer)[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield typeof p === "string" ? Buffer.from(p) : p;
}

test("lines survive any chunking: mid-line, mid-character, CRLF, BOM, no final newline", async () => {
  const text = "\uFEFF{\"a\": \"é€\"}\r\n\n  \n[1,2]\n\"last\"";
  const bytes = Buffer.from(text);
  const expected = ['{"a": "é€"}', "", "  ", "[1,2]", '"last"'];
  for (let size = 1; size <= bytes.length; size += 1) {
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
    const lines = await collect(readLines(chunks(parts)));
    assert.deepEqual(lines.map((l) => l.text), expected, `chunk size ${size}`);
    assert.deepEqual(lines.map((l) => l.line), [1, 2, 3, 4, 5]);
    assert.equal(lines.at(-1)!.bytesRead, bytes.length);
  }
  const values = await collect(readJsonl(chunks([text]), "x.jsonl"));
  assert.deepEqual(values.map((v) => [v.line, v.value]), [[1, { a: "é€" }], [4, [1, 2]], [5, "last"]]);
});

test("bytesRead counts the bytes up to the end of each line", async () => {
  const lines = await collect(readLines(chunks(["ab\ncd", "e\n", "\n"])));
  assert.deepEqual(lines.map((l) => [l.text, l.bytesRead]), [["ab", 3], ["cde", 7], ["", 8]]);
});

/**
 * A source that hands out one line at a time and only when the consumer asks: if the reader waited for the
 * end of input (or read ahead without bound), `produced` would run ahead of what was consumed.
 */
function* lazyLines(n: number, make: (i: number) => string, log: number[]): Generator<Buffer> {
  for (let i = 0; i < n; i++) {
    log.push(i);
    yield Buffer.from(make(i) + "\n");
  }
}

test("groups come out before the input ends (one group per line)", async () => {
  const produced: number[] = [];
  const n = 1000;
  const make = (i: number) => JSON.stringify({ id: i, step: i, completions: [{ tokens: [i % 7, 1], reward: i % 2 }] });
  const source = (async function* () {
    yield* lazyLines(n, make, produced);
  })();
  let seen = 0;
  for await (const g of readRolloutGroups(source, { file: "gen" })) {
    assert.equal(g.id, seen);
    // Group i is yielded having read line i, and at most one line beyond it.
    assert.ok(produced.length <= seen + 2, `group ${seen} yielded after ${produced.length} lines were produced`);
    seen += 1;
  }
  assert.equal(seen, n);
});

test("groups come out before the input ends (one completion per line: when the next group starts)", async () => {
  const produced: number[] = [];
  const k = 4;
  const make = (i: number) => JSON.stringify({ group: `g${Math.floor(i / k)}`, tokens: [i % k], reward: i % 3 });
  const source = (async function* () {
    yield* lazyLines(400, make, produced);
  })();
  let seen = 0;
  for await (const g of readRolloutGroups(source)) {
    assert.equal(g.id, `g${seen}`);
    assert.equal(g.completions.length, k);
    assert.deepEqual(g.completions.map((c) => c.line), [1, 2, 3, 4].map((l) => l + seen * k));
    // Group j is complete when line k*(j+1)+1 (the next group's first) has been read.
    assert.ok(produced.length <= k * (seen + 1) + 1, `group ${seen} yielded after ${produced.length} lines`);
    seen += 1;
  }
  assert.equal(seen, 100);
});

test("gzip input is read by its magic bytes (whatever the name), in chunks of any size", async () => {
  const { gzipSync } = await import("node:zlib");
  const text = '{"id": 1, "completions": [{"tokens": [1, 2], "reward": 1}]}\n{"id": 2, "completions": [{"tokens": [3], "reward": 0}]}\n';
  const gz = gzipSync(Buffer.from(text));
  for (const size of [1, 2, 7, gz.length]) {
    const parts: Buffer[] = [];
    for (let i = 0; i < gz.length; i += size) parts.push(gz.subarray(i, i + size));
    const lines = await collect(readLines(chunks(parts)));
    assert.deepEqual(lines.map((l) => l.text), text.trimEnd().split("\n"), `chunk size ${size}`);
  }
  const groups = await collect(readRolloutGroups(chunks([gz]), { file: "r.jsonl.gz" }));
  assert.deepEqual(groups.map((g) => g.completions.map((c) => c.tokens)), [[[1, 2]], [[3]]]);
});

test("a truncated gzip file is one error naming the file; binary bytes are never echoed raw", async () => {
  const { gzipSync } = await import("node:zlib");
  const gz = gzipSync(Buffer.from('{"a": 1}\n'.repeat(1000)));
  await assert.rejects(collect(readLines(chunks([gz.subarray(0, gz.length >> 1)]), "r.jsonl.gz")), (err: Error) => {
    assert.match(err.message, /^r\.jsonl\.gz: not a readable gzip file \(/);
    return true;
  });
  // Bytes that are not JSON (here a zip header and control bytes): the message escapes them.
  const binary = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x07, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0xfe, 0x0a]);
  await assert.rejects(collect(readJsonl(chunks([binary]), "x.jsonl")), (err: Error) => {
    assert.match(err.message, /^x\.jsonl:1: malformed JSON \(/);
    assert.doesNotMatch(err.message, /[\u0000-\u001f\u007f-\u009f\ufffd]/);
    assert.match(err.message, /\\x1b/);
    return true;
  });
});
