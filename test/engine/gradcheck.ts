/**
 * Gradient checks against central finite differences, in float64 through the TypeScript kernels.
 * The objective is L = sum(out * W) for a fixed random W, so every output element's gradient is used.
 */
import assert from "node:assert/strict";
import { Tape, backward, noGrad, recording } from "../../src/engine/autograd.js";
import { Tensor } from "../../src/engine/tensor.js";
import { Rng } from "../../src/util/rng.js";

/** Central-difference step: float64 truncation error ~h^2, rounding ~1e-16/h; 1e-5 balances them. */
export const FD_STEP = 1e-5;
/** |analytic - numeric| <= ATOL + RTOL * |numeric| */
export const ATOL = 1e-7;
export const RTOL = 1e-5;

export function randn(rng: Rng, shape: number[], std = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = rng.normal() * std;
  return new Tensor(shape, d, true);
}

/**
 * Checks d(sum(f(inputs) * W))/d(input) for every input element (or `maxPerInput` of them chosen at
 * random) against finite differences.
 */
export function gradcheck(name: string, f: (xs: Tensor[]) => Tensor, inputs: Tensor[], opts: { seed?: number; maxPerInput?: number } = {}): void {
  const rng = new Rng(opts.seed ?? 7);
  for (const x of inputs) x.grad = null;
  const tape = new Tape();
  const out = recording(tape, () => f(inputs));
  const W = new Float64Array(out.size);
  for (let i = 0; i < W.length; i++) W[i] = rng.normal();
  backward(tape, out, W);
  const objective = (): number => {
    const y = noGrad(() => f(inputs));
    let s = 0;
    for (let i = 0; i < y.size; i++) s += y.data[i] * W[i];
    return s;
  };
  for (const [k, x] of inputs.entries()) {
    if (!x.requiresGrad) continue;
    const g = x.grad;
    assert.ok(g !== null, `${name}: input ${k} got no gradient`);
    const n = x.size;
    const idx = opts.maxPerInput && opts.maxPerInput < n ? Array.from({ length: opts.maxPerInput }, () => rng.int(n)) : Array.from({ length: n }, (_, i) => i);
    for (const i of idx) {
      const old = x.data[i];
      x.data[i] = old + FD_STEP;
      const lp = objective();
      x.data[i] = old - FD_STEP;
      const lm = objective();
      x.data[i] = old;
      const num = (lp - lm) / (2 * FD_STEP);
      const err = Math.abs(g[i] - num);
      assert.ok(err <= ATOL + RTOL * Math.abs(num), `${name}: input ${k} element ${i}: analytic ${g[i]}, numeric ${num}`);
    }
  }
}

/**
 * A whole model's gradient at parameter entries `indices` of `p` against central differences of `objective`
 * (which reruns the model; p.grad must already hold the analytic gradient), to ATOL + RTOL * |numeric|.
 */
export function checkParameterGrad(
  p: { name: string; data: Float32Array | Float64Array; grad: Float32Array | Float64Array },
  indices: number[],
  objective: () => number,
): void {
  for (const i of indices) {
    const old = p.data[i];
    p.data[i] = old + FD_STEP;
    const fp = objective();
    p.data[i] = old - FD_STEP;
    const fm = objective();
    p.data[i] = old;
    const num = (fp - fm) / (2 * FD_STEP);
    assert.ok(Math.abs(p.grad[i] - num) <= ATOL + RTOL * Math.abs(num), `${p.name}[${i}]: analytic ${p.grad[i]}, numeric ${num}`);
  }
}
