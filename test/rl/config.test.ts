/** The config: TRL's names and defaults, and errors that name the field and what was expected. */
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { configWarnings, loadConfigFile, resolveConfig } from "../../src/rl/config.js";
import { validateEnv } from "../../src/rl/env/index.js";
import { TreeEnvironment, treeKind } from "../../src/rl/env/tree.js";

test("defaults are filled in; epsilon_high defaults to epsilon", () => {
  const c = resolveConfig({}, validateEnv);
  assert.equal(c.num_generations, 16);
  assert.equal(c.loss_type, "dapo");
  assert.equal(c.scale_rewards, "group");
  assert.equal(c.beta, 0);
  assert.equal(c.epsilon_high, 0.2);
  assert.equal(c.lambda, false);
  assert.deepEqual(c.env, { name: "tree", depth: 4, target: "LLRL", shared_prefix: 1, r_neg: -1, target_reward: 1, other_reward: 0.7 });
  assert.equal(resolveConfig({ epsilon: 0.1, epsilon_high: 0.28 }, validateEnv).epsilon_high, 0.28);
});

test("errors name the file, the field and what was expected", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lgrpo-config-"));
  const yaml = join(dir, "run.yaml");
  await writeFile(yaml, "num_generations: many\nloss_type: ppo\nlr: 0.1\nenv:\n  name: tree\n  depth: 3\n");
  await assert.rejects(loadConfigFile(yaml, validateEnv), (err: Error) => {
    // one line, each problem with its line
    assert.ok(!err.message.includes("\n"), err.message);
    assert.match(err.message, /run\.yaml:1: num_generations: Invalid input: expected number, received string/);
    assert.match(err.message, /run\.yaml:2: loss_type: Invalid option: expected one of "grpo"\|"dapo"\|"bnpo"\|"dr_grpo"/);
    assert.match(err.message, /run\.yaml:3: lr: unknown field \(did you mean 'learning_rate'\?\)/);
    return true;
  });
  await writeFile(yaml, "env:\n  name: tree\n  depth: 3\n");
  // target is not in the file: the line where its mapping starts
  await assert.rejects(loadConfigFile(yaml, validateEnv), /run\.yaml:2: env\.target: expected 3 moves \(env\.depth\), got 'LLRL'/);
  await writeFile(yaml, "steps: 3\nenv:\n  name: tree\n  depht: 3\n");
  await assert.rejects(loadConfigFile(yaml, validateEnv), /\/run\.yaml:4: env\.depht: unknown field \(did you mean 'depth'\?\)$/);
  await writeFile(yaml, "env: {name: tree, prompt: [1, -2]}\n");
  await assert.rejects(loadConfigFile(yaml, validateEnv), /\/run\.yaml:1: env\.prompt\.1: Too small/);
  await writeFile(yaml, "env: {name: maze}\n");
  await assert.rejects(loadConfigFile(yaml, validateEnv), /env\.name: unknown environment 'maze' \(expected one of: tree, math\)/);
  await writeFile(yaml, "steps: [1\n");
  await assert.rejects(loadConfigFile(yaml, validateEnv), /run\.yaml:\d+: not valid YAML/);
  const json = join(dir, "run.json");
  await writeFile(json, JSON.stringify({ temperature: -1, env: { name: "tree", r_neg: "x" } }));
  await assert.rejects(loadConfigFile(json, validateEnv), /run\.json:1: temperature: Too small: expected number to be >0/);
  await writeFile(json, JSON.stringify({ env: { name: "tree", r_neg: "x" } }));
  await assert.rejects(loadConfigFile(json, validateEnv), /run\.json:1: env\.r_neg: Invalid input: expected number/);
  await writeFile(json, '{\n  "steps": 2,\n  "env": {\n    "name": "tree",\n    "r_neg": "x"\n  }\n}\n');
  await assert.rejects(loadConfigFile(json, validateEnv), /\/run\.json:5: env\.r_neg: /);
  await writeFile(json, '{\n  "steps": 2,\n}\n');
  await assert.rejects(loadConfigFile(json, validateEnv), /\/run\.json:3: not valid JSON/);
});

test("settings that would train nothing are refused; allowed ones that change nothing are warned of", () => {
  assert.throws(() => resolveConfig({ num_generations: 1 }, validateEnv), /num_generations: expected at least 2/);
  assert.throws(() => resolveConfig({ top_k: 1 }, validateEnv), /top_k: 1 samples greedily/);
  assert.throws(() => resolveConfig({ max_completion_length: 0 }, validateEnv), /max_completion_length: Too small/);
  assert.deepEqual(configWarnings(resolveConfig({}, validateEnv)), []);
  assert.match(configWarnings(resolveConfig({ learning_rate: 0 }, validateEnv)).join(), /learning_rate is 0/);
});

test("tree env: a constant reward over every reachable leaf is known up front", () => {
  const env = (p: Record<string, unknown>) => new TreeEnvironment(treeKind.parse({ name: "tree", ...p }), 64);
  assert.equal(env({}).constantReward(4), null);
  assert.match(env({}).constantReward(3) ?? "", /max_completion_length 3 is less than env\.depth 4/);
  assert.match(env({ r_neg: 0.7, target_reward: 0.7 }).constantReward(4) ?? "", /every leaf earns 0\.7/);
  // shared_prefix = depth: no near misses, so r_neg does not matter; 0: no 'other' leaves
  assert.match(env({ shared_prefix: 4, target_reward: 0.7 }).constantReward(4) ?? "", /no near misses/);
  assert.equal(env({ shared_prefix: 4, target_reward: 0.7, other_reward: 0.5 }).constantReward(4), null);
  // brute force over the 16 leaves: with shared_prefix 0 other_reward is unreachable, and the reward constant
  const e = env({ shared_prefix: 0, r_neg: 1, other_reward: 5 });
  assert.match(e.constantReward(4) ?? "", /every other leaf is a near miss/);
  const leaves = new Set(Array.from({ length: 16 }, (_, leaf) => e.reward(e.prompts(1)[0], Int32Array.from([3, 2, 1, 0], (b) => ((leaf >> b) & 1 ? 49 : 43)))));
  assert.deepEqual([...leaves], [1]);
});

test("tree env: rewards of PAPER.md section 4 (target 1, near misses r_neg, others 0.7), L/R only", () => {
  const L = 1;
  const R = 2;
  for (const [n, nearMisses] of [
    [1, 7],
    [2, 3],
  ]) {
    const p = treeKind.parse({ name: "tree", target: "LLRL", shared_prefix: n, r_neg: -1.5, left_token: L, right_token: R });
    const env = new TreeEnvironment(p, 4);
    const counts = new Map<number, number>();
    for (let leaf = 0; leaf < 16; leaf++) {
      const c = Int32Array.from([3, 2, 1, 0], (b) => ((leaf >> b) & 1 ? R : L));
      const r = env.reward(env.prompts(1)[0], c);
      counts.set(r, (counts.get(r) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(counts), { 1: 1, [-1.5]: nearMisses, 0.7: 15 - nearMisses });
    const target = Int32Array.from([L, L, R, L]);
    assert.equal(env.stepMetrics([{ prompt: env.prompts(1)[0], tokens: target, reward: 1 }, { prompt: env.prompts(1)[0], tokens: Int32Array.from([R, R, R, R]), reward: 0.7 }]).target_rate, 0.5);
    assert.deepEqual(Array.from(env.allowedTokens()), [0, 1, 1, 0]);
    assert.deepEqual(Array.from(env.prompts(1)[0].tokens), [3]);
  }
});

test("TRL's per_device_train_batch_size / gradient_accumulation_steps set micro_batch_size; disagreements name the fields", () => {
  const base = { num_generations: 8, prompts_per_step: 2 };
  assert.equal(resolveConfig({ ...base, per_device_train_batch_size: 4 }, validateEnv).micro_batch_size, 4);
  assert.equal(resolveConfig({ ...base, gradient_accumulation_steps: 4 }, validateEnv).micro_batch_size, 4);
  assert.equal(resolveConfig({ ...base, per_device_train_batch_size: 2, gradient_accumulation_steps: 8 }, validateEnv).micro_batch_size, 2);
  assert.throws(() => resolveConfig({ ...base, gradient_accumulation_steps: 3 }, validateEnv), /gradient_accumulation_steps: 3 does not divide the batch of .* 16/);
  assert.throws(() => resolveConfig({ ...base, per_device_train_batch_size: 4, gradient_accumulation_steps: 2 }, validateEnv), /2 passes of 4 sequences/);
  assert.throws(() => resolveConfig({ ...base, per_device_train_batch_size: 4, micro_batch_size: 2 }, validateEnv), /name the same thing/);
});

test("lora: PEFT's field names and defaults; unknown fields rejected", () => {
  const c = resolveConfig({ model: "qwen2-tiny", lora: { r: 16 } }, validateEnv);
  assert.deepEqual(c.lora, { r: 16, lora_alpha: 8, lora_dropout: 0, target_modules: ["q_proj", "v_proj"] });
  assert.throws(() => resolveConfig({ lora: { rank: 4 } }, validateEnv), /lora\.rank: unknown field \(did you mean 'r'\?\)/);
  assert.equal(resolveConfig({}, validateEnv).lora, undefined);
});
