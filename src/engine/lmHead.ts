/**
 * lmHeadLogprobs: the tied LM head fused with logSoftmaxGather. Only rows with a target (not padding,
 * not a row's last position) are projected, and at most LOGITS_BUDGET logits exist at once: a batch
 * whose logits fit is done in one chunk and keeps its probabilities for the backward; a larger one is
 * done in chunks of rows, and the backward recomputes each chunk's logits (one more LM-head matmul)
 * rather than holding [N,V] floats (a 64 x 256 batch of GPT-2 would need 3.3 GB).
 * x [N,C] (final hidden states), wte [V,C], targets [N] (negative: none) -> logprobs [N], entropy [N]
 */
import { alloc, gradOf, needsGrad, record } from "./autograd.js";
import { kernels } from "./backend.js";
import type { GatherOptions } from "./ops/logSoftmaxGather.js";
import { Tensor } from "./tensor.js";

/** Logits held at once, in elements: 2^25 floats = 128 MiB in float32. */
export const LOGITS_BUDGET = 1 << 25;

export function lmHeadLogprobs(
  x: Tensor, wte: Tensor, targets: Int32Array, opts: GatherOptions = {}, budget = LOGITS_BUDGET,
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

  // xs [M,C]: the rows that have a target, contiguous
  const xs = alloc(x.data, M * C);
  for (let i = 0; i < M; i++) xs.set(x.data.subarray(rows[i] * C, rows[i] * C + C), i * C);
  const R = Math.max(1, Math.min(M, Math.floor(budget / V)));
  const keep = grad && R === M;
  const logits = alloc(x.data, R * V);
  const probs = keep ? alloc(x.data, M * V) : null;
  const lp = alloc(x.data, M);
  const ent = alloc(x.data, M);
  for (let r0 = 0; r0 < M; r0 += R) {
    const m = Math.min(R, M - r0);
    kernels.gemm(false, true, m, V, C, 1, xs.subarray(r0 * C), wte.data, 0, logits);
    kernels.logSoftmaxGather(logits, m, V, tg.subarray(r0, r0 + m), invT, allowed, lp.subarray(r0, r0 + m), ent.subarray(r0, r0 + m), probs);
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
      // the logits are dead once their probabilities exist: their buffer takes d(logits)
      const dlogits = logits;
      const p = probs ?? alloc(x.data, R * V);
      for (let r0 = 0; r0 < M; r0 += R) {
        const m = Math.min(R, M - r0);
        const xc = xs.subarray(r0 * C, (r0 + m) * C);
        if (probs === null) {
          kernels.gemm(false, true, m, V, C, 1, xc, wte.data, 0, logits);
          kernels.logSoftmaxGather(logits, m, V, tg.subarray(r0, r0 + m), invT, allowed, lp.subarray(r0, r0 + m), ent.subarray(r0, r0 + m), p);
        }
        const dl = dlogits.subarray(0, m * V);
        dl.fill(0);
        kernels.logSoftmaxGatherBackward(p, tg.subarray(r0, r0 + m), dlp.subarray(r0, r0 + m), m, V, invT, dl);
        if (x.requiresGrad) kernels.gemm(false, false, m, C, V, 1, dl, wte.data, 0, dxs.subarray(r0 * C));
        if (wte.requiresGrad) kernels.gemm(true, false, V, C, m, 1, dl, xc, 1, gradOf(wte));
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
