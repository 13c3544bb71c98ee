// The TypeScript kernels (the fallback, and the reference the native ones are checked against) against
// textbook float64 definitions, and each backward against finite differences of its forward in float64.
import assert from "node:assert/strict";
import { test } from "node:test";
import { tsKernels as K } from "../../src/engine/kernels/ts.js";
import { Rng } from "../../src/util/rng.js";

// Central differences in float64 with h = 1e-5 leave ~1e-9 truncation and rounding error on these
// O(1) functions; 1e-6 relative leaves room without hiding a wrong term (those are O(1e-1)).
const FD_H = 1e-5;
const FD_TOL = 1e-6;

function randn(rng: Rng, n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length);
  let e = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    if (!(d <= e)) e = d; // NaN propagates as a failure
  }
  return e;
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  const e = maxRelErr(got, want);
  assert.ok(e <= tol, `${what}: max relative error ${e} > ${tol}`);
}

/** d(sum(G * f(x)))/dx by central differences, x perturbed in place. */
function numericGrad(x: Float64Array, G: Float64Array, f: () => Float64Array): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + FD_H;
    const up = f();
    x[i] = x0 - FD_H;
    const down = f();
    x[i] = x0;
    let s = 0;
    for (let j = 0; j < G.length; j++) s += G[j] * (up[j] - down[j]);
    g[i] = s / (2 * FD_H);
  }
  return g;
}

test("gemm: all four transposes, alpha/beta, odd sizes, against the triple loop", () => {
  const rng = new Rng(1);
  // 37x41x43 and 4x5x2048 take the blocked path (4 x 4 blocks plus ragged edges), the rest the simple loops
  for (const [M, N, Kd] of [[1, 1, 1], [7, 33, 65], [5, 1, 9], [1, 17, 3], [12, 9, 0], [37, 41, 43], [4, 5, 2048]]) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const A = randn(rng, M * Kd);
        const B = randn(rng, Kd * N);
        const C0 = randn(rng, M * N);
        const want = new Float64Array(M * N);
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let k = 0; k < Kd; k++) s += (tA ? A[k * M + i] : A[i * Kd + k]) * (tB ? B[j * Kd + k] : B[k * N + j]);
            want[i * N + j] = 0.5 * s - 1.5 * C0[i * N + j];
          }
        }
        const C = C0.slice();
        K.gemm(tA, tB, M, N, Kd, 0.5, A, B, -1.5, C);
        close(C, want, 1e-12, `gemm ${M}x${N}x${Kd} tA=${tA} tB=${tB}`);
      }
    }
  }
});

test("gemm: beta = 0 ignores NaN in C; gemmBatched equals one gemm per matrix", () => {
  const rng = new Rng(2);
  const [M, N, Kd, batch] = [3, 4, 5, 3];
  const A = randn(rng, batch * 20);
  const B = randn(rng, batch * 25);
  const C = new Float64Array(batch * 14).fill(NaN);
  K.gemmBatched(false, true, batch, M, N, Kd, 1, A, 20, B, 25, 0, C, 14);
  for (let p = 0; p < batch; p++) {
    const one = new Float64Array(M * N);
    K.gemm(false, true, M, N, Kd, 1, A.subarray(p * 20), B.subarray(p * 25), 0, one);
    close(C.subarray(p * 14, p * 14 + M * N), one, 0, `batch ${p}`);
    assert.ok(Number.isNaN(C[p * 14 + M * N]), "elements between the strided matrices are not touched");
  }
});

test("layerNorm: forward against the formula, backward against finite differences", () => {
  const rng = new Rng(3);
  const [N, C, eps] = [3, 7, 1e-5];
  const x = randn(rng, N * C);
  const w = randn(rng, C);
  const b = randn(rng, C);
  const out = new Float64Array(N * C);
  const mean = new Float64Array(N);
  const rstd = new Float64Array(N);
  K.layerNormForward(x, w, b, eps, N, C, out, mean, rstd);
  for (let n = 0; n < N; n++) {
    const row = Array.from(x.subarray(n * C, (n + 1) * C));
    const m = row.reduce((s, v) => s + v, 0) / C;
    const variance = row.reduce((s, v) => s + (v - m) ** 2, 0) / C;
    for (let c = 0; c < C; c++) {
      const want = ((row[c] - m) / Math.sqrt(variance + eps)) * w[c] + b[c];
      assert.ok(Math.abs(out[n * C + c] - want) < 1e-12);
    }
  }
  const G = randn(rng, N * C);
  const forward = (): Float64Array => {
    const o = new Float64Array(N * C);
    K.layerNormForward(x, w, b, eps, N, C, o, new Float64Array(N), new Float64Array(N));
    return o;
  };
  // the backward accumulates: start from non-zero gradients
  const dx = new Float64Array(N * C).fill(0.25);
  const dw = new Float64Array(C).fill(-0.5);
  const db = new Float64Array(C).fill(1);
  K.layerNormBackward(G, x, w, mean, rstd, N, C, dx, dw, db);
  close(dx.map((v) => v - 0.25), numericGrad(x, G, forward), FD_TOL, "dx");
  close(dw.map((v) => v + 0.5), numericGrad(w, G, forward), FD_TOL, "dw");
  close(db.map((v) => v - 1), numericGrad(b, G, forward), FD_TOL, "db");
});

test("rmsNorm: forward against the formula, backward against finite differences", () => {
  const rng = new Rng(4);
  const [N, C, eps] = [2, 9, 1e-6];
  const x = randn(rng, N * C);
  const w = randn(rng, C);
  const out = new Float64Array(N * C);
  const rstd = new Float64Array(N);
  K.rmsNormForward(x, w, eps, N, C, out, rstd);
  for (let n = 0; n < N; n++) {
    let ms = 0;
    for (let c = 0; c < C; c++) ms += x[n * C + c] ** 2 / C;
    for (let c = 0; c < C; c++) assert.ok(Math.abs(out[n * C + c] - (x[n * C + c] / Math.sqrt(ms + eps)) * w[c]) < 1e-12);
  }
  const G = randn(rng, N * C);
  const forward = (): Float64Array => {
    const o = new Float64Array(N * C);
    K.rmsNormForward(x, w, eps, N, C, o, new Float64Array(N));
    return o;
  };
  const dx = new Float64Array(N * C);
  const dw = new Float64Array(C);
  K.rmsNormBackward(G, x, w, rstd, N, C, dx, dw);
  close(dx, numericGrad(x, G, forward), FD_TOL, "dx");
  close(dw, numericGrad(w, G, forward), FD_TOL, "dw");
});

test("gelu (tanh approximation) and silu: forward against the formula, backward against finite differences", () => {
  const rng = new Rng(5);
  const n = 40;
  const x = randn(rng, n).map((v) => 3 * v);
  const G = randn(rng, n);
  const gelu = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  const silu = (v: number): number => v / (1 + Math.exp(-v));
  for (const [name, f, fwd, bwd] of [
    ["gelu", gelu, K.geluForward, K.geluBackward],
    ["silu", silu, K.siluForward, K.siluBackward],
  ] as const) {
    const out = new Float64Array(n);
    fwd(x, out, n);
    close(out, x.map(f), 1e-14, name);
    const dx = new Float64Array(n);
    bwd(x, G, dx, n);
    const forward = (): Float64Array => {
      const o = new Float64Array(n);
      fwd(x, o, n);
      return o;
    };
    close(dx, numericGrad(x, G, forward), FD_TOL, `${name} backward`);
  }
});

/** Causal attention by its definition, one (b, h, t) at a time; lengths mask keys and zero query rows. */
function attentionReference(qkv: Float64Array, B: number, T: number, C: number, NH: number, lengths: Int32Array | null): Float64Array {
  const hs = C / NH;
  const out = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) {
    const L = lengths === null ? T : lengths[b];
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < L; t++) {
        const q = (i: number): number => qkv[(b * T + t) * 3 * C + h * hs + i];
        const k = (s: number, i: number): number => qkv[(b * T + s) * 3 * C + C + h * hs + i];
        const v = (s: number, i: number): number => qkv[(b * T + s) * 3 * C + 2 * C + h * hs + i];
        const scores: number[] = [];
        for (let s = 0; s <= t && s < L; s++) {
          let d = 0;
          for (let i = 0; i < hs; i++) d += q(i) * k(s, i);
          scores.push(d / Math.sqrt(hs));
        }
        const mx = Math.max(...scores);
        const e = scores.map((z) => Math.exp(z - mx));
        const Z = e.reduce((a, c) => a + c, 0);
        for (let i = 0; i < hs; i++) {
          let o = 0;
          for (let s = 0; s < e.length; s++) o += (e[s] / Z) * v(s, i);
          out[(b * T + t) * C + h * hs + i] = o;
        }
      }
    }
  }
  return out;
}

test("attention: forward against the definition (with padding lengths), backward against finite differences", () => {
  const rng = new Rng(6);
  const [B, T, C, NH] = [2, 5, 6, 2];
  const lengths = Int32Array.from([5, 3]);
  for (const lens of [null, lengths]) {
    const qkv = randn(rng, B * T * 3 * C);
    const out = new Float64Array(B * T * C).fill(NaN);
    const att = new Float64Array(B * NH * T * T).fill(NaN);
    K.attentionForward(qkv, B, T, C, NH, lens, out, att);
    close(out, attentionReference(qkv, B, T, C, NH, lens), 1e-12, "attention out");
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        for (let t = 0; t < T; t++) {
          const row = att.subarray(((b * NH + h) * T + t) * T, ((b * NH + h) * T + t + 1) * T);
          const valid = t < (lens === null ? T : lens[b]);
          const sum = row.reduce((a, c) => a + c, 0);
          assert.ok(Math.abs(sum - (valid ? 1 : 0)) < 1e-12, "probabilities sum to 1 (0 on padding rows)");
          for (let s = t + 1; s < T; s++) assert.equal(row[s], 0, "0 above the diagonal");
        }
      }
    }
    const G = randn(rng, B * T * C);
    const dqkv = new Float64Array(B * T * 3 * C);
    K.attentionBackward(G, qkv, att, B, T, C, NH, lens, dqkv);
    const forward = (): Float64Array => {
      const o = new Float64Array(B * T * C);
      K.attentionForward(qkv, B, T, C, NH, lens, o, new Float64Array(B * NH * T * T));
      return o;
    };
    close(dqkv, numericGrad(qkv, G, forward), FD_TOL, "dqkv");
  }
});

test("attentionDecode: the new token's output equals full causal attention at its position", () => {
  const rng = new Rng(7);
  const [B, T, C, NH, Tmax] = [2, 6, 8, 2, 9];
  const hs = C / NH;
  const qkv = randn(rng, B * T * 3 * C);
  const full = new Float64Array(B * T * C);
  K.attentionForward(qkv, B, T, C, NH, null, full, new Float64Array(B * NH * T * T));
  // caches [B, NH, Tmax, hs] filled from positions 0..T-1; garbage beyond must be ignored
  const kCache = new Float64Array(B * NH * Tmax * hs).fill(1e3);
  const vCache = new Float64Array(B * NH * Tmax * hs).fill(1e3);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        for (let i = 0; i < hs; i++) {
          kCache[((b * NH + h) * Tmax + t) * hs + i] = qkv[(b * T + t) * 3 * C + C + h * hs + i];
          vCache[((b * NH + h) * Tmax + t) * hs + i] = qkv[(b * T + t) * 3 * C + 2 * C + h * hs + i];
        }
      }
    }
  }
  const pos = Int32Array.from([T - 1, 2]);
  const q = new Float64Array(B * C);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) q[b * C + c] = qkv[(b * T + pos[b]) * 3 * C + c];
  const out = new Float64Array(B * C);
  K.attentionDecode(q, kCache, vCache, B, C, NH, Tmax, pos, out);
  for (let b = 0; b < B; b++) {
    close(out.subarray(b * C, (b + 1) * C), full.subarray((b * T + pos[b]) * C, (b * T + pos[b] + 1) * C), 1e-12, `row ${b}`);
  }
});

test("logSoftmaxGather: log-probs and entropy by definition, with temperature and an allowed mask; backward by finite differences", () => {
  const rng = new Rng(8);
  const [N, V] = [4, 7];
  const logits = randn(rng, N * V);
  const targets = Int32Array.from([3, 0, -1, 6]);
  const allowed = Uint8Array.from([1, 0, 1, 1, 0, 1, 1]);
  const invT = 1 / 0.7;
  for (const mask of [null, allowed]) {
    const logprobs = new Float64Array(N);
    const entropy = new Float64Array(N);
    const probs = new Float64Array(N * V);
    K.logSoftmaxGather(logits, N, V, targets, invT, mask, logprobs, entropy, probs);
    for (let n = 0; n < N; n++) {
      const ok = (v: number): boolean => mask === null || mask[v] === 1;
      let Z = 0;
      for (let v = 0; v < V; v++) if (ok(v)) Z += Math.exp(logits[n * V + v] * invT);
      let H = 0;
      for (let v = 0; v < V; v++) {
        const p = ok(v) ? Math.exp(logits[n * V + v] * invT) / Z : 0;
        assert.ok(Math.abs(probs[n * V + v] - p) < 1e-14);
        if (p > 0) H -= p * Math.log(p);
      }
      assert.ok(Math.abs(entropy[n] - H) < 1e-12, "entropy");
      const want = targets[n] < 0 ? 0 : Math.log(Math.exp(logits[n * V + targets[n]] * invT) / Z);
      assert.ok(Math.abs(logprobs[n] - want) < 1e-12, "logprob");
    }
    const G = randn(rng, N);
    const dlogits = new Float64Array(N * V);
    K.logSoftmaxGatherBackward(probs, targets, G, N, V, invT, dlogits);
    const forward = (): Float64Array => {
      const lp = new Float64Array(N);
      K.logSoftmaxGather(logits, N, V, targets, invT, mask, lp, new Float64Array(N), null);
      return lp;
    };
    close(dlogits, numericGrad(logits, G, forward), FD_TOL, "dlogits");
  }
});

test("embedding: forward sums token and position rows; backward scatter-adds (repeated tokens accumulate)", () => {
  const rng = new Rng(9);
  const [B, T, C, V] = [2, 3, 4, 5];
  const tokens = Int32Array.from([1, 4, 1, 0, 1, 2]);
  const wte = randn(rng, V * C);
  const wpe = randn(rng, T * C);
  const out = new Float64Array(B * T * C);
  K.embeddingForward(tokens, wte, wpe, B, T, C, out);
  for (let r = 0; r < B * T; r++) {
    for (let c = 0; c < C; c++) assert.equal(out[r * C + c], wte[tokens[r] * C + c] + wpe[(r % T) * C + c]);
  }
  const G = randn(rng, B * T * C);
  const dwte = new Float64Array(V * C);
  const dwpe = new Float64Array(T * C);
  K.embeddingBackward(tokens, G, B, T, C, dwte, dwpe);
  const forward = (): Float64Array => {
    const o = new Float64Array(B * T * C);
    K.embeddingForward(tokens, wte, wpe, B, T, C, o);
    return o;
  };
  close(dwte, numericGrad(wte, G, forward), FD_TOL, "dwte");
  close(dwpe, numericGrad(wpe, G, forward), FD_TOL, "dwpe");
});

test("adamw: PyTorch's update (decoupled decay, bias-corrected moments) over three steps, on gradScale * grad", () => {
  const rng = new Rng(10);
  const n = 6;
  const [lr, b1, b2, eps, wd] = [1e-2, 0.9, 0.95, 1e-8, 0.1];
  const p = randn(rng, n);
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  const pRef = p.slice();
  const mRef = new Float64Array(n);
  const vRef = new Float64Array(n);
  for (let step = 1; step <= 3; step++) {
    const g = randn(rng, n);
    const before = g.slice();
    const s = [1, 0.5, 2][step - 1];
    K.adamw(p, g, m, v, n, lr, b1, b2, eps, wd, step, s);
    assert.deepEqual(g, before, "the gradient is read, not written");
    for (let i = 0; i < n; i++) {
      pRef[i] -= lr * wd * pRef[i];
      mRef[i] = b1 * mRef[i] + (1 - b1) * s * g[i];
      vRef[i] = b2 * vRef[i] + (1 - b2) * (s * g[i]) ** 2;
      const mHat = mRef[i] / (1 - b1 ** step);
      const vHat = vRef[i] / (1 - b2 ** step);
      pRef[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
    close(p, pRef, 1e-12, `param after step ${step}`);
    close(m, mRef, 1e-15, "m");
    close(v, vRef, 1e-15, "v");
  }
});

test("elementwise helpers and bias", () => {
  const a = Float64Array.from([1, -2, 3]);
  const b = Float64Array.from([0.5, 0.5, -1]);
  const out = new Float64Array(3);
  K.add(a, b, out, 3);
  assert.deepEqual(Array.from(out), [1.5, -1.5, 2]);
  K.addInPlace(a, b, 3);
  assert.deepEqual(Array.from(a), [1.5, -1.5, 2]);
  K.scale(a, 2, 3);
  assert.deepEqual(Array.from(a), [3, -3, 4]);
  assert.equal(K.sumSquares(a, 3), 34);
  assert.equal(K.sumSquares(Float32Array.from([0.1, 0.2]), 2), Math.fround(0.1) ** 2 + Math.fround(0.2) ** 2, "float64 accumulation");
  const x = Float64Array.from([1, 2, 3, 4, 5, 6]);
  K.biasAdd(x, Float64Array.from([10, 20, 30]), 2, 3);
  assert.deepEqual(Array.from(x), [11, 22, 33, 14, 25, 36]);
  const db = Float64Array.from([1, 1, 1]);
  K.biasBackward(x, 2, 3, db);
  assert.deepEqual(Array.from(db), [26, 48, 70]);
});

test("subarray views: the kernels read and write at the view's offset", () => {
  const buf = new Float32Array(20).fill(7);
  const a = buf.subarray(3, 6);
  const b = Float32Array.from([1, 2, 3]);
  K.addInPlace(a, b, 3);
  assert.deepEqual(Array.from(buf.subarray(0, 7)), [7, 7, 7, 8, 9, 10, 7]);
});
