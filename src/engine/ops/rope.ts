/**
 * rope: rotary position embedding (Llama, Hugging Face's "rotate half" layout): within each head the
 * pair (x[i], x[i + D/2]) is rotated by the angle pos * base^(-2i/D). The backward rotates back.
 * x [B,T,H,D] (D even), positions start at `offset` -> [B,T,H,D]
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
  const half = D / 2;
  const base = opts.base ?? 10000;
  const offset = opts.offset ?? 0;
  // cos/sin table [T, D/2], float64
  const cos = new Float64Array(T * half);
  const sin = new Float64Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = (t + offset) * Math.pow(base, (-2 * i) / D);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  const grad = needsGrad(x);
  const out = new Tensor(x.shape, alloc(x.data, x.size), grad);
  rotate(x.data, out.data, B, T, H, D, cos, sin, 1, false);
  if (grad) {
    record(out, () => {
      if (out.grad !== null) rotate(out.grad, gradOf(x), B, T, H, D, cos, sin, -1, true);
    });
  }
  return out;
}

// out (or out += when acc) = rotation of src by sign * angle
function rotate(
  src: Tensor["data"], out: Tensor["data"], B: number, T: number, H: number, D: number,
  cos: Float64Array, sin: Float64Array, sign: number, acc: boolean,
): void {
  const half = D / 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const r = ((b * T + t) * H + h) * D;
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
