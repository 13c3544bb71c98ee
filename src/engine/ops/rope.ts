/**
 * rope: rotary position embedding (Llama, Hugging Face's "rotate half" layout): within each head the
 * pair (x[i], x[i + D/2]) is rotated by the angle pos * invFreq[i], invFreq[i] = base^(-2i/D) (with
 * Llama 3's frequency scaling when given: ropeInvFreq). The backward rotates back.
 * x [B,T,H,D] (D even); row b's positions are positions[b] + t (or offset + t) -> [B,T,H,D]
 * Angles are computed in float64, cos and sin stored in the tensor's float type (Hugging Face computes
 * all three in float32: they agree to float32 rounding of the angle, ~6e-8 * pos radians). The rotation
 * is the ropeRotate kernel (native and TS).
 * ropeQkv: the same on the q and k parts of packed q,k,v [B,T,3C] (v passes through), so a Llama-style
 * block feeds causalSelfAttention directly: linear -> ropeQkv -> causalSelfAttention.
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor, type FloatArray } from "../tensor.js";
import type { Llama3RopeScaling } from "../families/config.js";

export interface RopeOptions {
  /** Llama's rope_theta; default 10000 */
  base?: number;
  /** position of t = 0 (decoding with a cache); default 0 */
  offset?: number;
  /** per row b of the batch: the position of its t = 0 (KV-cache decoding at pos[b]); overrides offset */
  positions?: Int32Array | null;
  /** Llama 3.1/3.2's `rope_scaling` (rope_type "llama3"); default none */
  scaling?: Llama3RopeScaling | null;
}

/**
 * The rotation frequencies [D/2] (radians per position), as Hugging Face's rope init functions:
 * base^(-2i/D), and with llama3 scaling (`_compute_llama3_parameters`) wavelengths 2 pi / f above
 * original / lowFreqFactor divided by `factor`, below original / highFreqFactor kept, and in between
 * interpolated: (1 - s) f / factor + s f with s = (original / wavelength - low) / (high - low).
 */
export function ropeInvFreq(D: number, base: number, scaling: Llama3RopeScaling | null = null): Float64Array {
  const half = D / 2;
  const f = new Float64Array(half);
  for (let i = 0; i < half; i++) f[i] = Math.pow(base, (-2 * i) / D);
  if (scaling === null) return f;
  const { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositionEmbeddings: orig } = scaling;
  const lowWavelen = orig / low;
  const highWavelen = orig / high;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / f[i];
    if (wavelen > lowWavelen) f[i] /= factor;
    else if (wavelen >= highWavelen) {
      const s = (orig / wavelen - low) / (high - low);
      f[i] = (1 - s) * (f[i] / factor) + s * f[i];
    }
  }
  return f;
}

export function rope(x: Tensor, opts: RopeOptions = {}): Tensor {
  if (x.shape.length !== 4 || x.shape[3] % 2 !== 0) throw new Error(`rope: x [${x.shape}] is not [B,T,H,D] with D even`);
  const [B, T, H, D] = x.shape;
  const tab = table(B, T, D, opts, x.data);
  const grad = needsGrad(x);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  // one row of H*D per position; its heads start at 0, D, 2D, ...
  kernels.ropeRotate(x.data, out.data, B * T, H, D, H * D, tab.cos, tab.sin, T, tab.perRow, 1, false);
  if (grad) {
    record(out, () => {
      if (out.grad !== null) kernels.ropeRotate(out.grad, gradOf(x), B * T, H, D, H * D, tab.cos, tab.sin, T, tab.perRow, -1, true);
    });
  }
  return out;
}

export function ropeQkv(qkv: Tensor, nHead: number, opts: RopeOptions = {}): Tensor {
  const [B, T, C3] = qkv.shape;
  const C = C3 / 3;
  if (qkv.shape.length !== 3 || !Number.isInteger(C) || C % nHead !== 0 || (C / nHead) % 2 !== 0) {
    throw new Error(`ropeQkv: qkv [${qkv.shape}] is not [B,T,3C] with ${nHead} heads of even size`);
  }
  const D = C / nHead;
  const tab = table(B, T, D, opts, qkv.data);
  const grad = needsGrad(qkv);
  const out = new Tensor(qkv.shape, alloc(qkv.data, qkv.size), grad);
  out.data.set(qkv.data); // v as is; q and k overwritten below
  // q's heads start at 0, k's at C: 2 * nHead heads in a row of 3C
  kernels.ropeRotate(qkv.data, out.data, B * T, 2 * nHead, D, C3, tab.cos, tab.sin, T, tab.perRow, 1, false);
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      const dx = gradOf(qkv);
      for (let r = 0; r < B * T; r++) for (let c = 2 * C; c < C3; c++) dx[r * C3 + c] += dy[r * C3 + c];
      kernels.ropeRotate(dy, dx, B * T, 2 * nHead, D, C3, tab.cos, tab.sin, T, tab.perRow, -1, true);
    });
  }
  return out;
}

/** cos and sin of the angles in like's float type: [T, D/2] when every row starts at one position, else [B*T, D/2] */
function table(B: number, T: number, D: number, opts: RopeOptions, like: FloatArray): { cos: FloatArray; sin: FloatArray; perRow: boolean } {
  const half = D / 2;
  const invFreq = ropeInvFreq(D, opts.base ?? 10000, opts.scaling ?? null);
  const positions = opts.positions ?? null;
  if (positions !== null && positions.length !== B) throw new Error(`rope: ${positions.length} positions for a batch of ${B}`);
  const perRow = positions !== null && positions.some((p) => p !== positions[0]);
  const rows = perRow ? B * T : T;
  const make = (n: number): FloatArray => (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));
  const cos = make(rows * half);
  const sin = make(rows * half);
  for (let r = 0; r < rows; r++) {
    const start = positions === null ? (opts.offset ?? 0) : positions[perRow ? Math.floor(r / T) : 0];
    const pos = start + (r % T);
    for (let i = 0; i < half; i++) {
      const angle = pos * invFreq[i];
      cos[r * half + i] = Math.cos(angle);
      sin[r * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin, perRow };
}
