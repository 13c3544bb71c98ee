/**
 * `lambda-grpo reasoning-data --out DIR [--seed S] [--train N] [--held-out N] [--context T]`: writes the
 * reasoning task family's splits (train, validation and the five benchmarks) as JSON Lines and its tokenizer
 * (docs/reasoning.md).
 */
import { writeTaskData } from "../reasoning/data.js";
import { cannotWrite } from "../util/errors.js";
import { intOption, parseCommand, requiredOption } from "./args.js";

const USAGE = `usage: lambda-grpo reasoning-data --out DIR [options]

Writes DIR/{train,validation,iid,long,large,distract,shared}.jsonl (problem, solution, answer) and
DIR/tokenizer/ (tokenizer.json, tokenizer_config.json with the chat template, generation_config.json).

options:
  --out DIR         where to write (created if needed)
  --seed S          seed of every split (default 0)
  --train N         rows of the train split (default 20000)
  --held-out N      rows of validation and of each benchmark (default 500)
  --context T       the model's context, written as model_max_length (default 256)
  -h, --help        this text`;

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      out: { type: "string" },
      seed: { type: "string" },
      train: { type: "string" },
      "held-out": { type: "string" },
      context: { type: "string" },
    },
    USAGE,
    false,
  );
  if (!parsed) return;
  const { values } = parsed;
  const out = requiredOption("reasoning-data", "out", values.out);
  const opts = {
    seed: intOption("seed", values.seed, 0, 0),
    train: intOption("train", values.train, 20000),
    heldOut: intOption("held-out", values["held-out"], 500),
    contextLength: intOption("context", values.context, 256, 2),
  };
  let counts: Record<string, number>;
  try {
    counts = await writeTaskData(out, opts);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw cannotWrite("out", out, err);
    throw err;
  }
  console.log(`${out}: ${Object.entries(counts).map(([s, n]) => `${s} ${n}`).join(", ")}; tokenizer/`);
}
