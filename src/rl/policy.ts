/**
 * The model interface: all the RL layer knows of a policy. The engine implements it (a GPT-2 on our
 * autograd engine); the trainer never touches tensors. The GRPO objective depends on the network only
 * through per-token log-probs, so the trainer computes the loss and its gradient with respect to those
 * log-probs in plain TypeScript and hands that gradient back to `backward`.
 */
import type { Rng } from "../util/rng.js";

/** A batch of padded token sequences (prompt + completion). */
export interface SequenceBatch {
  /** [batch, seqLen] token ids, row-major; positions at or after lengths[b] are padding (any id). */
  tokens: Int32Array;
  batch: number;
  seqLen: number;
  /** valid length of each row, 1 <= lengths[b] <= seqLen */
  lengths: Int32Array;
}

export interface ScoreOptions {
  /** Logits are divided by this before the softmax (TRL does the same in its loss). Default 1. */
  temperature?: number;
  /** When given, the softmax runs over the tokens with allowed[v] = 1 only (the toy's L/R mask). */
  allowed?: Uint8Array | null;
}

/** Per-position scores, [batch, seqLen - 1]: entry (b, t) is about token t + 1 given tokens 0..t. */
export interface TokenScores {
  /** log pi(tokens[b, t+1] | tokens[b, 0..t]); 0 past the row's length */
  logprobs: Float32Array;
  /** entropy (nats) of the next-token distribution at that position; 0 past the row's length */
  entropy: Float32Array;
}

export interface SampleOptions {
  maxNewTokens: number;
  temperature: number;
  /** 0 = off */
  topK: number;
  /** 1 = off */
  topP: number;
  allowed?: Uint8Array | null;
  /** generation of a row stops after it emits one of these (the stop token is kept) */
  stopTokens?: number[];
  /**
   * Checked after each token a row samples, with the row's completion so far (prompt excluded; a view,
   * valid during the call): true ends the row there, the token kept (an environment's Environment.stopWhen).
   */
  stopWhen?: (row: number, tokens: Int32Array) => boolean;
  rng: Rng;
}

export interface OptimizerStepOptions {
  learningRate: number;
  /** global-norm clip; 0 or Infinity = off */
  maxGradNorm: number;
}

/** Parameters and optimizer state, exactly (float32 tensors by name, plus small JSON metadata). */
export interface PolicyState {
  tensors: Record<string, Float32Array>;
  meta: Record<string, unknown>;
}

export interface Policy {
  readonly vocabSize: number;
  readonly contextLength: number;

  /** Scores without keeping anything for backward (old policy, reference policy, evaluation). */
  score(batch: SequenceBatch, opts?: ScoreOptions): TokenScores;

  /** Scores and keeps the activations that `backward` needs. */
  scoreForTraining(batch: SequenceBatch, opts?: ScoreOptions): TokenScores;

  /**
   * Back-propagates d(objective)/d(logprobs) ([batch, seqLen - 1], same layout as the last
   * scoreForTraining) into the parameter gradients, adding to what is there.
   */
  backward(dLogprobs: Float32Array): void;

  zeroGrad(): void;

  /** AdamW update with global-norm clipping; returns the gradient norm before clipping. */
  optimizerStep(opts: OptimizerStepOptions): { gradNorm: number };

  /** Samples one completion per prompt (prompt tokens not included; a stop token, when hit, is). */
  sample(prompts: Int32Array[], opts: SampleOptions): Int32Array[];

  /** A frozen copy with the same weights (the KL reference). */
  clone(): Policy;

  exportState(): PolicyState;
  importState(state: PolicyState): void;
}
