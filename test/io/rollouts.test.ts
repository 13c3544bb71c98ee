/** The rollout reader's rules beyond validation (which test/cli/prm-errors.test.ts covers). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRolloutGroups, rewardStatsByStep, type RolloutGroup } from "../../src/io/rollouts.js";
import { RunIndex } from "../../src/view/runIndex.js";

async function groupsOf(lines: unknown[]): Promise<RolloutGroup[]> {
  const text = lines.map((l) => JSON.stringify(l)).join("\n");
  const out: RolloutGroup[] = [];
  for await (const g of readRolloutGroups([text], { file: "t.jsonl" })) out.push(g);
  return out;
}

test("a group is (step, id): the same id at the next step is a new group, not a split one", async () => {
  const groups = await groupsOf([
    { group: "g0", step: 1, tokens: [1], reward: 1 },
    { group: "g0", step: 1, tokens: [2], reward: 0 },
    { group: "g0", step: 2, tokens: [1], reward: 1 },
    { group: 5, step: 2, tokens: [1], reward: 1 },
    { group: "5", step: 2, tokens: [1], reward: 1 },
  ]);
  assert.deepEqual(groups.map((g) => [g.step, g.id, g.completions.length, g.line]), [
    [1, "g0", 2, 1],
    [2, "g0", 1, 3],
    [2, 5, 1, 4],
    [2, "5", 1, 5],
  ]);
});

test("ids default to the group's position; steps absent are null; prompt and other fields are ignored", async () => {
  const groups = await groupsOf([
    { prompt: [9, 9], completions: [{ tokens: [1, 2], reward: 0.5, logprobs: [0] }] },
    { completions: [{ tokens: [], reward: -2 }], meta: { x: 1 } },
  ]);
  assert.deepEqual(groups.map((g) => [g.id, g.step, g.completions.map((c) => [c.tokens, c.reward])]), [
    [0, null, [[[1, 2], 0.5]]],
    [1, null, [[[], -2]]],
  ]);
});

test("rewardStatsByStep gives each step's count, mean and n-1 variance in one pass", async () => {
  const lines = [
    { id: "a", step: 0, completions: [{ tokens: [1], reward: 1 }, { tokens: [2], reward: 0 }] },
    { id: "b", step: 0, completions: [{ tokens: [1], reward: 4 }] },
    { id: "c", step: 3, completions: [{ tokens: [1], reward: 2 }, { tokens: [1], reward: 2 }] },
  ];
  const stats = await rewardStatsByStep([lines.map((l) => JSON.stringify(l)).join("\n")]);
  const s0 = stats.get(0)!;
  assert.equal(s0.count, 3);
  assert.ok(Math.abs(s0.mean - 5 / 3) < 1e-15);
  // rewards 1, 0, 4: squared deviations from 5/3 sum to 26/3.
  assert.ok(Math.abs(s0.m2 - 26 / 3) < 1e-12);
  assert.deepEqual(stats.get(3), { count: 2, mean: 2, m2: 0 });
});

test("two groups with one (step, id) in the group format are refused, naming both lines", async () => {
  const g = (id: unknown, step: number) => ({ id, step, completions: [{ tokens: [1], reward: 1 }] });
  await assert.rejects(groupsOf([g("a", 0), g("b", 0), g("a", 0)]), {
    message: 't.jsonl:3: id: group "a" (step 0) appears twice: on line 1 and here (ids must be unique within a step)',
  });
  // The same id at another step, and 7 beside "7", are distinct groups.
  const ok = await groupsOf([g("a", 0), g("a", 1), g(7, 1), g("7", 1)]);
  assert.equal(ok.length, 4);
  // The viewer's index (which reads only the leading fields of a line) refuses them the same way.
  const dir = mkdtempSync(join(tmpdir(), "lgrpo-dup-"));
  try {
    const file = join(dir, "r.jsonl");
    writeFileSync(file, [g("a", 0), g("b", 0), g("a", 0)].map((l) => JSON.stringify(l)).join("\n") + "\n");
    await assert.rejects(RunIndex.open(file), { message: `r.jsonl:3: id: group "a" (step 0) appears twice: on line 1 and here (ids must be unique within a step)` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
