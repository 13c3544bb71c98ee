// The kernels of docs/KERNELS.md other than GEMM, in float32. Threaded over independent outputs only
// (rows, heads, column ranges), so results never depend on the thread count. Loops over a row are
// written for the compiler to vectorise (`#pragma omp simd`, built with -fopenmp-simd: no OpenMP
// runtime, only the vectorisation hints).
//
// Included twice: by kernels_base.cc (portable flags) and kernels_avx2.cc (-mavx2 -mfma), each inside
// its own namespace LG_KNS; kernels.cc picks one at run time.
#ifndef LG_KNS
#error "define LG_KNS (the namespace of this build of the kernels) before including kernels_impl.h"
#endif
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "lgrpo.h"

namespace lg {
namespace LG_KNS {
namespace {

// Rows (or elements) per task: enough work that a task outweighs claiming it (~1 us).
const long kElemsPerTask = 1L << 15;

// Splits [0, n) into about n / grain tasks, at most 8 per thread (so threads balance), at least one.
int task_count(long n, long grain) {
  long t = (n + grain - 1) / grain;
  long cap = 8L * num_threads();
  if (t > cap) t = cap;
  if (t < 1) t = 1;
  return (int)t;
}

// Runs fn(begin, end) over [0, n) in contiguous chunks. Every element is touched by exactly one chunk
// and no result depends on where a chunk boundary falls.
template <class Fn>
void parallel_range(long n, long grain, Fn fn) {
  if (n <= 0) return;
  int nt = task_count(n, grain);
  if (nt == 1) {
    fn(0L, n);
    return;
  }
  parallel_for(nt, [&](int t) {
    long b = n * t / nt, e = n * (t + 1) / nt;
    if (e > b) fn(b, e);
  });
}

// exp(x) in float without a libm call, so loops of it vectorise: 2^n * p(r), x = n ln2 + r, |r| <= ln2/2,
// degree-6 polynomial (Cephes expf), ~1 ulp. Clamped to the float range; exp(-inf) = 0, NaN stays NaN.
inline float fast_exp(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447505531f;
  float xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  // round to nearest by adding and subtracting 1.5 * 2^23 (vectorises without SSE4.1's roundps)
  const float magic = 12582912.0f;
  float n = (xc * 1.44269504088896341f + magic) - magic;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  float y = p * scale;
  y = x < lo ? 0.0f : y;
  return x != x ? x : y;
}

// tanh via exp: tanh(u) = 1 - 2 / (exp(2u) + 1); exact limits +-1 at large |u|.
inline float fast_tanh(float u) {
  float e = fast_exp(2.0f * u);
  return 1.0f - 2.0f / (e + 1.0f);
}

const float kGeluScale = 0.7978845608028654f;  // sqrt(2 / pi)

long clamp_len(const int32_t* lengths, long b, long T) {
  if (lengths == nullptr) return T;
  long L = lengths[b];
  return L < 0 ? 0 : (L > T ? T : L);
}

// Scratch that lives as long as the thread (attention's row blocks).
thread_local std::vector<float> t_scratch;

float* scratch(size_t n) {
  if (t_scratch.size() < n) t_scratch.resize(n);
  return t_scratch.data();
}

}  // namespace

// ----- layer norm ------------------------------------------------------------------------------------

void layernorm_forward(const float* x, const float* w, const float* b, float eps, long N, long C, float* out,
                       float* mean, float* rstd) {
  parallel_range(N, std::max(1L, kElemsPerTask / std::max(C, 1L)), [&](long n0, long n1) {
    for (long n = n0; n < n1; n++) {
      const float* xr = x + n * C;
      float* o = out + n * C;
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (long c = 0; c < C; c++) s += xr[c];
      float m = (float)(s / C);
      double v = 0;
#pragma omp simd reduction(+ : v)
      for (long c = 0; c < C; c++) {
        float d = xr[c] - m;
        v += d * d;
      }
      float rs = (float)(1.0 / std::sqrt(v / C + eps));
#pragma omp simd
      for (long c = 0; c < C; c++) o[c] = (xr[c] - m) * rs * w[c] + b[c];
      mean[n] = m;
      rstd[n] = rs;
    }
  });
}

void layernorm_backward(const float* dout, const float* x, const float* w, const float* mean, const float* rstd,
                        long N, long C, float* dx, float* dw, float* db) {
  // dx per row (rows in parallel); dw, db per column range (each column sums its rows in order).
  parallel_range(N, std::max(1L, kElemsPerTask / std::max(C, 1L)), [&](long n0, long n1) {
    for (long n = n0; n < n1; n++) {
      const float* xr = x + n * C;
      const float* dr = dout + n * C;
      float* dxr = dx + n * C;
      float m = mean[n], rs = rstd[n];
      float sd = 0, sdx = 0;
#pragma omp simd reduction(+ : sd, sdx)
      for (long c = 0; c < C; c++) {
        float dn = w[c] * dr[c];
        sd += dn;
        sdx += dn * (xr[c] - m) * rs;
      }
      sd /= (float)C;
      sdx /= (float)C;
#pragma omp simd
      for (long c = 0; c < C; c++) {
        float xhat = (xr[c] - m) * rs;
        dxr[c] += rs * (w[c] * dr[c] - sd - xhat * sdx);
      }
    }
  });
  parallel_range(C, 64, [&](long c0, long c1) {
    long w_ = c1 - c0;
    std::vector<double> adw(w_, 0.0), adb(w_, 0.0);
    for (long n = 0; n < N; n++) {
      const float* xr = x + n * C + c0;
      const float* dr = dout + n * C + c0;
      float m = mean[n], rs = rstd[n];
#pragma omp simd
      for (long c = 0; c < w_; c++) {
        adb[c] += dr[c];
        adw[c] += (xr[c] - m) * rs * dr[c];
      }
    }
    for (long c = 0; c < w_; c++) {
      dw[c0 + c] += (float)adw[c];
      db[c0 + c] += (float)adb[c];
    }
  });
}

void rmsnorm_forward(const float* x, const float* w, float eps, long N, long C, float* out, float* rstd) {
  parallel_range(N, std::max(1L, kElemsPerTask / std::max(C, 1L)), [&](long n0, long n1) {
    for (long n = n0; n < n1; n++) {
      const float* xr = x + n * C;
      float* o = out + n * C;
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (long c = 0; c < C; c++) s += xr[c] * xr[c];
      float rs = (float)(1.0 / std::sqrt(s / C + eps));
#pragma omp simd
      for (long c = 0; c < C; c++) o[c] = xr[c] * rs * w[c];
      rstd[n] = rs;
    }
  });
}

void rmsnorm_backward(const float* dout, const float* x, const float* w, const float* rstd, long N, long C,
                      float* dx, float* dw) {
  parallel_range(N, std::max(1L, kElemsPerTask / std::max(C, 1L)), [&](long n0, long n1) {
    for (long n = n0; n < n1; n++) {
      const float* xr = x + n * C;
      const float* dr = dout + n * C;
      float* dxr = dx + n * C;
      float rs = rstd[n];
      float sdx = 0;
#pragma omp simd reduction(+ : sdx)
      for (long c = 0; c < C; c++) sdx += w[c] * dr[c] * xr[c] * rs;
      sdx /= (float)C;
#pragma omp simd
      for (long c = 0; c < C; c++) dxr[c] += rs * (w[c] * dr[c] - xr[c] * rs * sdx);
    }
  });
  parallel_range(C, 64, [&](long c0, long c1) {
    long w_ = c1 - c0;
    std::vector<double> adw(w_, 0.0);
    for (long n = 0; n < N; n++) {
      const float* xr = x + n * C + c0;
      const float* dr = dout + n * C + c0;
      float rs = rstd[n];
#pragma omp simd
      for (long c = 0; c < w_; c++) adw[c] += xr[c] * rs * dr[c];
    }
    for (long c = 0; c < w_; c++) dw[c0 + c] += (float)adw[c];
  });
}

// ----- activations -----------------------------------------------------------------------------------

void gelu_forward(const float* x, float* out, long n) {
  parallel_range(n, kElemsPerTask, [&](long i0, long i1) {
#pragma omp simd
    for (long i = i0; i < i1; i++) {
      float v = x[i];
      out[i] = 0.5f * v * (1.0f + fast_tanh(kGeluScale * (v + 0.044715f * v * v * v)));
    }
  });
}

void gelu_backward(const float* x, const float* dout, float* dx, long n) {
  parallel_range(n, kElemsPerTask, [&](long i0, long i1) {
#pragma omp simd
    for (long i = i0; i < i1; i++) {
      float v = x[i];
      float th = fast_tanh(kGeluScale * (v + 0.044715f * v * v * v));
      float g = 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * kGeluScale * (1.0f + 3.0f * 0.044715f * v * v);
      dx[i] += g * dout[i];
    }
  });
}

void silu_forward(const float* x, float* out, long n) {
  parallel_range(n, kElemsPerTask, [&](long i0, long i1) {
#pragma omp simd
    for (long i = i0; i < i1; i++) out[i] = x[i] / (1.0f + fast_exp(-x[i]));
  });
}

void silu_backward(const float* x, const float* dout, float* dx, long n) {
  parallel_range(n, kElemsPerTask, [&](long i0, long i1) {
#pragma omp simd
    for (long i = i0; i < i1; i++) {
      float v = x[i];
      float s = 1.0f / (1.0f + fast_exp(-v));
      dx[i] += dout[i] * s * (1.0f + v * (1.0f - s));
    }
  });
}

void rope_rotate(const float* x, float* out, long R, long H, long D, long stride, const float* cos, const float* sin,
                 long T, bool per_row, float sign, bool acc) {
  const long half = D / 2;
  parallel_range(R, std::max(1L, kElemsPerTask / std::max(H * D, 1L)), [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* c = cos + (per_row ? r : r % T) * half;
      const float* s = sin + (per_row ? r : r % T) * half;
      for (long h = 0; h < H; h++) {
        const float* xa = x + r * stride + h * D;
        const float* xb = xa + half;
        float* oa = out + r * stride + h * D;
        float* ob = oa + half;
        if (acc) {
#pragma omp simd
          for (long i = 0; i < half; i++) {
            float sn = sign * s[i];
            float y1 = xa[i] * c[i] - xb[i] * sn, y2 = xb[i] * c[i] + xa[i] * sn;
            oa[i] += y1;
            ob[i] += y2;
          }
        } else {
          // out may be x: each lane reads its pair before writing it
#pragma omp simd
          for (long i = 0; i < half; i++) {
            float sn = sign * s[i];
            float y1 = xa[i] * c[i] - xb[i] * sn, y2 = xb[i] * c[i] + xa[i] * sn;
            oa[i] = y1;
            ob[i] = y2;
          }
        }
      }
    }
  });
}

void swiglu_forward(const float* gate, const float* up, float* out, long n) {
  parallel_range(n, kElemsPerTask, [&](long i0, long i1) {
#pragma omp simd
    for (long i = i0; i < i1; i++) out[i] = gate[i] / (1.0f + fast_exp(-gate[i])) * up[i];
  });
}

void swiglu_backward(const float* gate, const float* up, const float* dout, float* dgate, float* dup, long n) {
  parallel_range(n, kElemsPerTask, [&](long i0, long i1) {
#pragma omp simd
    for (long i = i0; i < i1; i++) {
      float g = gate[i];
      float s = 1.0f / (1.0f + fast_exp(-g));
      dgate[i] += dout[i] * up[i] * s * (1.0f + g * (1.0f - s));
      dup[i] += dout[i] * g * s;
    }
  });
}

// ----- attention -------------------------------------------------------------------------------------
// Per (batch, head), in blocks of kRowBlock query rows: S = scale Q K^T, softmax, out = P V, each product
// on the packed GEMM (serial: the heads are the parallel dimension). A block of rows r0..r1 only needs
// keys 0..r1 (causal), so about half of the T x T products are skipped.

const long kRowBlock = 48;

// Up to this many positions a (batch, head) is done with direct loops (dot products over hs, rows of
// V and K scaled and added) instead of the packed GEMM, whose packing and tile set-up outweigh products
// this small. One thread, Zen 4: the toy (B16, T16, 4 heads of 32) forward 0.13 -> 0.11 ms, backward
// 0.17 -> 0.12 ms per call; GPT-2's heads at T16 forward 0.63 -> 0.50 ms; at T32 the GEMM is faster
// (heads of 64: 0.70 against 1.18 ms forward).
const long kDirectT = 16;

// softmax of row[0..t] in place, 0 in row[t+1..T)
inline void causal_softmax_row(float* row, long t, long T) {
  float mx = -INFINITY;
  for (long t2 = 0; t2 <= t; t2++) mx = std::max(mx, row[t2]);
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (long t2 = 0; t2 <= t; t2++) {
    float e = fast_exp(row[t2] - mx);
    row[t2] = e;
    sum += e;
  }
  float inv = 1.0f / sum;
#pragma omp simd
  for (long t2 = 0; t2 <= t; t2++) row[t2] *= inv;
  for (long t2 = t + 1; t2 < T; t2++) row[t2] = 0.0f;
}

// softmax backward of row t, in place over ds[0..t]: dS = scale * P * (dP - sum(P dP)), with p[0..t] the
// row's probabilities and ds[0..t] holding dP on entry
inline void causal_softmax_row_backward(const float* p, float* ds, long t, float scale) {
  float dot = 0;
#pragma omp simd reduction(+ : dot)
  for (long t2 = 0; t2 <= t; t2++) dot += p[t2] * ds[t2];
#pragma omp simd
  for (long t2 = 0; t2 <= t; t2++) ds[t2] = scale * p[t2] * (ds[t2] - dot);
}

// One (batch, head) of attention_forward for T <= kDirectT: q rows qs apart, k and v rows ks apart, o rows
// os apart.
void attention_forward_direct(const float* q, const float* k, const float* v, long L, long T, long hs, long qs,
                              long ks, long os, float scale, float* o, float* a) {
  for (long t = 0; t < L; t++) {
    const float* qt = q + t * qs;
    float* row = a + t * T;
    for (long t2 = 0; t2 <= t; t2++) {
      const float* kt = k + t2 * ks;
      float d = 0;
#pragma omp simd reduction(+ : d)
      for (long i = 0; i < hs; i++) d += qt[i] * kt[i];
      row[t2] = scale * d;
    }
    causal_softmax_row(row, t, T);
    float* ot = o + t * os;
    for (long i = 0; i < hs; i++) ot[i] = 0.0f;
    for (long t2 = 0; t2 <= t; t2++) {
      const float p = row[t2];
      const float* vt = v + t2 * ks;
#pragma omp simd
      for (long i = 0; i < hs; i++) ot[i] += p * vt[i];
    }
  }
}

// One (batch, head) of attention_backward for T <= kDirectT (strides as the forward's; dq as q, dk and dv
// as k); ds is scratch of T floats.
void attention_backward_direct(const float* d, const float* q, const float* k, const float* v, const float* a,
                               long L, long T, long hs, long qs, long ks, long os, float scale, float* dq, float* dk,
                               float* dv, float* ds) {
  for (long t = 0; t < L; t++) {
    const float* pr = a + t * T;
    const float* dt = d + t * os;
    const float* qt = q + t * qs;
    float* dqt = dq + t * qs;
    // dP[t2] = dout_t . v_t2; dV[t2] += P[t,t2] dout_t
    for (long t2 = 0; t2 <= t; t2++) {
      const float* vt = v + t2 * ks;
      float* dvt = dv + t2 * ks;
      const float p = pr[t2];
      float x = 0;
#pragma omp simd reduction(+ : x)
      for (long i = 0; i < hs; i++) {
        x += dt[i] * vt[i];
        dvt[i] += p * dt[i];
      }
      ds[t2] = x;
    }
    causal_softmax_row_backward(pr, ds, t, scale);
    // dQ[t] += sum_t2 dS[t2] K[t2];  dK[t2] += dS[t2] Q[t]
    for (long t2 = 0; t2 <= t; t2++) {
      const float g = ds[t2];
      const float* kt = k + t2 * ks;
      float* dkt = dk + t2 * ks;
#pragma omp simd
      for (long i = 0; i < hs; i++) {
        dqt[i] += g * kt[i];
        dkt[i] += g * qt[i];
      }
    }
  }
}

void attention_forward(const float* q, const float* k, const float* v, long B, long T, long H, long KV, long D,
                       long qs, long ks, long os, const int32_t* lengths, float* out, float* att) {
  const long G = H / KV;
  const float scale = 1.0f / std::sqrt((float)D);
  parallel_for((int)(B * H), [&](int task) {
    long b = task / H, h = task % H, j = h / G;
    long L = clamp_len(lengths, b, T);
    const float* qh = q + b * T * qs + h * D;
    const float* kh = k + b * T * ks + j * D;
    const float* vh = v + b * T * ks + j * D;
    float* o = out + b * T * os + h * D;
    float* a = att + (b * H + h) * T * T;
    if (T <= kDirectT) attention_forward_direct(qh, kh, vh, L, T, D, qs, ks, os, scale, o, a);
    for (long r0 = 0; r0 < L && T > kDirectT; r0 += kRowBlock) {
      long r1 = std::min(r0 + kRowBlock, L), rb = r1 - r0;
      float* s = a + r0 * T;
      sgemm(false, true, rb, r1, D, scale, qh + r0 * qs, qs, kh, ks, 0.0f, s, T, 1);
      for (long t = r0; t < r1; t++) causal_softmax_row(a + t * T, t, T);
      sgemm(false, false, rb, D, r1, 1.0f, s, T, vh, ks, 0.0f, o + r0 * os, os, 1);
    }
    for (long t = L; t < T; t++) {
      std::memset(a + t * T, 0, sizeof(float) * T);
      std::memset(o + t * os, 0, sizeof(float) * D);
    }
  });
}

void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* att, long B,
                        long T, long H, long KV, long D, long qs, long ks, long os, const int32_t* lengths, float* dq,
                        float* dk, float* dv) {
  // One task per (batch, KV head): the query heads of a group add into the same dk, dv, in head order.
  // Consecutive tasks (which the threads take at the same time) are different sequences of one head:
  // rows T * ks floats apart, where adjacent heads of one sequence would add into neighbouring,
  // possibly shared, cache lines: in the toy's step (B16 T16, 4 heads of 32, 2 threads) the 4 calls took
  // 1.6-1.7 ms in (batch, head) order and take 0.6 ms in this one (`lambda-grpo bench step --preset toy
  // --profile`).
  const long G = H / KV;
  const float scale = 1.0f / std::sqrt((float)D);
  parallel_for((int)(B * KV), [&](int task) {
    long j = task / B, b = task % B;
    long L = clamp_len(lengths, b, T);
    const float* kh = k + b * T * ks + j * D;
    const float* vh = v + b * T * ks + j * D;
    float* dkh = dk + b * T * ks + j * D;
    float* dvh = dv + b * T * ks + j * D;
    float* ds = scratch((size_t)kRowBlock * (size_t)std::max(T, 1L));
    for (long h = j * G; h < (j + 1) * G; h++) {
      const float* qh = q + b * T * qs + h * D;
      float* dqh = dq + b * T * qs + h * D;
      const float* d = dout + b * T * os + h * D;
      const float* a = att + (b * H + h) * T * T;
      if (T <= kDirectT) {
        attention_backward_direct(d, qh, kh, vh, a, L, T, D, qs, ks, os, scale, dqh, dkh, dvh, ds);
        continue;
      }
      for (long r0 = 0; r0 < L; r0 += kRowBlock) {
        long r1 = std::min(r0 + kRowBlock, L), rb = r1 - r0;
        const float* p = a + r0 * T;
        // dP = dout V^T  [rb, r1]
        sgemm(false, true, rb, r1, D, 1.0f, d + r0 * os, os, vh, ks, 0.0f, ds, r1, 1);
        // dV[0:r1] += P^T dout
        sgemm(true, false, r1, D, rb, 1.0f, p, T, d + r0 * os, os, 1.0f, dvh, ks, 1);
        // softmax backward: dS = scale * P * (dP - sum(P dP)), 0 above the diagonal
        for (long i = 0; i < rb; i++) {
          long t = r0 + i;
          const float* pr = p + i * T;
          float* dr = ds + i * r1;
          causal_softmax_row_backward(pr, dr, t, scale);
          for (long t2 = t + 1; t2 < r1; t2++) dr[t2] = 0.0f;
        }
        // dQ[r0:r1] += dS K[0:r1];  dK[0:r1] += dS^T Q[r0:r1]
        sgemm(false, false, rb, D, r1, 1.0f, ds, r1, kh, ks, 1.0f, dqh + r0 * qs, qs, 1);
        sgemm(true, false, r1, D, rb, 1.0f, ds, r1, qh + r0 * qs, qs, 1.0f, dkh, ks, 1);
      }
    }
  });
}

void attention_decode(const float* q, const float* kcache, const float* vcache, long B, long H, long KV, long D,
                      long Tmax, const int32_t* pos, float* out) {
  const long G = H / KV;
  const float scale = 1.0f / std::sqrt((float)D);
  auto head = [&](int task) {
    long b = task / H, h = task % H;
    long P = std::min<long>(pos[b], Tmax - 1);
    const float* qr = q + (b * H + h) * D;
    float* o = out + (b * H + h) * D;
    if (P < 0) {
      std::memset(o, 0, sizeof(float) * D);
      return;
    }
    const float* kc = kcache + (b * KV + h / G) * Tmax * D;
    const float* vc = vcache + (b * KV + h / G) * Tmax * D;
    float* buf = scratch((size_t)(P + 1) + (size_t)D);
    float* s = buf;
    float* acc = buf + P + 1;
    float mx = -INFINITY;
    for (long t2 = 0; t2 <= P; t2++) {
      const float* kr = kc + t2 * D;
      float dot = 0;
#pragma omp simd reduction(+ : dot)
      for (long i = 0; i < D; i++) dot += qr[i] * kr[i];
      s[t2] = dot * scale;
      mx = std::max(mx, s[t2]);
    }
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (long t2 = 0; t2 <= P; t2++) {
      float e = fast_exp(s[t2] - mx);
      s[t2] = e;
      sum += e;
    }
    for (long i = 0; i < D; i++) acc[i] = 0.0f;
    for (long t2 = 0; t2 <= P; t2++) {
      const float* vr = vc + t2 * D;
      float e = s[t2];
#pragma omp simd
      for (long i = 0; i < D; i++) acc[i] += e * vr[i];
    }
    float inv = 1.0f / sum;
    for (long i = 0; i < D; i++) o[i] = acc[i] * inv;
  };
  // A small model's step (the toy: 16 rows x 4 heads x 16 positions x 32) is a few microseconds of work,
  // less than waking the pool's threads: it runs here. Each head's output is the same either way.
  long reads = 0;  // cached keys and values read, in floats
  for (long b = 0; b < B; b++) reads += 2 * (std::min<long>(pos[b], Tmax - 1) + 1) * H * D;
  if (reads < 4 * kElemsPerTask) {
    for (int task = 0; task < (int)(B * H); task++) head(task);
  } else {
    parallel_for((int)(B * H), head);
  }
}

// ----- log-softmax gather ----------------------------------------------------------------------------

void log_softmax_gather(const float* logits, long N, long V, const int32_t* targets, float inv_temperature,
                        const uint8_t* allowed, float* logprobs, float* entropy, float* probs) {
  parallel_range(N, std::max(1L, kElemsPerTask / std::max(V, 1L)), [&](long n0, long n1) {
    std::vector<float> zbuf(probs == nullptr ? V : 0);
    for (long n = n0; n < n1; n++) {
      const float* lr = logits + n * V;
      long tg = targets[n];
      // read before e is written: probs may be logits itself (in place)
      const float zt = tg >= 0 ? lr[tg] * inv_temperature : 0.0f;
      // z = logits * invT (masked to -inf); e = exp(z - max) kept in probs (or scratch) for the second pass.
      float* e = probs != nullptr ? probs + n * V : zbuf.data();
      float mx = -INFINITY;
      if (allowed == nullptr) {
#pragma omp simd reduction(max : mx)
        for (long v = 0; v < V; v++) {
          float z = lr[v] * inv_temperature;
          e[v] = z;
          mx = mx > z ? mx : z;
        }
      } else {
#pragma omp simd reduction(max : mx)
        for (long v = 0; v < V; v++) {
          float z = allowed[v] != 1 ? -INFINITY : lr[v] * inv_temperature;
          e[v] = z;
          mx = mx > z ? mx : z;
        }
      }
      double sum = 0, sum_ez = 0;
#pragma omp simd reduction(+ : sum, sum_ez)
      for (long v = 0; v < V; v++) {
        float z = e[v] - mx;
        float ex = fast_exp(z);
        e[v] = ex;
        sum += ex;
        sum_ez += ex == 0.0f ? 0.0f : ex * z;  // 0 * -inf for masked entries counts 0
      }
      double logz = std::log(sum);
      entropy[n] = (float)(logz - sum_ez / sum);
      if (tg < 0)
        logprobs[n] = 0.0f;
      else if (allowed != nullptr && allowed[tg] != 1)
        logprobs[n] = -INFINITY;
      else
        logprobs[n] = (float)((double)zt - mx - logz);
      if (probs != nullptr) {
        float inv = (float)(1.0 / sum);
#pragma omp simd
        for (long v = 0; v < V; v++) e[v] *= inv;
      }
    }
  });
}

void log_softmax_gather_backward(const float* probs, const int32_t* targets, const float* dlogprobs, long N, long V,
                                 float inv_temperature, float* dlogits) {
  parallel_range(N, std::max(1L, kElemsPerTask / std::max(V, 1L)), [&](long n0, long n1) {
    for (long n = n0; n < n1; n++) {
      long tg = targets[n];
      if (tg < 0) continue;  // the logprob was the constant 0
      float g = dlogprobs[n] * inv_temperature;
      if (g == 0.0f) continue;
      const float* p = probs + n * V;
      float* d = dlogits + n * V;
#pragma omp simd
      for (long v = 0; v < V; v++) d[v] -= g * p[v];
      d[tg] += g;
    }
  });
}

void log_softmax_gather_backward_in_place(float* probs, const int32_t* targets, const float* dlogprobs, long N,
                                          long V, float inv_temperature) {
  parallel_range(N, std::max(1L, kElemsPerTask / std::max(V, 1L)), [&](long n0, long n1) {
    for (long n = n0; n < n1; n++) {
      long tg = targets[n];
      float g = tg < 0 ? 0.0f : dlogprobs[n] * inv_temperature;
      float* p = probs + n * V;
#pragma omp simd
      for (long v = 0; v < V; v++) p[v] = -g * p[v];
      if (tg >= 0) p[tg] += g;
    }
  });
}

// ----- embeddings ------------------------------------------------------------------------------------

void embedding_forward(const int32_t* tokens, const float* wte, const float* wpe, long B, long T, long C,
                       float* out) {
  parallel_range(B * T, std::max(1L, kElemsPerTask / std::max(C, 1L)), [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* e = wte + (long)tokens[r] * C;
      const float* p = wpe + (r % T) * C;
      float* o = out + r * C;
#pragma omp simd
      for (long c = 0; c < C; c++) o[c] = e[c] + p[c];
    }
  });
}

void embedding_backward(const int32_t* tokens, const float* dout, long B, long T, long C, float* dwte,
                        float* dwpe) {
  // Threads own column ranges, and each visits (b, t) in order: a token repeated in the batch is summed
  // in the same order whatever the thread count.
  parallel_range(C, 64, [&](long c0, long c1) {
    for (long r = 0; r < B * T; r++) {
      const float* d = dout + r * C;
      float* e = dwte + (long)tokens[r] * C;
      float* p = dwpe + (r % T) * C;
#pragma omp simd
      for (long c = c0; c < c1; c++) {
        e[c] += d[c];
        p[c] += d[c];
      }
    }
  });
}

// ----- optimizer and elementwise helpers ---------------------------------------------------------------

void adamw(float* param, const float* grad, float* m, float* v, long n, float lr, float beta1, float beta2, float eps,
           float weight_decay, long step, float grad_scale) {
  // PyTorch: p *= 1 - lr*wd; m, v moving averages; p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
  const double bc1 = 1.0 - std::pow((double)beta1, (double)step);
  const double bc2 = 1.0 - std::pow((double)beta2, (double)step);
  const float step_size = (float)(lr / bc1);
  const float inv_bc2_sqrt = (float)(1.0 / std::sqrt(bc2));
  const float decay = 1.0f - lr * weight_decay;
  parallel_range(n, kElemsPerTask, [&](long i0, long i1) {
#pragma omp simd
    for (long i = i0; i < i1; i++) {
      float g = grad_scale * grad[i];
      float mi = beta1 * m[i] + (1.0f - beta1) * g;
      float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      param[i] = param[i] * decay - step_size * mi / (std::sqrt(vi) * inv_bc2_sqrt + eps);
    }
  });
}

void add(const float* a, const float* b, float* out, long n) {
  parallel_range(n, 4 * kElemsPerTask, [&](long i0, long i1) {
#pragma omp simd
    for (long i = i0; i < i1; i++) out[i] = a[i] + b[i];
  });
}

void add_inplace(float* a, const float* b, long n) {
  parallel_range(n, 4 * kElemsPerTask, [&](long i0, long i1) {
#pragma omp simd
    for (long i = i0; i < i1; i++) a[i] += b[i];
  });
}

void scale(float* a, float s, long n) {
  parallel_range(n, 4 * kElemsPerTask, [&](long i0, long i1) {
#pragma omp simd
    for (long i = i0; i < i1; i++) a[i] *= s;
  });
}

double sum_squares(const float* a, long n) {
  // Fixed chunks (independent of the thread count), each summed in float64 over kLanes interleaved
  // partial sums (element i goes to lane i % kLanes; the lanes are independent dependency chains, so the
  // loop runs at load bandwidth, not at one add latency per vector), lanes combined pairwise in a fixed
  // tree, chunks added in order. One accumulator measured 0.47 ms for the toy's 0.8M gradients.
  const long chunk = 1L << 16;
  constexpr int kLanes = 32;
  long nchunks = (n + chunk - 1) / chunk;
  if (nchunks <= 0) return 0.0;
  std::vector<double> part(nchunks, 0.0);
  parallel_range(nchunks, 4, [&](long c0, long c1) {
    for (long c = c0; c < c1; c++) {
      long i0 = c * chunk, i1 = std::min(n, i0 + chunk);
      double lane[kLanes];
      for (int j = 0; j < kLanes; j++) lane[j] = 0.0;
      long i = i0;
      for (; i + kLanes <= i1; i += kLanes) {
#pragma omp simd
        for (int j = 0; j < kLanes; j++) lane[j] += (double)a[i + j] * (double)a[i + j];
      }
      for (int j = 0; i < i1; i++, j++) lane[j] += (double)a[i] * (double)a[i];
      for (int w = kLanes / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) lane[j] += lane[j + w];
      part[c] = lane[0];
    }
  });
  double s = 0;
  for (long c = 0; c < nchunks; c++) s += part[c];
  return s;
}

void bias_add(float* x, const float* bias, long N, long C) {
  parallel_range(N, std::max(1L, 4 * kElemsPerTask / std::max(C, 1L)), [&](long n0, long n1) {
    for (long n = n0; n < n1; n++) {
      float* r = x + n * C;
#pragma omp simd
      for (long c = 0; c < C; c++) r[c] += bias[c];
    }
  });
}

void bias_backward(const float* dout, long N, long C, float* dbias) {
  parallel_range(C, 64, [&](long c0, long c1) {
    long w = c1 - c0;
    std::vector<double> acc(w, 0.0);
    for (long n = 0; n < N; n++) {
      const float* r = dout + n * C + c0;
#pragma omp simd
      for (long c = 0; c < w; c++) acc[c] += r[c];
    }
    for (long c = 0; c < w; c++) dbias[c0 + c] += (float)acc[c];
  });
}

}  // namespace LG_KNS
}  // namespace lg
