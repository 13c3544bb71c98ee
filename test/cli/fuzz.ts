/**
 * The fuzz harness of test/cli/fuzz.test.ts: seeded mutations of valid inputs (bytes and structure), a command
 * run in-process and judged as src/cli/main.ts would report it, and folder hashes to show what it touched.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describeFailure } from "../../src/cli/failure.js";
import { Rng } from "../../src/util/rng.js";

/** A JSON value of another type (or an edge of its own) for a structural mutation. */
const REPLACEMENTS: unknown[] = [null, "x", "", -1, 0, 1.5, 1e12, -1e-300, true, [], {}, [null], { a: 1 }, "\u0000", "é\u2028"];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

/** Every [container, key] of a JSON value, depth first. */
function slots(value: unknown, out: [Record<string | number, unknown>, string | number][] = []): typeof out {
  if (value !== null && typeof value === "object") {
    const c = value as Record<string | number, unknown>;
    for (const k of Array.isArray(value) ? value.keys() : Object.keys(value)) {
      out.push([c, k]);
      slots(c[k], out);
    }
  }
  return out;
}

/** Deletes a field (or array element) or changes its type, somewhere in the value. */
export function mutateJson(value: unknown, rng: Rng): unknown {
  const copy = structuredClone(value);
  const all = slots(copy);
  if (all.length === 0) return pick(rng, REPLACEMENTS);
  const [container, key] = pick(rng, all);
  if (rng.next() < 0.4) {
    if (Array.isArray(container)) container.splice(key as number, 1);
    else delete container[key];
  } else {
    container[key] = pick(rng, REPLACEMENTS);
  }
  return copy;
}

/** A byte-level mutation: flip a bit, set a byte (0x00, 0xff, a quote, a brace, a digit), cut, or duplicate a span. */
export function mutateBytes(bytes: Uint8Array, rng: Rng, range: [number, number] = [0, bytes.length]): Uint8Array {
  const [lo, hi] = range;
  const at = lo + rng.int(Math.max(1, hi - lo));
  const kind = rng.int(4);
  if (kind === 0) {
    const out = Uint8Array.from(bytes);
    out[at] ^= 1 << rng.int(8);
    return out;
  }
  if (kind === 1) {
    const out = Uint8Array.from(bytes);
    out[at] = pick(rng, [0x00, 0xff, 0x22, 0x7b, 0x7d, 0x2c, 0x39, 0x2d, 0x0a, 0x3a]);
    return out;
  }
  if (kind === 2) return bytes.slice(0, at);
  const len = 1 + rng.int(16);
  return Uint8Array.from([...bytes.subarray(0, at + len), ...bytes.subarray(at, at + len), ...bytes.subarray(at + len)]);
}

/** A JSONL file: one line mutated structurally, or the bytes of the whole. */
export function mutateJsonl(bytes: Uint8Array, rng: Rng): Uint8Array {
  if (rng.next() < 0.5) return mutateBytes(bytes, rng);
  const lines = Buffer.from(bytes).toString("utf8").split("\n").filter((l) => l !== "");
  const i = rng.int(lines.length);
  lines[i] = JSON.stringify(mutateJson(JSON.parse(lines[i]), rng));
  return Buffer.from(lines.join("\n") + "\n");
}

/**
 * A safetensors file: its 8-byte length, its JSON header (bytes or structure), or the data's length; the
 * weights themselves are numbers, any bytes are valid there.
 */
export function mutateSafetensors(bytes: Uint8Array, rng: Rng): Uint8Array {
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8"));
  const kind = rng.int(4);
  if (kind === 0) return mutateBytes(bytes, rng, [0, 8]);
  if (kind === 1) return mutateBytes(bytes, rng, [8, 8 + n]);
  if (kind === 2) return bytes.slice(0, 8 + n + rng.int(bytes.length - 8 - n));
  const text = Buffer.from(JSON.stringify(mutateJson(header, rng)));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(text.length));
  return Buffer.concat([head, text, bytes.subarray(8 + n)]);
}

/** sha256 of every file under `dir` by relative path (what a run may have changed). */
export function hashTree(dir: string, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) for (const [k, v] of hashTree(path, `${prefix}${name}/`)) out.set(k, v);
    else out.set(prefix + name, createHash("sha256").update(readFileSync(path)).digest("hex"));
  }
  return out;
}

export type Outcome = { status: 0 } | { status: 1 | 2; message: string };

/** Time one command may take in the fuzz test before it counts as a hang. */
const HANG_MS = 20_000;

/**
 * Runs `lambda-grpo <command> <args>` in-process (console quiet) and returns what the CLI would exit with.
 * A failure that is not a user error (a bug: the CLI would print a stack) or a hang throws.
 */
export async function runInProcess(command: string, args: string[]): Promise<Outcome> {
  const mod = (await import(`../../src/cli/${command}.js`)) as { main(argv: string[]): Promise<void> };
  const { log, error } = console;
  console.log = () => {};
  console.error = () => {};
  let timer: NodeJS.Timeout | undefined;
  try {
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`lambda-grpo ${command} ${args.join(" ")}: no answer in ${HANG_MS} ms`)), HANG_MS);
    });
    await Promise.race([mod.main(args), hang]);
    return { status: 0 };
  } catch (err) {
    const failure = describeFailure(command, err);
    if (failure === null) throw err;
    return failure;
  } finally {
    clearTimeout(timer);
    console.log = log;
    console.error = error;
  }
}
