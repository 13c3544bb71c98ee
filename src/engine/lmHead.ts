/**
 * lmHeadLogprobs: the tied LM head fused with logSoftmaxGather. Only rows with a target (not padding,
 * not a row's last position) are projected. A batch whose [M,V] logits fit PROBS_BUDGET is done in one
 * matmul whose output buffer is turned into probabilities in place, kept, and turned into d(logits) in
 * place by the backward (which therefore runs once, as a model's backward does: one per forward): one
 * [M,V] buffer, one matmul per product. A larger one is done in chunks of at most LOGITS_BUDGET logits,
 * and the backward recomputes each chunk's logits (one more LM-head matmul) rather than holding [M,V]
 * floats (a 64 x 256 batch of GPT-2 would need 3.3 GB).
 *
 * Allowed-token head: when an allowed mask keeps few tokens (see allowedColumns) and every target is
 * allowed, only those A rows of wte are gathered ([A,C]) and projected, and the backward scatter-adds
 * their gradient into wte's rows. The tokens outside the mask have probability 0 and get no gradient on
 * the full path too, so both paths compute the same values (the toy on GPT-2's vocabulary: A = 2 of
 * 50,257: the forward projection goes from 77 MFLOP per position to 3 kFLOP).
 * x [N,C] (final hidden states), wte [V,C], targets [N] (negative: none) -> logprobs [N], entropy [N]
 */
import { alloc, gradOf, needsGrad, record } from "./autograd.js";
import { kernels } from "./backend.js";
import type { GatherOptions } from "./ops/logSoftmaxGather.js";
import { Tensor, type FloatArray } from "./tensor.js";

/** Logits held at once by the chunked path, in elements: 2^25 floats = 128 MiB in float32. */
export const LOGITS_BUDGET = 1 << 25;

/**
 * The most [M,V] probabilities a training forward keeps for its backward, in elements: 2^27 floats =
 * 512 MiB. Keeping them saves the chunked path's recomputation (a third of the head's FLOPs) and its
 * matmuls run on all M rows at once: Qwen2.5-0.5B's head (V 151,936) at B4 T128, forward + backward,
 * 2 threads: 2.2 s kept against 3.6 s chunked (220 rows) and recomputed.
 */
export const PROBS_BUDGET = 1 << 27;

/**
 * The allowed-token head is used when the mask keeps fewer than V / ALLOWED_HEAD_FRACTION tokens.
 * Gathering A rows costs A*C copies against the full head's 2*N*V*C FLOPs, so it pays well below V:
 * GPT-2's head, 256 rows, forward + backward, 2 threads: 6,000 allowed tokens 150-175 ms against 830-880
 * ms for the full head with the mask, 2 tokens 20 ms. Above V/8 it was not measured reliably here, so
 * larger masks keep the plain GEMM path.
 */
export const ALLOWED_HEAD_FRACTION = 8;

/**
 * The ascending token ids an allowed mask keeps, when the allowed-token head applies (fewer than
 * V / ALLOWED_HEAD_FRACTION of them), else null (no mask, or a large one: use the full head).
 */
export function allowedColumns(allowed: Uint8Array | null | undefined, V: number): Int32Array | null {
  if (allowed === null || allowed === undefined) return null;
  let A = 0;
  for (let v = 0; v < V; v++) if (allowed[v] === 1) A++;
  if (A === 0 || A * ALLOWED_HEAD_FRACTION >= V) return null;
  const ids = new Int32Array(A);
  for (let v = 0, i = 0; v < V; v++) if (allowed[v] === 1) ids[i++] = v;
  return ids;
}

/** Rows ids of w [V,C] -> out [A,C]. */
export function gatherRows<F extends FloatArray>(w: F, C: number, ids: Int32Array, out: F): F {
  for (let a = 0; a < ids.length; a++) out.set(w.subarray(ids[a] * C, ids[a] * C + C), a * C);
  return out;
}

export function lmHeadLogprobs(
  x: Tensor, wte: Tensor, targets: Int32Array, opts: GatherOptions = {}, budget = LOGITS_BUDGET, keepBudget = PROBS_BUDGET,
): { logprobs: Tensor; entropy: Tensor } {
  const [V, C] = wte.shape;
  const N = x.size / C;
  if (targets.length !== N) throw new Error(`lmHeadLogprobs: ${targets.length} targets for ${N} rows`);
  const allowed = opts.allowed ?? null;
  if (allowed !== null && allowed.length !== V) throw new Error(`lmHeadLogprobs: allowed mask has ${allowed.length} entries, vocabulary ${V}`);
  const invT = 1 / (opts.temperature ?? 1);
  const grad = needsGrad(x, wte);

  let M = 0;
  for (let n = 0; n < N; n++) if (targets[n] >= 0) M++;
  const rows = new Int32Array(M);
  const tg = new Int32Array(M);
  for (let n = 0, i = 0; n < N; n++) {
    if (targets[n] >= 0) {
      rows[i] = n;
      tg[i++] = targets[n];
    }
  }
  const logprobs = new Tensor([N], alloc(x.data, N, true), grad);
  const entropy = new Tensor([N], alloc(x.data, N, true), false);
  if (M === 0) return { logprobs, entropy };

  // The head: wte [V,C] with the mask, or the allowed rows of wte [A,C] with targets renumbered to them.
  // A target outside the mask (log-prob -inf on the full head) keeps the full head.
  let ids = allowedColumns(allowed, V);
  if (ids !== null) {
    const col = new Int32Array(V).fill(-1);
    for (let a = 0; a < ids.length; a++) col[ids[a]] = a;
    for (let i = 0; i < M && ids !== null; i++) {
      if (col[tg[i]] < 0) ids = null;
      else tg[i] = col[tg[i]];
    }
    if (ids === null) for (let i = 0; i < M; i++) tg[i] = targets[rows[i]];
  }
  const H = ids === null ? V : ids.length;
  const head = ids === null ? wte.data : gatherRows(wte.data, C, ids, alloc(x.data, H * C));
  const mask = ids === null ? allowed : null;

  // xs [M,C]: the rows that have a target, contiguous
  const xs = alloc(x.data, M * C);
  for (let i = 0; i < M; i++) xs.set(x.data.subarray(rows[i] * C, rows[i] * C + C), i * C);
  // kept: one [M,H] buffer holds the logits, then their probabilities, then d(logits)
  const keep = grad && M * H <= Math.max(keepBudget, budget);
  const R = keep ? M : Math.max(1, Math.min(M, Math.floor(budget / H)));
  const logits = alloc(x.data, R * H);
  const probs = keep ? logits : null;
  const lp = alloc(x.data, M);
  const ent = alloc(x.data, M);
  for (let r0 = 0; r0 < M; r0 += R) {
    const m = Math.min(R, M - r0);
    kernels.gemm(false, true, m, H, C, 1, xs.subarray(r0 * C), head, 0, logits);
    kernels.logSoftmaxGather(logits, m, H, tg.subarray(r0, r0 + m), invT, mask, lp.subarray(r0, r0 + m), ent.subarray(r0, r0 + m), probs);
  }
  for (let i = 0; i < M; i++) {
    logprobs.data[rows[i]] = lp[i];
    entropy.data[rows[i]] = ent[i];
  }

  if (grad) {
    record(logprobs, () => {
      const dOut = logprobs.grad;
      if (dOut === null) return;
      const dlp = alloc(x.data, M);
      for (let i = 0; i < M; i++) dlp[i] = dOut[rows[i]];
      const dxs = alloc(x.data, M * C);
      // the allowed-token head's gradient [A,C], scatter-added into wte's rows at the end
      const dhead = ids !== null && wte.requiresGrad ? alloc(x.data, H * C, true) : null;
      for (let r0 = 0; r0 < M; r0 += R) {
        const m = Math.min(R, M - r0);
        const xc = xs.subarray(r0 * C, (r0 + m) * C);
        // the chunk's probabilities (kept, or recomputed in place), then d(logits) over them
        const dl = logits.subarray(0, m * H);
        if (probs === null) {
          kernels.gemm(false, true, m, H, C, 1, xc, head, 0, logits);
          kernels.logSoftmaxGather(logits, m, H, tg.subarray(r0, r0 + m), invT, mask, lp.subarray(r0, r0 + m), ent.subarray(r0, r0 + m), logits);
        }
        kernels.logSoftmaxGatherBackwardInPlace(dl, tg.subarray(r0, r0 + m), dlp.subarray(r0, r0 + m), m, H, invT);
        if (x.requiresGrad) kernels.gemm(false, false, m, C, H, 1, dl, head, 0, dxs.subarray(r0 * C));
        if (wte.requiresGrad) kernels.gemm(true, false, H, C, m, 1, dl, xc, 1, dhead ?? gradOf(wte));
      }
      if (dhead !== null && ids !== null) {
        const dw = gradOf(wte);
        for (let a = 0; a < ids.length; a++) {
          const o = ids[a] * C;
          for (let c = 0; c < C; c++) dw[o + c] += dhead[a * C + c];
        }
      }
      if (x.requiresGrad) {
        const dx = gradOf(x);
        for (let i = 0; i < M; i++) {
          const o = rows[i] * C;
          for (let c = 0; c < C; c++) dx[o + c] += dxs[i * C + c];
        }
      }
    });
  }
  return { logprobs, entropy };
}
