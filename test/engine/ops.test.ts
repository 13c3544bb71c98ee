/**
 * Every op's gradient against central finite differences, in float64 through the TypeScript kernels
 * (a Float64Array always runs on the fallback), plus the forward facts each op promises.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { noGrad } from "../../src/engine/autograd.js";
import { lmHeadLogprobs } from "../../src/engine/lmHead.js";
import { kernels } from "../../src/engine/backend.js";
import {
  add, biasAdd, causalSelfAttention, dropout, embedding, loraLinear, gelu, groupedQueryAttention, layerNorm, linear, linearT,
  logSoftmax, logSoftmaxGather, matmul, mean, mul, rmsNorm, rope, ropeInvFreq, ropeQkv, scale, silu, softmax, sum,
  swiglu, tokenEmbedding,
} from "../../src/engine/ops/index.js";
import { Tensor } from "../../src/engine/tensor.js";
import { Rng } from "../../src/util/rng.js";
import { gradcheck, randn } from "./gradcheck.js";

const rng = new Rng(2024);

test("matmul: every transpose combination, plain and batched", () => {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const [M, K, N] = [3, 4, 5];
      const a = randn(rng, transA ? [K, M] : [M, K]);
      const b = randn(rng, transB ? [N, K] : [K, N]);
      gradcheck(`matmul tA=${transA} tB=${transB}`, ([x, y]) => matmul(x, y, { transA, transB }), [a, b]);
      const P = 2;
      const ab = randn(rng, transA ? [P, K, M] : [P, M, K]);
      const bb = randn(rng, transB ? [P, N, K] : [P, K, N]);
      gradcheck(`batched matmul tA=${transA} tB=${transB}`, ([x, y]) => matmul(x, y, { transA, transB }), [ab, bb]);
    }
  }
  gradcheck("matmul [P,M,K] x [K,N]", ([x, y]) => matmul(x, y), [randn(rng, [2, 3, 4]), randn(rng, [4, 2])]);
});

test("matmul: forward is the textbook product", () => {
  const a = new Tensor([2, 3], Float64Array.from([1, 2, 3, 4, 5, 6]));
  const b = new Tensor([3, 2], Float64Array.from([7, 8, 9, 10, 11, 12]));
  assert.deepEqual(Array.from(noGrad(() => matmul(a, b)).data), [58, 64, 139, 154]);
  assert.deepEqual(Array.from(noGrad(() => matmul(a, a, { transB: true })).data), [14, 32, 32, 77]);
});

test("linear, biasAdd, add, scale", () => {
  gradcheck("linear", ([x, w, b]) => linear(x, w, b), [randn(rng, [2, 3, 4]), randn(rng, [4, 6]), randn(rng, [6])]);
  gradcheck("linear without bias", ([x, w]) => linear(x, w, null), [randn(rng, [5, 4]), randn(rng, [4, 3])]);
  gradcheck("biasAdd", ([x, b]) => biasAdd(x, b), [randn(rng, [4, 3]), randn(rng, [3])]);
  gradcheck("add", ([x, y]) => add(x, y), [randn(rng, [4, 3]), randn(rng, [4, 3])]);
  gradcheck("add of a tensor to itself", ([x]) => add(x, x), [randn(rng, [5])]);
  gradcheck("scale", ([x]) => scale(x, -0.7), [randn(rng, [6])]);
  gradcheck("mul", ([x, y]) => mul(x, y), [randn(rng, [3, 4]), randn(rng, [3, 4])]);
  gradcheck("mul of a tensor by itself", ([x]) => mul(x, x), [randn(rng, [5])]);
});

test("gelu and silu", () => {
  gradcheck("gelu", ([x]) => gelu(x), [randn(rng, [40], 2)]);
  gradcheck("silu", ([x]) => silu(x), [randn(rng, [40], 2)]);
  // GELU(tanh) at 1: 0.5 * (1 + tanh(sqrt(2/pi) * (1 + 0.044715)))
  const one = new Tensor([1], Float64Array.of(1));
  const want = 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * 1.044715));
  assert.ok(Math.abs(noGrad(() => gelu(one)).data[0] - want) < 1e-12);
  assert.ok(Math.abs(noGrad(() => silu(one)).data[0] - 1 / (1 + Math.exp(-1))) < 1e-12);
});

test("layerNorm and rmsNorm", () => {
  const x = randn(rng, [3, 2, 8], 3);
  gradcheck("layerNorm", ([a, w, b]) => layerNorm(a, w, b, 1e-5), [x, randn(rng, [8]), randn(rng, [8])]);
  gradcheck("rmsNorm", ([a, w]) => rmsNorm(a, w, 1e-6), [randn(rng, [4, 8], 3), randn(rng, [8])]);
  const ones = new Tensor([8], new Float64Array(8).fill(1));
  const zeros = new Tensor([8], new Float64Array(8));
  const y = noGrad(() => layerNorm(x, ones, zeros, 0));
  for (let r = 0; r < 6; r++) {
    let s = 0;
    let s2 = 0;
    for (let c = 0; c < 8; c++) {
      s += y.data[r * 8 + c];
      s2 += y.data[r * 8 + c] ** 2;
    }
    assert.ok(Math.abs(s / 8) < 1e-12 && Math.abs(s2 / 8 - 1) < 1e-9, "a normalised row has mean 0 and variance 1");
  }
});

test("embedding: gradients scatter-add into repeated tokens", () => {
  const tokens = Int32Array.from([1, 3, 1, 0, 1, 2]);
  gradcheck("embedding", ([wte, wpe]) => embedding(tokens, 2, 3, wte, wpe), [randn(rng, [4, 5]), randn(rng, [4, 5])]);
});

test("causalSelfAttention: with and without padding lengths", () => {
  const [B, T, C, NH] = [2, 5, 8, 2];
  gradcheck("attention", ([qkv]) => causalSelfAttention(qkv, NH, null), [randn(rng, [B, T, 3 * C])]);
  const lengths = Int32Array.from([5, 3]);
  gradcheck("attention with lengths", ([qkv]) => causalSelfAttention(qkv, NH, lengths), [randn(rng, [B, T, 3 * C])]);
});

test("causalSelfAttention: a query sees only itself and earlier keys; padded rows give 0", () => {
  const [B, T, C, NH] = [1, 4, 4, 1];
  const qkv = randn(rng, [B, T, 3 * C]);
  const full = noGrad(() => causalSelfAttention(qkv, NH, Int32Array.of(3))).data.slice();
  // changing the last position (padding) changes nothing before it, and row 3 is 0
  for (let c = 0; c < 3 * C; c++) qkv.data[3 * 3 * C + c] += 10;
  const again = noGrad(() => causalSelfAttention(qkv, NH, Int32Array.of(3))).data;
  assert.deepEqual(Array.from(again), Array.from(full));
  for (let c = 0; c < C; c++) assert.equal(again[3 * C + c], 0);
  // position 0 attends only to itself: its output is its own v
  for (let c = 0; c < C; c++) assert.ok(Math.abs(again[c] - qkv.data[2 * C + c]) < 1e-12);
});

test("logSoftmaxGather: gradient with temperature, mask and negative targets; values", () => {
  const V = 6;
  const targets = Int32Array.from([2, -1, 5, 0]);
  const allowed = Uint8Array.from([1, 0, 1, 1, 0, 1]);
  gradcheck("logSoftmaxGather", ([l]) => logSoftmaxGather(l, targets, { temperature: 0.7 }).logprobs, [randn(rng, [4, V])]);
  gradcheck("logSoftmaxGather masked", ([l]) => logSoftmaxGather(l, targets, { temperature: 1.3, allowed }).logprobs, [randn(rng, [4, V])]);
  const logits = randn(rng, [4, V]);
  const { logprobs, entropy } = noGrad(() => logSoftmaxGather(logits, targets, { temperature: 2, allowed }));
  for (let n = 0; n < 4; n++) {
    const z: number[] = [];
    for (let v = 0; v < V; v++) if (allowed[v]) z.push(logits.data[n * V + v] / 2);
    const lse = Math.log(z.reduce((s, x) => s + Math.exp(x), 0));
    const want = targets[n] < 0 ? 0 : logits.data[n * V + targets[n]] / 2 - lse;
    assert.ok(Math.abs(logprobs.data[n] - want) < 1e-12, `row ${n} logprob`);
    const H = -z.reduce((s, x) => s + Math.exp(x - lse) * (x - lse), 0);
    assert.ok(Math.abs(entropy.data[n] - H) < 1e-12, `row ${n} entropy`);
  }
});

test("lmHeadLogprobs: one chunk (probabilities kept) and many (recomputed) agree with the unfused ops", () => {
  const [N, C, V] = [5, 4, 7];
  const targets = Int32Array.from([3, -1, 6, 0, -1]);
  // kept by either budget; chunks of 2 rows, recomputed
  for (const [budget, keep] of [[1 << 20, 0], [2 * V, 1 << 20], [2 * V, 0]]) {
    gradcheck(`lmHead budget ${budget} keep ${keep}`, ([x, w]) => lmHeadLogprobs(x, w, targets, { temperature: 0.9 }, budget, keep).logprobs, [randn(rng, [N, C]), randn(rng, [V, C])]);
  }
  const x = randn(rng, [N, C]);
  const w = randn(rng, [V, C]);
  const fused = noGrad(() => lmHeadLogprobs(x, w, targets, {}, 2 * V, 0));
  const plain = noGrad(() => logSoftmaxGather(matmul(x, w, { transB: true }), targets));
  for (let n = 0; n < N; n++) {
    assert.ok(Math.abs(fused.logprobs.data[n] - plain.logprobs.data[n]) < 1e-12);
    // rows without a target are not projected at all: entropy 0
    assert.ok(Math.abs(fused.entropy.data[n] - (targets[n] < 0 ? 0 : plain.entropy.data[n])) < 1e-12);
  }
});

test("softmax, logSoftmax, sum, mean", () => {
  gradcheck("softmax", ([x]) => softmax(x), [randn(rng, [3, 5], 2)]);
  gradcheck("logSoftmax", ([x]) => logSoftmax(x), [randn(rng, [3, 5], 2)]);
  gradcheck("sum", ([x]) => sum(x), [randn(rng, [7])]);
  gradcheck("mean", ([x]) => mean(x), [randn(rng, [2, 3])]);
  const p = noGrad(() => softmax(randn(rng, [2, 4])));
  assert.ok(Math.abs(Array.from(p.data.slice(0, 4)).reduce((a, b) => a + b, 0) - 1) < 1e-12);
});

test("rope: gradient, norm preserved per pair, and relative positions", () => {
  gradcheck("rope", ([x]) => rope(x, { base: 100 }), [randn(rng, [2, 3, 2, 4])]);
  gradcheck("rope with offset", ([x]) => rope(x, { offset: 5 }), [randn(rng, [1, 2, 1, 6])]);
  // <rope(q, m), rope(k, n)> depends on m - n only
  const q = randn(rng, [1, 1, 1, 8]);
  const k = randn(rng, [1, 1, 1, 8]);
  const dot = (m: number, n: number): number => {
    const a = noGrad(() => rope(q, { offset: m })).data;
    const b = noGrad(() => rope(k, { offset: n })).data;
    return Array.from(a).reduce((s, v, i) => s + v * b[i], 0);
  };
  assert.ok(Math.abs(dot(7, 3) - dot(4, 0)) < 1e-12);
});

test("ropeQkv: gradient, and q, k rotated as rope rotates them while v passes through", () => {
  const [B, T, H, D] = [2, 3, 2, 4];
  const C = H * D;
  gradcheck("ropeQkv", ([x]) => ropeQkv(x, H, { base: 50, offset: 2 }), [randn(rng, [B, T, 3 * C])]);
  const qkv = randn(rng, [B, T, 3 * C]);
  const out = noGrad(() => ropeQkv(qkv, H)).data;
  for (const part of [0, 1, 2]) {
    const sub = new Float64Array(B * T * C);
    for (let r = 0; r < B * T; r++) sub.set(qkv.data.subarray(r * 3 * C + part * C, r * 3 * C + part * C + C), r * C);
    const want = part === 2 ? sub : noGrad(() => rope(new Tensor([B, T, H, D], sub))).data;
    for (let r = 0; r < B * T; r++) {
      for (let c = 0; c < C; c++) assert.ok(Math.abs(out[r * 3 * C + part * C + c] - want[r * C + c]) < 1e-12);
    }
  }
});

test("a Llama-style block composes from the ops: RMSNorm, RoPE attention, SwiGLU, residuals", () => {
  const [B, T, C, H] = [2, 4, 8, 2];
  const lengths = Int32Array.from([4, 3]);
  const block = ([x, n1, wqkv, wo, n2, w1, w3, w2]: Tensor[]): Tensor => {
    const qkv = ropeQkv(linear(rmsNorm(x, n1, 1e-6), wqkv, null), H);
    const h = add(x, linear(causalSelfAttention(qkv, H, lengths), wo, null));
    const g = rmsNorm(h, n2, 1e-6);
    return add(h, linear(mul(silu(linear(g, w1, null)), linear(g, w3, null)), w2, null));
  };
  const inputs = [
    randn(rng, [B, T, C]), randn(rng, [C]), randn(rng, [C, 3 * C], 0.5), randn(rng, [C, C], 0.5),
    randn(rng, [C]), randn(rng, [C, 2 * C], 0.5), randn(rng, [C, 2 * C], 0.5), randn(rng, [2 * C, C], 0.5),
  ];
  gradcheck("llama block", block, inputs, { maxPerInput: 12 });
});

test("linearT (nn.Linear's [out, in]) is linear with the transposed weight; tokenEmbedding scatter-adds", () => {
  gradcheck("linearT", ([x, w, b]) => linearT(x, w, b), [randn(rng, [2, 3, 4]), randn(rng, [6, 4]), randn(rng, [6])]);
  gradcheck("linearT without bias", ([x, w]) => linearT(x, w, null), [randn(rng, [5, 4]), randn(rng, [3, 4])]);
  const x = randn(rng, [3, 4]);
  const w = randn(rng, [5, 4]);
  const wt = new Tensor([4, 5], new Float64Array(20));
  for (let o = 0; o < 5; o++) for (let i = 0; i < 4; i++) wt.data[i * 5 + o] = w.data[o * 4 + i];
  const a = noGrad(() => linearT(x, w, null)).data;
  const b = noGrad(() => linear(x, wt, null)).data;
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-12);
  const tokens = Int32Array.from([1, 3, 1, 0, 1, 2]);
  gradcheck("tokenEmbedding", ([wte]) => tokenEmbedding(tokens, 2, 3, wte), [randn(rng, [4, 5])]);
});

test("swiglu: gradient, and the value silu(gate) * up", () => {
  gradcheck("swiglu", ([g, u]) => swiglu(g, u), [randn(rng, [3, 7], 2), randn(rng, [3, 7])]);
  const g = randn(rng, [9], 2);
  const u = randn(rng, [9]);
  const want = noGrad(() => mul(silu(g), u)).data;
  const got = noGrad(() => swiglu(g, u)).data;
  for (let i = 0; i < 9; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-12);
});

test("groupedQueryAttention: gradient with padding; KV = H is causalSelfAttention; a group shares its KV head", () => {
  const [B, T, H, KV, D] = [2, 5, 4, 2, 3];
  const lengths = Int32Array.from([5, 3]);
  gradcheck("gqa", ([q, k, v]) => groupedQueryAttention(q, k, v, H, KV, lengths), [randn(rng, [B, T, H * D]), randn(rng, [B, T, KV * D]), randn(rng, [B, T, KV * D])]);
  gradcheck("mqa", ([q, k, v]) => groupedQueryAttention(q, k, v, H, 1, null), [randn(rng, [B, T, H * D]), randn(rng, [B, T, D]), randn(rng, [B, T, D])]);
  // KV = H against the packed kernel
  const C = H * D;
  const qkv = randn(rng, [B, T, 3 * C]);
  const part = (p: number): Tensor => {
    const d = new Float64Array(B * T * C);
    for (let r = 0; r < B * T; r++) d.set(qkv.data.subarray(r * 3 * C + p * C, r * 3 * C + p * C + C), r * C);
    return new Tensor([B, T, C], d);
  };
  const want = noGrad(() => causalSelfAttention(qkv, H, lengths)).data;
  const got = noGrad(() => groupedQueryAttention(part(0), part(1), part(2), H, H, lengths)).data;
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-12);
  // GQA = multi-head attention with each KV head repeated over its group (HF's repeat_kv)
  const q = randn(rng, [B, T, H * D]);
  const k = randn(rng, [B, T, KV * D]);
  const v = randn(rng, [B, T, KV * D]);
  const rep = (t: Tensor): Tensor => {
    const d = new Float64Array(B * T * H * D);
    for (let r = 0; r < B * T; r++) for (let h = 0; h < H; h++) d.set(t.data.subarray(r * KV * D + Math.floor(h / (H / KV)) * D, r * KV * D + Math.floor(h / (H / KV)) * D + D), r * H * D + h * D);
    return new Tensor([B, T, H * D], d);
  };
  const g1 = noGrad(() => groupedQueryAttention(q, k, v, H, KV, lengths)).data;
  const g2 = noGrad(() => groupedQueryAttention(q, rep(k), rep(v), H, H, lengths)).data;
  for (let i = 0; i < g1.length; i++) assert.ok(Math.abs(g1[i] - g2[i]) < 1e-12);
});

test("gqaAttentionDecode over a cache of KV heads gives the full attention's last row", () => {
  const [B, T, H, KV, D] = [2, 6, 4, 2, 3];
  const q = randn(rng, [B, T, H * D]);
  const k = randn(rng, [B, T, KV * D]);
  const v = randn(rng, [B, T, KV * D]);
  const full = noGrad(() => groupedQueryAttention(q, k, v, H, KV, null)).data;
  const Tmax = 9;
  const kc = new Float64Array(B * KV * Tmax * D);
  const vc = new Float64Array(B * KV * Tmax * D);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < KV; j++) {
        const src = (b * T + t) * KV * D + j * D;
        kc.set(k.data.subarray(src, src + D), ((b * KV + j) * Tmax + t) * D);
        vc.set(v.data.subarray(src, src + D), ((b * KV + j) * Tmax + t) * D);
      }
    }
  }
  const pos = Int32Array.from([T - 1, 2]);
  const qs = new Float64Array(B * H * D);
  for (let b = 0; b < B; b++) qs.set(q.data.subarray((b * T + pos[b]) * H * D, (b * T + pos[b] + 1) * H * D), b * H * D);
  const out = new Float64Array(B * H * D);
  kernels.gqaAttentionDecode(qs, kc, vc, B, H, KV, D, Tmax, pos, out);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < H * D; i++) assert.ok(Math.abs(out[b * H * D + i] - full[(b * T + pos[b]) * H * D + i]) < 1e-12);
  }
});

test("ropeInvFreq: Hugging Face's llama3 scaling keeps high frequencies, divides low ones, interpolates between", () => {
  const D = 64;
  const base = 500000;
  const s = { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };
  const plain = ropeInvFreq(D, base);
  const scaled = ropeInvFreq(D, base, s);
  let kept = 0;
  let divided = 0;
  let between = 0;
  for (let i = 0; i < D / 2; i++) {
    assert.ok(Math.abs(plain[i] - Math.pow(base, -2 * i / D)) < 1e-15);
    const wavelen = 2 * Math.PI / plain[i];
    if (wavelen < 8192 / 4) {
      assert.equal(scaled[i], plain[i]);
      kept++;
    } else if (wavelen > 8192 / 1) {
      assert.ok(Math.abs(scaled[i] - plain[i] / 32) < 1e-18);
      divided++;
    } else {
      // smooth = (8192 / wavelen - 1) / 3 weights the unscaled frequency
      const smooth = (8192 / wavelen - 1) / 3;
      assert.ok(Math.abs(scaled[i] - ((1 - smooth) * plain[i] / 32 + smooth * plain[i])) < 1e-15);
      assert.ok(scaled[i] < plain[i] && scaled[i] > plain[i] / 32);
      between++;
    }
  }
  assert.ok(kept > 0 && divided > 0 && between > 0, `every regime is exercised (${kept}, ${between}, ${divided})`);
  // frequencies stay decreasing in i
  for (let i = 1; i < D / 2; i++) assert.ok(scaled[i] < scaled[i - 1]);
});

test("rope: per-row positions rotate each row as its own offset does; gradient with scaling and positions", () => {
  const scaling = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 };
  gradcheck("rope per-row", ([x]) => rope(x, { positions: Int32Array.from([3, 1200]), scaling }), [randn(rng, [2, 2, 2, 8])]);
  const x = randn(rng, [2, 3, 2, 8]);
  const positions = Int32Array.from([0, 1500]);
  const both = noGrad(() => rope(x, { base: 1e6, positions, scaling })).data;
  for (let b = 0; b < 2; b++) {
    const row = new Tensor([1, 3, 2, 8], x.data.slice(b * 48, (b + 1) * 48));
    const one = noGrad(() => rope(row, { base: 1e6, offset: positions[b], scaling })).data;
    for (let i = 0; i < 48; i++) assert.ok(Math.abs(both[b * 48 + i] - one[i]) < 1e-12);
  }
});

test("dropout: gradient through the mask; seeded; p = 0 is the identity", () => {
  const x = randn(rng, [50]);
  const mask = (seed: number): Float64Array => noGrad(() => dropout(x, 0.3, new Rng(seed))).data as Float64Array;
  assert.deepEqual(mask(4), mask(4));
  const y = mask(4);
  let zeros = 0;
  for (let i = 0; i < 50; i++) {
    if (y[i] === 0) zeros++;
    else assert.ok(Math.abs(y[i] - x.data[i] / 0.7) < 1e-12);
  }
  assert.ok(zeros > 5 && zeros < 30, `${zeros} of 50 dropped at p = 0.3`);
  gradcheck("dropout", ([a]) => dropout(a, 0.3, new Rng(9)), [randn(rng, [20])]);
  assert.equal(dropout(x, 0, new Rng(1)), x);
});

test("loraLinear: gradient of every input, with and without dropout; equals the composition x W^T + b + s (x A^T) B^T", () => {
  const x = randn(rng, [2, 3, 4]);
  const [w, b, a, bm] = [randn(rng, [5, 4]), randn(rng, [5]), randn(rng, [2, 4]), randn(rng, [5, 2])];
  gradcheck("loraLinear", ([x_, w_, b_, a_, bm_]) => loraLinear(x_, w_, b_, a_, bm_, 1.5), [x, w, b, a, bm]);
  gradcheck("loraLinear dropout", ([x_, a_, bm_]) => loraLinear(x_, w, null, a_, bm_, 0.5, { p: 0.4, rng: new Rng(3) }), [x, a, bm]);
  const got = noGrad(() => loraLinear(x, w, b, a, bm, 1.5)).data;
  const want = noGrad(() => add(linearT(x, w, b), scale(linearT(linearT(x, a, null), bm, null), 1.5))).data;
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-12);
  // dropout: the adapter sees dropout(x) with dropout's own mask for the same draws
  const dropped = noGrad(() => loraLinear(x, w, b, a, bm, 1.5, { p: 0.4, rng: new Rng(8) })).data;
  const xd = noGrad(() => dropout(x, 0.4, new Rng(8)));
  const viaOps = noGrad(() => add(linearT(x, w, b), scale(linearT(linearT(xd, a, null), bm, null), 1.5))).data;
  for (let i = 0; i < viaOps.length; i++) assert.ok(Math.abs(dropped[i] - viaOps[i]) < 1e-12);
});
