/**
 * The input options shared by prm, analyze, view and report: which log format, which reward column, which
 * tokenizer (src/io/formats). Opening says on stderr what `auto` detected for another trainer's log, and
 * `reportNotes` prints what the log got wrong (uneven groups, empty completions, missing rewards).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { AtomicWriter } from "../io/atomic.js";
import { detectionLine, INPUT_FORMATS, openRollouts, type RolloutInput } from "../io/formats/index.js";
import { loadTokenizer } from "../io/tokenizer.js";
import { UserError } from "../util/errors.js";
import { choiceOption } from "./args.js";

export const INPUT_OPTIONS = {
  format: { type: "string" },
  "reward-field": { type: "string" },
  tokenizer: { type: "string" },
} as const;

export const INPUT_USAGE = `  --format <f>         ${INPUT_FORMATS.join(", ")}
                       (default auto: from the folder's file names, the extension or the first
                       record; says on stderr what it found)
  --reward-field <c>   the reward column of another trainer's log; several, comma-separated, are summed
                       (default: verl 'score', open-instruct 'reward', TRL the sum of its reward columns)
  --tokenizer <file>   Hugging Face tokenizer.json, for completions given as text (verl, TRL, "text")`;

export interface InputValues {
  format?: string;
  "reward-field"?: string;
  tokenizer?: string;
}

export async function openInput(command: string, path: string, values: InputValues): Promise<RolloutInput> {
  const format = choiceOption("format", values.format, INPUT_FORMATS) ?? "auto";
  const tokenizer = values.tokenizer ? await loadTokenizer(values.tokenizer) : undefined;
  const input = await openRollouts(path, { format, rewardField: values["reward-field"], tokenizer });
  const line = detectionLine(input);
  if (line !== null) process.stderr.write(`lambda-grpo ${command}: ${line}\n`);
  return input;
}

/** The log's irregularities, one line each on stderr. */
export function reportNotes(command: string, input: RolloutInput): void {
  for (const l of input.notes.lines()) process.stderr.write(`lambda-grpo ${command}: note: ${l}\n`);
}

/**
 * The viewer's input (view, report): our own format is handed over as it is (the viewer indexes the file
 * and reads one group at a time); another trainer's log is first written as our format into a temporary
 * folder, removed by `cleanup` (and at exit). The viewer then knows nothing of which format came in.
 */
export async function viewerInput(command: string, path: string, values: InputValues): Promise<{ path: string; cleanup: () => void }> {
  // A run directory of ours (it may have no rollouts yet while training starts): the viewer's own.
  if ((values.format ?? "auto") !== "auto" ? values.format === "lambda-grpo" : existsSync(join(path, "metrics.jsonl"))) {
    return { path, cleanup: () => {} };
  }
  const input = await openInput(command, path, values);
  if (input.format === "lambda-grpo") return { path, cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), "lgrpo-view-"));
  const cleanup = (): void => {
    rmSync(dir, { recursive: true, force: true });
    process.off("exit", cleanup);
  };
  process.on("exit", cleanup);
  try {
    const file = join(dir, `${basename(path).replace(/\.(jsonl|parquet)(\.gz)?$/, "")}.jsonl`);
    const out = await AtomicWriter.open(file);
    try {
      let groups = 0;
      for await (const g of input.groups()) {
        const completions = g.completions.map((c) => ({ tokens: c.tokens, reward: c.reward }));
        await out.write(`${JSON.stringify({ id: g.id, step: g.step, completions })}\n`);
        groups++;
      }
      if (groups === 0) throw new UserError(`${input.name}: no rollout groups (the input is empty)`);
      await out.commit();
    } finally {
      await out.abort();
    }
    reportNotes(command, input);
    return { path: file, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}
