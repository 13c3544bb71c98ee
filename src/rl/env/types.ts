/**
 * What the trainer needs from a task: prompts as token ids, which tokens the policy may emit, when a
 * completion ends, its reward, and the task's own per-step figures (logged as `env/<name>` in metrics.jsonl).
 */
import type { Rng } from "../../util/rng.js";
import type { Policy } from "../policy.js";

export interface Prompt {
  /** token ids given to the policy */
  tokens: Int32Array;
  /** anything the reward needs about this prompt (the gold answer of a math problem, ...) */
  info?: unknown;
}

/** One scored completion, as the environment sees it when it reports the step. */
export interface ScoredCompletion {
  prompt: Prompt;
  tokens: Int32Array;
  reward: number;
}

export interface Environment {
  readonly name: string;
  /** `count` prompts for one step (may draw from `rng`; must draw the same way for the same state). */
  prompts(count: number, rng: Rng): Prompt[];
  /** allowed[v] = 1 for the tokens the policy may emit (sampling and loss); null = the whole vocabulary. */
  allowedTokens(): Uint8Array | null;
  /** A completion ends right after one of these (kept in the completion). */
  readonly stopTokens: number[];
  /** The environment's own length limit, or null; the trainer uses min(this, max_completion_length). */
  readonly maxCompletionTokens: number | null;
  reward(prompt: Prompt, completion: Int32Array): number;
  /** The step's figures, e.g. { target_rate: 0.25 }; logged as `env/target_rate`. */
  stepMetrics(completions: ScoredCompletion[]): Record<string, number>;
  /**
   * Why every completion of at most `maxTokens` tokens earns the same reward, when the environment can
   * tell up front (then every advantage is 0 and a run trains nothing: the trainer refuses it); else null.
   * Optional: an environment that cannot tell leaves it out.
   */
  constantReward?(maxTokens: number): string | null;
  /** A text stop rule, checked after each sampled token: true ends the completion (the math env's closed box). */
  stopWhen?(completion: Int32Array): boolean;
  /**
   * Evaluation after a step, when one is due: figures logged as `eval/<name>` (e.g. `math500/accuracy`),
   * or null when none is due at this step. Must not draw from the run's RNG (greedy decoding).
   */
  validate?(policy: Policy, step: number, opts: { maxNewTokens: number }): Record<string, number> | null;
  /** State that a resume must restore (a place in a shuffled dataset), as JSON; checkpointed with the run. */
  getState?(): unknown;
  setState?(state: unknown): void;
}

/** What an environment may need besides its parameters. */
export interface EnvironmentContext {
  vocabSize: number;
  /** the config's `model`: a HF directory holds the tokenizer of a text environment */
  model: unknown;
}

/** An environment kind in the registry: validates its parameters and builds it for a model's vocabulary. */
export interface EnvironmentKind<P> {
  name: string;
  summary: string;
  /** Parses the env config (its `name` included); throws a UserError naming `env.<field>`. */
  parse(config: { name: string } & Record<string, unknown>): P & { name: string };
  create(params: P, context: EnvironmentContext): Environment | Promise<Environment>;
}
