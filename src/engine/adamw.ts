/**
 * AdamW (PyTorch's torch.optim.AdamW semantics: decoupled weight decay p -= lr * wd * p, bias-corrected
 * moments, eps added to the bias-corrected sqrt(v)) with global-norm gradient clipping
 * (torch.nn.utils.clip_grad_norm_: scale by maxNorm / (norm + 1e-6) when norm > maxNorm).
 *
 * Weight decay applies to matrices and embeddings only, not to biases and LayerNorm weights (the
 * convention of nanoGPT and of the Hugging Face Trainer).
 *
 * The parameters are views into one buffer and the moments share its layout, so the update is one
 * kernel call per contiguous run of parameters with the same decay (two for GPT2's layout), the norm
 * is one pass over the gradient buffer, and the clipping is the update kernel's gradient scale. Gaps
 * between views must hold 0 in data and grad (GPT2's alignment padding does): they then stay 0.
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

/** A contiguous span [start, end) of the buffer whose parameters share a decay setting. */
interface Run {
  start: number;
  end: number;
  decay: boolean;
}

export class AdamW<F extends FloatArray = Float32Array> {
  readonly config: AdamWConfig;
  /** first and second moments, same layout as the parameter buffer */
  readonly m: F;
  readonly v: F;
  /** optimizer steps taken (PyTorch's `step`, counted from 1 at the first update) */
  step = 0;
  private readonly data: F;
  private readonly grad: F;
  private readonly runs: Run[];

  /**
   * params: views into one buffer `data`, their gradients views into `grad` at the same offsets
   * (as GPT2.parameters() gives them); m and v get the same layout.
   */
  constructor(params: OptimizedParameter<F>[], data: F, grad: F, config: Partial<AdamWConfig> = {}) {
    this.config = { ...ADAMW_DEFAULTS, ...config };
    const c = this.config;
    if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1)) throw new Error(`AdamW: betas must lie in [0, 1), got ${c.beta1}, ${c.beta2}`);
    if (!(c.eps > 0)) throw new Error(`AdamW: eps must be > 0, got ${c.eps}`);
    if (!(c.weightDecay >= 0)) throw new Error(`AdamW: weightDecay must be >= 0, got ${c.weightDecay}`);
    if (grad.length !== data.length) throw new Error(`AdamW: gradient buffer has ${grad.length} elements, parameters ${data.length}`);
    this.data = data;
    this.grad = grad;
    const make = (): F => (data instanceof Float64Array ? new Float64Array(data.length) : new Float32Array(data.length)) as F;
    this.m = make();
    this.v = make();
    const spans = params.map((p) => {
      const off = offsetIn(p.data, data);
      if (off < 0 || offsetIn(p.grad, grad) !== off) throw new Error(`AdamW: parameter ${p.name} is not a view into the parameter and gradient buffers`);
      return { start: off, end: off + p.data.length, decay: p.shape.length >= 2 };
    });
    spans.sort((a, b) => a.start - b.start);
    this.runs = [];
    for (const s of spans) {
      const last = this.runs[this.runs.length - 1];
      if (last && last.decay === s.decay) last.end = s.end;
      else this.runs.push({ ...s });
    }
  }

  /** The global L2 norm of all gradients (accumulated in float64). */
  gradNorm(): number {
    return Math.sqrt(kernels.sumSquares(this.grad, this.grad.length));
  }

  /**
   * Takes one AdamW step with the gradients clipped to global norm maxGradNorm (0 or Infinity: off). The
   * clip's coefficient goes into the update kernel, so the gradients are not rewritten (one pass over them
   * fewer) and stay as the backward left them. Returns the norm before clipping. A non-finite norm skips
   * the update and leaves the state alone.
   */
  update(learningRate: number, maxGradNorm: number): { gradNorm: number } {
    const norm = this.gradNorm();
    if (!Number.isFinite(norm)) return { gradNorm: norm };
    const clip = maxGradNorm > 0 && Number.isFinite(maxGradNorm) && norm > maxGradNorm ? maxGradNorm / (norm + CLIP_EPS) : 1;
    this.step++;
    const c = this.config;
    for (const r of this.runs) {
      const n = r.end - r.start;
      kernels.adamw(
        this.data.subarray(r.start, r.end), this.grad.subarray(r.start, r.end), this.m.subarray(r.start, r.end),
        this.v.subarray(r.start, r.end), n, learningRate, c.beta1, c.beta2, c.eps, r.decay ? c.weightDecay : 0, this.step,
        clip,
      );
    }
    return { gradNorm: norm };
  }
}

/** Element offset of view `a` inside `base`, or -1 when it is not a view into it. */
function offsetIn(a: FloatArray, base: FloatArray): number {
  if (a.buffer !== base.buffer) return -1;
  const off = (a.byteOffset - base.byteOffset) / a.BYTES_PER_ELEMENT;
  return Number.isInteger(off) && off >= 0 && off + a.length <= base.length ? off : -1;
}
