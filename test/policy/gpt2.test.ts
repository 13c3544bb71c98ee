/** GPT2Policy through the model interface the trainer sees (src/rl/policy.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createPolicy, GPT2Policy } from "../../src/policy/index.js";
import type { GPT2Config } from "../../src/engine/gpt2.js";
import type { SequenceBatch } from "../../src/rl/policy.js";
import { UserError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { trainStep } from "./helpers.js";

const CFG: GPT2Config = { vocabSize: 9, contextLength: 10, nLayer: 2, nHead: 2, nEmbd: 16, layerNormEpsilon: 1e-5 };

function batch(seed: number): SequenceBatch {
  const rng = new Rng(seed);
  const B = 3;
  const T = 7;
  const tokens = Int32Array.from({ length: B * T }, () => rng.int(CFG.vocabSize));
  return { tokens, batch: B, seqLen: T, lengths: Int32Array.from([7, 5, 2]) };
}

test("scores are [batch, seqLen - 1], 0 past each row's length, and training raises them", async () => {
  const p = await createPolicy(CFG, { seed: 1 });
  const b = batch(2);
  const s0 = p.score(b);
  assert.equal(s0.logprobs.length, 3 * 6);
  for (let t = 1; t < 6; t++) assert.equal(s0.logprobs[2 * 6 + t], 0, "row 2 has one scored position");
  assert.ok(s0.logprobs[2 * 6] < 0 && s0.entropy[2 * 6] > 0);
  const tr = p.scoreForTraining(b);
  assert.deepEqual(tr.logprobs, s0.logprobs, "score and scoreForTraining agree");
  p.zeroGrad();
  const mean = (x: Float32Array): number => x.reduce((a, v) => a + v, 0);
  for (let i = 0; i < 20; i++) trainStep(p, b);
  assert.ok(mean(p.score(b).logprobs) > mean(s0.logprobs) + 1, "20 steps of ascent raise the log-likelihood");
});

test("exportState / importState round-trip exactly: continued training is bit-identical", async () => {
  const a = await createPolicy(CFG, { seed: 3, weightDecay: 0.1, adamBeta2: 0.99 });
  for (let i = 0; i < 3; i++) trainStep(a, batch(i));
  const state = a.exportState();
  const b = await createPolicy(CFG, { seed: 99, weightDecay: 0.1, adamBeta2: 0.99 });
  b.importState(structuredClone(state));
  for (let i = 3; i < 6; i++) {
    const na = trainStep(a, batch(i));
    const nb = trainStep(b, batch(i));
    assert.equal(na, nb);
  }
  const ea = a.exportState();
  const eb = b.exportState();
  assert.deepEqual(Object.keys(ea.tensors), Object.keys(eb.tensors));
  for (const k of Object.keys(ea.tensors)) assert.deepEqual(ea.tensors[k], eb.tensors[k], k);
  assert.deepEqual(ea.meta, eb.meta);
  assert.equal((ea.meta.adamw as { step: number }).step, 6);
});

test("importState rejects a state of another shape, naming the field", async () => {
  const a = await createPolicy(CFG, { seed: 1 });
  const other = await createPolicy({ ...CFG, nEmbd: 8 }, { seed: 1 });
  assert.throws(() => a.importState(other.exportState()), (e: Error) => e instanceof UserError && /config\.nEmbd/.test(e.message));
  const s = a.exportState();
  delete s.tensors["h.1.mlp.c_fc.bias"];
  assert.throws(() => a.importState(s), /h\.1\.mlp\.c_fc\.bias is missing/);
});

test("clone is frozen and keeps the weights it was made with", async () => {
  const p = await createPolicy(CFG, { seed: 4 });
  const ref = p.clone();
  const b = batch(5);
  const before = ref.score(b).logprobs;
  assert.deepEqual(before, p.score(b).logprobs);
  trainStep(p, b);
  assert.deepEqual(ref.score(b).logprobs, before, "training the policy leaves the clone alone");
  assert.throws(() => ref.scoreForTraining(b), /frozen/);
  assert.ok(p instanceof GPT2Policy);
});

test("createPolicy: presets, and a clear error for an unknown model", async () => {
  const toy = await createPolicy("toy", { seed: 0 });
  assert.equal(toy.vocabSize, 8);
  assert.equal(toy.contextLength, 16);
  await assert.rejects(createPolicy("gpt5", { seed: 0 }), (e: Error) => e instanceof UserError && /preset/.test(e.message));
  await assert.rejects(createPolicy({ ...CFG, nHead: 3 }, { seed: 0 }), UserError);
});

test("sample: prompts not included, one completion per prompt, reproducible", async () => {
  const p = await createPolicy(CFG, { seed: 6 });
  const prompts = [Int32Array.of(1, 2), Int32Array.of(3)];
  const opts = { maxNewTokens: 4, temperature: 1, topK: 0, topP: 1 };
  const a = p.sample(prompts, { ...opts, rng: new Rng(1) });
  assert.equal(a.length, 2);
  assert.deepEqual(a, p.sample(prompts, { ...opts, rng: new Rng(1) }));
  assert.ok(a.every((r) => r.length === 4));
});
