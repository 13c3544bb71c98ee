/**
 * Elementwise activations, any shape: gelu (tanh approximation, GPT-2's) and silu (x * sigmoid(x),
 * Llama's MLP).
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor } from "../tensor.js";

export function gelu(x: Tensor): Tensor {
  const grad = needsGrad(x);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  kernels.geluForward(x.data, out.data, x.size);
  if (grad) {
    record(out, () => {
      if (out.grad !== null) kernels.geluBackward(x.data, out.grad, gradOf(x), x.size);
    });
  }
  return out;
}

export function silu(x: Tensor): Tensor {
  const grad = needsGrad(x);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  kernels.siluForward(x.data, out.data, x.size);
  if (grad) {
    record(out, () => {
      if (out.grad !== null) kernels.siluBackward(x.data, out.grad, gradOf(x), x.size);
    });
  }
  return out;
}
