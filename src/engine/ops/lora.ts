/**
 * loraLinear: an nn.Linear with its LoRA adapter as one op (PEFT's forward):
 *   y = x W^T + b + s * dropout(x) A^T B^T,  s = alpha / r
 * The adapter's product is accumulated straight into y (one GEMM with beta = 1), so a target module
 * keeps one [N, out] output, as a plain linear does, plus the [N, r] bottleneck: a composition of ops
 * (linear, linear, scale, add) would keep two more [N, out] buffers per module for the backward
 * (DeepSeek-R1-Distill-Qwen-1.5B, 6 x 1024 tokens, all-linear: 1.1 GB a layer, 32 GB for the model).
 * x [..., in], w [out, in], b [out] or null, a [r, in], bm [out, r] -> y [..., out]
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor } from "../tensor.js";
import { linearTBackward, linearTForward } from "./linear.js";
import type { Rng } from "../../util/rng.js";

export function loraLinear(
  x: Tensor, w: Tensor, b: Tensor | null, a: Tensor, bm: Tensor, s: number, dropout: { p: number; rng: Rng } | null = null,
): Tensor {
  const [outF, inF] = w.shape;
  const r = a.shape[0];
  if (x.shape[x.shape.length - 1] !== inF || a.shape[1] !== inF || bm.shape[0] !== outF || bm.shape[1] !== r) {
    throw new Error(`loraLinear: x [${x.shape}], w [${w.shape}], lora_A [${a.shape}], lora_B [${bm.shape}] do not fit ([out,in], [r,in], [out,r])`);
  }
  if (b !== null && b.size !== outF) throw new Error(`loraLinear: bias has ${b.size} elements, expected ${outF}`);
  const N = x.size / inF;
  const grad = needsGrad(x, w, b, a, bm);
  // the adapter's input: x, or x with dropout (mask[i] = 1: kept, scaled by 1/(1-p))
  let xd = x.data;
  let mask: Uint8Array | null = null;
  let keep = 1;
  if (dropout !== null && dropout.p > 0) {
    keep = 1 / (1 - dropout.p);
    mask = new Uint8Array(x.size);
    xd = alloc(x.data, x.size);
    for (let i = 0; i < mask.length; i++) {
      mask[i] = dropout.rng.next() < dropout.p ? 0 : 1;
      xd[i] = mask[i] ? x.data[i] * keep : 0;
    }
  }
  const u = alloc(x.data, N * r);
  kernels.gemm(false, true, N, r, inF, 1, xd, a.data, 0, u);
  const out = new Tensor([...x.shape.slice(0, -1), outF], alloc(x.data, N * outF), grad);
  linearTForward(x.data, w, b, N, inF, outF, out.data);
  kernels.gemm(false, true, N, outF, r, s, u, bm.data, 1, out.data);
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      linearTBackward(dy, x, w, b, N, inF, outF);
      // du = s dy B [N,r]; dB += s dy^T u; dA += du^T xd; dx += (du A) * dropout's scale
      const du = alloc(x.data, N * r);
      kernels.gemm(false, false, N, r, outF, s, dy, bm.data, 0, du);
      if (bm.requiresGrad) kernels.gemm(true, false, outF, r, N, s, dy, u, 1, gradOf(bm));
      if (a.requiresGrad) kernels.gemm(true, false, r, inF, N, 1, du, xd, 1, gradOf(a));
      if (x.requiresGrad) {
        if (mask === null) kernels.gemm(false, false, N, inF, r, 1, du, a.data, 1, gradOf(x));
        else {
          const dxd = alloc(x.data, N * inF);
          kernels.gemm(false, false, N, inF, r, 1, du, a.data, 0, dxd);
          const dx = gradOf(x);
          for (let i = 0; i < dxd.length; i++) if (mask[i]) dx[i] += dxd[i] * keep;
        }
      }
    });
  }
  return out;
}
