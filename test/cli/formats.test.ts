/**
 * Other trainers' logs (verl, TRL, open-instruct) through `prm`: each log written here in its trainer's
 * layout holds the same completions as a file of our own format, and the PRM output must be identical
 * byte for byte. Then what a log gets wrong (missing rewards, empty completions, uneven groups) is reported
 * with counts and the first file:line, and --format / --reward-field / detection behave as documented.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { parquetWriteBuffer } from "hyparquet-writer";
import { main } from "../../src/cli/prm.js";
import { openRollouts } from "../../src/io/formats/index.js";
import { charIds, PAPER_EXAMPLE } from "../fixtures/paper-example.js";
import { characterTokenizer } from "../fixtures/tokenizers.js";
import { runCli, tempDir } from "./helpers.js";

const dir = tempDir();
const vocab: Record<string, number> = { "[UNK]": 0 };
for (let c = 65; c <= 90; c++) vocab[String.fromCharCode(c)] = c;
const tokenizer = join(dir, "tokenizer.json");
writeFileSync(tokenizer, JSON.stringify(characterTokenizer(vocab)));

/** Two steps; step 1 has the paper's group and a second prompt, step 2 one prompt. */
interface Completion {
  step: number;
  prompt: string;
  word: string;
  reward: number;
}
const LOG: Completion[] = [
  ...PAPER_EXAMPLE.map((c) => ({ step: 1, prompt: "Q1", word: c.word, reward: c.reward })),
  { step: 1, prompt: "Q2", word: "XYZ", reward: 1 },
  { step: 1, prompt: "Q2", word: "XYW", reward: 0 },
  { step: 1, prompt: "Q2", word: "XA", reward: 0.25 },
  { step: 2, prompt: "Q1", word: "ABAB", reward: 0 },
  { step: 2, prompt: "Q1", word: "ABBA", reward: 1 },
];
/** The rows of a step as a trainer writes them: the prompts interleaved (grouping must not need contiguity). */
const INTERLEAVED = [0, 6, 1, 7, 2, 8, 3, 4, 5, 9, 10];

/** Our format holding the same groups: ids as the adapters name them, completions in row order. */
function ownFormat(name: string, idOf: (prompt: string, indexInStep: number) => string | number): string {
  const groups = new Map<string, { id: string | number; step: number; completions: { tokens: number[]; reward: number }[] }>();
  const perStep = new Map<number, number>();
  for (const i of INTERLEAVED) {
    const c = LOG[i];
    const key = `${c.step}/${c.prompt}`;
    if (!groups.has(key)) {
      const k = perStep.get(c.step) ?? 0;
      perStep.set(c.step, k + 1);
      groups.set(key, { id: idOf(c.prompt, k), step: c.step, completions: [] });
    }
    groups.get(key)!.completions.push({ tokens: charIds(c.word), reward: c.reward });
  }
  const path = join(dir, name);
  writeFileSync(path, [...groups.values()].map((g) => JSON.stringify(g)).join("\n") + "\n");
  return path;
}

async function prm(input: string, ...extra: string[]): Promise<string> {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}.jsonl`);
  await main([input, "--out", out, "--quiet", ...extra]);
  return readFileSync(out, "utf8");
}

function rows(step: number): Completion[] {
  return INTERLEAVED.map((i) => LOG[i]).filter((c) => c.step === step);
}

test("verl's rollout_data_dir (a folder of <step>.jsonl, text, uid optional) gives the PRM of the same tokens", async () => {
  const folder = join(dir, "verl");
  mkdirSync(folder);
  for (const step of [1, 2]) {
    const lines = rows(step).map((c) => JSON.stringify({ input: c.prompt, output: c.word, gts: "x", score: c.reward, step, acc: c.reward > 0.5 }));
    // Step 2 gzipped, as users keep logs.
    if (step === 2) writeFileSync(join(folder, "2.jsonl.gz"), gzipSync(lines.join("\n") + "\n"));
    else writeFileSync(join(folder, "1.jsonl"), lines.join("\n") + "\n");
  }
  const expected = await prm(ownFormat("verl-own.jsonl", (_p, k) => `p${k}`));
  assert.equal(await prm(folder, "--tokenizer", tokenizer), expected);
  // One file of the folder alone, and the format named.
  const one = await prm(join(folder, "1.jsonl"), "--tokenizer", tokenizer, "--format", "verl");
  assert.equal(one, expected.split("\n").filter((l) => l.includes('"step":1,')).join("\n") + "\n");

  // With uids, the uid is the group (and its id), whatever the prompt text says.
  const uidFolder = join(dir, "verl-uid");
  mkdirSync(uidFolder);
  const uidLines = rows(1).map((c) => JSON.stringify({ input: "same prompt", output: c.word, score: c.reward, step: 1, uid: `u-${c.prompt}` }));
  writeFileSync(join(uidFolder, "1.jsonl"), uidLines.join("\n") + "\n");
  const own = ownFormat("verl-uid-own.jsonl", (p) => `u-${p}`);
  const ownStep1 = (await prm(own)).split("\n").filter((l) => l.includes('"step":1,')).join("\n") + "\n";
  assert.equal(await prm(uidFolder, "--tokenizer", tokenizer), ownStep1);
  // --reward-field picks another column (verl's reward extra info).
  const acc = await prm(join(folder, "1.jsonl"), "--tokenizer", tokenizer, "--reward-field", "acc");
  const byGroup = [...rows(1).filter((c) => c.prompt === "Q1"), ...rows(1).filter((c) => c.prompt === "Q2")];
  assert.deepEqual(acc.trimEnd().split("\n").map((l) => (JSON.parse(l) as { reward: number }).reward), byGroup.map((c) => (c.reward > 0.5 ? 1 : 0)));
});

test("TRL's completions/completions_<step:05d>.parquet (reward columns summed, or one picked) gives the same PRM", async () => {
  const out = join(dir, "trl-run");
  mkdirSync(join(out, "completions"), { recursive: true });
  for (const step of [1, 2]) {
    const r = rows(step);
    // Two reward functions whose sum is the reward; TRL's nansum skips a NaN entry.
    const correctness = r.map((c) => c.reward - 0.25);
    const format = r.map((_c, i) => (i === 1 ? NaN : 0.25));
    correctness[1] = r[1].reward;
    const buf = parquetWriteBuffer({
      columnData: [
        { name: "step", data: BigInt64Array.from(r.map(() => BigInt(step))), type: "INT64" },
        { name: "prompt", data: r.map((c) => c.prompt), type: "STRING" },
        { name: "completion", data: r.map((c) => c.word), type: "STRING" },
        { name: "correctness_reward", data: Float64Array.from(correctness), type: "DOUBLE" },
        { name: "format_reward", data: Float64Array.from(format), type: "DOUBLE" },
        { name: "advantage", data: Float64Array.from(r.map(() => 0)), type: "DOUBLE" },
      ],
    });
    writeFileSync(join(out, "completions", `completions_${String(step).padStart(5, "0")}.parquet`), new Uint8Array(buf));
  }
  const expected = await prm(ownFormat("trl-own.jsonl", (_p, k) => `p${k}`));
  assert.equal(await prm(out, "--tokenizer", tokenizer), expected);
  const input = await openRollouts(out);
  assert.equal(input.format, "trl");
  assert.equal(input.files.length, 2);
  // --reward-field names one column: the rewards are that column (the NaN one is a missing reward).
  const one = await prm(join(out, "completions", "completions_00002.parquet"), "--tokenizer", tokenizer, "--reward-field", "correctness_reward");
  assert.deepEqual(one.trimEnd().split("\n").map((l) => (JSON.parse(l) as { reward: number }).reward), rows(2).map((c, i) => (i === 1 ? c.reward : c.reward - 0.25)));
});

test("open-instruct's traces (token ids, prompt_idx) give the same PRM; the metadata file is not a rollout file", async () => {
  const folder = join(dir, "oi");
  mkdirSync(folder);
  writeFileSync(join(folder, "run_metadata.jsonl"), JSON.stringify({ run_name: "run", git_commit: "x", model_name: "m", timestamp: "t" }) + "\n");
  const promptIdx = (p: string) => (p === "Q1" ? 0 : 1);
  const records = INTERLEAVED.map((i, sample) => {
    const c = LOG[i];
    return { step: c.step, sample_idx: sample, prompt_idx: c.step === 2 ? 0 : promptIdx(c.prompt), prompt_tokens: [1, 2], response_tokens: charIds(c.word), reward: c.reward, advantage: 0, finish_reason: "stop", dataset: "d", ground_truth: null, request_info: null, logprobs: null };
  });
  // Shards split across a step boundary are read in shard order.
  writeFileSync(join(folder, "run_rollouts_000001.jsonl"), records.slice(9).map((r) => JSON.stringify(r)).join("\n") + "\n");
  writeFileSync(join(folder, "run_rollouts_000000.jsonl"), records.slice(0, 9).map((r) => JSON.stringify(r)).join("\n") + "\n");
  const expected = await prm(ownFormat("oi-own.jsonl", (p, k) => k));
  assert.equal(await prm(folder), expected);
});

test("missing rewards, empty completions and uneven groups are reported with counts and the first file:line", () => {
  const folder = join(dir, "verl-bad");
  mkdirSync(folder);
  const lines = [
    { input: "Q1", output: "AB", score: 1, step: 3 },
    { input: "Q1", output: "AC", score: null, step: 3 },
    { input: "Q1", output: "", score: 0, step: 3 },
    { input: "Q2", output: "AB", score: 1, step: 3 },
    { input: "Q2", output: "B", score: 0, step: 3 },
    { input: "Q3", output: "C", step: 3 },
  ];
  writeFileSync(join(folder, "3.jsonl"), lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
  const out = join(dir, "bad.out.jsonl");
  const r = runCli(["prm", folder, "--out", out, "--tokenizer", tokenizer]);
  assert.equal(r.status, 0, r.stderr);
  const f = join(folder, "3.jsonl");
  assert.deepEqual(r.stderr.trimEnd().split("\n"), [
    `lambda-grpo prm: verl-bad: read as verl rollout dump (a folder of 1 <step>.jsonl file; --format to choose)`,
    `lambda-grpo prm: note: completions without a reward (left out of their group): 2, first at ${f}:2`,
    `lambda-grpo prm: note: empty completions (kept): 1, first at ${f}:3`,
    `lambda-grpo prm: note: groups without a rewarded completion (left out): 1, first at ${f}:6`,
  ]);
  const written = readFileSync(out, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as { group: string; reward: number; lambda: number[] });
  assert.deepEqual(written.map((w) => [w.group, w.reward, w.lambda]), [
    ["p0", 1, [1, 1]],
    ["p0", 0, []],
    ["p1", 1, [1, 1]],
    ["p1", 0, [1]],
  ]);
  // Uneven sizes: a group of 3 beside groups of 2.
  const uneven = join(dir, "uneven.jsonl");
  const g = (id: string, n: number) => ({ id, step: 0, completions: Array.from({ length: n }, (_, i) => ({ tokens: [i], reward: i })) });
  writeFileSync(uneven, [g("a", 2), g("b", 2), g("c", 3), g("d", 2)].map((x) => JSON.stringify(x)).join("\n") + "\n");
  const u = runCli(["prm", uneven, "--out", join(dir, "uneven.out.jsonl")]);
  assert.equal(u.status, 0, u.stderr);
  assert.equal(u.stderr, `lambda-grpo prm: note: group sizes differ: 3 of 2, 1 of 3 (the first not of size 2 at ${uneven}:3)\n`);
});

test("bad format options and logs are one-line errors naming the file, line and field", async () => {
  const folder = join(dir, "verl");
  await assert.rejects(prm(folder), { message: /1\.jsonl:1: verl logs hold text, not token ids: pass --tokenizer/ });
  await assert.rejects(prm(folder, "--tokenizer", tokenizer, "--reward-field", "nope"), { message: /1\.jsonl:1: nope: no such field \(--reward-field; the record has input, output, gts, score, step, acc\)/ });
  await assert.rejects(prm(folder, "--format", "csv"), { message: "--format: expected one of auto, lambda-grpo, verl, trl, open-instruct, got 'csv'" });
  await assert.rejects(prm(folder, "--format", "trl"), { message: /no completions_<step>\.parquet files in this folder \(--format trl\)/ });
  const own = join(dir, "verl-own.jsonl");
  await assert.rejects(prm(own, "--reward-field", "score"), { message: /--reward-field: our format has one reward per completion/ });
  const empty = join(dir, "empty-folder");
  mkdirSync(empty);
  await assert.rejects(prm(empty), { message: /empty-folder: no rollout files in this folder/ });
  const steps = join(dir, "oi-steps");
  mkdirSync(steps);
  const rec = (step: number) => JSON.stringify({ step, prompt_idx: 0, response_tokens: [1], reward: 1 });
  writeFileSync(join(steps, "r_rollouts_000000.jsonl"), [rec(1), rec(2), rec(1)].join("\n") + "\n");
  await assert.rejects(prm(steps), { message: /r_rollouts_000000\.jsonl:3: step: step 1 began at .*:1 and step 2 has come since/ });
  const badTok = join(dir, "oi-bad");
  mkdirSync(badTok);
  writeFileSync(join(badTok, "r_rollouts_000000.jsonl"), JSON.stringify({ step: 1, prompt_idx: 0, response_tokens: [1, -2], reward: 1 }) + "\n");
  await assert.rejects(prm(badTok), { message: /r_rollouts_000000\.jsonl:1: response_tokens\[1\]: expected a non-negative integer token id, got -2/ });
});

test("report (and view, through the same path) takes another trainer's log: its groups reach the page", async () => {
  const { main: report } = await import("../../src/cli/report.js");
  const { captureStdout } = await import("./helpers.js");
  const { readdirSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const before = readdirSync(tmpdir()).filter((n) => n.startsWith("lgrpo-view-")).length;
  const out = join(dir, "verl-report.html");
  const printed = await captureStdout(() => report([join(dir, "verl"), "--out", out, "--tokenizer", tokenizer]));
  assert.match(printed, /wrote .*verl-report\.html: 3 group\(s\) of 2 step\(s\)/);
  const html = readFileSync(out, "utf8");
  for (const id of ['"id":"p0"', '"id":"p1"']) assert.ok(html.includes(id), `the page holds group ${id}`);
  // The converted copy is gone.
  assert.equal(readdirSync(tmpdir()).filter((n) => n.startsWith("lgrpo-view-")).length, before);
});
