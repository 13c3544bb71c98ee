// lambda-grpo native kernels: shared declarations.
// The kernels are plain C++ on raw float pointers (row-major, element strides); addon.cc validates the
// JavaScript arguments and calls them. See docs/KERNELS.md for the contract of each kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace lg {

// ---------------------------------------------------------------------------------------------------
// Thread pool (pool.cc): a few persistent workers plus the calling thread. `parallel_for(n, fn)` runs
// fn(0..n-1), each index exactly once, and returns when all are done. Which thread runs an index is not
// fixed, so every caller makes each output element depend on its index only: results never depend on
// the thread count.

int num_threads();
void set_num_threads(int n);
void parallel_for(int ntasks, const std::function<void(int)>& fn);

// ---------------------------------------------------------------------------------------------------
// GEMM (gemm.cc): C[M,N] = alpha * op(A) op(B) + beta * C with leading dimensions (row strides).
// op(A) is [M,K] (A stored [K,M] when ta), op(B) is [K,N] (B stored [N,K] when tb). beta = 0 ignores
// C's old contents. `threads` = 0 uses the pool (when the problem is big enough), 1 runs serially (used
// inside kernels that are themselves parallel).

void sgemm(bool ta, bool tb, long M, long N, long K, float alpha, const float* A, long lda, const float* B,
           long ldb, float beta, float* C, long ldc, int threads = 0);

enum Isa { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };
Isa gemm_isa();
// Force a microkernel (tests, benchmarks); returns false if this CPU cannot run it.
bool set_gemm_isa(Isa isa);

// A microkernel computes one MR x NR tile over kc: C = alpha * Ap Bp + beta * C, where Ap is packed
// [kc][MR] and Bp holds kc rows of NR floats, ldb apart (NR when packed; B's own row stride when B is
// read in place); beta = 0 means C is not read.
typedef void (*MicroKernel)(long kc, const float* Ap, const float* Bp, long ldb, float* C, long ldc, float alpha,
                            float beta);
// Packs rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) into micro-panels [kc][MR] (zero-padded rows).
typedef void (*PackA)(bool ta, const float* A, long lda, long i0, long mc, long p0, long kc, float* out);
// Packs rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) into micro-panels [kc][NR] (zero-padded columns).
typedef void (*PackB)(bool tb, const float* B, long ldb, long p0, long kc, long j0, long nc, float* out);

// C[0:M, n0:n1] = alpha * A B^T + beta * C for M <= small_nt_max_m, A [M,K] and B [N,K] read in place
// (rows lda / ldb apart): dot products along K. For a few rows against a big B stored [N,K] (the LM head
// while decoding) this reads B once instead of transposing it into packed panels.
typedef void (*SmallNT)(long M, long n0, long n1, long K, float alpha, const float* A, long lda, const float* B,
                        long ldb, float beta, float* C, long ldc);

struct GemmKernel {
  int mr, nr;
  long mc, kc, nc;  // cache blocking: A block mc x kc (L2), B panel kc x nc (L3), B micro-panel kc x nr (L1)
  MicroKernel kernel;
  PackA pack_a;
  PackB pack_b;
  SmallNT small_nt;  // may be null
  long small_nt_max_m;
};

// Defined in gemm_avx2.cc / gemm_avx512.cc, compiled with their own -m flags; only called when
// __builtin_cpu_supports says the CPU has the instructions.
extern const GemmKernel gemm_kernel_avx2;
extern const GemmKernel gemm_kernel_avx512;

// ---------------------------------------------------------------------------------------------------
// The other kernels (kernels_impl.h, built twice; kernels.cc dispatches); shapes as in docs/KERNELS.md.

// Whether the AVX2 build of the kernels below is in use.
bool kernels_use_avx2();

// x, out [N,C]; w, b [C]; mean, rstd [N] saved for the backward
void layernorm_forward(const float* x, const float* w, const float* b, float eps, long N, long C, float* out,
                       float* mean, float* rstd);
// dout, x, dx [N,C]; w, dw, db [C]; mean, rstd [N]; dx, dw, db accumulate
void layernorm_backward(const float* dout, const float* x, const float* w, const float* mean, const float* rstd,
                        long N, long C, float* dx, float* dw, float* db);
// x, out [N,C]; w [C]; rstd [N] saved
void rmsnorm_forward(const float* x, const float* w, float eps, long N, long C, float* out, float* rstd);
// dout, x, dx [N,C]; w, dw [C]; rstd [N]; dx, dw accumulate
void rmsnorm_backward(const float* dout, const float* x, const float* w, const float* rstd, long N, long C,
                      float* dx, float* dw);
// elementwise over n; the backwards accumulate into dx
void gelu_forward(const float* x, float* out, long n);
void gelu_backward(const float* x, const float* dout, float* dx, long n);
void silu_forward(const float* x, float* out, long n);
void silu_backward(const float* x, const float* dout, float* dx, long n);
// qkv [B,T,3C] (q, k, v of each position side by side); out [B,T,C]; att [B,NH,T,T] softmax
// probabilities saved for the backward; lengths [B] or null (keys >= lengths[b] masked, rows >= it zero)
void attention_forward(const float* qkv, long B, long T, long C, long NH, const int32_t* lengths, float* out,
                       float* att);
// dout [B,T,C]; qkv [B,T,3C]; att [B,NH,T,T] from the forward; dqkv [B,T,3C] accumulates
void attention_backward(const float* dout, const float* qkv, const float* att, long B, long T, long C, long NH,
                        const int32_t* lengths, float* dqkv);
// q, out [B,C]; kcache, vcache [B,NH,Tmax,C/NH]; row b attends to cache positions 0..pos[b]
void attention_decode(const float* q, const float* kcache, const float* vcache, long B, long C, long NH, long Tmax,
                      const int32_t* pos, float* out);
// logits [N,V]; targets [N] (negative: logprob 0); allowed [V] or null; logprobs, entropy [N];
// probs [N,V] or null
void log_softmax_gather(const float* logits, long N, long V, const int32_t* targets, float inv_temperature,
                        const uint8_t* allowed, float* logprobs, float* entropy, float* probs);
// probs, dlogits [N,V]; targets, dlogprobs [N]; dlogits accumulates
void log_softmax_gather_backward(const float* probs, const int32_t* targets, const float* dlogprobs, long N, long V,
                                 float inv_temperature, float* dlogits);
// tokens [B,T]; wte [V,C]; wpe [>=T,C]; out [B,T,C]
void embedding_forward(const int32_t* tokens, const float* wte, const float* wpe, long B, long T, long C, float* out);
// tokens [B,T]; dout [B,T,C]; dwte [V,C], dwpe [>=T,C] accumulate
void embedding_backward(const int32_t* tokens, const float* dout, long B, long T, long C, float* dwte, float* dwpe);
// param, grad, m, v [n], updated in place; step counts from 1
void adamw(float* param, const float* grad, float* m, float* v, long n, float lr, float beta1, float beta2, float eps,
           float weight_decay, long step);
// elementwise over n
void add(const float* a, const float* b, float* out, long n);
void add_inplace(float* a, const float* b, long n);
void scale(float* a, float s, long n);
double sum_squares(const float* a, long n);
// x [N,C] += bias [C]; dbias [C] += column sums of dout [N,C]
void bias_add(float* x, const float* bias, long N, long C);
void bias_backward(const float* dout, long N, long C, float* dbias);

}  // namespace lg
