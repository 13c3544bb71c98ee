/**
 * The server's side of the viewer's new views, without a browser: span text decoded in context
 * (SentencePiece keeps its spaces, a byte-level character split over two steps lands whole in one), the
 * run's own tokenizer found from its config, and the run's colour scale (max |a| from the index's reward
 * scan) against the PRM library on every parsed group.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadTokenizer } from "../../src/io/tokenizer.js";
import { outcomeAdvantages, rewardStd } from "../../src/prm/index.js";
import { spanText, groupView } from "../../src/view/groupView.js";
import { rewardsIn } from "../../src/view/runIndex.js";
import { RunData, runTokenizer } from "../../src/view/server.js";
import { bpeModel, BYTE_LEVEL, tokenizerJson } from "../fixtures/tokenizers.js";
import { metaspaceTokenizer, VOCAB } from "./bigRun.js";

const dir = mkdtempSync(join(tmpdir(), "lgrpo-text-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** GPT-2's byte-level alphabet for the bytes used here: "c", "a", "f", " " -> "\u0120", 0xC3 -> "\u00c3", 0xA9 -> "\u00a9". */
function byteLevelTokenizer(): object {
  const vocab = { c: 0, a: 1, f: 2, "\u00c3": 3, "\u00a9": 4, "\u0120": 5, "\u0120c": 6 };
  return tokenizerJson({ model: bpeModel(vocab, ["\u0120 c"]), pre_tokenizer: BYTE_LEVEL, decoder: BYTE_LEVEL });
}

test("a span's text is decoded after the tokens before it: SentencePiece keeps the space before a word", async () => {
  const path = join(dir, "sp.json");
  writeFileSync(path, JSON.stringify(metaspaceTokenizer()));
  const tok = await loadTokenizer(path);
  const id = (w: string): number => VOCAB.indexOf(`\u2581${w}`);
  const [let_, x, be, the] = ["let", "x", "be", "the"].map(id);
  // Alone, Metaspace drops a piece's leading space; in context it is the space between two words.
  assert.equal(tok.decode([be, the]), "be the");
  assert.equal(spanText(tok, [let_, x], [be, the]), " be the");
  assert.equal(spanText(tok, [], [let_, x]), "let x");
  assert.equal(spanText(tok, [let_, x], [be, the]), tok.decode([let_, x, be, the]).slice(tok.decode([let_, x]).length));
});

test("a byte-level character split over two steps is shown whole, in the step that completes it", async () => {
  const path = join(dir, "bl.json");
  writeFileSync(path, JSON.stringify(byteLevelTokenizer()));
  const tok = await loadTokenizer(path);
  assert.deepEqual(tok.encode("caf\u00e9 c"), [0, 1, 2, 3, 4, 6]);
  // "é" is 0xC3 0xA9: steps "caf" + 0xC3 and 0xA9 + " c".
  assert.equal(spanText(tok, [], [0, 1, 2, 3]), "caf\ufffd");
  assert.equal(spanText(tok, [0, 1, 2, 3], [4, 6]), "\u00e9 c");
  assert.equal(spanText(tok, [0, 1], [2, 5, 0]), "f c");
});

test("the group view carries each step's whole text, and head/tail for long spans", async () => {
  const path = join(dir, "sp2.json");
  writeFileSync(path, JSON.stringify(metaspaceTokenizer()));
  const tok = await loadTokenizer(path);
  const words = Array.from({ length: 40 }, (_, i) => 1 + ((i * 7) % (VOCAB.length - 1)));
  const a = [...words, 3, 4];
  const b = [...words, 5];
  const view = groupView(0, { id: "g", step: 1, line: 1, bytesRead: 0, completions: [{ tokens: a, reward: 1, line: 1 }, { tokens: b, reward: 0, line: 1 }] }, { lossType: "dapo", decoder: tok });
  const shared = view.steps.find((s) => s.parent === -1)!;
  assert.equal(shared.length, 40);
  assert.equal(shared.text, tok.decode(words));
  assert.equal(shared.head, tok.decode(words.slice(0, view.collapse.edge)));
  assert.equal(shared.tail, " " + tok.decode(words.slice(-view.collapse.edge)));
  for (const s of view.steps.filter((s) => s.parent === shared.id)) {
    assert.equal(shared.text! + s.text!, tok.decode(s.members[0] === 0 ? a : b));
    assert.equal(s.head, null, "a short span is not collapsed");
  }
});

test("rewardsIn finds the rewards of a line, not text that looks like one", () => {
  assert.deepEqual(rewardsIn('{"id":"a","completions":[{"tokens":[1],"reward":1},{"tokens":[2],"reward": -0.5e1}]}'), [1, -5]);
  assert.deepEqual(rewardsIn('{"prompt":"say \\"reward\\": 3","completions":[{"text":"\\\\","reward":0.25}]}'), [0.25]);
  assert.deepEqual(rewardsIn('{"rewards": 2, "reward_model": 3}'), []);
});

test("the run's tokenizer: config.json's tokenizer, or its model directory, from the run directory", () => {
  const run = join(dir, "run");
  mkdirSync(join(run, "model"), { recursive: true });
  writeFileSync(join(run, "model", "tokenizer.json"), "{}");
  writeFileSync(join(run, "tok.json"), "{}");
  assert.equal(runTokenizer({ tokenizer: "tok.json" }, run), join(run, "tok.json"));
  assert.equal(runTokenizer({ model: "model" }, run), join(run, "model", "tokenizer.json"));
  assert.equal(runTokenizer({ model: join(run, "model") }, null), join(run, "model", "tokenizer.json"));
  assert.equal(runTokenizer({ model: "toy" }, run), null, "a preset name is not a directory");
  assert.equal(runTokenizer({ model: "tok.json" }, run), null, "model names a directory, not a file");
  assert.equal(runTokenizer(null, run), null);
});

test("the run's fixed colour scale is the largest |a| of any completion, under the run's scale_rewards", async () => {
  const groups = [
    { id: "s1-g0", step: 1, completions: [1, 0, 0, 0].map((reward) => ({ tokens: [1, 2], reward })) },
    { id: "s1-g1", step: 1, completions: [0.5, 0.5, 0.5].map((reward) => ({ tokens: [3], reward })) },
    { id: "s2-g0", step: 2, completions: [2, -1, 0.5].map((reward) => ({ tokens: [4, 5, 6], reward })) },
  ];
  for (const scale of ["group", "batch", "none"] as const) {
    const run = join(dir, `scale-${scale}`);
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, "config.json"), JSON.stringify({ scale_rewards: scale }));
    writeFileSync(join(run, "rollouts.jsonl"), groups.map((g) => JSON.stringify(g)).join("\n") + "\n");
    let expected = 0;
    for (const g of groups) {
      const r = g.completions.map((c) => c.reward);
      const step = groups.filter((h) => h.step === g.step).flatMap((h) => h.completions.map((c) => c.reward));
      for (const a of outcomeAdvantages(r, { scale, batchStd: rewardStd(step) })) expected = Math.max(expected, Math.abs(a));
    }
    const data = await RunData.open(run);
    assert.ok(Math.abs(data.info().maxAbsAdvantage! - expected) < 1e-12, `${scale}: ${data.info().maxAbsAdvantage} vs ${expected}`);
    // It bounds every drawn step's |A|.
    for (const ref of data.index.steps.flatMap((s) => data.groupsOf(s))) {
      for (const s of (await data.group(ref.handle)).steps) assert.ok(Math.abs(s.processAdvantage) <= expected + 1e-9);
    }
  }
});
