/**
 * The CAS worker: loads the engine, then answers one check at a time. Protocol (src/math/symbolic.ts):
 * a message {a, b, ms} in; the verdict written to the shared Int32Array's slot 0 (VERDICT_FALSE /
 * VERDICT_TRUE; VERDICT_READY once loaded) and notified, so the grader waits for it synchronously.
 */
import { parentPort, workerData } from "node:worker_threads";
import { casCheck, loadCas } from "./cas.js";
import { VERDICT_FALSE, VERDICT_READY, VERDICT_TRUE } from "./symbolic.js";

const signal = new Int32Array(workerData.signal as SharedArrayBuffer);

function answer(v: number): void {
  Atomics.store(signal, 0, v);
  Atomics.notify(signal, 0);
}

loadCas();
answer(VERDICT_READY);
parentPort!.on("message", (m: { a: string; b: string; ms: number }) => {
  let ok = false;
  try {
    ok = casCheck(m.a, m.b, m.ms);
  } catch {
    ok = false;
  }
  answer(ok ? VERDICT_TRUE : VERDICT_FALSE);
});
