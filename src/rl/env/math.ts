/**
 * The math environment (PAPER.md section 5): problems from a dataset file, a prompt built from the problem
 * and the authors' instruction, reward 1 when the completion's last `\boxed{}` is equivalent to the gold
 * answer (src/math), else 0, plus an optional format reward for a closed box. Generation stops at EOS, at the
 * length limit, or (on by default, as in the authors' code) once the first `\boxed{...}` closes.
 *
 * Prompts are drawn epoch by epoch: each epoch is a permutation of the dataset drawn from the run's RNG, and
 * the environment's place in it is checkpointed (getState/setState), so a resumed run draws what an
 * uninterrupted one would. Validation: every `validation.every` steps, greedy decoding on a second file,
 * logged as `eval/<name>/accuracy` and `eval/<name>/boxed_rate`.
 */
import { existsSync, statSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { z } from "zod";
import { readDataset, type MathRow } from "../../data/index.js";
import { loadChatTemplate, stopTokenIds, type ChatTemplate } from "../../io/chat.js";
import { loadTokenizer, type HFTokenizer } from "../../io/tokenizer.js";
import { DEFAULT_TIME_LIMIT_MS, FALLBACKS, firstBoxedEnd, grade, type GradeOptions } from "../../math/index.js";
import { UserError } from "../../util/errors.js";
import { Rng, type RngState } from "../../util/rng.js";
import { parseEnvParams } from "../config.js";
import type { Policy } from "../policy.js";
import type { Environment, EnvironmentContext, EnvironmentKind, Prompt, ScoredCompletion } from "./types.js";

/** The instruction of the paper's authors (their system prompt), appended to every problem by default. */
export const AUTHORS_SYSTEM_PROMPT = "Let's think step by step and output the final answer within \\boxed{}.";
/** The plain template (base models): the problem, then the instruction. */
export const PLAIN_TEMPLATE = "{problem}\n{system_prompt}\n";
export const PROMPT_STYLES = ["chat", "plain"] as const;
export type PromptStyle = (typeof PROMPT_STYLES)[number];

const Fields = z
  .object({ problem: z.string().min(1), answer: z.string().min(1), solution: z.string().min(1), id: z.string().min(1) })
  .partial()
  .strict();

const MathParams = z
  .object({
    name: z.literal("math"),
    /** The training problems: a JSONL or Parquet file (fields below). Required. */
    data: z.string().min(1),
    /** Field names of `data` (problem, answer, solution, id); default: detected (docs/math.md). */
    fields: Fields.default({}),
    /** Hugging Face tokenizer.json; default: `<model>/tokenizer.json` when `model` is a directory. */
    tokenizer: z.string().min(1).optional(),
    /**
     * `chat` (default): the model's chat template (beside the tokenizer) with the instruction as the system
     * message and the problem as the user's; `plain`: `plain_template` (base models, or no chat template).
     */
    prompt: z.enum(PROMPT_STYLES).default("chat"),
    /** The instruction. Default: the authors' "Let's think step by step and output the final answer within \boxed{}." */
    system_prompt: z.string().default(AUTHORS_SYSTEM_PROMPT),
    /** The plain prompt, with `{problem}` and `{system_prompt}` filled in. Default "{problem}\n{system_prompt}\n". */
    plain_template: z.string().refine((t) => t.includes("{problem}"), "must contain {problem}").default(PLAIN_TEMPLATE),
    /** End a completion once its first \boxed{...} closes (the authors' practice). Default true. */
    stop_at_boxed: z.boolean().default(true),
    /** Added to the reward when the completion has a closed \boxed{} (right or wrong). Default 0. */
    format_reward: z.number().default(0),
    /** Answer fallbacks when no box closes ("final_answer", "last_number"). Default none: the box or nothing. */
    fallbacks: z.array(z.enum(FALLBACKS as [string, ...string[]])).default([]),
    /** Wall-clock limit of one answer comparison, ms. */
    time_limit_ms: z.number().int().min(1).default(DEFAULT_TIME_LIMIT_MS),
    /** Token ids that end a completion; default: the tokenizer's EOS (generation_config.json, tokenizer_config.json). */
    stop_tokens: z.array(z.number().int().min(0)).optional(),
    /** Greedy evaluation during training on a second file. */
    validation: z
      .object({
        data: z.string().min(1),
        /** name in the logs, `eval/<name>/accuracy`; default: the file's base name */
        name: z.string().regex(/^[\w.-]+$/, "letters, digits, '_', '-', '.'").optional(),
        /** run after every this many steps */
        every: z.number().int().min(1),
        fields: Fields.default({}),
        /** prompts decoded together. Default 16. */
        batch_size: z.number().int().min(1).default(16),
      })
      .strict()
      .optional(),
  })
  .strict();

export type MathParams = z.output<typeof MathParams>;

export const mathKind: EnvironmentKind<MathParams> = {
  name: "math",
  summary: "math problems from a dataset file, reward 1 when the last \\boxed{} matches the gold answer",
  parse(config) {
    return parseEnvParams(MathParams, config);
  },
  async create(params, context) {
    const tokenizerPath = params.tokenizer ?? modelTokenizer(context.model);
    const tokenizer = await loadTokenizer(tokenizerPath);
    const train = await readDataset(params.data, params.fields);
    const validation = params.validation ? await readDataset(params.validation.data, params.validation.fields) : null;
    const dir = dirname(tokenizerPath);
    const prompter = await mathPrompter({ style: params.prompt, systemPrompt: params.system_prompt, plainTemplate: params.plain_template }, dir, "env.prompt");
    const stopTokens = params.stop_tokens ?? (await stopTokenIds(dir, tokenizer));
    return new MathEnvironment(params, context, tokenizer, prompter, stopTokens, train.rows, validation?.rows ?? null);
  },
};

export interface PromptSettings {
  style: PromptStyle;
  systemPrompt: string;
  plainTemplate: string;
}

/**
 * Problem -> prompt text. `chat`: the chat template of model directory `dir` rendered with the instruction as
 * the system message (none when it is empty), the problem as the user's, and the assistant's turn opened;
 * `plain`: the plain template filled in. `option` names the setting in errors.
 */
export async function mathPrompter(s: PromptSettings, dir: string, option: string): Promise<(problem: string) => string> {
  if (s.style === "plain") return (problem) => s.plainTemplate.replaceAll("{system_prompt}", s.systemPrompt).replaceAll("{problem}", problem);
  let chat: ChatTemplate;
  try {
    chat = await loadChatTemplate(dir);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`${option}: chat: ${err.message} (a base model without a chat template takes the plain prompt: ${option} plain)`);
    throw err;
  }
  return (problem) => {
    const messages = s.systemPrompt === "" ? [] : [{ role: "system", content: s.systemPrompt }];
    return chat.render([...messages, { role: "user", content: problem }], { addGenerationPrompt: true });
  };
}

/**
 * The closed-box stop rule over token ids: true once the decoded completion's first `\boxed{...}` has
 * closed. Decodes the whole completion only when its last token could close a box (a `}`, a space or `$`).
 */
export function boxClosed(tokenizer: HFTokenizer): (completion: Int32Array) => boolean {
  return (completion) => {
    if (completion.length === 0) return false;
    const last = tokenizer.decode([completion[completion.length - 1]]);
    if (!/[}\s$]/.test(last)) return false;
    return firstBoxedEnd(tokenizer.decode(Array.from(completion))) >= 0;
  };
}

function modelTokenizer(model: unknown): string {
  if (typeof model === "string" && existsSync(model) && statSync(model).isDirectory()) return join(model, "tokenizer.json");
  throw new UserError("env.tokenizer: the math environment reads text: give a tokenizer.json, or a model directory that has one");
}

interface Verdict {
  correct: boolean;
  boxed: boolean;
}

interface EpochState {
  /** 1 for the first pass over the dataset; 0 before the first prompt */
  epoch: number;
  cursor: number;
  /** seeds this epoch's permutation (drawn from the run's RNG when the epoch began) */
  seed: RngState | null;
}

export class MathEnvironment implements Environment {
  readonly name = "math";
  readonly stopTokens: number[];
  readonly maxCompletionTokens = null;
  private readonly promptCache = new Map<number, Int32Array>();
  private readonly validationPrompts: Int32Array[] | null;
  private readonly verdicts = new WeakMap<Int32Array, Verdict>();
  private readonly gradeOpts: GradeOptions;
  private state: EpochState = { epoch: 0, cursor: 0, seed: null };
  private order: Int32Array | null = null;
  private readonly validationName: string | null;
  private readonly closed: (completion: Int32Array) => boolean;

  constructor(
    private readonly params: MathParams,
    private readonly context: EnvironmentContext,
    private readonly tokenizer: HFTokenizer,
    private readonly prompter: (problem: string) => string,
    stopTokens: number[],
    private readonly rows: MathRow[],
    private readonly validationRows: MathRow[] | null,
  ) {
    for (const t of stopTokens) {
      if (t >= context.vocabSize) throw new UserError(`env.stop_tokens: ${t} is outside the model's vocabulary (size ${context.vocabSize})`);
    }
    this.stopTokens = stopTokens;
    this.closed = boxClosed(tokenizer);
    this.gradeOpts = { fallbacks: params.fallbacks as GradeOptions["fallbacks"], timeLimitMs: params.time_limit_ms };
    this.validationPrompts = validationRows ? validationRows.map((r) => this.encodePrompt(r)) : null;
    const v = params.validation;
    this.validationName = v ? (v.name ?? basename(v.data, extname(v.data))) : null;
  }

  /** The prompt text of a problem. */
  promptText(row: MathRow): string {
    return this.prompter(row.problem);
  }

  private encodePrompt(row: MathRow): Int32Array {
    const ids = Int32Array.from(this.tokenizer.encode(this.promptText(row)));
    for (const t of ids) {
      if (t >= this.context.vocabSize) throw new UserError(`env.tokenizer: token ${t} of problem ${row.id} is outside the model's vocabulary (size ${this.context.vocabSize})`);
    }
    if (ids.length === 0) throw new UserError(`problem ${row.id}: the prompt encodes to no tokens`);
    return ids;
  }

  private prompt(index: number): Prompt {
    let tokens = this.promptCache.get(index);
    if (tokens === undefined) {
      tokens = this.encodePrompt(this.rows[index]);
      this.promptCache.set(index, tokens);
    }
    return { tokens, info: { index, id: this.rows[index].id, answer: this.rows[index].answer } };
  }

  private permutation(seed: RngState): Int32Array {
    const n = this.rows.length;
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const r = new Rng(seed);
    for (let i = n - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }

  prompts(count: number, rng: Rng): Prompt[] {
    const out: Prompt[] = [];
    for (let k = 0; k < count; k++) {
      if (this.order === null || this.state.cursor >= this.rows.length) {
        const seed = rng.fork().getState();
        this.state = { epoch: this.state.epoch + 1, cursor: 0, seed };
        this.order = this.permutation(seed);
      }
      out.push(this.prompt(this.order[this.state.cursor++]));
    }
    return out;
  }

  allowedTokens(): null {
    return null;
  }

  private text(completion: Int32Array): string {
    return this.tokenizer.decode(Array.from(completion));
  }

  private verdict(prompt: Prompt, completion: Int32Array): Verdict {
    let v = this.verdicts.get(completion);
    if (v === undefined) {
      const text = this.text(completion);
      const answer = (prompt.info as { answer: string }).answer;
      v = { correct: grade(text, answer, this.gradeOpts).correct, boxed: firstBoxedEnd(text) >= 0 };
      this.verdicts.set(completion, v);
    }
    return v;
  }

  reward(prompt: Prompt, completion: Int32Array): number {
    const v = this.verdict(prompt, completion);
    return (v.correct ? 1 : 0) + (v.boxed ? this.params.format_reward : 0);
  }

  /** Ends a completion once its first box closes (when `stop_at_boxed`). */
  stopWhen = (completion: Int32Array): boolean => this.params.stop_at_boxed && this.closed(completion);

  /**
   * accuracy (fraction correct), boxed_rate (fraction with a closed box), truncation_rate (fraction that
   * ended neither at a stop token nor at a closed box: cut by the length limit), completion_length_mean.
   */
  stepMetrics(completions: ScoredCompletion[]): Record<string, number> {
    const n = completions.length || 1;
    let correct = 0;
    let boxed = 0;
    let truncated = 0;
    let length = 0;
    for (const c of completions) {
      const v = this.verdict(c.prompt, c.tokens);
      if (v.correct) correct++;
      if (v.boxed) boxed++;
      const last = c.tokens[c.tokens.length - 1];
      const stopped = c.tokens.length > 0 && this.stopTokens.includes(last);
      if (!stopped && !(this.params.stop_at_boxed && v.boxed)) truncated++;
      length += c.tokens.length;
    }
    return { accuracy: correct / n, boxed_rate: boxed / n, truncation_rate: truncated / n, completion_length_mean: length / n };
  }

  validate(policy: Policy, step: number, opts: { maxNewTokens: number }): Record<string, number> | null {
    const v = this.params.validation;
    if (!v || !this.validationPrompts || !this.validationRows || step % v.every !== 0) return null;
    let correct = 0;
    let boxed = 0;
    const rows = this.validationRows;
    for (let s = 0; s < rows.length; s += v.batch_size) {
      const prompts = this.validationPrompts.slice(s, s + v.batch_size);
      const maxNew = Math.min(opts.maxNewTokens, policy.contextLength - Math.max(...prompts.map((p) => p.length)));
      if (maxNew < 1) throw new UserError(`env.validation.data: a prompt of ${v.data} leaves no room in the model's context (${policy.contextLength})`);
      const completions = policy.sample(prompts, {
        maxNewTokens: maxNew,
        temperature: 0,
        topK: 0,
        topP: 1,
        stopTokens: this.stopTokens,
        stopWhen: (_row, tokens) => this.stopWhen(tokens),
        // greedy decoding draws no random number; the run's RNG stays untouched
        rng: new Rng(0),
      });
      completions.forEach((c, i) => {
        const text = this.text(c);
        if (grade(text, rows[s + i].answer, this.gradeOpts).correct) correct++;
        if (firstBoxedEnd(text) >= 0) boxed++;
      });
    }
    return { [`${this.validationName}/accuracy`]: correct / rows.length, [`${this.validationName}/boxed_rate`]: boxed / rows.length };
  }

  getState(): EpochState {
    return { ...this.state };
  }

  setState(state: unknown): void {
    const s = state as EpochState;
    this.state = { ...s };
    this.order = s.seed === null ? null : this.permutation(s.seed);
  }
}
