/**
 * Command-line file plumbing shared by the commands: an input checked up front (exists, is a file, its size
 * for progress; "-" is stdin) and an output that is atomic for files ("-" is stdout, which cannot be).
 */
import { stat } from "node:fs/promises";
import { cannotWrite, reason, UserError } from "../util/errors.js";
import { AtomicWriter } from "./atomic.js";

export interface InputInfo {
  /** Name for messages: the path, or "<stdin>". */
  name: string;
  /** Size in bytes for progress; 0 for stdin. */
  size: number;
}

/** Checks the input exists and is a file (a clear error now rather than a stream error later). */
export async function inputInfo(path: string): Promise<InputInfo> {
  if (path === "-") return { name: "<stdin>", size: 0 };
  try {
    const s = await stat(path);
    // A FIFO (e.g. bash's <(...)) streams fine; its size is unknown.
    if (s.isFIFO()) return { name: path, size: 0 };
    if (!s.isFile()) throw new UserError(`${path}: not a file`);
    return { name: path, size: s.size };
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${path}: cannot read input (${reason(err)})`);
  }
}

/** Where output lines go: an atomic file, or stdout (with backpressure; no atomicity there). */
export interface LineSink {
  write(text: string): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export async function openSink(path: string, option: string): Promise<LineSink> {
  if (path === "-") return stdoutSink();
  try {
    return await AtomicWriter.open(path);
  } catch (err) {
    throw cannotWrite(option, path, err);
  }
}

/**
 * stdout with backpressure. A reader that goes away early (`| head`) is an EPIPE: reported as one line
 * ("stdout closed ...") rather than a stack trace.
 */
function stdoutSink(): LineSink {
  const out = process.stdout;
  let failed: Error | null = null;
  const onError = (err: Error): void => {
    failed = err;
  };
  out.on("error", onError);
  const check = (): void => {
    if (failed === null) return;
    const code = (failed as NodeJS.ErrnoException).code;
    throw new UserError(code === "EPIPE" ? "stdout closed before the output was complete (EPIPE)" : `cannot write stdout (${code ?? failed.message})`);
  };
  return {
    async write(text) {
      check();
      if (!out.write(text)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            out.off("drain", done);
            out.off("error", done);
            resolve();
          };
          out.on("drain", done);
          out.on("error", done);
        });
      }
      check();
    },
    async commit() {
      check();
    },
    // The error listener stays: bytes still in flight after the last write can fail too.
    async abort() {},
  };
}
