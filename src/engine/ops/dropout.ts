/**
 * dropout: inverted dropout, y = x * m / (1 - p) with m ~ Bernoulli(1 - p) drawn from `rng` (one draw
 * per element in order, so a seeded run repeats exactly). p = 0 returns x itself.
 * x [...] -> [...]
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { Tensor } from "../tensor.js";
import type { Rng } from "../../util/rng.js";

export function dropout(x: Tensor, p: number, rng: Rng): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must lie in [0, 1), got ${p}`);
  if (p === 0) return x;
  const keep = 1 / (1 - p);
  const mask = alloc(x.data, x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < p ? 0 : keep;
  const grad = needsGrad(x);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  for (let i = 0; i < mask.length; i++) out.data[i] = x.data[i] * mask[i];
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      const dx = gradOf(x);
      for (let i = 0; i < dx.length; i++) dx[i] += dy[i] * mask[i];
    });
  }
  return out;
}
