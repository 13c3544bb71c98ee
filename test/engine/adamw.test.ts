/** AdamW and global-norm clipping against the formulas of torch.optim.AdamW and clip_grad_norm_. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AdamW } from "../../src/engine/adamw.js";
import { Rng } from "../../src/util/rng.js";

// Two parameters in one buffer: a matrix [2,3] (decayed) and a bias [3] (not decayed).
function setup(): { data: Float64Array; grad: Float64Array; params: { name: string; shape: number[]; data: Float64Array; grad: Float64Array }[] } {
  const data = new Float64Array(9);
  const grad = new Float64Array(9);
  const rng = new Rng(1);
  for (let i = 0; i < 9; i++) data[i] = rng.normal();
  return {
    data,
    grad,
    params: [
      { name: "w", shape: [2, 3], data: data.subarray(0, 6), grad: grad.subarray(0, 6) },
      { name: "b", shape: [3], data: data.subarray(6, 9), grad: grad.subarray(6, 9) },
    ],
  };
}

test("AdamW follows PyTorch's update over several steps, decaying matrices only", () => {
  const cfg = { beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 };
  const { data, grad, params } = setup();
  const opt = new AdamW(params, data, grad, cfg);
  const p = Array.from(data);
  const m = new Array(9).fill(0);
  const v = new Array(9).fill(0);
  const rng = new Rng(2);
  const lrs = [0.1, 0.05, 0.02, 0.01];
  for (let s = 1; s <= lrs.length; s++) {
    for (let i = 0; i < 9; i++) grad[i] = rng.normal();
    const lr = lrs[s - 1];
    for (let i = 0; i < 9; i++) {
      const wd = i < 6 ? cfg.weightDecay : 0;
      p[i] *= 1 - lr * wd;
      m[i] = cfg.beta1 * m[i] + (1 - cfg.beta1) * grad[i];
      v[i] = cfg.beta2 * v[i] + (1 - cfg.beta2) * grad[i] * grad[i];
      const mhat = m[i] / (1 - cfg.beta1 ** s);
      const vhat = v[i] / (1 - cfg.beta2 ** s);
      p[i] -= (lr * mhat) / (Math.sqrt(vhat) + cfg.eps);
    }
    opt.update(lr, 0);
    for (let i = 0; i < 9; i++) assert.ok(Math.abs(data[i] - p[i]) < 1e-12, `step ${s} element ${i}: ${data[i]} vs ${p[i]}`);
  }
  assert.equal(opt.step, 4);
});

test("global-norm clipping updates with the gradients scaled by maxNorm / (norm + 1e-6), leaves them as they are, and reports the norm before", () => {
  const clipped = setup();
  const ref = setup();
  const opt = new AdamW(clipped.params, clipped.data, clipped.grad);
  const optRef = new AdamW(ref.params, ref.data, ref.grad);
  for (const [maxNorm, g0] of [[1.5, -4], [100, 1]]) {
    for (let i = 0; i < 9; i++) clipped.grad[i] = g0 + i;
    const norm = Math.sqrt(clipped.grad.reduce((s, g) => s + g * g, 0));
    const scale = norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
    assert.equal(scale < 1, maxNorm === 1.5, "the first update clips, the second does not");
    for (let i = 0; i < 9; i++) ref.grad[i] = clipped.grad[i] * scale;
    const before = Array.from(clipped.grad);
    const { gradNorm } = opt.update(0.1, maxNorm);
    optRef.update(0.1, 0);
    assert.ok(Math.abs(gradNorm - norm) < 1e-12);
    assert.deepEqual(Array.from(clipped.grad), before, "the gradients are not rewritten");
    for (let i = 0; i < 9; i++) {
      assert.ok(Math.abs(clipped.data[i] - ref.data[i]) < 1e-12, `max norm ${maxNorm}, element ${i}: ${clipped.data[i]} vs ${ref.data[i]}`);
      assert.ok(Math.abs(opt.v[i] - optRef.v[i]) < 1e-15, `v[${i}]`);
    }
  }
});
