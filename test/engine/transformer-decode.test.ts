/**
 * KV-cache decoding of the decoder families: a prefill and decode steps give the logits of a full
 * recomputation of the whole sequence, with grouped-query attention and RoPE at positions > 1000 (llama3
 * scaling on); identical prompts share one prefill; the sampler's rule (seeded, stop tokens, stopWhen)
 * runs on them as on GPT-2, and completions of 4096+ tokens decode with a cache sized to the call.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FAMILY_PRESETS, type DecoderConfig } from "../../src/engine/families/config.js";
import { TransformerDecoder } from "../../src/engine/kvcache.js";
import { generate } from "../../src/engine/sample.js";
import { TransformerLM } from "../../src/engine/transformer.js";
import { Rng } from "../../src/util/rng.js";

function model(c: DecoderConfig, seed: number, lora = false): TransformerLM {
  const m = new TransformerLM(c, lora ? { lora: { r: 2, alpha: 4, dropout: 0.1, targetModules: "all-linear" } } : {});
  const rng = new Rng(seed);
  m.initialize(rng);
  // weights larger than the init's so attention is far from uniform over 1000 positions
  for (let i = 0; i < m.baseData.length; i++) m.baseData[i] += rng.normal() * 0.1;
  for (let i = 0; i < m.loraData.length; i++) m.loraData[i] += rng.normal() * 0.1;
  return m;
}

function randomTokens(rng: Rng, V: number, n: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(V));
}

/** Full-recomputation logits [V] of the last position of `seq`. */
function lastLogits(m: TransformerLM, seq: Int32Array): Float32Array {
  const T = seq.length;
  const all = m.logits({ tokens: seq, batch: 1, seqLen: T, lengths: Int32Array.of(T) });
  return all.slice((T - 1) * m.vocabSize, T * m.vocabSize) as Float32Array;
}

function closeRows(got: Float32Array, want: Float32Array, what: string): void {
  let scale = 0;
  for (const w of want) scale = Math.max(scale, Math.abs(w));
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 2e-4 * Math.max(1, scale), `${what}: logit ${i}: ${got[i]} vs ${want[i]}`);
}

for (const name of ["llama-tiny", "qwen2-tiny", "qwen3-tiny"] as const) {
  test(`${name}: prefill and steps at positions > 1000 give the full recomputation's logits (GQA, RoPE${name === "llama-tiny" ? ", llama3 scaling" : ""}, LoRA on)`, () => {
    const c = FAMILY_PRESETS[name];
    const m = model(c, 3, true);
    const rng = new Rng(4);
    const prompts = [randomTokens(rng, c.vocabSize, 1030), randomTokens(rng, c.vocabSize, 1007)];
    const steps = 3;
    const dec = new TransformerDecoder(m, 2, 1030 + steps, null);
    assert.equal(dec.Tmax, 1033);
    let logits = dec.prefill(prompts);
    const seqs = prompts.map((p) => Array.from(p));
    for (let s = 0; s <= steps; s++) {
      for (let b = 0; b < 2; b++) closeRows(logits.slice(b * c.vocabSize, (b + 1) * c.vocabSize), lastLogits(m, Int32Array.from(seqs[b])), `row ${b} at position ${seqs[b].length - 1}`);
      if (s === steps) break;
      const next = Int32Array.from([rng.int(c.vocabSize), rng.int(c.vocabSize)]);
      seqs[0].push(next[0]);
      seqs[1].push(next[1]);
      logits = dec.step(next);
    }
    assert.deepEqual(Array.from(dec.pos), [1033, 1010]);
  });
}

test("identical prompts share one prefill and decode as separate ones; the allowed-token head gives those columns", () => {
  const c = FAMILY_PRESETS["qwen2-tiny"];
  const m = model(c, 5);
  const rng = new Rng(6);
  const p = randomTokens(rng, c.vocabSize, 7);
  const q = randomTokens(rng, c.vocabSize, 4);
  const shared = new TransformerDecoder(m, 3, 12, null);
  const a = shared.prefill([p, q, p]).slice();
  const alone = new TransformerDecoder(m, 1, 12, null);
  const V = c.vocabSize;
  closeRows(a.slice(0, V), alone.prefill([p]).slice(), "row 0");
  closeRows(a.slice(2 * V, 3 * V), a.slice(0, V), "row 2 = row 0");
  const cols = Int32Array.from([3, 17, 40]);
  const few = new TransformerDecoder(m, 3, 12, cols).prefill([p, q, p]);
  for (let b = 0; b < 3; b++) for (const [i, v] of cols.entries()) assert.ok(Math.abs(few[b * 3 + i] - a[b * V + v]) < 1e-5);
});

test("generate on a family: seeded, stop tokens and stopWhen end rows (token kept), GPT-2's rule", () => {
  const c = FAMILY_PRESETS["qwen3-tiny"];
  const m = model(c, 8);
  const prompts = [Int32Array.of(1, 2, 3), Int32Array.of(1, 2, 3), Int32Array.of(5)];
  const opts = { maxNewTokens: 12, temperature: 1, topK: 20, topP: 0.9 };
  const a = generate(m, prompts, { ...opts, rng: new Rng(1) });
  const b = generate(m, prompts, { ...opts, rng: new Rng(1) });
  assert.deepEqual(a, b);
  assert.ok(a.every((x) => x.length === 12));
  // stopWhen ends row 0 at 4 tokens (kept); it sees each row's completion so far after every token
  const seen: number[][] = [];
  const s = generate(m, prompts, {
    ...opts, rng: new Rng(1), stopWhen: (row, tokens) => {
      seen.push([row, tokens.length, tokens[tokens.length - 1]]);
      return row === 0 && tokens.length === 4;
    },
  });
  assert.deepEqual(Array.from(s[0]), Array.from(a[0].slice(0, 4)));
  assert.deepEqual(Array.from(s[1].slice(0, 4)), Array.from(a[1].slice(0, 4)), "the other rows go on");
  assert.equal(s[1].length, 12);
  assert.deepEqual(seen.filter(([r]) => r === 0).map(([, n, tok]) => [n, tok]), [1, 2, 3, 4].map((n) => [n, a[0][n - 1]]));
  const t = generate(m, prompts, { ...opts, rng: new Rng(1), stopTokens: [a[2][0]] });
  assert.deepEqual(Array.from(t[2]), [a[2][0]]);
  // greedy follows the full recomputation's argmax
  const g = generate(m, [prompts[2]], { maxNewTokens: 5, temperature: 0, topK: 0, topP: 1, rng: new Rng(0) })[0];
  const seq = Array.from(prompts[2]);
  for (const tok of g) {
    const l = lastLogits(m, Int32Array.from(seq));
    let best = 0;
    for (let v = 1; v < l.length; v++) if (l[v] > l[best]) best = v;
    assert.equal(tok, best);
    seq.push(tok);
  }
});

test("a completion of 4100 tokens decodes (cache sized to prompt + maxNewTokens, not the model's 8192)", () => {
  const c = { ...FAMILY_PRESETS["llama-tiny"], nLayer: 1 };
  const m = model(c, 9);
  const out = generate(m, [Int32Array.of(1, 2)], { maxNewTokens: 4100, temperature: 1, topK: 0, topP: 1, rng: new Rng(2) });
  assert.equal(out[0].length, 4100);
  assert.ok(out[0].every((t) => t >= 0 && t < c.vocabSize));
});
