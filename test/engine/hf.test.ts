import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { configFromHF, loadHFModel, saveHFModel } from "../../src/engine/hf.js";
import type { GPT2 } from "../../src/engine/gpt2.js";
import { readSafetensors, writeSafetensors, type NamedTensor } from "../../src/io/safetensors.js";
import { UserError } from "../../src/util/errors.js";
import { GPT2_TINY_DIR } from "../fixtures/gpt2-tiny/fixture.js";
import { withTempDir } from "../cli/helpers.js";

const FIXTURE_CONFIG = join(GPT2_TINY_DIR, "config.json");

/** A checkpoint directory holding the fixture's tensors after `edit` (name -> tensor, in file order). */
async function variant(dir: string, edit: (t: Map<string, NamedTensor>) => Map<string, NamedTensor>, config?: unknown): Promise<string> {
  const { tensors } = await readSafetensors(join(GPT2_TINY_DIR, "model.safetensors"));
  const out = join(dir, "ckpt");
  await mkdir(out);
  await writeSafetensors(join(out, "model.safetensors"), edit(new Map(tensors)), { format: "pt" });
  if (config === undefined) await copyFile(FIXTURE_CONFIG, join(out, "config.json"));
  else await writeFile(join(out, "config.json"), JSON.stringify(config));
  return out;
}

function assertSameParameters(a: GPT2, b: GPT2): void {
  assert.deepEqual(a.config, b.config);
  const pa = a.parameters();
  const pb = b.parameters();
  assert.deepEqual(pa.map((p) => [p.name, p.shape]), pb.map((p) => [p.name, p.shape]));
  for (let i = 0; i < pa.length; i++) assert.deepEqual(pa[i].data, pb[i].data, pa[i].name);
}

async function fixtureConfig(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(FIXTURE_CONFIG, "utf8"));
}

test("config.json maps to GPT2Config", async () => {
  const model = await loadHFModel(GPT2_TINY_DIR);
  assert.deepEqual(model.config, { vocabSize: 61, contextLength: 16, nLayer: 2, nHead: 4, nEmbd: 32, layerNormEpsilon: 1e-5 });
  // the Hub's gpt2 config.json (fields we read, and the ones we check)
  const hub = {
    activation_function: "gelu_new", model_type: "gpt2", n_ctx: 1024, n_embd: 768, n_head: 12, n_layer: 12,
    n_positions: 1024, layer_norm_epsilon: 1e-5, vocab_size: 50257, scale_attn_weights: true,
  };
  assert.deepEqual(configFromHF(hub, "c.json"), { vocabSize: 50257, contextLength: 1024, nLayer: 12, nHead: 12, nEmbd: 768, layerNormEpsilon: 1e-5 });
  const { n_positions: _, ...old } = hub;
  assert.equal(configFromHF(old, "c.json").contextLength, 1024, "n_ctx when n_positions is absent");
});

test("config.json errors name the file and the field", () => {
  const base = { vocab_size: 61, n_positions: 16, n_embd: 32, n_layer: 2, n_head: 4 };
  const cases: [unknown, RegExp][] = [
    [[], /^c\.json: expected a JSON object/],
    [{ ...base, vocab_size: undefined }, /^c\.json: vocab_size: missing/],
    [{ ...base, n_layer: 2.5 }, /^c\.json: n_layer: expected a positive integer, got 2\.5/],
    [{ ...base, n_head: "4" }, /^c\.json: n_head: expected a positive integer, got "4"/],
    [{ ...base, n_head: 5 }, /^c\.json: n_head: 5 does not divide n_embd 32/],
    [{ ...base, layer_norm_epsilon: 0 }, /^c\.json: layer_norm_epsilon: expected a positive number/],
    [{ ...base, model_type: "llama" }, /^c\.json: model_type: expected "gpt2", got "llama"/],
    [{ ...base, activation_function: "relu" }, /^c\.json: activation_function: "relu" is not supported/],
    [{ ...base, n_inner: 64 }, /^c\.json: n_inner: only 4 \* n_embd \(128\)/],
    [{ ...base, scale_attn_by_inverse_layer_idx: true }, /^c\.json: scale_attn_by_inverse_layer_idx: only false/],
  ];
  for (const [json, re] of cases) {
    assert.throws(() => configFromHF(json, "c.json"), (e: Error) => e instanceof UserError && re.test(e.message), String(re));
  }
});

test("save then load gives identical tensors, in the layout transformers' GPT2LMHeadModel saves", async () => {
  await withTempDir(async (dir) => {
    const a = await loadHFModel(GPT2_TINY_DIR);
    const out = join(dir, "saved", "nested");
    await saveHFModel(a, out);
    assert.deepEqual((await readdir(out)).sort(), ["config.json", "model.safetensors"]);
    const b = await loadHFModel(out);
    assertSameParameters(a, b);

    const { tensors, metadata } = await readSafetensors(join(out, "model.safetensors"));
    assert.equal(metadata.format, "pt", "transformers refuses safetensors without format pt/tf/flax/mlx");
    assert.deepEqual([...tensors.keys()], a.parameters().map((p) => `transformer.${p.name}`));
    assert.ok(!tensors.has("lm_head.weight"), "the tied LM head is not stored, as save_pretrained does");
    // the fixture was written by the PyTorch script in the same layout: the same bytes per tensor
    const ref = await readSafetensors(join(GPT2_TINY_DIR, "model.safetensors"));
    for (const [name, t] of ref.tensors) assert.deepEqual(tensors.get(name)!.data, t.data, name);

    const written = JSON.parse(await readFile(join(out, "config.json"), "utf8"));
    const original = await fixtureConfig();
    for (const k of ["vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "layer_norm_epsilon", "model_type", "activation_function"]) {
      assert.deepEqual(written[k], original[k], k);
    }
    assert.deepEqual(written.architectures, ["GPT2LMHeadModel"]);
  });
});

test("names load with or without the transformer. prefix; attention-mask buffers are ignored", async () => {
  await withTempDir(async (dir) => {
    const prefixed = await loadHFModel(GPT2_TINY_DIR);
    const bare = await variant(dir, (t) => {
      const out = new Map<string, NamedTensor>();
      for (const [name, v] of t) out.set(name.replace(/^transformer\./, ""), v);
      // what older transformers versions stored for each layer (the Hub's gpt2 has these)
      out.set("h.0.attn.bias", { shape: [1, 1, 16, 16], data: new Float32Array(256).fill(1) });
      out.set("h.1.attn.masked_bias", { shape: [], data: new Float32Array([-1e4]) });
      return out;
    });
    assertSameParameters(prefixed, await loadHFModel(bare));
  });
});

test("lm_head.weight is accepted when equal to wte or in its place, refused when different", async () => {
  await withTempDir(async (dir) => {
    const ref = await loadHFModel(GPT2_TINY_DIR);
    const tied = await variant(dir, (t) => t.set("lm_head.weight", t.get("transformer.wte.weight")!));
    assertSameParameters(ref, await loadHFModel(tied));
    await rm(tied, { recursive: true });

    const instead = await variant(dir, (t) => {
      t.set("lm_head.weight", t.get("transformer.wte.weight")!);
      t.delete("transformer.wte.weight");
      return t;
    });
    assertSameParameters(ref, await loadHFModel(instead));
    await rm(instead, { recursive: true });

    const untied = await variant(dir, (t) => {
      const wte = t.get("transformer.wte.weight")!;
      const other = wte.data.slice();
      other[5] += 1;
      return t.set("lm_head.weight", { shape: wte.shape, data: other });
    });
    await assert.rejects(loadHFModel(untied), /model\.safetensors: tensor 'lm_head\.weight' differs from 'transformer\.wte\.weight' at element 5: an untied LM head is not supported/);
  });
});

test("a missing tensor, a wrong shape, a transposed weight, an extra tensor: errors name the file, tensor and shape", async () => {
  await withTempDir(async (dir) => {
    const cases: [(t: Map<string, NamedTensor>) => Map<string, NamedTensor>, RegExp][] = [
      [(t) => (t.delete("transformer.h.1.mlp.c_fc.bias"), t), /ckpt\/model\.safetensors: tensor 'transformer\.h\.1\.mlp\.c_fc\.bias' \(or 'h\.1\.mlp\.c_fc\.bias'\) is missing; expected shape \[128\]/],
      [
        (t) => t.set("transformer.wpe.weight", { shape: [8, 32], data: new Float32Array(256) }),
        /ckpt\/model\.safetensors: tensor 'transformer\.wpe\.weight' has shape \[8, 32\], expected \[16, 32\] \(n_embd 32, vocab_size 61, n_positions 16\)$/,
      ],
      [
        (t) => t.set("transformer.h.0.attn.c_attn.weight", { shape: [96, 32], data: t.get("transformer.h.0.attn.c_attn.weight")!.data }),
        /tensor 'transformer\.h\.0\.attn\.c_attn\.weight' has shape \[96, 32\], expected \[32, 96\] .*looks transposed/,
      ],
      [(t) => t.set("transformer.h.2.ln_1.weight", { shape: [32], data: new Float32Array(32) }), /ckpt\/model\.safetensors: unexpected tensor 'transformer\.h\.2\.ln_1\.weight'/],
      [(t) => t.set("wpe.weight", t.get("transformer.wpe.weight")!), /tensor '(transformer\.)?wpe\.weight' is also stored as/],
    ];
    for (const [edit, re] of cases) {
      const ckpt = await variant(dir, edit);
      await assert.rejects(loadHFModel(ckpt), (e: Error) => e instanceof UserError && re.test(e.message), String(re));
      await rm(ckpt, { recursive: true });
    }
  });
});

test("a directory without config.json or model.safetensors says which file is missing", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(loadHFModel(dir), new RegExp(`${dir}/config\\.json: no such file`));
    await copyFile(FIXTURE_CONFIG, join(dir, "config.json"));
    await assert.rejects(loadHFModel(dir), new RegExp(`${dir}/model\\.safetensors: no such file .*pytorch_model\\.bin is not read`));
    await writeFile(join(dir, "config.json"), "{ not json");
    await assert.rejects(loadHFModel(dir), new RegExp(`${dir}/config\\.json: malformed JSON`));
  });
});

test("sharded checkpoints (model.safetensors.index.json) load", async () => {
  await withTempDir(async (dir) => {
    const ref = await loadHFModel(GPT2_TINY_DIR);
    const { tensors } = await readSafetensors(join(GPT2_TINY_DIR, "model.safetensors"));
    const names = [...tensors.keys()];
    const half = Math.floor(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < 2; i++) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await writeSafetensors(join(dir, file), shards[i].map((n) => [n, tensors.get(n)!]), { format: "pt" });
      for (const n of shards[i]) weightMap[n] = file;
    }
    await writeFile(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    await copyFile(FIXTURE_CONFIG, join(dir, "config.json"));
    assertSameParameters(ref, await loadHFModel(dir));
  });
});
