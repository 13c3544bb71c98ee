/**
 * Frozen inputs get no gradient buffer: a backward through a norm whose gain is frozen (LoRA's base) leaves
 * the gain's .grad unset and hands the gradient pool back every buffer it lent, whatever the depth.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GradPool, Tape, gradOf, recording } from "../../src/engine/autograd.js";
import { layerNorm, linearT, rmsNorm } from "../../src/engine/ops/index.js";
import { TransformerLM } from "../../src/engine/transformer.js";
import { FAMILY_PRESETS } from "../../src/engine/families/config.js";
import { Tensor } from "../../src/engine/tensor.js";
import { Rng } from "../../src/util/rng.js";
import { randn } from "./gradcheck.js";

const frozen = (t: Tensor): Tensor => new Tensor(t.shape, t.data, false);

for (const norm of ["rmsNorm", "layerNorm"] as const) {
  test(`${norm} with a frozen gain: no .grad on the gain, the same d x as with a trained one`, () => {
    const rng = new Rng(3);
    const [N, C] = [5, 8];
    const x0 = randn(rng, [N, C]);
    const w0 = randn(rng, [C]);
    const b0 = randn(rng, [C]);
    const dxOf = (train: boolean): { dx: Float32Array; w: Tensor } => {
      const x = new Tensor([N, C], x0.data.slice(), true);
      const w = train ? new Tensor([C], w0.data.slice(), true) : frozen(w0);
      const b = train ? new Tensor([C], b0.data.slice(), true) : frozen(b0);
      const tape = new Tape();
      const pool = new GradPool();
      // x through a linear first, so that its gradient comes from the pool as in a model
      const wl = randn(new Rng(4), [C, C]);
      const y = recording(tape, () => {
        const h = linearT(x, wl, null);
        return norm === "rmsNorm" ? rmsNorm(h, w, 1e-6) : layerNorm(h, w, b, 1e-5);
      });
      gradOf(y).set(randn(new Rng(5), [N, C]).data);
      tape.backward(pool);
      return { dx: x.grad!.slice() as Float32Array, w };
    };
    const trained = dxOf(true);
    const fixed = dxOf(false);
    assert.equal(fixed.w.grad, null, "a frozen gain gets no gradient buffer");
    for (let i = 0; i < trained.dx.length; i++) assert.ok(Math.abs(trained.dx[i] - fixed.dx[i]) <= 1e-6, `dx[${i}]`);
  });
}

test("a LoRA backward, checkpointed or not, at 2 and 6 layers: the gradient pool gets back every buffer it lent", () => {
  for (const gradientCheckpointing of [false, true]) {
    const held = (nLayer: number): number => {
      const cfg = { ...FAMILY_PRESETS["qwen2-tiny"], nLayer };
      const m = new TransformerLM(cfg, { lora: { r: 4, alpha: 8, dropout: 0, targetModules: "all-linear" }, gradientCheckpointing });
      m.initialize(new Rng(1));
      const B = 2;
      const T = 16;
      const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % cfg.vocabSize);
      const lp = m.logprobsForTraining({ tokens, batch: B, seqLen: T, lengths: new Int32Array(B).fill(T) }).logprobs;
      m.backward(new Float32Array(lp.length).fill(-1 / lp.length));
      const s = m.arenaStats();
      return s.gradAllocatedBytes - s.gradBytes;
    };
    assert.equal(held(2), 0, `checkpointing ${gradientCheckpointing}: every lent gradient buffer is back in the pool`);
    assert.equal(held(6), 0);
  }
});
