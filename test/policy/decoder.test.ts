/**
 * DecoderPolicy (Llama 3 / Qwen2 / Qwen3) through the model interface the trainer sees: training raises
 * the likelihood, with LoRA only the adapters move and are exported (with their AdamW moments), a state
 * round-trips bit for bit, and the KL reference of a LoRA policy is the base model (adapters off).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FAMILY_PRESETS, type LoraConfig } from "../../src/engine/families/config.js";
import { createPolicy, DecoderPolicy } from "../../src/policy/index.js";
import type { SequenceBatch } from "../../src/rl/policy.js";
import { UserError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { trainStep } from "./helpers.js";

const LORA: LoraConfig = { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj", "down_proj"] };

function batch(seed: number, V = 64): SequenceBatch {
  const rng = new Rng(seed);
  const [B, T] = [3, 9];
  return { tokens: Int32Array.from({ length: B * T }, () => rng.int(V)), batch: B, seqLen: T, lengths: Int32Array.from([9, 6, 3]) };
}

const sum = (x: Float32Array): number => x.reduce((a, v) => a + v, 0);

for (const name of ["llama-tiny", "qwen2-tiny", "qwen3-tiny"]) {
  test(`${name}: full fine-tuning raises the likelihood; clone is a frozen copy`, async () => {
    const p = await createPolicy(name, { seed: 1 });
    assert.ok(p instanceof DecoderPolicy);
    assert.equal(p.vocabSize, 64);
    assert.equal(p.contextLength, FAMILY_PRESETS[name].maxPositionEmbeddings);
    const b = batch(2);
    const ref = p.clone();
    const before = p.score(b).logprobs;
    for (let i = 0; i < 15; i++) trainStep(p, b, 0.01);
    assert.ok(sum(p.score(b).logprobs) > sum(before) + 1, "15 steps of ascent raise the log-likelihood");
    assert.deepEqual(ref.score(b).logprobs, before, "the clone keeps the initial weights");
    assert.throws(() => ref.scoreForTraining(b), /frozen/);
  });
}

test("LoRA: only the adapters train; the reference (clone) is the base with adapters off", async () => {
  const p = (await createPolicy("qwen2-tiny", { seed: 3, lora: LORA })) as DecoderPolicy;
  const base = p.model.baseData.slice();
  const b = batch(4);
  const ref = p.clone();
  const before = p.score(b).logprobs;
  assert.deepEqual(ref.score(b).logprobs, before, "fresh adapters (B = 0): the policy is its base");
  for (let i = 0; i < 15; i++) trainStep(p, b, 0.02);
  assert.ok(sum(p.score(b).logprobs) > sum(before) + 0.5, "the adapters learn");
  assert.deepEqual(p.model.baseData, base, "the base weights do not move");
  assert.deepEqual(ref.score(b).logprobs, before, "the reference still scores as the base");
  assert.ok(p.model.adapters, "scoring the reference leaves the policy's adapters on");
  const s = p.exportState();
  const names = Object.keys(s.tensors).filter((k) => !k.startsWith("adamw."));
  assert.equal(names.length, 2 * 3 * FAMILY_PRESETS["qwen2-tiny"].nLayer);
  assert.ok(names.every((n) => /\.lora_[AB]\.weight$/.test(n)), "the state holds the trained tensors only");
  assert.ok(Object.keys(s.tensors).includes("adamw.m.model.layers.1.mlp.down_proj.lora_B.weight"));
  assert.deepEqual(s.meta.lora, { ...LORA });
});

test("LoRA: exportState / importState round-trip exactly: continued training is bit-identical", async () => {
  const opts = { seed: 5, lora: { ...LORA, targetModules: "all-linear" as const }, adamBeta2: 0.99 };
  const a = await createPolicy("llama-tiny", opts);
  for (let i = 0; i < 3; i++) trainStep(a, batch(i));
  const state = a.exportState();
  const b = await createPolicy("llama-tiny", opts);
  b.importState(structuredClone(state));
  for (let i = 3; i < 6; i++) assert.equal(trainStep(a, batch(i)), trainStep(b, batch(i)));
  const ea = a.exportState();
  const eb = b.exportState();
  for (const k of Object.keys(ea.tensors)) assert.deepEqual(ea.tensors[k], eb.tensors[k], k);
  assert.deepEqual(ea.meta, eb.meta);
  const other = await createPolicy("llama-tiny", { ...opts, lora: { ...LORA, r: 2 } });
  assert.throws(() => other.importState(ea), (e: Error) => e instanceof UserError && /lora\.r is 4/.test(e.message));
  const full = await createPolicy("llama-tiny", { seed: 5 });
  assert.throws(() => full.importState(ea), (e: Error) => e instanceof UserError && /lora is/.test(e.message));
});

test("createPolicy: family presets and configs; LoRA errors name the field", async () => {
  await assert.rejects(createPolicy("toy", { seed: 0, lora: LORA }), (e: Error) => e instanceof UserError && /not GPT-2/.test(e.message));
  await assert.rejects(createPolicy("qwen3-tiny", { seed: 0, lora: { ...LORA, targetModules: ["c_attn"] } }), (e: Error) => e instanceof UserError && /'c_attn'/.test(e.message));
  await assert.rejects(createPolicy({ ...FAMILY_PRESETS["qwen3-tiny"], nKvHead: 3 }, { seed: 0 }), UserError);
  const p = await createPolicy({ ...FAMILY_PRESETS["llama-tiny"], nLayer: 1 }, { seed: 0 });
  const out = p.sample([Int32Array.of(1, 2), Int32Array.of(1, 2)], { maxNewTokens: 5, temperature: 1, topK: 0, topP: 1, rng: new Rng(1) });
  assert.ok(out.length === 2 && out.every((r) => r.length === 5));
});

test("createPolicy on a Hugging Face family directory: the checkpoint's weights (bf16 and sharded f16 too), fresh LoRA on them", async () => {
  const { FAMILY_FIXTURES } = await import("../fixtures/families/fixture.js");
  const { loadDecoderModel } = await import("../../src/engine/hf-families.js");
  for (const f of FAMILY_FIXTURES) {
    const p = await createPolicy(f.dir, { seed: 2 });
    assert.ok(p instanceof DecoderPolicy);
    assert.deepEqual(p.model.config, f.config);
    const { model } = await loadDecoderModel(f.dir, { trainable: false });
    const b = batch(3, f.config.vocabSize);
    assert.deepEqual(p.score(b).logprobs, toScores(model.logprobs(b).logprobs, b), `${f.name}: the checkpoint's scores`);
    const withLora = await createPolicy(f.dir, { seed: 2, lora: LORA });
    assert.deepEqual(withLora.score(b).logprobs, p.score(b).logprobs, `${f.name}: fresh adapters leave the checkpoint as it is`);
    trainStep(withLora, b, 0.05);
    assert.deepEqual(withLora.clone().score(b).logprobs, p.score(b).logprobs, `${f.name}: the LoRA reference is the checkpoint`);
  }
});

/** The model's [B*T] layout -> the policy's [B, T-1]. */
function toScores(lp: ArrayLike<number>, b: SequenceBatch): Float32Array {
  const T = b.seqLen;
  const out = new Float32Array(b.batch * (T - 1));
  for (let r = 0; r < b.batch; r++) for (let t = 0; t < T - 1; t++) out[r * (T - 1) + t] = lp[r * T + t];
  return out;
}
