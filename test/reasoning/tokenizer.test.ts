/**
 * The repo's tokenizer: the tokenizer.json it writes loads through src/io/tokenizer.ts (@huggingface/tokenizers)
 * and round-trips every problem and solution of every split exactly; numbers are spelt digit by digit; a piece
 * outside the vocabulary is an error; the chat template renders with @huggingface/jinja to the documented
 * string, whose special tokens encode to their own ids.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { loadTokenizer } from "../../src/io/tokenizer.js";
import { generateSplit, SPLITS } from "../../src/reasoning/tasks.js";
import { CHAT_TEMPLATE, pieces, SPECIAL_TOKENS, SYSTEM_PROMPT, writeTokenizer } from "../../src/reasoning/tokenizer.js";

const dir = mkdtempSync(join(tmpdir(), "lgrpo-rtok-"));
after(() => rmSync(dir, { recursive: true, force: true }));
await writeTokenizer(dir, 256);
const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
const hf = new Tokenizer(json, config);
const vocab: Record<string, number> = json.model.vocab;

test("every problem and solution of every split round-trips exactly, one token a piece", async () => {
  const tok = await loadTokenizer(join(dir, "tokenizer.json"));
  const texts = [SYSTEM_PROMPT];
  for (const split of Object.keys(SPLITS) as (keyof typeof SPLITS)[]) {
    for (const r of generateSplit(split, split === "train" ? 2000 : 300, 0)) texts.push(r.problem, r.solution);
  }
  for (const text of texts) {
    const ids = tok.encode(text);
    assert.equal(hf.decode(ids, { skip_special_tokens: false }), text);
    assert.deepEqual(ids, pieces(text).map((p) => vocab[p]), text);
  }
});

test("numbers are spelt digit by digit, the first digit carrying the space", () => {
  const ids = hf.encode("x = 36 + 5", { add_special_tokens: false }).ids;
  assert.deepEqual(ids, ["x", " =", " 3", "6", " +", " 5"].map((p) => vocab[p]));
  assert.deepEqual(hf.encode("\\boxed{107}", { add_special_tokens: false }).tokens, ["\\boxed{", "1", "0", "7", "}"]);
});

test("a piece outside the vocabulary is an encoding error, not a silent unknown", async () => {
  const tok = await loadTokenizer(join(dir, "tokenizer.json"));
  assert.throws(() => tok.encode("Given x = 3 ; Find x"), /piece ' ;' has no id/);
  assert.throws(() => tok.encode("Solve x"), /piece 'Solve' has no id/);
});

test("the chat template renders system, user and the generation prompt; specials encode to their ids", () => {
  assert.equal(config.chat_template, CHAT_TEMPLATE);
  const template = new Template(config.chat_template);
  const messages = [
    { role: "system", content: SYSTEM_PROMPT },
    { role: "user", content: "Given a = 2 . Find a ." },
  ];
  const text = template.render({ messages, add_generation_prompt: true, bos_token: config.bos_token, eos_token: config.eos_token });
  assert.equal(text, `<|bos|><|system|>${SYSTEM_PROMPT}<|eos|><|user|>Given a = 2 . Find a .<|eos|><|assistant|>`);
  const withAnswer = template.render({
    messages: [...messages, { role: "assistant", content: "\\boxed{2}" }],
    add_generation_prompt: false,
    bos_token: config.bos_token,
    eos_token: config.eos_token,
  });
  assert.ok(withAnswer.endsWith("<|assistant|>\\boxed{2}<|eos|>"));
  const { ids, tokens } = hf.encode(text, { add_special_tokens: false });
  assert.equal(ids[0], vocab[SPECIAL_TOKENS.bos]);
  assert.equal(tokens.filter((t: string) => t === SPECIAL_TOKENS.eos).length, 2);
  assert.equal(ids[ids.length - 1], vocab[SPECIAL_TOKENS.assistant]);
  assert.equal(hf.decode(ids, { skip_special_tokens: false }), text);
  assert.throws(() => template.render({ messages: [{ role: "tool", content: "x" }], bos_token: "", eos_token: "" }), /unknown role tool/);
});

test("generation_config.json names the stop token; specials are the first ids", () => {
  const gen = JSON.parse(readFileSync(join(dir, "generation_config.json"), "utf8"));
  assert.equal(gen.eos_token_id, vocab[SPECIAL_TOKENS.eos]);
  assert.deepEqual(Object.values(SPECIAL_TOKENS).map((s) => vocab[s]), [0, 1, 2, 3, 4, 5]);
  assert.equal(new Set(Object.values(vocab)).size, Object.keys(vocab).length);
  assert.deepEqual([...Object.values(vocab)].sort((a, b) => a - b), Object.keys(vocab).map((_, i) => i));
});
