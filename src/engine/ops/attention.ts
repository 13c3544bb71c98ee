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
