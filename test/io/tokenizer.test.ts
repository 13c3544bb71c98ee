/** Text -> ids through a Hugging Face tokenizer.json (a tiny BPE model written here, not downloaded). */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadTokenizer } from "../../src/io/tokenizer.js";
import { bpeModel, tokenizerJson, wordLevelModel } from "../fixtures/tokenizers.js";

const dir = mkdtempSync(join(tmpdir(), "lgrpo-tok-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function bpe(unk: string | null): object {
  return tokenizerJson({ model: bpeModel({ "<unk>": 0, a: 1, b: 2, c: 3, ab: 4, abc: 5 }, ["a b", "ab c"], { unk_token: unk }) });
}

test("a BPE tokenizer.json encodes with its merges and no special tokens", async () => {
  const path = join(dir, "tokenizer.json");
  writeFileSync(path, JSON.stringify(bpe(null)));
  const tok = await loadTokenizer(path);
  assert.deepEqual(tok.encode("abcab"), [5, 4]);
  assert.deepEqual(tok.encode("cba"), [3, 2, 1]);
  assert.deepEqual(tok.encode(""), []);
});

test("a piece without an id is an error, not an undefined id", async () => {
  const path = join(dir, "wordlevel.json");
  writeFileSync(path, JSON.stringify(tokenizerJson({ model: wordLevelModel({ "<unk>": 0, a: 1 }, "<unk>"), pre_tokenizer: { type: "Whitespace" } })));
  const tok = await loadTokenizer(path);
  assert.deepEqual(tok.encode("a a"), [1, 1]);
  assert.throws(() => tok.encode("a x"), /piece 'x' has no id/);
});

test("missing, malformed or foreign tokenizer files are errors for people", async () => {
  await assert.rejects(loadTokenizer(join(dir, "none.json")), /none\.json: cannot read tokenizer\.json \(ENOENT\)/);
  const bad = join(dir, "bad.json");
  writeFileSync(bad, "{nope");
  await assert.rejects(loadTokenizer(bad), /bad\.json: malformed tokenizer\.json/);
});
