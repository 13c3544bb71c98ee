/**
 * Fuzz: valid inputs of every command (JSONL rollouts in both formats, text with a tokenizer.json, a run
 * directory, a Hugging Face GPT-2 directory's config.json and safetensors header, logprobs input, YAML
 * configs, grade's JSONL, a Llama-family directory's config.json and weights, a PEFT adapter's config and
 * weights, train's config and the adapter's config of a run from lora.adapter), mutated with a seeded RNG
 * (byte flips, cuts, repeats; fields deleted or of another type). Each run must succeed, or fail as a user
 * error (status 1 or 2) with one line that names one of its files; never with a stack trace, never hang,
 * never change an input, and when it fails leave every earlier output and no temp file behind. Run
 * in-process (the CLI's own classification, src/cli/failure.ts); a few failures are also run through the
 * real CLI for the exit status and stderr. `npm run soak` runs 20 times as many cases.
 */
import assert from "node:assert/strict";
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import YAML from "yaml";
import { Rng } from "../../src/util/rng.js";
import { GPT2_TINY_DIR } from "../fixtures/gpt2-tiny/fixture.js";
import { FAMILIES_DIR } from "../fixtures/families/fixture.js";
import { characterTokenizer } from "../fixtures/tokenizers.js";
import { hashTree, mutateBytes, mutateJson, mutateJsonl, mutateSafetensors, runInProcess, type Outcome } from "./fuzz.js";
import { runCli, tempDir } from "./helpers.js";

const SOAK = process.env.LGRPO_SOAK === "1";
const CASES = SOAK ? 500 : 25;
const root = tempDir();

interface Subject {
  name: string;
  dir: string;
  /** the file mutated, relative to dir */
  target: string;
  mutate(bytes: Uint8Array, rng: Rng): Uint8Array;
  command: string;
  args(caseIndex: number): string[];
  /** the files it writes, relative to dir; every other file is an input */
  outputs: string[];
  /** a folder (relative, ending in /) the case may create, removed after it */
  scratch?(caseIndex: number): string;
}

const rollouts = [
  { id: "s1-g0", step: 1, completions: [{ tokens: [1, 2, 3], reward: 1 }, { tokens: [1, 2], reward: 0 }, { tokens: [4], reward: 0.5 }] },
  { id: "s1-g1", step: 1, completions: [{ tokens: [5, 6], reward: -1 }, { tokens: [5, 6], reward: 2 }] },
  { id: "s2-g0", step: 2, completions: [{ tokens: [7], reward: 0 }, { tokens: [7, 8, 9, 10], reward: 1 }] },
];
const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r) + "\n").join("");
const jsonFile = (bytes: Uint8Array, rng: Rng): Uint8Array =>
  rng.next() < 0.5 ? mutateBytes(bytes, rng) : Buffer.from(JSON.stringify(mutateJson(JSON.parse(Buffer.from(bytes).toString("utf8")), rng), null, 2));
/**
 * A config: bytes, or structure. Loop counts a user may set as large as they like (steps, num_iterations)
 * are kept small: a long run is not a hang.
 */
const yamlFile = (bytes: Uint8Array, rng: Rng): Uint8Array => {
  if (rng.next() < 0.5) return mutateBytes(bytes, rng);
  const config = mutateJson(YAML.parse(Buffer.from(bytes).toString("utf8")), rng) as Record<string, unknown>;
  for (const loop of ["steps", "num_iterations"]) {
    if (typeof config?.[loop] === "number" && (config[loop] as number) > 10) config[loop] = 10;
  }
  return Buffer.from(YAML.stringify(config));
};

const TRAIN_YAML = [
  "model: {vocab_size: 8, context_length: 8, n_layer: 1, n_head: 1, n_embd: 8}",
  "steps: 3",
  "num_generations: 2",
  "checkpoint_every: 2",
  "learning_rate: 0.01",
  "env: {name: tree, depth: 2, target: LR, left_token: 1, right_token: 2, r_neg: -1}",
  "",
].join("\n");

function subjects(): Subject[] {
  const out: Subject[] = [];
  const folder = (name: string, files: Record<string, string | Uint8Array>): string => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    for (const [f, data] of Object.entries(files)) writeFileSync(join(dir, f), data);
    return dir;
  };
  const groups = jsonl(rollouts);
  const perCompletion = jsonl(rollouts.flatMap((g) => g.completions.map((c) => ({ group: g.id, step: g.step, ...c }))));
  const vocab: Record<string, number> = { "[UNK]": 0 };
  for (let c = 97; c <= 122; c++) vocab[String.fromCharCode(c)] = c - 96;
  const text = jsonl([{ id: "t", completions: [{ text: "jklm", reward: 1 }, { text: "jkl", reward: 0 }, { text: "xy", reward: 0.5 }] }]);

  for (const [name, data, scale] of [["prm-groups", groups, "group"], ["prm-completions", perCompletion, "batch"]] as const) {
    const dir = folder(name, { "in.jsonl": data });
    out.push({
      name,
      dir,
      target: "in.jsonl",
      mutate: mutateJsonl,
      command: "prm",
      args: () => [join(dir, "in.jsonl"), "--out", join(dir, "out.jsonl"), "--scale", scale, "-q"],
      outputs: ["out.jsonl"],
    });
  }
  const textDir = folder("prm-text", { "in.jsonl": text, "tokenizer.json": JSON.stringify(characterTokenizer(vocab)) });
  for (const target of ["in.jsonl", "tokenizer.json"]) {
    out.push({
      name: `prm-text ${target}`,
      dir: textDir,
      target,
      mutate: target === "in.jsonl" ? mutateJsonl : jsonFile,
      command: "prm",
      args: () => [join(textDir, "in.jsonl"), "--out", join(textDir, "out.jsonl"), "--tokenizer", join(textDir, "tokenizer.json"), "-q"],
      outputs: ["out.jsonl"],
    });
  }
  const analyzeDir = folder("analyze", { "in.jsonl": groups });
  out.push({
    name: "analyze",
    dir: analyzeDir,
    target: "in.jsonl",
    mutate: mutateJsonl,
    command: "analyze",
    args: () => [join(analyzeDir, "in.jsonl"), "--json", join(analyzeDir, "s.json"), "--report", join(analyzeDir, "r.html"), "-q"],
    outputs: ["s.json", "r.html"],
  });
  const metrics = jsonl([1, 2].map((step) => ({ step, reward_mean: 0.5, reward_std: 0.5, loss: 0.1, kl: 0, grad_norm: 1, "env/target_rate": 0.25, seconds: 0.1 })));
  const runDir = folder("report", { "rollouts.jsonl": groups, "metrics.jsonl": metrics, "config.json": JSON.stringify({ loss_type: "dapo", lambda: true }) });
  for (const target of ["rollouts.jsonl", "metrics.jsonl", "config.json"]) {
    out.push({
      name: `report ${target}`,
      dir: runDir,
      target,
      mutate: target === "config.json" ? jsonFile : mutateJsonl,
      command: "report",
      args: () => [runDir, "--out", join(runDir, "report.html")],
      outputs: ["report.html"],
    });
  }
  const model = folder("logprobs", { "in.jsonl": readFileSync(join(GPT2_TINY_DIR, "inputs.jsonl")) });
  mkdirSync(join(model, "gpt2"));
  for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(GPT2_TINY_DIR, f), join(model, "gpt2", f));
  for (const [target, mutate] of [
    ["in.jsonl", mutateJsonl],
    ["gpt2/config.json", jsonFile],
    ["gpt2/model.safetensors", mutateSafetensors],
  ] as const) {
    out.push({
      name: `logprobs ${target}`,
      dir: model,
      target,
      mutate,
      command: "logprobs",
      args: () => ["--model", join(model, "gpt2"), "--input", join(model, "in.jsonl"), "--out", join(model, "out.jsonl"), "-q"],
      outputs: ["out.jsonl"],
    });
  }
  const gradeDir = folder("grade", {
    "in.jsonl": jsonl([
      { gold: "3", completion: "so \\boxed{3}" },
      { gold: "\\frac{1}{2}", completion: "\\boxed{0.5}" },
      { gold: "(1, 2)", completion: "The answer is \\boxed{(2, 1)}." },
    ]),
  });
  out.push({
    name: "grade",
    dir: gradeDir,
    target: "in.jsonl",
    mutate: mutateJsonl,
    command: "grade",
    args: () => [join(gradeDir, "in.jsonl"), "--out", join(gradeDir, "out.jsonl")],
    outputs: ["out.jsonl"],
  });
  // a Llama-family HF directory (info --model) and a PEFT adapter on a Qwen2 one (export)
  const family = folder("families", {});
  cpSync(join(FAMILIES_DIR, "llama-tiny"), join(family, "llama"), { recursive: true, filter: (f) => !f.includes("golden") });
  cpSync(join(FAMILIES_DIR, "qwen2-tiny"), join(family, "qwen2"), { recursive: true, filter: (f) => !f.includes("golden") });
  for (const [target, mutate] of [
    ["llama/config.json", jsonFile],
    ["llama/model.safetensors", mutateSafetensors],
  ] as const) {
    out.push({
      name: `info --model ${target}`,
      dir: family,
      target,
      mutate,
      command: "info",
      args: () => ["--model", join(family, "llama")],
      outputs: [],
    });
  }
  for (const [target, mutate] of [
    ["qwen2/adapter/adapter_config.json", jsonFile],
    ["qwen2/adapter/adapter_model.safetensors", mutateSafetensors],
  ] as const) {
    out.push({
      name: `export ${target}`,
      dir: family,
      target,
      mutate,
      command: "export",
      args: (i) => ["--model", join(family, "qwen2"), "--lora", join(family, "qwen2", "adapter"), "--out", join(family, `merged-${i}`)],
      outputs: [],
      scratch: (i) => `merged-${i}/`,
    });
  }
  const trainDir = folder("train", { "run.yaml": TRAIN_YAML });
  out.push({
    name: "train",
    dir: trainDir,
    target: "run.yaml",
    mutate: yamlFile,
    command: "train",
    args: (i) => [join(trainDir, "run.yaml"), "--output-dir", join(trainDir, `case-${i}`), "-q"],
    outputs: [],
    scratch: (i) => `case-${i}/`,
  });
  // train starting from a PEFT adapter (lora.adapter) on a Qwen2 directory: the config, and the adapter's
  // config (its weights are read by the reader export's cases mutate)
  const adapterDir = folder("train-adapter", {});
  cpSync(join(FAMILIES_DIR, "qwen2-tiny"), join(adapterDir, "qwen2"), { recursive: true, filter: (f) => !f.includes("golden") });
  writeFileSync(join(adapterDir, "run.yaml"), TRAIN_YAML.replace(/^model: .*\n/, `model: ${join(adapterDir, "qwen2")}\nlora: {adapter: ${join(adapterDir, "qwen2", "adapter")}}\n`));
  for (const [target, mutate] of [
    ["run.yaml", yamlFile],
    ["qwen2/adapter/adapter_config.json", jsonFile],
  ] as const) {
    out.push({
      name: `train lora.adapter ${target}`,
      dir: adapterDir,
      target,
      mutate,
      command: "train",
      args: (i) => [join(adapterDir, "run.yaml"), "--output-dir", join(adapterDir, `case-${i}`), "-q"],
      outputs: [],
      scratch: (i) => `case-${i}/`,
    });
  }
  return out;
}

/** What one case did, for the spawned re-runs. */
interface Case {
  subject: Subject;
  bytes: Uint8Array;
  outcome: Outcome;
  index: number;
}

async function runCase(s: Subject, index: number, bytes: Uint8Array): Promise<Outcome> {
  const target = join(s.dir, s.target);
  const valid = readFileSync(target);
  writeFileSync(target, bytes);
  const before = hashTree(s.dir);
  let outcome: Outcome;
  let after: Map<string, string>;
  try {
    outcome = await runInProcess(s.command, s.args(index));
    after = hashTree(s.dir);
  } catch (err) {
    throw new Error(`${s.name} case ${index}: not a user error (the CLI would print a stack): ${(err as Error).stack}`);
  } finally {
    writeFileSync(target, valid);
  }
  const scratch = s.scratch?.(index);
  const where = `${s.name} case ${index} (${Buffer.from(bytes).toString("latin1").slice(0, 80)}...)`;
  for (const [file, hash] of before) {
    if (outcome.status === 0 && s.outputs.includes(file)) continue;
    assert.equal(after.get(file), hash, `${where}: ${file} changed (${outcome.status === 0 ? "a successful run changed an input" : "a failed run changed a file"})`);
  }
  for (const file of after.keys()) {
    assert.ok(!/\.tmp$/.test(file), `${where}: left a temp file ${file}`);
    if (!before.has(file) && !(scratch && file.startsWith(scratch))) {
      assert.equal(outcome.status, 0, `${where}: a failed run left a new file ${file}`);
    }
  }
  if (scratch) rmSync(join(s.dir, scratch), { recursive: true, force: true });
  if (outcome.status !== 0) {
    assert.ok(!outcome.message.includes("\n"), `${where}: more than one line: ${outcome.message}`);
    // by path, or (the viewer, inside the run directory it was given) by the file's name there
    const named = [s.dir, ...s.args(index).filter((a) => a.startsWith(s.dir)), `${s.target}:`].some((p) => outcome.message.includes(p));
    assert.ok(named, `${where}: the error names none of its files: ${outcome.message}`);
  }
  return outcome;
}

test(`fuzz: ${CASES} mutations of each command's inputs succeed or fail as one line naming the file, touching nothing`, async () => {
  const all = subjects();
  const cases: Case[] = [];
  for (const s of all) {
    // the earlier outputs a failed run must leave alone
    const base = await runInProcess(s.command, s.args(-1));
    assert.deepEqual(base, { status: 0 }, `${s.name}: the valid input fails`);
    const scratch = s.scratch?.(-1);
    if (scratch) rmSync(join(s.dir, scratch), { recursive: true, force: true });
  }
  for (const [k, s] of all.entries()) {
    const rng = new Rng(1234 + k);
    const valid = readFileSync(join(s.dir, s.target));
    for (let i = 0; i < CASES; i++) {
      const bytes = s.mutate(valid, rng);
      cases.push({ subject: s, bytes, outcome: await runCase(s, i, bytes), index: i });
    }
  }
  const failed = cases.filter((c) => c.outcome.status !== 0).length;
  assert.ok(failed > cases.length / 4 && failed < cases.length, `${failed} of ${cases.length} cases failed: the mutations should break some inputs, not all`);

  // the real CLI on one failing case of each command: exit status and exactly that one stderr line
  for (const command of ["prm", "logprobs", "train"]) {
    const c = cases.find((x) => x.subject.command === command && x.outcome.status !== 0);
    if (c === undefined) continue;
    const target = join(c.subject.dir, c.subject.target);
    const valid = readFileSync(target);
    writeFileSync(target, c.bytes);
    try {
      const r = runCli([command, ...c.subject.args(c.index)]);
      const scratch = c.subject.scratch?.(c.index);
      if (scratch) rmSync(join(c.subject.dir, scratch), { recursive: true, force: true });
      assert.equal(r.status, c.outcome.status, r.stderr);
      assert.equal(r.stderr, (c.outcome as { message: string }).message + "\n");
    } finally {
      writeFileSync(target, valid);
    }
  }
});
