/**
 * Token ids -> text for display, with the same tokenizer.json the rollout reader encodes with
 * (src/io/tokenizer.ts, which only encodes). Special tokens are shown, not skipped: they are part of what
 * the policy emitted.
 */
import { readFile } from "node:fs/promises";
import { Tokenizer } from "@huggingface/tokenizers";
import { UserError } from "../util/errors.js";
import type { TokenDecoder } from "./groupView.js";

export async function loadDecoder(path: string): Promise<TokenDecoder> {
  let json: object;
  try {
    json = JSON.parse(await readFile(path, "utf8")) as object;
  } catch (err) {
    throw new UserError(`${path}: cannot read tokenizer.json (${(err as Error).message})`);
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, {});
  } catch (err) {
    throw new UserError(`${path}: not a tokenizer this library can load (${(err as Error).message})`);
  }
  return {
    decode(ids: number[]): string {
      return tokenizer.decode(ids, { skip_special_tokens: false });
    },
  };
}
