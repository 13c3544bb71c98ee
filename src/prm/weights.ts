/**
 * Per-token loss weights w_it for a training batch of several groups, so that the objective (maximised) is
 *
 *   J = sum over groups, completions i, tokens t of  w_it * term_it,
 *   term_it = min(P_it * adv, clip(P_it, 1-eps_lo, 1+eps_hi) * adv) - D_it
 *
 * (a trainer minimises -J). The aggregations of PAPER.md section 1, with N sequences and T tokens in the batch:
 *   "grpo"    w = 1 / (N * |y_i|)          mean over each sequence's tokens, then over sequences
 *   "dapo"    w = 1 / T                    token mean over the batch (the paper's form, TRL's default)
 *   "bnpo"    w = 1 / (M * T_b(i))         token mean within each of M micro-batches, then mean over them
 *                                          (TRL: per micro-batch token mean, gradients accumulated / M);
 *                                          with no partition there is one micro-batch, which is "dapo"
 *   "dr_grpo" w = 1 / (N * maxCompletionLength)
 * lambda-GRPO (section 3) divides each token's weight by |lambda(i,t)| and keeps the normaliser.
 *
 * Note: L_PRM = L_GRPO (a_i -> A_it) needs w equal for all members of a step at a position. That holds for
 * "dapo", "dr_grpo" and "bnpo" when a group's completions share a micro-batch, but not for "grpo", whose
 * 1/|y_i| differs between members of different lengths (test/prm/equivalence.test.ts shows both).
 */
import { UserError } from "../util/errors.js";
import { FILL_MIN } from "./span.js";
import type { PrefixTree } from "./tree.js";

export type LossType = "grpo" | "dapo" | "bnpo" | "dr_grpo";

export const LOSS_TYPES: readonly LossType[] = ["grpo", "dapo", "bnpo", "dr_grpo"];

/** One group of the batch. A `PrefixTree` is one (it has `lengths` and `lambdaSize`). */
export interface WeightGroup {
  /** Per completion: number of completion tokens. */
  lengths: ArrayLike<number>;
  /** Per completion, per token: |lambda(i,t)|; required when `lambda` is true. */
  lambdaSize?: readonly ArrayLike<number>[];
}

export interface LossWeightOptions {
  lossType: LossType;
  /** lambda-GRPO: divide each token's weight by |lambda(i,t)| (default false: plain GRPO). */
  lambda?: boolean;
  /** "dr_grpo" normaliser (the generation limit); default: the longest completion of the batch. */
  maxCompletionLength?: number;
  /**
   * "bnpo" only: the micro-batch of each completion, in batch order (group 0's completions, then group 1's,
   * ...). Any integers; completions with the same value share a micro-batch. Default: one micro-batch.
   */
  microBatchOf?: ArrayLike<number>;
}

/**
 * w[group][completion][token], Float32 (the trainer's dtype). The per-completion arrays are views into one
 * buffer holding the batch's tokens in order (group 0's completions, then group 1's, ...): `w[0][0].buffer`
 * is the flat weight vector of the batch.
 */
export function lossWeights(groups: readonly WeightGroup[], opts: LossWeightOptions): Float32Array[][] {
  const { lossType } = opts;
  if (!LOSS_TYPES.includes(lossType)) {
    throw new UserError(`lossType: expected one of ${LOSS_TYPES.join(", ")}, got ${JSON.stringify(lossType)}`);
  }
  const lambda = opts.lambda ?? false;
  let nSeq = 0;
  let nTok = 0;
  let longest = 0;
  for (let g = 0; g < groups.length; g++) {
    const { lengths, lambdaSize } = groups[g];
    if (lambda && lambdaSize === undefined) {
      throw new UserError(`groups[${g}].lambdaSize: required with lambda (build it with buildPrefixTree)`);
    }
    if (lambda && lambdaSize!.length !== lengths.length) {
      throw new UserError(
        `groups[${g}].lambdaSize: has ${lambdaSize!.length} completions, lengths has ${lengths.length}`,
      );
    }
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i];
      if (!Number.isInteger(len) || len < 0) {
        throw new UserError(`groups[${g}].lengths[${i}]: expected an integer >= 0, got ${len}`);
      }
      if (lambda && lambdaSize![i].length !== len) {
        throw new UserError(
          `groups[${g}].lambdaSize[${i}]: has ${lambdaSize![i].length} entries for a completion of ${len} tokens`,
        );
      }
      nSeq++;
      nTok += len;
      if (len > longest) longest = len;
    }
  }

  // Base weight per completion (before lambda), in batch order.
  const base = new Float64Array(nSeq);
  if (lossType === "dapo" || (lossType === "bnpo" && opts.microBatchOf === undefined)) {
    base.fill(nTok > 0 ? 1 / nTok : 0);
  } else if (lossType === "grpo") {
    let c = 0;
    for (const { lengths } of groups) {
      for (let i = 0; i < lengths.length; i++, c++) base[c] = lengths[i] > 0 ? 1 / (nSeq * lengths[i]) : 0;
    }
  } else if (lossType === "dr_grpo") {
    const maxLen = opts.maxCompletionLength ?? longest;
    if (!Number.isInteger(maxLen) || maxLen < 0) {
      throw new UserError(`maxCompletionLength: expected an integer >= 0, got ${maxLen}`);
    }
    if (maxLen < longest) {
      throw new UserError(`maxCompletionLength: is ${maxLen} but the batch has a completion of ${longest} tokens`);
    }
    base.fill(maxLen > 0 ? 1 / (nSeq * maxLen) : 0);
  } else {
    const mb = opts.microBatchOf!;
    if (mb.length !== nSeq) {
      throw new UserError(`microBatchOf: expected ${nSeq} entries (one per completion), got ${mb.length}`);
    }
    const tokens = new Map<number, number>();
    let c = 0;
    for (const { lengths } of groups) {
      for (let i = 0; i < lengths.length; i++, c++) {
        const b = mb[c];
        if (!Number.isInteger(b)) throw new UserError(`microBatchOf[${c}]: expected an integer, got ${b}`);
        tokens.set(b, (tokens.get(b) ?? 0) + lengths[i]);
      }
    }
    for (c = 0; c < nSeq; c++) {
      const t = tokens.get(mb[c])!;
      base[c] = t > 0 ? 1 / (tokens.size * t) : 0;
    }
  }

  // Views into one buffer for the whole batch, in batch order (one backing store, not one per completion).
  const buf = new Float32Array(nTok);
  const out: Float32Array[][] = new Array(groups.length);
  let c = 0;
  let at = 0;
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g];
    const { lengths, lambdaSize } = group;
    const ws: Float32Array[] = new Array(lengths.length);
    const first = c;
    for (let i = 0; i < lengths.length; i++, c++) {
      const w = buf.subarray(at, at + lengths[i]);
      at += lengths[i];
      ws[i] = w;
    }
    out[g] = ws;
    if (lambda && isTree(group)) {
      // A PrefixTree: one fill per (step, member), no per-token read of |lambda|.
      for (const s of group.steps) {
        if (s.length === 0) continue;
        const size = s.members.length;
        const end = s.start + s.length;
        for (const m of s.members) {
          const v = base[first + m] / size;
          const w = ws[m];
          if (s.length < FILL_MIN) for (let t = s.start; t < end; t++) w[t] = v;
          else w.fill(v, s.start, end);
        }
      }
      continue;
    }
    for (let i = 0; i < lengths.length; i++) {
      const w = ws[i];
      const b = base[first + i];
      if (!lambda) w.fill(b);
      else {
        // |lambda| is constant along a step: one division and one fill per run.
        const lam = lambdaSize![i];
        const n = w.length;
        let t = 0;
        while (t < n) {
          const v = lam[t];
          if (!(v >= 1)) throw new UserError(`groups[${g}].lambdaSize[${i}][${t}]: expected >= 1, got ${v}`);
          let e = t + 1;
          while (e < n && lam[e] === v) e++;
          const x = b / v;
          if (e - t < FILL_MIN) for (let u = t; u < e; u++) w[u] = x;
          else w.fill(x, t, e);
          t = e;
        }
      }
    }
  }
  return out;
}

function isTree(g: WeightGroup): g is PrefixTree {
  const t = g as Partial<PrefixTree>;
  return Array.isArray(t.steps) && Array.isArray(t.stepOf) && t.lambdaSize === g.lambdaSize;
}
