/**
 * The engine's tensor: a shape and a flat row-major buffer, float32 for real work and float64 for the
 * gradient checks (every TypeScript kernel accepts both). `grad` is allocated when a backward pass first
 * writes into it (see `gradOf` in autograd.ts); parameters get theirs up front, as views into the
 * model's one gradient buffer.
 */
export type FloatArray = Float32Array | Float64Array;

export class Tensor {
  private ownGrad: FloatArray | null;
  /** set on reshaped views: they share data and gradient with this tensor */
  private readonly base: Tensor | null;

  constructor(
    readonly shape: readonly number[],
    readonly data: FloatArray,
    /** true for parameters and for anything computed from them while a tape records */
    readonly requiresGrad = false,
    grad: FloatArray | null = null,
    base: Tensor | null = null,
  ) {
    const n = numel(shape);
    if (data.length !== n) throw new Error(`Tensor: shape [${shape.join(",")}] needs ${n} elements, got ${data.length}`);
    this.ownGrad = grad;
    this.base = base;
  }

  /** d(objective)/d(data), same layout as data; null until a backward pass needs it */
  get grad(): FloatArray | null {
    return this.base ? this.base.grad : this.ownGrad;
  }

  set grad(g: FloatArray | null) {
    if (this.base) this.base.grad = g;
    else this.ownGrad = g;
  }

  get size(): number {
    return this.data.length;
  }

  get dtype(): "float32" | "float64" {
    return this.data instanceof Float64Array ? "float64" : "float32";
  }

  /** the same buffer seen with another shape of the same size; its gradient is this tensor's */
  reshape(shape: readonly number[]): Tensor {
    return new Tensor(shape, this.data, this.requiresGrad, null, this.base ?? this);
  }
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
