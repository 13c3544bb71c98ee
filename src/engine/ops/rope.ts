/**
 * rope: rotary position embedding (Llama, Hugging Face's "rotate half" layout): within each head the
 * pair (x[i], x[i + D/2]) is rotated by the angle pos * invFreq[i], invFreq[i] = base^(-2i/D) (with
 * Llama 3's frequency scaling when given: ropeInvFreq). The backward rotates back.
 * x [B,T,H,D] (D even); row b's positions are positions[b] + t (or offset + t) -> [B,T,H,D]
 * Angles, cos and sin are computed in float64 (Hugging Face computes them in float32: they agree to
 * float32 rounding of the angle, ~6e-8 * pos radians).
 * ropeQkv: the same on the q and k parts of packed q,k,v [B,T,3C] (v passes through), so a Llama-style
 * block feeds causalSelfAttention directly: linear -> ropeQkv -> causalSelfAttention.
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { Tensor } from "../tensor.js";
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
  const tab = table(B, T, D, opts);
  const grad = needsGrad(x);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  // one row of H*D per position; its heads start at 0, D, 2D, ...
  rotate(x.data, out.data, B, T, H * D, 0, H, D, tab, 1, false);
  if (grad) {
    record(out, () => {
      if (out.grad !== null) rotate(out.grad, gradOf(x), B, T, H * D, 0, H, D, tab, -1, true);
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
  const tab = table(B, T, D, opts);
  const grad = needsGrad(qkv);
  const out = new Tensor(qkv.shape, alloc(qkv.data, qkv.size), grad);
  out.data.set(qkv.data); // v as is; q and k overwritten below
  // q's heads start at 0, k's at C: 2 * nHead heads in a row of 3C
  rotate(qkv.data, out.data, B, T, C3, 0, 2 * nHead, D, tab, 1, false);
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      const dx = gradOf(qkv);
      for (let r = 0; r < B * T; r++) for (let c = 2 * C; c < C3; c++) dx[r * C3 + c] += dy[r * C3 + c];
      rotate(dy, dx, B, T, C3, 0, 2 * nHead, D, tab, -1, true);
    });
  }
  return out;
}

/** cos and sin of the angles, float64: [T, D/2] when every row starts at one position, else [B*T, D/2] */
function table(B: number, T: number, D: number, opts: RopeOptions): { cos: Float64Array; sin: Float64Array; perRow: boolean } {
  const half = D / 2;
  const invFreq = ropeInvFreq(D, opts.base ?? 10000, opts.scaling ?? null);
  const positions = opts.positions ?? null;
  if (positions !== null && positions.length !== B) throw new Error(`rope: ${positions.length} positions for a batch of ${B}`);
  const perRow = positions !== null && positions.some((p) => p !== positions[0]);
  const rows = perRow ? B * T : T;
  const cos = new Float64Array(rows * half);
  const sin = new Float64Array(rows * half);
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

// For each of B*T rows of `rowLen` elements: heads h < H of size D starting at start + h*D are
// rotated by sign * angle into out (out += when acc).
function rotate(
  src: Tensor["data"], out: Tensor["data"], B: number, T: number, rowLen: number, start: number, H: number, D: number,
  tab: { cos: Float64Array; sin: Float64Array; perRow: boolean }, sign: number, acc: boolean,
): void {
  const half = D / 2;
  const { cos, sin, perRow } = tab;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const a = (perRow ? b * T + t : t) * half;
      for (let h = 0; h < H; h++) {
        const r = (b * T + t) * rowLen + start + h * D;
        for (let i = 0; i < half; i++) {
          const c = cos[a + i];
          const s = sign * sin[a + i];
          const x1 = src[r + i];
          const x2 = src[r + i + half];
          const y1 = x1 * c - x2 * s;
          const y2 = x2 * c + x1 * s;
          if (acc) {
            out[r + i] += y1;
            out[r + i + half] += y2;
          } else {
            out[r + i] = y1;
            out[r + i + half] = y2;
          }
        }
      }
    }
  }
}
