/**
 * matmul: C = op(A) op(B), plain or batched, with either operand transposed.
 * a [M,K] (or [K,M] when transA), b [K,N] (or [N,K] when transB) -> [M,N];
 * batched: a [P,M,K], b [P,K,N] -> [P,M,N] (same transposes per matrix);
 * a [P,M,K] with a 2-D b (no transA) is the P*M rows of a times b.
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor } from "../tensor.js";

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const tA = opts.transA ?? false;
  const tB = opts.transB ?? false;
  const ra = a.shape.length;
  const rb = b.shape.length;
  let P: number;
  let M: number;
  let K: number;
  let outShape: number[];
  const [bRows, bCols] = rb === 2 ? [b.shape[0], b.shape[1]] : [b.shape[1], b.shape[2]];
  const bK = tB ? bCols : bRows;
  const N = tB ? bRows : bCols;
  if (ra === 3 && rb === 2) {
    if (tA) throw new Error("matmul: a 3-D a with a 2-D b cannot be transposed");
    P = 1;
    M = a.shape[0] * a.shape[1];
    K = a.shape[2];
    outShape = [a.shape[0], a.shape[1], N];
  } else if (ra === 2 && rb === 2) {
    P = 1;
    M = tA ? a.shape[1] : a.shape[0];
    K = tA ? a.shape[0] : a.shape[1];
    outShape = [M, N];
  } else if (ra === 3 && rb === 3) {
    if (a.shape[0] !== b.shape[0]) throw new Error(`matmul: batch sizes differ (${a.shape[0]} vs ${b.shape[0]})`);
    P = a.shape[0];
    M = tA ? a.shape[2] : a.shape[1];
    K = tA ? a.shape[1] : a.shape[2];
    outShape = [P, M, N];
  } else {
    throw new Error(`matmul: unsupported ranks ${ra} and ${rb}`);
  }
  if (K !== bK) throw new Error(`matmul: inner sizes differ (${K} vs ${bK}): [${a.shape}] x [${b.shape}]`);
  const grad = needsGrad(a, b);
  const out = new Tensor(outShape, alloc(a.data, P * M * N), grad);
  const sA = M * K;
  const sB = K * N;
  const sC = M * N;
  if (P === 1) kernels.gemm(tA, tB, M, N, K, 1, a.data, b.data, 0, out.data);
  else kernels.gemmBatched(tA, tB, P, M, N, K, 1, a.data, sA, b.data, sB, 0, out.data, sC);
  if (grad) {
    record(out, () => {
      const dC = out.grad;
      if (dC === null) return;
      if (a.requiresGrad) {
        const dA = gradOf(a);
        // dop(A) = dC op(B)^T; stored transposed when tA: dA = op(B) dC^T
        if (!tA) gemmP(false, !tB, P, M, K, N, dC, sC, b.data, sB, dA, sA);
        else gemmP(tB, true, P, K, M, N, b.data, sB, dC, sC, dA, sA);
      }
      if (b.requiresGrad) {
        const dB = gradOf(b);
        // dop(B) = op(A)^T dC; stored transposed when tB: dB = dC^T op(A)
        if (!tB) gemmP(!tA, false, P, K, N, M, a.data, sA, dC, sC, dB, sB);
        else gemmP(true, tA, P, N, K, M, dC, sC, a.data, sA, dB, sB);
      }
    });
  }
  return out;
}

// Accumulating (beta = 1) product of P matrices; P = 1 uses plain gemm.
function gemmP(
  tA: boolean, tB: boolean, P: number, M: number, N: number, K: number,
  A: Tensor["data"], sA: number, B: Tensor["data"], sB: number, C: Tensor["data"], sC: number,
): void {
  if (P === 1) kernels.gemm(tA, tB, M, N, K, 1, A, B, 1, C);
  else kernels.gemmBatched(tA, tB, P, M, N, K, 1, A, sA, B, sB, 1, C, sC);
}
