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
  // The C tile is read (beta != 0) and written only after the k loop: start fetching it now.
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) _mm_prefetch((const char*)(C + i * ldc + 16 * v), _MM_HINT_T0);
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

// Rows 0..MB of C at columns j..j+JB: MB * JB accumulators of 16 partial sums along K, then reduced.
template <int MB, int JB>
inline void nt_block(long j, long K, float alpha, const float* A, long lda, const float* B, long ldb, float beta,
                     float* C, long ldc) {
  __m512 acc[MB][JB];
#pragma GCC unroll 8
  for (int i = 0; i < MB; i++)
#pragma GCC unroll 4
    for (int jb = 0; jb < JB; jb++) acc[i][jb] = _mm512_setzero_ps();
  long k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 b[JB];
#pragma GCC unroll 4
    for (int jb = 0; jb < JB; jb++) b[jb] = _mm512_loadu_ps(B + (j + jb) * ldb + k);
#pragma GCC unroll 8
    for (int i = 0; i < MB; i++) {
      __m512 a = _mm512_loadu_ps(A + i * lda + k);
#pragma GCC unroll 4
      for (int jb = 0; jb < JB; jb++) acc[i][jb] = _mm512_fmadd_ps(a, b[jb], acc[i][jb]);
    }
  }
  if (k < K) {
    __mmask16 m = (__mmask16)((1u << (K - k)) - 1);
    __m512 b[JB];
#pragma GCC unroll 4
    for (int jb = 0; jb < JB; jb++) b[jb] = _mm512_maskz_loadu_ps(m, B + (j + jb) * ldb + k);
#pragma GCC unroll 8
    for (int i = 0; i < MB; i++) {
      __m512 a = _mm512_maskz_loadu_ps(m, A + i * lda + k);
#pragma GCC unroll 4
      for (int jb = 0; jb < JB; jb++) acc[i][jb] = _mm512_fmadd_ps(a, b[jb], acc[i][jb]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MB; i++) {
#pragma GCC unroll 4
    for (int jb = 0; jb < JB; jb++) {
      float s = _mm512_reduce_add_ps(acc[i][jb]);
      float* c = C + i * ldc + j + jb;
      *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
    }
  }
}

template <int MB>
void nt_rows(long n0, long n1, long K, float alpha, const float* A, long lda, const float* B, long ldb, float beta,
             float* C, long ldc) {
  const int JB = MB <= 6 ? 4 : 3;  // MB * JB <= 24 accumulators
  long j = n0;
  for (; j + JB <= n1; j += JB) nt_block<MB, JB>(j, K, alpha, A, lda, B, ldb, beta, C, ldc);
  for (; j < n1; j++) nt_block<MB, 1>(j, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void small_nt_avx512(long M, long n0, long n1, long K, float alpha, const float* A, long lda, const float* B, long ldb,
                     float beta, float* C, long ldc) {
  switch (M) {
    case 1: nt_rows<1>(n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 2: nt_rows<2>(n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 3: nt_rows<3>(n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 4: nt_rows<4>(n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 5: nt_rows<5>(n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 6: nt_rows<6>(n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 7: nt_rows<7>(n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    default: nt_rows<8>(n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
  }
}

}  // namespace

// 8 x 48: 24 accumulators; 8 rows make the A pack a plain 8 x 8 transpose, and GPT-2's widths (768,
// 2304, 3072) are multiples of 48. Blocking measured on Zen 4 (32 KiB L1d, 1 MiB L2), one thread, GFLOP
// per CPU-second: kc = 256 (a 48 KiB B micro-panel, streamed from L2 fast enough) beat kc = 128 when M is
// small and K large; nc = 768 keeps the packed B panel (768 KiB) in L2 (64x768x3072: ~83 vs ~79 at
// nc = 3072; 768^3 unchanged at ~97-100 of a ~115 peak).
const GemmKernel gemm_kernel_avx512 = {MR, NR, 96, 256, 768, microkernel_avx512, pack::pack_a<MR>, pack::pack_b<NR>,
                                       small_nt_avx512, 8};

}  // namespace lg
