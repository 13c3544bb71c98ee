/**
 * The golden tests of the decoder families: tiny Llama 3, Qwen2 and Qwen3 checkpoints (F32, BF16, sharded
 * F16) with a PEFT adapter, saved in Hugging Face format by scripts/golden_families.py together with
 * PyTorch's logits, per-token log-probs, mean NLL and every gradient (LoRA A/B included) on a padded batch.
 * TransformerLM, loaded through the HF reader (loadDecoderModel), on the TypeScript kernels and on the
 * native ones when built, must give the same numbers (REL_TOL: max |ours - PyTorch| / max |PyTorch| per
 * tensor below 1e-4).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { useKernels } from "../../src/engine/backend.js";
import { LINEAR_MODULES, parameterShapes } from "../../src/engine/families/config.js";
import { loadDecoderModel } from "../../src/engine/hf-families.js";
import { openDecoder } from "../../src/engine/kvcache.js";
import { TransformerLM } from "../../src/engine/transformer.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { answersOf, expectClose, expectRegenerated, KERNEL_BACKENDS, torchVersion, type Golden } from "../fixtures/golden.js";
import {
  FAMILIES_DIR, FAMILY_FIXTURES, fixtureFiles, readFamilyGolden, readLongGolden, REGENERATE_FAMILIES, type FamilyFixture,
} from "../fixtures/families/fixture.js";

/** name -> {dtype, shape} of a fixture's checkpoint, across its shards (checked against the index). */
async function checkpointTensors(f: FamilyFixture): Promise<Map<string, { dtype: string; shape: number[] }>> {
  const out = new Map<string, { dtype: string; shape: number[] }>();
  const owner = new Map<string, string>();
  for (const file of f.weightFiles) {
    for (const [name, t] of (await readSafetensors(join(f.dir, file))).tensors) {
      out.set(name, { dtype: t.dtype, shape: t.shape });
      owner.set(name, file);
    }
  }
  if (f.weightFiles.length > 1) {
    const index = JSON.parse(await readFile(join(f.dir, "model.safetensors.index.json"), "utf8")) as { weight_map: Record<string, string> };
    assert.deepEqual(new Map(Object.entries(index.weight_map)), owner, `${f.name}: the index names each tensor's shard`);
  }
  return out;
}

function loraShapes(f: FamilyFixture): { name: string; shape: number[] }[] {
  const lora = f.lora!;
  const targets = lora.targetModules === "all-linear" ? [...LINEAR_MODULES] : lora.targetModules;
  const out: { name: string; shape: number[] }[] = [];
  for (const p of parameterShapes(f.config)) {
    const m = /^(model\.layers\.\d+\.(?:self_attn|mlp)\.(\w+))\.weight$/.exec(p.name);
    if (!m || !targets.includes(m[2])) continue;
    const [o, n] = p.shape;
    out.push({ name: `${m[1]}.lora_A.weight`, shape: [lora.r, n] }, { name: `${m[1]}.lora_B.weight`, shape: [o, lora.r] });
  }
  return out;
}

for (const f of FAMILY_FIXTURES) {
  test(`${f.name}: the checkpoint holds parameterShapes(config) in ${f.dtype}, and the golden file a nonzero gradient for each`, async () => {
    const config = JSON.parse(await readFile(join(f.dir, "config.json"), "utf8")) as Record<string, unknown>;
    assert.equal(config.model_type, f.config.family);
    assert.deepEqual(
      [config.vocab_size, config.hidden_size, config.intermediate_size, config.num_hidden_layers, config.rms_norm_eps, config.rope_theta, config.max_position_embeddings],
      [f.config.vocabSize, f.config.hiddenSize, f.config.intermediateSize, f.config.nLayer, f.config.rmsNormEps, f.config.ropeTheta, f.config.maxPositionEmbeddings],
    );
    const tensors = await checkpointTensors(f);
    const expected = parameterShapes(f.config);
    assert.deepEqual([...tensors.keys()], expected.map((p) => p.name), "HF's names, in HF's order");
    for (const p of expected) {
      assert.deepEqual(tensors.get(p.name), { dtype: f.dtype, shape: p.shape }, p.name);
    }
    const g = await readFamilyGolden(f);
    assert.deepEqual([...g.grads.keys()], expected.map((p) => p.name));
    for (const [name, grad] of g.grads) assert.ok(grad.some((x) => x !== 0), `reference gradient of ${name} is not zero`);
    assert.equal(g.vocabSize, f.config.vocabSize);
  });
}

for (const f of FAMILY_FIXTURES.filter((x) => x.lora)) {
  test(`${f.name}: the PEFT adapter has PEFT's names and shapes, and golden-lora.safetensors a nonzero gradient for each A and B`, async () => {
    const cfg = JSON.parse(await readFile(join(f.dir, "adapter", "adapter_config.json"), "utf8")) as Record<string, unknown>;
    assert.equal(cfg.peft_type, "LORA");
    assert.equal(cfg.r, f.lora!.r);
    assert.equal(cfg.lora_alpha, f.lora!.alpha);
    assert.deepEqual(cfg.target_modules, f.lora!.targetModules);
    const { tensors } = await readSafetensors(join(f.dir, "adapter", "adapter_model.safetensors"));
    const expected = loraShapes(f);
    assert.deepEqual([...tensors.keys()], expected.map((p) => `base_model.model.${p.name}`));
    for (const p of expected) assert.deepEqual(tensors.get(`base_model.model.${p.name}`)!.shape, p.shape);
    const g = await readFamilyGolden(f, true);
    assert.deepEqual([...g.grads.keys()], expected.map((p) => p.name));
    for (const [name, grad] of g.grads) assert.ok(grad.some((x) => x !== 0), `reference gradient of ${name} is not zero`);
    const base = await readFamilyGolden(f);
    assert.notDeepEqual(g.logits, base.logits, "the adapter changes the logits (B is nonzero)");
  });
}

/** The fixture's HF directory (and with `lora` its PEFT adapter) through the HF reader. */
async function load(f: FamilyFixture, lora: boolean): Promise<TransformerLM> {
  const { model } = await loadDecoderModel(f.dir, { adapter: lora ? join(f.dir, "adapter") : null });
  assert.deepEqual(model.config, f.config);
  return model;
}

/** Ours against PyTorch's golden file: logits, logprobs, loss and the gradient of every trained parameter. */
function compare(model: TransformerLM, g: Golden): string {
  const r = answersOf(model, g);
  const errs = [
    `logits ${expectClose("logits", r.logits, g.logits).toExponential(1)}`,
    `logprobs ${expectClose("logprobs", r.logprobs, g.logprobs).toExponential(1)}`,
    `loss ${expectClose("loss", [r.loss], [g.loss]).toExponential(1)}`,
  ];
  const params = model.parameters();
  assert.deepEqual(params.map((p) => p.name), [...g.grads.keys()], "one reference gradient per trained parameter");
  let worst = { name: "", err: 0 };
  for (const p of params) {
    const err = expectClose(`grad ${p.name}`, p.grad, g.grads.get(p.name)!);
    if (err > worst.err) worst = { name: p.name, err };
  }
  return `relative errors: ${errs.join(", ")}, worst gradient ${worst.name} ${worst.err.toExponential(1)}`;
}

for (const [kernels, k, skip] of KERNEL_BACKENDS) {
  for (const f of FAMILY_FIXTURES) {
    test(`${f.name}: TransformerLM matches PyTorch: logits, logprobs, loss, every gradient (${kernels} kernels)`, { skip }, async (t) => {
      const g = await readFamilyGolden(f);
      const prev = useKernels(k!);
      try {
        t.diagnostic(compare(await load(f, false), g));
      } finally {
        useKernels(prev);
      }
    });
  }
  for (const f of FAMILY_FIXTURES.filter((x) => x.lora)) {
    test(`${f.name} + LoRA adapter: TransformerLM matches PyTorch: logits, logprobs, loss, LoRA A/B gradients; adapters off gives the base (${kernels} kernels)`, { skip }, async (t) => {
      const g = await readFamilyGolden(f, true);
      const prev = useKernels(k!);
      try {
        const model = await load(f, true);
        t.diagnostic(compare(model, g));
        model.adapters = false;
        const base = await readFamilyGolden(f);
        const logprobs = answersOf(model, base).logprobs;
        t.diagnostic(`adapters off: logprobs ${expectClose("logprobs with adapters off", logprobs, base.logprobs).toExponential(1)}`);
      } finally {
        useKernels(prev);
      }
    });
  }
}

for (const [kernels, k, skip] of KERNEL_BACKENDS) {
  for (const f of FAMILY_FIXTURES.filter((x) => x.long)) {
    test(`${f.name}: logits at positions 999-1039 of a 1040-token sequence match PyTorch, from the full forward and from KV-cache decoding (${kernels} kernels)`, { skip }, async (t) => {
      const g = await readLongGolden(f);
      const T = g.tokens.length;
      const V = f.config.vocabSize;
      const prev = useKernels(k!);
      try {
        const model = await load(f, false);
        const full = model.logits({ tokens: g.tokens, batch: 1, seqLen: T, lengths: Int32Array.of(T) });
        const fromFull = expectClose("full forward", full.subarray(g.firstPosition * V), g.logits);
        // prefill up to firstPosition, then one token per step: each step's logits are the next position's
        const decoder = openDecoder(model, 1, T, null);
        const decoded = new Float32Array(g.logits.length);
        decoded.set(decoder.prefill([g.tokens.subarray(0, g.firstPosition + 1)]));
        for (let p = g.firstPosition + 1; p < T; p++) decoded.set(decoder.step(g.tokens.subarray(p, p + 1)), (p - g.firstPosition) * V);
        const fromCache = expectClose("KV-cache decoding", decoded, g.logits);
        t.diagnostic(`relative errors: full forward ${fromFull.toExponential(1)}, KV cache ${fromCache.toExponential(1)}`);
      } finally {
        useKernels(prev);
      }
    });
  }
}

const SCRIPT = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "../../scripts/golden_families.py" : "../../../scripts/golden_families.py", import.meta.url));

test("the committed family fixtures are what scripts/golden_families.py writes, its self-checks passing (same torch version; PyTorch's answers within a tolerance)", async (t) => {
  const torch = torchVersion();
  if ("missing" in torch) return t.skip(`${torch.missing}: PyTorch is not needed to run the golden tests, only to regenerate them`);
  const { metadata } = await readFamilyGolden(FAMILY_FIXTURES[0]);
  if (metadata.torch !== torch.version) {
    return t.skip(`fixtures made with torch ${metadata.torch}, this machine has ${torch.version} (its random numbers may differ)`);
  }
  const dir = await mkdtemp(join(tmpdir(), "golden-families-"));
  try {
    const r = spawnSync("/usr/bin/python3", [SCRIPT, "--out", dir], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    await expectRegenerated(dir, FAMILIES_DIR, FAMILY_FIXTURES.flatMap(fixtureFiles), REGENERATE_FAMILIES);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
