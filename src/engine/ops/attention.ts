/**
 * causalSelfAttention: fused multi-head causal attention over packed q,k,v (GPT-2's c_attn output),
 * with per-row valid lengths: keys at or past lengths[b] are masked and those query rows give 0, so a
 * padded row attends exactly as the unpadded sequence would.
 * qkv [B,T,3C] -> [B,T,C]; the softmax probabilities [B,NH,T,T] are kept for the backward.
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor } from "../tensor.js";

export function causalSelfAttention(qkv: Tensor, nHead: number, lengths: Int32Array | null): Tensor {
  const [B, T, C3] = qkv.shape;
  const C = C3 / 3;
  if (qkv.shape.length !== 3 || C % nHead !== 0 || !Number.isInteger(C)) {
    throw new Error(`causalSelfAttention: qkv [${qkv.shape}] is not [B,T,3C] with C divisible by ${nHead} heads`);
  }
  if (lengths !== null && lengths.length !== B) throw new Error(`causalSelfAttention: ${lengths.length} lengths for batch ${B}`);
  const grad = needsGrad(qkv);
  const out = new Tensor([B, T, C], alloc(qkv.data, B * T * C), grad);
  const att = alloc(qkv.data, B * nHead * T * T);
  kernels.attentionForward(qkv.data, B, T, C, nHead, lengths, out.data, att);
  if (grad) {
    record(out, () => {
      if (out.grad === null) return;
      kernels.attentionBackward(out.grad, qkv.data, att, B, T, C, nHead, lengths, gradOf(qkv));
    });
  }
  return out;
}

/**
 * groupedQueryAttention: causal attention of H query heads over KV key/value heads (H % KV == 0; query
 * head h reads KV head h / (H/KV); KV = H is plain multi-head attention), scale 1/sqrt(D), with the
 * per-row lengths of causalSelfAttention.
 * q [B,T,H*D], k, v [B,T,KV*D] -> [B,T,H*D]; the probabilities [B,H,T,T] are kept for the backward.
 */
export function groupedQueryAttention(q: Tensor, k: Tensor, v: Tensor, nHead: number, nKvHead: number, lengths: Int32Array | null): Tensor {
  const [B, T, HD] = q.shape;
  const D = HD / nHead;
  if (q.shape.length !== 3 || !Number.isInteger(D) || nHead % nKvHead !== 0) {
    throw new Error(`groupedQueryAttention: q [${q.shape}] is not [B,T,H*D] for ${nHead} heads in groups over ${nKvHead} KV heads`);
  }
  for (const [name, t] of [["k", k], ["v", v]] as const) {
    if (t.shape.length !== 3 || t.shape[0] !== B || t.shape[1] !== T || t.shape[2] !== nKvHead * D) {
      throw new Error(`groupedQueryAttention: ${name} [${t.shape}] is not [${B},${T},${nKvHead * D}]`);
    }
  }
  if (lengths !== null && lengths.length !== B) throw new Error(`groupedQueryAttention: ${lengths.length} lengths for batch ${B}`);
  const grad = needsGrad(q, k, v);
  const out = new Tensor([B, T, HD], alloc(q.data, B * T * HD), grad);
  const att = alloc(q.data, B * nHead * T * T);
  kernels.gqaAttentionForward(q.data, k.data, v.data, B, T, nHead, nKvHead, D, lengths, out.data, att);
  if (grad) {
    record(out, () => {
      if (out.grad === null) return;
      const g = (t: Tensor) => (t.requiresGrad ? gradOf(t) : alloc(t.data, t.size, true));
      kernels.gqaAttentionBackward(out.grad, q.data, k.data, v.data, att, B, T, nHead, nKvHead, D, lengths, g(q), g(k), g(v));
    });
  }
  return out;
}
