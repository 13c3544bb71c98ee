/**
 * The GRPO / lambda-GRPO objective from per-token log-probs (PAPER.md sections 1 and 3), and its gradient with
 * respect to those log-probs, in plain TypeScript: the network enters only through log pi_theta(y_it), so the
 * policy back-propagates dJ/d(logprob) and never sees the loss.
 *
 *   J = sum_i sum_t w_it [ min(P_it a_i, clip(P_it, 1 - eps_lo, 1 + eps_hi) a_i) - beta k3_it ]
 *   P_it = exp(lp_it - old_it),   k3_it = exp(ref_it - lp_it) - (ref_it - lp_it) - 1
 *
 * w_it is the PRM library's `lossWeights` (src/prm/weights.ts): the loss_type's outer normaliser, divided by
 * |lambda(i,t)| for lambda-GRPO. The trainer maximises J (minimises loss = -J).
 */

/** One completion's inputs, per completion token t. */
export interface SequenceTerms {
  /** log pi_theta(y_it), the live policy's log-probs */
  logprobs: ArrayLike<number>;
  /** log pi_old(y_it); null when old = theta detached (first update of a batch: P = 1) */
  old: ArrayLike<number> | null;
  /** log pi_ref(y_it); null when beta = 0 */
  ref: ArrayLike<number> | null;
  /** a_i, the sequence's advantage */
  advantage: number;
  /** w_it from the PRM library's lossWeights (normaliser and 1/|lambda| included) */
  weights: ArrayLike<number>;
}

export interface ObjectiveOptions {
  epsilonLow: number;
  epsilonHigh: number;
  beta: number;
}

export interface ObjectiveResult {
  /** J (maximised) */
  objective: number;
  /** dJ/d(logprobs), one array per sequence, same length as its logprobs */
  grad: Float64Array[];
  /** sum over tokens of k3 (unweighted), and the number of tokens: KL metric = klSum / tokens */
  klSum: number;
  /** tokens where the clip binds (ratio outside the range on the side the advantage pushes) */
  clipped: number;
  tokens: number;
}

export function objective(seqs: SequenceTerms[], opts: ObjectiveOptions): ObjectiveResult {
  const lo = 1 - opts.epsilonLow;
  const hi = 1 + opts.epsilonHigh;
  let total = 0;
  let klSum = 0;
  let clipped = 0;
  let tokens = 0;
  const grad: Float64Array[] = [];
  for (const s of seqs) {
    const n = s.logprobs.length;
    const g = new Float64Array(n);
    const a = s.advantage;
    for (let t = 0; t < n; t++) {
      const lp = s.logprobs[t];
      // old = theta detached: P is 1, written so that a NaN/inf log-prob still shows in the loss
      const ratio = Math.exp(lp - (s.old === null ? lp : s.old[t]));
      const unclipped = ratio * a;
      const clippedValue = Math.min(Math.max(ratio, lo), hi) * a;
      let term: number;
      let dTerm: number;
      if (unclipped <= clippedValue) {
        // min picks the unclipped branch (ties included: both branches have the same value and slope there)
        term = unclipped;
        dTerm = unclipped; // d(P a)/d lp = P a
      } else {
        term = clippedValue;
        dTerm = 0;
        clipped++;
      }
      if (s.ref !== null && opts.beta !== 0) {
        const d = s.ref[t] - lp;
        const ed = Math.exp(d);
        const k3 = ed - d - 1;
        klSum += k3;
        term -= opts.beta * k3;
        dTerm += opts.beta * (ed - 1); // d(-beta k3)/d lp
      }
      const scale = s.weights[t];
      total += scale * term;
      g[t] = scale * dTerm;
      tokens++;
    }
    grad.push(g);
  }
  return { objective: total, grad, klSum, clipped, tokens };
}
