/**
 * Normalisations over the last axis: layerNorm (GPT-2) and rmsNorm (Llama).
 * x [..., C], weight/bias [C] -> [..., C]; the per-row mean and 1/std are kept for the backward.
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor, type FloatArray } from "../tensor.js";

/**
 * The gradient buffer of an input that needs one, else a zero buffer from the arena (the kernels write
 * every input's gradient). Not gradOf for a frozen gain: that would set its .grad from the gradient pool,
 * which gets back only the gradients of op outputs, so each frozen norm would keep a pooled buffer (a LoRA
 * step on R1-Distill-1.5B lost two [6144, 8960] buffers a layer that way, 210 MiB each).
 */
function gradOrScratch(t: Tensor): FloatArray {
  return t.requiresGrad ? gradOf(t) : alloc(t.data, t.size, true);
}

export function layerNorm(x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor {
  const C = w.size;
  if (x.shape[x.shape.length - 1] !== C || b.size !== C) throw new Error(`layerNorm: x [${x.shape}], weight [${w.shape}], bias [${b.shape}]`);
  const N = x.size / C;
  const grad = needsGrad(x, w, b);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  const mean = alloc(x.data, N);
  const rstd = alloc(x.data, N);
  kernels.layerNormForward(x.data, w.data, b.data, eps, N, C, out.data, mean, rstd);
  if (grad) {
    record(out, () => {
      if (out.grad === null) return;
      kernels.layerNormBackward(out.grad, x.data, w.data, mean, rstd, N, C, gradOrScratch(x), gradOrScratch(w), gradOrScratch(b));
    });
  }
  return out;
}

export function rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
  const C = w.size;
  if (x.shape[x.shape.length - 1] !== C) throw new Error(`rmsNorm: x [${x.shape}], weight [${w.shape}]`);
  const N = x.size / C;
  const grad = needsGrad(x, w);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  const rstd = alloc(x.data, N);
  kernels.rmsNormForward(x.data, w.data, eps, N, C, out.data, rstd);
  if (grad) {
    record(out, () => {
      if (out.grad === null) return;
      kernels.rmsNormBackward(out.grad, x.data, w.data, rstd, N, C, gradOrScratch(x), gradOrScratch(w));
    });
  }
  return out;
}
