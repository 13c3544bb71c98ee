/**
 * Incremental decoding with a key/value cache: a prefill runs the prompts through the full model once
 * and keeps every layer's k and v; each decode step then feeds one new token per row and attends to the
 * cached positions, giving the logits a full recomputation of the whole sequence would (to float
 * rounding). All buffers are allocated once per Decoder.
 *
 * With `columns` (ascending token ids: the allowed-token head, see allowedColumns in lmHead.ts) the
 * logits are those tokens' only, [B,A]: the rows of wte they need are gathered once, so a step's head
 * costs 2*B*A*C FLOPs instead of 2*B*V*C (GPT-2 small: 1.2 GFLOP a step at B = 16).
 */
import { Arena, alloc, noGrad, withArena } from "./autograd.js";
import { GPT2, blockWeights, type BlockWeights } from "./gpt2.js";
import { kernels } from "./backend.js";
import { gatherRows } from "./lmHead.js";
import { groupedQueryAttention } from "./ops/index.js";
import { Tensor, type FloatArray } from "./tensor.js";
import type { TransformerLM } from "./transformer.js";

type LayerWeights = BlockWeights<FloatArray>;

/** What the sampler drives: a prefill of the prompts, then one token per row per step (sample.ts). */
export interface StepDecoder<F extends FloatArray> {
  readonly B: number;
  /** positions held per row (prompt + generated) */
  readonly Tmax: number;
  /** next position to write, per row (= the row's current length) */
  readonly pos: Int32Array;
  /** logits [B,V] ([B,A] with columns) after each prompt; a view, valid until the next call */
  prefill(prompts: Int32Array[]): F;
  /** feeds one token per row at pos[b], advances pos; logits as prefill's */
  step(tokens: Int32Array): F;
}

/** The KV-cache decoder of a model: GPT-2's or the decoder families'. */
export function openDecoder<F extends FloatArray>(
  model: GPT2<F> | TransformerLM<F>, B: number, Tmax: number, columns: Int32Array | null,
): StepDecoder<F> {
  return model instanceof GPT2 ? new Decoder(model, B, Tmax, columns) : new TransformerDecoder(model, B, Tmax, columns);
}

/**
 * The distinct prompts of a batch, padded into one [U,T] batch, and which of them each row has: GRPO
 * samples a group of completions per prompt, so identical prompts run once and share their k, v.
 */
function distinctPrompts(prompts: Int32Array[], B: number, Tmax: number): { U: number; T: number; tokens: Int32Array; lengths: Int32Array; rep: Int32Array } {
  if (prompts.length !== B) throw new Error(`Decoder.prefill: ${prompts.length} prompts for a batch of ${B}`);
  let T = 0;
  for (const [b, p] of prompts.entries()) {
    if (p.length < 1 || p.length > Tmax) throw new Error(`Decoder.prefill: prompt ${b} has ${p.length} tokens, expected 1..${Tmax}`);
    T = Math.max(T, p.length);
  }
  const index = new Map<string, number>();
  const unique: Int32Array[] = [];
  const rep = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const key = prompts[b].join(",");
    let u = index.get(key);
    if (u === undefined) {
      u = unique.length;
      index.set(key, u);
      unique.push(prompts[b]);
    }
    rep[b] = u;
  }
  const U = unique.length;
  const tokens = new Int32Array(U * T);
  const lengths = new Int32Array(U);
  for (let u = 0; u < U; u++) {
    tokens.set(unique[u], u * T);
    lengths[u] = unique[u].length;
  }
  return { U, T, tokens, lengths, rep };
}

/**
 * The prefill's logits: each row's hidden state at its prompt's last position (h [U,T,C] of the distinct
 * prompts; row b is prompt rep[b]) gathered into x [B,C], times the head -> logits [B,V] (or [B,A]).
 */
function promptLogits<F extends FloatArray>(
  h: FloatArray, p: { T: number; lengths: Int32Array; rep: Int32Array }, C: number, x: F, head: F, logits: F,
): F {
  const B = p.rep.length;
  for (let b = 0; b < B; b++) {
    const r = (p.rep[b] * p.T + p.lengths[p.rep[b]] - 1) * C;
    x.set(h.subarray(r, r + C), b * C);
  }
  kernels.gemm(false, true, B, logits.length / B, C, 1, x, head, 0, logits);
  return logits;
}

/** The LM head of a decoder: the model's [V,C], or its rows at `columns` [A,C]. */
function decoderHead<F extends FloatArray>(head: F, C: number, V: number, columns: Int32Array | null, make: (n: number) => F): F {
  if (columns === null) return head;
  for (const id of columns) if (!(id >= 0 && id < V)) throw new Error(`Decoder: column ${id} outside the vocabulary`);
  return gatherRows(head, C, columns, make(columns.length * C));
}

export class Decoder<F extends FloatArray = Float32Array> implements StepDecoder<F> {
  readonly B: number;
  /** positions held per row (prompt + generated), at most the context length */
  readonly Tmax: number;
  /** next position to write, per row (= the row's current length) */
  readonly pos: Int32Array;
  /** per layer: keys and values [B,NH,Tmax,hs] */
  private readonly kCache: F[];
  private readonly vCache: F[];
  private readonly model: GPT2<F>;
  private readonly layers: LayerWeights[];
  private readonly wte: F;
  private readonly wpe: F;
  private readonly lnfW: F;
  private readonly lnfB: F;
  private readonly arena = new Arena();
  /** the token ids the logits are about (null: the whole vocabulary) */
  readonly columns: Int32Array | null;
  /** the LM head: wte [V,C], or its rows at `columns` [A,C] */
  private readonly head: F;
  // one-token scratch: x, ln [B,C]; qkv [B,3C]; q, att, proj [B,C]; fc, act [B,4C]; mean, rstd [B];
  // logits [B,V] (or [B,A] with columns)
  private readonly x: F;
  private readonly ln: F;
  private readonly qkv: F;
  private readonly q: F;
  private readonly att: F;
  private readonly fc: F;
  private readonly act: F;
  private readonly mean: F;
  private readonly rstd: F;
  readonly logits: F;

  constructor(model: GPT2<F>, B: number, Tmax: number, columns: Int32Array | null = null) {
    const c = model.config;
    if (!(Tmax >= 1 && Tmax <= c.contextLength)) throw new Error(`Decoder: Tmax ${Tmax} outside 1..${c.contextLength}`);
    this.model = model;
    this.B = B;
    this.Tmax = Tmax;
    this.pos = new Int32Array(B);
    const like = model.data;
    const make = (n: number): F => (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n)) as F;
    const C = c.nEmbd;
    this.kCache = [];
    this.vCache = [];
    for (let l = 0; l < c.nLayer; l++) {
      this.kCache.push(make(B * Tmax * C));
      this.vCache.push(make(B * Tmax * C));
    }
    const p = new Map(model.parameters().map((q) => [q.name, q.data as F]));
    const get = (n: string): F => p.get(n)!;
    this.wte = get("wte.weight");
    this.wpe = get("wpe.weight");
    this.lnfW = get("ln_f.weight");
    this.lnfB = get("ln_f.bias");
    this.layers = [];
    for (let l = 0; l < c.nLayer; l++) this.layers.push(blockWeights(l, get));
    this.x = make(B * C);
    this.ln = make(B * C);
    this.qkv = make(B * 3 * C);
    this.q = make(B * C);
    this.att = make(B * C);
    this.fc = make(B * 4 * C);
    this.act = make(B * 4 * C);
    this.mean = make(B);
    this.rstd = make(B);
    this.columns = columns;
    this.head = decoderHead(this.wte, C, c.vocabSize, columns, make);
    this.logits = make(B * (columns?.length ?? c.vocabSize));
  }

  /**
   * Runs the prompts (one per row, 1..Tmax tokens each) through the model, fills the caches and returns
   * the logits [B,V] ([B,A] with columns) of the next token after each prompt (a view, valid until the
   * next call).
   * Identical prompts (GRPO samples a group of completions per prompt) run once and share their k, v.
   */
  prefill(prompts: Int32Array[]): F {
    const { B, Tmax } = this;
    const c = this.model.config;
    const C = c.nEmbd;
    const NH = c.nHead;
    const hs = C / NH;
    const { U, T, tokens, lengths, rep } = distinctPrompts(prompts, B, Tmax);
    for (let b = 0; b < B; b++) this.pos[b] = prompts[b].length;
    this.arena.reset();
    const h = withArena(this.arena, () =>
      noGrad(() =>
        this.model.hidden({ tokens, batch: U, seqLen: T, lengths }, (l, qkv) => {
          const kc = this.kCache[l];
          const vc = this.vCache[l];
          for (let b = 0; b < B; b++) {
            for (let t = 0; t < lengths[rep[b]]; t++) {
              const src = (rep[b] * T + t) * 3 * C;
              for (let hh = 0; hh < NH; hh++) {
                const dst = ((b * NH + hh) * Tmax + t) * hs;
                kc.set(qkv.subarray(src + C + hh * hs, src + C + hh * hs + hs), dst);
                vc.set(qkv.subarray(src + 2 * C + hh * hs, src + 2 * C + hh * hs + hs), dst);
              }
            }
          }
        }),
      ),
    );
    return promptLogits(h.data, { T, lengths, rep }, C, this.x, this.head, this.logits);
  }

  /**
   * Feeds one token per row at position pos[b], advances pos, and returns the next-token logits [B,V]
   * ([B,A] with columns; a view, valid until the next call). Rows whose cache is full must not be fed.
   */
  step(tokens: Int32Array): F {
    const { B, Tmax, pos, x, ln, qkv, q, att, fc, act, mean, rstd } = this;
    const c = this.model.config;
    const C = c.nEmbd;
    const NH = c.nHead;
    const hs = C / NH;
    const eps = c.layerNormEpsilon;
    for (let b = 0; b < B; b++) {
      const tok = tokens[b];
      if (!(tok >= 0 && tok < c.vocabSize)) throw new Error(`Decoder.step: token ${tok} (row ${b}) outside the vocabulary`);
      if (pos[b] >= Tmax) throw new Error(`Decoder.step: row ${b} is full (${Tmax} positions)`);
      const e = tok * C;
      const p = pos[b] * C;
      for (let i = 0; i < C; i++) x[b * C + i] = this.wte[e + i] + this.wpe[p + i];
    }
    for (let l = 0; l < this.layers.length; l++) {
      const w = this.layers[l];
      kernels.layerNormForward(x, w.ln1w, w.ln1b, eps, B, C, ln, mean, rstd);
      kernels.gemm(false, false, B, 3 * C, C, 1, ln, w.attnW, 0, qkv);
      kernels.biasAdd(qkv, w.attnB, B, 3 * C);
      const kc = this.kCache[l];
      const vc = this.vCache[l];
      for (let b = 0; b < B; b++) {
        const src = b * 3 * C;
        q.set(qkv.subarray(src, src + C), b * C);
        for (let h = 0; h < NH; h++) {
          const dst = ((b * NH + h) * Tmax + pos[b]) * hs;
          kc.set(qkv.subarray(src + C + h * hs, src + C + h * hs + hs), dst);
          vc.set(qkv.subarray(src + 2 * C + h * hs, src + 2 * C + h * hs + hs), dst);
        }
      }
      kernels.attentionDecode(q, kc, vc, B, C, NH, Tmax, pos, att);
      kernels.gemm(false, false, B, C, C, 1, att, w.attnProjW, 0, ln);
      kernels.biasAdd(ln, w.attnProjB, B, C);
      kernels.addInPlace(x, ln, B * C);
      kernels.layerNormForward(x, w.ln2w, w.ln2b, eps, B, C, ln, mean, rstd);
      kernels.gemm(false, false, B, 4 * C, C, 1, ln, w.fcW, 0, fc);
      kernels.biasAdd(fc, w.fcB, B, 4 * C);
      kernels.geluForward(fc, act, B * 4 * C);
      kernels.gemm(false, false, B, C, 4 * C, 1, act, w.fcProjW, 0, ln);
      kernels.biasAdd(ln, w.fcProjB, B, C);
      kernels.addInPlace(x, ln, B * C);
    }
    kernels.layerNormForward(x, this.lnfW, this.lnfB, eps, B, C, ln, mean, rstd);
    kernels.gemm(false, true, B, this.logits.length / B, C, 1, ln, this.head, 0, this.logits);
    for (let b = 0; b < B; b++) pos[b]++;
    return this.logits;
  }
}

/**
 * The decoder families' KV-cache decoding (TransformerLM): the cache holds the KV heads only, k after
 * RoPE (and Qwen3's k_norm), [B,KV,Tmax,D] per layer. Prefill and steps run the model's own block code
 * (TransformerLM.run) with an attention that writes the cache: a step is the model on B rows of one
 * token at each row's position pos[b], attending over the row's cache (gqaAttentionDecode).
 */
export class TransformerDecoder<F extends FloatArray = Float32Array> implements StepDecoder<F> {
  readonly B: number;
  readonly Tmax: number;
  readonly pos: Int32Array;
  readonly columns: Int32Array | null;
  readonly logits: F;
  private readonly model: TransformerLM<F>;
  private readonly kCache: F[];
  private readonly vCache: F[];
  private readonly head: F;
  /** the last hidden state of each row [B,C] */
  private readonly x: F;
  private readonly arena = new Arena();

  constructor(model: TransformerLM<F>, B: number, Tmax: number, columns: Int32Array | null = null) {
    const c = model.config;
    if (!(Tmax >= 1 && Tmax <= c.maxPositionEmbeddings)) throw new Error(`Decoder: Tmax ${Tmax} outside 1..${c.maxPositionEmbeddings}`);
    this.model = model;
    this.B = B;
    this.Tmax = Tmax;
    this.pos = new Int32Array(B);
    const make = (n: number): F => (model.baseData instanceof Float64Array ? new Float64Array(n) : new Float32Array(n)) as F;
    const n = B * c.nKvHead * Tmax * c.headDim;
    this.kCache = [];
    this.vCache = [];
    for (let l = 0; l < c.nLayer; l++) {
      this.kCache.push(make(n));
      this.vCache.push(make(n));
    }
    this.columns = columns;
    this.head = decoderHead(model.headWeight, c.hiddenSize, c.vocabSize, columns, make);
    this.logits = make(B * (columns?.length ?? c.vocabSize));
    this.x = make(B * c.hiddenSize);
  }

  /** As Decoder.prefill: identical prompts run once and share their k, v. */
  prefill(prompts: Int32Array[]): F {
    const { B, Tmax } = this;
    const c = this.model.config;
    const { nHead: H, nKvHead: KV, headDim: D, hiddenSize: C } = c;
    const { U, T, tokens, lengths, rep } = distinctPrompts(prompts, B, Tmax);
    for (let b = 0; b < B; b++) this.pos[b] = prompts[b].length;
    this.arena.reset();
    const h = withArena(this.arena, () =>
      noGrad(() =>
        this.model.run(tokens, U, T, {
          positions: null,
          attend: (l, q, k, v) => {
            for (const [src, cache] of [[k.data, this.kCache[l]], [v.data, this.vCache[l]]] as const) {
              for (let b = 0; b < B; b++) {
                for (let t = 0; t < lengths[rep[b]]; t++) {
                  const r = (rep[b] * T + t) * KV * D;
                  for (let j = 0; j < KV; j++) cache.set(src.subarray(r + j * D, r + j * D + D), ((b * KV + j) * Tmax + t) * D);
                }
              }
            }
            return groupedQueryAttention(q, k, v, H, KV, lengths);
          },
        }),
      ),
    );
    return promptLogits(h.data, { T, lengths, rep }, C, this.x, this.head, this.logits);
  }

  /** As Decoder.step. */
  step(tokens: Int32Array): F {
    const { B, Tmax, pos } = this;
    const c = this.model.config;
    const { nHead: H, nKvHead: KV, headDim: D, hiddenSize: C } = c;
    if (tokens.length !== B) throw new Error(`Decoder.step: ${tokens.length} tokens for a batch of ${B}`);
    for (let b = 0; b < B; b++) {
      if (!(tokens[b] >= 0 && tokens[b] < c.vocabSize)) throw new Error(`Decoder.step: token ${tokens[b]} (row ${b}) outside the vocabulary`);
      if (pos[b] >= Tmax) throw new Error(`Decoder.step: row ${b} is full (${Tmax} positions)`);
    }
    this.arena.reset();
    const h = withArena(this.arena, () =>
      noGrad(() =>
        this.model.run(tokens, B, 1, {
          positions: pos,
          attend: (l, q, k, v) => {
            const kc = this.kCache[l];
            const vc = this.vCache[l];
            for (let b = 0; b < B; b++) {
              for (let j = 0; j < KV; j++) {
                const dst = ((b * KV + j) * Tmax + pos[b]) * D;
                kc.set(k.data.subarray((b * KV + j) * D, (b * KV + j + 1) * D), dst);
                vc.set(v.data.subarray((b * KV + j) * D, (b * KV + j + 1) * D), dst);
              }
            }
            const out = new Tensor([B, 1, H * D], alloc(q.data, B * H * D));
            kernels.gqaAttentionDecode(q.data, kc, vc, B, H, KV, D, Tmax, pos, out.data);
            return out;
          },
        }),
      ),
    );
    kernels.gemm(false, true, B, this.logits.length / B, C, 1, h.data, this.head, 0, this.logits);
    for (let b = 0; b < B; b++) pos[b]++;
    return this.logits;
  }
}
