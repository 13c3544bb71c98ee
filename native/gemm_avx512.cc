// AVX-512 microkernel: an MR x (16 NV) tile of C in MR * NV zmm accumulators, row-major; B rows are loaded
// as NV vectors and each A element broadcast. Compiled with -mavx512f; only called when the CPU has it
// (gemm.cc checks at run time).
#include <immintrin.h>

#include "gemm_pack.h"
#include "lgrpo.h"

namespace lg {
namespace {

#ifndef LG_AVX512_MR
#define LG_AVX512_MR 8
#endif
#ifndef LG_AVX512_NV
#define LG_AVX512_NV 3
#endif
const int MR = LG_AVX512_MR;
const int NV = LG_AVX512_NV;
const int NR = 16 * NV;

void microkernel_avx512(long kc, const float* Ap, const float* Bp, long ldb, float* C, long ldc, float alpha,
                        float beta) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
  for (long k = 0; k < kc; k++) {
    __m512 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) b[v] = _mm512_loadu_ps(Bp + 16 * v);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      __m512 a = _mm512_set1_ps(Ap[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
    }
    Ap += MR;
    Bp += ldb;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
    float* c = C + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      if (beta == 0.0f)
        _mm512_storeu_ps(c + 16 * v, _mm512_mul_ps(va, acc[i][v]));
      else
        _mm512_storeu_ps(c + 16 * v, _mm512_fmadd_ps(va, acc[i][v], _mm512_mul_ps(vb, _mm512_loadu_ps(c + 16 * v))));
    }
  }
}

}  // namespace

// 8 x 48: 24 accumulators; 8 rows make the A pack a plain 8 x 8 transpose, and GPT-2's widths (768,
// 2304, 3072) are multiples of 48. Blocking measured on Zen 4 (32 KiB L1d, 1 MiB L2): kc = 256 (a 48 KiB B
// micro-panel, streamed from L2 fast enough) beat kc = 128 when M is small and K large.
const GemmKernel gemm_kernel_avx512 = {MR, NR, 96, 256, 3072, microkernel_avx512, pack::pack_a<MR>, pack::pack_b<NR>};

}  // namespace lg
