// Run-time choice between the two builds of the kernels (kernels_impl.h): AVX2 + FMA where the CPU has
// them (and LAMBDA_GRPO_ISA does not ask for "scalar"), else the portable build.
#include <cstdlib>
#include <cstring>

#include "lgrpo.h"

namespace lg {

namespace base {
#include "kernels_decl.h"
}  // namespace base

#if defined(LG_HAVE_X86_KERNELS)
namespace avx2 {
#include "kernels_decl.h"
}  // namespace avx2
#endif

namespace {

bool detect_avx2() {
#if defined(LG_HAVE_X86_KERNELS)
  __builtin_cpu_init();
  const char* s = std::getenv("LAMBDA_GRPO_ISA");
  if (s != nullptr && std::strcmp(s, "scalar") == 0) return false;
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

const bool g_avx2 = detect_avx2();

}  // namespace

#if defined(LG_HAVE_X86_KERNELS)
#define LG_DISPATCH(name, ...) return g_avx2 ? avx2::name(__VA_ARGS__) : base::name(__VA_ARGS__)
#else
#define LG_DISPATCH(name, ...) return base::name(__VA_ARGS__)
#endif

void layernorm_forward(const float* x, const float* w, const float* b, float eps, long N, long C, float* out,
                       float* mean, float* rstd) {
  LG_DISPATCH(layernorm_forward, x, w, b, eps, N, C, out, mean, rstd);
}

void layernorm_backward(const float* dout, const float* x, const float* w, const float* mean, const float* rstd,
                        long N, long C, float* dx, float* dw, float* db) {
  LG_DISPATCH(layernorm_backward, dout, x, w, mean, rstd, N, C, dx, dw, db);
}

void rmsnorm_forward(const float* x, const float* w, float eps, long N, long C, float* out, float* rstd) {
  LG_DISPATCH(rmsnorm_forward, x, w, eps, N, C, out, rstd);
}

void rmsnorm_backward(const float* dout, const float* x, const float* w, const float* rstd, long N, long C,
                      float* dx, float* dw) {
  LG_DISPATCH(rmsnorm_backward, dout, x, w, rstd, N, C, dx, dw);
}

void gelu_forward(const float* x, float* out, long n) {
  LG_DISPATCH(gelu_forward, x, out, n);
}

void gelu_backward(const float* x, const float* dout, float* dx, long n) {
  LG_DISPATCH(gelu_backward, x, dout, dx, n);
}

void silu_forward(const float* x, float* out, long n) {
  LG_DISPATCH(silu_forward, x, out, n);
}

void silu_backward(const float* x, const float* dout, float* dx, long n) {
  LG_DISPATCH(silu_backward, x, dout, dx, n);
}

void attention_forward(const float* q, const float* k, const float* v, long B, long T, long H, long KV, long D,
                       long qs, long ks, long os, const int32_t* lengths, float* out, float* att) {
  LG_DISPATCH(attention_forward, q, k, v, B, T, H, KV, D, qs, ks, os, lengths, out, att);
}

void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* att, long B,
                        long T, long H, long KV, long D, long qs, long ks, long os, const int32_t* lengths, float* dq,
                        float* dk, float* dv) {
  LG_DISPATCH(attention_backward, dout, q, k, v, att, B, T, H, KV, D, qs, ks, os, lengths, dq, dk, dv);
}

void attention_decode(const float* q, const float* kcache, const float* vcache, long B, long H, long KV, long D,
                      long Tmax, const int32_t* pos, float* out) {
  LG_DISPATCH(attention_decode, q, kcache, vcache, B, H, KV, D, Tmax, pos, out);
}

void rope_rotate(const float* x, float* out, long R, long H, long D, long stride, const float* cos, const float* sin,
                 long T, bool per_row, float sign, bool acc) {
  LG_DISPATCH(rope_rotate, x, out, R, H, D, stride, cos, sin, T, per_row, sign, acc);
}

void swiglu_forward(const float* gate, const float* up, float* out, long n) {
  LG_DISPATCH(swiglu_forward, gate, up, out, n);
}

void swiglu_backward(const float* gate, const float* up, const float* dout, float* dgate, float* dup, long n) {
  LG_DISPATCH(swiglu_backward, gate, up, dout, dgate, dup, n);
}

void log_softmax_gather(const float* logits, long N, long V, const int32_t* targets, float inv_temperature,
                        const uint8_t* allowed, float* logprobs, float* entropy, float* probs) {
  LG_DISPATCH(log_softmax_gather, logits, N, V, targets, inv_temperature, allowed, logprobs, entropy, probs);
}

void log_softmax_gather_backward(const float* probs, const int32_t* targets, const float* dlogprobs, long N, long V,
                                 float inv_temperature, float* dlogits) {
  LG_DISPATCH(log_softmax_gather_backward, probs, targets, dlogprobs, N, V, inv_temperature, dlogits);
}

void log_softmax_gather_backward_in_place(float* probs, const int32_t* targets, const float* dlogprobs, long N,
                                          long V, float inv_temperature) {
  LG_DISPATCH(log_softmax_gather_backward_in_place, probs, targets, dlogprobs, N, V, inv_temperature);
}

void embedding_forward(const int32_t* tokens, const float* wte, const float* wpe, long B, long T, long C, float* out) {
  LG_DISPATCH(embedding_forward, tokens, wte, wpe, B, T, C, out);
}

void embedding_backward(const int32_t* tokens, const float* dout, long B, long T, long C, float* dwte, float* dwpe) {
  LG_DISPATCH(embedding_backward, tokens, dout, B, T, C, dwte, dwpe);
}

void adamw(float* param, const float* grad, float* m, float* v, long n, float lr, float beta1, float beta2, float eps,
           float weight_decay, long step, float grad_scale) {
  LG_DISPATCH(adamw, param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, step, grad_scale);
}

void add(const float* a, const float* b, float* out, long n) {
  LG_DISPATCH(add, a, b, out, n);
}

void add_inplace(float* a, const float* b, long n) {
  LG_DISPATCH(add_inplace, a, b, n);
}

void scale(float* a, float s, long n) {
  LG_DISPATCH(scale, a, s, n);
}

double sum_squares(const float* a, long n) {
  LG_DISPATCH(sum_squares, a, n);
}

void bias_add(float* x, const float* bias, long N, long C) {
  LG_DISPATCH(bias_add, x, bias, N, C);
}

void bias_backward(const float* dout, long N, long C, float* dbias) {
  LG_DISPATCH(bias_backward, dout, N, C, dbias);
}

bool kernels_use_avx2() { return g_avx2; }

}  // namespace lg
