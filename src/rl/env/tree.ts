/**
 * The paper's toy task (PAPER.md section 4): from a fixed prompt the policy emits `depth` tokens, each L or R
 * (every other token masked), tracing a root-to-leaf path of a binary tree with 2^depth leaves. The target
 * leaf earns 1; every other leaf that shares the target's first `shared_prefix` moves earns `r_neg` < 0; all
 * remaining leaves earn `other_reward` (0.7). GRPO pushes down the target's prefix (its process reward is
 * negative); lambda-GRPO counts each shared node once, which is the paper's point.
 */
import { z } from "zod";
import { UserError } from "../../util/errors.js";
import { parseEnvParams } from "../config.js";
import type { Environment, EnvironmentKind, Prompt, ScoredCompletion } from "./types.js";

/** GPT-2's ids of "L" and "R": the toy's two actions when the vocabulary is GPT-2's (and the default anyway). */
export const GPT2_L = 43;
export const GPT2_R = 49;

const TreeParams = z
  .object({
    name: z.literal("tree"),
    /** moves per completion; 2^depth leaves. Default 4 (the paper). */
    depth: z.number().int().min(1).max(20).default(4),
    /** the target leaf as a string of L/R of length `depth`. Default LLRL (the paper's example). */
    target: z.string().regex(/^[LR]+$/, "expected a string of L and R").default("LLRL"),
    /** n: leaves sharing the target's first n moves (and not the target) earn r_neg. Default 1. */
    shared_prefix: z.number().int().min(0).default(1),
    /** reward of those near-miss leaves. Default -1.0. */
    r_neg: z.number().default(-1.0),
    /** reward of the target leaf. Default 1.0. */
    target_reward: z.number().default(1.0),
    /** reward of every other leaf. Default 0.7 (the paper). */
    other_reward: z.number().default(0.7),
    /** token id of L; default 43 (GPT-2's "L"), or 1 when the vocabulary has no id 49. */
    left_token: z.number().int().min(0).optional(),
    /** token id of R; default 49 (GPT-2's "R"), or 2 when the vocabulary has no id 49. */
    right_token: z.number().int().min(0).optional(),
    /** prompt token ids; default: the last id of the vocabulary (GPT-2's <|endoftext|>). */
    prompt: z.array(z.number().int().min(0)).min(1).optional(),
  })
  .strict();

export type TreeParams = z.output<typeof TreeParams>;

export const treeKind: EnvironmentKind<TreeParams> = {
  name: "tree",
  summary: "the paper's toy: a depth-d binary tree of L/R moves, one target leaf, near misses penalised",
  parse(config) {
    const p = parseEnvParams(TreeParams, config);
    if (p.target.length !== p.depth) {
      throw new UserError(`env.target: expected ${p.depth} moves (env.depth), got '${p.target}' (${p.target.length})`);
    }
    if (p.shared_prefix > p.depth) throw new UserError(`env.shared_prefix: expected at most env.depth (${p.depth}), got ${p.shared_prefix}`);
    if (p.left_token !== undefined && p.left_token === p.right_token) throw new UserError(`env.right_token: must differ from env.left_token (${p.left_token})`);
    return p;
  },
  create(params, { vocabSize }) {
    return new TreeEnvironment(params, vocabSize);
  },
};

export class TreeEnvironment implements Environment {
  readonly name = "tree";
  readonly stopTokens: number[] = [];
  readonly maxCompletionTokens: number;
  private readonly prompt: Prompt;
  private readonly allowed: Uint8Array;
  private readonly target: Int32Array;
  private readonly params: TreeParams & { left_token: number; right_token: number };

  constructor(params: TreeParams, vocabSize: number) {
    const gpt2 = vocabSize > GPT2_R;
    this.params = { ...params, left_token: params.left_token ?? (gpt2 ? GPT2_L : 1), right_token: params.right_token ?? (gpt2 ? GPT2_R : 2) };
    for (const field of ["left_token", "right_token"] as const) {
      if (this.params[field] >= vocabSize) {
        throw new UserError(`env.${field}: ${this.params[field]} is outside the model's vocabulary (size ${vocabSize})`);
      }
    }
    if (this.params.left_token === this.params.right_token) throw new UserError(`env.right_token: must differ from env.left_token`);
    const promptTokens = params.prompt ?? [vocabSize - 1];
    for (const t of promptTokens) {
      if (t >= vocabSize) throw new UserError(`env.prompt: token ${t} is outside the model's vocabulary (size ${vocabSize})`);
    }
    this.prompt = { tokens: Int32Array.from(promptTokens) };
    this.maxCompletionTokens = params.depth;
    this.allowed = new Uint8Array(vocabSize);
    const { left_token: L, right_token: R } = this.params;
    this.allowed[L] = 1;
    this.allowed[R] = 1;
    this.target = Int32Array.from(params.target, (c) => (c === "L" ? L : R));
  }

  prompts(count: number): Prompt[] {
    return Array.from({ length: count }, () => this.prompt);
  }

  allowedTokens(): Uint8Array {
    return this.allowed;
  }

  /** The leaf's reward; a completion that is not `depth` L/R moves (cut short) earns 0. */
  reward(_prompt: Prompt, completion: Int32Array): number {
    const p = this.params;
    if (completion.length !== p.depth) return 0;
    let shared = 0;
    while (shared < p.depth && completion[shared] === this.target[shared]) shared++;
    if (shared === p.depth) return p.target_reward;
    for (const t of completion) if (t !== p.left_token && t !== p.right_token) return 0;
    return shared >= p.shared_prefix ? p.r_neg : p.other_reward;
  }

  constantReward(maxTokens: number): string | null {
    const p = this.params;
    if (maxTokens < p.depth) return `max_completion_length ${maxTokens} is less than env.depth ${p.depth}: every completion is cut short and earns 0`;
    // the leaves: the target; near misses (share >= shared_prefix moves) exist when shared_prefix < depth;
    // others (share fewer) exist when shared_prefix > 0
    const near = p.shared_prefix < p.depth;
    const others = p.shared_prefix > 0;
    const rewards = new Set([p.target_reward, ...(near ? [p.r_neg] : []), ...(others ? [p.other_reward] : [])]);
    if (rewards.size > 1) return null;
    const fields = ["env.target_reward", ...(near ? ["env.r_neg"] : []), ...(others ? ["env.other_reward"] : [])].join(" = ");
    const why = !near ? " (env.shared_prefix = env.depth: no near misses)" : !others ? " (env.shared_prefix 0: every other leaf is a near miss)" : "";
    return `every leaf earns ${p.target_reward}: ${fields}${why}`;
  }

  isTarget(completion: Int32Array): boolean {
    return completion.length === this.target.length && completion.every((t, i) => t === this.target[i]);
  }

  /** target_rate: the fraction of the step's completions that reach the target leaf (the paper's metric). */
  stepMetrics(completions: ScoredCompletion[]): Record<string, number> {
    let hits = 0;
    for (const c of completions) if (this.isTarget(c.tokens)) hits++;
    return { target_rate: completions.length ? hits / completions.length : 0 };
  }
}
