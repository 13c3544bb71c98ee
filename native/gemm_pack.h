// Packing of A and B panels for the GEMM microkernels (see gemm.cc), templated on the tile shape and
// included by each microkernel's translation unit, so that it is compiled with that unit's -m flags.
#pragma once

#include <cstring>

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace lg {
namespace pack {

#if defined(__AVX__)
// dst[c * ldd + r] = src[r * ld + c] for an 8 x 8 block.
inline void transpose8x8(const float* src, long ld, float* dst, long ldd) {
  __m256 r0 = _mm256_loadu_ps(src + 0 * ld), r1 = _mm256_loadu_ps(src + 1 * ld);
  __m256 r2 = _mm256_loadu_ps(src + 2 * ld), r3 = _mm256_loadu_ps(src + 3 * ld);
  __m256 r4 = _mm256_loadu_ps(src + 4 * ld), r5 = _mm256_loadu_ps(src + 5 * ld);
  __m256 r6 = _mm256_loadu_ps(src + 6 * ld), r7 = _mm256_loadu_ps(src + 7 * ld);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}
#endif

// out[k][R] (R lanes, zero-padded past `rows`) = src[r * ld + k] for r < rows, k < kc: a transposing pack.
template <int R>
inline void pack_rows_transposed(const float* src, long ld, int rows, long kc, float* out) {
  long k = 0;
#if defined(__AVX__)
  if (rows == R && R % 8 == 0) {
    for (; k + 8 <= kc; k += 8)
      for (int r = 0; r < R; r += 8) transpose8x8(src + r * ld + k, ld, out + k * R + r, R);
  }
#endif
  for (; k < kc; k++) {
    float* d = out + k * R;
    int r = 0;
    for (; r < rows; r++) d[r] = src[r * ld + k];
    for (; r < R; r++) d[r] = 0.0f;
  }
}

// out[k][R] = src[k * ld + r] for r < cols (zero-padded): a copying pack.
template <int R>
inline void pack_rows_copied(const float* src, long ld, int cols, long kc, float* out) {
  if (cols == R) {
    for (long k = 0; k < kc; k++) std::memcpy(out + k * R, src + k * ld, sizeof(float) * R);
  } else {
    for (long k = 0; k < kc; k++) {
      float* d = out + k * R;
      const float* s = src + k * ld;
      int r = 0;
      for (; r < cols; r++) d[r] = s[r];
      for (; r < R; r++) d[r] = 0.0f;
    }
  }
}

// Rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) -> micro-panels [kc][MR].
template <int MR>
void pack_a(bool ta, const float* A, long lda, long i0, long mc, long p0, long kc, float* out) {
  for (long ir = 0; ir < mc; ir += MR) {
    int mr = mc - ir < MR ? (int)(mc - ir) : MR;
    if (!ta)
      pack_rows_transposed<MR>(A + (i0 + ir) * lda + p0, lda, mr, kc, out + ir * kc);
    else
      pack_rows_copied<MR>(A + p0 * lda + i0 + ir, lda, mr, kc, out + ir * kc);
  }
}

// Rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) -> micro-panels [kc][NR].
template <int NR>
void pack_b(bool tb, const float* B, long ldb, long p0, long kc, long j0, long nc, float* out) {
  for (long jr = 0; jr < nc; jr += NR) {
    int nr = nc - jr < NR ? (int)(nc - jr) : NR;
    if (!tb)
      pack_rows_copied<NR>(B + p0 * ldb + j0 + jr, ldb, nr, kc, out + jr * kc);
    else
      pack_rows_transposed<NR>(B + (j0 + jr) * ldb + p0, ldb, nr, kc, out + jr * kc);
  }
}

}  // namespace pack
}  // namespace lg
