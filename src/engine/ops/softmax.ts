/**
 * softmax and logSoftmax over the last axis (numerically stable: the row max is subtracted first).
 * Off the GPT-2 hot path (which uses the fused logSoftmaxGather), so plain TypeScript.
 * x [..., V] -> [..., V]
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { Tensor, type FloatArray } from "../tensor.js";

export function softmax(x: Tensor): Tensor {
  // dx = y * (dy - <dy, y>)
  return rowOp(x, true, (dy, y, dx, r, V) => {
    let dot = 0;
    for (let v = 0; v < V; v++) dot += dy[r + v] * y[r + v];
    for (let v = 0; v < V; v++) dx[r + v] += y[r + v] * (dy[r + v] - dot);
  });
}

export function logSoftmax(x: Tensor): Tensor {
  // dx = dy - softmax * sum(dy)
  return rowOp(x, false, (dy, y, dx, r, V) => {
    let s = 0;
    for (let v = 0; v < V; v++) s += dy[r + v];
    for (let v = 0; v < V; v++) dx[r + v] += dy[r + v] - Math.exp(y[r + v]) * s;
  });
}

/**
 * Both ops: the forward writes each row of x less its log-sum-exp (log-probabilities), or their exp
 * (probabilities); `backwardRow` adds the row at offset r of dx from dy and y, the op's output.
 */
function rowOp(x: Tensor, exp: boolean, backwardRow: (dy: FloatArray, y: FloatArray, dx: FloatArray, r: number, V: number) => void): Tensor {
  const V = x.shape[x.shape.length - 1];
  const N = x.size / V;
  const grad = needsGrad(x);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  const y = out.data;
  for (let n = 0; n < N; n++) {
    const r = n * V;
    const lse = logSumExp(x.data, r, V);
    if (exp) for (let v = 0; v < V; v++) y[r + v] = Math.exp(x.data[r + v] - lse);
    else for (let v = 0; v < V; v++) y[r + v] = x.data[r + v] - lse;
  }
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      const dx = gradOf(x);
      for (let n = 0; n < N; n++) backwardRow(dy, y, dx, n * V, V);
    });
  }
  return out;
}

function logSumExp(x: FloatArray, r: number, V: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (x[r + v] > max) max = x[r + v];
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(x[r + v] - max);
  return max + Math.log(s);
}
