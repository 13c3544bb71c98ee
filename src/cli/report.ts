/**
 * `lambda-grpo report <run dir> --out report.html`: the viewer's pages as one self-contained offline file
 * (scripts, styles and data inlined; no request of any kind). Which groups it embeds: src/view/report.ts.
 */
import { prepareOutputs, rolloutSourceFiles } from "../io/outputs.js";
import { DEFAULT_REPORT_BYTES, DEFAULT_REPORT_STEPS, writeReport } from "../view/report.js";
import { intOption, lossTypeOption, numberOption, onePositional, parseCommand, requiredOption } from "./args.js";
import { INPUT_OPTIONS, viewerInput } from "./input.js";

const USAGE = `usage: lambda-grpo report <run dir | rollouts.jsonl | another trainer's log> --out <report.html> [options]

Writes the viewer's pages (run curves, prefix trees B(G), per-token weights) as one self-contained HTML file
that opens offline. The curves cover every step; the group browser holds every group of a sample of steps.

options:
  -o, --out <file>     the HTML file to write (atomically: no file on error)
  --steps <n>          steps whose groups are embedded, spread evenly, first and last included (default ${DEFAULT_REPORT_STEPS})
  --max-mb <x>         budget for the embedded groups in MB (default ${DEFAULT_REPORT_BYTES / 2 ** 20}); whole steps
                       that would pass it are left out
  --tokenizer <file>   Hugging Face tokenizer.json: show token text instead of ids
  --format <f>         auto (default), lambda-grpo, verl, trl, open-instruct: as for prm (docs/cli-prm.md)
  --reward-field <c>   the reward column of another trainer's log (as for prm)
  --loss-type <t>      aggregation for the per-token weights (default: the run's config.json loss_type, else dapo)
  -h, --help           this text`;

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      out: { type: "string", short: "o" },
      steps: { type: "string" },
      "max-mb": { type: "string" },
      ...INPUT_OPTIONS,
      "loss-type": { type: "string" },
    },
    USAGE,
  );
  if (!parsed) return;
  const { values, positionals } = parsed;
  const source = onePositional("report", positionals, "run directory or rollouts file");
  const out = requiredOption("report", "out", values.out);
  await prepareOutputs({ ...rolloutSourceFiles(source, values.tokenizer), outputs: [{ option: "--out", path: out }] });
  const steps = intOption("steps", values.steps, DEFAULT_REPORT_STEPS);
  const maxBytes = numberOption("max-mb", values["max-mb"], DEFAULT_REPORT_BYTES / 2 ** 20, 0, true) * 2 ** 20;
  const lossType = lossTypeOption(values["loss-type"]);
  const input = await viewerInput("report", source, values);
  let r;
  try {
    r = await writeReport(input.path, out, { steps, maxBytes, tokenizer: values.tokenizer, lossType });
  } finally {
    input.cleanup();
  }
  console.log(`wrote ${out}: ${r.groups} group(s) of ${r.steps} step(s), ${(r.bytes / 2 ** 20).toFixed(1)} MB, self-contained`);
}
