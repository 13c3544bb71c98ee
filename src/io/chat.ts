/**
 * Chat prompts as transformers' `apply_chat_template` builds them: the Jinja template of a Hugging Face
 * directory (`chat_template.jinja`, else `tokenizer_config.json`'s `chat_template`, a string or a list of
 * {name, template} of which "default" is used), rendered by @huggingface/jinja (Transformers.js's Jinja)
 * with `messages`, `add_generation_prompt` and the special tokens (`bos_token`, `eos_token`, ...); and the
 * stop tokens a generation ends at (`generation_config.json`'s `eos_token_id`, else config.json's, plus
 * the tokenizer's eos token).
 *
 * The rendered prompt already holds the template's special tokens (Llama 3's <|begin_of_text|>, ...), so
 * it is encoded without adding any (as apply_chat_template(tokenize=True) does).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { reason, UserError } from "../util/errors.js";
import type { HFTokenizer } from "./tokenizer.js";

export const TOKENIZER_CONFIG_FILE = "tokenizer_config.json";
/** Where transformers >= 4.50 saves the template (it wins over tokenizer_config.json's) */
export const CHAT_TEMPLATE_FILE = "chat_template.jinja";
export const GENERATION_CONFIG_FILE = "generation_config.json";

export interface ChatMessage {
  role: string;
  content: string;
}

/** The special tokens a template may use, by the names transformers passes them under. */
const SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"] as const;

export interface ChatTemplate {
  /** the Jinja source */
  source: string;
  /** where it came from (file, and the list entry's name) */
  origin: string;
  /** bos_token, eos_token, ... as text (absent when the tokenizer has none) */
  specialTokens: Record<string, string>;
  /** The prompt for `messages`; `addGenerationPrompt` opens the assistant's turn. `extra`: template kwargs (e.g. enable_thinking). */
  render(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> }): string;
}

async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new UserError(`${path}: cannot read (${reason(err)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${path}: malformed JSON (${(err as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UserError(`${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}

/** A special token as tokenizer_config.json writes it: a string, an AddedToken object {content, ...}, or null. */
function tokenText(value: unknown, file: string, key: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return value;
  if (typeof value === "object" && typeof (value as { content?: unknown }).content === "string") return (value as { content: string }).content;
  throw new UserError(`${file}: ${key}: expected a string or an AddedToken {"content": ...}, got ${JSON.stringify(value)}`);
}

/**
 * The chat template of a parsed tokenizer_config.json (`file` names it in errors); `jinja`, the contents
 * of chat_template.jinja when the directory has one, replaces its `chat_template`.
 */
export function chatTemplateFromConfig(json: Record<string, unknown>, file: string, jinja: { source: string; file: string } | null = null): ChatTemplate {
  const specialTokens: Record<string, string> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const t = tokenText(json[key], file, key);
    if (t !== null) specialTokens[key] = t;
  }
  let source: string;
  let origin: string;
  if (jinja !== null) {
    source = jinja.source;
    origin = jinja.file;
  } else {
    const t = json.chat_template;
    if (t === undefined || t === null) throw new UserError(`${file}: chat_template: missing (this tokenizer has no chat template; prompt without --chat)`);
    if (typeof t === "string") {
      source = t;
      origin = file;
    } else if (Array.isArray(t)) {
      const names = t.map((e) => (typeof e === "object" && e !== null ? (e as { name?: unknown }).name : undefined));
      const k = names.indexOf("default");
      const entry = k >= 0 ? (t[k] as { template?: unknown }) : null;
      if (entry === null) throw new UserError(`${file}: chat_template: no template named "default" (the list has ${names.map((n) => JSON.stringify(n)).join(", ")})`);
      if (typeof entry.template !== "string") throw new UserError(`${file}: chat_template[${k}].template: expected a string`);
      source = entry.template;
      origin = `${file} (chat_template "default")`;
    } else {
      throw new UserError(`${file}: chat_template: expected a string or a list of {"name", "template"}, got ${JSON.stringify(t).slice(0, 40)}`);
    }
  }
  let template: Template;
  try {
    template = new Template(source);
  } catch (err) {
    throw new UserError(`${origin}: the chat template does not parse (${(err as Error).message})`);
  }
  return {
    source,
    origin,
    specialTokens,
    render(messages, opts = {}) {
      try {
        return template.render({ ...(opts.extra ?? {}), ...specialTokens, messages, add_generation_prompt: opts.addGenerationPrompt ?? false });
      } catch (err) {
        // raise_exception(...) in a template lands here: its message is the template's own words
        throw new UserError(`${origin}: the chat template failed (${(err as Error).message})`);
      }
    },
  };
}

/** The chat template of HF directory `dir` (see the top of this file for where it is looked up). */
export async function loadChatTemplate(dir: string): Promise<ChatTemplate> {
  const configPath = join(dir, TOKENIZER_CONFIG_FILE);
  const json = await readJsonObject(configPath);
  const jinjaPath = join(dir, CHAT_TEMPLATE_FILE);
  let jinja: { source: string; file: string } | null = null;
  if (existsSync(jinjaPath)) {
    try {
      jinja = { source: await readFile(jinjaPath, "utf8"), file: jinjaPath };
    } catch (err) {
      throw new UserError(`${jinjaPath}: cannot read (${reason(err)})`);
    }
  }
  return chatTemplateFromConfig(json, configPath, jinja);
}

/** eos_token_id as an int or a list of ints (transformers accepts both); `file` and field name the source in errors. */
function tokenIds(value: unknown, file: string, field: string): number[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  list.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new UserError(`${file}: ${field}${Array.isArray(value) ? `[${i}]` : ""}: expected a token id, got ${JSON.stringify(v)}`);
    }
  });
  return list as number[];
}

/**
 * The token ids that end a completion in HF directory `dir`: `generation_config.json`'s eos_token_id (an
 * int or a list), else config.json's, plus the id of the tokenizer's eos_token (tokenizer_config.json)
 * when `tokenizer` has it. In that order, without repeats.
 */
export async function stopTokenIds(dir: string, tokenizer: HFTokenizer | null): Promise<number[]> {
  const ids: number[] = [];
  const generation = join(dir, GENERATION_CONFIG_FILE);
  const config = join(dir, "config.json");
  if (existsSync(generation)) ids.push(...tokenIds((await readJsonObject(generation)).eos_token_id, generation, "eos_token_id"));
  else if (existsSync(config)) ids.push(...tokenIds((await readJsonObject(config)).eos_token_id, config, "eos_token_id"));
  const tokenizerConfig = join(dir, TOKENIZER_CONFIG_FILE);
  if (tokenizer !== null && existsSync(tokenizerConfig)) {
    const eos = tokenText((await readJsonObject(tokenizerConfig)).eos_token, tokenizerConfig, "eos_token");
    const id = eos === null ? undefined : tokenizer.tokenToId(eos);
    if (id !== undefined) ids.push(id);
  }
  return [...new Set(ids)];
}

/** How generate samples by default: transformers' reading of generation_config.json. */
export interface GenerationDefaults {
  /** 0: greedy (do_sample false or absent, transformers' default) */
  temperature: number;
  topK: number;
  topP: number;
}

/** transformers' GenerationConfig defaults for do_sample true: temperature 1, top_k 50, top_p 1. */
const HF_SAMPLE_DEFAULTS = { temperature: 1, topK: 50, topP: 1 };

/** The sampling settings of `dir`'s generation_config.json (greedy without one, as transformers' generate). */
export async function generationDefaults(dir: string): Promise<GenerationDefaults> {
  const path = join(dir, GENERATION_CONFIG_FILE);
  if (!existsSync(path)) return { temperature: 0, topK: 0, topP: 1 };
  const g = await readJsonObject(path);
  if (g.do_sample !== true) return { temperature: 0, topK: 0, topP: 1 };
  const num = (key: string, fallback: number, ok: (x: number) => boolean): number => {
    const v = g[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "number" || !ok(v)) throw new UserError(`${path}: ${key}: out of range, got ${JSON.stringify(v)}`);
    return v;
  };
  return {
    temperature: num("temperature", HF_SAMPLE_DEFAULTS.temperature, (x) => x >= 0 && Number.isFinite(x)),
    topK: num("top_k", HF_SAMPLE_DEFAULTS.topK, (x) => Number.isInteger(x) && x >= 0),
    topP: num("top_p", HF_SAMPLE_DEFAULTS.topP, (x) => x > 0 && x <= 1),
  };
}
