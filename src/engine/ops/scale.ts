/** scale: y = s * x for a constant s. */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor } from "../tensor.js";

export function scale(x: Tensor, s: number): Tensor {
  const grad = needsGrad(x);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  out.data.set(x.data);
  kernels.scale(out.data, s, x.size);
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      const dx = gradOf(x);
      for (let i = 0; i < dx.length; i++) dx[i] += s * dy[i];
    });
  }
  return out;
}
