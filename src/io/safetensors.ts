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
import { AtomicWriter } from "./atomic.js";

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

export interface ReadOptions {
  /**
   * false: F32 tensors may be views into `bytes` rather than copies (when aligned, on a little-endian
   * host), for a caller that copies them elsewhere at once: loading GPT-2 124M then holds the file once,
   * not twice. Default true.
   */
  copy?: boolean;
}

/** Parses the bytes of a safetensors file; `file` names it in errors. Tensors are copied out of `bytes`. */
export function parseSafetensors(bytes: Uint8Array, file: string, opts: ReadOptions = {}): SafetensorsContents {
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
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decode(raw, e.dtype, opts.copy ?? true) });
  }
  return { tensors, metadata };
}

function decode(raw: Uint8Array, dtype: ReadableDtype, copy: boolean): Float32Array {
  const n = raw.byteLength / BYTES_PER_ELEMENT[dtype];
  if (!copy && dtype === "F32" && LITTLE_ENDIAN_HOST && raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, n);
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
export async function readSafetensors(path: string, opts: ReadOptions = {}): Promise<SafetensorsContents> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(e.code === "ENOENT" ? `${path}: no such file` : `${path}: cannot read (${e.message})`);
  }
  return parseSafetensors(bytes, path, opts);
}

/** The 8-byte length and the JSON header (padded with spaces to 8 bytes) for `tensors` stored as F32, in order. */
function encodeHeader(tensors: [string, NamedTensor][], metadata: Record<string, string>): { head: Uint8Array; dataBytes: number } {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === "__metadata__") throw new Error("'__metadata__' cannot be a tensor name");
    if (name in header) throw new Error(`tensor '${name}' given twice`);
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) {
      throw new Error(`tensor '${name}': shape [${t.shape.join(", ")}] has ${elements} elements, data has ${t.data.length}`);
    }
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * elements] };
    offset += 4 * elements;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { head, dataBytes: offset };
}

/** A tensor's float32 data as little-endian bytes (a view on little-endian hosts). */
function littleEndianBytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
  return out;
}

/**
 * The bytes of a safetensors file holding `tensors` as F32, in the given order, with the header padded by
 * spaces to a multiple of 8 bytes as the reference writer does.
 */
export function serializeSafetensors(
  tensors: Iterable<[string, NamedTensor]>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const list = [...tensors];
  const { head, dataBytes } = encodeHeader(list, metadata);
  const out = new Uint8Array(head.length + dataBytes);
  out.set(head);
  let at = head.length;
  for (const [, t] of list) {
    out.set(littleEndianBytes(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Writes `tensors` to `path` atomically (io/atomic.ts: temporary file beside it, fsync, rename), so a
 * reader never sees a half-written file and a failed write leaves nothing behind. Streams tensor by
 * tensor: the file is never assembled in memory.
 */
export async function writeSafetensors(
  path: string,
  tensors: Iterable<[string, NamedTensor]>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const list = [...tensors];
  const { head } = encodeHeader(list, metadata);
  let out: AtomicWriter;
  try {
    out = await AtomicWriter.open(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(`${path}: cannot write (${e.code ?? "error"}: ${e.message})`);
  }
  try {
    await out.write(head);
    for (const [, t] of list) await out.write(littleEndianBytes(t.data));
    await out.commit();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== undefined) throw new UserError(`${path}: cannot write (${e.code}: ${e.message})`);
    throw err;
  } finally {
    await out.abort();
  }
}
