/**
 * Streaming JSON Lines: split a byte stream into lines without ever holding more than one line (plus one
 * read chunk) in memory, and parse each line with an error that names file and line.
 *
 * Splitting is done on Buffers rather than with node:readline: 0x0A never occurs inside a multi-byte UTF-8
 * sequence, so each line can be decoded on its own, and we learn the byte offset of every line for free
 * (progress bars need it). Both "\n" and "\r\n" endings are accepted; a last line without "\n" counts.
 *
 * Gzip input (users keep logs compressed) is recognised by its magic bytes, not its name, and decompressed
 * as it streams; `bytesRead` then counts decompressed bytes.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { inputError, UserError } from "../util/errors.js";

/** One line of input: its text (no line ending), 1-based number, and the bytes consumed up to its end. */
export interface Line {
  text: string;
  line: number;
  bytesRead: number;
}

export type Chunk = Buffer | Uint8Array | string;

/**
 * Where bytes come from: a file path, "-" for stdin, or any stream / (async) iterable of chunks, e.g. a
 * generator, or an array of strings in tests. A string is always a path, never content.
 */
export type ByteSource = string | AsyncIterable<Chunk> | Iterable<Chunk>;

/** Read chunk size: large enough that per-chunk overhead vanishes, small enough to be irrelevant in memory. */
const CHUNK_BYTES = 1 << 20;

/** The first two bytes of every gzip member (RFC 1952). */
const GZIP_MAGIC = [0x1f, 0x8b] as const;

function toBuffer(raw: Chunk): Buffer {
  return typeof raw === "string" ? Buffer.from(raw, "utf8") : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
}

/** True for a path that names a gzip file by its extension (for progress: its size is not the text's). */
export function isGzipPath(path: string): boolean {
  return path.endsWith(".gz");
}

/** The bytes of `source`, gunzipped on the fly when they start with gzip's magic bytes. */
export async function* openSource(source: ByteSource, file = typeof source === "string" ? source : "<input>"): AsyncGenerator<Buffer> {
  const raw: AsyncIterable<Chunk> | Iterable<Chunk> =
    typeof source !== "string" ? source : source === "-" ? process.stdin : createReadStream(source, { highWaterMark: CHUNK_BYTES });
  const it = (Symbol.asyncIterator in raw ? raw[Symbol.asyncIterator]() : (raw as Iterable<Chunk>)[Symbol.iterator]()) as
    AsyncIterator<Chunk> | Iterator<Chunk>;
  // Gather at least two bytes (a stream may hand out a single byte first) to recognise gzip.
  let head: Buffer = Buffer.alloc(0);
  let done = false;
  while (head.length < GZIP_MAGIC.length && !done) {
    const next = await it.next();
    if (next.done) done = true;
    else head = head.length === 0 ? toBuffer(next.value) : Buffer.concat([head, toBuffer(next.value)]);
  }
  if (head.length < 2 || head[0] !== GZIP_MAGIC[0] || head[1] !== GZIP_MAGIC[1]) {
    if (head.length > 0) yield head;
    while (!done) {
      const next = await it.next();
      if (next.done) break;
      yield toBuffer(next.value);
    }
    return;
  }
  async function* compressed(): AsyncGenerator<Buffer> {
    yield head;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield toBuffer(next.value);
    }
  }
  const gunzip = Readable.from(compressed()).pipe(createGunzip({ chunkSize: 1 << 16 }));
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: not a readable gzip file (${code ?? (err as Error).message})`);
  }
}

/**
 * Text safe to print in a one-line error: control characters, the replacement character of undecodable
 * bytes and other invisible code points are written as escapes, and long text is cut.
 */
export function printable(text: string, max = 120): string {
  const cut = text.length > max ? `${text.slice(0, max - 3)}...` : text;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\ufffd\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * The lines of `source`, lazily: a line is yielded as soon as its "\n" has arrived, before the rest of the
 * input is read. Blank lines are yielded too (callers decide whether to skip them) so numbering stays exact.
 */
export async function* readLines(source: ByteSource, file?: string): AsyncGenerator<Line> {
  let pending: Buffer[] = []; // pieces of the current, unfinished line
  let bytesRead = 0;
  let line = 0;
  for await (const chunk of openSource(source, file)) {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(0x0a, start)) !== -1) {
      let text: string;
      if (pending.length === 0) {
        text = chunk.toString("utf8", start, nl);
      } else {
        pending.push(chunk.subarray(start, nl));
        text = Buffer.concat(pending).toString("utf8");
        pending = [];
      }
      bytesRead += nl + 1 - start;
      start = nl + 1;
      line += 1;
      yield { text: clean(text, line), line, bytesRead };
    }
    if (start < chunk.length) {
      // Copy: the stream may reuse its buffer for the next chunk.
      pending.push(Buffer.from(chunk.subarray(start)));
      bytesRead += chunk.length - start;
    }
  }
  if (pending.length > 0) {
    const text = Buffer.concat(pending).toString("utf8");
    line += 1;
    yield { text: clean(text, line), line, bytesRead };
  }
}

/** Drops a "\r" before the "\n" and a byte-order mark at the start of the file. */
function clean(text: string, line: number): string {
  if (text.endsWith("\r")) text = text.slice(0, -1);
  if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text;
}

/** True for lines that carry no record (empty or only whitespace); JSONL readers skip them. */
export function isBlank(text: string): boolean {
  return text.trim().length === 0;
}

/** JSON.parse with an error for people: "file:line: malformed JSON: <what the parser said>". */
export function parseJsonLine(text: string, file: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // V8's message quotes the text; binary input must not reach the terminal raw.
    throw inputError(file, line, null, `malformed JSON (${printable((err as Error).message)})`);
  }
}

/** The lines of a JSONL source parsed, blank lines skipped; `line` and `bytesRead` as in readLines. */
export async function* readJsonl(source: ByteSource, file: string): AsyncGenerator<{ value: unknown; line: number; bytesRead: number }> {
  for await (const { text, line, bytesRead } of readLines(source, file)) {
    if (isBlank(text)) continue;
    yield { value: parseJsonLine(text, file, line), line, bytesRead };
  }
}
