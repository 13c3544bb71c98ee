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
import { Arena, noGrad, withArena } from "./autograd.js";
import { blockWeights, type BlockWeights, type GPT2 } from "./gpt2.js";
import { kernels } from "./backend.js";
import { gatherRows } from "./lmHead.js";
import type { FloatArray } from "./tensor.js";

type LayerWeights = BlockWeights<FloatArray>;

export class Decoder<F extends FloatArray = Float32Array> {
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
    if (columns !== null) {
      for (const id of columns) if (!(id >= 0 && id < c.vocabSize)) throw new Error(`Decoder: column ${id} outside the vocabulary`);
      this.head = gatherRows(this.wte, C, columns, make(columns.length * C));
    } else {
      this.head = this.wte;
    }
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
    if (prompts.length !== B) throw new Error(`Decoder.prefill: ${prompts.length} prompts for a batch of ${B}`);
    let T = 0;
    for (const [b, p] of prompts.entries()) {
      if (p.length < 1 || p.length > Tmax) throw new Error(`Decoder.prefill: prompt ${b} has ${p.length} tokens, expected 1..${Tmax}`);
      T = Math.max(T, p.length);
    }
    // row b's prompt is unique prompt rep[b]
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
      this.pos[b] = prompts[b].length;
    }
    const U = unique.length;
    const tokens = new Int32Array(U * T);
    const lengths = new Int32Array(U);
    for (let u = 0; u < U; u++) {
      tokens.set(unique[u], u * T);
      lengths[u] = unique[u].length;
    }
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
    for (let b = 0; b < B; b++) {
      const r = (rep[b] * T + lengths[rep[b]] - 1) * C;
      this.x.set(h.data.subarray(r, r + C), b * C);
    }
    kernels.gemm(false, true, B, this.logits.length / B, C, 1, this.x, this.head, 0, this.logits);
    return this.logits;
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
