import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FAMILY_PRESETS, parameterShapes, type DecoderConfig } from "../../src/engine/families/config.js";
import { hfModelKind } from "../../src/engine/hf.js";
import {
  allocateParameters,
  decoderConfigFromHF,
  decoderConfigToHF,
  loadDecoderModel,
  loadDecoderWeights,
  readDecoderConfig,
} from "../../src/engine/hf-families.js";
import { readAdapter } from "../../src/engine/peft.js";
import { createPolicy } from "../../src/policy/index.js";
import { floatToBf16, readSafetensors, writeSafetensors, type NamedTensor } from "../../src/io/safetensors.js";
import { UserError } from "../../src/util/errors.js";
import { FAMILY_FIXTURES } from "../fixtures/families/fixture.js";
import { GPT2_TINY_DIR } from "../fixtures/gpt2-tiny/fixture.js";
import { TINY, writeTinyCheckpoint } from "../fixtures/tiny-families.js";
import { withTempDir } from "../cli/helpers.js";

/** The fields of the public config.json of each preset's model (as the Hub serves them). */
const HUB_CONFIGS: Record<string, Record<string, unknown>> = {
  "qwen2-0.5b": {
    architectures: ["Qwen2ForCausalLM"], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645,
    hidden_act: "silu", hidden_size: 896, initializer_range: 0.02, intermediate_size: 4864, max_position_embeddings: 32768,
    max_window_layers: 21, model_type: "qwen2", num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2,
    rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true, torch_dtype: "bfloat16",
    use_cache: true, use_sliding_window: false, vocab_size: 151936,
  },
  "r1-distill-1.5b": {
    architectures: ["Qwen2ForCausalLM"], attention_dropout: 0.0, bos_token_id: 151646, eos_token_id: 151643,
    hidden_act: "silu", hidden_size: 1536, initializer_range: 0.02, intermediate_size: 8960, max_position_embeddings: 131072,
    max_window_layers: 21, model_type: "qwen2", num_attention_heads: 12, num_hidden_layers: 28, num_key_value_heads: 2,
    rms_norm_eps: 1e-6, rope_theta: 10000, sliding_window: 4096, tie_word_embeddings: false, torch_dtype: "bfloat16",
    use_cache: true, use_mrope: false, use_sliding_window: false, vocab_size: 151936,
  },
  "llama-1b": {
    architectures: ["LlamaForCausalLM"], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000,
    eos_token_id: [128001, 128008, 128009], head_dim: 64, hidden_act: "silu", hidden_size: 2048, initializer_range: 0.02,
    intermediate_size: 8192, max_position_embeddings: 131072, mlp_bias: false, model_type: "llama", num_attention_heads: 32,
    num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1, rms_norm_eps: 1e-5,
    rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: "llama3" },
    rope_theta: 500000.0, tie_word_embeddings: true, torch_dtype: "bfloat16", use_cache: true, vocab_size: 128256,
  },
  "qwen3-0.6b": {
    architectures: ["Qwen3ForCausalLM"], attention_bias: false, attention_dropout: 0.0, bos_token_id: 151643,
    eos_token_id: 151645, head_dim: 128, hidden_act: "silu", hidden_size: 1024, initializer_range: 0.02,
    intermediate_size: 3072, max_position_embeddings: 40960, max_window_layers: 28, model_type: "qwen3",
    num_attention_heads: 16, num_hidden_layers: 28, num_key_value_heads: 8, rms_norm_eps: 1e-6, rope_scaling: null,
    rope_theta: 1000000, sliding_window: null, tie_word_embeddings: true, torch_dtype: "bfloat16", use_cache: true,
    use_sliding_window: false, vocab_size: 151936,
  },
};

test("the Hub's config.json of each preset's model reads as that preset", () => {
  for (const [name, json] of Object.entries(HUB_CONFIGS)) {
    assert.deepEqual(decoderConfigFromHF(json, `${name}/config.json`), FAMILY_PRESETS[name], name);
  }
});

test("config.json written for a config reads back as it (all presets and tiny configs)", () => {
  for (const config of [...Object.values(FAMILY_PRESETS), ...Object.values(TINY)]) {
    const json = decoderConfigToHF(config, "BF16");
    assert.equal(json.torch_dtype, "bfloat16");
    assert.deepEqual(json.architectures, [{ llama: "LlamaForCausalLM", qwen2: "Qwen2ForCausalLM", qwen3: "Qwen3ForCausalLM" }[config.family]]);
    assert.deepEqual(decoderConfigFromHF(JSON.parse(JSON.stringify(json)), "c.json"), config);
  }
  assert.throws(() => decoderConfigToHF({ ...TINY.llama, qkvBias: true }), /cannot express/);
});

test("fields a config.json may omit take transformers' defaults", () => {
  const sizes = { vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4 };
  const llama = decoderConfigFromHF({ model_type: "llama", ...sizes }, "c.json");
  assert.equal(llama.nKvHead, 4);
  assert.equal(llama.headDim, 8);
  assert.equal(llama.tieWordEmbeddings, false);
  assert.equal(llama.rmsNormEps, 1e-6);
  assert.equal(llama.ropeTheta, 10000);
  assert.equal(llama.maxPositionEmbeddings, 2048);
  assert.equal(llama.ropeScaling, null);
  const qwen2 = decoderConfigFromHF({ model_type: "qwen2", ...sizes, num_key_value_heads: null, attention_bias: false }, "c.json");
  assert.deepEqual([qwen2.nKvHead, qwen2.qkvBias, qwen2.oBias, qwen2.maxPositionEmbeddings], [4, true, false, 32768]);
  const qwen3 = decoderConfigFromHF({ model_type: "qwen3", ...sizes, attention_bias: true }, "c.json");
  assert.deepEqual([qwen3.headDim, qwen3.qkNorm, qwen3.qkvBias, qwen3.oBias], [128, true, true, true]);
  // rope_type "default" is no scaling; transformers 5's rope_parameters carries rope_theta
  assert.equal(decoderConfigFromHF({ model_type: "llama", ...sizes, rope_scaling: { rope_type: "default" } }, "c.json").ropeScaling, null);
  const v5 = decoderConfigFromHF({ model_type: "llama", ...sizes, rope_parameters: { rope_type: "llama3", rope_theta: 5e5, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } }, "c.json");
  assert.equal(v5.ropeTheta, 5e5);
  assert.deepEqual(v5.ropeScaling, { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  // the older key "type" for rope_type
  assert.equal(decoderConfigFromHF({ model_type: "llama", ...sizes, rope_scaling: { type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } }, "c.json").ropeScaling?.factor, 8);
});

test("what we do not compute is a one-line error naming the file and the field", () => {
  const base = { model_type: "qwen2", vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4 };
  const cases: [unknown, RegExp][] = [
    [[1], /^c\.json: expected a JSON object$/],
    [{ ...base, model_type: undefined }, /^c\.json: model_type: missing/],
    [{ ...base, model_type: "mistral" }, /^c\.json: model_type: "mistral" is not supported \(expected one of llama, qwen2, qwen3, or gpt2\)$/],
    [{ ...base, hidden_size: undefined }, /^c\.json: hidden_size: missing$/],
    [{ ...base, num_hidden_layers: 2.5 }, /^c\.json: num_hidden_layers: expected a positive integer, got 2\.5$/],
    [{ ...base, num_key_value_heads: 3 }, /^c\.json: num_key_value_heads: 3 does not divide num_attention_heads 4$/],
    [{ ...base, num_attention_heads: 5 }, /^c\.json: num_attention_heads: 5 does not divide hidden_size 32/],
    [{ ...base, hidden_act: "gelu" }, /^c\.json: hidden_act: "gelu" is not supported/],
    [{ ...base, use_sliding_window: true }, /^c\.json: use_sliding_window: true is not supported/],
    [{ ...base, model_type: "qwen3", layer_types: ["full_attention", "sliding_attention"] }, /^c\.json: layer_types\[1\]: "sliding_attention" is not supported/],
    [{ ...base, rope_scaling: { rope_type: "yarn", factor: 4 } }, /^c\.json: rope_scaling\.rope_type: "yarn" is not supported/],
    [{ ...base, rope_scaling: { type: "linear", factor: 4 } }, /^c\.json: rope_scaling\.type: "linear" is not supported/],
    [{ ...base, rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4 } }, /^c\.json: rope_scaling\.original_max_position_embeddings: missing$/],
    [{ ...base, rope_scaling: "llama3" }, /^c\.json: rope_scaling: expected null or an object/],
    [{ ...base, rms_norm_eps: -1 }, /^c\.json: rms_norm_eps: expected a positive number, got -1$/],
    [{ ...base, tie_word_embeddings: "yes" }, /^c\.json: tie_word_embeddings: expected true or false/],
    [{ ...base, attention_dropout: 0.1 }, /^c\.json: attention_dropout: only 0 is supported/],
    [{ ...base, head_dim: 7 }, /^c\.json: head_dim: 7 is odd/],
  ];
  for (const [json, re] of cases) {
    assert.throws(() => decoderConfigFromHF(json, "c.json"), (e: Error) => e instanceof UserError && re.test(e.message) && !e.message.includes("\n"), String(re));
  }
});

test("hfModelKind says which loader a directory needs", async () => {
  assert.equal(await hfModelKind(GPT2_TINY_DIR), "gpt2");
  await withTempDir(async (dir) => {
    await writeTinyCheckpoint(dir, TINY.qwen3, 1);
    assert.equal(await hfModelKind(dir), "qwen3");
    await writeFile(join(dir, "config.json"), JSON.stringify({ model_type: "mistral" }));
    await assert.rejects(hfModelKind(dir), /config\.json: model_type: "mistral" is not supported \(expected gpt2, llama, qwen2, qwen3\)/);
  });
});

function bf16Rounded(x: Float32Array): Float32Array {
  return new Float32Array(new Uint32Array(Array.from(x, (v) => floatToBf16(v) << 16)).buffer);
}

test("every family saves and loads back: F32 exactly, BF16 as its rounding, sharded, in save_pretrained's layout", async () => {
  await withTempDir(async (root) => {
    for (const [family, config] of Object.entries(TINY)) {
      for (const variant of [{ dtype: "F32" as const }, { dtype: "BF16" as const }, { dtype: "F32" as const, maxShardBytes: 8000 }]) {
        const dir = join(root, `${family}-${variant.dtype}-${variant.maxShardBytes ?? 0}`);
        const saved = await writeTinyCheckpoint(dir, config, 7, variant);
        const files = (await readdir(dir)).sort();
        if (variant.maxShardBytes) {
          assert.ok(files.length > 3 && files.includes("model.safetensors.index.json"), `${files}`);
        } else {
          assert.deepEqual(files, ["config.json", "model.safetensors"]);
          const { tensors, metadata } = await readSafetensors(join(dir, "model.safetensors"));
          assert.equal(metadata.format, "pt");
          assert.deepEqual([...tensors.keys()], parameterShapes(config).map((p) => p.name));
          assert.equal(tensors.has("lm_head.weight"), !config.tieWordEmbeddings);
          for (const t of tensors.values()) assert.equal(t.dtype, variant.dtype);
        }
        const { config: read } = await readDecoderConfig(dir);
        assert.deepEqual(read, config);
        const dest = allocateParameters(read);
        const { dtypes } = await loadDecoderWeights(dir, read, dest);
        assert.deepEqual(dtypes, [variant.dtype]);
        for (let i = 0; i < saved.length; i++) {
          const want = variant.dtype === "BF16" ? bf16Rounded(saved[i].data) : saved[i].data;
          assert.deepEqual(dest[i].data, want, `${dir} ${saved[i].name}`);
        }
      }
    }
  });
});

/** Rewrites `dir`'s model.safetensors through `edit` (name -> tensor, file order). */
async function editWeights(dir: string, edit: (t: Map<string, NamedTensor>) => Map<string, NamedTensor>): Promise<void> {
  const { tensors } = await readSafetensors(join(dir, "model.safetensors"));
  await writeSafetensors(join(dir, "model.safetensors"), edit(new Map(tensors)), { format: "pt" });
}

test("names without 'model.', rotary inv_freq buffers and a tied checkpoint's equal lm_head load as transformers loads them", async () => {
  await withTempDir(async (dir) => {
    const config = TINY.llama;
    const saved = await writeTinyCheckpoint(dir, config, 3);
    await editWeights(dir, (t) => {
      const out = new Map<string, NamedTensor>();
      for (const [name, v] of t) out.set(name.replace(/^model\./, ""), v);
      out.set("layers.0.self_attn.rotary_emb.inv_freq", { shape: [4], data: new Float32Array(4).fill(1) });
      out.set("lm_head.weight", t.get("model.embed_tokens.weight")!);
      return out;
    });
    const dest = allocateParameters(config);
    await loadDecoderWeights(dir, config, dest);
    for (let i = 0; i < saved.length; i++) assert.deepEqual(dest[i].data, saved[i].data, saved[i].name);
  });
});

test("a missing, misshapen, transposed, unexpected or untied-but-tied tensor: errors name the file, tensor and shape", async () => {
  await withTempDir(async (root) => {
    const cases: [DecoderConfig, (t: Map<string, NamedTensor>) => Map<string, NamedTensor>, RegExp][] = [
      [TINY.qwen2, (t) => (t.delete("lm_head.weight"), t), /model\.safetensors: tensor 'lm_head\.weight' is missing; expected shape \[64, 32\] \(config\.json has tie_word_embeddings false/],
      [TINY.qwen2, (t) => (t.delete("model.layers.1.self_attn.k_proj.bias"), t), /tensor 'model\.layers\.1\.self_attn\.k_proj\.bias' is missing; expected shape \[16\]$/],
      [TINY.qwen3, (t) => t.set("model.layers.0.self_attn.q_norm.weight", { shape: [8], data: new Float32Array(8) }), /tensor 'model\.layers\.0\.self_attn\.q_norm\.weight' has shape \[8\], expected \[16\] \(hidden_size 32, .*head_dim 16\)$/],
      [
        TINY.qwen3,
        (t) => t.set("model.layers.0.mlp.up_proj.weight", { shape: [32, 48], data: t.get("model.layers.0.mlp.up_proj.weight")!.data }),
        /tensor 'model\.layers\.0\.mlp\.up_proj\.weight' has shape \[32, 48\], expected \[48, 32\] .*looks transposed/,
      ],
      [TINY.llama, (t) => t.set("model.layers.2.input_layernorm.weight", { shape: [32], data: new Float32Array(32) }), /model\.safetensors: unexpected tensor 'model\.layers\.2\.input_layernorm\.weight' \(not part of a LlamaForCausalLM/],
      [TINY.llama, (t) => t.set("norm.weight", t.get("model.norm.weight")!), /tensor '(model\.)?norm\.weight' is also stored as/],
      [
        TINY.llama,
        (t) => {
          const e = t.get("model.embed_tokens.weight")!;
          const other = e.data.slice();
          other[9] += 1;
          return t.set("lm_head.weight", { shape: e.shape, data: other });
        },
        /tensor 'lm_head\.weight' differs from 'model\.embed_tokens\.weight' at element 9, but config\.json has tie_word_embeddings true/,
      ],
    ];
    let k = 0;
    for (const [config, edit, re] of cases) {
      const dir = join(root, String(k++));
      await writeTinyCheckpoint(dir, config, 5);
      await editWeights(dir, edit);
      await assert.rejects(loadDecoderWeights(dir, config, allocateParameters(config)), (e: Error) => e instanceof UserError && re.test(e.message), String(re));
    }
    const empty = join(root, "empty");
    await writeTinyCheckpoint(empty, TINY.qwen2, 1);
    await rm(join(empty, "model.safetensors"));
    await assert.rejects(loadDecoderWeights(empty, TINY.qwen2, allocateParameters(TINY.qwen2)), /empty\/model\.safetensors: no such file \(a Hugging Face directory holds config\.json and model\.safetensors/);
    assert.deepEqual(JSON.parse(await readFile(join(empty, "config.json"), "utf8")).architectures, ["Qwen2ForCausalLM"]);
  });
});

test("the checkpoints PyTorch wrote (F32, BF16, sharded F16, a PEFT adapter) read as their stated configs, tensor for tensor", async () => {
  for (const f of FAMILY_FIXTURES) {
    const { config } = await readDecoderConfig(f.dir);
    assert.deepEqual(config, f.config, f.name);
    const dest = allocateParameters(config);
    const { dtypes } = await loadDecoderWeights(f.dir, config, dest);
    assert.deepEqual(dtypes, [f.dtype]);
    const whole = new Map<string, Float32Array>();
    for (const file of f.weightFiles) for (const [name, t] of (await readSafetensors(join(f.dir, file))).tensors) whole.set(name, t.data);
    for (const p of dest) assert.deepEqual(p.data, whole.get(p.name), `${f.name} ${p.name}`);
    if (f.lora) {
      const { adapter, tensors } = await readAdapter(join(f.dir, "adapter"), config);
      assert.deepEqual({ ...adapter.lora, targetModules: [...adapter.lora.targetModules].sort() }, { ...f.lora, targetModules: [...f.lora.targetModules].sort() });
      const file = (await readSafetensors(join(f.dir, "adapter", "adapter_model.safetensors"))).tensors;
      for (const t of tensors) assert.deepEqual(t.data, file.get(`base_model.model.${t.name}`)!.data, t.name);
    }
  }
});

test("createPolicy takes a family's HF directory (fresh LoRA adapters on it too) and scores as the checkpoint's model", async () => {
  await withTempDir(async (dir) => {
    const config = TINY.qwen3;
    await writeTinyCheckpoint(dir, config, 8, { dtype: "BF16" });
    const { model } = await loadDecoderModel(dir, { trainable: false });
    const batch = { tokens: Int32Array.from([5, 9, 2, 33, 7, 1, 0, 0]), batch: 2, seqLen: 4, lengths: Int32Array.from([4, 2]) };
    const want = model.logprobs(batch).logprobs;
    for (const lora of [null, { r: 2, alpha: 4, dropout: 0, targetModules: "all-linear" as const }]) {
      const policy = await createPolicy(dir, { seed: 3, lora });
      // fresh adapters start with B = 0 (PEFT's init): the same scores as the base
      const got = policy.score(batch).logprobs;
      // the model's row b, position t ([B, T]) is the policy's [B, T - 1] entry: log p(token t + 1)
      for (let b = 0; b < 2; b++) {
        for (let t = 0; t < batch.lengths[b] - 1; t++) {
          const [g, w] = [got[b * 3 + t], want[b * 4 + t]];
          assert.ok(Math.abs(g - w) < 1e-5 && w < 0, `${lora ? "lora" : "full"} [${b}, ${t}] ${g} vs ${w}`);
        }
      }
      const names = Object.keys(policy.exportState().tensors);
      assert.equal(names.some((n) => n.includes("lora_A")), lora !== null);
    }
    await writeFile(join(dir, "config.json"), JSON.stringify({ model_type: "mistral" }));
    await assert.rejects(createPolicy(dir, { seed: 0 }), /config\.json: model_type: "mistral" is not supported/);
  });
});
