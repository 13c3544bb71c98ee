/**
 * The task family's tokenizer, written as a Hugging Face `tokenizer.json` + `tokenizer_config.json`, so the
 * base model's directory is one that Transformers (and src/io/tokenizer.ts) load like any other.
 *
 * Word-level: a piece is a word, one digit, or one other character, each with the space before it (so
 * " 36" is " 3" then "6", and decoding is plain concatenation: the round trip is exact by construction). One
 * digit a token keeps the vocabulary closed (every number the family writes is spelt from 20 pieces) and
 * lets the model learn sums digit by digit instead of a table of every pair. The vocabulary is every piece
 * the templates, the letters, the digits and the system prompt can produce, and nothing else: text with any
 * other piece fails to encode instead of mapping to an unknown token.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { tokenizerJson } from "../io/tokenizer.js";
import { DEFAULT_SYSTEM_PROMPT } from "../sft/data.js";

export const SPECIAL_TOKENS = {
  bos: "<|bos|>",
  eos: "<|eos|>",
  pad: "<|pad|>",
  system: "<|system|>",
  user: "<|user|>",
  assistant: "<|assistant|>",
} as const;

/** The system prompt's pieces are in the vocabulary: the base model reads the prompt a pretrained one would. */
export const SYSTEM_PROMPT = DEFAULT_SYSTEM_PROMPT;

/**
 * The pre-tokenizer's pieces: `\boxed{` whole, a word, one digit, or one other non-space character, each
 * with at most one space before it. (A space not followed by such a piece is a piece of its own.)
 */
export const PIECE_PATTERN = " ?\\\\boxed\\{| ?[A-Za-z]+| ?[0-9]| ?[^ A-Za-z0-9]";

/** The words of the task templates (src/reasoning/tasks.ts); letters and digits are added separately. */
const TEMPLATE_WORDS = ["Given", "Find"];
const SYMBOLS = ["=", "+", "-", "*", ",", ".", "?", "(", ")", "}", "\\boxed{"];

/**
 * The Jinja chat template (`tokenizer_config.json`): BOS, then each message as `<|role|>content<|eos|>`;
 * with `add_generation_prompt`, the opening `<|assistant|>`. The assistant's turn ends with EOS, the
 * generation's stop token.
 */
export const CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}" +
  "{% if message['role'] not in ['system', 'user', 'assistant'] %}{{ raise_exception('unknown role ' + message['role']) }}{% endif %}" +
  "{{ '<|' + message['role'] + '|>' + message['content'] + eos_token }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";

/** Splits text into the tokenizer's pieces (the same regex the tokenizer.json carries). */
export function pieces(text: string): string[] {
  const re = new RegExp(PIECE_PATTERN, "gu");
  const out: string[] = [];
  let at = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > at) out.push(text.slice(at, m.index));
    out.push(m[0]);
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

/** The vocabulary: special tokens first (ids 0..5), then the pieces in a fixed order. */
export function vocabulary(): string[] {
  const base = new Set<string>();
  const add = (piece: string): void => {
    base.add(piece);
    base.add(` ${piece}`);
  };
  for (const c of "abcdefghijklmnopqrstuvwxyz") add(c);
  for (const c of "0123456789") add(c);
  for (const s of SYMBOLS) add(s);
  for (const w of TEMPLATE_WORDS) add(w);
  for (const p of pieces(SYSTEM_PROMPT)) add(p.trimStart());
  base.add(" ");
  return [...Object.values(SPECIAL_TOKENS), ...base];
}

export interface TokenizerFiles {
  /** tokenizer.json */
  tokenizer: Record<string, unknown>;
  /** tokenizer_config.json */
  config: Record<string, unknown>;
  /** generation_config.json: the stop token */
  generation: Record<string, unknown>;
}

/** The three files' contents. `modelMaxLength`: the context the model is built for (tokenizer_config.json). */
export function tokenizerFiles(modelMaxLength: number): TokenizerFiles {
  const vocab = vocabulary();
  const ids = Object.fromEntries(vocab.map((p, i) => [p, i]));
  const specials = Object.values(SPECIAL_TOKENS);
  const tokenizer = tokenizerJson({
    // No unk_token in the vocabulary: a piece outside it is an encoding error, never a silent <unk>.
    model: { type: "WordLevel", vocab: ids, unk_token: "<|unk|>" },
    pre_tokenizer: { type: "Split", pattern: { Regex: PIECE_PATTERN }, behavior: "Isolated", invert: false },
    decoder: { type: "Fuse" },
    specials: specials.map((content) => ({ id: ids[content], content })),
  });
  const config = {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: SPECIAL_TOKENS.bos,
    eos_token: SPECIAL_TOKENS.eos,
    pad_token: SPECIAL_TOKENS.pad,
    unk_token: null,
    // Transformers' default cleanup would turn " ." into "." and break the exact round trip.
    clean_up_tokenization_spaces: false,
    add_bos_token: false,
    add_eos_token: false,
    model_max_length: modelMaxLength,
    chat_template: CHAT_TEMPLATE,
    added_tokens_decoder: Object.fromEntries(
      specials.map((content) => [String(ids[content]), { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }]),
    ),
  };
  const generation = {
    bos_token_id: ids[SPECIAL_TOKENS.bos],
    eos_token_id: ids[SPECIAL_TOKENS.eos],
    pad_token_id: ids[SPECIAL_TOKENS.pad],
  };
  return { tokenizer, config, generation };
}

/** Writes tokenizer.json, tokenizer_config.json and generation_config.json into `dir` (each atomically). */
export async function writeTokenizer(dir: string, modelMaxLength: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const f = tokenizerFiles(modelMaxLength);
  await writeFileAtomic(join(dir, "tokenizer.json"), JSON.stringify(f.tokenizer, null, 2) + "\n");
  await writeFileAtomic(join(dir, "tokenizer_config.json"), JSON.stringify(f.config, null, 2) + "\n");
  await writeFileAtomic(join(dir, "generation_config.json"), JSON.stringify(f.generation, null, 2) + "\n");
}
