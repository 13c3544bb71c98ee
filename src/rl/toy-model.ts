/**
 * The toy on a user's pretrained model (`lambda-grpo toy --model DIR`): the paper's exact setting, a
 * pretrained GPT-2 whose two actions are its tokenizer's tokens for "L" and "R". This file turns a Hugging
 * Face directory (config.json, model.safetensors, tokenizer.json) into what the tree environment needs: the
 * two token ids and the prompt's ids. The sweep itself is src/rl/toy.ts, unchanged.
 *
 * Choices (docs/trainer.md):
 * - The actions are the tokens of "L" and "R" without a leading space (GPT-2: 43 and 49, the same ids as the
 *   presets), so a path reads "LLRL"; " L" and " R" (SentencePiece's "▁L", "▁R") are other tokens and stay
 *   masked with the rest.
 * - The prompt is the model's document start (config.json's `bos_token_id`: GPT-2's <|endoftext|>, Llama 3's
 *   <|begin_of_text|>), when it has one, then TOY_PROMPT encoded by the tokenizer. It ends in a newline so
 *   that a bare "L" or "R" starting the next line is ordinary text for the model.
 * - Any family createPolicy loads (GPT-2, Llama 3, Qwen2, Qwen3) is accepted: the tree environment and the
 *   trainer only see the policy's vocabulary.
 */
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { loadTokenizer } from "../io/tokenizer.js";
import { reason, UserError } from "../util/errors.js";

/** The fixed prompt's text (after the document-start token). */
export const TOY_PROMPT = "Path (L or R):\n";

/**
 * The learning rate of `--model` runs, shared by both algorithms and every cell: the authors' rate for
 * pretrained models (PAPER.md section 5: 1e-6). Not tuned on the toy: no pretrained weights can be loaded
 * here. `toy --model DIR --learning-rate X` runs another; src/rl/toy-tune.ts --model DIR chooses one the way
 * the `small` preset's was chosen.
 */
export const TOY_MODEL_LEARNING_RATE = 1e-6;

export interface ToyModel {
  /** the directory, absolute (each run's config names it; the workers load it) */
  dir: string;
  /** token ids of the two actions */
  left: number;
  right: number;
  /** the prompt as text (without the document-start token) and as the ids the policy sees */
  promptText: string;
  prompt: number[];
}

/** Reads DIR's config.json and tokenizer.json; a UserError naming the file when the toy cannot run on them. */
export async function toyModel(dir: string, promptText = TOY_PROMPT): Promise<ToyModel> {
  const abs = resolve(dir);
  try {
    if (!(await stat(abs)).isDirectory()) throw new UserError(`--model ${dir}: not a directory (expected a Hugging Face model directory)`);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`--model ${dir}: cannot read it (${reason(err)})`);
  }
  const configPath = join(abs, "config.json");
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(configPath, "utf8"));
  } catch (err) {
    throw new UserError(`${configPath}: cannot read the model's config (${err instanceof SyntaxError ? err.message : reason(err)})`);
  }
  const vocabSize = config.vocab_size;
  if (!Number.isSafeInteger(vocabSize) || (vocabSize as number) < 2) {
    throw new UserError(`${configPath}: vocab_size: expected an integer >= 2, got ${JSON.stringify(vocabSize)}`);
  }
  const tokenizerPath = join(abs, "tokenizer.json");
  try {
    await stat(tokenizerPath);
  } catch {
    throw new UserError(`${tokenizerPath}: not found; toy --model needs the model's tokenizer to find the tokens of "L" and "R"`);
  }
  const tokenizer = await loadTokenizer(tokenizerPath);

  // the vocabulary's piece whose text is exactly the letter: byte-level BPE (GPT-2, Llama 3, Qwen) and
  // SentencePiece alike have it, and it is what follows a newline; the text "L" alone may encode otherwise
  // (a SentencePiece tokenizer prepends "▁", giving the space variant)
  const action = (text: "L" | "R"): number => {
    const id = tokenizer.tokenToId(text);
    if (id === undefined || tokenizer.decode([id]) !== text) {
      let encoded: string;
      try {
        const ids = tokenizer.encode(text);
        encoded = `encodes as ${ids.length} token${ids.length === 1 ? "" : "s"} [${ids.join(", ")}] ${JSON.stringify(ids.map((i) => tokenizer.decode([i])))}`;
      } catch (err) {
        encoded = `cannot be encoded: ${(err as Error).message}`;
      }
      throw new UserError(`${tokenizerPath}: "${text}" is not a single token of this tokenizer (the text ${encoded}); the toy's two actions must be the tokens "L" and "R"`);
    }
    if (id >= (vocabSize as number)) {
      throw new UserError(`${tokenizerPath}: "${text}" is the token ${id}, outside the model's vocabulary (${configPath}: vocab_size ${vocabSize})`);
    }
    return id;
  };
  const left = action("L");
  const right = action("R");
  if (left === right) throw new UserError(`${tokenizerPath}: "L" and "R" are the same token (${left})`);

  let text: number[];
  try {
    text = tokenizer.encode(promptText);
  } catch (err) {
    throw new UserError(`${tokenizerPath}: cannot encode the prompt ${JSON.stringify(promptText)} (${(err as Error).message})`);
  }
  const bos = config.bos_token_id;
  const start = Number.isSafeInteger(bos) && (bos as number) >= 0 && (bos as number) < (vocabSize as number) ? [bos as number] : [];
  const prompt = [...start, ...text];
  if (prompt.length === 0) throw new UserError(`--prompt: the prompt is empty and ${configPath} has no bos_token_id; give a text`);
  for (const t of prompt) {
    if (t >= (vocabSize as number)) throw new UserError(`${tokenizerPath}: the prompt's token ${t} is outside the model's vocabulary (${configPath}: vocab_size ${vocabSize})`);
  }
  return { dir: abs, left, right, promptText, prompt };
}
