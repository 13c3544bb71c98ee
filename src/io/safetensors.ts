/**
 * Safetensors (https://github.com/huggingface/safetensors), the format Hugging Face stores weights in:
 *
 *   [8 bytes: N, uint64 little-endian] [N bytes: JSON header] [data]
 *
 * The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets into
 * the data section, end exclusive) and may hold "__metadata__" (string -> string). Writers pad the header
 * with spaces so the data starts 8-byte aligned, and lay tensors out back to back without gaps.
 *
 * We write float32 only (all the engine holds) and read F32, F16, BF16 and F64, converting to float32.
 */
import { readFile } from "node:fs/promises";
import { endianness } from "node:os";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "./atomic.js";

/** A float32 tensor, row-major. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsContents {
  /** In file order (by data offset). */
  tensors: Map<string, NamedTensor & { dtype: ReadableDtype }>;
  metadata: Record<string, string>;
}

export type ReadableDtype = "F32" | "F16" | "BF16" | "F64";

const BYTES_PER_ELEMENT: Record<ReadableDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** The reference implementation refuses larger headers (a corrupt length would otherwise allocate GBs). */
const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN_HOST = endianness() === "LE";

function malformed(file: string, message: string, tensor?: string): UserError {
  return new UserError(tensor === undefined ? `${file}: ${message}` : `${file}: tensor '${tensor}': ${message}`);
}

/** Parses the bytes of a safetensors file; `file` names it in errors. Tensors are copied out of `bytes`. */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsContents {
  if (bytes.byteLength < 8) {
    throw malformed(file, `not a safetensors file: ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > bytes.byteLength) {
    throw malformed(file, `not a safetensors file: header length ${headerLength} does not fit a file of ${bytes.byteLength} bytes`);
  }
  const headerText = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(8, 8 + headerLength));
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (err) {
    throw malformed(file, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw malformed(file, "header is not a JSON object");
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: ReadableDtype; shape: number[]; begin: number; end: number }[] = [];

  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw malformed(file, "__metadata__ must be an object of strings");
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") throw malformed(file, `__metadata__.${k} must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof value !== "object" || value === null) throw malformed(file, "entry must be an object", name);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== "string") throw malformed(file, "missing 'dtype'", name);
    if (!(dtype in BYTES_PER_ELEMENT)) {
      throw malformed(file, `dtype ${dtype} is not supported (expected one of ${Object.keys(BYTES_PER_ELEMENT).join(", ")})`, name);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw malformed(file, `'shape' must be an array of non-negative integers, got ${JSON.stringify(shape)}`, name);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw malformed(file, `'data_offsets' must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`, name);
    }
    const [begin, end] = offsets as [number, number];
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const size = BYTES_PER_ELEMENT[dtype as ReadableDtype];
    if (end - begin !== elements * size) {
      throw malformed(file, `shape [${shape.join(", ")}] of ${dtype} needs ${elements * size} bytes, data_offsets span ${end - begin}`, name);
    }
    if (end > dataLength) {
      throw malformed(file, `data_offsets [${begin}, ${end}] run past the end of the data (${dataLength} bytes); the file is truncated`, name);
    }
    entries.push({ name, dtype: dtype as ReadableDtype, shape: shape as number[], begin, end });
  }

  // The format requires the tensors to tile the data section exactly: no overlap, no gaps.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.begin !== cursor) {
      throw malformed(file, e.begin < cursor ? `data overlaps the previous tensor's (starts at ${e.begin}, previous ends at ${cursor})` : `gap in the data before this tensor (starts at ${e.begin}, previous ends at ${cursor})`, e.name);
    }
    cursor = e.end;
  }
  if (cursor !== dataLength) {
    throw malformed(file, `the tensors cover ${cursor} bytes of data but the file holds ${dataLength}`);
  }

  const tensors = new Map<string, NamedTensor & { dtype: ReadableDtype }>();
  for (const e of entries) {
    const raw = bytes.subarray(dataStart + e.begin, dataStart + e.end);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decode(raw, e.dtype) });
  }
  return { tensors, metadata };
}

function decode(raw: Uint8Array, dtype: ReadableDtype): Float32Array {
  const n = raw.byteLength / BYTES_PER_ELEMENT[dtype];
  const out = new Float32Array(n);
  if (dtype === "F32" && LITTLE_ENDIAN_HOST) {
    // A byte copy: works whatever the alignment of `raw`.
    new Uint8Array(out.buffer).set(raw);
    return out;
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (dtype === "F32") {
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === "F64") {
    for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
  } else if (dtype === "BF16") {
    // bfloat16 is the top half of a float32 (both views of `out` use the host's byte order).
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  }
  return out;
}

/** IEEE 754 binary16 -> number (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Reads a safetensors file into float32 tensors. */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(e.code === "ENOENT" ? `${path}: no such file` : `${path}: cannot read (${e.message})`);
  }
  return parseSafetensors(bytes, path);
}

/**
 * The bytes of a safetensors file holding `tensors` as F32, in the given order, with the header padded by
 * spaces to a multiple of 8 bytes as the reference writer does.
 */
export function serializeSafetensors(
  tensors: Iterable<[string, NamedTensor]>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const list: [string, NamedTensor][] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === "__metadata__") throw new Error("'__metadata__' cannot be a tensor name");
    if (name in header) throw new Error(`tensor '${name}' given twice`);
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) {
      throw new Error(`tensor '${name}': shape [${t.shape.join(", ")}] has ${elements} elements, data has ${t.data.length}`);
    }
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * elements] };
    list.push([name, t]);
    offset += 4 * elements;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(headerBytes);
    headerBytes = p;
  }
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(headerBytes, 8);
  let at = 8 + padded;
  for (const [, t] of list) {
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    } else {
      for (let i = 0; i < t.data.length; i++) view.setFloat32(at + 4 * i, t.data[i], true);
    }
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Writes `tensors` to `path` atomically (io/atomic.ts: temporary file beside it, fsync, rename), so a
 * reader never sees a half-written file and a failed write leaves nothing behind.
 */
export async function writeSafetensors(
  path: string,
  tensors: Iterable<[string, NamedTensor]>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const bytes = serializeSafetensors(tensors, metadata);
  try {
    await writeFileAtomic(path, bytes);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== undefined) throw new UserError(`${path}: cannot write (${e.code}: ${e.message})`);
    throw err;
  }
}
