/** Shared by the policy tests: one plain likelihood-ascent step through the Policy interface. */
import type { Policy, SequenceBatch } from "../../src/rl/policy.js";

/** One training step minimising -mean(log-prob) of the valid positions; returns the gradient norm. */
export function trainStep(p: Policy, b: SequenceBatch, learningRate = 0.01): number {
  p.zeroGrad();
  const { logprobs } = p.scoreForTraining(b);
  const T1 = b.seqLen - 1;
  const d = new Float32Array(logprobs.length);
  let n = 0;
  for (let r = 0; r < b.batch; r++) n += b.lengths[r] - 1;
  for (let r = 0; r < b.batch; r++) for (let t = 0; t < b.lengths[r] - 1; t++) d[r * T1 + t] = -1 / n; // the gradient of the loss -mean(logprobs)
  p.backward(d);
  return p.optimizerStep({ learningRate, maxGradNorm: 1 }).gradNorm;
}
