/**
 * LoRA adapters in PEFT's format: a directory with `adapter_config.json` (LoraConfig) and
 * `adapter_model.safetensors`, as `PeftModel.save_pretrained` writes them and `PeftModel.from_pretrained`
 * reads them.
 *
 * PEFT stores `base_model.model.<module>.lora_A.weight` [r, in] and `...lora_B.weight` [out, r] (without
 * the adapter name `default`); ours are the same names without `base_model.model.` (docs/CONTRACTS.md). The
 * update of a targeted linear layer is W += (lora_alpha / r) * B A. Options that change that update or
 * train more than A and B (DoRA, rsLoRA, per-module ranks, modules_to_save, LoRA biases) are refused, each
 * with a one-line error naming the file and the field.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { SafetensorsFile, writeSafetensors, type NamedTensor } from "../io/safetensors.js";
import { UserError } from "../util/errors.js";
import { LINEAR_MODULES, loraParameterShapes, modulePath, type DecoderConfig, type LinearModule, type LoraConfig } from "./families/config.js";
import { readJson } from "./hf.js";
import type { ParameterView } from "./hf-families.js";
import { kernels } from "./kernels/index.js";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";
/** What PeftModelForCausalLM puts before the base model's module names. */
export const PEFT_PREFIX = "base_model.model.";

/** PEFT's LoraConfig defaults for the fields an adapter_config.json may omit. */
const PEFT_DEFAULT_ALPHA = 8;
const PEFT_DEFAULT_DROPOUT = 0;
/** PEFT's targets for llama / qwen2 / qwen3 when target_modules is null (its per-model-type mapping). */
const PEFT_DEFAULT_TARGETS: LinearModule[] = ["q_proj", "v_proj"];

export interface AdapterConfig {
  lora: LoraConfig;
  /** the base checkpoint the adapter was trained on (PEFT's base_model_name_or_path), when known */
  baseModelNameOrPath: string | null;
}

/** The base weight an adapter tensor belongs to: `...q_proj.lora_A.weight` -> `...q_proj.weight`. */
export function adaptedWeight(loraName: string): string {
  return loraName.replace(/\.lora_[AB]\.weight$/, ".weight");
}

/** The AdapterConfig of a parsed adapter_config.json; `file` names it in errors. */
export function adapterConfigFromPeft(json: unknown, file: string): AdapterConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UserError(`${file}: expected a JSON object`);
  const c = json as Record<string, unknown>;
  const field = (name: string, message: string): UserError => new UserError(`${file}: ${name}: ${message}`);
  const given = (name: string): boolean => c[name] !== undefined && c[name] !== null;

  if (c.peft_type !== "LORA") throw field("peft_type", `${JSON.stringify(c.peft_type)} is not supported (only "LORA")`);
  if (given("task_type") && c.task_type !== "CAUSAL_LM") throw field("task_type", `${JSON.stringify(c.task_type)} is not supported (only "CAUSAL_LM")`);
  const refuse = (name: string, why: string): void => {
    const v = c[name];
    const active = v === true || (Array.isArray(v) && v.length > 0) || (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length > 0) || typeof v === "string" || typeof v === "number";
    if (active) throw field(name, `${JSON.stringify(v)} is not supported (${why})`);
  };
  refuse("use_dora", "DoRA changes the update");
  refuse("use_rslora", "rsLoRA scales by alpha / sqrt(r)");
  refuse("modules_to_save", "only LoRA's A and B are trained");
  refuse("rank_pattern", "one r for every module");
  refuse("alpha_pattern", "one lora_alpha for every module");
  refuse("layers_to_transform", "every layer is adapted");
  refuse("layers_pattern", "every layer is adapted");
  refuse("exclude_modules", "target_modules alone says what is adapted");
  refuse("target_parameters", "only linear modules are adapted");
  refuse("lora_bias", "LoRA's B has no bias");
  refuse("fan_in_fan_out", "these families' linear layers store [out, in]");
  if (given("bias") && c.bias !== "none") throw field("bias", `${JSON.stringify(c.bias)} is not supported (only "none": biases stay frozen)`);

  const r = c.r;
  if (typeof r !== "number" || !Number.isSafeInteger(r) || r < 1) throw field("r", `expected a positive integer, got ${JSON.stringify(r)}`);
  const alpha = c.lora_alpha ?? PEFT_DEFAULT_ALPHA;
  if (typeof alpha !== "number" || !Number.isFinite(alpha) || alpha <= 0) throw field("lora_alpha", `expected a positive number, got ${JSON.stringify(alpha)}`);
  const dropout = c.lora_dropout ?? PEFT_DEFAULT_DROPOUT;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw field("lora_dropout", `expected a number in [0, 1), got ${JSON.stringify(dropout)}`);

  let targetModules: LoraConfig["targetModules"];
  const t = c.target_modules;
  if (t === undefined || t === null) targetModules = [...PEFT_DEFAULT_TARGETS];
  else if (t === "all-linear") targetModules = "all-linear";
  else if (typeof t === "string") throw field("target_modules", `${JSON.stringify(t)} is not supported (a list of module names, or "all-linear"; no regular expressions)`);
  else if (!Array.isArray(t) || t.length === 0) throw field("target_modules", `expected a non-empty list of module names or "all-linear", got ${JSON.stringify(t)}`);
  else {
    const chosen = new Set<LinearModule>();
    t.forEach((name, k) => {
      // PEFT matches a name against the end of each module's path: "q_proj" and "self_attn.q_proj" both target q_proj
      const m = LINEAR_MODULES.find((lm) => name === lm || name === modulePath(lm));
      if (!m) throw field(`target_modules[${k}]`, `${JSON.stringify(name)} is not a linear module of a block (${LINEAR_MODULES.join(", ")})`);
      chosen.add(m);
    });
    targetModules = LINEAR_MODULES.filter((m) => chosen.has(m));
  }
  const base = c.base_model_name_or_path;
  return { lora: { r, alpha, dropout, targetModules }, baseModelNameOrPath: typeof base === "string" ? base : null };
}

/** adapter_config.json as PEFT writes it for a causal LM (loads with PeftModel.from_pretrained). */
export function adapterConfigToPeft(adapter: AdapterConfig): Record<string, unknown> {
  const { lora } = adapter;
  return {
    alpha_pattern: {},
    base_model_name_or_path: adapter.baseModelNameOrPath,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: lora.alpha,
    lora_dropout: lora.dropout,
    modules_to_save: null,
    peft_type: "LORA",
    r: lora.r,
    rank_pattern: {},
    revision: null,
    target_modules: lora.targetModules === "all-linear" ? "all-linear" : [...lora.targetModules],
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: false,
  };
}

/**
 * Reads a PEFT adapter directory for a model of `config`: its config and A/B tensors under our names (in
 * loraParameterShapes order). Every targeted module of every layer must have both, of the right shapes.
 */
export async function readAdapter(dir: string, config: DecoderConfig): Promise<{ adapter: AdapterConfig; tensors: (ParameterView & { shape: number[] })[] }> {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  const adapter = adapterConfigFromPeft(await readJson(configPath), configPath);
  const path = join(dir, ADAPTER_WEIGHTS_FILE);
  const file = await SafetensorsFile.open(path);
  try {
    const expected = loraParameterShapes(config, adapter.lora);
    const wanted = new Set(expected.map((p) => PEFT_PREFIX + p.name));
    const unexpected = [...file.entries.keys()].filter((n) => !wanted.has(n));
    if (unexpected.length > 0) {
      const some = unexpected.slice(0, 3).map((n) => `'${n}'`).join(", ");
      const more = unexpected.length > 3 ? ` and ${unexpected.length - 3} more` : "";
      throw new UserError(`${path}: unexpected tensor${unexpected.length > 1 ? "s" : ""} ${some}${more} (not the LoRA A/B of a target module of ${configPath}, r ${adapter.lora.r})`);
    }
    const tensors: (ParameterView & { shape: number[] })[] = [];
    for (const { name, shape } of expected) {
      const e = file.entries.get(PEFT_PREFIX + name);
      if (!e) throw new UserError(`${path}: tensor '${PEFT_PREFIX}${name}' is missing; expected shape [${shape.join(", ")}]`);
      if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
        throw new UserError(`${path}: tensor '${e.name}' has shape [${e.shape.join(", ")}], expected [${shape.join(", ")}] (r ${adapter.lora.r} from ${ADAPTER_CONFIG_FILE})`);
      }
      const data = new Float32Array(shape[0] * shape[1]);
      await file.readInto(e.name, data);
      tensors.push({ name, shape, data });
    }
    return { adapter, tensors };
  } finally {
    await file.close();
  }
}

/** Writes an adapter directory PEFT loads: adapter_config.json and adapter_model.safetensors (F32, PEFT's names), each atomically. */
export async function writeAdapter(dir: string, config: DecoderConfig, adapter: AdapterConfig, tensors: Iterable<ParameterView>): Promise<void> {
  const byName = new Map<string, Float32Array>();
  for (const t of tensors) byName.set(t.name, t.data);
  const list: [string, NamedTensor][] = loraParameterShapes(config, adapter.lora).map(({ name, shape }) => {
    const data = byName.get(name);
    if (!data || data.length !== shape[0] * shape[1]) throw new Error(`writeAdapter: no ${shape[0] * shape[1]}-element buffer for '${name}'`);
    return [PEFT_PREFIX + name, { shape, data }];
  });
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new UserError(`${dir}: cannot create the directory (${(err as Error).message})`);
  }
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), list, { format: "pt" });
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(adapterConfigToPeft(adapter), null, 2) + "\n");
}

/**
 * Merges an adapter into base weights in place: W += (alpha / r) * B A for each targeted module, so the
 * result is a plain checkpoint of the same config (what PEFT's merge_and_unload computes).
 */
export function mergeLora(base: Iterable<ParameterView>, adapter: Iterable<ParameterView>, config: DecoderConfig, lora: LoraConfig): void {
  const weights = new Map<string, Float32Array>();
  for (const p of base) weights.set(p.name, p.data);
  const ab = new Map<string, Float32Array>();
  for (const p of adapter) ab.set(p.name, p.data);
  const scale = lora.alpha / lora.r;
  const shapes = loraParameterShapes(config, lora);
  for (let k = 0; k < shapes.length; k += 2) {
    const a = shapes[k];
    const b = shapes[k + 1];
    const [r, n] = a.shape;
    const out = b.shape[0];
    const weight = adaptedWeight(a.name);
    const W = weights.get(weight);
    const A = ab.get(a.name);
    const B = ab.get(b.name);
    if (!W || W.length !== out * n) throw new Error(`mergeLora: no ${out * n}-element base weight '${weight}'`);
    if (!A || A.length !== r * n || !B || B.length !== out * r) throw new Error(`mergeLora: adapter tensors for '${weight}' missing or misshapen`);
    // W[out, n] = scale * B[out, r] A[r, n] + W
    kernels.gemm(false, false, out, n, r, scale, B, A, 1, W);
  }
}
