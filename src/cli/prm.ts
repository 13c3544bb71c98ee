/**
 * `lambda-grpo prm <in.jsonl> --out <per-token.jsonl>`: the implicit PRM of every rollout group, per token.
 *
 * One output line per completion, in input order (src/io/perToken.ts; --fields picks which of them):
 *   {"group", "step"?, "index", "reward", "advantage", "lambda": [|lambda(i,t)|...], "processReward": [R_it...],
 *    "processAdvantage": [A_it...], "node": [process-step id per token], "tokens"?: [...]}
 * `step` is present when the input has steps. `node` ids are per group (preorder ids of src/prm/tree.ts).
 * A group is written as it is computed, in pieces: a group of any size streams out.
 *
 * --scale batch divides by the std of all rewards of the step, which is known only after the step has been
 * read: a first streaming pass gathers per-step reward statistics, the second computes and writes. The
 * input must then be a file (stdin cannot be read twice). Memory stays one group plus a few numbers per step.
 */
import { openSink } from "../io/files.js";
import type { RolloutInput } from "../io/formats/index.js";
import { prepareOutputs, rolloutSourceFiles } from "../io/outputs.js";
import { createProgress, type Progress } from "../io/progress.js";
import { rewardStatsOfGroups } from "../io/rollouts.js";
import { DEFAULT_FIELDS, parseFields, PER_TOKEN_FIELDS, writePerTokenGroup } from "../io/perToken.js";
import { buildPrefixTree, DEFAULT_EPS, groupAdvantages, REWARD_SCALINGS, type AdvantageOptions } from "../prm/index.js";
import { inputError, UserError } from "../util/errors.js";
import { choiceOption, numberOption, onePositional, parseCommand, requiredOption } from "./args.js";
import { INPUT_OPTIONS, INPUT_USAGE, openInput, reportNotes } from "./input.js";

const USAGE = `usage: lambda-grpo prm <rollouts | -> --out <per-token.jsonl | -> [options]

Per-token process rewards, process advantages and lambda sizes of rollout groups (PAPER.md section 2).
The input is our rollouts JSONL (a file or a run directory) or another trainer's log: a verl
rollout_data_dir, TRL's completions/ Parquet files, open-instruct's rollout traces (docs/cli-prm.md).

options:
  -o, --out <file>     output JSONL, one line per completion in input order; '-' for stdout.
                       Written to a temporary file and renamed at the end: no output on error.
  --scale <how>        group (default): divide by the group's reward std + eps;
                       batch: by the std of all rewards of the step + eps (reads the input twice);
                       none: no division (Dr. GRPO)
  --eps <x>            added to the std (default ${DEFAULT_EPS})
  --fields <list>      what to write per completion, comma-separated, of
                       ${PER_TOKEN_FIELDS.join(",")}
                       (default: all but tokens; group, step and index are always written)
${INPUT_USAGE}
  -q, --quiet          no progress bar (it is shown only on a terminal anyway)
  -h, --help           this text`;

function progressFor(label: string, input: RolloutInput, quiet: boolean): Progress {
  return createProgress({ label, total: input.size, unit: "bytes", quiet });
}

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      out: { type: "string", short: "o" },
      scale: { type: "string" },
      eps: { type: "string" },
      ...INPUT_OPTIONS,
      fields: { type: "string" },
      quiet: { type: "boolean", short: "q" },
    },
    USAGE,
  );
  if (!parsed) return;
  const { values, positionals } = parsed;
  const path = onePositional("prm", positionals, "input file");
  const outPath = requiredOption("prm", "out", values.out);
  const scale = choiceOption("scale", values.scale, REWARD_SCALINGS) ?? "group";
  const eps = numberOption("eps", values.eps, DEFAULT_EPS, 0);
  const quiet = values.quiet ?? false;
  const fields = values.fields === undefined ? DEFAULT_FIELDS : parseFields(values.fields);
  if (scale === "batch" && path === "-") {
    throw new UserError("--scale batch reads the input twice (per-step reward std first), so it needs a file, not stdin");
  }
  await prepareOutputs({ ...rolloutSourceFiles(path, values.tokenizer), outputs: [{ option: "--out", path: outPath }] });
  const input = await openInput("prm", path, values);

  const sink = await openSink(outPath, "--out");
  const bars: Progress[] = [];
  try {
    let batchStd = new Map<number | null, number>();
    if (scale === "batch") {
      const bar = progressFor("prm pass 1/2", input, quiet);
      bars.push(bar);
      let groups = 0;
      const stats = await rewardStatsOfGroups(input.groups(), (g) => bar.update(g.bytesRead, { groups: ++groups }));
      bar.stop();
      batchStd = new Map([...stats].map(([step, s]) => [step, s.count > 1 ? Math.sqrt(s.m2 / (s.count - 1)) : 0]));
    }
    const bar = progressFor(scale === "batch" ? "prm pass 2/2" : "prm", input, quiet);
    bars.push(bar);
    let groups = 0;
    let completions = 0;
    for await (const group of input.groups()) {
      const opts: AdvantageOptions = { scale, eps };
      if (scale === "batch") opts.batchStd = batchStd.get(group.step) ?? 0;
      const tree = buildPrefixTree(group.completions.map((c) => c.tokens));
      let adv;
      try {
        adv = groupAdvantages(tree, group.completions.map((c) => c.reward), opts);
      } catch (err) {
        // The PRM's own checks (e.g. eps 0 with equal rewards) know nothing of files; say where.
        if (err instanceof UserError) throw inputError(group.file ?? input.name, group.line, null, err.message);
        throw err;
      }
      await writePerTokenGroup(sink, group, tree, adv, fields);
      groups += 1;
      completions += group.completions.length;
      bar.update(group.bytesRead, { groups, completions });
    }
    bar.stop();
    reportNotes("prm", input);
    if (groups === 0) throw new UserError(`${input.name}: no rollout groups (the input is empty)`);
    await sink.commit();
  } finally {
    for (const b of bars) b.stop();
    await sink.abort();
  }
}
