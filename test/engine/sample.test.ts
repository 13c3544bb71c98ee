/**
 * KV-cache decoding against full recomputation, and the sampling rule of src/engine/sample.ts:
 * seeded reproducibility, allowed mask, top-k, top-p, stop tokens, greedy.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GPT2, type GPT2Config } from "../../src/engine/gpt2.js";
import { tsKernels } from "../../src/engine/kernels/index.js";
import { Decoder } from "../../src/engine/kvcache.js";
import { chooseToken, generate } from "../../src/engine/sample.js";
import { Rng } from "../../src/util/rng.js";
import { nativeSkip, withKernels } from "./helpers.js";

const CFG: GPT2Config = { vocabSize: 13, contextLength: 12, nLayer: 2, nHead: 2, nEmbd: 16, layerNormEpsilon: 1e-5 };

function model(seed = 1): GPT2 {
  const m = new GPT2(CFG);
  m.initialize(new Rng(seed));
  // sharper than GPT-2's init so the distributions are far from uniform
  const rng = new Rng(seed + 100);
  for (let i = 0; i < m.data.length; i++) m.data[i] += rng.normal() * 0.2;
  return m;
}

test("KV-cache decoding gives the logits of a full recomputation", () => {
  const m = model();
  const V = CFG.vocabSize;
  // rows 0 and 2 share a prompt (a GRPO group): the prefill runs it once
  const prompts = [Int32Array.from([1, 2, 3]), Int32Array.from([4]), Int32Array.from([1, 2, 3]), Int32Array.from([5, 6, 7, 8, 9])];
  const R = prompts.length;
  const Tmax = 10;
  const dec = new Decoder(m, R, Tmax);
  const seqs = prompts.map((p) => Array.from(p));
  let logits = dec.prefill(prompts).slice();
  const rng = new Rng(3);
  for (let step = 0; step < 5; step++) {
    // full recomputation of every row as it stands
    const T = Math.max(...seqs.map((s) => s.length));
    const tokens = new Int32Array(R * T);
    seqs.forEach((s, b) => tokens.set(s, b * T));
    const full = m.logits({ tokens, batch: R, seqLen: T, lengths: Int32Array.from(seqs.map((s) => s.length)) });
    for (let b = 0; b < R; b++) {
      const last = (b * T + seqs[b].length - 1) * V;
      for (let v = 0; v < V; v++) {
        assert.ok(Math.abs(logits[b * V + v] - full[last + v]) < 1e-5, `step ${step} row ${b} token ${v}: ${logits[b * V + v]} vs ${full[last + v]}`);
      }
    }
    const next = Int32Array.from({ length: R }, () => rng.int(V));
    seqs.forEach((s, b) => s.push(next[b]));
    logits = dec.step(next).slice();
  }
});

test("sampling is reproducible with a seed and differs with another", () => {
  const m = model();
  const prompts = [Int32Array.from([1, 2]), Int32Array.from([3]), Int32Array.from([4, 5, 6])];
  const opts = { maxNewTokens: 6, temperature: 1, topK: 0, topP: 1 };
  const a = generate(m, prompts, { ...opts, rng: new Rng(42) });
  const b = generate(m, prompts, { ...opts, rng: new Rng(42) });
  const c = generate(m, prompts, { ...opts, rng: new Rng(43) });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.ok(a.every((r) => r.length === 6));
});

test("sampling stops at a stop token (kept), at maxNewTokens and at the context length", () => {
  const m = model();
  const prompts = Array.from({ length: 8 }, (_, i) => Int32Array.of(i));
  const out = generate(m, prompts, { maxNewTokens: 8, temperature: 1.5, topK: 0, topP: 1, stopTokens: [2, 3], rng: new Rng(1) });
  let stopped = 0;
  for (const row of out) {
    const at = row.findIndex((t) => t === 2 || t === 3);
    if (at >= 0) {
      stopped++;
      assert.equal(at, row.length - 1, "nothing follows the stop token");
    } else assert.equal(row.length, 8);
  }
  assert.ok(stopped > 0, "some row hit a stop token");
  const long = generate(m, [Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])], { maxNewTokens: 5, temperature: 1, topK: 0, topP: 1, rng: new Rng(1) });
  assert.equal(long[0].length, CFG.contextLength - 10, "a row ends at the context length");
});

test("the allowed mask: only allowed tokens are sampled", () => {
  const m = model();
  const allowed = new Uint8Array(CFG.vocabSize);
  allowed[4] = allowed[7] = 1;
  const out = generate(m, [Int32Array.of(1), Int32Array.of(2)], { maxNewTokens: 10, temperature: 2, topK: 0, topP: 1, allowed, rng: new Rng(5) });
  for (const row of out) for (const t of row) assert.ok(t === 4 || t === 7);
  const seen = new Set(out.flatMap((r) => Array.from(r)));
  assert.equal(seen.size, 2, "both allowed tokens occur at temperature 2");
});

test("chooseToken: greedy, top-k and top-p keep exactly the tokens the rule names", () => {
  const logits = Float64Array.from([0, Math.log(4), Math.log(2), Math.log(1), Math.log(3)]);
  // p over 5 tokens proportional to [1, 4, 2, 1, 3] / 11
  const probs = Float64Array.from([1, 4, 2, 1, 3].map((x) => x / 11));
  const draws = (rule: { temperature: number; topK: number; topP: number }): Set<number> => {
    const rng = new Rng(11);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(chooseToken(logits, probs, rule, rng));
    return seen;
  };
  assert.deepEqual(draws({ temperature: 0, topK: 0, topP: 1 }), new Set([1]));
  assert.deepEqual(draws({ temperature: 1, topK: 2, topP: 1 }), new Set([1, 4]));
  assert.deepEqual(draws({ temperature: 1, topK: 0, topP: 1 }), new Set([0, 1, 2, 3, 4]));
  // mass in order: 4/11 (0.36), +3/11 (0.64), +2/11 (0.82), ...
  assert.deepEqual(draws({ temperature: 1, topK: 0, topP: 0.3 }), new Set([1]));
  assert.deepEqual(draws({ temperature: 1, topK: 0, topP: 0.5 }), new Set([1, 4]));
  assert.deepEqual(draws({ temperature: 1, topK: 0, topP: 0.7 }), new Set([1, 4, 2]));
  // top-k then top-p renormalised over the k kept: 4/7 = 0.57 >= 0.55
  assert.deepEqual(draws({ temperature: 1, topK: 2, topP: 0.55 }), new Set([1]));
  // ties in top-k: the lower id wins
  const tie = Float64Array.from([0.25, 0.25, 0.25, 0.25]);
  const rng = new Rng(2);
  for (let i = 0; i < 200; i++) assert.ok(chooseToken(tie, tie, { temperature: 1, topK: 2, topP: 1 }, rng) <= 1);
});

test("sampled frequencies follow the temperature-scaled softmax", () => {
  const logits = Float64Array.from([1, 2, 0.5]);
  const T = 0.5;
  const z = Array.from(logits, (x) => Math.exp(x / T));
  const s = z.reduce((a, b) => a + b, 0);
  const probs = Float64Array.from(z, (x) => x / s);
  const rng = new Rng(8);
  const counts = [0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[chooseToken(logits, probs, { temperature: T, topK: 0, topP: 1 }, rng)]++;
  for (let v = 0; v < 3; v++) assert.ok(Math.abs(counts[v] / n - probs[v]) < 0.015, `token ${v}: ${counts[v] / n} vs ${probs[v]}`);
});

test("top-p keeps exactly the reference nucleus (sorted by p, then id), ties included", () => {
  const rng = new Rng(21);
  for (let trial = 0; trial < 30; trial++) {
    const V = 50 + rng.int(200);
    // coarse values so that ties are common
    const w = Float64Array.from({ length: V }, () => (rng.int(4) === 0 ? 0 : 1 + rng.int(6)));
    w[rng.int(V)] = 3;
    const total = w.reduce((a, b) => a + b, 0);
    const probs = Float64Array.from(w, (x) => x / total);
    const topP = 0.05 + 0.9 * rng.next();
    const order = Array.from({ length: V }, (_, i) => i).filter((i) => probs[i] > 0).sort((a, b) => probs[b] - probs[a] || a - b);
    const want = new Set<number>();
    let cum = 0;
    for (const i of order) {
      want.add(i);
      cum += probs[i];
      if (cum >= topP * (1 - 1e-12)) break;
    }
    const seen = new Set<number>();
    const r = new Rng(trial);
    for (let k = 0; k < 3000; k++) seen.add(chooseToken(probs, probs, { temperature: 1, topK: 0, topP }, r));
    for (const t of seen) assert.ok(want.has(t), `trial ${trial}: token ${t} is outside the nucleus`);
    if (want.size <= 8) assert.equal(seen.size, want.size, `trial ${trial}: every nucleus token is drawn`);
  }
});

test("KV-cache decoding: native kernels give the TypeScript kernels' logits", { skip: nativeSkip }, () => {
  const m = model(7);
  const run = (): Float32Array[] => {
    const dec = new Decoder(m, 2, 9);
    const out = [dec.prefill([Int32Array.from([1, 2, 3]), Int32Array.from([4])]).slice()];
    for (let s = 0; s < 4; s++) out.push(dec.step(Int32Array.from([s, 2 * s + 1])).slice());
    return out;
  };
  const nat = run();
  const ts = withKernels(tsKernels, run);
  for (let s = 0; s < nat.length; s++) {
    for (let i = 0; i < nat[s].length; i++) assert.ok(Math.abs(nat[s][i] - ts[s][i]) < 1e-4, `step ${s} logit ${i}: ${nat[s][i]} vs ${ts[s][i]}`);
  }
});
