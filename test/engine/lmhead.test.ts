/**
 * The allowed-token LM head (src/engine/lmHead.ts, kvcache.ts, sample.ts): with a small allowed mask
 * only the allowed rows of wte are projected, in scoring, training and decoding. Facts checked: its
 * log-probs, entropies and gradients equal those of the full head with the mask (the unfused
 * matmul + logSoftmaxGather), its gradient matches finite differences, the decoder's logits are the full
 * logits at the allowed ids, and sampling chooses the tokens the full-vocabulary rule chooses.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Tape, backward, recording } from "../../src/engine/autograd.js";
import { GPT2, type GPT2Config, type TokenBatch } from "../../src/engine/gpt2.js";
import { kernels } from "../../src/engine/kernels/index.js";
import { Decoder } from "../../src/engine/kvcache.js";
import { ALLOWED_HEAD_FRACTION, allowedColumns, lmHeadLogprobs } from "../../src/engine/lmHead.js";
import { logSoftmaxGather, matmul } from "../../src/engine/ops/index.js";
import { chooseToken, generate, type SamplingRule } from "../../src/engine/sample.js";
import { Tensor } from "../../src/engine/tensor.js";
import { Rng } from "../../src/util/rng.js";
import { checkParameterGrad, gradcheck, randn } from "./gradcheck.js";

const V = 67;
/** 3 of 67 tokens: below V / ALLOWED_HEAD_FRACTION, so the allowed-token head is taken */
const ALLOWED_IDS = [5, 20, 61];
const CFG: GPT2Config = { vocabSize: V, contextLength: 12, nLayer: 2, nHead: 2, nEmbd: 16, layerNormEpsilon: 1e-5 };

function mask(ids: number[]): Uint8Array {
  const m = new Uint8Array(V);
  for (const i of ids) m[i] = 1;
  return m;
}

test("allowedColumns: the ids of a small mask, null for no mask or a large one", () => {
  assert.deepEqual(Array.from(allowedColumns(mask(ALLOWED_IDS), V)!), ALLOWED_IDS);
  assert.equal(allowedColumns(null, V), null);
  const big = Array.from({ length: Math.ceil(V / ALLOWED_HEAD_FRACTION) }, (_, i) => i);
  assert.equal(allowedColumns(mask(big), V), null);
});

/** Targets over the allowed ids, with -1 (no target) at every fourth row. */
function targetsFor(rng: Rng, N: number): Int32Array {
  return Int32Array.from({ length: N }, (_, i) => (i % 4 === 3 ? -1 : ALLOWED_IDS[rng.int(ALLOWED_IDS.length)]));
}

for (const float64 of [false, true]) {
  test(`allowed-token head == full head with the mask: log-probs, entropy, d x, d wte (${float64 ? "float64" : "float32"}, ${kernels.name} kernels)`, () => {
    const rng = new Rng(4);
    const N = 9;
    const C = 16;
    const make = (n: number, std: number): Float32Array | Float64Array => {
      const d = float64 ? new Float64Array(n) : new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = rng.normal() * std;
      return d;
    };
    const xd = make(N * C, 1);
    const wd = make(V * C, 0.5);
    const targets = targetsFor(rng, N);
    const dOut = make(N, 1);
    const opts = { temperature: 0.7, allowed: mask(ALLOWED_IDS) };
    const run = (fused: boolean): { lp: number[]; ent: number[]; dx: number[]; dw: number[] } => {
      const x = new Tensor([N, C], xd.slice(), true);
      const wte = new Tensor([V, C], wd.slice(), true);
      const tape = new Tape();
      const out = recording(tape, () => {
        if (fused) return lmHeadLogprobs(x, wte, targets, opts);
        return logSoftmaxGather(matmul(x, wte, { transB: true }), targets, opts);
      });
      backward(tape, out.logprobs, dOut);
      return { lp: Array.from(out.logprobs.data), ent: Array.from(out.entropy.data), dx: Array.from(x.grad!), dw: Array.from(wte.grad!) };
    };
    const a = run(true);
    const b = run(false);
    const tol = float64 ? 1e-12 : 2e-5;
    for (const k of ["lp", "ent", "dx", "dw"] as const) {
      for (let i = 0; i < a[k].length; i++) {
        if (k === "ent" && targets[i] < 0) continue; // the fused head skips rows without a target
        assert.ok(Math.abs(a[k][i] - b[k][i]) <= tol * (1 + Math.abs(b[k][i])), `${k}[${i}]: ${a[k][i]} vs ${b[k][i]}`);
      }
    }
    // rows of wte outside the mask get no gradient
    for (let v = 0; v < V; v++) if (!ALLOWED_IDS.includes(v)) for (let c = 0; c < C; c++) assert.equal(a.dw[v * C + c], 0);
  });
}

test(`full head, float32 (${kernels.name} kernels): probabilities kept in place and chunks recomputed both equal the unfused ops`, () => {
  const rng = new Rng(6);
  const [N, C] = [9, 16];
  const targets = Int32Array.from({ length: N }, (_, i) => (i % 4 === 3 ? -1 : rng.int(V)));
  const xd = randn(rng, [N, C]).data;
  const wd = randn(rng, [V, C], 0.5).data;
  const dOut = randn(rng, [N]).data;
  const run = (fn: (x: Tensor, w: Tensor) => { logprobs: Tensor; entropy: Tensor }): number[][] => {
    const x = new Tensor([N, C], Float32Array.from(xd), true);
    const wte = new Tensor([V, C], Float32Array.from(wd), true);
    const tape = new Tape();
    const out = recording(tape, () => fn(x, wte));
    backward(tape, out.logprobs, Float32Array.from(dOut));
    const ent = Array.from(out.entropy.data, (e, n) => (targets[n] < 0 ? 0 : e)); // rows without a target are not projected
    return [Array.from(out.logprobs.data), ent, Array.from(x.grad!), Array.from(wte.grad!)];
  };
  const want = run((x, w) => logSoftmaxGather(matmul(x, w, { transB: true }), targets, { temperature: 0.8 }));
  // kept (default budgets), kept under a chunk budget of its own size, chunks of 2 rows recomputed
  for (const [budget, keep] of [[undefined, undefined], [N * V, 0], [2 * V, 0]]) {
    const got = run((x, w) => lmHeadLogprobs(x, w, targets, { temperature: 0.8 }, budget, keep));
    got.forEach((g, k) => g.forEach((v, i) => assert.ok(Math.abs(v - want[k][i]) <= 2e-5 * (1 + Math.abs(want[k][i])), `budget ${budget} keep ${keep}: output ${k}[${i}] ${v} vs ${want[k][i]}`)));
  }
});

test("allowed-token head: gradient against finite differences (float64)", () => {
  const rng = new Rng(5);
  const N = 6;
  const C = 8;
  const targets = targetsFor(rng, N);
  const opts = { temperature: 1.3, allowed: mask(ALLOWED_IDS) };
  const x = randn(rng, [N, C]);
  const wte = randn(rng, [V, C], 0.5);
  gradcheck("lmHeadLogprobs (allowed-token head)", ([a, w]) => lmHeadLogprobs(a, w, targets, opts).logprobs, [x, wte], { maxPerInput: 60 });
  // the rows of the chunked path (logits recomputed in the backward) too
  gradcheck("lmHeadLogprobs (allowed-token head, chunks of 2 rows)", ([a, w]) => lmHeadLogprobs(a, w, targets, opts, 2 * ALLOWED_IDS.length, 0).logprobs, [x, wte], { maxPerInput: 60 });
});

function model(seed: number, float64 = false): GPT2<Float32Array | Float64Array> {
  const m = new GPT2<Float32Array | Float64Array>(CFG, { float64 });
  m.initialize(new Rng(seed));
  const rng = new Rng(seed + 100);
  for (let i = 0; i < m.data.length; i++) m.data[i] += rng.normal() * 0.2;
  return m;
}

test("a GPT-2 trained through the allowed-token head matches finite differences (float64)", () => {
  const m = model(1, true);
  const rng = new Rng(6);
  const B = 3;
  const T = 6;
  const tokens = Int32Array.from({ length: B * T }, () => ALLOWED_IDS[rng.int(3)]);
  const batch: TokenBatch = { tokens, batch: B, seqLen: T, lengths: Int32Array.from([6, 4, 2]) };
  const opts = { temperature: 0.9, allowed: mask(ALLOWED_IDS) };
  const W = Float64Array.from({ length: B * T }, () => rng.normal());
  const objective = (): number => Array.from(m.logprobs(batch, opts).logprobs).reduce((s, x, i) => s + x * W[i], 0);
  m.zeroGrad();
  m.logprobsForTraining(batch, opts);
  m.backward(W);
  for (const p of m.parameters()) {
    const picks = p.name === "wte.weight" ? ALLOWED_IDS.map((id) => id * CFG.nEmbd + 3).concat([7 * CFG.nEmbd]) : [0, 1, 2].map(() => rng.int(p.data.length));
    checkParameterGrad(p, picks, objective);
  }
});

test("decoder with columns: the full logits at the allowed ids", () => {
  const m = model(2);
  const cols = Int32Array.from(ALLOWED_IDS);
  const prompts = [Int32Array.from([1, 2, 3]), Int32Array.from([4]), Int32Array.from([1, 2, 3])];
  const full = new Decoder(m, 3, 8);
  const part = new Decoder(m, 3, 8, cols);
  let lf = full.prefill(prompts);
  let lc = part.prefill(prompts);
  for (let step = 0; step < 4; step++) {
    for (let b = 0; b < 3; b++) {
      for (let a = 0; a < cols.length; a++) {
        const f = lf[b * V + cols[a]];
        assert.ok(Math.abs(lc[b * cols.length + a] - f) <= 1e-5 * (1 + Math.abs(f)), `step ${step} row ${b} id ${cols[a]}`);
      }
    }
    const next = Int32Array.from([5, 20, 61]);
    lf = full.step(next);
    lc = part.step(next);
  }
});

test("sampling with a small mask chooses what the full-vocabulary rule chooses", () => {
  const m = model(3);
  const allowed = mask(ALLOWED_IDS);
  const prompts = [Int32Array.from([1, 2]), Int32Array.from([1, 2]), Int32Array.from([9])];
  const rules: SamplingRule[] = [
    { temperature: 1, topK: 0, topP: 1, allowed },
    { temperature: 0.5, topK: 2, topP: 1, allowed },
    { temperature: 1, topK: 0, topP: 0.6, allowed },
    { temperature: 0, topK: 0, topP: 1, allowed },
  ];
  for (const rule of rules) {
    const fast = generate(m, prompts, { ...rule, maxNewTokens: 6, rng: new Rng(11) });
    // the reference: full logits, the mask applied by the rule, the same draws
    const rng = new Rng(11);
    const dec = new Decoder(m, 3, 8);
    let logits = dec.prefill(prompts);
    const probs = new Float32Array(3 * V);
    const ref: number[][] = [[], [], []];
    for (let step = 0; step < 6; step++) {
      if (rule.temperature > 0) kernels.logSoftmaxGather(logits, 3, V, new Int32Array(3).fill(-1), 1 / rule.temperature, allowed, new Float32Array(3), new Float32Array(3), probs);
      const next = new Int32Array(3);
      for (let b = 0; b < 3; b++) {
        next[b] = chooseToken(logits.subarray(b * V, (b + 1) * V), probs.subarray(b * V, (b + 1) * V), rule, rng);
        ref[b].push(next[b]);
      }
      if (step < 5) logits = dec.step(next);
    }
    assert.deepEqual(fast.map((c) => Array.from(c)), ref, JSON.stringify(rule));
  }
});
