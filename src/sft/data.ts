/**
 * SFT examples: (problem, solution) rows of a JSON Lines file turned into token ids, the prompt through the
 * tokenizer's chat template (src/io/chat.ts) (system, user, then the opening of the assistant's turn) and the completion as
 * the solution followed by the end-of-turn token, so the model learns where to stop.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadChatTemplate, TOKENIZER_CONFIG_FILE } from "../io/chat.js";
import { readJsonl } from "../io/jsonl.js";
import { loadTokenizer, type TextEncoder } from "../io/tokenizer.js";
import { inputError, reason, UserError } from "../util/errors.js";

/**
 * The authors' system prompt (OpenRS's GRPO runs), the default of `sft` and of the math environment: the
 * base model trains on the prompt RL will give it.
 */
export const DEFAULT_SYSTEM_PROMPT = "Let's think step by step and output the final answer within \\boxed{}.";

export interface Example {
  prompt: Int32Array;
  /** the solution's tokens then EOS: the tokens with loss */
  completion: Int32Array;
}

export interface ChatTokenizer {
  encoder: TextEncoder;
  /** the prompt text for a problem: the chat template with the generation prompt */
  prompt(problem: string, systemPrompt: string | null): string;
  eosId: number;
}

/** tokenizer.json and the chat template of `dir` (src/io/chat.ts); the template's eos_token ends a completion. */
export async function loadChatTokenizer(dir: string): Promise<ChatTokenizer> {
  const tokenizerPath = join(dir, "tokenizer.json");
  const encoder = await loadTokenizer(tokenizerPath);
  const template = await loadChatTemplate(dir);
  const eos = template.specialTokens.eos_token;
  const eosId = eos === undefined ? undefined : encoder.tokenToId(eos);
  if (eosId === undefined) throw new UserError(`${join(dir, TOKENIZER_CONFIG_FILE)}: eos_token: ${eos === undefined ? "missing" : `'${eos}' has no id in ${tokenizerPath}`} (it ends each completion)`);
  return {
    encoder,
    eosId,
    prompt(problem, systemPrompt) {
      const messages = [...(systemPrompt === null ? [] : [{ role: "system", content: systemPrompt }]), { role: "user", content: problem }];
      return template.render(messages, { addGenerationPrompt: true });
    },
  };
}

export interface DatasetFields {
  problem_field: string;
  solution_field: string;
  system_prompt: string | null;
  max_length: number;
}

/**
 * The examples of a JSON Lines file. A row without the fields, or whose text the tokenizer cannot encode,
 * is an error naming the file, line and field. Rows longer than `max_length` keep their first `max_length`
 * tokens (`truncated` counts them); a row whose prompt alone fills `max_length` is an error.
 */
export async function loadExamples(path: string, tok: ChatTokenizer, f: DatasetFields): Promise<{ examples: Example[]; truncated: number }> {
  const examples: Example[] = [];
  let truncated = 0;
  let source: Buffer;
  try {
    source = await readFile(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read dataset (${reason(err)})`);
  }
  for await (const { value, line } of readJsonl([source], path)) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw inputError(path, line, null, "expected a JSON object");
    const row = value as Record<string, unknown>;
    const field = (name: string): string => {
      const v = row[name];
      if (typeof v !== "string") throw inputError(path, line, name, v === undefined ? "missing" : `expected a string, got ${JSON.stringify(v)}`);
      return v;
    };
    const encode = (name: string, text: string): number[] => {
      try {
        return tok.encoder.encode(text);
      } catch (err) {
        throw inputError(path, line, name, (err as Error).message);
      }
    };
    const prompt = encode(f.problem_field, tok.prompt(field(f.problem_field), f.system_prompt));
    let completion = [...encode(f.solution_field, field(f.solution_field)), tok.eosId];
    if (prompt.length >= f.max_length) {
      throw inputError(path, line, f.problem_field, `the prompt is ${prompt.length} tokens, max_length is ${f.max_length}: no room for the solution`);
    }
    if (prompt.length + completion.length > f.max_length) {
      completion = completion.slice(0, f.max_length - prompt.length);
      truncated++;
    }
    examples.push({ prompt: Int32Array.from(prompt), completion: Int32Array.from(completion) });
  }
  if (examples.length === 0) throw new UserError(`${path}: no rows`);
  return { examples, truncated };
}
