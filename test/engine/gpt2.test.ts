/**
 * GPT-2 facts: the contract's parameter layout, GPT-2 initialisation, the whole model's gradient against
 * finite differences (float64, TypeScript kernels), padding invariance, and native == TypeScript kernels.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GPT2, GPT2_PRESETS, INIT_STD, parameterShapes, type GPT2Config } from "../../src/engine/gpt2.js";
import { nativeKernels } from "../../src/engine/kernels/index.js";
import { Rng } from "../../src/util/rng.js";
import { checkParameterGrad } from "./gradcheck.js";
import { assertNativeMatchesTs, nativeSkip, randomBatch } from "./helpers.js";

const TINY: GPT2Config = { vocabSize: 11, contextLength: 8, nLayer: 2, nHead: 2, nEmbd: 8, layerNormEpsilon: 1e-5 };

test("parameters: Hugging Face names, shapes and order; GPT-2 small has 124,439,808", () => {
  const shapes = parameterShapes(GPT2_PRESETS["gpt2-small"]);
  const total = shapes.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(total, 124_439_808);
  const m = new GPT2(TINY);
  const names = m.parameters().map((p) => p.name);
  assert.deepEqual(names.slice(0, 4), ["wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.ln_1.bias"]);
  assert.deepEqual(names.slice(-2), ["ln_f.weight", "ln_f.bias"]);
  assert.equal(names.length, 2 + 12 * TINY.nLayer + 2);
  const byName = new Map(m.parameters().map((p) => [p.name, p]));
  assert.deepEqual(byName.get("h.1.attn.c_attn.weight")!.shape, [8, 24]);
  assert.deepEqual(byName.get("h.1.mlp.c_proj.weight")!.shape, [32, 8]);
  for (const p of m.parameters()) {
    assert.ok(p.data.buffer === m.data.buffer && p.grad.buffer === m.grad.buffer, `${p.name} is a view into the one buffer`);
    assert.equal(p.data.length, p.shape.reduce((a, b) => a * b, 1));
  }
});

test("initialisation: N(0, 0.02), residual projections / sqrt(2 nLayer), LayerNorm 1 and 0, biases 0", () => {
  const cfg: GPT2Config = { ...TINY, vocabSize: 64, nEmbd: 64, nHead: 4, nLayer: 3, contextLength: 32 };
  const m = new GPT2(cfg);
  m.initialize(new Rng(5));
  const std = (a: Float32Array): number => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
  for (const p of m.parameters()) {
    if (/ln_[12f]\.weight$/.test(p.name)) assert.ok(p.data.every((x) => x === 1), p.name);
    else if (p.shape.length === 1) assert.ok(p.data.every((x) => x === 0), p.name);
    else {
      const want = p.name.endsWith("c_proj.weight") ? INIT_STD / Math.sqrt(2 * cfg.nLayer) : INIT_STD;
      assert.ok(Math.abs(std(p.data) / want - 1) < 0.1, `${p.name}: std ${std(p.data)}, want ${want}`);
    }
  }
  const again = new GPT2(cfg);
  again.initialize(new Rng(5));
  assert.deepEqual(again.data, m.data, "the same seed gives the same weights");
});

test("whole-model gradient against finite differences (float64), with padding, temperature and a mask", () => {
  const m = new GPT2<Float64Array>(TINY, { float64: true });
  m.initialize(new Rng(1));
  // larger weights than GPT-2's 0.02 so every path carries a visible gradient
  const rng = new Rng(2);
  for (let i = 0; i < m.data.length; i++) m.data[i] += rng.normal() * 0.3;
  const batch = randomBatch(rng, TINY.vocabSize, 3, 6, [6, 4, 2]);
  const allowed = new Uint8Array(TINY.vocabSize).fill(1);
  allowed[3] = 0;
  for (let i = 0; i < batch.tokens.length; i++) if (batch.tokens[i] === 3) batch.tokens[i] = 4;
  const opts = { temperature: 0.8, allowed };
  const W = Float64Array.from({ length: 18 }, () => rng.normal());
  const objective = (): number => {
    const lp = m.logprobs(batch, opts).logprobs;
    return Array.from(lp).reduce((s, x, i) => s + x * W[i], 0);
  };
  m.zeroGrad();
  m.logprobsForTraining(batch, opts);
  m.backward(W);
  for (const p of m.parameters()) {
    checkParameterGrad(p, [0, 1, 2].map(() => rng.int(p.data.length)), objective);
  }
});

test("padding does not change the log-probs of the unpadded positions", () => {
  const m = new GPT2(TINY);
  m.initialize(new Rng(3));
  const rng = new Rng(4);
  const row = Int32Array.from([1, 5, 2, 9]);
  const alone = m.logprobs({ tokens: row, batch: 1, seqLen: 4, lengths: Int32Array.of(4) });
  // the same row padded to 8 with garbage (even out-of-vocabulary ids), next to a full row
  const tokens = new Int32Array(16);
  tokens.set(row);
  tokens.set([-1, 99, 7, 3], 4);
  for (let i = 8; i < 16; i++) tokens[i] = rng.int(TINY.vocabSize);
  const padded = m.logprobs({ tokens, batch: 2, seqLen: 8, lengths: Int32Array.of(4, 8) });
  for (let t = 0; t < 3; t++) {
    assert.ok(Math.abs(padded.logprobs[t] - alone.logprobs[t]) < 1e-6, `position ${t}`);
    assert.ok(Math.abs(padded.entropy[t] - alone.entropy[t]) < 1e-6, `entropy ${t}`);
  }
  for (let t = 3; t < 8; t++) assert.equal(padded.logprobs[t], 0, "positions past the length are 0");
});

test("native kernels give the TypeScript kernels' log-probs and gradients", { skip: nativeSkip }, () => {
  const cfg: GPT2Config = { vocabSize: 37, contextLength: 16, nLayer: 2, nHead: 4, nEmbd: 32, layerNormEpsilon: 1e-5 };
  const run = (): { lp: Float32Array; grad: Float32Array } => {
    const m = new GPT2(cfg);
    m.initialize(new Rng(9));
    const batch = randomBatch(new Rng(10), cfg.vocabSize, 3, 12, [12, 7, 3]);
    m.zeroGrad();
    const lp = m.logprobsForTraining(batch, { temperature: 0.9 }).logprobs as Float32Array;
    m.backward(Float32Array.from({ length: lp.length }, (_, i) => Math.sin(i)));
    return { lp, grad: m.grad.slice() };
  };
  assertNativeMatchesTs(run);
});

test("allocate once: a training step of the same or a smaller shape creates no activation buffers", () => {
  const m = new GPT2(TINY);
  m.initialize(new Rng(1));
  const rng = new Rng(2);
  const step = (B: number, T: number): void => {
    const b = randomBatch(rng, TINY.vocabSize, B, T, new Array(B).fill(T));
    m.zeroGrad();
    const lp = m.logprobsForTraining(b).logprobs;
    m.backward(new Float32Array(lp.length).fill(-1));
  };
  step(4, 8);
  const first = m.arenaStats().allocations;
  assert.ok(first > 0);
  step(4, 8);
  step(4, 8);
  step(3, 5);
  assert.equal(m.arenaStats().allocations, first);
});

test("inference holds one layer's activations whatever the depth", () => {
  const bytes = (nLayer: number): number => {
    const m = new GPT2({ ...TINY, nLayer });
    m.initialize(new Rng(1));
    m.logprobs(randomBatch(new Rng(2), TINY.vocabSize, 4, 8, [8, 8, 5, 1]));
    return m.arenaStats().bytes;
  };
  assert.equal(bytes(6), bytes(2));
});

test("backward holds the activation gradients of about one layer whatever the depth", () => {
  const gradBytes = (nLayer: number): number => {
    const m = new GPT2({ ...TINY, nLayer });
    m.initialize(new Rng(1));
    const lp = m.logprobsForTraining(randomBatch(new Rng(2), TINY.vocabSize, 4, 8, [8, 8, 5, 1])).logprobs;
    m.backward(new Float32Array(lp.length).fill(1));
    return m.arenaStats().gradBytes;
  };
  assert.equal(gradBytes(6), gradBytes(2));
});

test("micro-batches of two shapes in turn allocate nothing after the first round", () => {
  const m = new GPT2(TINY);
  m.initialize(new Rng(1));
  const rng = new Rng(2);
  const pass = (B: number, T: number): void => {
    const lp = m.logprobsForTraining(randomBatch(rng, TINY.vocabSize, B, T, new Array(B).fill(T))).logprobs;
    m.backward(new Float32Array(lp.length).fill(-1));
  };
  pass(4, 8);
  pass(2, 3);
  const first = m.arenaStats().allocations;
  for (let i = 0; i < 12; i++) {
    pass(4, 8);
    pass(2, 3);
  }
  assert.equal(m.arenaStats().allocations, first);
});

test("native results do not depend on the thread count (bit for bit)", { skip: nativeSkip }, () => {
  const cfg: GPT2Config = { vocabSize: 53, contextLength: 32, nLayer: 2, nHead: 4, nEmbd: 64, layerNormEpsilon: 1e-5 };
  const run = (): { lp: Float32Array; grad: Float32Array } => {
    const m = new GPT2(cfg);
    m.initialize(new Rng(9));
    const batch = randomBatch(new Rng(10), cfg.vocabSize, 4, 24, [24, 17, 9, 24]);
    const lp = m.logprobsForTraining(batch).logprobs as Float32Array;
    m.backward(Float32Array.from({ length: lp.length }, (_, i) => Math.cos(i)));
    return { lp, grad: m.grad.slice() };
  };
  const native = nativeKernels!;
  const before = native.getThreads();
  try {
    native.setThreads(1);
    const one = run();
    native.setThreads(Math.max(2, before));
    const many = run();
    assert.deepEqual(many.lp, one.lp);
    assert.deepEqual(many.grad, one.grad);
  } finally {
    native.setThreads(before);
  }
});

test("gradient checkpointing: GPT-2's log-probs and gradients unchanged, less activation memory", () => {
  const cfg: GPT2Config = { ...TINY, nLayer: 4 };
  const batch = randomBatch(new Rng(3), cfg.vocabSize, 2, 8, [8, 5]);
  const W = Float32Array.from({ length: 16 }, (_, i) => Math.cos(i));
  const run = (checkpointing: boolean): { lp: Float32Array; grad: Float32Array; bytes: number } => {
    const m = new GPT2(cfg);
    m.initialize(new Rng(4));
    m.gradientCheckpointing = checkpointing;
    const lp = m.logprobsForTraining(batch).logprobs as Float32Array;
    m.backward(W);
    return { lp, grad: m.grad.slice(), bytes: m.arenaStats().bytes };
  };
  const plain = run(false);
  const ckpt = run(true);
  assert.deepEqual(ckpt.lp, plain.lp);
  for (let i = 0; i < plain.grad.length; i++) assert.ok(Math.abs(ckpt.grad[i] - plain.grad[i]) <= 1e-6 * (1 + Math.abs(plain.grad[i])), `grad ${i}`);
  assert.ok(ckpt.bytes < plain.bytes);
});
