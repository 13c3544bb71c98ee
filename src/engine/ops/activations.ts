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

/**
 * swiglu: silu(gate) * up in one pass (the SwiGLU MLP's gate, down(silu(gate(x)) * up(x))): one buffer
 * instead of silu's and mul's two, and no separate silu output kept for the backward.
 * gate, up [...] same shape -> [...]
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (gate.size !== up.size) throw new Error(`swiglu: shapes differ: [${gate.shape}] and [${up.shape}]`);
  const grad = needsGrad(gate, up);
  const out = new Tensor(gate.shape, alloc(gate.data, gate.size), grad);
  kernels.swigluForward(gate.data, up.data, out.data, gate.size);
  if (grad) {
    record(out, () => {
      if (out.grad === null) return;
      // a zero buffer for an input that needs no gradient (the kernel writes both)
      const dg = gate.requiresGrad ? gradOf(gate) : alloc(gate.data, gate.size, true);
      const du = up.requiresGrad ? gradOf(up) : alloc(up.data, up.size, true);
      kernels.swigluBackward(gate.data, up.data, out.grad, dg, du, gate.size);
    });
  }
  return out;
}
