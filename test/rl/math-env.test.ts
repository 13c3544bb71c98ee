/**
 * The math environment on a tiny byte-level model written by the test: prompts (the same from Parquet and
 * JSONL), reward by the grader, the closed-box stop rule in the sampler, the step figures, epoch-wise
 * shuffling that a resume continues exactly, and validation in a training run.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parquetWriteBuffer } from "hyparquet-writer";
import { loadTokenizer } from "../../src/io/tokenizer.js";
import { resolveConfig, type TrainConfigInput } from "../../src/rl/config.js";
import { createEnvironment, validateEnv, type Environment } from "../../src/rl/env/index.js";
import { AUTHORS_SYSTEM_PROMPT, type MathEnvironment } from "../../src/rl/env/math.js";
import { train } from "../../src/rl/trainer.js";
import { createPolicy } from "../../src/policy/index.js";
import { Rng } from "../../src/util/rng.js";
import { EOS_ID, writeMathModel } from "../fixtures/math-model.js";
import { withoutSeconds } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "lgrpo-mathenv-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const PROBLEMS = Array.from({ length: 7 }, (_, i) => ({ problem: `What is ${i} + ${i}?`, answer: String(2 * i) }));
const trainJsonl = join(dir, "train.jsonl");
writeFileSync(trainJsonl, PROBLEMS.map((p) => JSON.stringify(p)).join("\n") + "\n");
const trainParquet = join(dir, "train.parquet");
writeFileSync(trainParquet, new Uint8Array(parquetWriteBuffer({ columnData: [
  { name: "problem", data: PROBLEMS.map((p) => p.problem) },
  { name: "answer", data: PROBLEMS.map((p) => p.answer) },
] })));
const modelDir = await writeMathModel(join(dir, "model"), { contextLength: 64 });
const tokenizer = await loadTokenizer(join(modelDir, "tokenizer.json"));
const encode = (s: string): Int32Array => Int32Array.from(tokenizer.encode(s));

async function mathEnv(extra: Record<string, unknown> = {}): Promise<MathEnvironment> {
  const env = validateEnv({ name: "math", data: trainJsonl, ...extra });
  return (await createEnvironment(env, { vocabSize: 257, model: modelDir })) as MathEnvironment;
}

function drawAll(env: Environment, rng: Rng, n: number): string[] {
  return env.prompts(n, rng).map((p) => (p.info as { id: string }).id);
}

test("a Parquet file and a JSONL file give the same prompts: the chat template with the authors' instruction by default", async () => {
  const a = await mathEnv();
  const b = await mathEnv({ data: trainParquet });
  const pa = a.prompts(10, new Rng(3));
  const pb = b.prompts(10, new Rng(3));
  assert.deepEqual(pb.map((p) => Array.from(p.tokens)), pa.map((p) => Array.from(p.tokens)));
  const row = { id: "0", problem: "What is 0 + 0?", answer: "0" };
  // the fixture's template: "<|role|>content" lines, then the assistant's turn
  assert.equal(a.promptText(row), `<|system|>${AUTHORS_SYSTEM_PROMPT}\n<|user|>What is 0 + 0?\n<|assistant|>`);
  assert.equal(tokenizer.decode(Array.from(pa[0].tokens)), a.promptText({ ...row, problem: PROBLEMS[Number((pa[0].info as { id: string }).id)].problem }));
  const noSystem = await mathEnv({ system_prompt: "" });
  assert.equal(noSystem.promptText(row), "<|user|>What is 0 + 0?\n<|assistant|>");
  const plain = await mathEnv({ prompt: "plain" });
  assert.equal(plain.promptText(row), `What is 0 + 0?\n${AUTHORS_SYSTEM_PROMPT}\n`);
  const custom = await mathEnv({ prompt: "plain", plain_template: "Q: {problem} A:", system_prompt: "" });
  assert.equal(custom.promptText(row), "Q: What is 0 + 0? A:");
  // a model without a chat template: chat is an error that points at the plain prompt
  const base = await writeMathModel(join(dir, "base"), { chat: false });
  const env = validateEnv({ name: "math", data: trainJsonl });
  await assert.rejects(createEnvironment(env, { vocabSize: 257, model: base }), /env\.prompt: chat: .*env\.prompt plain/);
});

test("reward: 1 for an equivalent boxed answer, 0 otherwise, plus the format reward for a closed box", async () => {
  const env = await mathEnv({ format_reward: 0.1 });
  const [p] = env.prompts(1, new Rng(0));
  const gold = (p.info as { answer: string }).answer;
  assert.equal(env.reward(p, encode(`so it is \\boxed{${gold}.0}`)), 1.1);
  assert.equal(env.reward(p, encode(`so it is \\boxed{${Number(gold) + 1}}`)), 0.1);
  assert.equal(env.reward(p, encode(`so it is ${gold}`)), 0);
  const plain = await mathEnv();
  assert.equal(plain.reward(p, encode(`\\boxed{${gold}}`)), 1);
});

test("the stop rule fires once the first box closes, and ends rows in the sampler", async () => {
  const env = await mathEnv();
  assert.equal(env.stopWhen(encode("so \\boxed{\\frac{1}{2")), false);
  assert.equal(env.stopWhen(encode("so \\boxed{\\frac{1}{2}")), false);
  assert.equal(env.stopWhen(encode("so \\boxed{\\frac{1}{2}}")), true);
  assert.equal(env.stopWhen(encode("no box }")), false);
  const off = await mathEnv({ stop_at_boxed: false });
  assert.equal(off.stopWhen(encode("so \\boxed{1}")), false);
  assert.deepEqual(env.stopTokens, [EOS_ID]);
  // the sampler ends a row when stopWhen says so (here: after its third token), the others run on
  const policy = await createPolicy(modelDir, { seed: 0 });
  const prompts = [encode("a"), encode("b")];
  const out = policy.sample(prompts, { maxNewTokens: 8, temperature: 1, topK: 0, topP: 1, rng: new Rng(1), stopWhen: (row, tokens) => row === 1 && tokens.length === 3 });
  assert.equal(out[1].length, 3);
  assert.equal(out[0].length, 8);
});

test("step figures: accuracy, boxed rate, truncation rate, mean length", async () => {
  const env = await mathEnv();
  const [p] = env.prompts(1, new Rng(0));
  const gold = (p.info as { answer: string }).answer;
  const right = encode(`\\boxed{${gold}}`);
  const wrong = encode("\\boxed{x}");
  const eos = Int32Array.from([...encode("no idea"), EOS_ID]);
  const cut = encode("still thinking");
  const c = [right, wrong, eos, cut].map((tokens) => ({ prompt: p, tokens, reward: env.reward(p, tokens) }));
  const m = env.stepMetrics(c);
  assert.equal(m.accuracy, 0.25);
  assert.equal(m.boxed_rate, 0.5);
  assert.equal(m.truncation_rate, 0.25);
  assert.equal(m.completion_length_mean, (right.length + wrong.length + eos.length + cut.length) / 4);
});

test("epochs: each pass draws every problem once; a restored state continues the same draws", async () => {
  const env = await mathEnv();
  const rng = new Rng(5);
  const first = drawAll(env, rng, 7);
  const second = drawAll(env, rng, 7);
  assert.deepEqual([...first].sort(), PROBLEMS.map((_, i) => String(i)));
  assert.deepEqual([...second].sort(), PROBLEMS.map((_, i) => String(i)));
  assert.notDeepEqual(first, second);
  // stop in the middle of an epoch, restore into a fresh env with the RNG's state: the same continuation
  const a = await mathEnv();
  const ra = new Rng(9);
  drawAll(a, ra, 10);
  const state = JSON.parse(JSON.stringify(a.getState()));
  const rngState = ra.getState();
  const rest = drawAll(a, ra, 12);
  const b = await mathEnv();
  b.setState(state);
  assert.deepEqual(drawAll(b, new Rng(rngState), 12), rest);
});

test("a math run logs the env figures and validation, and a resumed run matches one never stopped", async () => {
  const valid = join(dir, "valid.jsonl");
  writeFileSync(valid, PROBLEMS.slice(0, 3).map((p) => JSON.stringify(p)).join("\n") + "\n");
  const config = (out: string, extra: Partial<TrainConfigInput> = {}) => resolveConfig({
    model: modelDir,
    env: { name: "math", data: trainJsonl, prompt: "plain", plain_template: "{problem} ", validation: { data: valid, every: 2, name: "tiny" } },
    steps: 4, num_generations: 2, prompts_per_step: 2, max_completion_length: 6, learning_rate: 1e-3,
    checkpoint_every: 2, output_dir: out, ...extra,
  }, validateEnv);
  const whole = join(dir, "whole");
  const r = await train(config(whole));
  assert.equal(r.metrics.length, 4);
  for (const key of ["env/accuracy", "env/boxed_rate", "env/truncation_rate", "env/completion_length_mean"]) assert.ok(Number.isFinite(r.metrics[0][key as `env/${string}`]), key);
  assert.equal(r.metrics[0]["eval/tiny/accuracy"], undefined);
  assert.ok(Number.isFinite(r.metrics[1]["eval/tiny/accuracy"]));
  // a random model never closes a box in 6 bytes: every completion is cut by the length limit or ends at EOS
  assert.equal(r.metrics[0]["env/accuracy"], 0);
  const broken = join(dir, "broken");
  await assert.rejects(train(config(broken), { onStep: (m) => { if (m.step === 3) throw new Error("killed"); } }), /killed/);
  const resumed = await train(config(broken), { resume: true });
  assert.equal(resumed.startStep, 2);
  assert.deepEqual(withoutSeconds(readFileSync(join(broken, "metrics.jsonl"), "utf8")), withoutSeconds(readFileSync(join(whole, "metrics.jsonl"), "utf8")));
  assert.equal(readFileSync(join(broken, "rollouts.jsonl"), "utf8"), readFileSync(join(whole, "rollouts.jsonl"), "utf8"));
});

test("config errors name the env field", () => {
  assert.throws(() => validateEnv({ name: "math" }), /env\.data/);
  assert.throws(() => validateEnv({ name: "math", data: "x.jsonl", plain_template: "no placeholder" }), /env\.plain_template: must contain \{problem\}/);
  assert.throws(() => validateEnv({ name: "math", data: "x.jsonl", fallbacks: ["guess"] }), /env\.fallbacks/);
  assert.throws(() => validateEnv({ name: "math", data: "x.jsonl", prompt: "jinja" }), /env\.prompt/);
  // an unknown field gets the nearest of the environment's own fields, as the tree's do
  assert.throws(() => validateEnv({ name: "math", data: "x.jsonl", stop_at_boxd: false }), /env\.stop_at_boxd: unknown field \(did you mean 'stop_at_boxed'\?\)/);
});
