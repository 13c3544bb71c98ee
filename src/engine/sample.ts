/**
 * Sampling with a KV cache. The rule for one next-token distribution, in Hugging Face's order:
 *  1. allowed mask: tokens with allowed[v] != 1 get probability 0;
 *  2. temperature: p = softmax(logits / temperature) over the allowed tokens; temperature 0 is greedy
 *     (the allowed token of highest logit, the lowest id on ties; no random number is drawn);
 *  3. top-k (k > 0): keep the k most probable tokens (ties: lower id first);
 *  4. top-p (p < 1): of those, keep the smallest set of most probable tokens whose mass reaches
 *     topP times the kept mass (at least one token);
 *  5. draw: one uniform u = rng.next() per row and step; walk the kept tokens in ascending id order and
 *     take the first whose cumulative probability exceeds u times the kept mass.
 * Rows draw in row order, so a seed gives the same completions on every run (with the same kernels:
 * native and TypeScript probabilities differ in the last float bits, which can move a draw at a boundary).
 * A row stops after it emits a stop token (kept), when `stopWhen` says so after a token (kept), after
 * maxNewTokens, or when it reaches the model's longest sequence. The same rule drives every model with a
 * KV-cache decoder (kvcache.ts: GPT-2 and the decoder families).
 */
import type { GPT2 } from "./gpt2.js";
import { kernels } from "./backend.js";
import { openDecoder } from "./kvcache.js";
import type { TransformerLM } from "./transformer.js";
import { allowedColumns } from "./lmHead.js";
import type { FloatArray } from "./tensor.js";
import type { Rng } from "../util/rng.js";

export interface SamplingRule {
  temperature: number;
  /** 0 = off */
  topK: number;
  /** 1 = off */
  topP: number;
  allowed?: Uint8Array | null;
}

export interface GenerateOptions extends SamplingRule {
  maxNewTokens: number;
  stopTokens?: number[];
  /**
   * Checked after each token a row samples, with the row's completion so far (a view, valid during the
   * call): true ends the row there (the token kept). An environment ending a completion on its text.
   */
  stopWhen?: (row: number, tokens: Int32Array) => boolean;
  rng: Rng;
}

/** Validates a sampling rule for a vocabulary of V tokens; throws with the field that is wrong. */
export function checkSamplingRule(rule: SamplingRule, V: number): void {
  if (!(rule.temperature >= 0) || !Number.isFinite(rule.temperature)) throw new Error(`sample: temperature must be >= 0, got ${rule.temperature}`);
  if (!Number.isInteger(rule.topK) || rule.topK < 0) throw new Error(`sample: topK must be an integer >= 0 (0 = off), got ${rule.topK}`);
  if (!(rule.topP > 0 && rule.topP <= 1)) throw new Error(`sample: topP must lie in (0, 1] (1 = off), got ${rule.topP}`);
  const allowed = rule.allowed ?? null;
  if (allowed !== null) {
    if (allowed.length !== V) throw new Error(`sample: allowed mask has ${allowed.length} entries, vocabulary ${V}`);
    if (!allowed.some((a) => a === 1)) throw new Error("sample: allowed mask allows no token");
  }
}

/**
 * Chooses one token from a row of logits [V] by the rule above. `probs` [V] is scratch holding the
 * softmax of this row (computed by the caller, 0 where not allowed) when temperature > 0.
 */
export function chooseToken(logits: FloatArray, probs: FloatArray, rule: SamplingRule, rng: Rng): number {
  const V = logits.length;
  const allowed = rule.allowed ?? null;
  if (rule.temperature === 0) {
    let best = -1;
    let bestV = -Infinity;
    for (let v = 0; v < V; v++) {
      if (allowed !== null && allowed[v] !== 1) continue;
      if (best < 0 || logits[v] > bestV) {
        best = v;
        bestV = logits[v];
      }
    }
    return best;
  }
  let kept: Int32Array | null = null; // ascending ids, or null = every token with p > 0
  if (rule.topK > 0) kept = topK(probs, rule.topK);
  if (rule.topP < 1) kept = nucleus(probs, kept, rule.topP);
  const u = rng.next();
  if (kept === null) {
    let total = 0;
    for (let v = 0; v < V; v++) total += probs[v];
    const target = u * total;
    let cum = 0;
    let last = -1;
    for (let v = 0; v < V; v++) {
      if (probs[v] <= 0) continue;
      cum += probs[v];
      last = v;
      if (cum > target) return v;
    }
    return last;
  }
  let total = 0;
  for (let i = 0; i < kept.length; i++) total += probs[kept[i]];
  const target = u * total;
  let cum = 0;
  for (let i = 0; i < kept.length; i++) {
    cum += probs[kept[i]];
    if (cum > target) return kept[i];
  }
  return kept[kept.length - 1];
}

/** Ids of the k most probable tokens (ties: lower id), ascending; only tokens with p > 0 count. */
function topK(p: FloatArray, k: number): Int32Array {
  // a min-heap of (p, -id): its root is the weakest of the best k so far
  const heap = new Int32Array(k);
  let size = 0;
  const weaker = (a: number, b: number): boolean => p[a] < p[b] || (p[a] === p[b] && a > b);
  const siftDown = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && weaker(heap[l], heap[m])) m = l;
      if (r < size && weaker(heap[r], heap[m])) m = r;
      if (m === i) return;
      const t = heap[i];
      heap[i] = heap[m];
      heap[m] = t;
      i = m;
    }
  };
  for (let v = 0; v < p.length; v++) {
    if (!(p[v] > 0)) continue;
    if (size < k) {
      let i = size++;
      heap[i] = v;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!weaker(heap[i], heap[parent])) break;
        const t = heap[i];
        heap[i] = heap[parent];
        heap[parent] = t;
        i = parent;
      }
    } else if (weaker(heap[0], v)) {
      heap[0] = v;
      siftDown(0);
    }
  }
  return heap.slice(0, size).sort();
}

/** The nucleus of the candidates (null: all tokens with p > 0): ids ascending. */
function nucleus(p: FloatArray, candidates: Int32Array | null, topP: number): Int32Array {
  let ids: Int32Array;
  if (candidates === null) {
    let n = 0;
    for (let v = 0; v < p.length; v++) if (p[v] > 0) n++;
    ids = new Int32Array(n);
    for (let v = 0, i = 0; v < p.length; v++) if (p[v] > 0) ids[i++] = v;
  } else {
    ids = candidates;
  }
  let total = 0;
  let max = 0;
  for (let i = 0; i < ids.length; i++) {
    total += p[ids[i]];
    if (p[ids[i]] > max) max = p[ids[i]];
  }
  const need = topP * total;
  // Sort only the tokens above a threshold once they hold the nucleus's mass (they are a prefix of
  // the full descending order, so the nucleus lies within them); lower the threshold until they do.
  let pool = ids;
  for (let th = max * 1e-3; th > 0; th *= 1e-3) {
    let mass = 0;
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      if (p[ids[i]] >= th) {
        mass += p[ids[i]];
        n++;
      }
    }
    if (mass >= need) {
      pool = new Int32Array(n);
      for (let i = 0, j = 0; i < ids.length; i++) if (p[ids[i]] >= th) pool[j++] = ids[i];
      break;
    }
    if (th < 1e-30) break;
  }
  // The nucleus is a prefix of the order (p descending, id ascending): find its smallest probability
  // pStar and how many tokens at exactly pStar it takes, with a native numeric sort of the values.
  const vals = new Float64Array(pool.length);
  for (let i = 0; i < pool.length; i++) vals[i] = p[pool[i]];
  vals.sort();
  let cum = 0;
  let i = vals.length - 1;
  for (; i > 0; i--) {
    cum += vals[i];
    if (cum >= need) break;
  }
  const pStar = vals[i];
  let atStar = 0; // tokens at exactly pStar in the nucleus
  for (let j = i; j < vals.length && vals[j] === pStar; j++) atStar++;
  const kept: number[] = [];
  for (let j = 0; j < pool.length; j++) {
    const v = p[pool[j]];
    if (v > pStar) kept.push(pool[j]);
    else if (v === pStar && atStar > 0) {
      kept.push(pool[j]);
      atStar--;
    }
  }
  return Int32Array.from(kept).sort();
}

/**
 * One completion per prompt (prompt tokens not included; a stop token, when hit, is). Decodes all rows
 * together with a KV cache sized to the longest prompt plus maxNewTokens (capped at the model's longest
 * sequence), allocated per call.
 * A small allowed mask (allowedColumns) decodes with the allowed-token head: the rule then runs on the
 * allowed tokens' logits in id order, which chooses what it chooses on the full row (the tokens outside
 * the mask have probability 0, and every tie-break is by id).
 */
export function generate<F extends FloatArray>(model: GPT2<F> | TransformerLM<F>, prompts: Int32Array[], opts: GenerateOptions): Int32Array[] {
  const V = model.vocabSize;
  const maxLength = model.maxSequenceLength;
  checkSamplingRule(opts, V);
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) throw new Error(`sample: maxNewTokens must be an integer >= 0, got ${opts.maxNewTokens}`);
  const B = prompts.length;
  if (B === 0 || opts.maxNewTokens === 0) return prompts.map(() => new Int32Array(0));
  // out[b] holds row b's completion, len[b] tokens of it
  const out = prompts.map(() => new Int32Array(opts.maxNewTokens));
  const len = new Int32Array(B);
  let longest = 0;
  for (const p of prompts) longest = Math.max(longest, p.length);
  if (longest > maxLength) throw new Error(`sample: a prompt of ${longest} tokens exceeds the context length ${maxLength}`);
  const Tmax = Math.min(maxLength, longest + opts.maxNewTokens);
  const cols = allowedColumns(opts.allowed, V);
  const dec = openDecoder(model, B, Tmax, cols);
  // H logits per row: the vocabulary, or the allowed tokens (then the mask is already applied)
  const H = cols?.length ?? V;
  const rule: SamplingRule = cols === null ? opts : { ...opts, allowed: null };
  const stop = new Set(opts.stopTokens ?? []);
  const done = new Uint8Array(B);
  const invT = opts.temperature > 0 ? 1 / opts.temperature : 1;
  const make = (n: number): FloatArray => (model.data instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));
  const probs = make(B * H);
  const noTargets = new Int32Array(B).fill(-1);
  const lp = make(B);
  const ent = make(B);
  const next = new Int32Array(B);
  let logits = dec.prefill(prompts);
  for (let step = 0; step < opts.maxNewTokens; step++) {
    if (opts.temperature > 0) {
      // p = softmax(logits / T) over the allowed tokens, every row at once
      kernels.logSoftmaxGather(logits, B, H, noTargets, invT, rule.allowed ?? null, lp, ent, probs);
    }
    let active = 0;
    for (let b = 0; b < B; b++) {
      if (done[b]) continue;
      if (dec.pos[b] >= Tmax) {
        done[b] = 1; // the row has reached the context length
        continue;
      }
      const h = chooseToken(logits.subarray(b * H, (b + 1) * H), probs.subarray(b * H, (b + 1) * H), rule, opts.rng);
      const tok = cols === null ? h : cols[h];
      out[b][len[b]++] = tok;
      next[b] = tok;
      if (stop.has(tok) || (opts.stopWhen !== undefined && opts.stopWhen(b, out[b].subarray(0, len[b])))) done[b] = 1;
      else active++;
    }
    if (active === 0 || step === opts.maxNewTokens - 1) break;
    // finished rows are fed a harmless token at their last position (their results are not used)
    for (let b = 0; b < B; b++) {
      if (done[b]) {
        next[b] = 0;
        if (dec.pos[b] >= Tmax) dec.pos[b] = Tmax - 1;
      }
    }
    logits = dec.step(next);
  }
  return out.map((o, b) => o.slice(0, len[b]));
}
