// The kernels of docs/KERNELS.md other than GEMM: the one list of their declarations. Deliberately no
// include guard and no includes of its own: it is included inside a namespace, after <cstdint>, once
// per namespace that holds a build of the kernels -- lg (lgrpo.h: the run-time dispatch in kernels.cc)
// and lg::base / lg::avx2 (kernels.cc: the two builds of kernels_impl.h it dispatches to).

// x, out [N,C]; w, b [C]; mean, rstd [N] saved for the backward
void layernorm_forward(const float* x, const float* w, const float* b, float eps, long N, long C, float* out,
                       float* mean, float* rstd);
// dout, x, dx [N,C]; w, dw, db [C]; mean, rstd [N]; dx, dw, db accumulate
void layernorm_backward(const float* dout, const float* x, const float* w, const float* mean, const float* rstd,
                        long N, long C, float* dx, float* dw, float* db);
// x, out [N,C]; w [C]; rstd [N] saved
void rmsnorm_forward(const float* x, const float* w, float eps, long N, long C, float* out, float* rstd);
// dout, x, dx [N,C]; w, dw [C]; rstd [N]; dx, dw accumulate
void rmsnorm_backward(const float* dout, const float* x, const float* w, const float* rstd, long N, long C,
                      float* dx, float* dw);
// elementwise over n; the backwards accumulate into dx
void gelu_forward(const float* x, float* out, long n);
void gelu_backward(const float* x, const float* dout, float* dx, long n);
void silu_forward(const float* x, float* out, long n);
void silu_backward(const float* x, const float* dout, float* dx, long n);
// Causal attention, grouped-query: H query heads of D, KV heads (H % KV == 0; query head h reads KV head
// h / (H/KV)). Row (b,t) of q starts at q + (b*T+t)*qs (head h at h*D), of k and v at (b*T+t)*ks (head j
// at j*D), of out at (b*T+t)*os. GPT-2's packed qkv [B,T,3C] is q = qkv, k = qkv + C, v = qkv + 2C,
// qs = ks = 3C, os = C. att [B,H,T,T] softmax probabilities saved for the backward; lengths [B] or null
// (keys >= lengths[b] masked, rows >= it zero). Scale 1/sqrt(D).
void attention_forward(const float* q, const float* k, const float* v, long B, long T, long H, long KV, long D,
                       long qs, long ks, long os, const int32_t* lengths, float* out, float* att);
// dout as out; att from the forward; dq (as q), dk, dv (as k) accumulate
void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* att, long B,
                        long T, long H, long KV, long D, long qs, long ks, long os, const int32_t* lengths, float* dq,
                        float* dk, float* dv);
// q, out [B,H*D]; kcache, vcache [B,KV,Tmax,D]; row b attends to cache positions 0..pos[b]
void attention_decode(const float* q, const float* kcache, const float* vcache, long B, long H, long KV, long D,
                      long Tmax, const int32_t* pos, float* out);
// RoPE rotate-half: R rows of x (stride apart) with H heads of D; pair (i, i + D/2) of each head turns by
// the angle whose cos, sin are row (per_row ? r : r % T) of cos, sin [*, D/2], times sign; acc adds into out
void rope_rotate(const float* x, float* out, long R, long H, long D, long stride, const float* cos, const float* sin,
                 long T, bool per_row, float sign, bool acc);
// out = silu(gate) * up over n; the backward accumulates into dgate, dup
void swiglu_forward(const float* gate, const float* up, float* out, long n);
void swiglu_backward(const float* gate, const float* up, const float* dout, float* dgate, float* dup, long n);
// logits [N,V]; targets [N] (negative: logprob 0); allowed [V] or null; logprobs, entropy [N];
// probs [N,V] or null
void log_softmax_gather(const float* logits, long N, long V, const int32_t* targets, float inv_temperature,
                        const uint8_t* allowed, float* logprobs, float* entropy, float* probs);
// probs, dlogits [N,V]; targets, dlogprobs [N]; dlogits accumulates
void log_softmax_gather_backward(const float* probs, const int32_t* targets, const float* dlogprobs, long N, long V,
                                 float inv_temperature, float* dlogits);
// probs [N,V] becomes dlogits (rows without a target: 0); targets, dlogprobs [N]
void log_softmax_gather_backward_in_place(float* probs, const int32_t* targets, const float* dlogprobs, long N,
                                          long V, float inv_temperature);
// tokens [B,T]; wte [V,C]; wpe [>=T,C]; out [B,T,C]
void embedding_forward(const int32_t* tokens, const float* wte, const float* wpe, long B, long T, long C, float* out);
// tokens [B,T]; dout [B,T,C]; dwte [V,C], dwpe [>=T,C] accumulate
void embedding_backward(const int32_t* tokens, const float* dout, long B, long T, long C, float* dwte, float* dwpe);
// param, m, v [n], updated in place with the gradient grad_scale * grad (grad is not written); step counts
// from 1
void adamw(float* param, const float* grad, float* m, float* v, long n, float lr, float beta1, float beta2, float eps,
           float weight_decay, long step, float grad_scale);
// elementwise over n
void add(const float* a, const float* b, float* out, long n);
void add_inplace(float* a, const float* b, long n);
void scale(float* a, float s, long n);
double sum_squares(const float* a, long n);
// x [N,C] += bias [C]; dbias [C] += column sums of dout [N,C]
void bias_add(float* x, const float* bias, long N, long C);
void bias_backward(const float* dout, long N, long C, float* dbias);
