/** add: y = a + b, same shapes (the residual connection). */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor } from "../tensor.js";

export function add(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new Error(`add: shapes differ: [${a.shape}] and [${b.shape}]`);
  const grad = needsGrad(a, b);
  const out = new Tensor(a.shape, alloc(a.data, a.size), grad);
  kernels.add(a.data, b.data, out.data, a.size);
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      if (a.requiresGrad) kernels.addInPlace(gradOf(a), dy, a.size);
      if (b.requiresGrad) kernels.addInPlace(gradOf(b), dy, b.size);
    });
  }
  return out;
}
