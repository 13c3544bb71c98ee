/** biasAdd: y = x + b broadcast over rows. x [..., C], b [C] -> [..., C] */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor } from "../tensor.js";

export function biasAdd(x: Tensor, b: Tensor): Tensor {
  const C = b.size;
  if (x.shape[x.shape.length - 1] !== C) throw new Error(`biasAdd: x [${x.shape}] does not end in ${C}`);
  const N = x.size / C;
  const grad = needsGrad(x, b);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  out.data.set(x.data);
  kernels.biasAdd(out.data, b.data, N, C);
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      if (x.requiresGrad) kernels.addInPlace(gradOf(x), dy, x.size);
      if (b.requiresGrad) kernels.biasBackward(dy, N, C, gradOf(b));
    });
  }
  return out;
}
