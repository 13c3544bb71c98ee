/**
 * `lambda-grpo generate --model DIR --prompt TEXT`: a completion of a prompt from a Hugging Face model
 * (GPT-2, Llama 3, Qwen2, Qwen3), printed to stdout: a user's first check that a checkpoint loads right.
 * --chat renders the prompt as a user turn through the directory's chat template; generation stops at the
 * stop tokens of generation_config.json and the tokenizer's eos. Sampling defaults to the directory's
 * generation_config.json, as transformers' generate (greedy without one).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { GPT2 } from "../engine/gpt2.js";
import { hfModelKind, loadHFModel } from "../engine/hf.js";
import { loadDecoderModel } from "../engine/hf-families.js";
import { checkSamplingRule, generate, type SamplingRule } from "../engine/sample.js";
import type { TransformerLM } from "../engine/transformer.js";
import { generationDefaults, loadChatTemplate, stopTokenIds, type ChatMessage } from "../io/chat.js";
import { loadTokenizer } from "../io/tokenizer.js";
import { UserError } from "../util/errors.js";
import { Rng } from "../util/rng.js";
import { intOption, numberOption, parseCommand, requiredOption, topPOption, usageError } from "./args.js";

const DEFAULT_MAX_NEW_TOKENS = 128;

const USAGE = `usage: lambda-grpo generate --model <dir> --prompt <text> [options]

Prints a completion of --prompt from a Hugging Face model directory (config.json, model.safetensors,
tokenizer.json; GPT-2, Llama 3, Qwen2 or Qwen3). Stops at generation_config.json's eos_token_id and the
tokenizer's eos token, or after --max-new-tokens.

options:
  --model <dir>           the model directory
  --prompt <text>         the prompt (with --chat: the user's message)
  --chat                  render the prompt through tokenizer_config.json's chat template
  --system <text>         with --chat: a system message before the user's
  --lora <dir>            a PEFT LoRA adapter to apply (Llama 3, Qwen2, Qwen3)
  --max-new-tokens <n>    at most this many new tokens (default ${DEFAULT_MAX_NEW_TOKENS})
  --temperature <t>       0 is greedy (default: generation_config.json's, greedy without one)
  --top-k <k>             keep the k most probable tokens (0 = off; default: generation_config.json's)
  --top-p <p>             keep the smallest set of tokens with probability >= p (1 = off)
  --seed <s>              seeds the sampler (default 0)
  -h, --help              this text`;

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      model: { type: "string" },
      prompt: { type: "string" },
      chat: { type: "boolean" },
      system: { type: "string" },
      lora: { type: "string" },
      "max-new-tokens": { type: "string" },
      temperature: { type: "string" },
      "top-k": { type: "string" },
      "top-p": { type: "string" },
      seed: { type: "string" },
    },
    USAGE,
    false,
  );
  if (!parsed) return;
  const { values } = parsed;
  const dir = requiredOption("generate", "model", values.model);
  const prompt = requiredOption("generate", "prompt", values.prompt);
  if (values.system !== undefined && !values.chat) throw usageError("generate", "--system needs --chat");
  const maxNewTokens = intOption("max-new-tokens", values["max-new-tokens"], DEFAULT_MAX_NEW_TOKENS, 0);
  const defaults = await generationDefaults(dir);
  const rule: SamplingRule = {
    temperature: numberOption("temperature", values.temperature, defaults.temperature, 0),
    topK: intOption("top-k", values["top-k"], defaults.topK, 0),
    topP: topPOption(values["top-p"], defaults.topP),
  };
  const seed = intOption("seed", values.seed, 0, 0);

  const tokenizerPath = join(dir, "tokenizer.json");
  if (!existsSync(tokenizerPath)) throw new UserError(`${tokenizerPath}: no such file (generate needs the model's tokenizer)`);
  const tokenizer = await loadTokenizer(tokenizerPath);
  let text = prompt;
  if (values.chat) {
    const messages: ChatMessage[] = [];
    if (values.system !== undefined) messages.push({ role: "system", content: values.system });
    messages.push({ role: "user", content: prompt });
    text = (await loadChatTemplate(dir)).render(messages, { addGenerationPrompt: true });
  }
  let ids: number[];
  try {
    ids = tokenizer.encode(text);
  } catch (err) {
    throw new UserError(`--prompt: ${(err as Error).message}`);
  }
  if (ids.length === 0) throw new UserError("--prompt: encodes to no tokens (the model needs at least one to condition on)");
  const stop = await stopTokenIds(dir, tokenizer);
  const rng = new Rng(seed);

  let model: GPT2 | TransformerLM;
  if ((await hfModelKind(dir)) === "gpt2") {
    if (values.lora !== undefined) throw usageError("generate", "--lora: GPT-2 models take no adapter here");
    model = await loadHFModel(dir, { trainable: false });
  } else {
    model = (await loadDecoderModel(dir, { trainable: false, adapter: values.lora ?? null })).model;
  }
  try {
    checkSamplingRule(rule, model.vocabSize);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  if (ids.length > model.maxSequenceLength) throw new UserError(`--prompt: ${ids.length} tokens, more than the model's ${model.maxSequenceLength} positions`);
  // the KV-cache sampler of training, one row
  const completion = Array.from(generate(model, [Int32Array.from(ids)], { ...rule, maxNewTokens, stopTokens: stop, rng })[0]);
  if (completion.length > 0 && stop.includes(completion[completion.length - 1])) completion.pop();
  process.stdout.write(tokenizer.decode(completion) + "\n");
}
