/**
 * Safetensors (https://github.com/huggingface/safetensors), the format Hugging Face stores weights in:
 *
 *   [8 bytes: N, uint64 little-endian] [N bytes: JSON header] [data]
 *
 * The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets into
 * the data section, end exclusive) and may hold "__metadata__" (string -> string). Writers pad the header
 * with spaces so the data starts 8-byte aligned, and lay tensors out back to back without gaps.
 *
 * We read F32, F16, BF16 and F64, converted to float32 exactly (every value of the narrower types is a float32),
 * either whole (`readSafetensors`) or streamed tensor by tensor into the caller's buffers (`SafetensorsFile`);
 * we write F32 or BF16 (rounded to nearest even, as PyTorch).
 */
import { existsSync } from "node:fs";
import { open, readdir, readFile, rm, type FileHandle } from "node:fs/promises";
import { basename, join } from "node:path";
import { endianness } from "node:os";
import { UserError } from "../util/errors.js";
import { AtomicWriter, writeFileAtomic } from "./atomic.js";

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

/** One tensor's header entry; `begin`/`end` are byte offsets into the data section (end exclusive). */
export interface TensorEntry {
  name: string;
  dtype: ReadableDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Checks a parsed header against the format (known dtype, shape x dtype = bytes, tensors tiling the data
 * section exactly: no overlap, no gaps, nothing past the end). Entries come back in data order.
 */
function checkHeader(header: unknown, dataLength: number, file: string): { entries: TensorEntry[]; metadata: Record<string, string> } {
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw malformed(file, "header is not a JSON object");
  }
  const metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];

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
  return { entries, metadata };
}

/** The header length of a file of `fileBytes` bytes from its first 8 bytes, checked. */
function headerLengthOf(first8: Uint8Array, fileBytes: number, file: string): number {
  if (fileBytes < 8) {
    throw malformed(file, `not a safetensors file: ${fileBytes} bytes, shorter than the 8-byte header length`);
  }
  const headerLength = Number(new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > fileBytes) {
    throw malformed(file, `not a safetensors file: header length ${headerLength} does not fit a file of ${fileBytes} bytes`);
  }
  return headerLength;
}

function parseHeaderJson(bytes: Uint8Array, file: string): unknown {
  const headerText = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  try {
    return JSON.parse(headerText);
  } catch (err) {
    throw malformed(file, `header is not valid JSON (${(err as Error).message})`);
  }
}

/** Parses the bytes of a safetensors file; `file` names it in errors. Tensors are copied out of `bytes`. */
export function parseSafetensors(bytes: Uint8Array, file: string, opts: ReadOptions = {}): SafetensorsContents {
  const headerLength = headerLengthOf(bytes, bytes.byteLength, file);
  const header = parseHeaderJson(bytes.subarray(8, 8 + headerLength), file);
  const dataStart = 8 + headerLength;
  const { entries, metadata } = checkHeader(header, bytes.byteLength - dataStart, file);
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
  decodeInto(raw, dtype, out, 0);
  return out;
}

/** Converts `raw` (little-endian elements of `dtype`) to float32 exactly, into out[at..]. */
function decodeInto(raw: Uint8Array, dtype: ReadableDtype, out: Float32Array, at: number): void {
  const n = raw.byteLength / BYTES_PER_ELEMENT[dtype];
  if (dtype === "F32" && LITTLE_ENDIAN_HOST) {
    // A byte copy: works whatever the alignment of `raw`.
    new Uint8Array(out.buffer, out.byteOffset + 4 * at, 4 * n).set(raw);
    return;
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (dtype === "F32") {
    for (let i = 0; i < n; i++) out[at + i] = view.getFloat32(4 * i, true);
  } else if (dtype === "F64") {
    for (let i = 0; i < n; i++) out[at + i] = view.getFloat64(8 * i, true);
  } else if (dtype === "BF16") {
    // bfloat16 is the top half of a float32 (both views of `out` use the host's byte order).
    const bits = new Uint32Array(out.buffer, out.byteOffset + 4 * at, n);
    if (LITTLE_ENDIAN_HOST && raw.byteOffset % 2 === 0) {
      const halves = new Uint16Array(raw.buffer, raw.byteOffset, n);
      for (let i = 0; i < n; i++) bits[i] = halves[i] << 16;
    } else {
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
    }
  } else {
    const table = halfTable();
    for (let i = 0; i < n; i++) out[at + i] = table[view.getUint16(2 * i, true)];
  }
}

let HALF_TABLE: Float32Array | null = null;

/** Every binary16 pattern as float32 (256 kB, built once): exact, since float32 holds every half value. */
function halfTable(): Float32Array {
  if (HALF_TABLE === null) {
    HALF_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF_TABLE[h] = halfToFloat(h);
  }
  return HALF_TABLE;
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
    throw cannotRead(path, err);
  }
  return parseSafetensors(bytes, path, opts);
}

function cannotRead(path: string, err: unknown): UserError {
  const e = err as NodeJS.ErrnoException;
  return new UserError(e.code === "ENOENT" ? `${path}: no such file` : `${path}: cannot read (${e.message})`);
}

/**
 * Bytes read per call when converting BF16/F16 (F32 is read straight into the destination): small against
 * any model, large enough that the reads run at disk speed.
 */
const READ_CHUNK_BYTES = 4 << 20;

/**
 * A safetensors file opened for streaming: only the header is read at open; each tensor is then read into
 * a buffer the caller owns (`readInto`) or visited chunk by chunk (`forEachChunk`), so loading a model holds
 * the model plus one chunk, never the file.
 */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly dataStart: number,
    /** by name, in data order */
    readonly entries: Map<string, TensorEntry>,
    readonly metadata: Record<string, string>,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (err) {
      throw cannotRead(path, err);
    }
    try {
      const size = (await handle.stat()).size;
      const first8 = new Uint8Array(8);
      if (size >= 8) await readFully(handle, first8, 0, path);
      const headerLength = headerLengthOf(first8, size, path);
      const headerBytes = new Uint8Array(headerLength);
      await readFully(handle, headerBytes, 8, path);
      const dataStart = 8 + headerLength;
      const { entries, metadata } = checkHeader(parseHeaderJson(headerBytes, path), size - dataStart, path);
      return new SafetensorsFile(path, handle, dataStart, new Map(entries.map((e) => [e.name, e])), metadata);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (!e) throw malformed(this.path, "not in this file", name);
    return e;
  }

  /** Reads tensor `name` into `dest` (float32, exactly its element count), converting from its dtype. */
  async readInto(name: string, dest: Float32Array): Promise<void> {
    const e = this.entry(name);
    const n = (e.end - e.begin) / BYTES_PER_ELEMENT[e.dtype];
    if (dest.length !== n) throw new Error(`${this.path}: tensor '${name}' has ${n} elements, the destination ${dest.length}`);
    if (e.dtype === "F32" && LITTLE_ENDIAN_HOST) {
      await readFully(this.handle, new Uint8Array(dest.buffer, dest.byteOffset, dest.byteLength), this.dataStart + e.begin, this.path);
      return;
    }
    await this.stream(e, (raw, first) => decodeInto(raw, e.dtype, dest, first));
  }

  /** Calls fn(values, firstIndex) over tensor `name` in order, a chunk at a time (`values` is reused). */
  async forEachChunk(name: string, fn: (values: Float32Array, firstIndex: number) => void): Promise<void> {
    const e = this.entry(name);
    const size = BYTES_PER_ELEMENT[e.dtype];
    const values = new Float32Array(Math.min(READ_CHUNK_BYTES, e.end - e.begin) / size);
    await this.stream(e, (raw, first) => {
      const out = values.subarray(0, raw.byteLength / size);
      decodeInto(raw, e.dtype, out, 0);
      fn(out, first);
    });
  }

  /** One chunk buffer per file, reused by every read (a fresh one per read would pile up garbage of the model's size). */
  private scratch: Uint8Array | null = null;

  /** The raw bytes of `e`, a whole number of elements per chunk, with the index of each chunk's first element. */
  private async stream(e: TensorEntry, visit: (raw: Uint8Array, firstIndex: number) => void): Promise<void> {
    const size = BYTES_PER_ELEMENT[e.dtype];
    const chunkBytes = Math.floor(READ_CHUNK_BYTES / size) * size;
    // null: not allocated yet, or taken by a read in progress (a concurrent read then gets its own)
    const buffer = this.scratch ?? new Uint8Array(chunkBytes);
    this.scratch = null;
    try {
      for (let at = e.begin; at < e.end; at += chunkBytes) {
        const bytes = buffer.subarray(0, Math.min(chunkBytes, e.end - at));
        await readFully(this.handle, bytes, this.dataStart + at, this.path);
        visit(bytes, (at - e.begin) / size);
      }
    } finally {
      this.scratch = buffer;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Fills `into` from `position` (FileHandle.read may return fewer bytes than asked). */
async function readFully(handle: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    let bytesRead: number;
    try {
      // at most 1 GiB a call: larger reads are refused by some kernels
      ({ bytesRead } = await handle.read(into, done, Math.min(into.byteLength - done, 1 << 30), position + done));
    } catch (err) {
      throw cannotRead(path, err);
    }
    if (bytesRead === 0) throw malformed(path, `file ended at byte ${position + done} while reading (was it truncated while open?)`);
    done += bytesRead;
  }
}

/** Dtypes we write: float32, or bfloat16 (half the bytes; what Hub checkpoints of these families hold). */
export type WritableDtype = "F32" | "BF16";

export interface WriteOptions {
  /** F32 (default) or BF16, rounded to nearest even as PyTorch's `.to(torch.bfloat16)` */
  dtype?: WritableDtype;
}

/** Bytes of `tensors` in `dtype`: what a shard of them weighs. */
export function tensorBytes(t: NamedTensor, dtype: WritableDtype): number {
  return t.data.length * (dtype === "BF16" ? 2 : 4);
}

/** The 8-byte length and the JSON header (padded with spaces to 8 bytes) for `tensors` stored as `dtype`, in order. */
function encodeHeader(tensors: [string, NamedTensor][], metadata: Record<string, string>, dtype: WritableDtype): { head: Uint8Array; dataBytes: number } {
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
    const bytes = tensorBytes(t, dtype);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
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

const F32_BITS = new Uint32Array(1);
const F32_VALUE = new Float32Array(F32_BITS.buffer);

/**
 * float32 -> bfloat16 bits, rounded to nearest, ties to even (PyTorch's `.to(torch.bfloat16)`); NaN becomes
 * the quiet NaN 0x7fc0 with its sign, as in c10::BFloat16.
 */
export function floatToBf16(x: number): number {
  F32_VALUE[0] = x;
  const bits = F32_BITS[0];
  if (Number.isNaN(F32_VALUE[0])) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The bytes of data[first..first+count) as little-endian `dtype`. */
function encodeValues(data: Float32Array, dtype: WritableDtype, first: number, count: number): Uint8Array {
  if (dtype === "F32") return littleEndianBytes(data.subarray(first, first + count));
  const out = new Uint8Array(2 * count);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) view.setUint16(2 * i, floatToBf16(data[first + i]), true);
  return out;
}

/** Elements converted per write when writing BF16 (a fresh 2 MB buffer each: AtomicWriter keeps references). */
const WRITE_CHUNK_ELEMENTS = 1 << 20;

/**
 * The bytes of a safetensors file holding `tensors` as `opts.dtype` (F32 by default), in the given order, with
 * the header padded by spaces to a multiple of 8 bytes as the reference writer does.
 */
export function serializeSafetensors(
  tensors: Iterable<[string, NamedTensor]>,
  metadata: Record<string, string> = {},
  opts: WriteOptions = {},
): Uint8Array {
  const dtype = opts.dtype ?? "F32";
  const list = [...tensors];
  const { head, dataBytes } = encodeHeader(list, metadata, dtype);
  const out = new Uint8Array(head.length + dataBytes);
  out.set(head);
  let at = head.length;
  for (const [, t] of list) {
    const bytes = encodeValues(t.data, dtype, 0, t.data.length);
    out.set(bytes, at);
    at += bytes.byteLength;
  }
  return out;
}

/**
 * Writes `tensors` to `path` atomically (io/atomic.ts: temporary file beside it, fsync, rename), so a
 * reader never sees a half-written file and a failed write leaves nothing behind. Streams tensor by
 * tensor (BF16 a chunk at a time): the file is never assembled in memory.
 */
export async function writeSafetensors(
  path: string,
  tensors: Iterable<[string, NamedTensor]>,
  metadata: Record<string, string> = {},
  opts: WriteOptions = {},
): Promise<void> {
  const dtype = opts.dtype ?? "F32";
  const list = [...tensors];
  const { head } = encodeHeader(list, metadata, dtype);
  let out: AtomicWriter;
  try {
    out = await AtomicWriter.open(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(`${path}: cannot write (${e.code ?? "error"}: ${e.message})`);
  }
  try {
    await out.write(head);
    for (const [, t] of list) {
      if (dtype === "F32") await out.write(littleEndianBytes(t.data));
      else {
        for (let first = 0; first < t.data.length; first += WRITE_CHUNK_ELEMENTS) {
          await out.write(encodeValues(t.data, dtype, first, Math.min(WRITE_CHUNK_ELEMENTS, t.data.length - first)));
        }
      }
    }
    await out.commit();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== undefined) throw new UserError(`${path}: cannot write (${e.code}: ${e.message})`);
    throw err;
  } finally {
    await out.abort();
  }
}

/** The weights of a Hugging Face directory: one file, or shards listed in the index (transformers' names). */
export const WEIGHTS_FILE = "model.safetensors";
export const WEIGHTS_INDEX_FILE = "model.safetensors.index.json";

/** A tensor of a checkpoint directory: the shard that holds it and its header entry. */
export interface CheckpointTensor {
  file: SafetensorsFile;
  entry: TensorEntry;
}

/**
 * The safetensors weights of a directory, opened for streaming: `model.safetensors`, else the shards that
 * `model.safetensors.index.json`'s weight_map names (as transformers, the single file wins when both exist).
 * Only headers are read at open; tensors are read one at a time into the caller's buffers.
 */
export class SafetensorsCheckpoint {
  private constructor(
    /** by the name in the file, in shard then data order */
    readonly tensors: Map<string, CheckpointTensor>,
    readonly files: SafetensorsFile[],
  ) {}

  /** `missing` is appended to the error when the directory has neither file (what a directory should hold). */
  static async open(dir: string, missing = ""): Promise<SafetensorsCheckpoint> {
    const single = join(dir, WEIGHTS_FILE);
    const indexPath = join(dir, WEIGHTS_INDEX_FILE);
    let paths = [single];
    let weightMap: Record<string, string> | null = null;
    if (!existsSync(single)) {
      if (!existsSync(indexPath)) throw new UserError(`${single}: no such file${missing ? ` ${missing}` : ""}`);
      weightMap = await readWeightMap(indexPath);
      paths = [...new Set(Object.values(weightMap))].map((f) => join(dir, f));
    }
    const files: SafetensorsFile[] = [];
    try {
      for (const p of paths) files.push(await SafetensorsFile.open(p));
    } catch (err) {
      await Promise.all(files.map((f) => f.close()));
      throw err;
    }
    const tensors = new Map<string, CheckpointTensor>();
    const fail = async (message: string): Promise<never> => {
      await Promise.all(files.map((f) => f.close()));
      throw new UserError(message);
    };
    for (const file of files) {
      for (const entry of file.entries.values()) {
        const seen = tensors.get(entry.name);
        if (seen) await fail(`${file.path}: tensor '${entry.name}' is also in ${seen.file.path}`);
        tensors.set(entry.name, { file, entry });
      }
    }
    if (weightMap) {
      for (const [name, shard] of Object.entries(weightMap)) {
        const t = tensors.get(name);
        if (!t || t.file.path !== join(dir, shard)) {
          await fail(`${indexPath}: weight_map: tensor '${name}' is listed in ${shard}, which does not hold it`);
        }
      }
    }
    return new SafetensorsCheckpoint(tensors, files);
  }

  /** Reads the tensor stored as `name` into `dest` (converted to float32). */
  async readInto(name: string, dest: Float32Array): Promise<void> {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`tensor '${name}' is not in the checkpoint`);
    await t.file.readInto(name, dest);
  }

  async forEachChunk(name: string, fn: (values: Float32Array, firstIndex: number) => void): Promise<void> {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`tensor '${name}' is not in the checkpoint`);
    await t.file.forEachChunk(name, fn);
  }

  /** The dtypes stored, e.g. ["BF16"]. */
  dtypes(): ReadableDtype[] {
    return [...new Set([...this.tensors.values()].map((t) => t.entry.dtype))];
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

async function readWeightMap(indexPath: string): Promise<Record<string, string>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexPath, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== undefined) throw cannotRead(indexPath, err);
    throw new UserError(`${indexPath}: malformed JSON (${(err as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map) || !Object.values(map).every((f) => typeof f === "string")) {
    throw new UserError(`${indexPath}: weight_map: expected an object of tensor name -> file name`);
  }
  for (const [name, f] of Object.entries(map as Record<string, string>)) {
    // shards live beside the index: a path elsewhere is a corrupt (or hostile) index
    if (f !== basename(f) || f === "." || f === "..") throw new UserError(`${indexPath}: weight_map: tensor '${name}': '${f}' is not a file name in this directory`);
  }
  return map as Record<string, string>;
}

/** transformers' default `max_shard_size` ("5GB", decimal): checkpoints we write shard where theirs would. */
export const DEFAULT_MAX_SHARD_BYTES = 5e9;

/**
 * Writes `tensors` into `dir` as transformers' save_pretrained does: one `model.safetensors` when they fit
 * in `maxShardBytes`, else shards `model-00001-of-0000N.safetensors` (a new shard when the next tensor
 * would overflow the current one; a tensor larger than the limit gets a shard of its own) and
 * `model.safetensors.index.json` ({"metadata": {"total_size"}, "weight_map"}). Every file is atomic, the
 * index last; files of the other layout left from an earlier save in `dir` are removed afterwards.
 */
export async function writeSafetensorsCheckpoint(
  dir: string,
  tensors: [string, NamedTensor][],
  metadata: Record<string, string>,
  opts: WriteOptions & { maxShardBytes?: number } = {},
): Promise<string[]> {
  const dtype = opts.dtype ?? "F32";
  const limit = opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  const shards: [string, NamedTensor][][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const bytes = tensorBytes(t[1], dtype);
    if (size + bytes > limit && shards[shards.length - 1].length > 0) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += bytes;
  }
  const stale = await staleWeightFiles(dir);
  let written: string[];
  if (shards.length === 1) {
    await writeSafetensors(join(dir, WEIGHTS_FILE), tensors, metadata, { dtype });
    written = [WEIGHTS_FILE];
  } else {
    const n = String(shards.length).padStart(5, "0");
    written = shards.map((_, i) => `model-${String(i + 1).padStart(5, "0")}-of-${n}.safetensors`);
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < shards.length; i++) {
      await writeSafetensors(join(dir, written[i]), shards[i], metadata, { dtype });
      for (const [name] of shards[i]) weightMap[name] = written[i];
    }
    const totalSize = tensors.reduce((a, [, t]) => a + tensorBytes(t, dtype), 0);
    const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    await writeFileAtomic(join(dir, WEIGHTS_INDEX_FILE), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sorted }, null, 2) + "\n");
    written.push(WEIGHTS_INDEX_FILE);
  }
  for (const f of stale) if (!written.includes(f)) await rm(join(dir, f), { force: true });
  return written;
}

/** Weight files of a previous save in `dir` (single, index, shards): what a new save replaces. */
async function staleWeightFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n === WEIGHTS_FILE || n === WEIGHTS_INDEX_FILE || /^model-\d{5}-of-\d{5}\.safetensors$/.test(n));
}
