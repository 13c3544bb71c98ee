/**
 * Hugging Face GPT-2 checkpoints: a directory with `config.json` (GPT2Config) and `model.safetensors`
 * (or shards listed in `model.safetensors.index.json`), as `save_pretrained` writes them and as the Hub
 * serves them (e.g. openai-community/gpt2).
 *
 * Our parameter names and layouts are HF's (docs/CONTRACTS.md), Conv1D weights included ([in, out],
 * y = x W + b), so loading is a name check and a copy: no transposes. Names are accepted with or without
 * the `transformer.` prefix (GPT2LMHeadModel saves with it, GPT2Model and the Hub's gpt2 without).
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { SafetensorsCheckpoint, WEIGHTS_FILE, WEIGHTS_INDEX_FILE, writeSafetensors, type NamedTensor } from "../io/safetensors.js";
import { UserError } from "../util/errors.js";
import { FAMILIES, type Family } from "./families/config.js";
import { GPT2, parameterShapes, type GPT2Config } from "./gpt2.js";

export const HF_CONFIG_FILE = "config.json";
export const HF_WEIGHTS_FILE = WEIGHTS_FILE;
export const HF_INDEX_FILE = WEIGHTS_INDEX_FILE;

/** HF's default for GPT2Config.layer_norm_epsilon (older configs omit it). */
const HF_DEFAULT_LAYER_NORM_EPSILON = 1e-5;

/** GELU variants that are GPT-2's tanh approximation (what our kernels compute). */
const TANH_GELU = new Set(["gelu_new", "gelu_pytorch_tanh", "gelu_fast"]);

/**
 * The GPT2Config of a parsed config.json; `file` names it in errors. Fields we cannot honour (another
 * activation, a non-default MLP width, cross-attention, ...) are errors rather than silently different maths.
 */
export function configFromHF(json: unknown, file: string): GPT2Config {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UserError(`${file}: expected a JSON object`);
  const c = json as Record<string, unknown>;
  const field = (name: string, message: string): UserError => new UserError(`${file}: ${name}: ${message}`);
  const positiveInt = (name: string, fallback?: string): number => {
    let key = name;
    if (c[key] === undefined && fallback !== undefined && c[fallback] !== undefined) key = fallback;
    const v = c[key];
    if (v === undefined) throw field(name, "missing (a GPT-2 config.json has vocab_size, n_positions, n_embd, n_layer, n_head)");
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw field(key, `expected a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  if (c.model_type !== undefined && c.model_type !== "gpt2") {
    throw field("model_type", `expected "gpt2", got ${JSON.stringify(c.model_type)}`);
  }
  const config: GPT2Config = {
    vocabSize: positiveInt("vocab_size"),
    contextLength: positiveInt("n_positions", "n_ctx"),
    nEmbd: positiveInt("n_embd"),
    nLayer: positiveInt("n_layer"),
    nHead: positiveInt("n_head"),
    layerNormEpsilon: HF_DEFAULT_LAYER_NORM_EPSILON,
  };
  const eps = c.layer_norm_epsilon;
  if (eps !== undefined) {
    if (typeof eps !== "number" || !(eps > 0)) throw field("layer_norm_epsilon", `expected a positive number, got ${JSON.stringify(eps)}`);
    config.layerNormEpsilon = eps;
  }
  if (config.nEmbd % config.nHead !== 0) {
    throw field("n_head", `${config.nHead} does not divide n_embd ${config.nEmbd}`);
  }
  const act = c.activation_function;
  if (act !== undefined && !(typeof act === "string" && TANH_GELU.has(act))) {
    throw field("activation_function", `${JSON.stringify(act)} is not supported (GPT-2's is "gelu_new", the tanh approximation)`);
  }
  if (c.n_inner !== undefined && c.n_inner !== null && c.n_inner !== 4 * config.nEmbd) {
    throw field("n_inner", `only 4 * n_embd (${4 * config.nEmbd}) or null is supported, got ${JSON.stringify(c.n_inner)}`);
  }
  const mustBe = (name: string, value: boolean): void => {
    if (c[name] !== undefined && c[name] !== value) throw field(name, `only ${value} is supported, got ${JSON.stringify(c[name])}`);
  };
  mustBe("scale_attn_weights", true);
  mustBe("scale_attn_by_inverse_layer_idx", false);
  mustBe("add_cross_attention", false);
  return config;
}

/** config.json as transformers' GPT2Config.to_json_file writes it (dropout 0: our model has none). */
export function configToHF(config: GPT2Config): Record<string, unknown> {
  return {
    activation_function: "gelu_new",
    architectures: ["GPT2LMHeadModel"],
    attn_pdrop: 0.0,
    bos_token_id: config.vocabSize - 1,
    embd_pdrop: 0.0,
    eos_token_id: config.vocabSize - 1,
    initializer_range: 0.02,
    layer_norm_epsilon: config.layerNormEpsilon,
    model_type: "gpt2",
    n_ctx: config.contextLength,
    n_embd: config.nEmbd,
    n_head: config.nHead,
    n_inner: null,
    n_layer: config.nLayer,
    n_positions: config.contextLength,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.0,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    torch_dtype: "float32",
    use_cache: true,
    vocab_size: config.vocabSize,
  };
}

/** Tensors that HF checkpoints may hold besides the parameters, and that carry nothing we need. */
function isIgnoredBuffer(name: string): boolean {
  // the causal-mask buffers (attn.bias [1,1,T,T], attn.masked_bias []) of older transformers versions
  return /^h\.\d+\.attn\.(bias|masked_bias)$/.test(name);
}

const PREFIX = "transformer.";

export async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(e.code === "ENOENT" ? `${path}: no such file` : `${path}: cannot read (${e.message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(`${path}: malformed JSON (${(err as Error).message})`);
  }
}

/** What a Hugging Face directory holds, by its config.json's `model_type`: GPT-2 or one of the decoder families. */
export type HFModelKind = "gpt2" | Family;

/**
 * The kind of model in `dir` (config.json's model_type; GPT-2 configs of old may lack it and are GPT-2):
 * "gpt2" loads with `loadHFModel`, the families with src/engine/hf-families.ts.
 */
export async function hfModelKind(dir: string): Promise<HFModelKind> {
  const path = join(dir, HF_CONFIG_FILE);
  const json = await readJson(path);
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UserError(`${path}: expected a JSON object`);
  const type = (json as Record<string, unknown>).model_type;
  if (type === undefined || type === "gpt2") return "gpt2";
  if (typeof type === "string" && (FAMILIES as readonly string[]).includes(type)) return type as Family;
  throw new UserError(`${path}: model_type: ${JSON.stringify(type)} is not supported (expected gpt2, ${FAMILIES.join(", ")})`);
}

/**
 * Loads a Hugging Face-format GPT-2 directory, streaming each tensor from the file into the model (peak
 * memory: the model plus a few MB). Errors name the file, the tensor and what was expected.
 * opts.trainable false makes a model without gradient buffers (inference only).
 */
export async function loadHFModel(dir: string, opts: { trainable?: boolean } = {}): Promise<GPT2> {
  const configPath = join(dir, HF_CONFIG_FILE);
  const config = configFromHF(await readJson(configPath), configPath);
  const checkpoint = await SafetensorsCheckpoint.open(
    dir,
    `(a Hugging Face GPT-2 directory holds ${HF_CONFIG_FILE} and ${HF_WEIGHTS_FILE}; pytorch_model.bin is not read)`,
  );
  try {
    return await loadInto(checkpoint, config, dir, opts.trainable ?? true);
  } finally {
    await checkpoint.close();
  }
}

type Stored = { shape: number[]; file: string; fileName: string };

async function loadInto(checkpoint: SafetensorsCheckpoint, config: GPT2Config, dir: string, trainable: boolean): Promise<GPT2> {
  // our name -> the file's tensor
  const byName = new Map<string, Stored>();
  let lmHead: Stored | null = null;
  for (const [fileName, t] of checkpoint.tensors) {
    const stored = { shape: t.entry.shape, file: t.file.path, fileName };
    const name = fileName.startsWith(PREFIX) ? fileName.slice(PREFIX.length) : fileName;
    if (name === "lm_head.weight") {
      lmHead = stored;
      continue;
    }
    if (isIgnoredBuffer(name)) continue;
    const seen = byName.get(name);
    if (seen) {
      throw new UserError(`${stored.file}: tensor '${fileName}' is also stored as '${seen.fileName}' (with and without '${PREFIX}')`);
    }
    byName.set(name, stored);
  }

  // The file's shapes against the config's before anything is allocated: a corrupt config.json (n_embd
  // 1e12, n_layer 1e9) is then a mismatch in one line, not a failed allocation.
  const layers = 1 + Math.max(-1, ...[...byName.keys()].map((n) => Number(/^h\.(\d+)\./.exec(n)?.[1] ?? -1)));
  if (layers < config.nLayer) {
    const weights = [...byName.values()][0]?.file ?? join(dir, HF_WEIGHTS_FILE);
    throw new UserError(`${join(dir, HF_CONFIG_FILE)}: n_layer: ${config.nLayer}, but ${weights} holds ${layers} layers`);
  }
  for (const p of parameterShapes(config)) {
    const t = byName.get(p.name) ?? (p.name === "wte.weight" ? lmHead : null);
    if (t) checkShape(t, p.shape, config);
  }
  const model = new GPT2(config, { trainable });
  const expected = new Set(model.parameters().map((p) => p.name));
  const unexpected = [...byName.entries()].filter(([name]) => !expected.has(name)).map(([, t]) => t);
  if (unexpected.length > 0) {
    const some = unexpected.slice(0, 5).map((t) => `'${t.fileName}'`).join(", ");
    const more = unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : "";
    throw new UserError(`${unexpected[0].file}: unexpected tensor${unexpected.length > 1 ? "s" : ""} ${some}${more} (not part of a GPT-2 LM)`);
  }
  if (!byName.has("wte.weight") && lmHead) byName.set("wte.weight", lmHead);

  const weightsName = checkpoint.files[0]?.path ?? join(dir, HF_WEIGHTS_FILE);
  for (const p of model.parameters()) {
    const t = byName.get(p.name);
    if (!t) {
      throw new UserError(`${weightsName}: tensor '${PREFIX}${p.name}' (or '${p.name}') is missing; expected shape [${p.shape.join(", ")}]`);
    }
    checkShape(t, p.shape, config);
    await checkpoint.readInto(t.fileName, p.data);
  }

  const wte = byName.get("wte.weight")!;
  if (lmHead && wte !== lmHead) {
    checkShape(lmHead, [config.vocabSize, config.nEmbd], config);
    const embedding = model.parameters().find((p) => p.name === "wte.weight")!.data;
    let differs = -1;
    await checkpoint.forEachChunk(lmHead.fileName, (values, first) => {
      for (let i = 0; i < values.length && differs < 0; i++) if (values[i] !== embedding[first + i]) differs = first + i;
    });
    if (differs >= 0) {
      throw new UserError(
        `${lmHead.file}: tensor '${lmHead.fileName}' differs from '${wte.fileName}' at element ${differs}: an untied LM head is not supported (the LM head is the token embedding)`,
      );
    }
  }
  return model;
}

function checkShape(t: Stored, shape: number[], config: GPT2Config): void {
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return;
  const dims = `n_embd ${config.nEmbd}, vocab_size ${config.vocabSize}, n_positions ${config.contextLength}`;
  const transposed = shape.length === 2 && t.shape.length === 2 && t.shape[0] === shape[1] && t.shape[1] === shape[0];
  const hint = transposed ? "; it looks transposed (nn.Linear stores [out, in], GPT-2's Conv1D [in, out])" : "";
  throw new UserError(`${t.file}: tensor '${t.fileName}' has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}] (${dims})${hint}`);
}

/**
 * Writes `model` as transformers' GPT2LMHeadModel.save_pretrained does: config.json and model.safetensors
 * with `transformer.`-prefixed names, the tied lm_head.weight left out, and metadata format "pt" (which
 * transformers requires). Each file is written atomically; `dir` is created if needed.
 */
export async function saveHFModel(model: GPT2, dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new UserError(`${dir}: cannot create the directory (${(err as Error).message})`);
  }
  const shapes = parameterShapes(model.config);
  const params = model.parameters();
  const tensors: [string, NamedTensor][] = params.map((p, i) => [PREFIX + p.name, { shape: shapes[i].shape, data: p.data }]);
  await writeSafetensors(join(dir, HF_WEIGHTS_FILE), tensors, { format: "pt" });
  await writeFileAtomic(join(dir, HF_CONFIG_FILE), JSON.stringify(configToHF(model.config), null, 2) + "\n");
}
