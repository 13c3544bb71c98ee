/**
 * TransformerLM facts for each family (Llama 3, Qwen2, Qwen3): HF names and shapes, HF's init, the whole
 * model's gradient against finite differences (float64, TypeScript kernels), padding invariance, native ==
 * TypeScript kernels, and LoRA's PEFT semantics (B = 0 scores as the base, adapters off is the base,
 * finite differences for A and B, frozen base weights).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FAMILY_PRESETS, parameterShapes, type DecoderConfig, type LoraConfig } from "../../src/engine/families/config.js";
import { INITIALIZER_RANGE, TransformerLM } from "../../src/engine/transformer.js";
import { Rng } from "../../src/util/rng.js";
import { checkParameterGrad } from "./gradcheck.js";
import { assertNativeMatchesTs, nativeSkip, randomBatch } from "./helpers.js";

const TINY = ["llama-tiny", "qwen2-tiny", "qwen3-tiny"] as const;

/** Smaller than the tiny presets, for the float64 finite differences (every choice of the family kept). */
function small(name: (typeof TINY)[number]): DecoderConfig {
  return { ...FAMILY_PRESETS[name], vocabSize: 13, hiddenSize: 8, intermediateSize: 12, nLayer: 2 };
}

/** Adds N(0, std) noise to every parameter (norms and zero biases included), so every path carries gradient. */
function perturb<F extends Float32Array | Float64Array>(data: F, rng: Rng, std: number): void {
  for (let i = 0; i < data.length; i++) data[i] += rng.normal() * std;
}

test("parameters: HF names, shapes and views; Qwen2.5-0.5B has 494,032,768 and Llama-3.2-1B 1,235,814,400", () => {
  const count = (c: DecoderConfig): number => parameterShapes(c).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(count(FAMILY_PRESETS["qwen2-0.5b"]), 494_032_768);
  assert.equal(count(FAMILY_PRESETS["llama-1b"]), 1_235_814_400);
  const m = new TransformerLM(FAMILY_PRESETS["qwen3-tiny"]);
  const byName = new Map(m.parameters().map((p) => [p.name, p]));
  assert.deepEqual(byName.get("model.layers.1.self_attn.q_proj.weight")!.shape, [64, 32]);
  assert.deepEqual(byName.get("model.layers.1.self_attn.k_proj.weight")!.shape, [16, 32]);
  assert.deepEqual(byName.get("model.layers.0.self_attn.q_norm.weight")!.shape, [16]);
  assert.ok(!byName.has("lm_head.weight"), "tied head: no lm_head.weight");
  assert.ok(new TransformerLM(FAMILY_PRESETS["qwen2-tiny"]).parameters().some((p) => p.name === "lm_head.weight"));
  for (const p of m.parameters()) {
    assert.ok(p.data.buffer === m.data.buffer && p.grad.buffer === m.grad.buffer, `${p.name} is a view into the one buffer`);
  }
  assert.throws(() => new TransformerLM({ ...FAMILY_PRESETS["qwen2-tiny"], qkvBias: false }), /qwen2 models have qkvBias = true/);
  assert.throws(() => new TransformerLM({ ...FAMILY_PRESETS["qwen2-tiny"], nKvHead: 3 }), /not a multiple of nKvHead/);
});

test("initialisation: matrices N(0, 0.02), norms 1, biases 0; deterministic", () => {
  const c: DecoderConfig = { ...FAMILY_PRESETS["qwen2-tiny"], hiddenSize: 64, vocabSize: 256 };
  const m = new TransformerLM(c);
  m.initialize(new Rng(3));
  const std = (a: Float32Array): number => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
  for (const p of m.parameters()) {
    if (p.name.endsWith("norm.weight")) assert.ok(p.data.every((x) => x === 1), p.name);
    else if (p.shape.length === 1) assert.ok(p.data.every((x) => x === 0), p.name);
    else assert.ok(Math.abs(std(p.data) / INITIALIZER_RANGE - 1) < 0.15, `${p.name}: std ${std(p.data)}`);
  }
  const again = new TransformerLM(c);
  again.initialize(new Rng(3));
  assert.deepEqual(again.data, m.data);
});

for (const name of TINY) {
  test(`${name}: whole-model gradient against finite differences (float64), padding, temperature and a mask`, () => {
    const c = small(name);
    const m = new TransformerLM<Float64Array>(c, { float64: true });
    const rng = new Rng(7);
    m.initialize(rng);
    perturb(m.data, rng, 0.3);
    const batch = randomBatch(rng, c.vocabSize, 2, 6, [6, 4]);
    const allowed = new Uint8Array(c.vocabSize).fill(1);
    allowed[2] = 0;
    for (let i = 0; i < batch.tokens.length; i++) if (batch.tokens[i] === 2) batch.tokens[i] = 5;
    const opts = { temperature: 0.9, allowed };
    const W = Float64Array.from({ length: 12 }, () => rng.normal());
    const objective = (): number => Array.from(m.logprobs(batch, opts).logprobs).reduce((s, x, i) => s + x * W[i], 0);
    m.zeroGrad();
    m.logprobsForTraining(batch, opts);
    m.backward(W);
    for (const p of m.parameters()) checkParameterGrad(p, [0, 1].map(() => rng.int(p.data.length)), objective);
  });

  test(`${name}: a padded row scores as the unpadded sequence`, () => {
    const c = FAMILY_PRESETS[name];
    const m = new TransformerLM(c);
    const rng = new Rng(11);
    m.initialize(rng);
    perturb(m.data, rng, 0.05);
    const T = 9;
    const padded = randomBatch(rng, c.vocabSize, 2, T, [T, 5]);
    for (let t = 5; t < T; t++) padded.tokens[T + t] = 1000; // padding may hold any id
    const alone = { tokens: padded.tokens.slice(T, T + 5), batch: 1, seqLen: 5, lengths: Int32Array.of(5) };
    const a = m.logprobs(padded);
    const b = m.logprobs(alone);
    for (let t = 0; t < 5; t++) {
      assert.ok(Math.abs(a.logprobs[T + t] - b.logprobs[t]) < 1e-5, `position ${t}`);
      assert.ok(Math.abs(a.entropy[T + t] - b.entropy[t]) < 1e-5);
    }
    for (let t = 4; t < T; t++) assert.equal(a.logprobs[T + t], 0, "no score at or past a row's last position");
  });

  test(`${name}: native kernels give the TypeScript kernels' log-probs and gradients`, { skip: nativeSkip }, () => {
    const c = FAMILY_PRESETS[name];
    const rng = new Rng(5);
    const batch = randomBatch(rng, c.vocabSize, 3, 20, [20, 13, 7]);
    const W = Float32Array.from({ length: 60 }, () => rng.normal());
    const run = (): { lp: Float32Array; grad: Float32Array } => {
      const m = new TransformerLM(c);
      m.initialize(new Rng(9));
      const lp = m.logprobsForTraining(batch).logprobs as Float32Array;
      m.backward(W);
      return { lp, grad: m.grad.slice() };
    };
    assertNativeMatchesTs(run);
  });
}

const LORA: LoraConfig = { r: 2, alpha: 6, dropout: 0, targetModules: "all-linear" };

test("LoRA: PEFT names and shapes; only the adapters are trained; base weights have no gradient buffer", () => {
  const c = FAMILY_PRESETS["llama-tiny"];
  const m = new TransformerLM(c, { lora: { ...LORA, targetModules: ["q_proj", "down_proj"] } });
  const names = m.parameters().map((p) => p.name);
  assert.deepEqual(names.slice(0, 4), [
    "model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.0.self_attn.q_proj.lora_B.weight",
    "model.layers.0.mlp.down_proj.lora_A.weight", "model.layers.0.mlp.down_proj.lora_B.weight",
  ]);
  assert.equal(names.length, 4 * c.nLayer);
  const shape = new Map(m.parameters().map((p) => [p.name, p.shape]));
  assert.deepEqual(shape.get("model.layers.0.self_attn.q_proj.lora_A.weight"), [2, 32]);
  assert.deepEqual(shape.get("model.layers.0.mlp.down_proj.lora_B.weight"), [32, 2]);
  assert.equal(m.baseGrad.length, 0);
  assert.ok(m.baseParameters().every((p) => p.grad.length === 0));
  assert.throws(() => new TransformerLM(c, { lora: { ...LORA, targetModules: ["qkv"] } }), /'qkv' is not a linear module/);
  // PEFT's init: A uniform in +-1/sqrt(in), B zero
  m.initialize(new Rng(1));
  const A = m.parameters()[0];
  const bound = 1 / Math.sqrt(32);
  assert.ok(A.data.every((x) => Math.abs(x) <= bound) && A.data.some((x) => Math.abs(x) > bound / 2));
  assert.ok(m.parameters()[1].data.every((x) => x === 0));
});

for (const name of TINY) {
  test(`${name} + LoRA: B = 0 scores exactly as the base; adapters off is the base; A and B against finite differences`, () => {
    const c = small(name);
    const rng = new Rng(21);
    const base = new TransformerLM<Float64Array>(c, { float64: true });
    base.initialize(rng);
    perturb(base.baseData, rng, 0.3);
    const m = new TransformerLM<Float64Array>(c, { float64: true, lora: LORA });
    m.baseData.set(base.baseData);
    m.initializeLora(rng);
    const batch = randomBatch(rng, c.vocabSize, 2, 5, [5, 3]);
    assert.deepEqual(m.logprobs(batch).logprobs, base.logprobs(batch).logprobs, "fresh adapters (B = 0) change nothing");
    perturb(m.loraData, rng, 0.3);
    const on = m.logprobs(batch).logprobs;
    m.adapters = false;
    assert.deepEqual(m.logprobs(batch).logprobs, base.logprobs(batch).logprobs, "adapters off is the base model");
    m.adapters = true;
    assert.ok(on.some((x, i) => Math.abs(x - base.logprobs(batch).logprobs[i]) > 1e-6), "trained adapters change the scores");
    const W = Float64Array.from({ length: 10 }, () => rng.normal());
    const objective = (): number => Array.from(m.logprobs(batch).logprobs).reduce((s, x, i) => s + x * W[i], 0);
    m.zeroGrad();
    m.logprobsForTraining(batch);
    m.backward(W);
    for (const p of m.parameters()) checkParameterGrad(p, [0, 1].map(() => rng.int(p.data.length)), objective);
  });
}

test("LoRA dropout: in training passes only, seeded (two models with one seed agree)", () => {
  const c = FAMILY_PRESETS["qwen2-tiny"];
  const make = (): TransformerLM => {
    const m = new TransformerLM(c, { lora: { ...LORA, dropout: 0.5 }, dropoutSeed: 4 });
    const rng = new Rng(2);
    m.initialize(rng);
    perturb(m.loraData, rng, 0.1);
    return m;
  };
  const a = make();
  const b = make();
  const batch = randomBatch(new Rng(3), c.vocabSize, 2, 6, [6, 6]);
  const scored = a.logprobs(batch).logprobs;
  const trainedA = a.logprobsForTraining(batch).logprobs;
  const trainedB = b.logprobsForTraining(batch).logprobs;
  assert.deepEqual(trainedA, trainedB, "the same dropout seed gives the same masks");
  assert.ok(trainedA.some((x, i) => Math.abs(x - scored[i]) > 1e-6), "dropout acts in a training pass");
  assert.deepEqual(a.logprobs(batch).logprobs, scored, "scoring passes have no dropout");
});

test("gradient checkpointing: the same log-probs and gradients (LoRA dropout replayed), less activation memory", () => {
  const c: DecoderConfig = { ...FAMILY_PRESETS["qwen3-tiny"], nLayer: 4 };
  const batch = randomBatch(new Rng(1), c.vocabSize, 2, 16, [16, 11]);
  const W = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
  for (const lora of [null, { ...LORA, dropout: 0.3 }]) {
    const run = (checkpointing: boolean): { lp: Float32Array; grad: Float32Array; bytes: number; next: Float32Array } => {
      const m = new TransformerLM(c, { lora, dropoutSeed: 3, gradientCheckpointing: checkpointing });
      const rng = new Rng(2);
      m.initialize(rng);
      perturb(m.loraData, rng, 0.1);
      const lp = m.logprobsForTraining(batch).logprobs as Float32Array;
      m.backward(W);
      // a second training pass: the dropout generator advanced alike
      const next = m.logprobsForTraining(batch).logprobs as Float32Array;
      m.backward(W);
      return { lp, grad: m.grad.slice(), bytes: m.arenaStats().bytes, next };
    };
    const plain = run(false);
    const ckpt = run(true);
    assert.deepEqual(ckpt.lp, plain.lp);
    assert.deepEqual(ckpt.next, plain.next);
    for (let i = 0; i < plain.grad.length; i++) assert.ok(Math.abs(ckpt.grad[i] - plain.grad[i]) <= 1e-6 * (1 + Math.abs(plain.grad[i])), `grad ${i}`);
    assert.ok(ckpt.bytes < plain.bytes, `checkpointing holds less: ${ckpt.bytes} vs ${plain.bytes} bytes`);
  }
});

test("gradient checkpointing: whole-model gradient against finite differences (float64)", () => {
  const c = small("llama-tiny");
  const m = new TransformerLM<Float64Array>(c, { float64: true, gradientCheckpointing: true });
  const rng = new Rng(17);
  m.initialize(rng);
  perturb(m.data, rng, 0.3);
  const batch = randomBatch(rng, c.vocabSize, 2, 5, [5, 3]);
  const W = Float64Array.from({ length: 10 }, () => rng.normal());
  const objective = (): number => Array.from(m.logprobs(batch).logprobs).reduce((s, x, i) => s + x * W[i], 0);
  m.zeroGrad();
  m.logprobsForTraining(batch);
  m.backward(W);
  for (const p of m.parameters()) checkParameterGrad(p, [rng.int(p.data.length)], objective);
});
