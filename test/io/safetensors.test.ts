import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { UserError } from "../../src/util/errors.js";

/** A file built byte by byte from the format's definition, not by our writer. */
function handBuilt(header: string, data: number[]): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

test("reads a hand-built file: F32, F16 and BF16 little-endian, metadata, unpadded header", () => {
  const header = JSON.stringify({
    __metadata__: { format: "pt" },
    // 1.0, -2.5 as float32: 0x3f800000, 0xc0200000
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    // 1.0, -2.0, 65504 (largest half), 2^-24 (smallest subnormal) as float16
    h: { dtype: "F16", shape: [2, 2], data_offsets: [8, 16] },
    // 1.0, -2.5 as bfloat16: the top halves of the float32 patterns
    b: { dtype: "BF16", shape: [2, 1], data_offsets: [16, 20] },
  });
  const bytes = handBuilt(header, [
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0,
    0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00,
    0x80, 0x3f, 0x20, 0xc0,
  ]);
  const { tensors, metadata } = parseSafetensors(bytes, "hand.safetensors");
  assert.deepEqual(metadata, { format: "pt" });
  assert.deepEqual([...tensors.keys()], ["a", "h", "b"]);
  assert.deepEqual(tensors.get("a")!.shape, [2]);
  assert.deepEqual([...tensors.get("a")!.data], [1, -2.5]);
  assert.deepEqual(tensors.get("h")!.shape, [2, 2]);
  assert.deepEqual([...tensors.get("h")!.data], [1, -2, 65504, 2 ** -24]);
  assert.equal(tensors.get("h")!.dtype, "F16");
  assert.deepEqual([...tensors.get("b")!.data], [1, -2.5]);
});

test("writes what the format specifies: LE length, header padded with spaces to 8 bytes, packed F32 data", () => {
  const bytes = serializeSafetensors([["x", { shape: [3], data: new Float32Array([1, 2, 3]) }]], { format: "pt" });
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const n = Number(view.getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.match(text, /^\{.*\} *$/);
  assert.deepEqual(JSON.parse(text), {
    __metadata__: { format: "pt" },
    x: { dtype: "F32", shape: [3], data_offsets: [0, 12] },
  });
  assert.equal(bytes.length, 8 + n + 12);
  assert.deepEqual([...bytes.subarray(8 + n)], [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40]);
});

test("round-trips tensors (scalar, empty and subarray views included) through a file, atomically", async () => {
  const dir = await mkdtemp(join(tmpdir(), "st-"));
  try {
    const big = new Float32Array(1000).map((_, i) => Math.sin(i) * 1e3);
    const tensors: [string, { shape: number[]; data: Float32Array }][] = [
      ["w", { shape: [10, 100], data: big }],
      ["scalar", { shape: [], data: new Float32Array([Math.PI]) }],
      ["empty", { shape: [0, 4], data: new Float32Array(0) }],
      ["view", { shape: [3], data: big.subarray(7, 10) }],
      ["odd", { shape: [1], data: new Float32Array([NaN]) }],
    ];
    const path = join(dir, "m.safetensors");
    await writeSafetensors(path, tensors, { note: "hi" });
    assert.deepEqual(await readdir(dir), ["m.safetensors"]);
    const back = await readSafetensors(path);
    assert.deepEqual(back.metadata, { note: "hi" });
    assert.deepEqual([...back.tensors.keys()], tensors.map(([n]) => n));
    for (const [name, t] of tensors) {
      const got = back.tensors.get(name)!;
      assert.deepEqual(got.shape, t.shape, name);
      assert.deepEqual(got.data, Float32Array.from(t.data), name);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("copy: false gives views into the file's bytes for aligned F32 (and still copies what it must)", () => {
  const bytes = serializeSafetensors([["a", { shape: [3], data: new Float32Array([1, 2, 3]) }]]);
  const views = parseSafetensors(bytes, "v.safetensors", { copy: false }).tensors.get("a")!.data;
  assert.equal(views.buffer, bytes.buffer);
  assert.deepEqual([...views], [1, 2, 3]);
  const copies = parseSafetensors(bytes, "v.safetensors").tensors.get("a")!.data;
  assert.notEqual(copies.buffer, bytes.buffer);
  // the same file 1 byte into a buffer: misaligned, so copied
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const moved = parseSafetensors(shifted.subarray(1), "v.safetensors", { copy: false }).tensors.get("a")!.data;
  assert.notEqual(moved.buffer, shifted.buffer);
  assert.deepEqual([...moved], [1, 2, 3]);
});

test("a failed write leaves nothing behind and names the file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "st-"));
  try {
    const path = join(dir, "missing-dir", "m.safetensors");
    await assert.rejects(writeSafetensors(path, [["x", { shape: [1], data: new Float32Array(1) }]]), (e: Error) => e instanceof UserError && e.message.includes(path));
    assert.deepEqual(await readdir(dir), []);
    assert.throws(() => serializeSafetensors([["x", { shape: [2], data: new Float32Array(3) }]]), /'x'.*2 elements, data has 3/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("malformed files give errors that name the file and the tensor", async () => {
  const f = "bad.safetensors";
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(5), /^bad\.safetensors: not a safetensors file: 5 bytes/],
    [handBuilt("{", []).subarray(0, 8), /header length 1 does not fit/],
    [handBuilt("{nope", []), /header is not valid JSON/],
    [handBuilt("[1]", []), /header is not a JSON object/],
    [handBuilt('{"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}', [0]), /tensor 't': dtype I8 is not supported/],
    [handBuilt('{"t":{"dtype":"F32","shape":[1,-1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /tensor 't': 'shape' must be/],
    [handBuilt('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /tensor 't': shape \[2\] of F32 needs 8 bytes, data_offsets span 4/],
    [handBuilt('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', [0, 0, 0, 0]), /tensor 't': .*truncated/],
    [handBuilt('{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [0, 0, 0, 0, 0, 0, 0, 0]), /tensor 't': gap in the data/],
    [
      handBuilt('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"u":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', new Array(8).fill(0)),
      /tensor '(t|u)': data overlaps/,
    ],
    [handBuilt('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0, 9]), /cover 4 bytes of data but the file holds 5/],
    [handBuilt('{"__metadata__":{"a":1}}', []), /__metadata__\.a must be a string/],
    [handBuilt('{"t":{"shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /tensor 't': missing 'dtype'/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => parseSafetensors(bytes, f), (e: Error) => e instanceof UserError && re.test(e.message) && e.message.startsWith(f), String(re));
  }
  const dir = await mkdtemp(join(tmpdir(), "st-"));
  try {
    await assert.rejects(readSafetensors(join(dir, "nope.safetensors")), /nope\.safetensors: no such file/);
    const path = join(dir, "trunc.safetensors");
    const good = serializeSafetensors([["x", { shape: [4], data: new Float32Array(4) }]]);
    await writeFile(path, good.subarray(0, good.length - 3));
    await assert.rejects(readSafetensors(path), (e: Error) => e.message.startsWith(path) && /'x'.*truncated/.test(e.message));
    assert.equal((await readFile(path)).length, good.length - 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
