// AVX2 + FMA microkernel: 6 x 16 tile of C in 12 ymm accumulators (BLIS haswell sgemm shape, row-major).
// Compiled with -mavx2 -mfma; only called when the CPU has them (gemm.cc checks at run time).
#include <immintrin.h>

#include "gemm_pack.h"
#include "lgrpo.h"

namespace lg {
namespace {

const int MR = 6;
const int NR = 16;

void microkernel_avx2(long kc, const float* Ap, const float* Bp, long ldb, float* C, long ldc, float alpha,
                        float beta) {
  // The C tile is read (beta != 0) and written only after the k loop: start fetching it now.
  for (int i = 0; i < MR; i++) {
    _mm_prefetch((const char*)(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char*)(C + i * ldc + 8), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (long k = 0; k < kc; k++) {
    __m256 b0 = _mm256_loadu_ps(Bp);
    __m256 b1 = _mm256_loadu_ps(Bp + 8);
    __m256 a;
    a = _mm256_broadcast_ss(Ap + 0); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(Ap + 1); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(Ap + 2); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(Ap + 3); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(Ap + 4); c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(Ap + 5); c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
    Ap += MR;
    Bp += ldb;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 vb = _mm256_set1_ps(beta);
#define LG_STORE_ROW(i, r0, r1)                                                          \
  {                                                                                      \
    float* c = C + (i) * ldc;                                                            \
    if (beta == 0.0f) {                                                                  \
      _mm256_storeu_ps(c, _mm256_mul_ps(va, r0));                                        \
      _mm256_storeu_ps(c + 8, _mm256_mul_ps(va, r1));                                    \
    } else {                                                                             \
      _mm256_storeu_ps(c, _mm256_fmadd_ps(va, r0, _mm256_mul_ps(vb, _mm256_loadu_ps(c))));         \
      _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(va, r1, _mm256_mul_ps(vb, _mm256_loadu_ps(c + 8)))); \
    }                                                                                    \
  }
  LG_STORE_ROW(0, c00, c01)
  LG_STORE_ROW(1, c10, c11)
  LG_STORE_ROW(2, c20, c21)
  LG_STORE_ROW(3, c30, c31)
  LG_STORE_ROW(4, c40, c41)
  LG_STORE_ROW(5, c50, c51)
#undef LG_STORE_ROW
}

}  // namespace

// kc * NR * 4 bytes = 16 KiB of B micro-panel in L1; mc * kc * 4 = 144 KiB of A block in L2.
const GemmKernel gemm_kernel_avx2 = {MR, NR, 144, 256, 3072, microkernel_avx2, pack::pack_a<MR>, pack::pack_b<NR>,
                                     nullptr, 0};

}  // namespace lg
