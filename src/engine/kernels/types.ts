/**
 * The kernel interface shared by the native addon (native/*.cc) and the TypeScript fallback (ts.ts).
 * The contract of each kernel is docs/KERNELS.md; the comments here repeat the buffer shapes.
 *
 * Conventions: row-major; any buffer may be a subarray view; "acc" means the kernel adds into the
 * output (gradients accumulate). A call with any Float64Array always runs on the fallback.
 */

/** A float buffer: Float32Array everywhere in the engine, Float64Array for gradient checks. */
export type F = Float32Array | Float64Array;

export interface Kernels {
  /** "native" or "ts" */
  readonly name: string;

  /**
   * C[M,N] = alpha * op(A) op(B) + beta * C. op(A) is [M,K] (A stored [K,M] when tA), op(B) is [K,N]
   * (B stored [N,K] when tB). beta = 0 ignores C's old contents (NaN included).
   */
  gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: F, B: F, beta: number, C: F): void;
  /** gemm on `batch` matrices; matrix i of A starts at element i * strideA (likewise B, C). */
  gemmBatched(
    tA: boolean, tB: boolean, batch: number, M: number, N: number, K: number,
    alpha: number, A: F, strideA: number, B: F, strideB: number, beta: number, C: F, strideC: number,
  ): void;

  /** x, out [N,C]; w, b [C]; saves mean, rstd [N] */
  layerNormForward(x: F, w: F, b: F, eps: number, N: number, C: number, out: F, mean: F, rstd: F): void;
  /** dout, x [N,C]; w [C]; mean, rstd [N]; dx acc [N,C]; dw, db acc [C] */
  layerNormBackward(dout: F, x: F, w: F, mean: F, rstd: F, N: number, C: number, dx: F, dw: F, db: F): void;
  /** x, out [N,C]; w [C]; saves rstd [N] */
  rmsNormForward(x: F, w: F, eps: number, N: number, C: number, out: F, rstd: F): void;
  /** dx acc [N,C]; dw acc [C] */
  rmsNormBackward(dout: F, x: F, w: F, rstd: F, N: number, C: number, dx: F, dw: F): void;

  /** GELU, tanh approximation (GPT-2's); x, out [n] */
  geluForward(x: F, out: F, n: number): void;
  /** dx acc [n] */
  geluBackward(x: F, dout: F, dx: F, n: number): void;
  /** SiLU x * sigmoid(x) */
  siluForward(x: F, out: F, n: number): void;
  /** dx acc [n] */
  siluBackward(x: F, dout: F, dx: F, n: number): void;
  /** SwiGLU's gate: out = silu(gate) * up; gate, up, out [n] */
  swigluForward(gate: F, up: F, out: F, n: number): void;
  /** dgate, dup acc [n] */
  swigluBackward(gate: F, up: F, dout: F, dgate: F, dup: F, n: number): void;

  /**
   * RoPE's rotation (rotate-half): rows r < R of x, `stride` elements apart, hold H heads of D at h*D; in
   * each head the pair (i, i + D/2) turns by angle a with cos a, sin a from row (perRow ? r : r % T) of
   * cos, sin [*, D/2], times sign (-1: the backward). out may be x; acc adds into out.
   */
  ropeRotate(x: F, out: F, R: number, H: number, D: number, stride: number, cos: F, sin: F, T: number, perRow: boolean, sign: number, acc: boolean): void;

  /**
   * Causal self-attention. qkv [B,T,3C] packed q,k,v; head size C/NH; out [B,T,C]; att [B,NH,T,T] saves
   * the softmax probabilities (0 above the diagonal). lengths [B] or null: key positions >= lengths[b]
   * are masked, query rows >= lengths[b] give 0.
   */
  attentionForward(qkv: F, B: number, T: number, C: number, NH: number, lengths: Int32Array | null, out: F, att: F): void;
  /** dout [B,T,C]; qkv [B,T,3C]; att [B,NH,T,T] from the forward; dqkv acc [B,T,3C] */
  attentionBackward(
    dout: F, qkv: F, att: F, B: number, T: number, C: number, NH: number, lengths: Int32Array | null, dqkv: F,
  ): void;
  /**
   * One new query per row: q [B,C]; kCache, vCache [B,NH,Tmax,hs]; attends to positions 0..pos[b]
   * inclusive (the new token's k, v already written at pos[b]); out [B,C].
   */
  attentionDecode(q: F, kCache: F, vCache: F, B: number, C: number, NH: number, Tmax: number, pos: Int32Array, out: F): void;
  /**
   * Grouped-query causal attention: q [B,T,H*D], k, v [B,T,KV*D] (H % KV == 0; query head h reads KV
   * head h / (H/KV)); scale 1/sqrt(D); out [B,T,H*D]; att [B,H,T,T] as attentionForward's; lengths
   * as attentionForward's.
   */
  gqaAttentionForward(
    q: F, k: F, v: F, B: number, T: number, H: number, KV: number, D: number, lengths: Int32Array | null, out: F, att: F,
  ): void;
  /** dout [B,T,H*D]; att from the forward; dq acc [B,T,H*D]; dk, dv acc [B,T,KV*D] */
  gqaAttentionBackward(
    dout: F, q: F, k: F, v: F, att: F, B: number, T: number, H: number, KV: number, D: number, lengths: Int32Array | null,
    dq: F, dk: F, dv: F,
  ): void;
  /** One new query per row: q [B,H*D]; kCache, vCache [B,KV,Tmax,D] (KV heads only); out [B,H*D]. */
  gqaAttentionDecode(
    q: F, kCache: F, vCache: F, B: number, H: number, KV: number, D: number, Tmax: number, pos: Int32Array, out: F,
  ): void;

  /**
   * Per row of logits [N,V], scaled by invTemperature and restricted to allowed[v] = 1 when allowed is
   * given: logprobs[n] = log p(targets[n]) (a negative target gives 0), entropy[n] in nats; probs [N,V]
   * (may be null, or logits itself: in place) receives p (0 where not allowed) for the backward.
   */
  logSoftmaxGather(
    logits: F, N: number, V: number, targets: Int32Array, invTemperature: number, allowed: Uint8Array | null,
    logprobs: F, entropy: F, probs: F | null,
  ): void;
  /** dlogits acc [N,V] += dlogprobs[n] * invTemperature * (onehot(targets[n]) - probs[n]) */
  logSoftmaxGatherBackward(
    probs: F, targets: Int32Array, dlogprobs: F, N: number, V: number, invTemperature: number, dlogits: F,
  ): void;
  /**
   * The same gradient written over probs [N,V]: row n becomes dlogprobs[n] * invTemperature *
   * (onehot(targets[n]) - probs[n]), or 0 when targets[n] < 0 (one [N,V] buffer serves both).
   */
  logSoftmaxGatherBackwardInPlace(
    probs: F, targets: Int32Array, dlogprobs: F, N: number, V: number, invTemperature: number,
  ): void;

  /** out[b,t] = wte[tokens[b,t]] + wpe[t]; tokens [B,T]; wte [V,C]; wpe [>=T,C]; out [B,T,C] */
  embeddingForward(tokens: Int32Array, wte: F, wpe: F, B: number, T: number, C: number, out: F): void;
  /** scatter-add: dwte [V,C] acc, dwpe [>=T,C] acc */
  embeddingBackward(tokens: Int32Array, dout: F, B: number, T: number, C: number, dwte: F, dwpe: F): void;

  /**
   * In place, PyTorch AdamW semantics; `step` counts from 1. The gradient used is gradScale * grad (the
   * global-norm clip's coefficient, 1 for none); grad itself is left as it is.
   */
  adamw(
    param: F, grad: F, m: F, v: F, n: number, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, step: number, gradScale: number,
  ): void;

  /** out = a + b */
  add(a: F, b: F, out: F, n: number): void;
  /** a += b */
  addInPlace(a: F, b: F, n: number): void;
  /** a *= s */
  scale(a: F, s: number, n: number): void;
  /** sum of a[i]^2, accumulated in float64 */
  sumSquares(a: F, n: number): number;
  /** x [N,C] += bias [C], in place */
  biasAdd(x: F, bias: F, N: number, C: number): void;
  /** dbias acc [C] += column sums of dout [N,C] */
  biasBackward(dout: F, N: number, C: number, dbias: F): void;
}

/** What `lambda-grpo info` shows about the kernels in use. */
export interface KernelInfo {
  name: "native" | "ts";
  isa: "amx" | "avx512" | "avx2" | "scalar";
  threads: number;
}
