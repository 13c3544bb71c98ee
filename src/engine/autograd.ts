/**
 * Reverse-mode autograd on a tape. Each op (src/engine/ops/*.ts) computes its output with the kernels
 * and, while a tape records and an input needs a gradient, pushes a closure that turns the output's
 * gradient into its inputs' gradients. `backward` runs the closures last to first.
 *
 * Buffers come from the current arena when one is set (allocate once, llm.c style): a training step of
 * the same shape asks for the same buffers in the same order, so the second step allocates nothing.
 */
import { Tensor, type FloatArray } from "./tensor.js";

export class Tape {
  /** each op's backward closure and the output whose gradient it consumes */
  readonly entries: { output: Tensor; closure: () => void }[] = [];

  /**
   * Runs the recorded backward closures, newest first. Gradients accumulate into `.grad`.
   * With a pool, activation gradients come from it and go back to it as soon as the op that
   * produced the activation has consumed them (its closure is their last reader), so a backward
   * holds the gradients of about one layer at a time, not of the whole network.
   */
  backward(gradPool: GradPool | null = null, endOfPass = true): void {
    const prev = pool;
    pool = gradPool;
    try {
      for (let i = this.entries.length - 1; i >= 0; i--) {
        const { output, closure } = this.entries[i];
        closure();
        if (gradPool !== null && output.grad !== null && gradPool.give(output.grad)) output.grad = null;
      }
    } finally {
      pool = prev;
      if (endOfPass) gradPool?.trim();
    }
  }
}

/**
 * Free gradient buffers, reused within a backward pass and across passes: a request takes the smallest
 * free buffer of its float type that is large enough (a view of its first n elements), so steps of the
 * same or smaller shapes allocate nothing. A buffer no pass has taken for POOL_IDLE_PASSES passes is
 * dropped (micro-batches of two shapes keep both sets; a shape that is gone frees its buffers).
 */
const POOL_IDLE_PASSES = 8;

export class GradPool {
  private free: FloatArray[] = [];
  /** view handed out -> the buffer it is a view of */
  private readonly owner = new WeakMap<FloatArray, FloatArray>();
  /** buffer -> the pass that last took it */
  private readonly lastTaken = new Map<FloatArray, number>();
  private pass = 0;
  /** buffers created so far (allocate-once check) */
  allocations = 0;
  /** bytes of the buffers this pool created and has not dropped: free or lent (bytes: free only) */
  allocatedBytes = 0;

  take(float64: boolean, n: number): FloatArray {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      if (b instanceof Float64Array !== float64 || b.length < n) continue;
      if (best < 0 || b.length < this.free[best].length) best = i;
    }
    let buf: FloatArray;
    if (best >= 0) {
      buf = this.free[best];
      this.free[best] = this.free[this.free.length - 1];
      this.free.pop();
    } else {
      buf = float64 ? new Float64Array(n) : new Float32Array(n);
      this.allocations++;
      this.allocatedBytes += buf.byteLength;
    }
    this.lastTaken.set(buf, this.pass);
    const view = buf.length === n ? buf : buf.subarray(0, n);
    view.fill(0);
    this.owner.set(view, buf);
    return view;
  }

  /** Takes back a buffer this pool handed out; false (and nothing done) for any other. */
  give(view: FloatArray): boolean {
    const buf = this.owner.get(view);
    if (buf === undefined) return false;
    this.owner.delete(view);
    this.free.push(buf);
    return true;
  }

  /** End of a pass: drop the free buffers idle for POOL_IDLE_PASSES passes. */
  trim(): void {
    this.pass++;
    for (const [b, p] of this.lastTaken) if (this.pass - p > POOL_IDLE_PASSES) this.lastTaken.delete(b);
    const kept: FloatArray[] = [];
    for (const b of this.free) {
      if (this.lastTaken.has(b)) kept.push(b);
      else this.allocatedBytes -= b.byteLength;
    }
    this.free = kept;
  }

  get bytes(): number {
    let b = 0;
    for (const x of this.free) b += x.byteLength;
    return b;
  }
}

/**
 * Buffers handed out in call order and reused on the next pass after `reset()`. A request larger than
 * the buffer at its slot replaces it, so shapes that vary from step to step settle at their maximum.
 */
export class Arena {
  private slots: FloatArray[] = [];
  private cursor = 0;
  /** buffers created (not reused) so far: stays put from the second pass of a shape on */
  allocations = 0;

  reset(): void {
    this.cursor = 0;
  }

  /** The cursor, to `rewind` to once the buffers taken after it are dead (inference, layer by layer). */
  mark(): number {
    return this.cursor;
  }

  rewind(mark: number): void {
    this.cursor = mark;
  }

  /** Bytes held by the arena. */
  get bytes(): number {
    let b = 0;
    for (const s of this.slots) b += s.byteLength;
    return b;
  }

  take(float64: boolean, n: number, zero: boolean): FloatArray {
    const i = this.cursor++;
    let buf = this.slots[i];
    if (buf === undefined || buf.length < n || (buf instanceof Float64Array) !== float64) {
      buf = float64 ? new Float64Array(n) : new Float32Array(n);
      this.slots[i] = buf;
      this.allocations++;
      return buf;
    }
    const view = buf.length === n ? buf : buf.subarray(0, n);
    if (zero) view.fill(0);
    return view;
  }
}

let tape: Tape | null = null;
let arena: Arena | null = null;
let pool: GradPool | null = null;

/** Runs fn while `t` records (ops called inside push their backward closures onto it). */
export function recording<R>(t: Tape, fn: () => R): R {
  const prev = tape;
  tape = t;
  try {
    return fn();
  } finally {
    tape = prev;
  }
}

/** Runs fn with no tape: nothing is kept for backward (inference, old/reference policies). */
export function noGrad<R>(fn: () => R): R {
  const prev = tape;
  tape = null;
  try {
    return fn();
  } finally {
    tape = prev;
  }
}

/** Runs fn with buffers taken from `a` (call `a.reset()` before a pass that may reuse the last one's). */
export function withArena<R>(a: Arena | null, fn: () => R): R {
  const prev = arena;
  arena = a;
  try {
    return fn();
  } finally {
    arena = prev;
  }
}

/** Whether a tape is recording (ops keep what their backward needs). */
export function isRecording(): boolean {
  return tape !== null;
}

/** The arena buffers come from now, or null (plain allocation). */
export function currentArena(): Arena | null {
  return arena;
}

/** Whether an op with these inputs must record its backward. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (tape === null) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/** Pushes an op's backward closure, which consumes output's gradient, on the recording tape. */
export function record(output: Tensor, closure: () => void): void {
  tape!.entries.push({ output, closure });
}

/** A buffer of n elements of the same float type as `like`; contents undefined unless zero. */
export function alloc(like: FloatArray, n: number, zero = false): FloatArray {
  const f64 = like instanceof Float64Array;
  if (arena !== null) return arena.take(f64, n, zero);
  return f64 ? new Float64Array(n) : new Float32Array(n);
}

/** The gradient buffer of t, allocated (zero-filled) the first time a backward closure needs it. */
export function gradOf(t: Tensor): FloatArray {
  let g = t.grad;
  if (g === null) {
    g = pool !== null ? pool.take(t.data instanceof Float64Array, t.size) : alloc(t.data, t.size, true);
    t.grad = g;
  }
  return g;
}

/** Backward from a scalar (or from `seed` as the output's gradient), through everything `t` recorded. */
export function backward(t: Tape, out: Tensor, seed?: FloatArray): void {
  const g = gradOf(out);
  if (seed) {
    if (seed.length !== g.length) throw new Error(`backward: seed has ${seed.length} elements, output has ${g.length}`);
    for (let i = 0; i < g.length; i++) g[i] += seed[i];
  } else {
    if (out.size !== 1) throw new Error(`backward: output has ${out.size} elements; pass its gradient as seed`);
    g[0] += 1;
  }
  t.backward();
}

/**
 * Activation checkpointing (HF's `gradient_checkpointing`): y = fn(x) computed without keeping fn's
 * activations -- they live in `scratch`, reset on each use -- and the backward recomputes fn(x) under a tape
 * of its own in `scratch`, then runs that tape. Memory: fn's activations once, not once per call; cost: fn
 * runs twice. `fn(x, replay)` must compute the same function both times (replay true the second time: a
 * caller drawing dropout masks replays its generator's state). Without a recording tape, fn(x) as is.
 */
export function checkpoint(x: Tensor, scratch: Arena, fn: (x: Tensor, replay: boolean) => Tensor): Tensor {
  if (tape === null) return fn(x, false);
  scratch.reset();
  const y = noGrad(() => withArena(scratch, () => fn(x, false)));
  const out = new Tensor(y.shape, alloc(y.data, y.size), true);
  out.data.set(y.data);
  record(out, () => {
    const dy = out.grad;
    if (dy === null) return;
    scratch.reset();
    // xi shares x's data and gradient: the recomputed ops add into x's gradient directly
    const xi = new Tensor(x.shape, x.data, x.requiresGrad, x.requiresGrad ? gradOf(x) : null);
    const inner = new Tape();
    const yi = withArena(scratch, () => recording(inner, () => fn(xi, true)));
    gradOf(yi).set(dy);
    withArena(scratch, () => inner.backward(pool, false));
  });
  return out;
}
