/**
 * linear: y = x W + b, GPT-2's Conv1D layout (W stored [in, out]); matmul and bias add fused so the
 * backward makes one pass over dy for db.
 * x [..., in], w [in, out], b [out] or null -> y [..., out]
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor, type FloatArray } from "../tensor.js";

export function linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const inF = w.shape[0];
  const outF = w.shape[1];
  if (x.shape[x.shape.length - 1] !== inF) throw new Error(`linear: x [${x.shape}] does not match w [${w.shape}]`);
  if (b !== null && b.size !== outF) throw new Error(`linear: bias has ${b.size} elements, expected ${outF}`);
  const N = x.size / inF;
  const grad = needsGrad(x, w, b);
  const out = new Tensor([...x.shape.slice(0, -1), outF], alloc(x.data, N * outF), grad);
  kernels.gemm(false, false, N, outF, inF, 1, x.data, w.data, 0, out.data);
  if (b !== null) kernels.biasAdd(out.data, b.data, N, outF);
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      if (x.requiresGrad) kernels.gemm(false, true, N, inF, outF, 1, dy, w.data, 1, gradOf(x));
      if (w.requiresGrad) kernels.gemm(true, false, inF, outF, N, 1, x.data, dy, 1, gradOf(w));
      if (b !== null && b.requiresGrad) kernels.biasBackward(dy, N, outF, gradOf(b));
    });
  }
  return out;
}

/**
 * linearT: y = x W^T + b, nn.Linear's layout (W stored [out, in], as Hugging Face's Llama/Qwen
 * checkpoints hold it), so weights load without a transpose.
 * x [..., in], w [out, in], b [out] or null -> y [..., out]
 */
export function linearT(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const [outF, inF] = w.shape;
  if (w.shape.length !== 2 || x.shape[x.shape.length - 1] !== inF) throw new Error(`linearT: x [${x.shape}] does not match w [${w.shape}] ([out, in])`);
  if (b !== null && b.size !== outF) throw new Error(`linearT: bias has ${b.size} elements, expected ${outF}`);
  const N = x.size / inF;
  const grad = needsGrad(x, w, b);
  const out = new Tensor([...x.shape.slice(0, -1), outF], alloc(x.data, N * outF), grad);
  linearTForward(x.data, w, b, N, inF, outF, out.data);
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      linearTBackward(dy, x, w, b, N, inF, outF);
    });
  }
  return out;
}

/**
 * linearT's forward, the base of loraLinear's too: y = x W^T + b, overwriting y.
 * x [N, in], w [out, in], b [out] or null, y [N, out]
 */
export function linearTForward(x: FloatArray, w: Tensor, b: Tensor | null, N: number, inF: number, outF: number, y: FloatArray): void {
  kernels.gemm(false, true, N, outF, inF, 1, x, w.data, 0, y);
  if (b !== null) kernels.biasAdd(y, b.data, N, outF);
}

/**
 * linearT's backward from dy [N, out], added into the gradients wanted: dx += dy W [N, in],
 * dW += dy^T x [out, in], db += dy's column sums [out].
 */
export function linearTBackward(dy: FloatArray, x: Tensor, w: Tensor, b: Tensor | null, N: number, inF: number, outF: number): void {
  if (x.requiresGrad) kernels.gemm(false, false, N, inF, outF, 1, dy, w.data, 1, gradOf(x));
  if (w.requiresGrad) kernels.gemm(true, false, outF, inF, N, 1, dy, x.data, 1, gradOf(w));
  if (b !== null && b.requiresGrad) kernels.biasBackward(dy, N, outF, gradOf(b));
}
