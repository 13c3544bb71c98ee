/**
 * Writes a run directory the size of a real reasoning run for `lambda-grpo view` (test/view/bigRun.ts):
 * by default 250 steps x 16 groups x 36 completions of up to 2,000 tokens (~1.3 GB of rollouts.jsonl).
 *
 *   npx tsx bench/view-run.ts <dir> [steps groups completions tokens]
 *   npx lambda-grpo view <dir>
 */
import { writeBigRun } from "../test/view/bigRun.js";

const [dir, steps = "250", groups = "16", completions = "36", tokens = "2000"] = process.argv.slice(2);
if (!dir) {
  console.error("usage: npx tsx bench/view-run.ts <dir> [steps groups completions tokens]");
  process.exit(2);
}
const shape = { steps: Number(steps), groups: Number(groups), completions: Number(completions), tokens: Number(tokens) };
await writeBigRun(dir, shape);
console.log(`wrote ${dir}: ${shape.steps} steps x ${shape.groups} groups x ${shape.completions} completions x <= ${shape.tokens} tokens`);
