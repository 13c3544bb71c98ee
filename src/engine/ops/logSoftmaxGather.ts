/**
 * logSoftmaxGather: the log-probability of a chosen token per row, and the row's entropy, without
 * materialising log-softmax: logprobs[n] = log softmax(logits[n] / temperature)[targets[n]] over the
 * allowed tokens. A negative target (padding, the last position) gives 0. Only logprobs carry a gradient.
 * logits [N,V], targets [N] int32 -> logprobs [N], entropy [N] (nats)
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor } from "../tensor.js";

export interface GatherOptions {
  /** logits are divided by this first; default 1 */
  temperature?: number;
  /** softmax over tokens with allowed[v] = 1 only */
  allowed?: Uint8Array | null;
}

export function logSoftmaxGather(
  logits: Tensor, targets: Int32Array, opts: GatherOptions = {},
): { logprobs: Tensor; entropy: Tensor } {
  const V = logits.shape[logits.shape.length - 1];
  const N = logits.size / V;
  if (targets.length !== N) throw new Error(`logSoftmaxGather: ${targets.length} targets for ${N} rows`);
  const allowed = opts.allowed ?? null;
  if (allowed !== null && allowed.length !== V) throw new Error(`logSoftmaxGather: allowed mask has ${allowed.length} entries, vocabulary ${V}`);
  const invT = 1 / (opts.temperature ?? 1);
  const grad = needsGrad(logits);
  const logprobs = new Tensor([N], alloc(logits.data, N), grad);
  const entropy = new Tensor([N], alloc(logits.data, N), false);
  const probs = grad ? alloc(logits.data, N * V) : null;
  kernels.logSoftmaxGather(logits.data, N, V, targets, invT, allowed, logprobs.data, entropy.data, probs);
  if (grad) {
    record(logprobs, () => {
      if (logprobs.grad === null) return;
      kernels.logSoftmaxGatherBackward(probs!, targets, logprobs.grad, N, V, invT, gradOf(logits));
    });
  }
  return { logprobs, entropy };
}
