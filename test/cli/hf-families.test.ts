/** The CLI on the decoder families: info, logprobs (against PyTorch), export (merge) and generate. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadDecoderModel } from "../../src/engine/hf-families.js";
import { writeAdapter } from "../../src/engine/peft.js";
import { loraParameterShapes, parameterShapes, type LoraConfig } from "../../src/engine/families/config.js";
import { Rng } from "../../src/util/rng.js";
import { FAMILY_FIXTURES, readFamilyGolden } from "../fixtures/families/fixture.js";
import { TINY, writeTinyCheckpoint } from "../fixtures/tiny-families.js";
import { tokenizerJson, wordLevelModel } from "../fixtures/tokenizers.js";
import { runCli, tempDir } from "./helpers.js";

/** The bound for comparisons with PyTorch (test/engine/golden-families.test.ts). */
const REL_TOL = 1e-4;

function jsonl(text: string): { logprobs: number[] }[] {
  return text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

test("info --model: architecture, parameter count, dtype and files, tied head, vocabulary of each family", async () => {
  const root = tempDir();
  for (const [family, config] of Object.entries(TINY)) {
    for (const opts of [{ dtype: "F32" as const }, { dtype: "BF16" as const, maxShardBytes: 6000 }]) {
      const dir = join(root, `${family}-${opts.dtype}`);
      await writeTinyCheckpoint(dir, config, 1, opts);
      const r = runCli(["info", "--model", dir, "--json"]);
      assert.equal(r.status, 0, r.stderr);
      const info = JSON.parse(r.stdout);
      const files = (await readdir(dir)).filter((f) => f.endsWith(".safetensors")).length;
      const expected = parameterShapes(config).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
      assert.deepEqual(
        [info.family, info.parameters, info.dtypes, info.files, info.tiedHead, info.vocabSize, info.kvHeads],
        [family, expected, [opts.dtype], files, config.tieWordEmbeddings, config.vocabSize, config.nKvHead],
      );
      assert.ok(opts.maxShardBytes === undefined || files > 1);
    }
  }
  const text = runCli(["info", "--model", FAMILY_FIXTURES[2].dir]);
  assert.match(text.stdout, /architecture: Qwen3ForCausalLM \(qwen3\)\n/);
  assert.match(text.stdout, /dtype: +F16 in 2 files\n/);
  // without --model it stays the kernel report
  assert.match(runCli(["info"]).stdout, /^kernels: /);
});

test("logprobs --model gives PyTorch's log-probs for every family (sharded F16, BF16, F32) and with the PEFT adapter", async () => {
  const dir = tempDir();
  for (const f of FAMILY_FIXTURES) {
    for (const lora of f.lora ? [false, true] : [false]) {
      const g = await readFamilyGolden(f, lora);
      const T = g.seqLen;
      const rows = Array.from({ length: g.batch }, (_, b) => Array.from(g.tokens.subarray(b * T, b * T + g.lengths[b])));
      const input = join(dir, "in.jsonl");
      await writeFile(input, rows.map((tokens) => JSON.stringify({ tokens })).join("\n") + "\n");
      const out = join(dir, "out.jsonl");
      const r = runCli(["logprobs", "--model", f.dir, "--input", input, "--out", out, ...(lora ? ["--lora", join(f.dir, "adapter")] : [])]);
      assert.equal(r.status, 0, r.stderr);
      const got = jsonl(await readFile(out, "utf8"));
      let diff = 0;
      let scale = 0;
      got.forEach((row, b) => {
        assert.equal(row.logprobs.length, rows[b].length - 1);
        row.logprobs.forEach((x, t) => {
          const ref = g.logprobs[b * (T - 1) + t];
          diff = Math.max(diff, Math.abs(x - ref));
          scale = Math.max(scale, Math.abs(ref));
        });
      });
      assert.ok(diff / scale < REL_TOL, `${f.name}${lora ? " + adapter" : ""}: ${diff / scale}`);
    }
  }
});

async function tinyWithAdapter(root: string): Promise<{ model: string; adapter: string; lora: LoraConfig }> {
  const config = TINY.qwen2;
  const model = join(root, "base");
  await writeTinyCheckpoint(model, config, 4, { dtype: "BF16" });
  await writeFile(join(model, "tokenizer.json"), JSON.stringify(wordTokenizer(config.vocabSize)));
  await writeFile(join(model, "generation_config.json"), JSON.stringify({ eos_token_id: 63 }));
  const lora: LoraConfig = { r: 2, alpha: 4, dropout: 0, targetModules: ["q_proj", "down_proj"] };
  const rng = new Rng(9);
  const tensors = loraParameterShapes(config, lora).map(({ name, shape }) => ({ name, data: Float32Array.from({ length: shape[0] * shape[1] }, () => 0.3 * rng.normal()) }));
  const adapter = join(root, "adapter");
  await writeAdapter(adapter, config, { lora, baseModelNameOrPath: model }, tensors);
  return { model, adapter, lora };
}

test("export merges an adapter: the merged checkpoint scores as base + adapter, in the base's dtype, with its tokenizer", async () => {
  const root = tempDir();
  const { model, adapter } = await tinyWithAdapter(root);
  const out = join(root, "merged");
  const r = runCli(["export", "--model", model, "--lora", adapter, "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((await readdir(out)).sort(), ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json"]);
  assert.equal(r.stdout, "");
  const info = JSON.parse(runCli(["info", "--model", out, "--json"]).stdout);
  assert.deepEqual(info.dtypes, ["BF16"]);

  const input = join(root, "in.jsonl");
  await writeFile(input, JSON.stringify({ tokens: [1, 5, 9, 30, 2, 7, 44] }) + "\n" + JSON.stringify({ tokens: [3, 3, 8] }) + "\n");
  const score = (args: string[]): number[][] => {
    const o = join(root, "lp.jsonl");
    const s = runCli(["logprobs", "--input", input, "--out", o, ...args]);
    assert.equal(s.status, 0, s.stderr);
    return jsonl(readFileSync(o, "utf8")).map((x) => x.logprobs);
  };
  const withAdapter = score(["--model", model, "--lora", adapter]);
  const base = score(["--model", model]);
  const merged = score(["--model", out]);
  let diff = 0;
  let moved = 0;
  withAdapter.flat().forEach((x, i) => {
    diff = Math.max(diff, Math.abs(x - merged.flat()[i]));
    moved = Math.max(moved, Math.abs(x - base.flat()[i]));
  });
  // the merged weights are rounded to BF16 once more: close to base + adapter, far from the base
  assert.ok(diff < 0.05 && moved > 5 * diff, `merged vs adapter ${diff}, adapter vs base ${moved}`);

  const f32 = join(root, "merged-f32");
  assert.equal(runCli(["export", "--model", model, "--lora", adapter, "--out", f32, "--dtype", "float32"]).status, 0);
  const exact = score(["--model", f32]);
  let d32 = 0;
  withAdapter.flat().forEach((x, i) => (d32 = Math.max(d32, Math.abs(x - exact.flat()[i]))));
  assert.ok(d32 < 1e-4, `float32 merge vs adapter ${d32}`);
});

test("export never overwrites its input, and replaces a non-empty --out only with --overwrite", async () => {
  const root = tempDir();
  const { model, adapter } = await tinyWithAdapter(root);
  for (const [out, re] of [[model, /--out .*base: is the --model directory/], [adapter, /--out .*adapter: is the --lora directory/], [root, /is the --model directory \(or holds it\)/]] as const) {
    const r = runCli(["export", "--model", model, "--lora", adapter, "--out", out, "--overwrite"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, re);
  }
  const busy = join(root, "busy");
  await mkdir(busy);
  await writeFile(join(busy, "keep.txt"), "x");
  const r = runCli(["export", "--model", model, "--lora", adapter, "--out", busy]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--out .*busy: exists and is not empty \(--overwrite replaces it\)/);
  assert.deepEqual(await readdir(busy), ["keep.txt"]);
  assert.equal(runCli(["export", "--model", model, "--lora", adapter, "--out", busy, "--overwrite"]).status, 0);
  assert.ok((await readdir(busy)).includes("model.safetensors") && !(await readdir(busy)).includes("keep.txt"));
  assert.deepEqual((await readdir(root)).filter((n) => n.startsWith(".")), [], "no temporary directory is left");
  const bad = runCli(["export", "--model", model, "--lora", join(root, "nope"), "--out", join(root, "x")]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /nope\/adapter_config\.json: no such file/);
});

/** A word-level tokenizer.json whose words are w0..w{V-1} (id i is "w<i>"), w63 doubling as eos. */
function wordTokenizer(V: number): object {
  return tokenizerJson({ model: wordLevelModel(Object.fromEntries(Array.from({ length: V }, (_, i) => [`w${i}`, i])), "w0"), pre_tokenizer: { type: "Whitespace" } });
}

test("generate prints the greedy continuation, through the chat template with --chat, and stops at the stop token", async () => {
  const root = tempDir();
  const { model: dir, adapter } = await tinyWithAdapter(root);
  const { model } = await loadDecoderModel(dir, { trainable: false });
  // greedy by definition: the argmax of the last position's logits, appended, 6 times
  const greedy = (prompt: number[], n: number): number[] => {
    const tokens = [...prompt];
    const V = model.vocabSize;
    for (let s = 0; s < n; s++) {
      const T = tokens.length;
      const logits = model.logits({ tokens: Int32Array.from(tokens), batch: 1, seqLen: T, lengths: Int32Array.from([T]) });
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[(T - 1) * V + v] > logits[(T - 1) * V + best]) best = v;
      tokens.push(best);
    }
    return tokens.slice(prompt.length);
  };
  const words = (ids: number[]): string => ids.map((i) => `w${i}`).join(" ");
  const expected = greedy([3, 14, 15], 6);
  const stopAt = expected.indexOf(63);
  const want = stopAt >= 0 ? expected.slice(0, stopAt) : expected;
  const r = runCli(["generate", "--model", dir, "--prompt", "w3 w14 w15", "--max-new-tokens", "6", "--temperature", "0"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, words(want) + "\n");

  // the chat template's text is what is encoded
  await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify({ chat_template: "w1 {% for m in messages %}w2 {{ m.content }} {% endfor %}{% if add_generation_prompt %}w4{% endif %}" }));
  const chat = runCli(["generate", "--model", dir, "--prompt", "w3 w14", "--chat", "--max-new-tokens", "4", "--temperature", "0"]);
  assert.equal(chat.status, 0, chat.stderr);
  const chatWant = greedy([1, 2, 3, 14, 4], 4);
  const chatStop = chatWant.indexOf(63);
  assert.equal(chat.stdout, words(chatStop >= 0 ? chatWant.slice(0, chatStop) : chatWant) + "\n");

  // the first greedy token as the stop token: nothing is printed
  await writeFile(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: [expected[0]] }));
  const stopped = runCli(["generate", "--model", dir, "--prompt", "w3 w14 w15", "--max-new-tokens", "6", "--temperature", "0"]);
  assert.equal(stopped.stdout, "\n");

  // sampling is seeded, and an adapter changes the model
  const sample = (seed: string, extra: string[] = []): string => runCli(["generate", "--model", dir, "--prompt", "w3", "--temperature", "1", "--seed", seed, "--max-new-tokens", "8", ...extra]).stdout;
  assert.equal(sample("5"), sample("5"));
  assert.equal(runCli(["generate", "--model", dir, "--prompt", "w3", "--lora", adapter, "--max-new-tokens", "2"]).status, 0);
  const noChat = runCli(["generate", "--model", dir, "--prompt", "w3", "--system", "s"]);
  assert.match(noChat.stderr, /--system needs --chat/);
});

test("train runs end to end on a Hugging Face Qwen2 directory with a lora: block (tree env)", async () => {
  const root = tempDir();
  const model = join(root, "qwen");
  await writeTinyCheckpoint(model, TINY.qwen2, 4, { dtype: "BF16" });
  const config = join(root, "c.yaml");
  await writeFile(config, [
    `model: ${model}`, "lora: { r: 4, lora_alpha: 8, target_modules: all-linear }", "env: { name: tree, depth: 4, target: LLRL, shared_prefix: 1, r_neg: -1.0 }",
    "num_generations: 4", "steps: 2", `output_dir: ${join(root, "run")}`,
  ].join("\n") + "\n");
  const r = runCli(["train", config]);
  assert.equal(r.status, 0, r.stderr);
  const metrics = (await readFile(join(root, "run", "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(metrics.map((m) => m.step), [1, 2]);
});
