/**
 * AdamW (PyTorch's torch.optim.AdamW semantics: decoupled weight decay p -= lr * wd * p, bias-corrected
 * moments, eps added to the bias-corrected sqrt(v)) with global-norm gradient clipping
 * (torch.nn.utils.clip_grad_norm_: scale by maxNorm / (norm + 1e-6) when norm > maxNorm).
 *
 * Weight decay applies to matrices and embeddings only, not to biases and LayerNorm weights (the
 * convention of nanoGPT and of the Hugging Face Trainer).
 */
import { kernels } from "./backend.js";
import type { FloatArray } from "./tensor.js";

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** PyTorch's defaults except weight decay, which is TRL's / the HF Trainer's default (0). */
export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** torch.nn.utils.clip_grad_norm_'s guard against division by zero. */
const CLIP_EPS = 1e-6;

export interface OptimizedParameter<F extends FloatArray = FloatArray> {
  name: string;
  shape: number[];
  data: F;
  grad: F;
}

export class AdamW<F extends FloatArray = Float32Array> {
  readonly config: AdamWConfig;
  /** first and second moments, same layout as the model's parameter buffer */
  readonly m: F;
  readonly v: F;
  /** optimizer steps taken (PyTorch's `step`, counted from 1 at the first update) */
  step = 0;
  private readonly views: { p: OptimizedParameter<F>; m: F; v: F; decay: boolean }[];

  /**
   * params: views into one buffer `data` (and gradients into `grad`) as GPT2.parameters() gives them;
   * m and v get the same layout.
   */
  constructor(params: OptimizedParameter<F>[], data: F, config: Partial<AdamWConfig> = {}) {
    this.config = { ...ADAMW_DEFAULTS, ...config };
    const c = this.config;
    if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1)) throw new Error(`AdamW: betas must lie in [0, 1), got ${c.beta1}, ${c.beta2}`);
    if (!(c.eps > 0)) throw new Error(`AdamW: eps must be > 0, got ${c.eps}`);
    if (!(c.weightDecay >= 0)) throw new Error(`AdamW: weightDecay must be >= 0, got ${c.weightDecay}`);
    const make = (): F => (data instanceof Float64Array ? new Float64Array(data.length) : new Float32Array(data.length)) as F;
    this.m = make();
    this.v = make();
    this.views = params.map((p) => {
      const off = p.data.byteOffset / p.data.BYTES_PER_ELEMENT - data.byteOffset / data.BYTES_PER_ELEMENT;
      if (p.data.buffer !== data.buffer || off < 0 || off + p.data.length > data.length) {
        throw new Error(`AdamW: parameter ${p.name} is not a view into the parameter buffer`);
      }
      return {
        p,
        m: this.m.subarray(off, off + p.data.length) as F,
        v: this.v.subarray(off, off + p.data.length) as F,
        decay: p.shape.length >= 2,
      };
    });
  }

  /** The global L2 norm of all gradients (accumulated in float64). */
  gradNorm(): number {
    let s = 0;
    for (const { p } of this.views) s += kernels.sumSquares(p.grad, p.grad.length);
    return Math.sqrt(s);
  }

  /**
   * Clips the gradients to global norm maxGradNorm (0 or Infinity: off), then takes one AdamW step.
   * Returns the norm before clipping. A non-finite norm skips the update and leaves the state alone.
   */
  update(learningRate: number, maxGradNorm: number): { gradNorm: number } {
    const norm = this.gradNorm();
    if (!Number.isFinite(norm)) return { gradNorm: norm };
    if (maxGradNorm > 0 && Number.isFinite(maxGradNorm) && norm > maxGradNorm) {
      const s = maxGradNorm / (norm + CLIP_EPS);
      for (const { p } of this.views) kernels.scale(p.grad, s, p.grad.length);
    }
    this.step++;
    const c = this.config;
    for (const { p, m, v, decay } of this.views) {
      kernels.adamw(p.data, p.grad, m, v, p.data.length, learningRate, c.beta1, c.beta2, c.eps, decay ? c.weightDecay : 0, this.step);
    }
    return { gradNorm: norm };
  }
}
