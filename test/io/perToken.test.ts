/**
 * prm's per-token writer: what it writes is the PRM of src/prm token by token (perToken, lambdaSize, stepOf),
 * whatever the size of a group, in pieces of bounded length; --fields picks the keys.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_FIELDS, parseFields, PER_TOKEN_FIELDS, writePerTokenGroup } from "../../src/io/perToken.js";
import type { RolloutGroup } from "../../src/io/rollouts.js";
import { buildPrefixTree, groupAdvantages, perToken } from "../../src/prm/index.js";
import { Rng } from "../../src/util/rng.js";

async function written(group: RolloutGroup, fields = DEFAULT_FIELDS): Promise<{ lines: Record<string, unknown>[]; pieces: number[] }> {
  const tree = buildPrefixTree(group.completions.map((c) => c.tokens));
  const adv = groupAdvantages(tree, group.completions.map((c) => c.reward));
  const pieces: string[] = [];
  await writePerTokenGroup({ write: async (t) => void pieces.push(t) }, group, tree, adv, fields);
  const text = pieces.join("");
  assert.ok(text.endsWith("\n"));
  return { lines: text.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>), pieces: pieces.map((p) => p.length) };
}

function groupOf(tokens: number[][], rewards: number[], step: number | null = 3): RolloutGroup {
  return { id: "g", step, line: 1, bytesRead: 0, completions: tokens.map((t, i) => ({ tokens: t, reward: rewards[i], line: 1 })) };
}

test("every per-token array equals the PRM's own per-token values, long spans and empty completions included", async () => {
  const rng = new Rng(5);
  // Long shared openings (spans longer than one repeated piece) and short branches, plus an empty completion.
  const trunk = Array.from({ length: 70_000 }, () => rng.int(50));
  const tokens = [trunk.concat([1, 2, 3]), trunk.concat([1, 2, 4]), trunk.slice(0, 100).concat([7]), [], trunk.slice(0, 100)];
  const rewards = [1, 0, 0.5, 0.25, 1];
  const group = groupOf(tokens, rewards);
  const { lines, pieces } = await written(group);
  const tree = buildPrefixTree(tokens);
  const adv = groupAdvantages(tree, rewards);
  const R = perToken(tree, adv.stepRewards);
  const A = perToken(tree, adv.stepAdvantages);
  assert.equal(lines.length, tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const l = lines[i];
    assert.deepEqual(Object.keys(l), ["group", "step", "index", ...DEFAULT_FIELDS]);
    assert.equal(l.index, i);
    assert.equal(l.reward, rewards[i]);
    assert.equal(l.advantage, adv.advantages[i]);
    assert.deepEqual(l.lambda, Array.from(tree.lambdaSize[i]));
    assert.deepEqual(l.node, Array.from(tree.stepOf[i]));
    assert.deepEqual(l.processReward, Array.from(R[i]));
    assert.deepEqual(l.processAdvantage, Array.from(A[i]));
  }
  // ~3 MB of output in pieces of about a megabyte, never one string for the group.
  assert.ok(pieces.length >= 3, `${pieces.length} pieces`);
  assert.ok(Math.max(...pieces) < 2 ** 20 + 2 ** 16 * 24, `largest piece ${Math.max(...pieces)}`);
});

test("--fields writes just the chosen keys (in a fixed order), tokens included on request", async () => {
  const group = groupOf([[5, 6], [5, 7, 8]], [1, 0], null);
  const { lines } = await written(group, parseFields("tokens, lambda"));
  assert.deepEqual(lines, [
    { group: "g", index: 0, lambda: [2, 1], tokens: [5, 6] },
    { group: "g", index: 1, lambda: [2, 1, 1], tokens: [5, 7, 8] },
  ]);
  assert.deepEqual(parseFields(PER_TOKEN_FIELDS.join(",")), [...PER_TOKEN_FIELDS]);
  assert.throws(() => parseFields("lambda,logprobs"), { message: /--fields: unknown field 'logprobs'/ });
  assert.throws(() => parseFields(" , "), { message: /--fields: expected a comma-separated list/ });
});
