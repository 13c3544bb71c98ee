/**
 * rope: rotary position embedding (Llama, Hugging Face's "rotate half" layout): within each head the
 * pair (x[i], x[i + D/2]) is rotated by the angle pos * base^(-2i/D). The backward rotates back.
 * x [B,T,H,D] (D even), positions start at `offset` -> [B,T,H,D]
 * ropeQkv: the same on the q and k parts of packed q,k,v [B,T,3C] (v passes through), so a Llama-style
 * block feeds causalSelfAttention directly: linear -> ropeQkv -> causalSelfAttention.
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { Tensor } from "../tensor.js";

export interface RopeOptions {
  /** Llama's rope_theta; default 10000 */
  base?: number;
  /** position of t = 0 (decoding with a cache); default 0 */
  offset?: number;
}

export function rope(x: Tensor, opts: RopeOptions = {}): Tensor {
  if (x.shape.length !== 4 || x.shape[3] % 2 !== 0) throw new Error(`rope: x [${x.shape}] is not [B,T,H,D] with D even`);
  const [B, T, H, D] = x.shape;
  const { cos, sin } = table(T, D, opts);
  const grad = needsGrad(x);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  // one row of H*D per position; its heads start at 0, D, 2D, ...
  rotate(x.data, out.data, B, T, H * D, 0, H, D, cos, sin, 1, false);
  if (grad) {
    record(out, () => {
      if (out.grad !== null) rotate(out.grad, gradOf(x), B, T, H * D, 0, H, D, cos, sin, -1, true);
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
  const { cos, sin } = table(T, D, opts);
  const grad = needsGrad(qkv);
  const out = new Tensor(qkv.shape, alloc(qkv.data, qkv.size), grad);
  out.data.set(qkv.data); // v as is; q and k overwritten below
  // q's heads start at 0, k's at C: 2 * nHead heads in a row of 3C
  rotate(qkv.data, out.data, B, T, C3, 0, 2 * nHead, D, cos, sin, 1, false);
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      const dx = gradOf(qkv);
      for (let r = 0; r < B * T; r++) for (let c = 2 * C; c < C3; c++) dx[r * C3 + c] += dy[r * C3 + c];
      rotate(dy, dx, B, T, C3, 0, 2 * nHead, D, cos, sin, -1, true);
    });
  }
  return out;
}

/** cos and sin of the angles [T, D/2], float64 */
function table(T: number, D: number, opts: RopeOptions): { cos: Float64Array; sin: Float64Array } {
  const half = D / 2;
  const base = opts.base ?? 10000;
  const offset = opts.offset ?? 0;
  const cos = new Float64Array(T * half);
  const sin = new Float64Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = (t + offset) * Math.pow(base, (-2 * i) / D);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

// For each of B*T rows of `rowLen` elements: heads h < H of size D starting at start + h*D are
// rotated by sign * angle into out (out += when acc).
function rotate(
  src: Tensor["data"], out: Tensor["data"], B: number, T: number, rowLen: number, start: number, H: number, D: number,
  cos: Float64Array, sin: Float64Array, sign: number, acc: boolean,
): void {
  const half = D / 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const r = (b * T + t) * rowLen + start + h * D;
        for (let i = 0; i < half; i++) {
          const c = cos[t * half + i];
          const s = sign * sin[t * half + i];
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
