// Packed, cache-blocked GEMM in the GotoBLAS/BLIS style, row-major.
//
//   for jc in N step nc:                  B panel   [kc x nc]  packed once per (jc, pc), stays in L3/L2
//     for pc in K step kc:
//       pack B[pc:pc+kc, jc:jc+nc]  ->  nc/NR micro-panels [kc][NR]
//       for ic in M step mc:              A block   [mc x kc]  packed, stays in L2
//         pack A[ic:ic+mc, pc:pc+kc] ->  mc/MR micro-panels [kc][MR]
//         for jr, ir: microkernel(MR x NR tile, kc)  B micro-panel stays in L1
//
// Transposes are handled by the packing alone. Threads own rectangles of C (split over M and N, never
// over K), and every element is computed by the same sequence of operations whatever rectangle it falls
// in (kc blocks start at 0, edge tiles go through the same microkernel on a scratch tile), so the result
// is bit-identical for any thread count.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gemm_pack.h"
#include "lgrpo.h"
#include "scratch.h"

namespace lg {
namespace {

// Below this many flops (2MNK) a product runs on the calling thread: waking the pool costs ~10-20 us.
const double kParallelFlops = 4.0e6;
// Each thread gets at least this many flops, so a medium product uses fewer threads than the pool has.
const double kFlopsPerThread = 2.0e6;
// Rectangles of C per thread (handed out dynamically), each of at least kFlopsPerTask.
const double kTasksPerThread = 4;
const double kFlopsPerTask = 1.0e6;
// The largest B (floats) that a product with a few rows reads in place rather than packs (gemm_block):
// 1 MiB, a cache-resident matrix (the toy's [128, 384] weights are 48K floats; GPT-2's [768, 2304] 1.8M).
const long kDirectMaxB = 1L << 18;
// The smallest product that goes to AMX tiles (ISA_AMX). Its packs split every float of A and B in three
// bf16 parts (0.2-0.3 ns a float in cache), so the tiles pay once each value is used often enough.
// Measured on a 2-core Xeon VM with AMX against the AVX-512 path: from M 128 up AMX was 1.1-1.9x faster,
// at N 16-64 too (6144 x 64 x 1536, LoRA's rank: 1.4-1.9x; 6144 x 16 x 1536: 1.1-1.5x); at M 96 it was
// 0.9-1.8x, at M 64 0.7-1.3x and at M 32 0.7x; 128 x 128 x 128 was even.
const long kAmxMinM = 128;
const long kAmxMinN = 16;
const long kAmxMinK = 64;
const double kAmxMinFlops = 1.0e7;

// ----- portable microkernel: 4 x 16, written so the compiler can vectorise the inner row update.
const int kScalarMR = 4;
const int kScalarNR = 16;

void microkernel_scalar(long kc, const float* Ap, const float* Bp, long ldb, float* C, long ldc, float alpha,
                        float beta) {
  float acc[kScalarMR][kScalarNR];
  for (int i = 0; i < kScalarMR; i++)
    for (int j = 0; j < kScalarNR; j++) acc[i][j] = 0.0f;
  for (long k = 0; k < kc; k++) {
    const float* b = Bp + k * ldb;
    const float* a = Ap + k * kScalarMR;
    for (int i = 0; i < kScalarMR; i++) {
      float ai = a[i];
      for (int j = 0; j < kScalarNR; j++) acc[i][j] += ai * b[j];
    }
  }
  for (int i = 0; i < kScalarMR; i++) {
    float* c = C + i * ldc;
    if (beta == 0.0f)
      for (int j = 0; j < kScalarNR; j++) c[j] = alpha * acc[i][j];
    else
      for (int j = 0; j < kScalarNR; j++) c[j] = alpha * acc[i][j] + beta * c[j];
  }
}

const GemmKernel gemm_kernel_scalar = {kScalarMR, kScalarNR, 128, 256, 4096, microkernel_scalar,
                                       pack::pack_a<kScalarMR>, pack::pack_b<kScalarNR>, nullptr, 0};

Isa detect_isa() {
#if defined(LG_HAVE_X86_KERNELS)
  __builtin_cpu_init();
  if (const char* s = std::getenv("LAMBDA_GRPO_ISA")) {  // force a lower path (tests, benchmarks)
    if (std::strcmp(s, "scalar") == 0) return ISA_SCALAR;
    if (std::strcmp(s, "avx2") == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
    if (std::strcmp(s, "avx512") == 0 && __builtin_cpu_supports("avx512f")) return ISA_AVX512;
  }
  if (amx_available()) return ISA_AMX;
  if (__builtin_cpu_supports("avx512f")) return ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
  return ISA_SCALAR;
}

bool isa_available(Isa isa) {
#if defined(LG_HAVE_X86_KERNELS)
  __builtin_cpu_init();
  if (isa == ISA_AMX) return amx_available();
  if (isa == ISA_AVX512) return __builtin_cpu_supports("avx512f");
  if (isa == ISA_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return isa == ISA_SCALAR;
}

Isa g_isa = detect_isa();

const GemmKernel& base_kernel(Isa isa) {
#if defined(LG_HAVE_X86_KERNELS)
  if (isa == ISA_AVX512 || isa == ISA_AMX) return gemm_kernel_avx512;
  if (isa == ISA_AVX2) return gemm_kernel_avx2;
#endif
  return gemm_kernel_scalar;
}

// LAMBDA_GRPO_GEMM_BLOCKING="mc,kc,nc" overrides the cache blocking (for tuning on a new CPU).
GemmKernel kernel_for(Isa isa) {
  GemmKernel gk = base_kernel(isa);
  static const char* env = std::getenv("LAMBDA_GRPO_GEMM_BLOCKING");
  long mc, kc, nc;
  if (env != nullptr && std::sscanf(env, "%ld,%ld,%ld", &mc, &kc, &nc) == 3 && mc > 0 && kc > 0 && nc > 0) {
    gk.mc = (mc + gk.mr - 1) / gk.mr * gk.mr;
    gk.kc = kc;
    gk.nc = (nc + gk.nr - 1) / gk.nr * gk.nr;
  }
  return gk;
}

// Per-thread packing buffers, grown on demand and kept (calls are frequent).
struct PackBuffers {
  Scratch<float> a, b;
};
thread_local PackBuffers t_buf;

// C[m0:m1, n0:n1] of the product, on this thread.
void gemm_block(const GemmKernel& gk, bool ta, bool tb, long m0, long m1, long n0, long n1, long K, float alpha,
                const float* A, long lda, const float* B, long ldb, float beta, float* C, long ldc) {
  const int MR = gk.mr, NR = gk.nr;
  const long MC = gk.mc, KC = gk.kc, NC = gk.nc;
  long kcmax = std::min(KC, K);
  float* bp = t_buf.b.grow((size_t)kcmax * (size_t)(std::min(NC, n1 - n0) + NR));
  float* ap = t_buf.a.grow((size_t)kcmax * (size_t)(std::min(MC, m1 - m0) + MR));
  alignas(64) float tile[32 * 64];  // scratch for edge tiles (MR <= 32, NR <= 64)
  for (long jc = n0; jc < n1; jc += NC) {
    long nc = std::min(NC, n1 - jc);
    for (long pc = 0; pc < K; pc += KC) {
      long kc = std::min(KC, K - pc);
      float beta_eff = pc == 0 ? beta : 1.0f;
      // With a few rows of C (decoding) each element of B is used once or twice. A B small enough to sit
      // in cache (a small model's weights) is read in place, whole NR-wide panels, instead of copied. A
      // larger one is packed even so: the pack reads B's rows whole and in order, which the hardware
      // prefetchers follow, and the panel it writes stays in L2, while reading B in place from memory,
      // NR floats of a row and then the next row ldb floats on (another 4 KiB page), was 1.7-1.9x slower
      // at M = 4-16 (GPT-2's [768, 2304] and [3072, 768] weights, 2 threads, AVX-512 Xeon VM; 1.1-1.3x
      // with software prefetch of B). Values and order of operations are the same either way.
      bool direct_b = !tb && m1 - m0 <= 2 * MR && K * ldb <= kDirectMaxB;
      if (!direct_b) gk.pack_b(tb, B, ldb, pc, kc, jc, nc, bp);
      for (long ic = m0; ic < m1; ic += MC) {
        long mc = std::min(MC, m1 - ic);
        gk.pack_a(ta, A, lda, ic, mc, pc, kc, ap);
        for (long jr = 0; jr < nc; jr += NR) {
          int nr = (int)std::min<long>(NR, nc - jr);
          const float* bpanel = bp + jr * kc;
          long bstride = NR;
          if (direct_b) {
            if (nr == NR) {
              bpanel = B + pc * ldb + jc + jr;
              bstride = ldb;
            } else if (ic == m0) {
              gk.pack_b(false, B, ldb, pc, kc, jc + jr, nr, bp + jr * kc);  // the ragged last panel
            }
          }
          for (long ir = 0; ir < mc; ir += MR) {
            int mr = (int)std::min<long>(MR, mc - ir);
            const float* apanel = ap + ir * kc;
            float* c = C + (ic + ir) * ldc + jc + jr;
            if (mr == MR && nr == NR) {
              gk.kernel(kc, apanel, bpanel, bstride, c, ldc, alpha, beta_eff);
            } else {
              if (beta_eff != 0.0f)
                for (int i = 0; i < mr; i++) std::memcpy(tile + i * NR, c + i * ldc, sizeof(float) * nr);
              gk.kernel(kc, apanel, bpanel, bstride, tile, NR, alpha, beta_eff);
              for (int i = 0; i < mr; i++) std::memcpy(c + i * ldc, tile + i * NR, sizeof(float) * nr);
            }
          }
        }
      }
    }
  }
}

// The AVX-512 float32 path for one rectangle: where an AMX product meets an infinity, a NaN or a float
// too large for the split into bf16 parts.
void float_block_avx512(bool ta, bool tb, long m0, long m1, long n0, long n1, long K, float alpha, const float* A,
                        long lda, const float* B, long ldb, float beta, float* C, long ldc) {
  gemm_block(kernel_for(ISA_AVX512), ta, tb, m0, m1, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// At most this many rows (decoding one or two sequences) skip packing: each B element is read once and
// used M times, so the product is bound by reading B, and packing it would only add a copy (and pad M to
// MR). Measured on Zen 4, 1 thread: M = 1 x K 768 x N 2304 0.19 ms unpacked vs ~0.5 ms packed; at M = 4
// the packed AVX-512 path is already faster (this path is plain compiler-vectorised code).
const long kSmallM = 2;

// Columns [n0, n1) of C for M <= kSmallM, reading A and B in place.
void gemm_small_m(bool ta, bool tb, long M, long n0, long n1, long K, float alpha, const float* A, long lda,
                  const float* B, long ldb, float beta, float* C, long ldc) {
  const long w = n1 - n0;
  thread_local std::vector<float> t_acc;
  if ((long)t_acc.size() < M * w) t_acc.resize(M * w);
  float* acc = t_acc.data();
  if (!tb) {
    // acc[i, :] += A[i, k] * B[k, n0:n1], B rows streamed once for all M rows
    for (long i = 0; i < M * w; i++) acc[i] = 0.0f;
    for (long k = 0; k < K; k++) {
      const float* b = B + k * ldb + n0;
      for (long i = 0; i < M; i++) {
        float a = ta ? A[k * lda + i] : A[i * lda + k];
        float* ai = acc + i * w;
#pragma omp simd
        for (long j = 0; j < w; j++) ai[j] += a * b[j];
      }
    }
  } else {
    // acc[i, j] = A[i, :] . B[j, :], rows of B contiguous in k
    for (long j = 0; j < w; j++) {
      const float* b = B + (n0 + j) * ldb;
      for (long i = 0; i < M; i++) {
        float s = 0.0f;
        if (!ta) {
          const float* a = A + i * lda;
#pragma omp simd reduction(+ : s)
          for (long k = 0; k < K; k++) s += a[k] * b[k];
        } else {
          for (long k = 0; k < K; k++) s += A[k * lda + i] * b[k];
        }
        acc[i * w + j] = s;
      }
    }
  }
  for (long i = 0; i < M; i++) {
    float* c = C + i * ldc + n0;
    const float* ai = acc + i * w;
    if (beta == 0.0f)
      for (long j = 0; j < w; j++) c[j] = alpha * ai[j];
    else
      for (long j = 0; j < w; j++) c[j] = alpha * ai[j] + beta * c[j];
  }
}

// C = beta * C (K = 0 or alpha = 0); beta = 0 writes zeros.
void scale_c(long M, long N, float beta, float* C, long ldc) {
  for (long i = 0; i < M; i++) {
    float* c = C + i * ldc;
    if (beta == 0.0f)
      for (long j = 0; j < N; j++) c[j] = 0.0f;
    else
      for (long j = 0; j < N; j++) c[j] = beta * c[j];
  }
}

}  // namespace

Isa gemm_isa() { return g_isa; }

bool set_gemm_isa(Isa isa) {
  if (!isa_available(isa)) return false;
  g_isa = isa;
  return true;
}

void sgemm(bool ta, bool tb, long M, long N, long K, float alpha, const float* A, long lda, const float* B, long ldb,
           float beta, float* C, long ldc, int threads) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const GemmKernel gk = kernel_for(g_isa);
  double flops = 2.0 * (double)M * (double)N * (double)K;
  int nt = threads == 0 ? num_threads() : threads;
  if (flops < kParallelFlops) nt = 1;
  nt = (int)std::min<double>(nt, std::max(1.0, flops / kFlopsPerThread));
  if (tb && !ta && gk.small_nt != nullptr && M <= gk.small_nt_max_m) {
    // Split N in 16-column chunks (never K), one range of chunks per thread.
    long chunks = (N + 15) / 16;
    int parts = (int)std::min<long>(nt, chunks);
    parallel_for(parts, [&](int p) {
      long n0 = std::min(N, chunks * p / parts * 16), n1 = std::min(N, chunks * (p + 1) / parts * 16);
      if (n1 > n0) gk.small_nt(M, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
    });
    return;
  }
  if (M <= kSmallM && M < gk.mr) {
    // Split N in 64-column chunks (never K), one range of chunks per thread.
    long chunks = (N + 63) / 64;
    int parts = (int)std::min<long>(nt, chunks);
    parallel_for(parts, [&](int p) {
      long n0 = std::min(N, chunks * p / parts * 64), n1 = std::min(N, chunks * (p + 1) / parts * 64);
      if (n1 > n0) gemm_small_m(ta, tb, M, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
    });
    return;
  }
  // AMX tiles for a product big enough that they pay (kAmxMin*). C is their accumulator, so a beta other
  // than 0 needs alpha = beta = 1.
  const bool amx = g_isa == ISA_AMX && M >= kAmxMinM && N >= kAmxMinN && K >= kAmxMinK && flops >= kAmxMinFlops &&
                   (beta == 0.0f || (alpha == 1.0f && beta == 1.0f));
  const int mr = amx ? 32 : gk.mr, nr = amx ? 32 : gk.nr;
  auto block = [&](long m0, long m1, long n0, long n1) {
    if (amx)
      gemm_block_amx(ta, tb, m0, m1, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc, float_block_avx512);
    else
      gemm_block(gk, ta, tb, m0, m1, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
  };
  // Split C into tm x tn rectangles, a few per thread: the pool hands them out dynamically, so a thread
  // that the OS descheduled (a busy machine) delays only its current rectangle, not the whole product.
  // Among the splits into `ntasks`, take the least packing per rectangle (its rows of A plus its columns
  // of B), keeping every rectangle at least one tile wide.
  long mtiles = (M + mr - 1) / mr, ntiles = (N + nr - 1) / nr;
  // (AMX: one rectangle per thread. Its packs cost more, against faster products, so that each rectangle
  // packing again the rows of A or columns of B that it shares with another costs more than it saves.)
  int ntasks = nt == 1 ? 1
               : amx  ? nt
                      : (int)std::max<double>(nt, std::min<double>(kTasksPerThread * nt, flops / kFlopsPerTask));
  int tm = 1, tn = 1;
  for (; ntasks > 1 && tm * tn == 1; ntasks--) {
    double best = -1;
    for (int a = 1; a <= ntasks; a++) {
      if (ntasks % a != 0) continue;
      int b = ntasks / a;
      if (a > mtiles || b > ntiles) continue;
      double cost = (double)M / a + (double)N / b;
      if (best < 0 || cost < best) {
        best = cost;
        tm = a;
        tn = b;
      }
    }
  }
  if (tm * tn == 1) {
    block(0, M, 0, N);
    return;
  }
  // Boundaries on tile multiples, so every rectangle but the last is made of whole tiles.
  auto bound = [](long tiles, int parts, int p, int unit, long total) {
    long t = tiles * p / parts;
    return std::min<long>(t * unit, total);
  };
  parallel_for(tm * tn, [&](int task) {
    int pi = task / tn, pj = task % tn;
    long m0 = bound(mtiles, tm, pi, mr, M), m1 = bound(mtiles, tm, pi + 1, mr, M);
    long n0 = bound(ntiles, tn, pj, nr, N), n1 = bound(ntiles, tn, pj + 1, nr, N);
    if (m1 > m0 && n1 > n0) block(m0, m1, n0, n1);
  });
}

}  // namespace lg
