// Node-API bindings: checks each JavaScript argument cheaply (type, integer sizes, buffer lengths against
// the shapes) and throws a TypeError naming the kernel and the argument instead of reading out of bounds.
// Typed arrays are used in place (subarray views included: Data() already honours byteOffset), never copied.
#include <napi.h>

#include <array>
#include <cmath>
#include <exception>
#include <string>
#include <tuple>

#include "lgrpo.h"

namespace {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t count) : info_(info), fn_(fn) {
    if (info.Length() != count) {
      fail("expects " + std::to_string(count) + " arguments, got " + std::to_string(info.Length()));
    }
  }

  [[noreturn]] void fail(const std::string& msg) const {
    throw Napi::TypeError::New(info_.Env(), std::string("lgrpo_native.") + fn_ + ": " + msg);
  }

  std::string what(size_t i, const char* name) const {
    return std::string(name) + " (argument " + std::to_string(i + 1) + ")";
  }

  // A non-negative integer that fits a shape.
  long size(size_t i, const char* name) const {
    if (!info_[i].IsNumber()) fail(what(i, name) + " must be a number");
    double d = info_[i].As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d != std::floor(d) || d > 1e15) fail(what(i, name) + " must be a non-negative integer, got " + std::to_string(d));
    return (long)d;
  }

  float number(size_t i, const char* name) const {
    if (!info_[i].IsNumber()) fail(what(i, name) + " must be a number");
    return (float)info_[i].As<Napi::Number>().DoubleValue();
  }

  bool boolean(size_t i, const char* name) const {
    if (!info_[i].IsBoolean()) fail(what(i, name) + " must be a boolean");
    return info_[i].As<Napi::Boolean>().Value();
  }

  bool is_null(size_t i) const { return info_[i].IsNull() || info_[i].IsUndefined(); }

  // A Float32Array with at least `need` elements (a subarray view is fine).
  float* f32(size_t i, const char* name, long need) const {
    return typed<float>(i, name, need, napi_float32_array, "Float32Array");
  }
  float* f32_or_null(size_t i, const char* name, long need) const { return is_null(i) ? nullptr : f32(i, name, need); }
  int32_t* i32(size_t i, const char* name, long need) const {
    return typed<int32_t>(i, name, need, napi_int32_array, "Int32Array");
  }
  int32_t* i32_or_null(size_t i, const char* name, long need) const { return is_null(i) ? nullptr : i32(i, name, need); }
  uint8_t* u8_or_null(size_t i, const char* name, long need) const {
    return is_null(i) ? nullptr : typed<uint8_t>(i, name, need, napi_uint8_array, "Uint8Array");
  }

  // Elements available in a typed array argument already checked by f32/i32.
  long length(size_t i) const { return (long)info_[i].As<Napi::TypedArray>().ElementLength(); }

 private:
  template <class T>
  T* typed(size_t i, const char* name, long need, napi_typedarray_type type, const char* type_name) const {
    if (!info_[i].IsTypedArray() || info_[i].As<Napi::TypedArray>().TypedArrayType() != type) {
      fail(what(i, name) + " must be a " + type_name +
           (type == napi_float32_array ? " (Float64Array calls go to the TypeScript kernels)" : ""));
    }
    Napi::TypedArrayOf<T> a = info_[i].As<Napi::TypedArrayOf<T>>();
    if ((long)a.ElementLength() < need) {
      fail(what(i, name) + " has " + std::to_string(a.ElementLength()) + " elements, needs at least " +
           std::to_string(need));
    }
    return a.Data();
  }

  const Napi::CallbackInfo& info_;
  const char* fn_;
};

// Elements a matrix of `rows` x `cols` spans (0 when empty).
long span(long rows, long cols) { return rows * cols; }

// tokens (argument i) [n], each a row of the table (argument `table`) [vocab, C] (vocab from its length)
const int32_t* tokens_of(const Args& a, size_t i, long n, size_t table, long C) {
  const int32_t* tokens = a.i32(i, "tokens", n);
  if (C == 0) return tokens;
  long vocab = a.length(table) / C;
  for (long j = 0; j < n; j++) {
    if (tokens[j] < 0 || tokens[j] >= vocab) {
      a.fail("tokens[" + std::to_string(j) + "] = " + std::to_string(tokens[j]) + " is outside the vocabulary [0, " +
             std::to_string(vocab) + ")");
    }
  }
  return tokens;
}

// An elementwise kernel's binding: arguments 0 .. K-1 are its buffers, named `buffers`, each of at least
// n floats, and argument K is n.
template <auto Kernel, size_t K>
Napi::Value Elementwise(const Napi::CallbackInfo& info, const char* fn, const char* const (&buffers)[K]) {
  Args a(info, fn, K + 1);
  long n = a.size(K, "n");
  std::array<float*, K> p;
  for (size_t i = 0; i < K; i++) p[i] = a.f32(i, buffers[i], n);
  std::apply([n](auto... q) { Kernel(q..., n); }, p);
  return info.Env().Undefined();
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args a(info, "gemm", 10);
  bool ta = a.boolean(0, "tA"), tb = a.boolean(1, "tB");
  long M = a.size(2, "M"), N = a.size(3, "N"), K = a.size(4, "K");
  float alpha = a.number(5, "alpha");
  const float* A = a.f32(6, "A", span(M, K));
  const float* B = a.f32(7, "B", span(K, N));
  float beta = a.number(8, "beta");
  float* C = a.f32(9, "C", span(M, N));
  lg::sgemm(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
  return info.Env().Undefined();
}

Napi::Value GemmBatched(const Napi::CallbackInfo& info) {
  Args a(info, "gemmBatched", 14);
  bool ta = a.boolean(0, "tA"), tb = a.boolean(1, "tB");
  long batch = a.size(2, "batch"), M = a.size(3, "M"), N = a.size(4, "N"), K = a.size(5, "K");
  float alpha = a.number(6, "alpha");
  long sa = a.size(8, "strideA"), sb = a.size(10, "strideB"), sc = a.size(13, "strideC");
  auto need = [&](long stride, long one) { return batch == 0 || one == 0 ? 0 : (batch - 1) * stride + one; };
  const float* A = a.f32(7, "A", need(sa, span(M, K)));
  const float* B = a.f32(9, "B", need(sb, span(K, N)));
  float beta = a.number(11, "beta");
  float* C = a.f32(12, "C", need(sc, span(M, N)));
  if (batch == 0) return info.Env().Undefined();
  double flops = 2.0 * M * N * K;
  if (batch >= lg::num_threads() && flops * batch > 4.0e6) {
    // One matrix per task (each serial); the result of each is the same as a lone call's.
    lg::parallel_for((int)batch, [&](int p) {
      lg::sgemm(ta, tb, M, N, K, alpha, A + p * sa, ta ? M : K, B + p * sb, tb ? K : N, beta, C + p * sc, N, 1);
    });
  } else {
    for (long p = 0; p < batch; p++)
      lg::sgemm(ta, tb, M, N, K, alpha, A + p * sa, ta ? M : K, B + p * sb, tb ? K : N, beta, C + p * sc, N);
  }
  return info.Env().Undefined();
}

Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  Args a(info, "layerNormForward", 9);
  long N = a.size(4, "N"), C = a.size(5, "C");
  lg::layernorm_forward(a.f32(0, "x", N * C), a.f32(1, "w", C), a.f32(2, "b", C), a.number(3, "eps"), N, C,
                        a.f32(6, "out", N * C), a.f32(7, "mean", N), a.f32(8, "rstd", N));
  return info.Env().Undefined();
}

Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "layerNormBackward", 10);
  long N = a.size(5, "N"), C = a.size(6, "C");
  lg::layernorm_backward(a.f32(0, "dout", N * C), a.f32(1, "x", N * C), a.f32(2, "w", C), a.f32(3, "mean", N),
                         a.f32(4, "rstd", N), N, C, a.f32(7, "dx", N * C), a.f32(8, "dw", C), a.f32(9, "db", C));
  return info.Env().Undefined();
}

Napi::Value RmsNormForward(const Napi::CallbackInfo& info) {
  Args a(info, "rmsNormForward", 7);
  long N = a.size(3, "N"), C = a.size(4, "C");
  lg::rmsnorm_forward(a.f32(0, "x", N * C), a.f32(1, "w", C), a.number(2, "eps"), N, C, a.f32(5, "out", N * C),
                      a.f32(6, "rstd", N));
  return info.Env().Undefined();
}

Napi::Value RmsNormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "rmsNormBackward", 8);
  long N = a.size(4, "N"), C = a.size(5, "C");
  lg::rmsnorm_backward(a.f32(0, "dout", N * C), a.f32(1, "x", N * C), a.f32(2, "w", C), a.f32(3, "rstd", N), N, C,
                       a.f32(6, "dx", N * C), a.f32(7, "dw", C));
  return info.Env().Undefined();
}

Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  return Elementwise<lg::gelu_forward>(info, "geluForward", {"x", "out"});
}
Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  return Elementwise<lg::gelu_backward>(info, "geluBackward", {"x", "dout", "dx"});
}
Napi::Value SiluForward(const Napi::CallbackInfo& info) {
  return Elementwise<lg::silu_forward>(info, "siluForward", {"x", "out"});
}
Napi::Value SiluBackward(const Napi::CallbackInfo& info) {
  return Elementwise<lg::silu_backward>(info, "siluBackward", {"x", "dout", "dx"});
}

void check_heads(const Args& a, long C, long NH) {
  if (NH == 0 || C % NH != 0) a.fail("C = " + std::to_string(C) + " must be a multiple of NH = " + std::to_string(NH));
}

Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionForward", 8);
  long B = a.size(1, "B"), T = a.size(2, "T"), C = a.size(3, "C"), NH = a.size(4, "NH");
  check_heads(a, C, NH);
  const float* qkv = a.f32(0, "qkv", B * T * 3 * C);
  lg::attention_forward(qkv, qkv + C, qkv + 2 * C, B, T, NH, NH, C / NH, 3 * C, 3 * C, C,
                        a.i32_or_null(5, "lengths", B), a.f32(6, "out", B * T * C), a.f32(7, "att", B * NH * T * T));
  return info.Env().Undefined();
}

Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionBackward", 9);
  long B = a.size(3, "B"), T = a.size(4, "T"), C = a.size(5, "C"), NH = a.size(6, "NH");
  check_heads(a, C, NH);
  const float* qkv = a.f32(1, "qkv", B * T * 3 * C);
  float* dqkv = a.f32(8, "dqkv", B * T * 3 * C);
  lg::attention_backward(a.f32(0, "dout", B * T * C), qkv, qkv + C, qkv + 2 * C, a.f32(2, "att", B * NH * T * T), B, T,
                         NH, NH, C / NH, 3 * C, 3 * C, C, a.i32_or_null(7, "lengths", B), dqkv, dqkv + C, dqkv + 2 * C);
  return info.Env().Undefined();
}

Napi::Value AttentionDecode(const Napi::CallbackInfo& info) {
  Args a(info, "attentionDecode", 9);
  long B = a.size(3, "B"), C = a.size(4, "C"), NH = a.size(5, "NH"), Tmax = a.size(6, "Tmax");
  check_heads(a, C, NH);
  lg::attention_decode(a.f32(0, "q", B * C), a.f32(1, "kCache", B * Tmax * C), a.f32(2, "vCache", B * Tmax * C), B, NH,
                       NH, C / NH, Tmax, a.i32(7, "pos", B), a.f32(8, "out", B * C));
  return info.Env().Undefined();
}

// H query heads over KV heads: both at least 1, H a multiple of KV
void check_groups(const Args& a, long H, long KV) {
  if (KV == 0 || H == 0 || H % KV != 0) a.fail("H = " + std::to_string(H) + " must be a positive multiple of KV = " + std::to_string(KV));
}

Napi::Value GqaAttentionForward(const Napi::CallbackInfo& info) {
  Args a(info, "gqaAttentionForward", 11);
  long B = a.size(3, "B"), T = a.size(4, "T"), H = a.size(5, "H"), KV = a.size(6, "KV"), D = a.size(7, "D");
  check_groups(a, H, KV);
  lg::attention_forward(a.f32(0, "q", B * T * H * D), a.f32(1, "k", B * T * KV * D), a.f32(2, "v", B * T * KV * D), B, T,
                        H, KV, D, H * D, KV * D, H * D, a.i32_or_null(8, "lengths", B), a.f32(9, "out", B * T * H * D),
                        a.f32(10, "att", B * H * T * T));
  return info.Env().Undefined();
}

Napi::Value GqaAttentionBackward(const Napi::CallbackInfo& info) {
  Args a(info, "gqaAttentionBackward", 14);
  long B = a.size(5, "B"), T = a.size(6, "T"), H = a.size(7, "H"), KV = a.size(8, "KV"), D = a.size(9, "D");
  check_groups(a, H, KV);
  long nq = B * T * H * D, nk = B * T * KV * D;
  lg::attention_backward(a.f32(0, "dout", nq), a.f32(1, "q", nq), a.f32(2, "k", nk), a.f32(3, "v", nk),
                         a.f32(4, "att", B * H * T * T), B, T, H, KV, D, H * D, KV * D, H * D,
                         a.i32_or_null(10, "lengths", B), a.f32(11, "dq", nq), a.f32(12, "dk", nk), a.f32(13, "dv", nk));
  return info.Env().Undefined();
}

Napi::Value GqaAttentionDecode(const Napi::CallbackInfo& info) {
  Args a(info, "gqaAttentionDecode", 10);
  long B = a.size(3, "B"), H = a.size(4, "H"), KV = a.size(5, "KV"), D = a.size(6, "D"), Tmax = a.size(7, "Tmax");
  check_groups(a, H, KV);
  lg::attention_decode(a.f32(0, "q", B * H * D), a.f32(1, "kCache", B * KV * Tmax * D),
                       a.f32(2, "vCache", B * KV * Tmax * D), B, H, KV, D, Tmax, a.i32(8, "pos", B),
                       a.f32(9, "out", B * H * D));
  return info.Env().Undefined();
}

Napi::Value RopeRotate(const Napi::CallbackInfo& info) {
  Args a(info, "ropeRotate", 12);
  long R = a.size(2, "R"), H = a.size(3, "H"), D = a.size(4, "D"), stride = a.size(5, "stride"), T = a.size(8, "T");
  bool per_row = a.boolean(9, "perRow");
  if (D % 2 != 0) a.fail("D = " + std::to_string(D) + " must be even");
  if (stride < H * D) a.fail("stride = " + std::to_string(stride) + " is less than H * D = " + std::to_string(H * D));
  if (!per_row && T == 0 && R > 0) a.fail(a.what(8, "T") + " must be at least 1");
  long need = R == 0 ? 0 : (R - 1) * stride + H * D;
  long table = (per_row ? R : std::min(T, R)) * (D / 2);
  lg::rope_rotate(a.f32(0, "x", need), a.f32(1, "out", need), R, H, D, stride, a.f32(6, "cos", table), a.f32(7, "sin", table),
                  T, per_row, a.number(10, "sign"), a.boolean(11, "acc"));
  return info.Env().Undefined();
}

Napi::Value SwigluForward(const Napi::CallbackInfo& info) {
  return Elementwise<lg::swiglu_forward>(info, "swigluForward", {"gate", "up", "out"});
}
Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  return Elementwise<lg::swiglu_backward>(info, "swigluBackward", {"gate", "up", "dout", "dgate", "dup"});
}

// targets (argument i) [N] index rows of V logits; negative ones are let through (logprob 0)
const int32_t* targets_of(const Args& a, size_t i, long N, long V) {
  const int32_t* targets = a.i32(i, "targets", N);
  for (long n = 0; n < N; n++) {
    if (targets[n] >= V) a.fail("targets[" + std::to_string(n) + "] = " + std::to_string(targets[n]) + " >= V = " + std::to_string(V));
  }
  return targets;
}

Napi::Value LogSoftmaxGather(const Napi::CallbackInfo& info) {
  Args a(info, "logSoftmaxGather", 9);
  long N = a.size(1, "N"), V = a.size(2, "V");
  const int32_t* targets = targets_of(a, 3, N, V);
  lg::log_softmax_gather(a.f32(0, "logits", N * V), N, V, targets, a.number(4, "invTemperature"),
                         a.u8_or_null(5, "allowed", V), a.f32(6, "logprobs", N), a.f32(7, "entropy", N),
                         a.f32_or_null(8, "probs", N * V));
  return info.Env().Undefined();
}

Napi::Value LogSoftmaxGatherBackward(const Napi::CallbackInfo& info) {
  Args a(info, "logSoftmaxGatherBackward", 7);
  long N = a.size(3, "N"), V = a.size(4, "V");
  const int32_t* targets = targets_of(a, 1, N, V);
  lg::log_softmax_gather_backward(a.f32(0, "probs", N * V), targets, a.f32(2, "dlogprobs", N), N, V,
                                  a.number(5, "invTemperature"), a.f32(6, "dlogits", N * V));
  return info.Env().Undefined();
}

Napi::Value LogSoftmaxGatherBackwardInPlace(const Napi::CallbackInfo& info) {
  Args a(info, "logSoftmaxGatherBackwardInPlace", 6);
  long N = a.size(3, "N"), V = a.size(4, "V");
  const int32_t* targets = targets_of(a, 1, N, V);
  lg::log_softmax_gather_backward_in_place(a.f32(0, "probs", N * V), targets, a.f32(2, "dlogprobs", N), N, V,
                                           a.number(5, "invTemperature"));
  return info.Env().Undefined();
}

Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingForward", 7);
  long B = a.size(3, "B"), T = a.size(4, "T"), C = a.size(5, "C");
  const float* wte = a.f32(1, "wte", 0);
  const int32_t* tokens = tokens_of(a, 0, B * T, 1, C);
  lg::embedding_forward(tokens, wte, a.f32(2, "wpe", T * C), B, T, C, a.f32(6, "out", B * T * C));
  return info.Env().Undefined();
}

Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingBackward", 7);
  long B = a.size(2, "B"), T = a.size(3, "T"), C = a.size(4, "C");
  float* dwte = a.f32(5, "dwte", 0);
  const int32_t* tokens = tokens_of(a, 0, B * T, 5, C);
  lg::embedding_backward(tokens, a.f32(1, "dout", B * T * C), B, T, C, dwte, a.f32(6, "dwpe", T * C));
  return info.Env().Undefined();
}

Napi::Value AdamW(const Napi::CallbackInfo& info) {
  Args a(info, "adamw", 12);
  long n = a.size(4, "n");
  long step = a.size(10, "step");
  if (step < 1) a.fail(a.what(10, "step") + " counts from 1");
  lg::adamw(a.f32(0, "param", n), a.f32(1, "grad", n), a.f32(2, "m", n), a.f32(3, "v", n), n, a.number(5, "lr"),
            a.number(6, "beta1"), a.number(7, "beta2"), a.number(8, "eps"), a.number(9, "weightDecay"), step,
            a.number(11, "gradScale"));
  return info.Env().Undefined();
}

Napi::Value Add(const Napi::CallbackInfo& info) { return Elementwise<lg::add>(info, "add", {"a", "b", "out"}); }
Napi::Value AddInPlace(const Napi::CallbackInfo& info) {
  return Elementwise<lg::add_inplace>(info, "addInPlace", {"a", "b"});
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  Args a(info, "scale", 3);
  long n = a.size(2, "n");
  lg::scale(a.f32(0, "a", n), a.number(1, "s"), n);
  return info.Env().Undefined();
}

Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Args a(info, "sumSquares", 2);
  long n = a.size(1, "n");
  return Napi::Number::New(info.Env(), lg::sum_squares(a.f32(0, "a", n), n));
}

Napi::Value BiasAdd(const Napi::CallbackInfo& info) {
  Args a(info, "biasAdd", 4);
  long N = a.size(2, "N"), C = a.size(3, "C");
  lg::bias_add(a.f32(0, "x", N * C), a.f32(1, "bias", C), N, C);
  return info.Env().Undefined();
}

Napi::Value BiasBackward(const Napi::CallbackInfo& info) {
  Args a(info, "biasBackward", 4);
  long N = a.size(1, "N"), C = a.size(2, "C");
  lg::bias_backward(a.f32(0, "dout", N * C), N, C, a.f32(3, "dbias", C));
  return info.Env().Undefined();
}

const char* isa_name(lg::Isa isa) {
  return isa == lg::ISA_AMX ? "amx" : isa == lg::ISA_AVX512 ? "avx512" : isa == lg::ISA_AVX2 ? "avx2" : "scalar";
}

Napi::Value Isa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), isa_name(lg::gemm_isa())); }

// setIsa("amx" | "avx512" | "avx2" | "scalar") -> boolean: whether this CPU can run it (tests, benchmarks).
Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Args a(info, "setIsa", 1);
  if (!info[0].IsString()) a.fail("isa must be \"amx\", \"avx512\", \"avx2\" or \"scalar\"");
  std::string s = info[0].As<Napi::String>().Utf8Value();
  lg::Isa isa;
  if (s == "amx") isa = lg::ISA_AMX;
  else if (s == "avx512") isa = lg::ISA_AVX512;
  else if (s == "avx2") isa = lg::ISA_AVX2;
  else if (s == "scalar") isa = lg::ISA_SCALAR;
  else a.fail("isa must be \"amx\", \"avx512\", \"avx2\" or \"scalar\", got \"" + s + "\"");
  return Napi::Boolean::New(info.Env(), lg::set_gemm_isa(isa));
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), lg::num_threads()); }

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Args a(info, "setThreads", 1);
  long n = a.size(0, "n");
  if (n < 1) a.fail(a.what(0, "n") + " must be at least 1");
  lg::set_num_threads((int)n);
  return info.Env().Undefined();
}

// C++ exceptions other than Napi's (std::bad_alloc from a packing buffer) become JavaScript errors.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guard(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("lgrpo_native: ") + e.what());
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  const Entry entries[] = {
      {"gemm", Guard<Gemm>},
      {"gemmBatched", Guard<GemmBatched>},
      {"layerNormForward", Guard<LayerNormForward>},
      {"layerNormBackward", Guard<LayerNormBackward>},
      {"rmsNormForward", Guard<RmsNormForward>},
      {"rmsNormBackward", Guard<RmsNormBackward>},
      {"geluForward", Guard<GeluForward>},
      {"geluBackward", Guard<GeluBackward>},
      {"siluForward", Guard<SiluForward>},
      {"siluBackward", Guard<SiluBackward>},
      {"attentionForward", Guard<AttentionForward>},
      {"attentionBackward", Guard<AttentionBackward>},
      {"attentionDecode", Guard<AttentionDecode>},
      {"gqaAttentionForward", Guard<GqaAttentionForward>},
      {"gqaAttentionBackward", Guard<GqaAttentionBackward>},
      {"gqaAttentionDecode", Guard<GqaAttentionDecode>},
      {"ropeRotate", Guard<RopeRotate>},
      {"swigluForward", Guard<SwigluForward>},
      {"swigluBackward", Guard<SwigluBackward>},
      {"logSoftmaxGather", Guard<LogSoftmaxGather>},
      {"logSoftmaxGatherBackward", Guard<LogSoftmaxGatherBackward>},
      {"logSoftmaxGatherBackwardInPlace", Guard<LogSoftmaxGatherBackwardInPlace>},
      {"embeddingForward", Guard<EmbeddingForward>},
      {"embeddingBackward", Guard<EmbeddingBackward>},
      {"adamw", Guard<AdamW>},
      {"add", Guard<Add>},
      {"addInPlace", Guard<AddInPlace>},
      {"scale", Guard<Scale>},
      {"sumSquares", Guard<SumSquares>},
      {"biasAdd", Guard<BiasAdd>},
      {"biasBackward", Guard<BiasBackward>},
      {"isa", Guard<Isa>},
      {"setIsa", Guard<SetIsa>},
      {"getThreads", Guard<GetThreads>},
      {"setThreads", Guard<SetThreads>},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  return exports;
}

}  // namespace

NODE_API_MODULE(lgrpo_native, Init)
