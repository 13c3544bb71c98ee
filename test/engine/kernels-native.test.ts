// The native kernels against the TypeScript ones (float32 tolerance) on random shapes, odd sizes, views
// with offsets, every transpose, NaN in a beta = 0 output, padding lengths and the allowed mask; results
// bit-identical for 1 thread and several; bad arguments throw a TypeError instead of crashing.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Worker } from "node:worker_threads";
import { kernels, nativeAddonPath, nativeKernels, nativeLoadError, tsKernels } from "../../src/engine/kernels/index.js";
import type { NativeKernels } from "../../src/engine/kernels/native.js";
import { Rng } from "../../src/util/rng.js";

// float32 kernels against float64-accumulating ones: a dot product of K terms of size ~1 is off by
// ~sqrt(K) * 6e-8 relative; 2e-5 (of max(1, |value|)) covers K up to a few thousand.
const F32_TOL = 2e-5;

const skip = nativeKernels === null ? `native addon not built (${nativeLoadError}); only the TypeScript kernels are tested` : false;
if (skip) console.log(`native kernel tests skipped: ${skip}`);

function rand(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * rng.normal();
  return a;
}

/** A view of n elements at an odd offset into a bigger buffer (checks byteOffset handling). */
function view(src: Float32Array, offset = 3): Float32Array {
  const buf = new Float32Array(src.length + offset + 5).fill(-999);
  buf.set(src, offset);
  return buf.subarray(offset, offset + src.length);
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    if (!(d <= tol)) assert.fail(`${what}: element ${i}: native ${got[i]} vs ts ${want[i]} (relative ${d} > ${tol})`);
  }
}

function identical(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} differs: ${a[i]} vs ${b[i]}`);
  }
}

describe("native kernels", { skip }, () => {
  const N = nativeKernels as NativeKernels;
  const defaultThreads = nativeKernels?.getThreads() ?? 1;
  after(() => N.setThreads(defaultThreads));

  test("kernels routes float32 calls to native and Float64Array calls to TypeScript", () => {
    if (process.env.LAMBDA_GRPO_KERNELS !== "ts") assert.equal(kernels.name, "native");
    const a = Float64Array.from([1, 2]);
    kernels.scale(a, 3, 2);
    assert.deepEqual(Array.from(a), [3, 6]);
    assert.ok(["amx", "avx512", "avx2", "scalar"].includes(N.isa));
  });

  test("gemm: every transpose, odd sizes, alpha/beta, views, beta = 0 with NaN in C", () => {
    const rng = new Rng(11);
    // [9, 1100, 240]: a few rows against a B too large to be read in place (more than 2^18 floats): packed
    const shapes = [[1, 1, 1], [7, 33, 65], [65, 7, 129], [33, 129, 7], [129, 65, 33], [64, 96, 256], [13, 1, 300], [1, 200, 17], [3, 5, 0], [9, 1100, 240]];
    for (const [M, Nn, K] of shapes) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          const A = view(rand(rng, M * K));
          const B = view(rand(rng, K * Nn), 1);
          const C0 = rand(rng, M * Nn);
          for (const beta of [0, 1, -0.5]) {
            const Cn = view(beta === 0 ? new Float32Array(M * Nn).fill(NaN) : C0, 2);
            const Ct = beta === 0 ? new Float32Array(M * Nn).fill(NaN) : C0.slice();
            N.gemm(tA, tB, M, Nn, K, 0.75, A, B, beta, Cn);
            tsKernels.gemm(tA, tB, M, Nn, K, 0.75, A, B, beta, Ct);
            close(Cn, Ct, F32_TOL, `gemm ${M}x${Nn}x${K} tA=${tA} tB=${tB} beta=${beta}`);
          }
        }
      }
    }
  });

  test("gemm: every ISA this CPU has gives the TypeScript result", () => {
    const rng = new Rng(12);
    const setIsa = (N as unknown as { setIsa(isa: string): boolean }).setIsa;
    const original = N.isa;
    try {
      for (const isa of ["scalar", "avx2", "avx512", "amx"]) {
        if (!setIsa(isa)) continue;
        for (const [M, Nn, K] of [[50, 70, 90], [8, 48, 256], [97, 33, 5]]) {
          const A = rand(rng, M * K);
          const B = rand(rng, K * Nn);
          for (const [tA, tB] of [[false, false], [true, true], [false, true]]) {
            const Cn = new Float32Array(M * Nn);
            const Ct = new Float32Array(M * Nn);
            N.gemm(tA, tB, M, Nn, K, 1, A, B, 0, Cn);
            tsKernels.gemm(tA, tB, M, Nn, K, 1, A, B, 0, Ct);
            close(Cn, Ct, F32_TOL, `${isa} gemm ${M}x${Nn}x${K}`);
          }
        }
      }
    } finally {
      setIsa(original);
    }
  });

  // AMX multiplies bfloat16 tiles; gemm_amx.cc splits each float in three bf16 parts and sums six
  // products of parts (bf16x6). The claim: float32 accuracy. Measured against float64, beside our
  // AVX-512 float32 path on the same data. All-positive data makes a dropped term's error systematic
  // (it does not average out over K). The bounds fail when any one of the six products is left out
  // (tried with a2 b0: 9.1e-7 of the sum against the AVX-512 path's 1.6e-7 at 129 x 97 x 401), or the float32 finish of
  // infinities and NaN is.
  test("gemm on AMX tiles: float32 accuracy on every edge of its blocking, alpha/beta, inf and NaN", (t) => {
    const setIsa = (N as unknown as { setIsa(isa: string): boolean }).setIsa;
    const original = N.isa;
    if (!setIsa("amx")) {
      t.skip("this CPU (or its kernel) gives no AMX tiles");
      return;
    }
    const rng = new Rng(21);
    const positive = (n: number): Float32Array => Float32Array.from({ length: n }, () => 0.5 + 0.5 * rng.next());
    // worst |C - C64| / sum_k |a b| over the elements
    const error = (C: Float32Array, A: Float32Array, B: Float32Array, M: number, Nn: number, K: number, tA: boolean, tB: boolean, alpha: number): number => {
      let worst = 0;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < Nn; j++) {
          let s = 0;
          let sa = 0;
          for (let k = 0; k < K; k++) {
            const p = A[tA ? k * M + i : i * K + k] * B[tB ? j * K + k : k * Nn + j];
            s += p;
            sa += Math.abs(p);
          }
          worst = Math.max(worst, Math.abs(C[i * Nn + j] - alpha * s) / (Math.abs(alpha) * sa));
        }
      }
      return worst;
    };
    try {
      // (gemm.cc sends products from 128 x 16 x 64 and 1e7 flops up to the tiles.) Edges of 32 x 32
      // blocks and 32-deep chunks; M past one A block (128 rows), K past one K block (1024, so C
      // accumulates across blocks), N past one B panel (2048 columns), N under one 32-column panel.
      const shapes = [[129, 97, 401], [130, 100, 1100], [130, 2100, 65], [700, 20, 400]];
      for (const [M, Nn, K] of shapes) {
        for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]]) {
          for (const data of ["normal", "positive"]) {
            const A = data === "normal" ? rand(rng, M * K) : positive(M * K);
            const B = data === "normal" ? rand(rng, K * Nn) : positive(K * Nn);
            for (const [alpha, beta] of [[1, 0], [0.75, 0], [1, 1]]) {
              const C0 = rand(rng, M * Nn);
              const got: Float32Array[] = [];
              for (const isa of ["amx", "avx512"]) {
                setIsa(isa);
                const C = beta === 0 ? new Float32Array(M * Nn).fill(NaN) : C0.slice();
                N.gemm(tA, tB, M, Nn, K, alpha, A, B, beta, C);
                if (beta === 1) for (let i = 0; i < C.length; i++) C[i] -= C0[i];
                got.push(C);
              }
              const what = `${M}x${Nn}x${K} tA=${tA} tB=${tB} ${data} alpha=${alpha} beta=${beta}`;
              // (beta = 1: C - C0 also carries the rounding of the sum into C0, |C0| ~ 1)
              const [amx, avx] = got.map((C) => error(C, A, B, M, Nn, K, tA, tB, alpha));
              assert.ok(amx <= 2 * avx + 2e-7, `${what}: AMX error ${amx} against AVX-512's ${avx}`);
              assert.ok(amx < 1e-6, `${what}: AMX error ${amx}`);
            }
          }
        }
      }
      // Infinities and NaN propagate as in float32 (those products finish on the float32 path, here from
      // the first K block and, at K 1100, from the second, after C has the first's sums), whether A or B
      // holds them, in every layout; a float too big for bf16's rounding stays finite.
      const [M, Nn] = [130, 97];
      for (const [K, at, alpha, beta] of [[400, 0, 1, 0], [1100, 1050, 1, 1], [1100, 1050, 0.75, 0]]) {
        for (const [tA, tB] of [[false, false], [true, true]]) {
          for (const inB of [false, true]) {
            const A = rand(rng, M * K);
            const B = positive(K * Nn);
            const setA = (i: number, k: number, v: number): void => void (A[tA ? k * M + i : i * K + k] = v);
            const setB = (k: number, j: number, v: number): void => void (B[tB ? j * K + k : k * Nn + j] = v);
            // rows 0-2 of C (A holds them) or columns 0-2 (B does) come out inf, -inf (or inf) and NaN
            const special = (r: number, k: number, v: number): void => (inB ? setB(k, r, v) : setA(r, k, v));
            special(0, at, Infinity);
            special(1, at + 3, -Infinity);
            special(2, at + 5, NaN);
            setA(3, 0, 3.4e38);
            setA(3, 1, -3.39e38);
            for (let k = 2; k < K; k++) setA(3, k, 0);
            const C0 = rand(rng, M * Nn);
            const want = beta === 0 ? new Float32Array(M * Nn) : C0.slice();
            tsKernels.gemm(tA, tB, M, Nn, K, alpha, A, B, beta, want);
            const C = beta === 0 ? new Float32Array(M * Nn).fill(NaN) : C0.slice();
            setIsa("amx");
            N.gemm(tA, tB, M, Nn, K, alpha, A, B, beta, C);
            const what = `K ${K}, specials at k ${at} in ${inB ? "B" : "A"}, tA=${tA} tB=${tB}, alpha ${alpha}, beta ${beta}`;
            const isSpecial = (i: number): boolean => (inB ? i % Nn < 3 : i < 3 * Nn);
            for (let i = 0; i < C.length; i++) {
              if (isSpecial(i)) {
                assert.ok(!Number.isFinite(want[i]), `${what}: element ${i} is not finite in float32`);
                assert.ok(Object.is(C[i], want[i]), `${what}: element ${i}: ${C[i]}, float32 gives ${want[i]}`);
              } else {
                // float32's error scales with sum_k |a b| (and the |C0| it is added to), not with the result
                assert.ok(Number.isFinite(want[i]), `${what}: element ${i} is finite`);
                const [r, c] = [Math.floor(i / Nn), i % Nn];
                let size = beta * Math.abs(C0[i]);
                for (let k = 0; k < K; k++) size += Math.abs(alpha * A[tA ? k * M + r : r * K + k] * B[tB ? c * K + k : k * Nn + c]);
                assert.ok(Math.abs(C[i] - want[i]) <= 1e-6 * size, `${what}: element ${i}: ${C[i]} vs ${want[i]}`);
              }
            }
          }
        }
      }
    } finally {
      setIsa(original);
    }
  });

  test("gemmBatched matches TypeScript at element strides with gaps", () => {
    const rng = new Rng(13);
    const [batch, M, Nn, K] = [5, 9, 17, 33];
    const [sA, sB, sC] = [M * K + 3, K * Nn + 1, M * Nn + 7];
    const A = rand(rng, batch * sA);
    const B = rand(rng, batch * sB);
    const C0 = rand(rng, batch * sC);
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
      const Cn = C0.slice();
      const Ct = C0.slice();
      N.gemmBatched(tA, tB, batch, M, Nn, K, 1.5, A, sA, B, sB, 0.5, Cn, sC);
      tsKernels.gemmBatched(tA, tB, batch, M, Nn, K, 1.5, A, sA, B, sB, 0.5, Ct, sC);
      close(Cn, Ct, F32_TOL, `gemmBatched tA=${tA} tB=${tB}`);
    }
  });

  test("layerNorm and rmsNorm, forward and backward (accumulating)", () => {
    const rng = new Rng(14);
    for (const [Nr, C] of [[1, 1], [7, 33], [65, 129], [3, 768]]) {
      const x = view(rand(rng, Nr * C, 2));
      const w = rand(rng, C);
      const b = rand(rng, C);
      const dout = rand(rng, Nr * C);
      const outs = [0, 1].map(() => ({ out: new Float32Array(Nr * C), mean: new Float32Array(Nr), rstd: new Float32Array(Nr) }));
      N.layerNormForward(x, w, b, 1e-5, Nr, C, outs[0].out, outs[0].mean, outs[0].rstd);
      tsKernels.layerNormForward(x, w, b, 1e-5, Nr, C, outs[1].out, outs[1].mean, outs[1].rstd);
      close(outs[0].out, outs[1].out, F32_TOL, "ln out");
      close(outs[0].rstd, outs[1].rstd, F32_TOL, "ln rstd");
      const g = [0, 1].map(() => ({ dx: new Float32Array(Nr * C).fill(0.5), dw: new Float32Array(C).fill(1), db: new Float32Array(C).fill(-1) }));
      N.layerNormBackward(dout, x, w, outs[1].mean, outs[1].rstd, Nr, C, g[0].dx, g[0].dw, g[0].db);
      tsKernels.layerNormBackward(dout, x, w, outs[1].mean, outs[1].rstd, Nr, C, g[1].dx, g[1].dw, g[1].db);
      close(g[0].dx, g[1].dx, F32_TOL, "ln dx");
      close(g[0].dw, g[1].dw, F32_TOL, "ln dw");
      close(g[0].db, g[1].db, F32_TOL, "ln db");

      const r = [0, 1].map(() => ({ out: new Float32Array(Nr * C), rstd: new Float32Array(Nr), dx: new Float32Array(Nr * C), dw: new Float32Array(C) }));
      N.rmsNormForward(x, w, 1e-6, Nr, C, r[0].out, r[0].rstd);
      tsKernels.rmsNormForward(x, w, 1e-6, Nr, C, r[1].out, r[1].rstd);
      close(r[0].out, r[1].out, F32_TOL, "rms out");
      N.rmsNormBackward(dout, x, w, r[1].rstd, Nr, C, r[0].dx, r[0].dw);
      tsKernels.rmsNormBackward(dout, x, w, r[1].rstd, Nr, C, r[1].dx, r[1].dw);
      close(r[0].dx, r[1].dx, F32_TOL, "rms dx");
      close(r[0].dw, r[1].dw, F32_TOL, "rms dw");
    }
  });

  test("gelu and silu, forward and backward, including large |x|", () => {
    const rng = new Rng(15);
    const n = 1001;
    const x = rand(rng, n, 4);
    x[0] = 30;
    x[1] = -30;
    x[2] = 0;
    x[3] = -100;
    const dout = rand(rng, n);
    for (const [fwd, bwd, name] of [
      ["geluForward", "geluBackward", "gelu"],
      ["siluForward", "siluBackward", "silu"],
    ] as const) {
      const on = new Float32Array(n);
      const ot = new Float32Array(n);
      N[fwd](x, on, n);
      tsKernels[fwd](x, ot, n);
      close(on, ot, F32_TOL, name);
      const dn = new Float32Array(n).fill(1);
      const dt = new Float32Array(n).fill(1);
      N[bwd](x, dout, dn, n);
      tsKernels[bwd](x, dout, dt, n);
      close(dn, dt, F32_TOL, `${name} backward`);
    }
  });

  test("attention forward/backward with padding lengths, and decode", () => {
    const rng = new Rng(16);
    for (const [B, T, C, NH, lens] of [
      [2, 7, 12, 3, null],
      [3, 65, 32, 2, [65, 1, 40]],
      [1, 100, 64, 4, [0]],
      [2, 50, 48, 1, [50, 49]],
    ] as const) {
      const lengths = lens === null ? null : Int32Array.from(lens);
      const qkv = view(rand(rng, B * T * 3 * C));
      const dout = rand(rng, B * T * C);
      const res = [0, 1].map(() => ({
        out: new Float32Array(B * T * C).fill(NaN),
        att: new Float32Array(B * NH * T * T).fill(NaN),
        dqkv: new Float32Array(B * T * 3 * C).fill(0.25),
      }));
      N.attentionForward(qkv, B, T, C, NH, lengths, res[0].out, res[0].att);
      tsKernels.attentionForward(qkv, B, T, C, NH, lengths, res[1].out, res[1].att);
      close(res[0].out, res[1].out, F32_TOL, `attention out T=${T}`);
      close(res[0].att, res[1].att, F32_TOL, `attention att T=${T}`);
      N.attentionBackward(dout, qkv, res[1].att, B, T, C, NH, lengths, res[0].dqkv);
      tsKernels.attentionBackward(dout, qkv, res[1].att, B, T, C, NH, lengths, res[1].dqkv);
      close(res[0].dqkv, res[1].dqkv, F32_TOL, `attention dqkv T=${T}`);
    }
    const [B, C, NH, Tmax] = [3, 32, 4, 20];
    const hs = C / NH;
    const q = rand(rng, B * C);
    const kc = rand(rng, B * NH * Tmax * hs);
    const vc = rand(rng, B * NH * Tmax * hs);
    const pos = Int32Array.from([0, 19, 7]);
    const on = new Float32Array(B * C);
    const ot = new Float32Array(B * C);
    N.attentionDecode(q, kc, vc, B, C, NH, Tmax, pos, on);
    tsKernels.attentionDecode(q, kc, vc, B, C, NH, Tmax, pos, ot);
    close(on, ot, F32_TOL, "attentionDecode");
  });

  test("swiglu forward and backward, including large |gate|", () => {
    const rng = new Rng(25);
    const n = 1001;
    const g = rand(rng, n, 4);
    g[0] = 30;
    g[1] = -30;
    g[2] = -100;
    const u = rand(rng, n);
    const dout = rand(rng, n);
    const on = new Float32Array(n);
    const ot = new Float32Array(n);
    N.swigluForward(g, u, on, n);
    tsKernels.swigluForward(g, u, ot, n);
    close(on, ot, F32_TOL, "swiglu");
    const res = [0, 1].map(() => ({ dg: new Float32Array(n).fill(0.5), du: new Float32Array(n).fill(-1) }));
    N.swigluBackward(g, u, dout, res[0].dg, res[0].du, n);
    tsKernels.swigluBackward(g, u, dout, res[1].dg, res[1].du, n);
    close(res[0].dg, res[1].dg, F32_TOL, "swiglu dgate");
    close(res[0].du, res[1].du, F32_TOL, "swiglu dup");
  });

  test("ropeRotate: per-row and shared tables, strided rows, in place, accumulating backward", () => {
    const rng = new Rng(27);
    for (const [R, H, D, stride, T, perRow] of [[7, 3, 8, 24, 7, false], [12, 2, 16, 40, 4, false], [9, 4, 6, 24, 9, true]] as const) {
      const x = view(rand(rng, (R - 1) * stride + H * D));
      const half = D / 2;
      const rows = perRow ? R : T;
      const angles = Array.from({ length: rows * half }, () => rng.normal() * 3);
      const cos = Float32Array.from(angles, Math.cos);
      const sin = Float32Array.from(angles, Math.sin);
      for (const [sign, acc] of [[1, false], [-1, true]] as const) {
        const on = rand(rng, x.length);
        const ot = on.slice();
        N.ropeRotate(x, on, R, H, D, stride, cos, sin, T, perRow, sign, acc);
        tsKernels.ropeRotate(x, ot, R, H, D, stride, cos, sin, T, perRow, sign, acc);
        close(on, ot, F32_TOL, `ropeRotate R=${R} sign=${sign}`);
      }
      const inPlace = x.slice();
      const ts = x.slice();
      N.ropeRotate(inPlace, inPlace, R, H, D, stride, cos, sin, T, perRow, 1, false);
      tsKernels.ropeRotate(ts, ts, R, H, D, stride, cos, sin, T, perRow, 1, false);
      close(inPlace, ts, F32_TOL, `ropeRotate in place R=${R}`);
    }
    assert.throws(() => N.ropeRotate(new Float32Array(8), new Float32Array(8), 1, 1, 3, 3, new Float32Array(2), new Float32Array(2), 1, false, 1, false), /must be even/);
  });

  test("grouped-query attention forward/backward with padding lengths (direct and blocked), and decode; bit-identical over threads", () => {
    const rng = new Rng(26);
    for (const [B, T, H, KV, D, lens] of [
      [2, 7, 4, 2, 6, null],
      [3, 65, 6, 2, 8, [65, 1, 40]],
      [1, 100, 4, 1, 16, [0]],
      [2, 50, 2, 2, 12, [50, 49]],
    ] as const) {
      const lengths = lens === null ? null : Int32Array.from(lens);
      const q = view(rand(rng, B * T * H * D));
      const k = view(rand(rng, B * T * KV * D), 2);
      const v = view(rand(rng, B * T * KV * D), 5);
      const dout = rand(rng, B * T * H * D);
      const res = [0, 1, 2].map(() => ({
        out: new Float32Array(B * T * H * D).fill(NaN),
        att: new Float32Array(B * H * T * T).fill(NaN),
        dq: new Float32Array(B * T * H * D).fill(0.25),
        dk: new Float32Array(B * T * KV * D).fill(-0.5),
        dv: new Float32Array(B * T * KV * D),
      }));
      const run = (K: typeof tsKernels, r: (typeof res)[number]): void => {
        K.gqaAttentionForward(q, k, v, B, T, H, KV, D, lengths, r.out, r.att);
        K.gqaAttentionBackward(dout, q, k, v, res[1].att, B, T, H, KV, D, lengths, r.dq, r.dk, r.dv);
      };
      run(tsKernels, res[1]);
      run(N, res[0]);
      for (const key of ["out", "att", "dq", "dk", "dv"] as const) close(res[0][key], res[1][key], F32_TOL, `gqa ${key} T=${T}`);
      N.setThreads(1);
      run(N, res[2]);
      N.setThreads(defaultThreads);
      for (const key of ["out", "att", "dq", "dk", "dv"] as const) identical(res[0][key], res[2][key], `gqa ${key} T=${T}: 1 thread vs ${defaultThreads}`);
    }
    const [B, H, KV, D, Tmax] = [3, 8, 2, 8, 20];
    const q = rand(rng, B * H * D);
    const kc = rand(rng, B * KV * Tmax * D);
    const vc = rand(rng, B * KV * Tmax * D);
    const pos = Int32Array.from([0, 19, 7]);
    const on = new Float32Array(B * H * D);
    const ot = new Float32Array(B * H * D);
    N.gqaAttentionDecode(q, kc, vc, B, H, KV, D, Tmax, pos, on);
    tsKernels.gqaAttentionDecode(q, kc, vc, B, H, KV, D, Tmax, pos, ot);
    close(on, ot, F32_TOL, "gqaAttentionDecode");
    assert.throws(() => N.gqaAttentionDecode(q, kc, vc, B, H, 3, D, Tmax, pos, on), /must be a positive multiple of KV/);
  });

  test("logSoftmaxGather with temperature, allowed mask, negative targets and null probs; backward", () => {
    const rng = new Rng(17);
    for (const [Nr, V] of [[1, 1], [5, 33], [9, 1000]]) {
      const logits = view(rand(rng, Nr * V, 3));
      const targets = Int32Array.from({ length: Nr }, (_, i) => (i === 1 ? -1 : rng.int(V)));
      const allowed = Uint8Array.from({ length: V }, (_, v) => (v % 3 === 1 ? 0 : 1));
      for (const t of targets) if (t >= 0) allowed[t] = 1;
      for (const mask of [null, allowed]) {
        for (const invT of [1, 1 / 0.6]) {
          const r = [0, 1].map(() => ({ lp: new Float32Array(Nr), ent: new Float32Array(Nr), probs: new Float32Array(Nr * V).fill(NaN) }));
          N.logSoftmaxGather(logits, Nr, V, targets, invT, mask, r[0].lp, r[0].ent, r[0].probs);
          tsKernels.logSoftmaxGather(logits, Nr, V, targets, invT, mask, r[1].lp, r[1].ent, r[1].probs);
          close(r[0].lp, r[1].lp, F32_TOL, "logprobs");
          close(r[0].ent, r[1].ent, F32_TOL, "entropy");
          close(r[0].probs, r[1].probs, F32_TOL, "probs");
          const lpNull = new Float32Array(Nr);
          N.logSoftmaxGather(logits, Nr, V, targets, invT, mask, lpNull, new Float32Array(Nr), null);
          close(lpNull, r[1].lp, F32_TOL, "logprobs without probs");
          const dlp = rand(rng, Nr);
          const dn = new Float32Array(Nr * V).fill(0.5);
          const dt = new Float32Array(Nr * V).fill(0.5);
          N.logSoftmaxGatherBackward(r[1].probs, targets, dlp, Nr, V, invT, dn);
          tsKernels.logSoftmaxGatherBackward(r[1].probs, targets, dlp, Nr, V, invT, dt);
          close(dn, dt, F32_TOL, "dlogits");
          // in place: probs written over the logits, then d(logits) over the probs (the accumulating
          // kernel's result from 0: rows without a target are 0)
          for (const k of [N, tsKernels]) {
            const buf = logits.slice();
            const lp = new Float32Array(Nr);
            k.logSoftmaxGather(buf, Nr, V, targets, invT, mask, lp, new Float32Array(Nr), buf);
            close(lp, r[1].lp, F32_TOL, `${k.name} logprobs in place`);
            close(buf, r[1].probs, F32_TOL, `${k.name} probs in place`);
            const d0 = new Float32Array(Nr * V);
            tsKernels.logSoftmaxGatherBackward(buf, targets, dlp, Nr, V, invT, d0);
            k.logSoftmaxGatherBackwardInPlace(buf, targets, dlp, Nr, V, invT);
            close(buf, d0, F32_TOL, `${k.name} dlogits in place`);
          }
        }
      }
    }
  });

  test("embedding forward/backward, adamw, elementwise helpers, bias", () => {
    const rng = new Rng(18);
    const [B, T, C, V] = [3, 5, 33, 11];
    const tokens = Int32Array.from({ length: B * T }, () => rng.int(V));
    const wte = rand(rng, V * C);
    const wpe = rand(rng, T * C);
    const dout = rand(rng, B * T * C);
    const on = new Float32Array(B * T * C);
    const ot = new Float32Array(B * T * C);
    N.embeddingForward(tokens, wte, wpe, B, T, C, on);
    tsKernels.embeddingForward(tokens, wte, wpe, B, T, C, ot);
    identical(on, ot, "embedding");
    const g = [0, 1].map(() => ({ dwte: new Float32Array(V * C).fill(1), dwpe: new Float32Array(T * C) }));
    N.embeddingBackward(tokens, dout, B, T, C, g[0].dwte, g[0].dwpe);
    tsKernels.embeddingBackward(tokens, dout, B, T, C, g[1].dwte, g[1].dwpe);
    close(g[0].dwte, g[1].dwte, F32_TOL, "dwte");
    close(g[0].dwpe, g[1].dwpe, F32_TOL, "dwpe");

    const n = 777;
    const st = [0, 1].map(() => ({ p: rand(new Rng(1), n), m: new Float32Array(n), v: new Float32Array(n) }));
    for (let step = 1; step <= 3; step++) {
      const grad = rand(rng, n);
      const clip = step === 2 ? 0.3 : 1;
      N.adamw(st[0].p, grad, st[0].m, st[0].v, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, step, clip);
      tsKernels.adamw(st[1].p, grad, st[1].m, st[1].v, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, step, clip);
    }
    close(st[0].p, st[1].p, F32_TOL, "adamw param");
    close(st[0].v, st[1].v, F32_TOL, "adamw v");

    const a = rand(rng, n);
    const b = view(rand(rng, n));
    const out = [new Float32Array(n), new Float32Array(n)];
    N.add(a, b, out[0], n);
    tsKernels.add(a, b, out[1], n);
    identical(out[0], out[1], "add");
    N.addInPlace(out[0], b, n);
    tsKernels.addInPlace(out[1], b, n);
    identical(out[0], out[1], "addInPlace");
    N.scale(out[0], 0.3, n);
    tsKernels.scale(out[1], 0.3, n);
    close(out[0], out[1], 2.5e-7, "scale"); // TS multiplies by the float64 0.3, native by its float32 rounding
    const ssN = N.sumSquares(b, n);
    assert.ok(Math.abs(ssN - tsKernels.sumSquares(b, n)) <= 1e-12 * ssN, "sumSquares in float64");
    const x = [rand(new Rng(2), 7 * 65), rand(new Rng(2), 7 * 65)];
    const bias = rand(rng, 65);
    N.biasAdd(x[0], bias, 7, 65);
    tsKernels.biasAdd(x[1], bias, 7, 65);
    identical(x[0], x[1], "biasAdd");
    const db = [new Float32Array(65).fill(1), new Float32Array(65).fill(1)];
    N.biasBackward(x[0], 7, 65, db[0]);
    tsKernels.biasBackward(x[1], 7, 65, db[1]);
    close(db[0], db[1], F32_TOL, "biasBackward");
  });

  test("results are bit-identical with 1 thread and with several", () => {
    const rng = new Rng(19);
    // Big enough that every kernel below actually splits its work.
    const [M, Nn, K] = [193, 301, 257];
    const A = rand(rng, M * K);
    const Bm = rand(rng, K * Nn);
    const [B, T, C, NH] = [2, 97, 64, 4];
    const lengths = Int32Array.from([97, 60]);
    const qkv = rand(rng, B * T * 3 * C);
    const dout = rand(rng, B * T * C);
    const [Nr, Cn] = [400, 160];
    const x = rand(rng, Nr * Cn);
    const w = rand(rng, Cn);
    const dy = rand(rng, Nr * Cn);
    const V = 4000;
    const logits = rand(rng, 64 * V);
    const targets = Int32Array.from({ length: 64 }, () => rng.int(V));
    const tokens = Int32Array.from({ length: B * T }, (_, i) => i % 7);
    const big = rand(rng, 300_000);

    const run = (): Float32Array[] => {
      const out: Float32Array[] = [];
      for (const [tA, tB] of [[false, false], [true, true], [false, true]]) {
        const c = new Float32Array(M * Nn);
        N.gemm(tA, tB, M, Nn, K, 1, A, Bm, 0, c);
        out.push(c);
        // a few rows (decoding): the unpacked path, split over N
        const few = new Float32Array(3 * Nn);
        N.gemm(tA, tB, 3, Nn, K, 1, A, Bm, 0, few);
        out.push(few);
      }
      const o = new Float32Array(B * T * C);
      const att = new Float32Array(B * NH * T * T);
      N.attentionForward(qkv, B, T, C, NH, lengths, o, att);
      const dqkv = new Float32Array(B * T * 3 * C);
      N.attentionBackward(dout, qkv, att, B, T, C, NH, lengths, dqkv);
      const ln = new Float32Array(Nr * Cn);
      const mean = new Float32Array(Nr);
      const rstd = new Float32Array(Nr);
      N.layerNormForward(x, w, w, 1e-5, Nr, Cn, ln, mean, rstd);
      const dx = new Float32Array(Nr * Cn);
      const dw = new Float32Array(Cn);
      const db = new Float32Array(Cn);
      N.layerNormBackward(dy, x, w, mean, rstd, Nr, Cn, dx, dw, db);
      const lp = new Float32Array(64);
      const ent = new Float32Array(64);
      N.logSoftmaxGather(logits, 64, V, targets, 1, null, lp, ent, null);
      const dwte = new Float32Array(7 * C);
      const dwpe = new Float32Array(T * C);
      N.embeddingBackward(tokens, dout, B, T, C, dwte, dwpe);
      const bias = new Float32Array(Cn);
      N.biasBackward(dy, Nr, Cn, bias);
      const gelu = new Float32Array(big.length);
      N.geluForward(big, gelu, big.length);
      out.push(o, att, dqkv, ln, dx, dw, db, lp, ent, dwte, dwpe, bias, gelu, Float32Array.of(N.sumSquares(big, big.length)));
      return out;
    };
    N.setThreads(1);
    const one = run();
    for (const threads of [2, 3, 8]) {
      N.setThreads(threads);
      assert.equal(N.getThreads(), threads);
      const many = run();
      one.forEach((r, i) => identical(many[i], r, `output ${i} with ${threads} threads`));
    }
  });

  test("worker_threads: concurrent calls and pool resizing from other isolates give the same results", async () => {
    // The addon is one shared library per process: every isolate shares its thread pool.
    const addon = nativeAddonPath!;
    const code = `
      const { parentPort, workerData } = require("node:worker_threads");
      const k = require(workerData.addon);
      const [M, N, K] = [97, 131, 203];
      const A = new Float32Array(M * K).map((_, i) => Math.sin(i));
      const B = new Float32Array(K * N).map((_, i) => Math.cos(i));
      const C = new Float32Array(M * N);
      let first = null;
      for (let r = 0; r < 200; r++) {
        if (r % 20 === workerData.id) k.setThreads(1 + (r % 3));
        k.gemm(false, false, M, N, K, 1, A, B, 0, C);
        if (first === null) first = C.slice();
        else for (let i = 0; i < C.length; i++) if (C[i] !== first[i]) throw new Error("result changed at rep " + r);
      }
      parentPort.postMessage(Array.from(first.subarray(0, 5)));
    `;
    const workers = [1, 2, 3].map((id) => new Worker(code, { eval: true, workerData: { addon, id } }));
    const results = workers.map((w) => new Promise<number[]>((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
    }));
    const [M, Nn, K] = [97, 131, 203];
    const A = new Float32Array(M * K).map((_, i) => Math.sin(i));
    const B = new Float32Array(K * Nn).map((_, i) => Math.cos(i));
    const mine = new Float32Array(M * Nn);
    for (let r = 0; r < 100; r++) N.gemm(false, false, M, Nn, K, 1, A, B, 0, mine);
    for (const r of await Promise.all(results)) assert.deepEqual(r, Array.from(mine.subarray(0, 5)));
    N.setThreads(defaultThreads);
  });

  test("bad arguments throw a TypeError naming the kernel and the argument", () => {
    const a = new Float32Array(10);
    assert.throws(() => N.gemm(false, false, 4, 4, 4, 1, a, a, 0, a), (e: Error) =>
      e instanceof TypeError && /gemm: A \(argument 7\) has 10 elements, needs at least 16/.test(e.message));
    assert.throws(() => N.gemm(false, false, 2, 2, 2, 1, new Float64Array(4) as unknown as Float32Array, a, 0, a), (e: Error) =>
      e instanceof TypeError && /must be a Float32Array/.test(e.message));
    assert.throws(() => (N.scale as unknown as (...args: unknown[]) => void)(a, 2), (e: Error) =>
      e instanceof TypeError && /scale: expects 3 arguments, got 2/.test(e.message));
    assert.throws(() => N.scale(a, 2, -1), TypeError);
    assert.throws(() => N.scale(a, 2, 1.5), TypeError);
    assert.throws(() => N.embeddingForward(Int32Array.from([0, 5]), a, a, 1, 2, 2, a), (e: Error) =>
      e instanceof TypeError && /tokens\[1\] = 5 is outside the vocabulary \[0, 5\)/.test(e.message));
    assert.throws(() => N.attentionForward(new Float32Array(100), 1, 2, 6, 4, null, a, a), (e: Error) =>
      e instanceof TypeError && /multiple of NH/.test(e.message));
    assert.throws(() => N.logSoftmaxGather(a, 2, 5, Int32Array.from([0, 5]), 1, null, a, a, null), TypeError);
    // a view shorter than the shape is caught even when the underlying buffer is long enough
    assert.throws(() => N.addInPlace(new Float32Array(100).subarray(90), a, 11), TypeError);
  });
});
