// GEMM on AMX tiles with float32 accuracy (bf16x6). Each float is split into three bfloat16 parts,
// x = x0 + x1 + x2 exactly (each part rounds the rest to 8 significant bits, so the three hold float's
// 24), and a b is computed as a0 b0 + a0 b1 + a1 b0 + a0 b2 + a1 b1 + a2 b0. With |x1| <= 2^-8 |x| and
// |x2| <= 2^-16 |x|, the three dropped terms add up to at most 2^-23 |a b| (+ 2^-32), two units of
// float32's rounding of the product at worst; every bf16 product is exact in float32, and TDPBF16PS
// accumulates in float32. So the result has float32 accuracy (kernels-native.test.ts measures it against
// float64 beside the AVX-512 path's), at six tile products per element pair: on a core that does 1024
// bf16 flops a cycle in tiles against 64 float32 flops in AVX-512, that is still about 2.7x the float32
// peak. (The split is the bf16x6 scheme of Henry,
// Tang and Heinecke, "Leveraging the bfloat16 artificial intelligence datatype for higher-precision
// computations", ARITH 2019.)
//
// Blocking as in gemm.cc (B panel, A block, 32 x 32 blocks of C in four 16 x 16 accumulator tiles), with
// C itself as the accumulator between K blocks. Threads own rectangles of C and every element goes
// through the same operations wherever it falls (edge blocks run on a zero-padded scratch block), so the
// result is the same for any thread count. Compiled with -mamx-tile -mamx-bf16 -mavx512f -mavx512bw
// -mavx512bf16; only called when amx_available() says the CPU has them (every CPU with AMX so far has
// AVX512_BF16 too) and the kernel let this process use the tiles.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <cpuid.h>

#include "lgrpo.h"
#include "scratch.h"

namespace lg {
namespace {

// A chunk is 32 values of K; a panel is 32 rows of op(A) or 32 columns of op(B). One chunk of a panel is
// three parts x two 16-row (16-column) halves x one 1 KiB tile: 3072 bf16.
const long kChunk = 32;
const long kPanel = 32;
const long kChunkElems = 3 * 2 * 512;

struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

void load_tile_config() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int t = 0; t < 8; t++) {  // 0-3: C (16 x 16 float), 4-5: A (16 x 32 bf16), 6-7: B (16 x 16 bf16 pairs)
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
}

// The float32 values of 16 bf16, exactly.
inline __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

// Lanes the split cannot take: infinities and NaN (their products are not float32's: inf times a zero
// part of the other operand is NaN) and floats that would round to infinity in bf16 (|x| >= 3.3e38 here,
// a little below the true limit). A product that meets one is finished on the float32 path
// (gemm_block_amx), so it comes out as float32's.
inline __mmask16 unsplittable(__m512 x) {
  return _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(3.3e38f), _CMP_NLT_UQ);
}

// 32 values of K (lo: the first 16, hi: the next) as three vectors of 32 bf16 in order, one a part:
// x = p0 + p1 + p2, each part the rest rounded to nearest even (VCVTNE2PS2BF16; the rests are exact in
// float32). Returns the lanes that are unsplittable.
inline __mmask16 parts32(__m512 lo, __m512 hi, __m512i out[3]) {
  __mmask16 bad = unsplittable(lo) | unsplittable(hi);
  for (int q = 0; q < 3; q++) {
    __m512i p = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    out[q] = p;
    if (q < 2) {
      lo = _mm512_sub_ps(lo, widen(_mm512_castsi512_si256(p)));
      hi = _mm512_sub_ps(hi, widen(_mm512_extracti64x4_epi64(p, 1)));
    }
  }
  return bad;
}

// r[i] = row i of a 16 x 16 block of 32-bit values -> r[j] = its column j.
inline void transpose16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {  // u[4i + c]: rows 4i..4i+3 of columns c, c+4, c+8, c+12 (one a 128-bit lane)
    r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  std::copy(r, r + 16, t);
  for (int c = 0; c < 4; c++) {
    __m512i ab_lo = _mm512_shuffle_i32x4(t[c], t[4 + c], 0x44), ab_hi = _mm512_shuffle_i32x4(t[c], t[4 + c], 0xEE);
    __m512i cd_lo = _mm512_shuffle_i32x4(t[8 + c], t[12 + c], 0x44), cd_hi = _mm512_shuffle_i32x4(t[8 + c], t[12 + c], 0xEE);
    r[c] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0x88);
    r[c + 4] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0xDD);
    r[c + 8] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0x88);
    r[c + 12] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0xDD);
  }
}

inline __mmask16 first_lanes(long n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1); }

// The chunks of K values [p0, p0 + kc) of a panel at out: fn(k0, n, chunk) with the chunk's first K value,
// how many it holds (<= 32; the rest are packed as zeros) and where it goes.
template <class Fn>
inline void for_each_chunk(long p0, long kc, uint16_t* out, Fn fn) {
  long nch = (kc + kChunk - 1) / kChunk;
  for (long c = 0; c < nch; c++) fn(p0 + c * kChunk, std::min(kChunk, kc - c * kChunk), out + c * kChunkElems);
}

// A panel of op(A): rows [i0, i0 + rows) (rows <= 32, the rest zero) x K values [p0, p0 + kc), in
// chunks; row r of a chunk's part-q tile of half g is 32 bf16 at chunk + q * 1024 + g * 512 + r * 32.
// Returns whether the panel holds a value the split cannot take (unsplittable).
bool pack_a_panel(bool ta, const float* A, long lda, long i0, long rows, long p0, long kc, uint16_t* out) {
  __mmask16 bad = 0;
  for_each_chunk(p0, kc, out, [&](long k0, long n, uint16_t* chunk) {
    for (int g = 0; g < 2; g++) {
      __m512i lo[16], hi[16];
      if (!ta) {  // rows of A hold K
        for (int r = 0; r < 16; r++) {
          if (16 * g + r >= rows) {
            lo[r] = hi[r] = _mm512_setzero_si512();
            continue;
          }
          const float* src = A + (i0 + 16 * g + r) * lda + k0;
          lo[r] = _mm512_castps_si512(_mm512_maskz_loadu_ps(first_lanes(n), src));
          hi[r] = _mm512_castps_si512(_mm512_maskz_loadu_ps(first_lanes(n - 16), src + 16));
        }
      } else {  // rows of A hold M: load 32 rows of K, transpose into 16 rows of M
        __mmask16 m = first_lanes(rows - 16 * g);
        for (int k = 0; k < 16; k++) {
          const float* src = A + (k0 + k) * lda + i0 + 16 * g;
          lo[k] = k < n ? _mm512_castps_si512(_mm512_maskz_loadu_ps(m, src)) : _mm512_setzero_si512();
          hi[k] = k + 16 < n ? _mm512_castps_si512(_mm512_maskz_loadu_ps(m, src + 16 * lda)) : _mm512_setzero_si512();
        }
        transpose16(lo);
        transpose16(hi);
      }
      for (int r = 0; r < 16; r++) {
        __m512i p[3];
        bad |= parts32(_mm512_castsi512_ps(lo[r]), _mm512_castsi512_ps(hi[r]), p);
        for (int q = 0; q < 3; q++) _mm512_store_si512(chunk + q * 1024 + g * 512 + r * 32, p[q]);
      }
    }
  });
  return bad != 0;
}

// A panel of op(B): columns [j0, j0 + cols) (cols <= 32, the rest zero) x K values [p0, p0 + kc), in
// chunks of VNNI tiles: pair row r of a tile holds, for each of its 16 columns, the values at K 2r, 2r+1.
// Returns whether the panel holds a value the split cannot take (unsplittable).
bool pack_b_panel(bool tb, const float* B, long ldb, long j0, long cols, long p0, long kc, uint16_t* out) {
  __mmask16 bad = 0;
  for_each_chunk(p0, kc, out, [&](long k0, long n, uint16_t* chunk) {
    for (int h = 0; h < 2; h++) {
      if (tb) {  // rows of B hold K: a column's 32 values of K are its 16 pairs, then transpose
        __m512i w[3][16];
        for (int j = 0; j < 16; j++) {
          if (16 * h + j >= cols) {
            w[0][j] = w[1][j] = w[2][j] = _mm512_setzero_si512();
            continue;
          }
          const float* src = B + (j0 + 16 * h + j) * ldb + k0;
          __m512i p[3];
          bad |= parts32(_mm512_maskz_loadu_ps(first_lanes(n), src), _mm512_maskz_loadu_ps(first_lanes(n - 16), src + 16), p);
          for (int q = 0; q < 3; q++) w[q][j] = p[q];
        }
        for (int q = 0; q < 3; q++) {
          transpose16(w[q]);
          for (int r = 0; r < 16; r++) _mm512_store_si512(chunk + q * 1024 + h * 512 + r * 32, w[q][r]);
        }
        continue;
      }
      __mmask16 m = first_lanes(cols - 16 * h);  // rows of B hold N: pair rows k, k+1 lane by lane
      const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                                                  22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
      for (long r = 0; r < 16; r++) {
        const float* src = B + (k0 + 2 * r) * ldb + j0 + 16 * h;
        __m512 e = 2 * r < n ? _mm512_maskz_loadu_ps(m, src) : _mm512_setzero_ps();
        __m512 o = 2 * r + 1 < n ? _mm512_maskz_loadu_ps(m, src + ldb) : _mm512_setzero_ps();
        __m512i p[3];
        bad |= parts32(e, o, p);
        for (int q = 0; q < 3; q++) _mm512_store_si512(chunk + q * 1024 + h * 512 + r * 32, _mm512_permutexvar_epi16(interleave, p[q]));
      }
    }
  });
  return bad != 0;
}

// C[32 x 32] (ldc floats apart) += or = the product of an A panel and a B panel over nch chunks.
// Per chunk: the six products of parts, the larger ones first; six loads of A tiles and ten of B (four
// operand tiles: B1 and B0 are loaded twice).
void kernel(long nch, const uint16_t* Ap, const uint16_t* Bp, float* C, long ldc, bool load_c) {
  const long stride = ldc * (long)sizeof(float);
  if (load_c) {
    _tile_loadd(0, C, stride);
    _tile_loadd(1, C + 16, stride);
    _tile_loadd(2, C + 16 * ldc, stride);
    _tile_loadd(3, C + 16 * ldc + 16, stride);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
#define LG_DP4()            \
  _tile_dpbf16ps(0, 4, 6);  \
  _tile_dpbf16ps(1, 4, 7);  \
  _tile_dpbf16ps(2, 5, 6);  \
  _tile_dpbf16ps(3, 5, 7)
  for (long c = 0; c < nch; c++) {
    const uint16_t* a = Ap + c * kChunkElems;
    const uint16_t* b = Bp + c * kChunkElems;
    _tile_loadd(4, a, 64);  // a0
    _tile_loadd(5, a + 512, 64);
    _tile_loadd(6, b, 64);  // b0
    _tile_loadd(7, b + 512, 64);
    LG_DP4();
    _tile_loadd(6, b + 1024, 64);  // b1
    _tile_loadd(7, b + 1536, 64);
    LG_DP4();
    _tile_loadd(6, b + 2048, 64);  // b2
    _tile_loadd(7, b + 2560, 64);
    LG_DP4();
    _tile_loadd(4, a + 1024, 64);  // a1
    _tile_loadd(5, a + 1536, 64);
    _tile_loadd(6, b + 1024, 64);  // b1
    _tile_loadd(7, b + 1536, 64);
    LG_DP4();
    _tile_loadd(6, b, 64);  // b0
    _tile_loadd(7, b + 512, 64);
    LG_DP4();
    _tile_loadd(4, a + 2048, 64);  // a2
    _tile_loadd(5, a + 2560, 64);
    LG_DP4();
  }
#undef LG_DP4
  _tile_stored(0, C, stride);
  _tile_stored(1, C + 16, stride);
  _tile_stored(2, C + 16 * ldc, stride);
  _tile_stored(3, C + 16 * ldc + 16, stride);
}

// C[32 x 32] *= alpha (beta = 0: the sum is complete, then scaled, as the other microkernels do).
void scale_block(float* C, long ldc, float alpha) {
  const __m512 va = _mm512_set1_ps(alpha);
  for (long i = 0; i < kPanel; i++)
    for (long j = 0; j < kPanel; j += 16) _mm512_storeu_ps(C + i * ldc + j, _mm512_mul_ps(va, _mm512_loadu_ps(C + i * ldc + j)));
}

// Per-thread packs: the A block and the B panel, in bf16 parts.
struct Buffers {
  Scratch<uint16_t> a, b;
};
thread_local Buffers t_buf;

// Cache blocking, in floats (multiples of 32): the A block (MC x KC, 768 KiB of parts at 128 x 1024) stays
// in L2; the B panel (KC x NC, 12 MiB at 1024 x 2048) in L3, each of its 32-column micro-panels (192 KiB)
// reused from L2 by the A block's panels. KC 1024 makes a K of the families' hidden sizes (896-2048) one
// or two blocks, so C is read and written once or twice. LAMBDA_GRPO_AMX_BLOCKING="mc,kc,nc"
// overrides them (tuning on a new CPU).
struct Blocking {
  long mc = 128, kc = 1024, nc = 2048;
};

const Blocking& blocking() {
  static const Blocking b = [] {
    Blocking r;
    long v[3] = {-1, -1, -1};
    if (const char* s = std::getenv("LAMBDA_GRPO_AMX_BLOCKING")) std::sscanf(s, "%ld,%ld,%ld", &v[0], &v[1], &v[2]);
    long* out[3] = {&r.mc, &r.kc, &r.nc};
    for (int i = 0; i < 3; i++)
      if (v[i] > 0) *out[i] = (v[i] + kPanel - 1) / kPanel * kPanel;
    return r;
  }();
  return b;
}

}  // namespace

bool amx_available() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  static const bool ok = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    bool avx512 = (b & (1u << 16)) && (b & (1u << 30));  // AVX512F, AVX512BW
    bool amx = (d & (1u << 24)) && (d & (1u << 22));     // AMX-TILE, AMX-BF16
    if (!avx512 || !amx || !__get_cpuid_count(7, 1, &a, &b, &c, &d) || !(a & (1u << 5))) return false;  // AVX512_BF16
    const int kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return ok;
#else
  return false;
#endif
}

void gemm_block_amx(bool ta, bool tb, long m0, long m1, long n0, long n1, long K, float alpha, const float* A,
                    long lda, const float* B, long ldb, float beta, float* C, long ldc, FloatBlock finish) {
  const long MC = blocking().mc, KC = blocking().kc, NC = blocking().nc;
  load_tile_config();
  long kcmax = std::min(KC, K), nchmax = (kcmax + kChunk - 1) / kChunk;
  long ncmax = std::min(NC, n1 - n0), mcmax = std::min(MC, m1 - m0);
  size_t panel = (size_t)nchmax * kChunkElems;
  uint16_t* bp = t_buf.b.grow(panel * (size_t)((ncmax + kPanel - 1) / kPanel));
  uint16_t* ap = t_buf.a.grow(panel * (size_t)((mcmax + kPanel - 1) / kPanel));
  alignas(64) float tile[kPanel * kPanel];
  // C[r0:r1, c0:c1] from K value pc on, on the float32 path: the panels just packed met an infinity, a
  // NaN or a float too large for the split. Before pc, C holds the (finite) partial sums over [0, pc),
  // still to be scaled by alpha.
  auto finish_float = [&](long r0, long r1, long c0, long c1, long pc) {
    if (pc == 0) {
      finish(ta, tb, r0, r1, c0, c1, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    }
    if (alpha != 1.0f)
      for (long i = r0; i < r1; i++)
        for (long j = c0; j < c1; j++) C[i * ldc + j] *= alpha;
    finish(ta, tb, r0, r1, c0, c1, K - pc, alpha, ta ? A + pc * lda : A + pc, lda, tb ? B + pc : B + pc * ldb, ldb,
           1.0f, C, ldc);
  };
  std::vector<char> finished;  // by A block of this B panel: done on the float32 path (rare: no allocation)
  for (long jc = n0; jc < n1; jc += NC) {
    long nc = std::min(NC, n1 - jc);
    finished.clear();
    for (long pc = 0; pc < K; pc += KC) {
      long kc = std::min(KC, K - pc), nch = (kc + kChunk - 1) / kChunk;
      bool load_c = pc > 0 || beta != 0.0f, last = pc + kc == K;
      bool bad_b = false;
      for (long jr = 0; jr < nc; jr += kPanel)
        bad_b |= pack_b_panel(tb, B, ldb, jc + jr, std::min(kPanel, nc - jr), pc, kc, bp + (jr / kPanel) * nch * kChunkElems);
      for (long ic = m0; ic < m1; ic += MC) {
        long mc = std::min(MC, m1 - ic);
        size_t block = (size_t)((ic - m0) / MC);
        if (block < finished.size() && finished[block]) continue;
        bool bad = bad_b;
        for (long ir = 0; ir < mc && !bad; ir += kPanel)
          bad |= pack_a_panel(ta, A, lda, ic + ir, std::min(kPanel, mc - ir), pc, kc, ap + (ir / kPanel) * nch * kChunkElems);
        if (bad) {
          finish_float(ic, ic + mc, jc, jc + nc, pc);
          if (finished.size() <= block) finished.resize(block + 1, 0);
          finished[block] = 1;
          continue;
        }
        for (long jr = 0; jr < nc; jr += kPanel) {
          long nr = std::min(kPanel, nc - jr);
          const uint16_t* bpanel = bp + (jr / kPanel) * nch * kChunkElems;
          for (long ir = 0; ir < mc; ir += kPanel) {
            long mr = std::min(kPanel, mc - ir);
            const uint16_t* apanel = ap + (ir / kPanel) * nch * kChunkElems;
            float* c = C + (ic + ir) * ldc + jc + jr;
            bool whole = mr == kPanel && nr == kPanel;
            if (!whole && load_c)
              for (long i = 0; i < mr; i++) std::memcpy(tile + i * kPanel, c + i * ldc, sizeof(float) * nr);
            float* out = whole ? c : tile;
            long ldo = whole ? ldc : kPanel;
            kernel(nch, apanel, bpanel, out, ldo, load_c);
            if (last && alpha != 1.0f) scale_block(out, ldo, alpha);
            if (!whole)
              for (long i = 0; i < mr; i++) std::memcpy(c + i * ldc, tile + i * kPanel, sizeof(float) * nr);
          }
        }
      }
    }
  }
}

}  // namespace lg
