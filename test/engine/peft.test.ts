import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DecoderConfig, LoraConfig } from "../../src/engine/families/config.js";
import { loraParameterShapes } from "../../src/engine/families/config.js";
import {
  adaptedWeight,
  adapterConfigFromPeft,
  mergeLora,
  readAdapter,
  writeAdapter,
  type AdapterConfig,
} from "../../src/engine/peft.js";
import { loadDecoderModel, saveDecoderModel } from "../../src/engine/hf-families.js";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { UserError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { randomParameters, TINY, writeTinyCheckpoint } from "../fixtures/tiny-families.js";
import { withTempDir } from "../cli/helpers.js";

function randomAdapter(config: DecoderConfig, lora: LoraConfig, seed: number): { name: string; shape: number[]; data: Float32Array }[] {
  const rng = new Rng(seed);
  return loraParameterShapes(config, lora).map(({ name, shape }) => ({ name, shape, data: Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal()) }));
}

test("an adapter round-trips in PEFT's layout: base_model.model. names, A [r, in], B [out, r], adapter_config.json", async () => {
  await withTempDir(async (root) => {
    for (const [config, targetModules] of [[TINY.qwen2, ["q_proj", "v_proj", "down_proj"]], [TINY.qwen3, "all-linear"]] as const) {
      const dir = join(root, config.family);
      const adapter: AdapterConfig = { lora: { r: 4, alpha: 8, dropout: 0.05, targetModules: targetModules as LoraConfig["targetModules"] }, baseModelNameOrPath: "Qwen/base" };
      const tensors = randomAdapter(config, adapter.lora, 1);
      await writeAdapter(dir, config, adapter, tensors);

      const written = await readSafetensors(join(dir, "adapter_model.safetensors"));
      assert.equal(written.metadata.format, "pt");
      const q = written.tensors.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")!;
      assert.deepEqual(q.shape, [4, 32]);
      const kvOut = config.nKvHead * config.headDim;
      const vB = written.tensors.get("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight")!;
      assert.deepEqual(vB.shape, [kvOut, 4]);
      const modules = targetModules === "all-linear" ? 7 : 3;
      assert.equal(written.tensors.size, 2 * modules * config.nLayer);
      const json = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
      assert.deepEqual(
        [json.peft_type, json.task_type, json.r, json.lora_alpha, json.lora_dropout, json.bias, json.base_model_name_or_path, json.target_modules],
        ["LORA", "CAUSAL_LM", 4, 8, 0.05, "none", "Qwen/base", targetModules],
      );

      const back = await readAdapter(dir, config);
      assert.deepEqual(back.adapter, adapter);
      assert.deepEqual(back.tensors.map((t) => t.name), tensors.map((t) => t.name));
      for (let i = 0; i < tensors.length; i++) assert.deepEqual(back.tensors[i].data, tensors[i].data, tensors[i].name);
    }
  });
});

test("adapter_config.json as PEFT writes it reads as our LoraConfig (target names in any order or with their block)", () => {
  const peft = {
    alpha_pattern: {}, auto_mapping: null, base_model_name_or_path: "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", bias: "none",
    exclude_modules: null, fan_in_fan_out: false, inference_mode: true, init_lora_weights: true, layer_replication: null,
    layers_pattern: null, layers_to_transform: null, loftq_config: {}, lora_alpha: 128, lora_bias: false, lora_dropout: 0.05,
    megatron_config: null, megatron_core: "megatron.core", modules_to_save: null, peft_type: "LORA", r: 64, rank_pattern: {},
    revision: null, target_modules: ["v_proj", "self_attn.q_proj", "up_proj"], task_type: "CAUSAL_LM", use_dora: false, use_rslora: false,
  };
  assert.deepEqual(adapterConfigFromPeft(peft, "a.json"), {
    lora: { r: 64, alpha: 128, dropout: 0.05, targetModules: ["q_proj", "v_proj", "up_proj"] },
    baseModelNameOrPath: "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
  });
  // PEFT's defaults: lora_alpha 8, dropout 0, q_proj and v_proj for these model types
  assert.deepEqual(adapterConfigFromPeft({ peft_type: "LORA", r: 8 }, "a.json").lora, { r: 8, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj"] });
});

test("what would change the update is refused, one line naming the file and field", () => {
  const base = { peft_type: "LORA", r: 8, lora_alpha: 16, target_modules: ["q_proj"] };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ use_dora: true }, /^a\.json: use_dora: true is not supported \(DoRA/],
    [{ use_rslora: true }, /^a\.json: use_rslora: true is not supported/],
    [{ modules_to_save: ["lm_head"] }, /^a\.json: modules_to_save: \["lm_head"\] is not supported/],
    [{ rank_pattern: { q_proj: 4 } }, /^a\.json: rank_pattern: .* is not supported/],
    [{ alpha_pattern: { q_proj: 4 } }, /^a\.json: alpha_pattern: .* is not supported/],
    [{ layers_to_transform: [0] }, /^a\.json: layers_to_transform: /],
    [{ bias: "all" }, /^a\.json: bias: "all" is not supported \(only "none"/],
    [{ peft_type: "IA3" }, /^a\.json: peft_type: "IA3" is not supported/],
    [{ task_type: "SEQ_CLS" }, /^a\.json: task_type: "SEQ_CLS" is not supported/],
    [{ r: 0 }, /^a\.json: r: expected a positive integer, got 0/],
    [{ lora_dropout: 1 }, /^a\.json: lora_dropout: expected a number in \[0, 1\)/],
    [{ target_modules: ["q_proj", "lm_head"] }, /^a\.json: target_modules\[1\]: "lm_head" is not a linear module of a block/],
    [{ target_modules: ".*proj" }, /^a\.json: target_modules: ".\*proj" is not supported .*no regular expressions/],
    [{ fan_in_fan_out: true }, /^a\.json: fan_in_fan_out: true is not supported/],
  ];
  for (const [edit, re] of cases) {
    assert.throws(() => adapterConfigFromPeft({ ...base, ...edit }, "a.json"), (e: Error) => e instanceof UserError && re.test(e.message) && !e.message.includes("\n"), String(re));
  }
});

test("a missing, misshapen or unexpected adapter tensor names the file and tensor", async () => {
  await withTempDir(async (dir) => {
    const config = TINY.llama;
    const adapter: AdapterConfig = { lora: { r: 2, alpha: 4, dropout: 0, targetModules: ["q_proj", "k_proj"] }, baseModelNameOrPath: null };
    const tensors = randomAdapter(config, adapter.lora, 2);
    await writeAdapter(dir, config, adapter, tensors);
    const path = join(dir, "adapter_model.safetensors");
    const original = await readSafetensors(path);
    const cases: [(t: Map<string, { shape: number[]; data: Float32Array }>) => void, RegExp][] = [
      [(t) => t.delete("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight"), /tensor 'base_model\.model\.model\.layers\.1\.self_attn\.k_proj\.lora_B\.weight' is missing; expected shape \[16, 2\]/],
      [(t) => t.set("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", { shape: [3, 32], data: new Float32Array(96) }), /'base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight' has shape \[3, 32\], expected \[2, 32\] \(r 2/],
      [(t) => t.set("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", { shape: [2, 32], data: new Float32Array(64) }), /unexpected tensor 'base_model\.model\.model\.layers\.0\.self_attn\.v_proj\.lora_A\.weight'/],
    ];
    for (const [edit, re] of cases) {
      const t = new Map(original.tensors);
      edit(t);
      await writeSafetensors(path, t, { format: "pt" });
      await assert.rejects(readAdapter(dir, config), (e: Error) => e instanceof UserError && e.message.startsWith(path) && re.test(e.message), String(re));
    }
    await writeFile(join(dir, "adapter_config.json"), "{}");
    await assert.rejects(readAdapter(dir, config), /adapter_config\.json: peft_type: undefined is not supported/);
  });
});

test("mergeLora adds (alpha / r) B A to each targeted weight, checked against the matrix product by definition", () => {
  for (const config of Object.values(TINY)) {
    const lora: LoraConfig = { r: 3, alpha: 5, dropout: 0, targetModules: ["k_proj", "o_proj", "gate_proj", "down_proj"] };
    const base = randomParameters(config, 11);
    const before = base.map((p) => p.data.slice());
    const adapter = randomAdapter(config, lora, 12);
    mergeLora(base, adapter, config, lora);
    const byName = new Map(adapter.map((t) => [t.name, t]));
    const targeted = new Set(loraParameterShapes(config, lora).map((s) => adaptedWeight(s.name)));
    for (let p = 0; p < base.length; p++) {
      const { name, shape } = base[p];
      if (!targeted.has(name)) {
        assert.deepEqual(base[p].data, before[p], `${name} is not targeted`);
        continue;
      }
      const module = name.slice(0, -".weight".length);
      const A = byName.get(`${module}.lora_A.weight`)!.data;
      const B = byName.get(`${module}.lora_B.weight`)!.data;
      const [out, n] = shape;
      for (let o = 0; o < out; o++) {
        for (let i = 0; i < n; i++) {
          let sum = 0;
          for (let k = 0; k < lora.r; k++) sum += B[o * lora.r + k] * A[k * n + i];
          const want = before[p][o * n + i] + (lora.alpha / lora.r) * sum;
          assert.ok(Math.abs(base[p].data[o * n + i] - want) <= 1e-5 * (1 + Math.abs(want)), `${name}[${o}, ${i}]: ${base[p].data[o * n + i]} vs ${want}`);
        }
      }
    }
  }
});

test("a merged checkpoint scores like its base with the adapter on (TransformerLM, every family)", async () => {
  await withTempDir(async (root) => {
    for (const config of Object.values(TINY)) {
      const dir = join(root, config.family);
      const base = await writeTinyCheckpoint(join(dir, "base"), config, 21);
      const lora: LoraConfig = { r: 4, alpha: 8, dropout: 0, targetModules: "all-linear" };
      // B != 0 (a trained adapter), scaled so the update moves the logits visibly
      const adapter = randomAdapter(config, lora, 22).map((t) => ({ ...t, data: t.data.map((x) => 0.2 * x) }));
      await writeAdapter(join(dir, "adapter"), config, { lora, baseModelNameOrPath: null }, adapter);
      mergeLora(base, adapter, config, lora);
      await saveDecoderModel(join(dir, "merged"), config, base);

      const withAdapter = await loadDecoderModel(join(dir, "base"), { trainable: false, adapter: join(dir, "adapter") });
      const merged = await loadDecoderModel(join(dir, "merged"), { trainable: false });
      const plain = await loadDecoderModel(join(dir, "base"), { trainable: false });
      const batch = { tokens: Int32Array.from({ length: 2 * 9 }, (_, i) => (i * 7 + 3) % config.vocabSize), batch: 2, seqLen: 9, lengths: Int32Array.from([9, 6]) };
      const a = withAdapter.model.logits(batch);
      const m = merged.model.logits(batch);
      const p = plain.model.logits(batch);
      let scaleOf = 0;
      let diff = 0;
      let moved = 0;
      for (let i = 0; i < a.length; i++) {
        scaleOf = Math.max(scaleOf, Math.abs(a[i]));
        diff = Math.max(diff, Math.abs(a[i] - m[i]));
        moved = Math.max(moved, Math.abs(a[i] - p[i]));
      }
      assert.ok(diff / scaleOf < 1e-4, `${config.family}: merged vs adapter ${diff / scaleOf}`);
      assert.ok(moved / scaleOf > 1e-2, `${config.family}: the adapter changes the logits (${moved / scaleOf})`);
    }
  });
});
