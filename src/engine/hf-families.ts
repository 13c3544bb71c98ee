/**
 * Hugging Face checkpoints of the decoder families (Llama 3, Qwen2 / DeepSeek-R1-Distill-Qwen, Qwen3): a
 * directory with `config.json` and `model.safetensors` (or shards with `model.safetensors.index.json`), as
 * `save_pretrained` writes them and the Hub serves them.
 *
 * Parameter names and layouts are HF's (src/engine/families/config.ts), so loading is a name check and a
 * stream of each tensor into the buffer the caller gives for it: nothing here knows the model's internals,
 * only `parameterShapes(config)`. Anything in config.json that would change the maths and that we do not
 * compute is a one-line error naming the file and the field, never a silently different model.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import {
  SafetensorsCheckpoint,
  WEIGHTS_FILE,
  writeSafetensorsCheckpoint,
  type NamedTensor,
  type ReadableDtype,
  type WritableDtype,
} from "../io/safetensors.js";
import { UserError } from "../util/errors.js";
import { Rng } from "../util/rng.js";
import { FAMILIES, parameterShapes, type DecoderConfig, type Family, type Llama3RopeScaling, type LoraConfig } from "./families/config.js";
import { HF_CONFIG_FILE, readJson } from "./hf.js";
import { readAdapter, type AdapterConfig } from "./peft.js";
import { TransformerLM } from "./transformer.js";

/** transformers' class per family (config.json `architectures`). */
export const HF_ARCHITECTURES: Record<Family, string> = {
  llama: "LlamaForCausalLM",
  qwen2: "Qwen2ForCausalLM",
  qwen3: "Qwen3ForCausalLM",
};

/**
 * The defaults of transformers' LlamaConfig / Qwen2Config / Qwen3Config for the fields a config.json may
 * omit (save_pretrained writes them all; hand-written configs may not). The sizes have no default here:
 * a config without them is not a checkpoint's.
 */
const HF_DEFAULTS: Record<Family, { maxPositionEmbeddings: number; headDim: number | null }> = {
  llama: { maxPositionEmbeddings: 2048, headDim: null },
  qwen2: { maxPositionEmbeddings: 32768, headDim: null },
  // Qwen3Config's head_dim defaults to 128 whatever hidden_size / num_attention_heads is
  qwen3: { maxPositionEmbeddings: 32768, headDim: 128 },
};
/** rms_norm_eps, rope_theta and tie_word_embeddings default alike in the three configs. */
const HF_DEFAULT_RMS_NORM_EPS = 1e-6;
const HF_DEFAULT_ROPE_THETA = 10000;
const HF_DEFAULT_TIE_WORD_EMBEDDINGS = false;

/**
 * The DecoderConfig of a parsed config.json; `file` names it in errors. Reads transformers 4.x configs
 * (`rope_theta`, `rope_scaling`) and 5.x ones (`rope_parameters`).
 */
export function decoderConfigFromHF(json: unknown, file: string): DecoderConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UserError(`${file}: expected a JSON object`);
  const c = json as Record<string, unknown>;
  const field = (name: string, message: string): UserError => new UserError(`${file}: ${name}: ${message}`);
  const given = (name: string): boolean => c[name] !== undefined && c[name] !== null;

  const family = c.model_type;
  if (family === undefined) throw field("model_type", `missing (expected one of ${FAMILIES.join(", ")})`);
  if (typeof family !== "string" || !(FAMILIES as readonly string[]).includes(family)) {
    throw field("model_type", `${JSON.stringify(family)} is not supported (expected one of ${FAMILIES.join(", ")}, or gpt2)`);
  }
  const f = family as Family;

  const positiveInt = (name: string, obj: Record<string, unknown> = c, prefix = ""): number => {
    const v = obj[name];
    if (v === undefined || v === null) throw field(prefix + name, "missing");
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) throw field(prefix + name, `expected a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const positiveNumber = (name: string, fallback: number | undefined, obj: Record<string, unknown> = c, prefix = ""): number => {
    const v = obj[name];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (v === undefined || v === null) throw field(prefix + name, "missing");
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw field(prefix + name, `expected a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = c[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") throw field(name, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  };

  const vocabSize = positiveInt("vocab_size");
  const hiddenSize = positiveInt("hidden_size");
  const intermediateSize = positiveInt("intermediate_size");
  const nLayer = positiveInt("num_hidden_layers");
  const nHead = positiveInt("num_attention_heads");
  const nKvHead = given("num_key_value_heads") ? positiveInt("num_key_value_heads") : nHead;
  if (nHead % nKvHead !== 0) throw field("num_key_value_heads", `${nKvHead} does not divide num_attention_heads ${nHead}`);

  let headDim: number;
  if (given("head_dim")) headDim = positiveInt("head_dim");
  else if (HF_DEFAULTS[f].headDim !== null) headDim = HF_DEFAULTS[f].headDim!;
  else {
    if (hiddenSize % nHead !== 0) throw field("num_attention_heads", `${nHead} does not divide hidden_size ${hiddenSize} (and no head_dim is given)`);
    headDim = hiddenSize / nHead;
  }
  if (headDim % 2 !== 0) throw field("head_dim", `${headDim} is odd; rotary embeddings rotate pairs of dimensions`);

  const act = c.hidden_act ?? "silu";
  if (act !== "silu") throw field("hidden_act", `${JSON.stringify(act)} is not supported (these families use "silu")`);
  if (given("attention_dropout") && c.attention_dropout !== 0) {
    throw field("attention_dropout", `only 0 is supported, got ${JSON.stringify(c.attention_dropout)}`);
  }
  if (f !== "llama") {
    if (bool("use_sliding_window", false)) throw field("use_sliding_window", "true is not supported (sliding-window attention); only full attention is");
    if (given("layer_types")) {
      const types = c.layer_types;
      if (!Array.isArray(types)) throw field("layer_types", `expected a list, got ${JSON.stringify(types)}`);
      const bad = types.findIndex((t) => t !== "full_attention");
      if (bad >= 0) throw field(`layer_types[${bad}]`, `${JSON.stringify(types[bad])} is not supported (only "full_attention")`);
    }
  }

  // transformers 5 moved rope_theta and rope_scaling into rope_parameters
  let ropeSource: Record<string, unknown> | null = null;
  let ropePrefix = "rope_scaling.";
  if (given("rope_parameters")) {
    if (typeof c.rope_parameters !== "object" || Array.isArray(c.rope_parameters)) throw field("rope_parameters", "expected an object");
    ropeSource = c.rope_parameters as Record<string, unknown>;
    ropePrefix = "rope_parameters.";
  } else if (given("rope_scaling")) {
    if (typeof c.rope_scaling !== "object" || Array.isArray(c.rope_scaling)) throw field("rope_scaling", `expected null or an object, got ${JSON.stringify(c.rope_scaling)}`);
    ropeSource = c.rope_scaling as Record<string, unknown>;
  }
  const ropeTheta =
    ropeSource !== null && ropePrefix === "rope_parameters."
      ? positiveNumber("rope_theta", HF_DEFAULT_ROPE_THETA, ropeSource, ropePrefix)
      : positiveNumber("rope_theta", HF_DEFAULT_ROPE_THETA);
  let ropeScaling: Llama3RopeScaling | null = null;
  if (ropeSource !== null) {
    const typeKey = ropeSource.rope_type !== undefined ? "rope_type" : "type";
    const type = ropeSource[typeKey] ?? "default";
    if (type === "llama3") {
      ropeScaling = {
        factor: positiveNumber("factor", undefined, ropeSource, ropePrefix),
        lowFreqFactor: positiveNumber("low_freq_factor", undefined, ropeSource, ropePrefix),
        highFreqFactor: positiveNumber("high_freq_factor", undefined, ropeSource, ropePrefix),
        originalMaxPositionEmbeddings: positiveInt("original_max_position_embeddings", ropeSource, ropePrefix),
      };
      if (!(ropeScaling.highFreqFactor > ropeScaling.lowFreqFactor)) {
        throw field(`${ropePrefix}high_freq_factor`, `must exceed low_freq_factor (${ropeScaling.lowFreqFactor}), got ${ropeScaling.highFreqFactor}`);
      }
    } else if (type !== "default") {
      throw field(ropePrefix + typeKey, `${JSON.stringify(type)} is not supported (null, "default" or "llama3")`);
    }
  }

  const attentionBias = f === "qwen2" ? false : bool("attention_bias", false);
  return {
    family: f,
    vocabSize,
    hiddenSize,
    intermediateSize,
    nLayer,
    nHead,
    nKvHead,
    headDim,
    rmsNormEps: positiveNumber("rms_norm_eps", HF_DEFAULT_RMS_NORM_EPS),
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings: given("max_position_embeddings") ? positiveInt("max_position_embeddings") : HF_DEFAULTS[f].maxPositionEmbeddings,
    tieWordEmbeddings: bool("tie_word_embeddings", HF_DEFAULT_TIE_WORD_EMBEDDINGS),
    // Qwen2's attention has q/k/v biases and no o_proj bias whatever the config says
    qkvBias: f === "qwen2" ? true : attentionBias,
    oBias: attentionBias,
    mlpBias: f === "llama" ? bool("mlp_bias", false) : false,
    qkNorm: f === "qwen3",
  };
}

/** torch_dtype names of the dtypes we write. */
const TORCH_DTYPE: Record<WritableDtype, string> = { F32: "float32", BF16: "bfloat16" };

/**
 * config.json for `config` as transformers writes it (architectures, model_type and every field its config
 * class reads); transformers loads it back into the same model. Throws when `config` is not expressible in
 * its family (e.g. a Llama with q/k/v biases but none on o_proj).
 */
export function decoderConfigToHF(config: DecoderConfig, dtype: WritableDtype = "F32"): Record<string, unknown> {
  const f = config.family;
  const expressible =
    f === "qwen2" ? config.qkvBias && !config.oBias && !config.mlpBias && !config.qkNorm
    : f === "qwen3" ? config.qkvBias === config.oBias && !config.mlpBias && config.qkNorm
    : config.qkvBias === config.oBias && !config.qkNorm;
  if (!expressible) {
    throw new Error(`a ${f} config.json cannot express qkvBias ${config.qkvBias}, oBias ${config.oBias}, mlpBias ${config.mlpBias}, qkNorm ${config.qkNorm}`);
  }
  const s = config.ropeScaling;
  const out: Record<string, unknown> = {
    architectures: [HF_ARCHITECTURES[f]],
    model_type: f,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.nLayer,
    num_attention_heads: config.nHead,
    num_key_value_heads: config.nKvHead,
    head_dim: config.headDim,
    hidden_act: "silu",
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: s === null ? null : {
      rope_type: "llama3",
      factor: s.factor,
      low_freq_factor: s.lowFreqFactor,
      high_freq_factor: s.highFreqFactor,
      original_max_position_embeddings: s.originalMaxPositionEmbeddings,
    },
    tie_word_embeddings: config.tieWordEmbeddings,
    attention_dropout: 0.0,
    initializer_range: 0.02,
    use_cache: true,
    torch_dtype: TORCH_DTYPE[dtype],
  };
  if (f !== "qwen2") out.attention_bias = config.oBias;
  if (f === "llama") out.mlp_bias = config.mlpBias;
  if (f !== "llama") out.use_sliding_window = false;
  return out;
}

/** Reads and checks `dir/config.json`. */
export async function readDecoderConfig(dir: string): Promise<{ config: DecoderConfig; json: Record<string, unknown> }> {
  const path = join(dir, HF_CONFIG_FILE);
  const json = await readJson(path);
  return { config: decoderConfigFromHF(json, path), json: json as Record<string, unknown> };
}

/** A parameter's buffer: what `TransformerLM.parameters()` lists (the name and the float32 data). */
export interface ParameterView {
  name: string;
  data: Float32Array;
}

/** A fresh float32 buffer per parameter of `config` (for tools that hold weights without a model). */
export function allocateParameters(config: DecoderConfig): (ParameterView & { shape: number[] })[] {
  return parameterShapes(config).map(({ name, shape }) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }));
}

/**
 * Buffers (rotary inverse frequencies) that older transformers versions saved beside the weights and that
 * its loader skips: they follow from the config.
 */
function isIgnoredBuffer(name: string): boolean {
  return /(^|\.)rotary_emb\.inv_freq$/.test(name);
}

/** Our name (HF's LM names, `model.`-prefixed) for a name in the file; the bare LlamaModel / Qwen2Model names get the prefix. */
function canonicalName(fileName: string): string {
  if (fileName.startsWith("model.") || fileName === "lm_head.weight") return fileName;
  if (/^(embed_tokens\.|layers\.\d+\.|norm\.)/.test(fileName)) return `model.${fileName}`;
  return fileName;
}

function describe(config: DecoderConfig): string {
  return `hidden_size ${config.hiddenSize}, intermediate_size ${config.intermediateSize}, vocab_size ${config.vocabSize}, heads ${config.nHead}, kv heads ${config.nKvHead}, head_dim ${config.headDim}`;
}

/**
 * Streams the weights of HF directory `dir` into `dest` (one buffer per name of `parameterShapes(config)`,
 * e.g. `TransformerLM.parameters()`), converting F32/BF16/F16 to float32 exactly. Peak memory beyond `dest`
 * is a few MB. A tied config needs no `lm_head.weight`; one in the file must equal the embeddings. Returns
 * the dtypes the files hold. Errors name the file, the tensor and the expected shape.
 */
export async function loadDecoderWeights(dir: string, config: DecoderConfig, dest: Iterable<ParameterView>): Promise<{ dtypes: ReadableDtype[] }> {
  const expected = parameterShapes(config);
  const buffers = new Map<string, Float32Array>();
  for (const p of dest) buffers.set(p.name, p.data);
  for (const { name, shape } of expected) {
    const n = shape.reduce((a, b) => a * b, 1);
    const b = buffers.get(name);
    if (!b || b.length !== n) throw new Error(`loadDecoderWeights: no ${n}-element buffer given for '${name}'`);
  }

  const checkpoint = await SafetensorsCheckpoint.open(dir, `(a Hugging Face directory holds ${HF_CONFIG_FILE} and ${WEIGHTS_FILE}; pytorch_model.bin is not read)`);
  try {
    const byName = new Map<string, { fileName: string; file: string; shape: number[] }>();
    for (const [fileName, t] of checkpoint.tensors) {
      if (isIgnoredBuffer(fileName)) continue;
      const name = canonicalName(fileName);
      const seen = byName.get(name);
      if (seen) throw new UserError(`${t.file.path}: tensor '${fileName}' is also stored as '${seen.fileName}' (with and without 'model.')`);
      byName.set(name, { fileName, file: t.file.path, shape: t.entry.shape });
    }
    const shapes = new Map(expected.map((p) => [p.name, p.shape]));
    const tiedHead = config.tieWordEmbeddings ? byName.get("lm_head.weight") : undefined;
    if (tiedHead) byName.delete("lm_head.weight");
    const unexpected = [...byName.entries()].filter(([name]) => !shapes.has(name)).map(([, t]) => t);
    if (unexpected.length > 0) {
      const some = unexpected.slice(0, 5).map((t) => `'${t.fileName}'`).join(", ");
      const more = unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : "";
      throw new UserError(`${unexpected[0].file}: unexpected tensor${unexpected.length > 1 ? "s" : ""} ${some}${more} (not part of a ${HF_ARCHITECTURES[config.family]} with this config.json)`);
    }
    const embedding = "model.embed_tokens.weight";
    if (tiedHead && !byName.has(embedding)) byName.set(embedding, tiedHead);

    const firstFile = checkpoint.files[0]?.path ?? join(dir, WEIGHTS_FILE);
    const checkShape = (t: { fileName: string; file: string; shape: number[] }, shape: number[]): void => {
      if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return;
      const transposed = shape.length === 2 && t.shape.length === 2 && t.shape[0] === shape[1] && t.shape[1] === shape[0];
      const hint = transposed ? "; it looks transposed (nn.Linear stores [out, in])" : "";
      throw new UserError(`${t.file}: tensor '${t.fileName}' has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}] (${describe(config)})${hint}`);
    };
    for (const { name, shape } of expected) {
      const t = byName.get(name);
      if (!t) {
        const why = name === "lm_head.weight" ? " (config.json has tie_word_embeddings false: the head is its own tensor)" : "";
        throw new UserError(`${firstFile}: tensor '${name}' is missing; expected shape [${shape.join(", ")}]${why}`);
      }
      checkShape(t, shape);
      await checkpoint.readInto(t.fileName, buffers.get(name)!);
    }
    if (tiedHead && byName.get(embedding) !== tiedHead) {
      checkShape(tiedHead, shapes.get(embedding)!);
      const e = buffers.get(embedding)!;
      let differs = -1;
      await checkpoint.forEachChunk(tiedHead.fileName, (values, first) => {
        for (let i = 0; i < values.length && differs < 0; i++) if (values[i] !== e[first + i]) differs = first + i;
      });
      if (differs >= 0) {
        throw new UserError(
          `${tiedHead.file}: tensor '${tiedHead.fileName}' differs from '${embedding}' at element ${differs}, but config.json has tie_word_embeddings true`,
        );
      }
    }
    return { dtypes: checkpoint.dtypes() };
  } finally {
    await checkpoint.close();
  }
}

export interface SaveOptions {
  /** F32 (default) or BF16 (rounded to nearest even, as PyTorch) */
  dtype?: WritableDtype;
  /** shard above this many bytes (default transformers' 5 GB) */
  maxShardBytes?: number;
  /** fields of an original config.json to keep (bos/eos/pad token ids, ...); ours win where both have a field */
  extraConfig?: Record<string, unknown>;
}

/**
 * Writes a HF directory transformers loads as `HF_ARCHITECTURES[config.family]`: the weights (HF names, the
 * tied head left out, metadata format "pt"), single or sharded, then config.json. Each file is atomic;
 * `dir` is created if needed.
 */
export async function saveDecoderModel(dir: string, config: DecoderConfig, params: Iterable<ParameterView>, opts: SaveOptions = {}): Promise<void> {
  const dtype = opts.dtype ?? "F32";
  const byName = new Map<string, Float32Array>();
  for (const p of params) byName.set(p.name, p.data);
  const tensors: [string, NamedTensor][] = parameterShapes(config).map(({ name, shape }) => {
    const data = byName.get(name);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!data || data.length !== n) throw new Error(`saveDecoderModel: no ${n}-element buffer given for '${name}'`);
    return [name, { shape, data }];
  });
  const hfConfig = { ...(opts.extraConfig ?? {}), ...decoderConfigToHF(config, dtype) };
  // a 5.x config of the original would otherwise keep rope_parameters beside our rope_theta / rope_scaling
  delete hfConfig.rope_parameters;
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new UserError(`${dir}: cannot create the directory (${(err as Error).message})`);
  }
  await writeSafetensorsCheckpoint(dir, tensors, { format: "pt" }, { dtype, maxShardBytes: opts.maxShardBytes });
  await writeFileAtomic(join(dir, HF_CONFIG_FILE), JSON.stringify(hfConfig, null, 2) + "\n");
}

/**
 * A TransformerLM with the weights of HF directory `dir` (streamed into its buffers). LoRA either from
 * `adapter` (a PEFT adapter directory, loaded) or `lora` (fresh adapters, PEFT's init from `seed`), on the
 * frozen base. `trainable` false: no gradients. `seed` also seeds LoRA dropout.
 */
export async function loadDecoderModel(
  dir: string,
  opts: { trainable?: boolean; adapter?: string | null; lora?: LoraConfig | null; seed?: number } = {},
): Promise<{ model: TransformerLM; dtypes: ReadableDtype[]; adapter: AdapterConfig | null }> {
  const { config } = await readDecoderConfig(dir);
  if (opts.adapter && opts.lora) throw new UserError(`${dir}: give either an adapter directory or a fresh LoRA config, not both`);
  const adapter = opts.adapter ? await readAdapter(opts.adapter, config) : null;
  const lora = adapter?.adapter.lora ?? opts.lora ?? null;
  let model: TransformerLM;
  try {
    model = new TransformerLM(config, { trainable: opts.trainable ?? true, lora, dropoutSeed: opts.seed ?? 0 });
  } catch (err) {
    throw new UserError(`lora: ${(err as Error).message}`);
  }
  const { dtypes } = await loadDecoderWeights(dir, config, model.baseParameters());
  if (adapter) {
    const byName = new Map(adapter.tensors.map((t) => [t.name, t.data]));
    for (const p of model.loraParameters()) p.data.set(byName.get(p.name)!);
  } else if (lora !== null) {
    model.initializeLora(new Rng(opts.seed ?? 0));
  }
  return { model, dtypes, adapter: adapter?.adapter ?? null };
}
