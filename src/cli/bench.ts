/**
 * `lambda-grpo bench step|sample --preset toy|gpt2-small|qwen2-0.5b|r1-distill-1.5b|llama-1b|... [--lora R]`:
 * times the engine on random tokens (random weights in the preset's shapes).
 *
 * step:   one training step = zeroGrad, scoreForTraining (forward), backward from d(-mean logprob),
 *         AdamW with clipping; `--steps` timed steps after `--warmup` untimed ones (the first step
 *         allocates the activation arena; later ones of the same shape allocate nothing).
 * sample: `--batch` completions of `--new-tokens` tokens (no stop token, temperature 1) after random
 *         prompts of `--prompt` tokens (default: one token, 64 new ones, as bench/torch_engine.py does),
 *         with the KV cache; `--steps` timed runs after one warm-up.
 * Prints the median time, tokens/s and the process's peak resident memory; `--json` prints one object.
 */
import { kernels as backendKernels, useKernels } from "../engine/backend.js";
import { kernelInfo, nativeKernels } from "../engine/kernels/index.js";
import { matmulTotals, profiled, type KernelProfile } from "../engine/kernels/profile.js";
import { Tape, backward, gradOf, record, recording } from "../engine/autograd.js";
import { FAMILY_PRESETS } from "../engine/families/config.js";
import { GPT2_PRESETS, type GPT2Config } from "../engine/gpt2.js";
import { lmHeadLogprobs } from "../engine/lmHead.js";
import { biasAdd, linear, logSoftmax, matmul, mul, silu, sum, swiglu } from "../engine/ops/index.js";
import { Tensor } from "../engine/tensor.js";
import { createPolicy, type EnginePolicy, type EngineModel } from "../policy/index.js";
import type { Policy } from "../rl/policy.js";
import { UserError } from "../util/errors.js";
import { Rng } from "../util/rng.js";
import { choiceOption, intOption, parseCommand, requiredOption, usageError } from "./args.js";

const USAGE = `usage: lambda-grpo bench step   --preset NAME [--lora R] [--gradient-checkpointing] [--batch B] [--seq T] [--steps N] [--profile] [--json]
       lambda-grpo bench sample --preset NAME [--lora R] [--batch B] [--prompt P] [--new-tokens N] [--steps N] [--profile] [--json]
       lambda-grpo bench fusion --preset toy|gpt2-small [--batch B] [--seq T] [--steps N] [--json]

Times the engine on random tokens: a training step (forward, backward, AdamW), sampling with the KV cache,
or the fused ops (LM head + log-prob gather, linear) against the same maths from unfused ops.

options:
  --preset <name>      toy (vocab 8, context 16, 4 layers, width 128, 4 heads), gpt2-small (GPT-2 124M), or a
                       decoder family in a checkpoint's shapes: qwen2-0.5b (Qwen2.5-0.5B), r1-distill-1.5b
                       (DeepSeek-R1-Distill-Qwen-1.5B), llama-1b (Llama-3.2-1B), qwen3-0.6b, or the tiny
                       llama-tiny, qwen2-tiny, qwen3-tiny
  --lora <R>           decoder families: LoRA of rank R on every linear layer (alpha 2R, dropout 0; the
                       base frozen), as the paper's authors' r 64 / alpha 128
  --gradient-checkpointing
                       step: recompute each layer in the backward instead of keeping its activations
  --batch <B>          sequences per step (default 16)
  --seq <T>            step: tokens per sequence (default 16)
  --prompt <P>         sample: prompt tokens per row (default 1)
  --new-tokens <N>     sample: tokens generated per row (default 64, capped at context - prompt: toy 15)
  --steps <N>          timed repetitions (default: step 20 toy / 10 gpt2-small; sample 5 / 3)
  --warmup <N>         untimed repetitions first (default 2 for step, 1 for sample)
  --threads <N>        native kernel threads (default: all cores)
  --seed <n>           weights and tokens (default 0)
  --fresh-buffers      step: allocate activations and their gradients afresh every step instead of
                       reusing them (shows what allocate-once saves)
  --profile            time every kernel call of the timed runs: a table per run (ms, calls, GFLOP/s for the
                       matmuls), and in --json a "profile" object
  --json               one JSON object: median_ms, tokens_per_s, peak_rss_mb and the settings
  -h, --help           this text`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Peak resident set size of this process so far, in MiB. */
function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export interface BenchResult {
  what: "step" | "sample";
  preset: string;
  batch: number;
  seq: number;
  steps: number;
  median_ms: number;
  tokens_per_s: number;
  peak_rss_mb: number;
  times_ms: number[];
  kernels: string;
  isa: string;
  threads: number;
  reuse_buffers: boolean;
  /** LoRA rank (all-linear), or null: full fine-tuning */
  lora_r: number | null;
  gradient_checkpointing: boolean;
  /** step: where the memory is after the last step, MiB (see memoryAccount) */
  memory?: MemoryAccount;
  /** --profile: per timed run, the matmuls' time and rate and each kernel's time (src/engine/kernels/profile.ts) */
  profile?: ProfileSummary;
}

export interface ProfileSummary {
  /** time in the matmul kernels (gemm, gemmBatched) per run, and their rate */
  matmul_ms: number;
  matmul_gflop_per_s: number;
  /** time in every kernel per run */
  kernels_ms: number;
  /** kernel -> ms and calls per run, slowest first */
  by_kernel: Record<string, { ms: number; calls: number }>;
  /** matmul shape (profile.ts matmulShape: "NT 512x4864x896") -> ms and calls per run and its rate, slowest first */
  by_matmul_shape: Record<string, { ms: number; calls: number; gflop_per_s: number }>;
}

function summarize(profile: KernelProfile, runs: number): ProfileSummary {
  const mm = matmulTotals(profile);
  let total = 0;
  for (const e of profile.values()) total += e.ms;
  const byKernel: ProfileSummary["by_kernel"] = {};
  for (const [name, e] of [...profile].sort((a, b) => b[1].ms - a[1].ms)) byKernel[name] = { ms: round(e.ms / runs, 1), calls: Math.round(e.calls / runs) };
  const shapes = [...profile.values()].flatMap((e) => [...(e.shapes ?? [])]).sort((a, b) => b[1].ms - a[1].ms);
  const byShape: ProfileSummary["by_matmul_shape"] = {};
  for (const [shape, e] of shapes) byShape[shape] = { ms: round(e.ms / runs, 1), calls: Math.round(e.calls / runs), gflop_per_s: e.ms > 0 ? round(e.flops / e.ms / 1e6, 1) : 0 };
  return {
    matmul_ms: round(mm.ms / runs, 1), matmul_gflop_per_s: mm.ms > 0 ? round(mm.flops / mm.ms / 1e6, 1) : 0,
    kernels_ms: round(total / runs, 1), by_kernel: byKernel, by_matmul_shape: byShape,
  };
}

/** Runs `fn` with the kernels profiled into `profile` when it is given, else as they are. */
function maybeProfiled<R>(profile: KernelProfile | null, fn: () => R): R {
  if (profile === null) return fn();
  const prev = useKernels(profiled(backendKernels, profile));
  try {
    return fn();
  } finally {
    useKernels(prev);
  }
}

/**
 * What a training step holds, MiB, read after it: arenas and the gradient pool only grow, so their sizes
 * are what they held at their fullest. `other` is the peak RSS less the rest: Node's heap and code, the
 * kernels' threads, and buffers outside the arenas (the scores' copies, the batch).
 */
export interface MemoryAccount {
  /** every weight: the frozen base and, with LoRA, the adapters */
  weights_mb: number;
  /** the trained parameters' gradients (the adapters' with LoRA) */
  gradients_mb: number;
  /** AdamW's two moments of the trained parameters */
  optimizer_mb: number;
  /** the training pass's activations kept for the backward: every layer's, or with checkpointing each layer's input, and the LM head's */
  activations_mb: number;
  /** gradient checkpointing: one layer's activations, recomputed in the backward */
  recomputed_layer_mb: number;
  /** activation gradients (every buffer of the pool, free or lent: about one layer's at a time) */
  activation_grads_mb: number;
  other_mb: number;
}

function memoryAccount(policy: EnginePolicy<EngineModel>, peakMb: number): MemoryAccount {
  const m = policy.model;
  const mb = (bytes: number): number => round(bytes / 2 ** 20, 1);
  const weights = "baseData" in m ? m.baseData.byteLength + m.loraData.byteLength : m.data.byteLength;
  const opt = policy.optimizer === null ? 0 : policy.optimizer.m.byteLength + policy.optimizer.v.byteLength;
  const a = m.arenaStats();
  const counted = weights + m.grad.byteLength + opt + a.trainBytes + a.recomputeBytes + a.gradAllocatedBytes;
  return {
    weights_mb: mb(weights), gradients_mb: mb(m.grad.byteLength), optimizer_mb: mb(opt), activations_mb: mb(a.trainBytes),
    recomputed_layer_mb: mb(a.recomputeBytes), activation_grads_mb: mb(a.gradAllocatedBytes), other_mb: round(peakMb - counted / 2 ** 20, 1),
  };
}

/** Times training steps: tokens [batch, seq] uniform over the vocabulary, every row full length. */
export function benchStep(policy: Policy, batch: number, seq: number, steps: number, warmup: number, seed: number, profile: KernelProfile | null = null): number[] {
  const rng = new Rng(seed + 1);
  const tokens = Int32Array.from({ length: batch * seq }, () => rng.int(policy.vocabSize));
  const b = { tokens, batch, seqLen: seq, lengths: new Int32Array(batch).fill(seq) };
  // d(loss)/d(logprobs) of loss = -mean(logprobs)
  const d = new Float32Array(batch * (seq - 1)).fill(-1 / (batch * (seq - 1)));
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    maybeProfiled(i >= warmup ? profile : null, () => {
      policy.zeroGrad();
      policy.scoreForTraining(b);
      policy.backward(d);
      policy.optimizerStep({ learningRate: 1e-5, maxGradNorm: 1 });
    });
    const t1 = performance.now();
    if (i >= warmup) times.push(t1 - t0);
  }
  return times;
}

/**
 * Fused ops against the same maths from the unfused ops, forward + backward, median ms over `reps`:
 * the LM head with the log-prob gather (lmHeadLogprobs) against matmul + logSoftmax + gather, and
 * linear against matmul + biasAdd (at the MLP's c_fc shape).
 */
export function benchFusion(cfg: GPT2Config, batch: number, seq: number, reps: number, seed: number): Record<string, number> {
  const rng = new Rng(seed + 3);
  const N = batch * seq;
  const C = cfg.nEmbd;
  const V = cfg.vocabSize;
  const rand = (shape: number[], std: number, grad: boolean): Tensor =>
    new Tensor(shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * std), grad);
  const x = rand([N, C], 1, true);
  const wte = rand([V, C], 0.02, true);
  const targets = Int32Array.from({ length: N }, (_, i) => ((i + 1) % seq === 0 ? -1 : rng.int(V)));
  const w = rand([C, 4 * C], 0.02, true);
  const b = rand([4 * C], 0.02, true);
  const once = (f: () => Tensor): number => {
    for (const t of [x, wte, w, b]) t.grad = null;
    const t0 = performance.now();
    const tape = new Tape();
    const out = recording(tape, f);
    backward(tape, out, new Float32Array(out.size).fill(1));
    return performance.now() - t0;
  };
  // fused and unfused alternate, so that a busy machine slows both alike; the first pair warms up
  const pair = (fused: () => Tensor, unfused: () => Tensor): [number, number] => {
    const a: number[] = [];
    const c: number[] = [];
    for (let i = 0; i < reps + 1; i++) {
      const ta = once(fused);
      const tc = once(unfused);
      if (i > 0) {
        a.push(ta);
        c.push(tc);
      }
    }
    return [round(median(a), 3), round(median(c), 3)];
  };
  // the unfused gather: sum over rows of the chosen token's log-softmax entry
  const pick = (lp: Tensor): Tensor => {
    const out = new Tensor([1], new Float32Array(1), true);
    for (let n = 0; n < N; n++) if (targets[n] >= 0) out.data[0] += lp.data[n * V + targets[n]];
    record(out, () => {
      const g = gradOf(lp);
      for (let n = 0; n < N; n++) if (targets[n] >= 0) g[n * V + targets[n]] += out.grad![0];
    });
    return out;
  };
  const [headFused, headUnfused] = pair(
    () => sum(lmHeadLogprobs(x, wte, targets).logprobs),
    () => pick(logSoftmax(matmul(x, wte, { transB: true }))),
  );
  const [linFused, linUnfused] = pair(() => linear(x, w, b), () => biasAdd(matmul(x, w), b));
  // SwiGLU's gate at the MLP's width: silu(gate) * up in one op against silu then mul
  const gate = rand([N, 4 * C], 1, true);
  const up = rand([N, 4 * C], 1, true);
  const [gluFused, gluUnfused] = pair(() => swiglu(gate, up), () => mul(silu(gate), up));
  return {
    lm_head_fused_ms: headFused, lm_head_unfused_ms: headUnfused, linear_fused_ms: linFused, linear_unfused_ms: linUnfused,
    swiglu_fused_ms: gluFused, swiglu_unfused_ms: gluUnfused,
  };
}

/** Times sampling: `batch` random prompts of `prompt` tokens, `newTokens` each, temperature 1. */
export function benchSample(policy: Policy, batch: number, prompt: number, newTokens: number, steps: number, warmup: number, seed: number, profile: KernelProfile | null = null): number[] {
  const rng = new Rng(seed + 2);
  const prompts = Array.from({ length: batch }, () => Int32Array.from({ length: prompt }, () => rng.int(policy.vocabSize)));
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const out = maybeProfiled(i >= warmup ? profile : null, () => policy.sample(prompts, { maxNewTokens: newTokens, temperature: 1, topK: 0, topP: 1, rng: new Rng(seed + i) }));
    const t1 = performance.now();
    if (out.some((r) => r.length !== newTokens)) throw new Error("bench sample: a row stopped early");
    if (i >= warmup) times.push(t1 - t0);
  }
  return times;
}

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      preset: { type: "string" },
      batch: { type: "string" },
      seq: { type: "string" },
      prompt: { type: "string" },
      "new-tokens": { type: "string" },
      steps: { type: "string" },
      warmup: { type: "string" },
      threads: { type: "string" },
      seed: { type: "string" },
      json: { type: "boolean" },
      "fresh-buffers": { type: "boolean" },
      lora: { type: "string" },
      "gradient-checkpointing": { type: "boolean" },
      profile: { type: "boolean" },
    },
    USAGE,
  );
  if (!parsed) return;
  const { values, positionals } = parsed;
  const what = positionals[0];
  if (what !== "step" && what !== "sample" && what !== "fusion") {
    throw usageError("bench", `expected 'bench step', 'bench sample' or 'bench fusion', got '${what ?? ""}'`);
  }
  if (positionals.length > 1) throw usageError("bench", `unexpected argument '${positionals[1]}'`);
  const preset = choiceOption("preset", requiredOption("bench", "preset", values.preset), [...Object.keys(GPT2_PRESETS), ...Object.keys(FAMILY_PRESETS)])!;
  const toy = preset === "toy" || preset.endsWith("-tiny");
  const batch = intOption("batch", values.batch, 16, 1);
  const seed = intOption("seed", values.seed, 0, 0);
  if (values.threads !== undefined) {
    const n = intOption("threads", values.threads, 0, 1);
    if (nativeKernels === null) throw new UserError("--threads: the native kernels are not in use (see 'lambda-grpo info')");
    nativeKernels.setThreads(n);
  }
  if (what === "fusion") {
    const cfg = GPT2_PRESETS[preset];
    if (cfg === undefined) throw new UserError(`--preset: bench fusion runs on GPT-2's shapes (${Object.keys(GPT2_PRESETS).join(", ")}), got '${preset}'`);
    const seq = intOption("seq", values.seq, 16, 2);
    const r = benchFusion(cfg, batch, seq, intOption("steps", values.steps, 5, 1), seed);
    if (values.json) console.log(JSON.stringify({ what, preset, batch, seq, ...r }));
    else {
      console.log(`bench fusion ${preset} (B${batch} T${seq}, forward + backward, median ms):`);
      console.log(`  LM head + log-prob gather: fused ${r.lm_head_fused_ms}, unfused (matmul, logSoftmax, gather) ${r.lm_head_unfused_ms}`);
      console.log(`  linear at c_fc's shape:    fused ${r.linear_fused_ms}, unfused (matmul, biasAdd) ${r.linear_unfused_ms}`);
      console.log(`  SwiGLU gate at [B*T, 4C]:  fused ${r.swiglu_fused_ms}, unfused (silu, mul) ${r.swiglu_unfused_ms}`);
    }
    return;
  }
  let lora = null;
  if (values.lora !== undefined) {
    if (FAMILY_PRESETS[preset] === undefined) throw new UserError(`--lora: LoRA is for the decoder families (${Object.keys(FAMILY_PRESETS).join(", ")}), not '${preset}'`);
    const r = intOption("lora", values.lora, 8, 1);
    lora = { r, alpha: 2 * r, dropout: 0, targetModules: "all-linear" as const };
  }
  const gradientCheckpointing = values["gradient-checkpointing"] ?? false;
  const policy = await createPolicy(preset, { seed, lora, gradientCheckpointing });
  const contextLength = policy.contextLength;
  if (values["fresh-buffers"]) (policy as EnginePolicy<EngineModel>).model.reuseBuffers = false;
  const profile: KernelProfile | null = values.profile ? new Map() : null;
  let times: number[];
  let seq: number;
  let tokens: number;
  if (what === "step") {
    seq = intOption("seq", values.seq, 16, 2);
    if (seq > contextLength) throw new UserError(`--seq: ${seq} exceeds the context length ${contextLength} of ${preset}`);
    const steps = intOption("steps", values.steps, toy ? 20 : 10, 1);
    times = benchStep(policy, batch, seq, steps, intOption("warmup", values.warmup, 2, 0), seed, profile);
    tokens = batch * seq;
  } else {
    const prompt = intOption("prompt", values.prompt, 1, 1);
    const newTokens = intOption("new-tokens", values["new-tokens"], Math.min(64, contextLength - prompt), 1);
    seq = prompt + newTokens;
    if (seq > contextLength) throw new UserError(`--prompt + --new-tokens: ${seq} exceeds the context length ${contextLength} of ${preset}`);
    const steps = intOption("steps", values.steps, toy ? 5 : 3, 1);
    times = benchSample(policy, batch, prompt, newTokens, steps, intOption("warmup", values.warmup, 1, 0), seed, profile);
    tokens = batch * newTokens;
  }
  const med = median(times);
  const info = kernelInfo();
  const result: BenchResult = {
    what,
    preset,
    batch,
    seq,
    steps: times.length,
    median_ms: round(med, 3),
    tokens_per_s: round((tokens / med) * 1000, 1),
    peak_rss_mb: round(peakRssMb(), 1),
    times_ms: times.map((t) => round(t, 3)),
    kernels: info.name,
    isa: info.isa,
    threads: info.threads,
    reuse_buffers: !values["fresh-buffers"],
    lora_r: lora?.r ?? null,
    gradient_checkpointing: gradientCheckpointing,
    ...(what === "step" ? { memory: memoryAccount(policy as EnginePolicy<EngineModel>, peakRssMb()) } : {}),
    ...(profile !== null ? { profile: summarize(profile, times.length) } : {}),
  };
  if (values.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const shape = (what === "step" ? `B${batch} T${seq}` : `B${batch}, ${tokens / batch} new tokens after ${seq - tokens / batch}`) + (lora ? `, LoRA r ${lora.r}` : "") + (gradientCheckpointing ? ", checkpointing" : "");
  console.log(
    `bench ${what} ${preset} (${shape}, ${times.length} runs, kernels ${info.name}/${info.isa}, ${info.threads} threads): ` +
      `median ${result.median_ms} ms, ${result.tokens_per_s} tokens/s, peak RSS ${result.peak_rss_mb} MB`,
  );
  const mem = result.memory;
  if (mem) {
    console.log(
      `  memory (MiB): weights ${mem.weights_mb}, gradients ${mem.gradients_mb}, AdamW ${mem.optimizer_mb}, activations ${mem.activations_mb}, ` +
        `recomputed layer ${mem.recomputed_layer_mb}, activation gradients ${mem.activation_grads_mb}, other ${mem.other_mb}`,
    );
  }
  const prof = result.profile;
  if (prof) {
    console.log(
      `  kernels per run: ${prof.kernels_ms} ms of ${result.median_ms} (median); matmuls ${prof.matmul_ms} ms at ${prof.matmul_gflop_per_s} GFLOP/s`,
    );
    const width = Math.max(...[...Object.keys(prof.by_kernel), ...Object.keys(prof.by_matmul_shape)].map((k) => k.length));
    for (const [name, e] of Object.entries(prof.by_kernel)) console.log(`    ${name.padEnd(width)} ${String(e.ms).padStart(10)} ms ${String(e.calls).padStart(7)} calls`);
    console.log("  matmuls by shape (op(A) op(B), N plain / T transposed; M x N x K, the batch first when batched):");
    for (const [shape, e] of Object.entries(prof.by_matmul_shape)) {
      console.log(`    ${shape.padEnd(width)} ${String(e.ms).padStart(10)} ms ${String(e.calls).padStart(7)} calls ${String(e.gflop_per_s).padStart(8)} GFLOP/s`);
    }
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
