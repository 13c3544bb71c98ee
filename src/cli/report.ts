/**
 * `lambda-grpo report <run dir> --out report.html`: the viewer's pages as one self-contained offline file
 * (scripts, styles and data inlined; no request of any kind). Which groups it embeds: src/view/report.ts.
 */
import { parseArgs } from "node:util";
import { UserError } from "../util/errors.js";
import { DEFAULT_REPORT_BYTES, DEFAULT_REPORT_STEPS, writeReport } from "../view/report.js";
import { parseLossType } from "./view.js";

const USAGE = `usage: lambda-grpo report <run dir | rollouts.jsonl> --out <report.html> [options]

Writes the viewer's pages (run curves, prefix trees B(G), per-token weights) as one self-contained HTML file
that opens offline. The curves cover every step; the group browser holds every group of a sample of steps.

options:
  --out <file>         the HTML file to write (atomically: no file on error)
  --steps <n>          steps whose groups are embedded, spread evenly, first and last included (default ${DEFAULT_REPORT_STEPS})
  --max-mb <x>         budget for the embedded groups in MB (default ${DEFAULT_REPORT_BYTES / 2 ** 20}); whole steps
                       that would pass it are left out
  --tokenizer <file>   Hugging Face tokenizer.json: show token text instead of ids
  --loss-type <t>      aggregation for the per-token weights (default: the run's config.json loss_type, else dapo)
  -h, --help           this text`;

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: "string", short: "o" },
      steps: { type: "string" },
      "max-mb": { type: "string" },
      tokenizer: { type: "string" },
      "loss-type": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) throw new UserError(`expected one run directory or rollouts file\n\n${USAGE}`);
  if (values.out === undefined) throw new UserError(`--out: required (the HTML file to write)\n\n${USAGE}`);
  let steps: number | undefined;
  if (values.steps !== undefined) {
    if (!/^\d+$/.test(values.steps) || Number(values.steps) < 1) throw new UserError(`--steps: expected an integer >= 1, got '${values.steps}'`);
    steps = Number(values.steps);
  }
  let maxBytes: number | undefined;
  if (values["max-mb"] !== undefined) {
    const mb = Number(values["max-mb"]);
    if (values["max-mb"].trim() === "" || !Number.isFinite(mb) || mb <= 0) throw new UserError(`--max-mb: expected a positive number, got '${values["max-mb"]}'`);
    maxBytes = mb * 2 ** 20;
  }
  const r = await writeReport(positionals[0], values.out, {
    steps,
    maxBytes,
    tokenizer: values.tokenizer,
    lossType: parseLossType(values["loss-type"]),
  });
  console.log(`wrote ${values.out}: ${r.groups} group(s) of ${r.steps} step(s), ${(r.bytes / 2 ** 20).toFixed(1)} MB, self-contained`);
}
