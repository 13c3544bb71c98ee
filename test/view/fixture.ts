/**
 * A small run directory for the viewer tests, written as docs/CONTRACTS.md describes: config.json,
 * metrics.jsonl (one line per step, with an env figure), rollouts.jsonl (ids s<step>-g<index>), plus a
 * letter tokenizer (A..Z = ids 0..25) so the page can show the paper's letters.
 *
 * Group s3-g0 is the worked example of PAPER.md section 2 (test/fixtures/paper-example.ts):
 *   ABCD (0.5), ABEFHI (0.5), JKLM (1.0), JKLNQST (0), JKLNQU (0), VWYZ (0.5)
 * The other groups are random walks over a small alphabet, so they share prefixes and branch.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../../src/util/rng.js";
import { PAPER_EXAMPLE } from "../fixtures/paper-example.js";
import { characterTokenizer } from "../fixtures/tokenizers.js";

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const ids = (word: string): number[] => [...word].map((c) => LETTERS.indexOf(c));

export const FIXTURE = { steps: 6, groupsPerStep: 3, exampleStep: 3, exampleId: "s3-g0", otherId: "s3-g1" };

/**
 * An extra group at the last step whose id is markup: the page must show it as text and never run it
 * (rollout files are data from anywhere).
 */
export const HOSTILE_ID = '<img src=x onerror="document.title=\'pwned\'"></script><script>document.title=\'pwned\'</script>';

function randomGroup(rand: () => number, k: number): { tokens: number[]; reward: number }[] {
  const out: { tokens: number[]; reward: number }[] = [];
  for (let i = 0; i < k; i++) {
    const len = 3 + Math.floor(rand() * 6);
    const tokens: number[] = [];
    // Early tokens come from a small alphabet (shared prefixes), later ones from a larger one.
    for (let t = 0; t < len; t++) tokens.push(Math.floor(rand() * (t < 3 ? 2 : 8)) * 3 + (t % 3));
    out.push({ tokens, reward: Math.round(rand() * 4) / 4 });
  }
  return out;
}

/** The tokenizer of `ids`: A..Z = 0..25; its decoder joins the letters (HF's Fuse), as a character model's does. */
function letterTokenizer(): object {
  const vocab: Record<string, number> = {};
  [...LETTERS].forEach((c, i) => (vocab[c] = i));
  vocab["[UNK]"] = LETTERS.length;
  return { ...characterTokenizer(vocab), decoder: { type: "Fuse" } };
}

/** Writes the run into `dir` (created) and returns the tokenizer's path. */
export function writeRun(dir: string): { tokenizer: string } {
  mkdirSync(dir, { recursive: true });
  // seeded, so the fixture is the same on every run
  const rng = new Rng(7);
  const rand = (): number => rng.next();
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ env: { name: "tree" }, num_generations: 6, loss_type: "dapo", lambda: true, steps: FIXTURE.steps }, null, 2),
  );
  const metrics: string[] = [];
  const rollouts: string[] = [];
  for (let step = 1; step <= FIXTURE.steps; step++) {
    metrics.push(
      JSON.stringify({
        step,
        reward_mean: 0.3 + 0.08 * step + 0.03 * Math.sin(step),
        reward_std: 0.4 - 0.03 * step,
        loss: -0.02 * Math.cos(step),
        kl: 0.001 * step * step,
        path_depth_mean: 2 + 0.4 * step,
        intermediate_proportion_mean: 0.3 + 0.07 * step,
        flat_fraction: step < 3 ? 0.34 : 0,
        seconds: 0.5,
        "env/target_rate": Math.min(1, 0.05 * step * step),
      }),
    );
    for (let g = 0; g < FIXTURE.groupsPerStep; g++) {
      const id = `s${step}-g${g}`;
      const completions =
        step === FIXTURE.exampleStep && g === 0
          ? PAPER_EXAMPLE.map((c) => ({ tokens: ids(c.word), reward: c.reward }))
          : randomGroup(rand, 5 + Math.floor(rand() * 5));
      rollouts.push(JSON.stringify({ id, step, completions }));
    }
    if (step === FIXTURE.steps) rollouts.push(JSON.stringify({ id: HOSTILE_ID, step, completions: randomGroup(rand, 4) }));
  }
  writeFileSync(join(dir, "metrics.jsonl"), metrics.join("\n") + "\n");
  writeFileSync(join(dir, "rollouts.jsonl"), rollouts.join("\n") + "\n");
  const tokenizer = join(dir, "..", "letters-tokenizer.json");
  writeFileSync(tokenizer, JSON.stringify(letterTokenizer()));
  return { tokenizer };
}
