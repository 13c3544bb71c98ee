/**
 * Atomic output: write into a temporary file beside the target, then fsync and rename it over the target.
 * Readers see either the old file or the complete new one, never a half-written file, and a run that fails
 * (bad input on line 10,000, an exception, Ctrl-C) leaves no output behind.
 *
 *   const out = await AtomicWriter.open("per-token.jsonl");
 *   try { for (...) await out.write(line + "\n"); await out.commit(); }
 *   finally { await out.abort(); }                    // no-op after commit
 *
 *   await writeFileAtomic("summary.json", text);      // the one-shot form
 *
 * The temporary file is `.<name>.<pid>.<hex>.tmp` in the target's directory (same filesystem, so rename is
 * atomic). Temporary files still open when the process exits or is killed by SIGINT/SIGTERM/SIGHUP are
 * removed synchronously; an uncatchable SIGKILL can leave one behind, but never a partial target:
 * `removeStaleTemps` (called for every output by src/io/outputs.ts, and by the trainer for its checkpoints)
 * deletes those whose writer process is gone.
 */
import { randomBytes } from "node:crypto";
import { unlinkSync } from "node:fs";
import { open, readdir, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Writes are gathered up to this many bytes before one write(2): per-line writes would dominate the time. */
const FLUSH_BYTES = 1 << 20;

const pendingTemps = new Set<string>();
const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
let hooksInstalled = false;

function removePendingSync(): void {
  for (const tmp of pendingTemps) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
  pendingTemps.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removePendingSync();
  uninstallHooks();
  // Re-raise with the default disposition so the exit status says "killed by <signal>" as usual.
  process.kill(process.pid, signal);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", removePendingSync);
  for (const s of SIGNALS) process.on(s, onSignal);
}

/** Our signal handlers exist only while a temp file does, so they never change how an idle process dies. */
function uninstallHooks(): void {
  if (!hooksInstalled || pendingTemps.size > 0) return;
  hooksInstalled = false;
  process.off("exit", removePendingSync);
  for (const s of SIGNALS) process.off(s, onSignal);
}

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

/** `.<target name>.<writer pid>.<8 hex>.tmp`, the names tempPathFor makes. */
const TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** Whether a process with this id exists (EPERM: it does, under another user). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temp files in `dir` of targets named `target` (a file name, or a pattern of names such as
 * the checkpoints') whose writing process no longer exists: what a SIGKILL left. A temp file of a live
 * process (another run, another thread of this one) is kept. Returns the names removed.
 */
export async function removeStaleTemps(dir: string, target: string | RegExp): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (m === null) continue;
    const matches = typeof target === "string" ? m[1] === target : target.test(m[1]);
    if (!matches || processAlive(Number(m[2]))) continue;
    // (recursive: a command that writes a folder, `export`, stages it under the same name)
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

export class AtomicWriter {
  private buffer: (string | Uint8Array)[] = [];
  private binary = false;
  private buffered = 0;
  private state: "open" | "committed" | "aborted" = "open";

  private constructor(
    /** The file that appears on commit. */
    readonly path: string,
    /** Where the bytes go meanwhile. */
    readonly tempPath: string,
    private readonly handle: FileHandle,
  ) {}

  /** Creates the temporary file (fails if the target's directory does not exist or is not writable). */
  static async open(path: string): Promise<AtomicWriter> {
    const tmp = tempPathFor(path);
    const handle = await open(tmp, "wx");
    pendingTemps.add(tmp);
    installHooks();
    return new AtomicWriter(path, tmp, handle);
  }

  /** Appends text (as UTF-8) or bytes. Cheap: data reaches the disk in large blocks. */
  async write(data: string | Uint8Array): Promise<void> {
    if (this.state !== "open") throw new Error(`AtomicWriter(${this.path}): write after ${this.state}`);
    this.buffer.push(data);
    if (typeof data === "string") this.buffered += data.length;
    else {
      this.buffered += data.byteLength;
      this.binary = true;
    }
    if (this.buffered >= FLUSH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    // FileHandle.writeFile writes at the current position and loops until every byte is written.
    if (this.buffer.length === 0) return;
    const parts = this.buffer;
    this.buffer = [];
    this.buffered = 0;
    if (this.binary) {
      this.binary = false;
      await this.handle.writeFile(Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : p))));
    } else {
      await this.handle.writeFile((parts as string[]).join(""), "utf8");
    }
  }

  /** Flushes, fsyncs and renames over the target. After this the target holds exactly what was written. */
  async commit(): Promise<void> {
    if (this.state !== "open") throw new Error(`AtomicWriter(${this.path}): commit after ${this.state}`);
    try {
      await this.flush();
      await this.handle.sync();
      await this.handle.close();
      await rename(this.tempPath, this.path);
      this.state = "committed";
      pendingTemps.delete(this.tempPath);
      uninstallHooks();
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Drops everything written and removes the temporary file; a no-op after commit or a previous abort. */
  async abort(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "aborted";
    this.buffer = [];
    await this.handle.close().catch(() => undefined);
    await rm(this.tempPath, { force: true });
    pendingTemps.delete(this.tempPath);
    uninstallHooks();
  }
}

/** Writes a whole file atomically (temp file, fsync, rename). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const out = await AtomicWriter.open(path);
  try {
    await out.write(data);
    await out.commit();
  } finally {
    await out.abort();
  }
}
