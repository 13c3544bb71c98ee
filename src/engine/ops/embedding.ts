/**
 * embedding: token plus position embeddings, out[b,t] = wte[tokens[b,t]] + wpe[t]; the backward
 * scatter-adds rows into wte's and wpe's gradients.
 * tokens [B,T] int32, wte [V,C], wpe [>=T,C] -> [B,T,C]
 */
import { alloc, gradOf, needsGrad, record } from "../autograd.js";
import { kernels } from "../backend.js";
import { Tensor } from "../tensor.js";

export function embedding(tokens: Int32Array, B: number, T: number, wte: Tensor, wpe: Tensor): Tensor {
  const [V, C] = wte.shape;
  if (tokens.length !== B * T) throw new Error(`embedding: ${tokens.length} tokens for [${B},${T}]`);
  if (wpe.shape[0] < T) throw new Error(`embedding: sequence length ${T} exceeds the context length ${wpe.shape[0]}`);
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (!(tok >= 0 && tok < V)) throw new Error(`embedding: token ${tok} at position ${i} is outside the vocabulary [0, ${V})`);
  }
  const grad = needsGrad(wte, wpe);
  const out = new Tensor([B, T, C], alloc(wte.data, B * T * C), grad);
  kernels.embeddingForward(tokens, wte.data, wpe.data, B, T, C, out.data);
  if (grad) {
    record(out, () => {
      if (out.grad === null) return;
      kernels.embeddingBackward(tokens, out.grad, B, T, C, gradOf(wte), gradOf(wpe));
    });
  }
  return out;
}

/**
 * tokenEmbedding: out[b,t] = wte[tokens[b,t]] (no position embedding: RoPE models); the backward
 * scatter-adds rows into wte's gradient. tokens [B,T] int32, wte [V,C] -> [B,T,C]
 */
export function tokenEmbedding(tokens: Int32Array, B: number, T: number, wte: Tensor): Tensor {
  const [V, C] = wte.shape;
  if (tokens.length !== B * T) throw new Error(`tokenEmbedding: ${tokens.length} tokens for [${B},${T}]`);
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (!(tok >= 0 && tok < V)) throw new Error(`tokenEmbedding: token ${tok} at position ${i} is outside the vocabulary [0, ${V})`);
  }
  const grad = needsGrad(wte);
  const out = new Tensor([B, T, C], alloc(wte.data, B * T * C), grad);
  for (let r = 0; r < B * T; r++) out.data.set(wte.data.subarray(tokens[r] * C, tokens[r] * C + C), r * C);
  if (grad) {
    record(out, () => {
      const dy = out.grad;
      if (dy === null) return;
      const dw = gradOf(wte);
      for (let r = 0; r < B * T; r++) {
        const o = tokens[r] * C;
        for (let c = 0; c < C; c++) dw[o + c] += dy[r * C + c];
      }
    });
  }
  return out;
}
