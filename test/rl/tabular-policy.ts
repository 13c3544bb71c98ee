/**
 * A test double for the trainer's mechanics: a tabular softmax policy whose logits are a free parameter
 * vector per distinct context (the whole token prefix), with plain AdamW. It implements the same Policy
 * interface as the engine's GPT-2, exactly and cheaply, so trainer tests do not depend on the network.
 */
import type {
  OptimizerStepOptions,
  Policy,
  PolicyState,
  SampleOptions,
  ScoreOptions,
  SequenceBatch,
  TokenScores,
} from "../../src/rl/policy.js";

interface Row {
  w: Float64Array;
  g: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

export class TabularPolicy implements Policy {
  readonly contextLength = 64;
  private rows = new Map<string, Row>();
  private saved: { key: string; probs: Float64Array; target: number; invT: number }[][] = [];
  private adamStep = 0;

  constructor(
    readonly vocabSize: number,
    private readonly frozen = false,
  ) {}

  private row(key: string): Row {
    let r = this.rows.get(key);
    if (!r) {
      const n = this.vocabSize;
      r = { w: new Float64Array(n), g: new Float64Array(n), m: new Float64Array(n), v: new Float64Array(n) };
      this.rows.set(key, r);
    }
    return r;
  }

  private dist(key: string, temperature: number, allowed: Uint8Array | null | undefined): Float64Array {
    const w = this.rows.get(key)?.w ?? new Float64Array(this.vocabSize);
    const p = new Float64Array(this.vocabSize);
    let max = -Infinity;
    for (let v = 0; v < p.length; v++) if (!allowed || allowed[v]) max = Math.max(max, w[v] / temperature);
    let z = 0;
    for (let v = 0; v < p.length; v++) {
      if (allowed && !allowed[v]) continue;
      p[v] = Math.exp(w[v] / temperature - max);
      z += p[v];
    }
    for (let v = 0; v < p.length; v++) p[v] /= z;
    return p;
  }

  private run(batch: SequenceBatch, opts: ScoreOptions | undefined, keep: boolean): TokenScores {
    const T = opts?.temperature ?? 1;
    const W = batch.seqLen - 1;
    const logprobs = new Float32Array(batch.batch * W);
    const entropy = new Float32Array(batch.batch * W);
    const saved: { key: string; probs: Float64Array; target: number; invT: number }[] = [];
    for (let b = 0; b < batch.batch; b++) {
      const row = Array.from(batch.tokens.subarray(b * batch.seqLen, (b + 1) * batch.seqLen));
      for (let t = 0; t + 1 < batch.lengths[b]; t++) {
        const key = row.slice(0, t + 1).join(",");
        const p = this.dist(key, T, opts?.allowed);
        const target = row[t + 1];
        logprobs[b * W + t] = Math.log(p[target]);
        let h = 0;
        for (const q of p) if (q > 0) h -= q * Math.log(q);
        entropy[b * W + t] = h;
        if (keep) saved.push({ key, probs: p, target, invT: 1 / T });
      }
    }
    if (keep) this.saved = [saved];
    return { logprobs, entropy };
  }

  score(batch: SequenceBatch, opts?: ScoreOptions): TokenScores {
    return this.run(batch, opts, false);
  }

  private lastBatch: SequenceBatch | null = null;

  scoreForTraining(batch: SequenceBatch, opts?: ScoreOptions): TokenScores {
    this.lastBatch = batch;
    return this.run(batch, opts, true);
  }

  backward(dLogprobs: Float32Array): void {
    const batch = this.lastBatch!;
    const W = batch.seqLen - 1;
    const saved = this.saved[0];
    let i = 0;
    for (let b = 0; b < batch.batch; b++) {
      for (let t = 0; t + 1 < batch.lengths[b]; t++, i++) {
        const s = saved[i];
        const d = dLogprobs[b * W + t];
        if (d === 0) continue;
        const g = this.row(s.key).g;
        for (let v = 0; v < g.length; v++) g[v] += d * s.invT * ((v === s.target ? 1 : 0) - s.probs[v]);
      }
    }
  }

  zeroGrad(): void {
    for (const r of this.rows.values()) r.g.fill(0);
  }

  optimizerStep(opts: OptimizerStepOptions): { gradNorm: number } {
    if (this.frozen) throw new Error("frozen policy");
    let ss = 0;
    for (const r of this.rows.values()) for (const x of r.g) ss += x * x;
    const norm = Math.sqrt(ss);
    const clip = opts.maxGradNorm > 0 && Number.isFinite(opts.maxGradNorm) && norm > opts.maxGradNorm ? opts.maxGradNorm / (norm + 1e-6) : 1;
    this.adamStep++;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const bc1 = 1 - b1 ** this.adamStep;
    const bc2 = 1 - b2 ** this.adamStep;
    for (const r of this.rows.values()) {
      for (let v = 0; v < r.w.length; v++) {
        const g = r.g[v] * clip;
        r.m[v] = b1 * r.m[v] + (1 - b1) * g;
        r.v[v] = b2 * r.v[v] + (1 - b2) * g * g;
        r.w[v] -= (opts.learningRate * (r.m[v] / bc1)) / (Math.sqrt(r.v[v] / bc2) + eps);
      }
    }
    return { gradNorm: norm };
  }

  sample(prompts: Int32Array[], opts: SampleOptions): Int32Array[] {
    return prompts.map((prompt) => {
      const seq = Array.from(prompt);
      const out: number[] = [];
      for (let n = 0; n < opts.maxNewTokens; n++) {
        const p = this.dist(seq.join(","), opts.temperature, opts.allowed);
        let u = opts.rng.next();
        let tok = p.length - 1;
        for (let v = 0; v < p.length; v++) {
          if (p[v] === 0) continue;
          u -= p[v];
          tok = v;
          if (u < 0) break;
        }
        seq.push(tok);
        out.push(tok);
        if (opts.stopTokens?.includes(tok)) break;
      }
      return Int32Array.from(out);
    });
  }

  clone(): Policy {
    const c = new TabularPolicy(this.vocabSize, true);
    c.importState(this.exportState());
    return c;
  }

  exportState(): PolicyState {
    // float32 round trip: the tables are float64, so keep them exactly as two float32 halves would not;
    // store each float64 as its raw bytes viewed as float32 pairs.
    const tensors: Record<string, Float32Array> = {};
    for (const [key, r] of this.rows) {
      const all = new Float64Array(r.w.length * 3);
      all.set(r.w, 0);
      all.set(r.m, r.w.length);
      all.set(r.v, 2 * r.w.length);
      tensors[`ctx:${key}`] = new Float32Array(all.buffer.slice(0));
    }
    return { tensors, meta: { adamStep: this.adamStep } };
  }

  importState(state: PolicyState): void {
    this.rows.clear();
    for (const [name, data] of Object.entries(state.tensors)) {
      const all = new Float64Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
      const n = this.vocabSize;
      this.rows.set(name.slice(4), {
        w: all.slice(0, n),
        m: all.slice(n, 2 * n),
        v: all.slice(2 * n, 3 * n),
        g: new Float64Array(n),
      });
    }
    this.adamStep = Number(state.meta.adamStep ?? 0);
  }
}
