/**
 * `node dist/bench/reasoning-tasks.js [--rows N] [--seed S]`: the cheap checks of the task family, per
 * split (docs/reasoning.md's table; validation and iid have train's spec): prompt and solution lengths in tokens, the number of valid orders of the
 * solution's steps (the branching sampled solutions can have), the answer distribution's entropy and its
 * most frequent answer, and the share of each op. Pure generation and tokenisation: seconds, no model.
 */
import { parseArgs } from "node:util";
import { Tokenizer } from "@huggingface/tokenizers";
import { Rng } from "../src/util/rng.js";
import { BENCHMARKS, generateProgram, SPLITS, taskRow, validOrders, type SplitName } from "../src/reasoning/tasks.js";
import { tokenizerFiles } from "../src/reasoning/tokenizer.js";

const { values } = parseArgs({ options: { rows: { type: "string", default: "2000" }, seed: { type: "string", default: "0" } } });
const rows = Number(values.rows);
const f = tokenizerFiles(512);
const tok = new Tokenizer(f.tokenizer, f.config);
const len = (s: string): number => tok.encode(s, { add_special_tokens: false }).ids.length;

/** mean [min-max] */
function spread(xs: number[]): string {
  return `${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1)} [${Math.min(...xs)}-${Math.max(...xs)}]`;
}

console.log(`vocabulary: ${Object.keys((f.tokenizer.model as { vocab: object }).vocab).length} tokens; ${rows} problems a split, seed ${values.seed}`);
console.log("| split | prompt tokens, mean [range] | solution tokens | steps | valid orders (mean, median, share > 1) | answer entropy (bits) | top answer | + / - / * |");
console.log("|---|---|---|---|---|---|---|---|");
// validation and iid share train's spec (their rows differ, their figures do not)
for (const split of ["train", ...BENCHMARKS.filter((b) => b !== "iid")] as SplitName[]) {
  const rng = new Rng(Number(values.seed) + 1000);
  const promptLen: number[] = [];
  const solLen: number[] = [];
  const steps: number[] = [];
  const orders: number[] = [];
  const answers = new Map<string, number>();
  const ops = { "+": 0, "-": 0, "*": 0 };
  for (let i = 0; i < rows; i++) {
    const p = generateProgram(SPLITS[split], rng);
    const r = taskRow(p, rng);
    promptLen.push(len(r.problem));
    solLen.push(len(r.solution));
    steps.push(p.needed.length);
    orders.push(validOrders(p));
    answers.set(r.answer, (answers.get(r.answer) ?? 0) + 1);
    for (const s of p.statements) if (s.op && p.needed.includes(s.letter)) ops[s.op] += 1;
  }
  let h = 0;
  for (const c of answers.values()) h -= (c / rows) * Math.log2(c / rows);
  const [topAnswer, topCount] = [...answers.entries()].sort((a, b) => b[1] - a[1])[0];
  const sortedOrders = [...orders].sort((a, b) => a - b);
  const nOps = ops["+"] + ops["-"] + ops["*"];
  const pct = (x: number): string => `${Math.round((100 * x) / nOps)}`;
  console.log(
    `| ${split} | ${spread(promptLen)} | ${spread(solLen)} | ${spread(steps)} | ` +
      `${(orders.reduce((a, b) => a + b, 0) / rows).toFixed(2)}, ${sortedOrders[rows >> 1]}, ${((100 * orders.filter((o) => o > 1).length) / rows).toFixed(0)}% | ` +
      `${h.toFixed(2)} | ${topAnswer} (${((100 * topCount) / rows).toFixed(1)}%) | ${pct(ops["+"])} / ${pct(ops["-"])} / ${pct(ops["*"])} |`,
  );
}
