/**
 * The task family on disk: one JSON Lines file a split (`problem`, `solution`, `answer` per row) and the
 * tokenizer directory, everything `sft`, the math environment and `eval` read.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { AtomicWriter } from "../io/atomic.js";
import { generateAllSplits, type SplitName } from "./tasks.js";
import { writeTokenizer } from "./tokenizer.js";

export interface DataOptions {
  seed: number;
  /** rows of the train split */
  train: number;
  /** rows of validation and of each benchmark */
  heldOut: number;
  /** the context the model is built for (tokenizer_config.json's model_max_length) */
  contextLength: number;
}

/** Writes `<dir>/<split>.jsonl` for every split and `<dir>/tokenizer/`; returns the rows a split. */
export async function writeTaskData(dir: string, opts: DataOptions): Promise<Record<SplitName, number>> {
  await mkdir(dir, { recursive: true });
  const splits = generateAllSplits({ train: opts.train, heldOut: opts.heldOut }, opts.seed);
  const counts = {} as Record<SplitName, number>;
  for (const [name, rows] of Object.entries(splits) as [SplitName, typeof splits.train][]) {
    const out = await AtomicWriter.open(join(dir, `${name}.jsonl`));
    try {
      for (const r of rows) await out.write(JSON.stringify({ problem: r.problem, solution: r.solution, answer: r.answer }) + "\n");
      await out.commit();
    } finally {
      await out.abort();
    }
    counts[name] = rows.length;
  }
  await writeTokenizer(join(dir, "tokenizer"), opts.contextLength);
  return counts;
}
