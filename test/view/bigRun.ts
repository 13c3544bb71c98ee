/**
 * A run directory the size of a real reasoning run, for the viewer's scale test and for measuring by hand:
 * `steps` steps x `groups` groups x `completions` completions of up to `tokens` tokens (the figure is
 * 250 x 16 x 36 x 2000, a ~1.4 GB rollouts.jsonl; the browser test writes a few such groups and the 250
 * steps of metrics). Written as docs/CONTRACTS.md's run directory, with a SentencePiece-style tokenizer.json
 * (word pieces "\u2581word", HF's Metaspace decoder) so the page's text must keep its spaces.
 *
 * Each group is a random prefix tree of long reasoning-like completions: completion i continues a random
 * earlier one up to a random point and then writes its own text, so the tree has shared spans of hundreds
 * of tokens and branches at every depth. Deterministic (src/util/rng.ts) for a given seed.
 *
 * The full size, to try the viewer by hand: npx tsx bench/view-run.ts <dir> [steps groups completions tokens]
 */
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../../src/util/rng.js";
import { METASPACE, tokenizerJson, wordLevelModel } from "../fixtures/tokenizers.js";

const WORDS = (
  "let x be the number of ways to choose two of the n items so we need n times n minus one over two " +
  "first note that if we add both sides then divide by four we get a sum which is equal to twelve hence " +
  "the answer is not yet clear wait check again since each term is positive the total must exceed ten " +
  "therefore it follows that three plus five gives eight and eight squared is sixty four so the final " +
  "value is boxed = + - * / ( ) 0 1 2 3 4 5 6 7 8 9 :"
).split(" ");
// No "." or ",": the decoder's clean-up joins " ." to "." (Transformers' clean_up_tokenization_spaces), and
// expectedText is the plain reading: words with one space between.
/** Piece vocabulary: "<unk>" = 0, then "\u2581word" for each distinct word. */
export const VOCAB: string[] = ["<unk>", ...[...new Set(WORDS)].map((w) => `\u2581${w}`)];

/** A SentencePiece-style tokenizer.json over VOCAB (WordLevel model, Metaspace pre-tokenizer and decoder). */
export function metaspaceTokenizer(): object {
  const vocab: Record<string, number> = {};
  VOCAB.forEach((p, i) => (vocab[p] = i));
  return tokenizerJson({ model: wordLevelModel(vocab, "<unk>"), pre_tokenizer: METASPACE, decoder: METASPACE });
}

/** What a reader of the text expects: the words of the pieces, one space between them. */
export function expectedText(ids: number[]): string {
  return ids.map((i) => VOCAB[i].slice(1)).join(" ");
}

export interface BigRunShape {
  steps: number;
  /** Groups per step. */
  groups: number;
  completions: number;
  /** Longest completion; lengths are drawn in [tokens / 2, tokens], a quarter of them exactly `tokens`. */
  tokens: number;
  /** Steps whose groups are written (default all); metrics are written for every step. */
  rolloutSteps?: number[];
  seed?: number;
}

/** One group: `k` completions sharing random prefixes; rewards 0/1 (about 40% correct). */
export function bigGroup(rand: () => number, k: number, maxLen: number): { tokens: number[]; reward: number }[] {
  const out: { tokens: number[]; reward: number }[] = [];
  const word = (): number => 1 + Math.floor(rand() * (VOCAB.length - 1));
  for (let i = 0; i < k; i++) {
    const len = rand() < 0.25 ? maxLen : Math.floor(maxLen / 2 + rand() * (maxLen / 2));
    let tokens: number[] = [];
    if (i > 0 && rand() < 0.9) {
      // Continue an earlier completion up to a point; early branch points are likelier (shared openings).
      const parent = out[Math.floor(rand() * i)].tokens;
      tokens = parent.slice(0, Math.min(len - 1, Math.floor(rand() * rand() * parent.length)));
    }
    while (tokens.length < len) tokens.push(word());
    out.push({ tokens, reward: rand() < 0.4 ? 1 : 0 });
  }
  return out;
}

/** Writes the run into `dir` (config.json, metrics.jsonl, rollouts.jsonl, tokenizer.json); resolves when written. */
export async function writeBigRun(dir: string, shape: BigRunShape): Promise<{ tokenizer: string }> {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(shape.seed ?? 11);
  const rand = (): number => rng.next();
  const tokenizer = join(dir, "tokenizer.json");
  writeFileSync(tokenizer, JSON.stringify(metaspaceTokenizer()));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ tokenizer: "tokenizer.json", num_generations: shape.completions, loss_type: "dapo", lambda: false, steps: shape.steps }, null, 2),
  );
  const metrics: string[] = [];
  for (let step = 1; step <= shape.steps; step++) {
    const p = step / shape.steps;
    metrics.push(
      JSON.stringify({
        step,
        reward_mean: 0.3 + 0.5 * p + 0.08 * (rand() - 0.5),
        reward_std: 0.45 - 0.2 * p + 0.04 * (rand() - 0.5),
        loss: 0.01 * (rand() - 0.5),
        kl: 0.02 * p * p,
        path_depth_mean: 2 + 3 * p + 0.3 * rand(),
        intermediate_proportion_mean: 0.2 + 0.5 * p + 0.05 * rand(),
        flat_fraction: 0,
        learning_rate: 1e-6,
        completion_length_mean: shape.tokens * (0.7 + 0.1 * rand()),
        seconds: 42,
      }),
    );
  }
  writeFileSync(join(dir, "metrics.jsonl"), metrics.join("\n") + "\n");
  const out = createWriteStream(join(dir, "rollouts.jsonl"));
  const steps = shape.rolloutSteps ?? Array.from({ length: shape.steps }, (_, i) => i + 1);
  for (const step of steps) {
    for (let g = 0; g < shape.groups; g++) {
      const line = JSON.stringify({ id: `s${step}-g${g}`, step, completions: bigGroup(rand, shape.completions, shape.tokens) }) + "\n";
      if (!out.write(line)) await new Promise<void>((r) => out.once("drain", () => r()));
    }
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { tokenizer };
}
