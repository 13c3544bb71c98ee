/**
 * `toy --model DIR`: the paper's toy on a user's pretrained directory, here a tiny GPT-2 the test writes
 * (test/fixtures/toy-model.ts: weights skewed towards "L", so that they cannot pass for a random init; a
 * byte-level BPE tokenizer in which "L", "R", " L" and " R" are all single tokens). The actions are exactly
 * the ids of "L" and "R", the rewards are the paper's tree, a 2-step sweep writes what a preset's does, its
 * step-1 entropy is the directory's own logits restricted to the two ids, and the refusals.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadHFModel } from "../../src/engine/hf.js";
import { createEnvironment } from "../../src/rl/env/index.js";
import { TOY_MODEL_LEARNING_RATE, TOY_PROMPT, toyModel } from "../../src/rl/toy-model.js";
import { toyRuns, TOY_TARGET } from "../../src/rl/toy.js";
import { train } from "../../src/rl/trainer.js";
import { Rng } from "../../src/util/rng.js";
import { TINY, writeTinyCheckpoint } from "../fixtures/tiny-families.js";
import { EOT, L, R, SPACE_R, toyTokenizer, VOCAB, writeToyModel } from "../fixtures/toy-model.js";
import { METASPACE, tokenizerJson, wordLevelModel } from "../fixtures/tokenizers.js";

const root = mkdtempSync(join(tmpdir(), "lgrpo-toymodel-"));
after(() => rmSync(root, { recursive: true, force: true }));

const modelDir = join(root, "gpt2-lr");
const ready = writeToyModel(modelDir);

/** The paper's tree, from its definition: +1 at the target, r_neg if it shares the target's first n moves, else 0.7. */
function paperReward(moves: string, n: number, r_neg: number): number {
  if (moves === TOY_TARGET) return 1.0;
  return moves.slice(0, n) === TOY_TARGET.slice(0, n) ? r_neg : 0.7;
}

/** TOY_PROMPT through this tokenizer, spelled out: one token per byte but the merged " R" of "(L or R)". */
const PROMPT_IDS = [...Buffer.from("Path (L or", "utf8"), SPACE_R, ...Buffer.from("):\n", "utf8")];

const LEAVES = Array.from({ length: 16 }, (_, i) => i.toString(2).padStart(4, "0").replace(/0/g, "L").replace(/1/g, "R"));

test("the actions are the tokenizer's 'L' and 'R' (not ' L', ' R'); the prompt is bos then the fixed text", async () => {
  await ready;
  const m = await toyModel(modelDir);
  assert.equal(m.left, L);
  assert.equal(m.right, R);
  assert.equal(TOY_PROMPT, "Path (L or R):\n");
  assert.deepEqual(m.prompt, [EOT, ...PROMPT_IDS]);
  assert.deepEqual((await toyModel(modelDir, "LR?")).prompt, [EOT, L, R, "?".charCodeAt(0)]);
});

test("every run allows exactly the two ids, and the rewards are the paper's tree for n and r_neg", async () => {
  await ready;
  const runs = toyRuns({ preset: "small", model: await toyModel(modelDir), seeds: 1, steps: 2, outDir: join(root, "unused") });
  assert.equal(runs.length, 12);
  for (const r of runs) {
    assert.equal(r.config.model, modelDir);
    assert.equal(r.config.learning_rate, TOY_MODEL_LEARNING_RATE);
    assert.equal(r.config.num_generations, 16);
    const env = await createEnvironment(r.config.env, { vocabSize: VOCAB, model: r.config.model });
    const allowed = [...env.allowedTokens()!].flatMap((a, id) => (a ? [id] : []));
    assert.deepEqual(allowed, [L, R]);
    let nearMisses = 0;
    for (const leaf of LEAVES) {
      const ids = Int32Array.from(leaf, (c) => (c === "L" ? L : R));
      const got = env.reward(env.prompts(1, new Rng(0))[0], ids);
      assert.equal(got, paperReward(leaf, r.n, r.r_neg), `${r.name}: ${leaf}`);
      if (got === r.r_neg) nearMisses++;
    }
    assert.equal(nearMisses, r.n === 1 ? 7 : 3, "PAPER.md: n = 1: 7 leaves, n = 2: 3 leaves");
  }
});

const fromSource = import.meta.url.endsWith(".ts");
const MAIN = fileURLToPath(new URL(fromSource ? "../../src/cli/main.ts" : "../../src/cli/main.js", import.meta.url));
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...(fromSource ? ["--import", "tsx"] : []), MAIN, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("toy --model: a 2-step, 1-seed sweep writes results.json, report.html and the runs; step 1 is the directory's own policy", async () => {
  await ready;
  const out = join(root, "sweep");
  const r = cli(["toy", "--model", modelDir, "--seeds", "1", "--steps", "2", "--out", out, "--jobs", "2", "--json", "--quiet"]);
  assert.equal(r.status, 0, r.stderr);
  const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
  assert.deepEqual(JSON.parse(r.stdout), results);
  assert.equal(results.preset, "model");
  assert.equal(results.model, modelDir);
  assert.deepEqual(results.actions, { L, R, prompt_text: TOY_PROMPT, prompt_tokens: [EOT, ...PROMPT_IDS] });
  assert.equal(results.group_size, 16);
  assert.equal(results.hyperparameters.learning_rate, TOY_MODEL_LEARNING_RATE);
  assert.deepEqual(results.cells.map((c: { n: number; r_neg: number }) => [c.n, c.r_neg]), [[1, -0.5], [1, -1], [1, -1.5], [2, -0.5], [2, -1], [2, -1.5]]);
  for (const c of results.cells) for (const a of [c.grpo, c.lambda]) assert.equal(a.curve.length, 2);
  const html = readFileSync(join(out, "report.html"), "utf8");
  assert.ok(html.includes("uPlot") && !/<script[^>]+src=|<link[^>]+href=/i.test(html), "an offline report");

  const names = readdirSync(join(out, "runs")).sort();
  assert.equal(names.length, 12);
  const reference = await loadHFModel(modelDir);
  for (const name of names) {
    const dir = join(out, "runs", name);
    const [n, r_neg] = [Number(/^n(\d)/.exec(name)![1]), Number(/rneg(-[\d.]+)/.exec(name)![1])];
    const metrics = readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(metrics.length, 2);
    const groups = readFileSync(join(dir, "rollouts.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(groups.length, 2);
    for (const g of groups) {
      assert.deepEqual(g.prompt, results.actions.prompt_tokens);
      assert.equal(g.completions.length, 16);
      for (const c of g.completions) {
        assert.equal(c.tokens.length, 4);
        assert.ok(c.tokens.every((t: number) => t === L || t === R), `${name}: ${c.tokens}`);
        assert.equal(c.reward, paperReward(c.tokens.map((t: number) => (t === L ? "L" : "R")).join(""), n, r_neg));
      }
    }
    // step 1 samples from the loaded weights: its entropy per move is the directory's logits, restricted to
    // the two ids (temperature 1), through the engine's plain forward on the logged completions
    const step1 = groups[0];
    const P = step1.prompt.length;
    const T = P + 4;
    const tokens = new Int32Array(16 * T);
    step1.completions.forEach((c: { tokens: number[] }, i: number) => tokens.set([...step1.prompt, ...c.tokens], i * T));
    const logits = reference.logits({ tokens, batch: 16, seqLen: T, lengths: new Int32Array(16).fill(T) });
    let entropy = 0;
    for (let i = 0; i < 16; i++) {
      for (let t = P - 1; t < T - 1; t++) {
        const zl = logits[(i * T + t) * VOCAB + L];
        const zr = logits[(i * T + t) * VOCAB + R];
        const pl = 1 / (1 + Math.exp(zr - zl));
        entropy -= pl * Math.log(pl) + (1 - pl) * Math.log(1 - pl);
      }
    }
    entropy /= 16 * 4;
    assert.ok(Math.abs(metrics[0].entropy - entropy) < 1e-4, `${name}: step-1 entropy ${metrics[0].entropy}, the directory's ${entropy}`);
    assert.ok(entropy < 0.45, `the skewed weights (${entropy} nats), not a near-uniform random init (${Math.log(2).toFixed(3)})`);
  }

  // --resume on the finished sweep keeps all 12 runs
  const again = cli(["toy", "--model", modelDir, "--seeds", "1", "--steps", "2", "--out", out, "--resume", "--quiet"]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /0 runs \(12 kept from before\)/);
  assert.match(again.stdout, /\| 1 \| -1\.0 \| .* \| 0\.0000 \| 0\.7535 \|/, "the table beside the paper's");
});

test("a Llama-family directory runs the same toy (its tokenizer's L and R, no bos in its config: the text alone)", async () => {
  const dir = join(root, "llama");
  await writeTinyCheckpoint(dir, { ...TINY.llama, vocabSize: VOCAB }, 3);
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(toyTokenizer()));
  const m = await toyModel(dir);
  assert.deepEqual(m.prompt, PROMPT_IDS);
  const [run] = toyRuns({ preset: "small", model: m, seeds: 1, steps: 2, outDir: join(root, "llama-sweep"), cells: [{ n: 1, r_neg: -1.0 }] });
  const { metrics } = await train(run.config);
  assert.equal(metrics.length, 2);
  const groups = readFileSync(join(run.config.output_dir, "rollouts.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  for (const g of groups) for (const c of g.completions) assert.ok(c.tokens.length === 4 && c.tokens.every((t: number) => t === L || t === R));
});

test("refused in one line: no tokenizer.json, no single-token 'L' or 'R', --model with --preset, --learning-rate without --model", async () => {
  await ready;
  const bare = join(root, "bare");
  mkdirSync(bare, { recursive: true });
  writeFileSync(join(bare, "config.json"), readFileSync(join(modelDir, "config.json")));
  await assert.rejects(toyModel(bare), /bare\/tokenizer\.json: not found; toy --model needs the model's tokenizer to find the tokens of "L" and "R"/);
  await assert.rejects(toyModel(join(root, "nowhere")), /--model .*nowhere: cannot read it \(ENOENT\)/);

  // SentencePiece-style: this vocabulary has the word-initial "▁L" (what the text "L" alone encodes to:
  // the space variant) but no bare "L"; the next has no R at all
  const sp = join(root, "sp");
  mkdirSync(sp, { recursive: true });
  writeFileSync(join(sp, "config.json"), readFileSync(join(modelDir, "config.json")));
  const spTokenizer = (vocab: Record<string, number>) => JSON.stringify(tokenizerJson({ model: wordLevelModel(vocab, "<unk>"), pre_tokenizer: METASPACE, decoder: METASPACE }));
  writeFileSync(join(sp, "tokenizer.json"), spTokenizer({ "<unk>": 0, "\u2581L": 1, "\u2581R": 2, R: 3 }));
  await assert.rejects(
    toyModel(sp),
    /sp\/tokenizer\.json: "L" is not a single token of this tokenizer \(the text encodes as 1 token \[1\] \["L"\]\); the toy's two actions must be the tokens "L" and "R"/,
  );
  writeFileSync(join(sp, "tokenizer.json"), spTokenizer({ "<unk>": 0, L: 1 }));
  await assert.rejects(toyModel(sp), /"R" is not a single token of this tokenizer \(the text cannot be encoded: piece '\u2581R' has no id/);
  // the bare pieces present: taken, whatever "L" alone encodes to
  writeFileSync(join(sp, "tokenizer.json"), spTokenizer({ "<unk>": 0, "\u2581L": 1, "\u2581R": 2, L: 3, R: 4 }));
  const m = await toyModel(sp, "R");
  assert.deepEqual([m.left, m.right], [3, 4]);

  const both = cli(["toy", "--model", modelDir, "--preset", "small"]);
  assert.notEqual(both.status, 0);
  assert.match(both.stderr.trim(), /^[^\n]*--model and --preset exclude each other[^\n]*$/);
  const lr = cli(["toy", "--learning-rate", "1e-5"]);
  assert.notEqual(lr.status, 0);
  assert.match(lr.stderr, /--learning-rate is for --model/);
  const noTok = cli(["toy", "--model", bare, "--out", join(root, "never")]);
  assert.notEqual(noTok.status, 0);
  assert.match(noTok.stderr.trim(), /^[^\n]*tokenizer\.json: not found[^\n]*$/);
  assert.ok(!existsSync(join(root, "never")), "nothing written");
});
