#!/usr/bin/env node
/**
 * `lambda-grpo <command> ...`: each command lives in src/cli/<command>.ts and exports
 * `main(argv: string[]): Promise<void>`; they are loaded on demand so `prm` never pays for the engine.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { guardStdio } from "../io/stdio.js";
import { describeFailure } from "./failure.js";

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<void> }> }> = {
  toy: { summary: "run the paper's toy sweep (GRPO vs lambda-GRPO) and report it", load: () => import("./toy.js") },
  train: { summary: "train a policy with GRPO / lambda-GRPO from a config file", load: () => import("./train.js") },
  sft: { summary: "supervised fine-tuning on (problem, solution) rows, loss on the solution only", load: () => import("./sft.js") },
  reasoning: { summary: "the downstream experiment at this machine's scale: SFT base, GRPO vs lambda-GRPO grid, overlap study", load: () => import("./reasoning.js") },
  "reasoning-data": { summary: "write the reasoning task family's splits and its tokenizer", load: () => import("./reasoning-data.js") },
  prm: { summary: "per-token process rewards, advantages and lambda sizes for rollout groups", load: () => import("./prm.js") },
  analyze: { summary: "prefix-overlap metrics of rollout groups, with an HTML report", load: () => import("./analyze.js") },
  view: { summary: "serve a local page that draws each group's prefix tree and the run's curves", load: () => import("./view.js") },
  report: { summary: "write the viewer's pages as one self-contained HTML file", load: () => import("./report.js") },
  eval: { summary: "evaluate a model on math benchmarks (pass@1 greedy, avg@K, pass@k), resumable", load: () => import("./eval.js") },
  grade: { summary: "grade math completions against gold answers (last \\boxed{}, LaTeX-aware)", load: () => import("./grade.js") },
  logprobs: { summary: "per-token log-probs of token sequences under a Hugging Face model (GPT-2, Llama 3, Qwen2, Qwen3)", load: () => import("./logprobs.js") },
  generate: { summary: "sample a completion of a prompt (--chat: through the chat template) from a Hugging Face model", load: () => import("./generate.js") },
  export: { summary: "merge a PEFT LoRA adapter into its base model and write a plain Hugging Face checkpoint", load: () => import("./export.js") },
  bench: { summary: "time a training step of the engine (bench step --preset toy|gpt2-small)", load: () => import("./bench.js") },
  info: { summary: "which kernels the engine uses here; with --model, what a Hugging Face directory holds", load: () => import("./info.js") },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: lambda-grpo <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n'lambda-grpo <command> --help' shows a command's options; 'lambda-grpo --version' the version.`;
}

/** The installed package's version (package.json exports itself, so this works from src/ and dist/). */
function version(): string {
  const path = fileURLToPath(import.meta.resolve("lambda-grpo/package.json"));
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "-V") {
    console.log(version());
    return 0;
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
    const failure = describeFailure(name, err);
    if (failure === null) throw err;
    console.error(failure.message);
    return failure.status;
  }
}

guardStdio();
process.exitCode = await run(process.argv.slice(2));
