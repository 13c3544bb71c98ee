/**
 * Text -> token ids with a Hugging Face `tokenizer.json`, through @huggingface/tokenizers (pure JS, the
 * tokenizer of Transformers.js). A `tokenizer_config.json` beside it is read when present (it carries
 * settings such as clean_up_tokenization_spaces); it is optional.
 *
 * Completions are encoded without special tokens (no BOS/EOS added): the text of a completion is the
 * continuation of a prompt, and the ids must be those the policy emitted. If your logs include an EOS token,
 * keep it in the text (e.g. "<|endoftext|>" as an added token) or log token ids instead.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { reason, UserError } from "../util/errors.js";

export interface TextEncoder {
  /** Token ids of `text`; throws Error with a readable message when a piece has no id. */
  encode(text: string): number[];
}

/** A tokenizer.json both ways, with its special tokens by text (chat templates, stop tokens). */
export interface HFTokenizer extends TextEncoder {
  /** Text of `ids`, special tokens kept unless `skipSpecialTokens` */
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** The id of a token (added tokens included), undefined when it has none */
  tokenToId(token: string): number | undefined;
}

async function readJson(path: string, what: string): Promise<object> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new UserError(`${path}: cannot read ${what} (${reason(err)})`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object");
    return value;
  } catch (err) {
    throw new UserError(`${path}: malformed ${what} (${(err as Error).message})`);
  }
}

/** What a writer of a tokenizer.json chooses; the rest of the file is empty (no truncation, padding, normalizer, post-processor). */
export interface TokenizerJsonParts {
  model: object;
  pre_tokenizer?: object | null;
  decoder?: object | null;
  /** The special tokens, each an added token with `special: true`, in this order. */
  specials?: { id: number; content: string }[];
}

/** The contents of a tokenizer.json (src/reasoning/tokenizer.ts writes one; the tests write many). */
export function tokenizerJson({ model, pre_tokenizer = null, decoder = null, specials = [] }: TokenizerJsonParts): Record<string, unknown> {
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map(({ id, content }) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer,
    post_processor: null,
    decoder,
    model,
  };
}

/** Loads a tokenizer.json (and tokenizer_config.json from the same directory, if there is one). */
export async function loadTokenizer(path: string): Promise<HFTokenizer> {
  const json = await readJson(path, "tokenizer.json");
  const configPath = join(dirname(path), "tokenizer_config.json");
  let config: object = {};
  try {
    config = await readJson(configPath, "tokenizer_config.json");
  } catch (err) {
    // Absent is fine; present but broken is the user's to fix.
    if (!(err instanceof UserError) || err.message.includes("malformed")) throw err;
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (err) {
    throw new UserError(`${path}: not a tokenizer this library can load (${(err as Error).message})`);
  }
  return {
    encode(text: string): number[] {
      const { ids, tokens } = tokenizer.encode(text, { add_special_tokens: false });
      for (let i = 0; i < ids.length; i++) {
        // A vocabulary without an unknown token yields no id for an unseen piece.
        if (!Number.isInteger(ids[i])) throw new Error(`piece '${tokens[i]}' has no id in the tokenizer's vocabulary`);
        // a corrupt vocabulary's id is the tokenizer file's fault, not the text's
        if (ids[i] < 0 || ids[i] > 2147483647) throw new UserError(`${path}: piece '${tokens[i]}' has the id ${ids[i]}, not a 32-bit token id`);
      }
      return ids;
    },
    decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
      // the library refuses an empty list; no tokens are no text
      if (ids.length === 0) return "";
      return tokenizer.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false });
    },
    tokenToId(token: string): number | undefined {
      return tokenizer.token_to_id(token);
    },
  };
}
