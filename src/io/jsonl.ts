/**
 * Streaming JSON Lines: split a byte stream into lines without ever holding more than one line (plus one
 * read chunk) in memory, and parse each line with an error that names file and line.
 *
 * Splitting is done on Buffers rather than with node:readline: 0x0A never occurs inside a multi-byte UTF-8
 * sequence, so each line can be decoded on its own, and we learn the byte offset of every line for free
 * (progress bars need it). Both "\n" and "\r\n" endings are accepted; a last line without "\n" counts.
 */
import { createReadStream } from "node:fs";
import { inputError } from "../util/errors.js";

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

export function openSource(source: ByteSource): AsyncIterable<Chunk> | Iterable<Chunk> {
  if (typeof source !== "string") return source;
  if (source === "-") return process.stdin;
  return createReadStream(source, { highWaterMark: CHUNK_BYTES });
}

/**
 * The lines of `source`, lazily: a line is yielded as soon as its "\n" has arrived, before the rest of the
 * input is read. Blank lines are yielded too (callers decide whether to skip them) so numbering stays exact.
 */
export async function* readLines(source: ByteSource): AsyncGenerator<Line> {
  let pending: Buffer[] = []; // pieces of the current, unfinished line
  let bytesRead = 0;
  let line = 0;
  for await (const raw of openSource(source)) {
    const chunk = typeof raw === "string" ? Buffer.from(raw, "utf8") : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
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
    throw inputError(file, line, null, `malformed JSON (${(err as Error).message})`);
  }
}

/** The lines of a JSONL source parsed, blank lines skipped; `line` and `bytesRead` as in readLines. */
export async function* readJsonl(source: ByteSource, file: string): AsyncGenerator<{ value: unknown; line: number; bytesRead: number }> {
  for await (const { text, line, bytesRead } of readLines(source)) {
    if (isBlank(text)) continue;
    yield { value: parseJsonLine(text, file, line), line, bytesRead };
  }
}
