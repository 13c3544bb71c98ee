/**
 * `lambda-grpo prm` end to end: the paper's worked example (PAPER.md section 2) through the written file,
 * both input formats and text-with-tokenizer giving the same bytes, and the scalings.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../../src/cli/prm.js";
import { charIds, PAPER_EXAMPLE } from "../fixtures/paper-example.js";
import { characterTokenizer } from "../fixtures/tokenizers.js";
import { runCli, tempDir } from "./helpers.js";

interface OutLine {
  group: string | number;
  step?: number;
  index: number;
  reward: number;
  advantage: number;
  lambda: number[];
  processReward: number[];
  processAdvantage: number[];
  node: number[];
}

const dir = tempDir();

function write(name: string, lines: unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n");
  return path;
}

function readOut(path: string): OutLine[] {
  return readFileSync(path, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as OutLine);
}

const paperGroupLine = {
  id: "paper",
  completions: PAPER_EXAMPLE.map((c) => ({ tokens: charIds(c.word), reward: c.reward })),
};
const paperCompletionLines = PAPER_EXAMPLE.map((c) => ({ group: "paper", tokens: charIds(c.word), reward: c.reward }));

const close = (actual: number, expected: number, tol: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);

test("prm on the paper's group of six writes its advantages, process rewards and lambda sizes", async () => {
  const input = write("paper.jsonl", [paperGroupLine]);
  const out = join(dir, "paper.out.jsonl");
  await main([input, "--out", out, "--quiet"]);
  const rows = readOut(out);
  assert.equal(rows.length, 6);
  assert.deepEqual(rows.map((r) => [r.group, r.index, r.reward]), PAPER_EXAMPLE.map((c, i) => ["paper", i, c.reward]));
  assert.ok(rows.every((r) => !("step" in r)), "no step in the input, none in the output");

  // Group mean 0.4167, sample std 0.3764: a = +1.55 (reward 1), -1.11 (reward 0), +0.22 (reward 0.5).
  const mean = 2.5 / 6;
  const std = Math.sqrt((3 * (0.5 - mean) ** 2 + (1 - mean) ** 2 + 2 * mean ** 2) / 5);
  close(mean, 0.4167, 5e-5, "group mean");
  close(std, 0.3764, 5e-5, "sample std");
  const expectedA = [0.22, 0.22, 1.55, -1.11, -1.11, 0.22];
  rows.forEach((r, i) => close(r.advantage, expectedA[i], 0.005, `a_${i}`));
  rows.forEach((r, i) => close(r.advantage, (PAPER_EXAMPLE[i].reward - mean) / (std + 1e-4), 1e-12, `a_${i} exact`));

  // Tree AB -> {CD, EFHI}; JKL -> {M, NQ -> {ST, U}}; VWYZ: |lambda| per token.
  assert.deepEqual(rows.map((r) => r.lambda), [
    [2, 2, 1, 1],
    [2, 2, 1, 1, 1, 1],
    [3, 3, 3, 1],
    [3, 3, 3, 2, 2, 1, 1],
    [3, 3, 3, 2, 2, 1],
    [1, 1, 1, 1],
  ]);

  // Node JKL: R = 0.333, A = -0.22 on the best completion JKLM: pushed down three times.
  const jklm = rows[2];
  for (let t = 0; t < 3; t++) {
    close(jklm.processReward[t], 1 / 3, 1e-12, `R(JKLM, ${t})`);
    close(jklm.processAdvantage[t], -0.22, 0.005, `A(JKLM, ${t})`);
  }
  assert.equal(jklm.processReward[3], 1, "the leaf M carries the completion's own reward");
  close(jklm.processAdvantage[3], 1.55, 0.005, "A(JKLM, M)");
  // NQ holds the two reward-0 completions: R = 0; AB holds two 0.5s: R = 0.5.
  assert.deepEqual(rows[3].processReward.slice(3, 5), [0, 0]);
  assert.deepEqual(rows[0].processReward.slice(0, 2), [0.5, 0.5]);

  // Node ids: tokens of one process step share an id in every member, and the steps differ.
  const nodeOf = (i: number, t: number): number => rows[i].node[t];
  assert.equal(nodeOf(0, 0), nodeOf(1, 1)); // AB
  assert.equal(nodeOf(2, 0), nodeOf(4, 2)); // JKL
  assert.equal(nodeOf(3, 3), nodeOf(4, 4)); // NQ
  const steps = new Set(rows.flatMap((r) => r.node));
  assert.equal(steps.size, 9, "AB, CD, EFHI, JKL, M, NQ, ST, U, VWYZ");

  // The PRM identity behind L_PRM = L_GRPO: per node, |lambda| * A equals the sum of its members' a_j.
  const byNode = new Map<number, { sumA: number; members: Set<number>; A: number; lambda: number }>();
  rows.forEach((r, i) =>
    r.node.forEach((n, t) => {
      const e = byNode.get(n) ?? { sumA: 0, members: new Set<number>(), A: r.processAdvantage[t], lambda: r.lambda[t] };
      if (!e.members.has(i)) {
        e.members.add(i);
        e.sumA += r.advantage;
      }
      byNode.set(n, e);
    }),
  );
  for (const [n, e] of byNode) {
    assert.equal(e.members.size, e.lambda, `node ${n}: |lambda| = members`);
    close(e.lambda * e.A, e.sumA, 1e-12, `node ${n}: |lambda| A = sum of a_j`);
  }
});

test("one group per line, one completion per line, and text with a tokenizer give identical bytes", async () => {
  // Each letter a token, id = char code: the same ids as charIds.
  const vocab: Record<string, number> = { "[UNK]": 0 };
  for (let c = 65; c <= 90; c++) vocab[String.fromCharCode(c)] = c;
  const tokenizerPath = join(dir, "tokenizer.json");
  writeFileSync(tokenizerPath, JSON.stringify(characterTokenizer(vocab)));
  const inputs = {
    group: write("fmt-group.jsonl", [{ ...paperGroupLine, step: 3 }]),
    completion: write("fmt-completion.jsonl", paperCompletionLines.map((c) => ({ ...c, step: 3 }))),
    text: write("fmt-text.jsonl", PAPER_EXAMPLE.map((c) => ({ group: "paper", step: 3, text: c.word, reward: c.reward }))),
  };
  const outputs: string[] = [];
  for (const [name, input] of Object.entries(inputs)) {
    const out = join(dir, `fmt-${name}.out.jsonl`);
    await main([input, "--out", out, "--quiet", "--tokenizer", tokenizerPath]);
    outputs.push(readFileSync(out, "utf8"));
  }
  assert.equal(outputs[1], outputs[0]);
  assert.equal(outputs[2], outputs[0]);
  const rows = outputs[0].trimEnd().split("\n").map((l) => JSON.parse(l) as OutLine);
  assert.ok(rows.every((r) => r.step === 3 && r.group === "paper"));
});

test("--scale none centres without dividing; --scale batch divides by the step's reward std (n-1) + eps", async () => {
  const g = (id: string, step: number, rewards: number[]) => ({
    id,
    step,
    completions: rewards.map((r, i) => ({ tokens: [1, 2 + i], reward: r })),
  });
  const input = write("scale.jsonl", [g("a", 0, [1, 0]), g("b", 0, [1, 1, 0, 0]), g("c", 1, [3, 1])]);

  const none = join(dir, "scale-none.jsonl");
  await main([input, "--out", none, "--scale", "none", "--quiet"]);
  const rn = readOut(none);
  assert.deepEqual(rn.map((r) => r.advantage), [0.5, -0.5, 0.5, 0.5, -0.5, -0.5, 1, -1]);
  // Shared first token: R = the group's mean, so A = R - mean = 0 there.
  assert.deepEqual(rn.map((r) => r.processAdvantage), [[0, 0.5], [0, -0.5], [0, 0.5], [0, 0.5], [0, -0.5], [0, -0.5], [0, 1], [0, -1]]);

  const batch = join(dir, "scale-batch.jsonl");
  const eps = 0.01;
  await main([input, "--out", batch, "--scale", "batch", "--eps", String(eps), "--quiet"]);
  const rb = readOut(batch);
  // Step 0 rewards 1,0,1,1,0,0: mean 0.5, n-1 variance 6*0.25/5. Step 1 rewards 3,1: mean 2, variance 2.
  const std0 = Math.sqrt(1.5 / 5);
  const std1 = Math.sqrt(2);
  const expected = [0.5, -0.5, 0.5, 0.5, -0.5, -0.5].map((c) => c / (std0 + eps)).concat([1 / (std1 + eps), -1 / (std1 + eps)]);
  rb.forEach((r, i) => close(r.advantage, expected[i], 1e-12, `batch a_${i}`));
  rb.forEach((r, i) => close(r.processAdvantage[1], expected[i], 1e-12, `batch A_${i},1`));
  assert.deepEqual(rb.map((r) => r.step), [0, 0, 0, 0, 0, 0, 1, 1]);

  await assert.rejects(main(["-", "--out", join(dir, "never.jsonl"), "--scale", "batch"]), /needs a file, not stdin/);
  await assert.rejects(main([input, "--out", join(dir, "never.jsonl"), "--scale", "mean"]), /--scale: expected one of group, batch, none/);
  assert.ok(!readdirSync(dir).some((f) => f.startsWith("never") || f.startsWith(".never")));
});

test("a group of one and a group of equal rewards have all advantages exactly 0", async () => {
  const input = write("nosignal.jsonl", [
    { id: 7, completions: [{ tokens: [1, 2], reward: 3 }] },
    { id: 8, completions: [{ tokens: [1, 2], reward: 1 }, { tokens: [1, 3], reward: 1 }] },
  ]);
  const out = join(dir, "nosignal.out.jsonl");
  await main([input, "--out", out, "--quiet"]);
  const rows = readOut(out);
  assert.deepEqual(rows.map((r) => [r.group, r.advantage, r.processAdvantage]), [
    [7, 0, [0, 0]],
    [8, 0, [0, 0]],
    [8, 0, [0, 0]],
  ]);
  assert.deepEqual(rows[0].processReward, [3, 3]);
});

test("the CLI reads stdin and writes stdout with '-'", () => {
  const input = paperCompletionLines.map((l) => JSON.stringify(l)).join("\n") + "\n";
  const r = runCli(["prm", "-", "--out", "-"], input);
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as OutLine);
  assert.equal(rows.length, 6);
  close(rows[2].advantage, 1.55, 0.005, "a(JKLM)");
});
