/**
 * Shared by the model tests (GPT-2, TransformerLM): random token batches, and the native kernels held to the
 * TypeScript ones on a whole forward and backward.
 */
import assert from "node:assert/strict";
import { useKernels } from "../../src/engine/backend.js";
import { kernels, nativeKernels, nativeLoadError, tsKernels, type Kernels } from "../../src/engine/kernels/index.js";
import type { TokenBatch } from "../../src/engine/lm.js";
import { Rng } from "../../src/util/rng.js";

/** B rows of T uniform tokens in [0, V); row b counts its first `lengths[b]` (the rest is padding). */
export function randomBatch(rng: Rng, V: number, B: number, T: number, lengths: number[]): TokenBatch {
  const tokens = new Int32Array(B * T);
  for (let i = 0; i < tokens.length; i++) tokens[i] = rng.int(V);
  return { tokens, batch: B, seqLen: T, lengths: Int32Array.from(lengths) };
}

/** `fn` with kernels `k` in use; the kernels before are restored after, also when it throws. */
export function withKernels<T>(k: Kernels, fn: () => T): T {
  const prev = useKernels(k);
  try {
    return fn();
  } finally {
    useKernels(prev);
  }
}

/** Why a native-against-TypeScript test cannot run here, or false when it can. */
export const nativeSkip: string | false =
  nativeKernels === null
    ? `native kernels not built (${nativeLoadError}); build them with npm install / node-gyp rebuild`
    : kernels.name !== "native"
      ? "native kernels not in use (LAMBDA_GRPO_KERNELS=ts)"
      : false;

/**
 * Native against TypeScript kernels: float32 sums in another order. On the tiny models here log-probs differ by
 * at most ~1e-7 * (1 + |lp|); the bound leaves a factor 100.
 */
const LOGPROB_TOL = 1e-5;
/** Each gradient entry, relative to the gradient's largest (its small entries carry the rounding of the large). */
const GRAD_TOL = 1e-4;

/**
 * `run` (a model's log-probs and parameter gradient from fixed weights and batch) under the native kernels and
 * under the TypeScript ones gives the same numbers, within the tolerances above.
 */
export function assertNativeMatchesTs(run: () => { lp: Float32Array; grad: Float32Array }): void {
  const nat = run();
  const ts = withKernels(tsKernels, run);
  for (let i = 0; i < nat.lp.length; i++) assert.ok(Math.abs(nat.lp[i] - ts.lp[i]) <= LOGPROB_TOL * (1 + Math.abs(ts.lp[i])), `logprob ${i}: ${nat.lp[i]} vs ${ts.lp[i]}`);
  let scale = 0;
  for (const g of ts.grad) scale = Math.max(scale, Math.abs(g));
  for (let i = 0; i < nat.grad.length; i++) assert.ok(Math.abs(nat.grad[i] - ts.grad[i]) <= GRAD_TOL * scale, `grad ${i}: ${nat.grad[i]} vs ${ts.grad[i]}`);
}
