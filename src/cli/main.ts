#!/usr/bin/env node
/**
 * `lambda-grpo <command> ...`: each command lives in src/cli/<command>.ts and exports
 * `main(argv: string[]): Promise<void>`; they are loaded on demand so `prm` never pays for the engine.
 */
import { UserError } from "../util/errors.js";

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<void> }> }> = {
  toy: { summary: "run the paper's toy sweep (GRPO vs lambda-GRPO) and report it", load: () => import("./toy.js") },
  train: { summary: "train a policy with GRPO / lambda-GRPO from a config file", load: () => import("./train.js") },
  prm: { summary: "per-token process rewards, advantages and lambda sizes for rollout groups", load: () => import("./prm.js") },
  analyze: { summary: "prefix-overlap metrics of rollout groups, with an HTML report", load: () => import("./analyze.js") },
  view: { summary: "serve a local page that draws each group's prefix tree and the run's curves", load: () => import("./view.js") },
  report: { summary: "write the viewer's pages as one self-contained HTML file", load: () => import("./report.js") },
  logprobs: { summary: "per-token log-probs of token sequences under a Hugging Face model (GPT-2, Llama 3, Qwen2, Qwen3)", load: () => import("./logprobs.js") },
  generate: { summary: "sample a completion of a prompt (--chat: through the chat template) from a Hugging Face model", load: () => import("./generate.js") },
  export: { summary: "merge a PEFT LoRA adapter into its base model and write a plain Hugging Face checkpoint", load: () => import("./export.js") },
  bench: { summary: "time a training step of the engine (bench step --preset toy|gpt2-small)", load: () => import("./bench.js") },
  info: { summary: "which kernels the engine uses here; with --model, what a Hugging Face directory holds", load: () => import("./info.js") },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: lambda-grpo <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n'lambda-grpo <command> --help' shows a command's options.`;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`lambda-grpo: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    await (await command.load()).main(rest);
    return 0;
  } catch (err) {
    if (err instanceof UserError) {
      console.error(`lambda-grpo ${name}: ${err.message}`);
      return 1;
    }
    // node:util parseArgs: an unknown option, a missing value, a value given to a flag, a stray argument
    if (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS_")) {
      // (its hint on passing a positional that starts with '-' is left out: no command takes one)
      const message = err.message.replace(/\. To specify a positional argument.*$/s, "");
      console.error(`lambda-grpo ${name}: ${message} (see 'lambda-grpo ${name} --help')`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await run(process.argv.slice(2));
