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

// ISA_AMX: AVX-512 plus AMX tiles for the products that are big enough (gemm_amx.cc, float32 accuracy).
enum Isa { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_AMX = 3 };
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

// C[m0:m1, n0:n1] = alpha * op(A) op(B) + beta * C on one thread (gemm.cc's float32 path for one
// rectangle of C).
typedef void (*FloatBlock)(bool ta, bool tb, long m0, long m1, long n0, long n1, long K, float alpha,
                           const float* A, long lda, const float* B, long ldb, float beta, float* C, long ldc);

// AMX (gemm_amx.cc, compiled with -mamx-tile -mamx-bf16): whether the CPU has AMX-BF16 and this process
// may use the tiles (Linux grants them on request), and a FloatBlock for beta 0, or alpha 1 and beta 1,
// that hands the blocks whose operands hold an infinity, a NaN or a float above 3.3e38 to `finish`.
bool amx_available();
void gemm_block_amx(bool ta, bool tb, long m0, long m1, long n0, long n1, long K, float alpha, const float* A,
                    long lda, const float* B, long ldb, float beta, float* C, long ldc, FloatBlock finish);

// ---------------------------------------------------------------------------------------------------
// The other kernels (kernels_impl.h, built twice; kernels.cc dispatches); shapes as in docs/KERNELS.md.
// Their declarations live in kernels_decl.h, which kernels.cc also includes in each build's namespace.

// Whether the AVX2 build of the kernels below is in use.
bool kernels_use_avx2();

#include "kernels_decl.h"

}  // namespace lg
