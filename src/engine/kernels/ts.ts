/**
 * The TypeScript fallback of every kernel of docs/KERNELS.md: used where the native addon did not build,
 * for every call with a Float64Array (gradient checks), and by the tests to cross-check the native path.
 * Correct first, then reasonably fast: loops are ordered for row-major access and sums run in float64
 * (JS numbers), so the results are at least as accurate as the native float32 ones.
 */
import type { F, Kernels } from "./types.js";

const GELU_SCALE = Math.sqrt(2 / Math.PI);

function gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: F, B: F, beta: number, C: F): void {
  gemmAt(tA, tB, M, N, K, alpha, A, 0, B, 0, beta, C, 0);
}

// Below this many multiply-adds the simple loops win (no packing, no blocking).
const GEMM_BLOCKED_MIN = 1 << 15;
// Columns of op(B) transposed into a float64 block at a time (bounds the scratch to 64 * K).
const GEMM_COL_BLOCK = 64;

// One matrix product at element offsets oA, oB, oC. Every element is a float64 sum over k in increasing
// order, whichever path computes it, so the paths give identical results.
function gemmAt(
  tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
  A: F, oA: number, B: F, oB: number, beta: number, C: F, oC: number,
): void {
  if (M * N * K >= GEMM_BLOCKED_MIN && M >= 4 && N >= 4 && K > 0) {
    gemmBlocked(tA, tB, M, N, K, alpha, A, oA, B, oB, beta, C, oC);
    return;
  }
  const acc = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    acc.fill(0);
    if (K > 0) {
      if (!tB) {
        // B is [K,N]: axpy rows of B, streaming along N.
        for (let k = 0; k < K; k++) {
          const a = tA ? A[oA + k * M + i] : A[oA + i * K + k];
          const rb = oB + k * N;
          for (let j = 0; j < N; j++) acc[j] += a * B[rb + j];
        }
      } else {
        // B is [N,K]: dot products along K.
        for (let j = 0; j < N; j++) {
          const rb = oB + j * K;
          let s = 0;
          if (tA) for (let k = 0; k < K; k++) s += A[oA + k * M + i] * B[rb + k];
          else {
            const ra = oA + i * K;
            for (let k = 0; k < K; k++) s += A[ra + k] * B[rb + k];
          }
          acc[j] = s;
        }
      }
    }
    const rc = oC + i * N;
    if (beta === 0) for (let j = 0; j < N; j++) C[rc + j] = alpha * acc[j];
    else for (let j = 0; j < N; j++) C[rc + j] = alpha * acc[j] + beta * C[rc + j];
  }
}

// Dot products in 4 x 4 blocks (16 sums in registers, each loaded value used 4 times): rows of op(A) and
// columns of op(B) are read contiguous along k, transposing (into float64 scratch) only where needed.
function gemmBlocked(
  tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
  A: F, oA: number, B: F, oB: number, beta: number, C: F, oC: number,
): void {
  let a: F = A;
  let aOff = oA;
  if (tA) {
    const t = new Float64Array(M * K);
    for (let k = 0; k < K; k++) for (let i = 0; i < M; i++) t[i * K + k] = A[oA + k * M + i];
    a = t;
    aOff = 0;
  }
  const bt = tB ? null : new Float64Array(GEMM_COL_BLOCK * K);
  const store = (i: number, j: number, s: number): void => {
    const c = oC + i * N + j;
    C[c] = beta === 0 ? alpha * s : alpha * s + beta * C[c];
  };
  for (let j0 = 0; j0 < N; j0 += GEMM_COL_BLOCK) {
    const nb = Math.min(GEMM_COL_BLOCK, N - j0);
    let b: F = B;
    let bOff = oB + j0 * K; // column j of op(B) is b[bOff + (j - j0) * K + k]
    if (bt !== null) {
      for (let k = 0; k < K; k++) {
        const rb = oB + k * N + j0;
        for (let j = 0; j < nb; j++) bt[j * K + k] = B[rb + j];
      }
      b = bt;
      bOff = 0;
    }
    let i = 0;
    for (; i + 4 <= M; i += 4) {
      const a0 = aOff + i * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
      let j = 0;
      for (; j + 4 <= nb; j += 4) {
        const b0 = bOff + j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        for (let k = 0; k < K; k++) {
          const x0 = a[a0 + k], x1 = a[a1 + k], x2 = a[a2 + k], x3 = a[a3 + k];
          const y0 = b[b0 + k], y1 = b[b1 + k], y2 = b[b2 + k], y3 = b[b3 + k];
          s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
          s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
          s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
          s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
        }
        const jj = j0 + j;
        store(i, jj, s00); store(i, jj + 1, s01); store(i, jj + 2, s02); store(i, jj + 3, s03);
        store(i + 1, jj, s10); store(i + 1, jj + 1, s11); store(i + 1, jj + 2, s12); store(i + 1, jj + 3, s13);
        store(i + 2, jj, s20); store(i + 2, jj + 1, s21); store(i + 2, jj + 2, s22); store(i + 2, jj + 3, s23);
        store(i + 3, jj, s30); store(i + 3, jj + 1, s31); store(i + 3, jj + 2, s32); store(i + 3, jj + 3, s33);
      }
      for (; j < nb; j++) {
        for (let r = 0; r < 4; r++) store(i + r, j0 + j, dot(a, aOff + (i + r) * K, b, bOff + j * K, K));
      }
    }
    for (; i < M; i++) {
      for (let j = 0; j < nb; j++) store(i, j0 + j, dot(a, aOff + i * K, b, bOff + j * K, K));
    }
  }
}

function dot(x: F, ox: number, y: F, oy: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += x[ox + k] * y[oy + k];
  return s;
}

function gemmBatched(
  tA: boolean, tB: boolean, batch: number, M: number, N: number, K: number,
  alpha: number, A: F, strideA: number, B: F, strideB: number, beta: number, C: F, strideC: number,
): void {
  for (let p = 0; p < batch; p++) {
    gemmAt(tA, tB, M, N, K, alpha, A, p * strideA, B, p * strideB, beta, C, p * strideC);
  }
}

function layerNormForward(x: F, w: F, b: F, eps: number, N: number, C: number, out: F, mean: F, rstd: F): void {
  for (let n = 0; n < N; n++) {
    const r = n * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += x[r + c];
    const m = s / C;
    let v = 0;
    for (let c = 0; c < C; c++) {
      const d = x[r + c] - m;
      v += d * d;
    }
    const rs = 1 / Math.sqrt(v / C + eps);
    for (let c = 0; c < C; c++) out[r + c] = (x[r + c] - m) * rs * w[c] + b[c];
    mean[n] = m;
    rstd[n] = rs;
  }
}

function layerNormBackward(dout: F, x: F, w: F, mean: F, rstd: F, N: number, C: number, dx: F, dw: F, db: F): void {
  for (let n = 0; n < N; n++) {
    const r = n * C;
    const m = mean[n];
    const rs = rstd[n];
    // dnorm = dout * w; dx = rs * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat))
    let sumD = 0;
    let sumDX = 0;
    for (let c = 0; c < C; c++) {
      const xhat = (x[r + c] - m) * rs;
      const dn = w[c] * dout[r + c];
      sumD += dn;
      sumDX += dn * xhat;
    }
    sumD /= C;
    sumDX /= C;
    for (let c = 0; c < C; c++) {
      const xhat = (x[r + c] - m) * rs;
      const d = dout[r + c];
      db[c] += d;
      dw[c] += xhat * d;
      dx[r + c] += rs * (w[c] * d - sumD - xhat * sumDX);
    }
  }
}

function rmsNormForward(x: F, w: F, eps: number, N: number, C: number, out: F, rstd: F): void {
  for (let n = 0; n < N; n++) {
    const r = n * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += x[r + c] * x[r + c];
    const rs = 1 / Math.sqrt(s / C + eps);
    for (let c = 0; c < C; c++) out[r + c] = x[r + c] * rs * w[c];
    rstd[n] = rs;
  }
}

function rmsNormBackward(dout: F, x: F, w: F, rstd: F, N: number, C: number, dx: F, dw: F): void {
  for (let n = 0; n < N; n++) {
    const r = n * C;
    const rs = rstd[n];
    // dx = rs * (dnorm - xhat * mean(dnorm * xhat)), xhat = x * rs, dnorm = dout * w
    let sumDX = 0;
    for (let c = 0; c < C; c++) sumDX += w[c] * dout[r + c] * x[r + c] * rs;
    sumDX /= C;
    for (let c = 0; c < C; c++) {
      const xhat = x[r + c] * rs;
      const d = dout[r + c];
      dw[c] += xhat * d;
      dx[r + c] += rs * (w[c] * d - xhat * sumDX);
    }
  }
}

function geluForward(x: F, out: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    out[i] = 0.5 * v * (1 + Math.tanh(GELU_SCALE * (v + 0.044715 * v * v * v)));
  }
}

function geluBackward(x: F, dout: F, dx: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const u = GELU_SCALE * (v + 0.044715 * v * v * v);
    const th = Math.tanh(u);
    const sech2 = 1 - th * th;
    const g = 0.5 * (1 + th) + 0.5 * v * sech2 * GELU_SCALE * (1 + 3 * 0.044715 * v * v);
    dx[i] += g * dout[i];
  }
}

function siluForward(x: F, out: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    out[i] = v / (1 + Math.exp(-v));
  }
}

function siluBackward(x: F, dout: F, dx: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const s = 1 / (1 + Math.exp(-v));
    dx[i] += dout[i] * s * (1 + v * (1 - s));
  }
}

function swigluForward(gate: F, up: F, out: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

function swigluBackward(gate: F, up: F, dout: F, dgate: F, dup: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const s = 1 / (1 + Math.exp(-g));
    dgate[i] += dout[i] * up[i] * s * (1 + g * (1 - s));
    dup[i] += dout[i] * g * s;
  }
}

function ropeRotate(
  x: F, out: F, R: number, H: number, D: number, stride: number, cos: F, sin: F, T: number, perRow: boolean, sign: number, acc: boolean,
): void {
  const half = D / 2;
  for (let r = 0; r < R; r++) {
    const a = (perRow ? r : r % T) * half;
    for (let h = 0; h < H; h++) {
      const o = r * stride + h * D;
      for (let i = 0; i < half; i++) {
        const c = cos[a + i];
        const s = sign * sin[a + i];
        const x1 = x[o + i];
        const x2 = x[o + i + half];
        const y1 = x1 * c - x2 * s;
        const y2 = x2 * c + x1 * s;
        if (acc) {
          out[o + i] += y1;
          out[o + i + half] += y2;
        } else {
          out[o + i] = y1;
          out[o + i + half] = y2;
        }
      }
    }
  }
}

/** Valid length of row b: keys and queries at or past it are padding. */
function rowLength(lengths: Int32Array | null, b: number, T: number): number {
  if (lengths === null) return T;
  const L = lengths[b];
  return L < 0 ? 0 : L > T ? T : L;
}

// Causal attention on strided rows, shared by the packed GPT-2 kernels and the grouped-query ones:
// row (b, t) of q starts at qOff + (b*T + t) * qs, of k and v at kOff / vOff + (b*T + t) * ks, of out
// at (b*T + t) * os; query head h (D wide, at h*D) reads KV head h / (H / KV).
interface Strided {
  q: F; qOff: number; qs: number;
  k: F; kOff: number; v: F; vOff: number; ks: number;
  os: number;
}

function attentionCore(s: Strided, B: number, T: number, H: number, KV: number, D: number, lengths: Int32Array | null, out: F, att: F): void {
  const { q: Q, k: K, v: Vb, qs, ks, os } = s;
  const G = H / KV;
  const scale = 1 / Math.sqrt(D);
  const pre = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    const L = rowLength(lengths, b, T);
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / G) * D;
      for (let t = 0; t < T; t++) {
        const ra = ((b * H + h) * T + t) * T;
        const ro = (b * T + t) * os + h * D;
        if (t >= L) {
          for (let t2 = 0; t2 < T; t2++) att[ra + t2] = 0;
          for (let i = 0; i < D; i++) out[ro + i] = 0;
          continue;
        }
        const q = s.qOff + (b * T + t) * qs + h * D;
        let max = -Infinity;
        for (let t2 = 0; t2 <= t; t2++) {
          const k = s.kOff + (b * T + t2) * ks + kh;
          let x = 0;
          for (let i = 0; i < D; i++) x += Q[q + i] * K[k + i];
          x *= scale;
          pre[t2] = x;
          if (x > max) max = x;
        }
        let sum = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const e = Math.exp(pre[t2] - max);
          pre[t2] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let t2 = 0; t2 < T; t2++) att[ra + t2] = t2 <= t ? pre[t2] * inv : 0;
        for (let i = 0; i < D; i++) out[ro + i] = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const v = s.vOff + (b * T + t2) * ks + kh;
          const p = att[ra + t2];
          for (let i = 0; i < D; i++) out[ro + i] += p * Vb[v + i];
        }
      }
    }
  }
}

// dq rows as q's (offset dqOff, stride qs); dk, dv as k's and v's (stride ks); dout rows os apart.
function attentionCoreBackward(
  dout: F, s: Strided, att: F, B: number, T: number, H: number, KV: number, D: number, lengths: Int32Array | null,
  dq: F, dqOff: number, dk: F, dkOff: number, dv: F, dvOff: number,
): void {
  const { q: Q, k: K, v: Vb, qs, ks, os } = s;
  const G = H / KV;
  const scale = 1 / Math.sqrt(D);
  const datt = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    const L = rowLength(lengths, b, T);
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / G) * D;
      for (let t = 0; t < L; t++) {
        const ra = ((b * H + h) * T + t) * T;
        const ro = (b * T + t) * os + h * D;
        const qr = (b * T + t) * qs + h * D;
        // datt = dout . v; dv += att * dout
        let dot = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const kr = (b * T + t2) * ks + kh;
          const p = att[ra + t2];
          let x = 0;
          for (let i = 0; i < D; i++) {
            x += dout[ro + i] * Vb[s.vOff + kr + i];
            dv[dvOff + kr + i] += p * dout[ro + i];
          }
          datt[t2] = x;
          dot += p * x;
        }
        // softmax backward, then dq += dpre * k * scale, dk += dpre * q * scale
        for (let t2 = 0; t2 <= t; t2++) {
          const kr = (b * T + t2) * ks + kh;
          const dpre = att[ra + t2] * (datt[t2] - dot) * scale;
          if (dpre === 0) continue;
          for (let i = 0; i < D; i++) {
            dq[dqOff + qr + i] += dpre * K[s.kOff + kr + i];
            dk[dkOff + kr + i] += dpre * Q[s.qOff + qr + i];
          }
        }
      }
    }
  }
}

const packed = (qkv: F, C: number): Strided => ({ q: qkv, qOff: 0, qs: 3 * C, k: qkv, kOff: C, v: qkv, vOff: 2 * C, ks: 3 * C, os: C });
const grouped = (q: F, k: F, v: F, H: number, KV: number, D: number): Strided => ({ q, qOff: 0, qs: H * D, k, kOff: 0, v, vOff: 0, ks: KV * D, os: H * D });

function attentionForward(qkv: F, B: number, T: number, C: number, NH: number, lengths: Int32Array | null, out: F, att: F): void {
  attentionCore(packed(qkv, C), B, T, NH, NH, C / NH, lengths, out, att);
}

function attentionBackward(
  dout: F, qkv: F, att: F, B: number, T: number, C: number, NH: number, lengths: Int32Array | null, dqkv: F,
): void {
  attentionCoreBackward(dout, packed(qkv, C), att, B, T, NH, NH, C / NH, lengths, dqkv, 0, dqkv, C, dqkv, 2 * C);
}

function gqaAttentionForward(
  q: F, k: F, v: F, B: number, T: number, H: number, KV: number, D: number, lengths: Int32Array | null, out: F, att: F,
): void {
  attentionCore(grouped(q, k, v, H, KV, D), B, T, H, KV, D, lengths, out, att);
}

function gqaAttentionBackward(
  dout: F, q: F, k: F, v: F, att: F, B: number, T: number, H: number, KV: number, D: number, lengths: Int32Array | null,
  dq: F, dk: F, dv: F,
): void {
  attentionCoreBackward(dout, grouped(q, k, v, H, KV, D), att, B, T, H, KV, D, lengths, dq, 0, dk, 0, dv, 0);
}

function attentionDecode(q: F, kCache: F, vCache: F, B: number, C: number, NH: number, Tmax: number, pos: Int32Array, out: F): void {
  gqaAttentionDecode(q, kCache, vCache, B, NH, NH, C / NH, Tmax, pos, out);
}

function gqaAttentionDecode(
  q: F, kCache: F, vCache: F, B: number, H: number, KV: number, D: number, Tmax: number, pos: Int32Array, out: F,
): void {
  const G = H / KV;
  const scale = 1 / Math.sqrt(D);
  const pre = new Float64Array(Tmax);
  for (let b = 0; b < B; b++) {
    const P = Math.min(pos[b], Tmax - 1);
    for (let h = 0; h < H; h++) {
      const rq = (b * H + h) * D;
      const base = (b * KV + Math.floor(h / G)) * Tmax * D;
      let max = -Infinity;
      for (let t2 = 0; t2 <= P; t2++) {
        let s = 0;
        for (let i = 0; i < D; i++) s += q[rq + i] * kCache[base + t2 * D + i];
        s *= scale;
        pre[t2] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let t2 = 0; t2 <= P; t2++) {
        const e = Math.exp(pre[t2] - max);
        pre[t2] = e;
        sum += e;
      }
      for (let i = 0; i < D; i++) {
        let s = 0;
        for (let t2 = 0; t2 <= P; t2++) s += pre[t2] * vCache[base + t2 * D + i];
        out[rq + i] = P >= 0 ? s / sum : 0;
      }
    }
  }
}

function logSoftmaxGather(
  logits: F, N: number, V: number, targets: Int32Array, invTemperature: number, allowed: Uint8Array | null,
  logprobs: F, entropy: F, probs: F | null,
): void {
  for (let n = 0; n < N; n++) {
    const r = n * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) {
      if (allowed !== null && allowed[v] !== 1) continue;
      const z = logits[r + v] * invTemperature;
      if (z > max) max = z;
    }
    // log Z = max + log sum exp(z - max); entropy = log Z - sum p z
    let sum = 0;
    let sumEZ = 0;
    for (let v = 0; v < V; v++) {
      if (allowed !== null && allowed[v] !== 1) continue;
      const z = logits[r + v] * invTemperature - max;
      const e = Math.exp(z);
      sum += e;
      sumEZ += e * z;
    }
    const logZ = Math.log(sum);
    entropy[n] = logZ - sumEZ / sum;
    const tg = targets[n];
    if (tg < 0) logprobs[n] = 0;
    else if (allowed !== null && allowed[tg] !== 1) logprobs[n] = -Infinity;
    else logprobs[n] = logits[r + tg] * invTemperature - max - logZ;
    if (probs !== null) {
      for (let v = 0; v < V; v++) {
        probs[r + v] = allowed !== null && allowed[v] !== 1 ? 0 : Math.exp(logits[r + v] * invTemperature - max - logZ);
      }
    }
  }
}

function logSoftmaxGatherBackward(
  probs: F, targets: Int32Array, dlogprobs: F, N: number, V: number, invTemperature: number, dlogits: F,
): void {
  for (let n = 0; n < N; n++) {
    const tg = targets[n];
    if (tg < 0) continue; // the logprob was the constant 0
    const g = dlogprobs[n] * invTemperature;
    if (g === 0) continue;
    const r = n * V;
    for (let v = 0; v < V; v++) dlogits[r + v] -= g * probs[r + v];
    dlogits[r + tg] += g;
  }
}

function logSoftmaxGatherBackwardInPlace(
  probs: F, targets: Int32Array, dlogprobs: F, N: number, V: number, invTemperature: number,
): void {
  for (let n = 0; n < N; n++) {
    const tg = targets[n];
    const g = tg < 0 ? 0 : dlogprobs[n] * invTemperature;
    const r = n * V;
    for (let v = 0; v < V; v++) probs[r + v] = -g * probs[r + v];
    if (tg >= 0) probs[r + tg] += g;
  }
}

function embeddingForward(tokens: Int32Array, wte: F, wpe: F, B: number, T: number, C: number, out: F): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const ro = (b * T + t) * C;
      const re = tokens[b * T + t] * C;
      const rp = t * C;
      for (let c = 0; c < C; c++) out[ro + c] = wte[re + c] + wpe[rp + c];
    }
  }
}

function embeddingBackward(tokens: Int32Array, dout: F, B: number, T: number, C: number, dwte: F, dwpe: F): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const ro = (b * T + t) * C;
      const re = tokens[b * T + t] * C;
      const rp = t * C;
      for (let c = 0; c < C; c++) {
        const d = dout[ro + c];
        dwte[re + c] += d;
        dwpe[rp + c] += d;
      }
    }
  }
}

function adamw(
  param: F, grad: F, m: F, v: F, n: number, lr: number, beta1: number, beta2: number, eps: number,
  weightDecay: number, step: number, gradScale: number,
): void {
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  const stepSize = lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < n; i++) {
    const g = gradScale * grad[i];
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    // torch: p *= 1 - lr*wd; p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
    param[i] = param[i] * decay - stepSize * mi / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}

function add(a: F, b: F, out: F, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

function addInPlace(a: F, b: F, n: number): void {
  for (let i = 0; i < n; i++) a[i] += b[i];
}

function scale(a: F, s: number, n: number): void {
  for (let i = 0; i < n; i++) a[i] *= s;
}

function sumSquares(a: F, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i] * a[i];
  return s;
}

function biasAdd(x: F, bias: F, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const r = n * C;
    for (let c = 0; c < C; c++) x[r + c] += bias[c];
  }
}

function biasBackward(dout: F, N: number, C: number, dbias: F): void {
  const acc = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const r = n * C;
    for (let c = 0; c < C; c++) acc[c] += dout[r + c];
  }
  for (let c = 0; c < C; c++) dbias[c] += acc[c];
}

export const tsKernels: Kernels = {
  name: "ts",
  gemm,
  gemmBatched,
  layerNormForward,
  layerNormBackward,
  rmsNormForward,
  rmsNormBackward,
  geluForward,
  geluBackward,
  siluForward,
  siluBackward,
  swigluForward,
  swigluBackward,
  ropeRotate,
  attentionForward,
  attentionBackward,
  attentionDecode,
  gqaAttentionForward,
  gqaAttentionBackward,
  gqaAttentionDecode,
  logSoftmaxGather,
  logSoftmaxGatherBackward,
  logSoftmaxGatherBackwardInPlace,
  embeddingForward,
  embeddingBackward,
  adamw,
  add,
  addInPlace,
  scale,
  sumSquares,
  biasAdd,
  biasBackward,
};
