/** mul: y = a * b elementwise, same shapes (SwiGLU's gate: silu(x W1) * (x W3)). */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { Tensor } from "../tensor.js";

export function mul(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new Error(`mul: shapes differ: [${a.shape}] and [${b.shape}]`);
  const grad = needsGrad(a, b);
  const out = new Tensor(a.shape, alloc(a.data, a.size), grad);
  const y = out.data;
  for (let i = 0; i < y.length; i++) y[i] = a.data[i] * b.data[i];
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      if (a.requiresGrad) {
        const da = gradOf(a);
        for (let i = 0; i < da.length; i++) da[i] += dy[i] * b.data[i];
      }
      if (b.requiresGrad) {
        const db = gradOf(b);
        for (let i = 0; i < db.length; i++) db[i] += dy[i] * a.data[i];
      }
    });
  }
  return out;
}
