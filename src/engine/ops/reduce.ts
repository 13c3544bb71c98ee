/** Reductions to a scalar [1]: sum and mean of all elements (accumulated in float64). */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { Tensor } from "../tensor.js";

export function sum(x: Tensor): Tensor {
  return reduce(x, 1);
}

export function mean(x: Tensor): Tensor {
  return reduce(x, 1 / x.size);
}

function reduce(x: Tensor, factor: number): Tensor {
  const grad = needsGrad(x);
  const out = new Tensor([1], alloc(x.data, 1), grad);
  let s = 0;
  for (let i = 0; i < x.size; i++) s += x.data[i];
  out.data[0] = s * factor;
  if (grad) {
    record(out, () => {
      if (out.grad === null) return;
      const g = out.grad[0] * factor;
      const dx = gradOf(x);
      for (let i = 0; i < dx.length; i++) dx[i] += g;
    });
  }
  return out;
}
