/**
 * The grader's side of the CAS: a synchronous check with a hard deadline. The engine runs in a worker
 * thread (src/math/cas-worker.ts); a check posts the pair and blocks on a shared word with Atomics.wait
 * until the verdict or the deadline. Past the deadline the worker is terminated (its verdict is "not
 * equivalent") and a fresh one starts loading at once, on its own thread. So a pathological string costs
 * its deadline (and the next CAS check waits for the rest of that load), never a hung training run; the
 * round trip of a normal check is ~0.1 ms.
 *
 * Loading the engine (a worker start, ~0.5-1 s) is not charged to a check's deadline: the grader
 * waits up to STARTUP_LIMIT_MS for it.
 */
import { Worker } from "node:worker_threads";

export const VERDICT_PENDING = 0;
export const VERDICT_FALSE = 1;
export const VERDICT_TRUE = 2;
export const VERDICT_READY = 3;

/** How long a worker may take to load the engine before the CAS is deemed unavailable (a loaded machine). */
const STARTUP_LIMIT_MS = 60_000;

// compiled: dist/src/math/cas-worker.js; from the sources (tsx, which the worker inherits): the .ts file
const WORKER_URL = new URL(`./cas-worker.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url);

let worker: Worker | null = null;
let signal: Int32Array | null = null;
let ready = false;
let everStarted = false;

/** A new worker, loading the engine on its own thread while this one goes on. */
function spawn(): void {
  const shared = new SharedArrayBuffer(4);
  signal = new Int32Array(shared);
  ready = false;
  everStarted = true;
  const w = new Worker(WORKER_URL, { workerData: { signal: shared } });
  // the worker never keeps a process alive; an error inside it means a fresh one for the next check
  w.unref();
  w.on("error", () => {
    if (worker === w) stop();
  });
  worker = w;
}

function stop(): void {
  void worker?.terminate();
  worker = null;
  signal = null;
  ready = false;
}

/** Whether a CAS worker has been started in this process (the plain-number path never starts one). */
export function casStarted(): boolean {
  return everStarted;
}

/** Starts the CAS worker and waits until it has loaded the engine; false when it could not. */
export function startCas(): boolean {
  if (worker === null) spawn();
  if (ready) return true;
  Atomics.wait(signal!, 0, VERDICT_PENDING, STARTUP_LIMIT_MS);
  ready = Atomics.load(signal!, 0) === VERDICT_READY;
  if (!ready) stop();
  return ready;
}

/** The CAS verdict on a pair of normalised LaTeX expressions within `ms` milliseconds (false past it). */
export function symbolicEquivalent(a: string, b: string, ms: number): boolean {
  if (!startCas()) return false;
  const s = signal!;
  Atomics.store(s, 0, VERDICT_PENDING);
  worker!.postMessage({ a, b, ms });
  Atomics.wait(s, 0, VERDICT_PENDING, ms);
  const v = Atomics.load(s, 0);
  if (v === VERDICT_PENDING) {
    // cut off: the worker may be anywhere inside the engine; its replacement loads while we go on
    stop();
    spawn();
    return false;
  }
  return v === VERDICT_TRUE;
}
