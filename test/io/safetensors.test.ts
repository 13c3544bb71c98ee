import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  floatToBf16,
  parseSafetensors,
  readSafetensors,
  SafetensorsCheckpoint,
  SafetensorsFile,
  serializeSafetensors,
  writeSafetensors,
  writeSafetensorsCheckpoint,
  type NamedTensor,
} from "../../src/io/safetensors.js";
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

test("BF16 writing rounds to nearest, ties to even, as PyTorch's .to(bfloat16)", () => {
  // hand-derived: bf16 keeps 7 fraction bits; 2^-8 above 1 is exactly half an ulp
  const cases: [number, number][] = [
    [1, 0x3f80],
    [1 + 2 ** -8, 0x3f80], // tie, 0x3f80 is even
    [1 + 3 * 2 ** -8, 0x3f82], // tie between 0x3f81 and 0x3f82: up to even
    [1 + 2 ** -8 + 2 ** -20, 0x3f81], // above the tie
    [-(1 + 2 ** -7), 0xbf81],
    [-0, 0x8000],
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
    [3.4028234663852886e38, 0x7f80], // the largest float32 rounds up to infinity
    [2 ** -133, 0x0001], // a bf16 subnormal survives exactly
    [NaN, 0x7fc0],
  ];
  for (const [x, bits] of cases) assert.equal(floatToBf16(x), bits, `${x}`);
  // written BF16 reads back as the rounded values, and the header says BF16
  const xs = new Float32Array(cases.map(([x]) => x));
  const bytes = serializeSafetensors([["b", { shape: [xs.length], data: xs }]], {}, { dtype: "BF16" });
  const back = parseSafetensors(bytes, "b.safetensors").tensors.get("b")!;
  assert.equal(back.dtype, "BF16");
  const expected = new Float32Array(new Uint32Array(cases.map(([, b]) => b << 16)).buffer);
  assert.deepEqual(back.data, expected);
});

test("F16 reads exactly: subnormals, infinities, NaN, negative zero", () => {
  const halves = [0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0xc000];
  const expected = [2 ** -24, 1023 * 2 ** -24, 2 ** -14, 1, 65504, Infinity, -Infinity, NaN, -0, -2];
  const data: number[] = [];
  for (const h of halves) data.push(h & 0xff, h >> 8);
  const bytes = handBuilt(JSON.stringify({ h: { dtype: "F16", shape: [halves.length], data_offsets: [0, 2 * halves.length] } }), data);
  assert.deepEqual([...parseSafetensors(bytes, "h.safetensors").tensors.get("h")!.data], expected);
});

test("SafetensorsFile streams each tensor into a caller's buffer, equal to a whole-file read, in every dtype", async () => {
  const dir = await mkdtemp(join(tmpdir(), "st-"));
  try {
    // larger than one read chunk (4 MB), so chunk boundaries are crossed
    const big = new Float32Array(3_000_001).map((_, i) => Math.sin(i * 0.37) * 100);
    const small = new Float32Array([1.5, -2.25, 3]);
    for (const dtype of ["F32", "BF16"] as const) {
      const path = join(dir, `${dtype}.safetensors`);
      await writeSafetensors(path, [["big", { shape: [1, 3_000_001], data: big }], ["small", { shape: [3], data: small }]], {}, { dtype });
      const whole = await readSafetensors(path);
      const file = await SafetensorsFile.open(path);
      try {
        assert.deepEqual([...file.entries.keys()], ["big", "small"]);
        for (const name of ["big", "small"]) {
          const dest = new Float32Array(whole.tensors.get(name)!.data.length);
          await file.readInto(name, dest);
          assert.deepEqual(dest, whole.tensors.get(name)!.data, `${dtype} ${name}`);
        }
        await assert.rejects(file.readInto("small", new Float32Array(2)), /'small' has 3 elements, the destination 2/);
      } finally {
        await file.close();
      }
    }
    // F16 written by hand (we do not write F16): 1, -2, 2^-24
    const f16 = join(dir, "f16.safetensors");
    await writeFile(f16, handBuilt(JSON.stringify({ h: { dtype: "F16", shape: [3], data_offsets: [0, 6] } }), [0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]));
    const file = await SafetensorsFile.open(f16);
    const dest = new Float32Array(3);
    await file.readInto("h", dest);
    await file.close();
    assert.deepEqual([...dest], [1, -2, 2 ** -24]);
    // header checks apply to the streamed open too
    const bad = join(dir, "bad.safetensors");
    await writeFile(bad, handBuilt('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', [0, 0, 0, 0]));
    await assert.rejects(SafetensorsFile.open(bad), (e: Error) => e instanceof UserError && e.message.startsWith(bad) && /'t'.*truncated/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a checkpoint directory: sharded where transformers would shard, read back through the index", async () => {
  const dir = await mkdtemp(join(tmpdir(), "st-"));
  try {
    const t = (n: number, v: number): NamedTensor => ({ shape: [n], data: new Float32Array(n).fill(v) });
    // 40 + 40 + 120 + 8 + 80 bytes of F32 at a 100-byte limit: [a, b], [c] (over the limit alone), [d, e]
    const tensors: [string, NamedTensor][] = [["a", t(10, 1)], ["b", t(10, 2)], ["c", t(30, 3)], ["d", t(2, 4)], ["e", t(20, 5)]];
    const written = await writeSafetensorsCheckpoint(dir, tensors, { format: "pt" }, { maxShardBytes: 100 });
    assert.deepEqual(written, ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", "model.safetensors.index.json"]);
    const index = JSON.parse(await readFile(join(dir, "model.safetensors.index.json"), "utf8"));
    assert.deepEqual(index, {
      metadata: { total_size: 288 },
      weight_map: { a: written[0], b: written[0], c: written[1], d: written[2], e: written[2] },
    });
    const ck = await SafetensorsCheckpoint.open(dir);
    try {
      assert.deepEqual([...ck.tensors.keys()], ["a", "b", "c", "d", "e"]);
      assert.deepEqual(ck.dtypes(), ["F32"]);
      for (const [name, tensor] of tensors) {
        const dest = new Float32Array(tensor.data.length);
        await ck.readInto(name, dest);
        assert.deepEqual(dest, tensor.data);
      }
    } finally {
      await ck.close();
    }
    // saving again unsharded replaces the shards and the index
    await writeSafetensorsCheckpoint(dir, tensors, { format: "pt" }, { dtype: "BF16" });
    assert.deepEqual(await readdir(dir), ["model.safetensors"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a broken index names the index file and the tensor", async () => {
  const dir = await mkdtemp(join(tmpdir(), "st-"));
  try {
    await writeSafetensors(join(dir, "s1.safetensors"), [["a", { shape: [1], data: new Float32Array(1) }]]);
    await writeSafetensors(join(dir, "s2.safetensors"), [["a", { shape: [1], data: new Float32Array(1) }]]);
    const index = join(dir, "model.safetensors.index.json");
    const cases: [unknown, RegExp][] = [
      [{ weight_map: { a: "s1.safetensors", b: "s1.safetensors" } }, /index\.json: weight_map: tensor 'b' is listed in s1\.safetensors, which does not hold it/],
      [{ weight_map: { a: "s1.safetensors", x: "s2.safetensors" } }, /s2\.safetensors: tensor 'a' is also in .*s1\.safetensors/],
      [{ weight_map: { a: "../s1.safetensors" } }, /weight_map: tensor 'a': '\.\.\/s1\.safetensors' is not a file name in this directory/],
      [{ weight_map: { a: "s3.safetensors" } }, /s3\.safetensors: no such file/],
      [{ weight_map: [] }, /weight_map: expected an object/],
    ];
    for (const [json, re] of cases) {
      await writeFile(index, JSON.stringify(json));
      await assert.rejects(SafetensorsCheckpoint.open(dir), (e: Error) => e instanceof UserError && re.test(e.message), String(re));
    }
    await rm(index);
    await assert.rejects(SafetensorsCheckpoint.open(dir, "(hint)"), new RegExp(`${dir}/model\\.safetensors: no such file \\(hint\\)`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
