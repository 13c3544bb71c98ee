/**
 * `lambda-grpo bench step`'s memory account and kernel profile, and bench:engine's row selection.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { combineRounds, formatTable, parseRows, ROW_GROUPS } from "../../bench/engine.js";
import { openblasCoreType } from "../../bench/gemm.js";
import { matmulTotals, profiled, type KernelProfile } from "../../src/engine/kernels/profile.js";
import { tsKernels } from "../../src/engine/kernels/index.js";
import { FAMILY_PRESETS, loraParameterShapes, parameterShapes } from "../../src/engine/families/config.js";
import { runCli } from "./helpers.js";

const MiB = 2 ** 20;

function stepMemory(extra: string[]): { peak_rss_mb: number; memory: Record<string, number> } {
  const r = runCli(["bench", "step", "--preset", "qwen2-tiny", "--lora", "4", "--batch", "2", "--seq", "32", "--steps", "1", "--warmup", "0", "--json", ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

test("bench step's memory account: weights, adapters' gradients and AdamW moments from the shapes; checkpointing keeps less", () => {
  const cfg = FAMILY_PRESETS["qwen2-tiny"];
  const lora = { r: 4, alpha: 8, dropout: 0, targetModules: "all-linear" as const };
  const count = (shapes: { shape: number[] }[]): number => shapes.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  const base = count(parameterShapes(cfg));
  const adapters = count(loraParameterShapes(cfg, lora));
  // each view starts at a multiple of 16 floats: at most 15 floats of padding per parameter
  const pad = (shapes: unknown[]): number => (15 * 4 * shapes.length) / MiB + 0.1;
  const plain = stepMemory([]);
  const ckpt = stepMemory(["--gradient-checkpointing"]);
  for (const m of [plain.memory, ckpt.memory]) {
    assert.ok(Math.abs(m.weights_mb - ((base + adapters) * 4) / MiB) <= pad([...parameterShapes(cfg), ...loraParameterShapes(cfg, lora)]), `weights ${m.weights_mb}`);
    assert.ok(Math.abs(m.gradients_mb - (adapters * 4) / MiB) <= pad(loraParameterShapes(cfg, lora)), `gradients ${m.gradients_mb}`);
    assert.ok(Math.abs(m.optimizer_mb - 2 * m.gradients_mb) <= 0.1, "AdamW: two moments of the trained parameters");
  }
  assert.equal(plain.memory.recomputed_layer_mb, 0);
  assert.ok(ckpt.memory.recomputed_layer_mb > 0);
  // every layer's activations against each layer's input (nLayer = 2 here: still strictly less)
  assert.ok(ckpt.memory.activations_mb < plain.memory.activations_mb, `${ckpt.memory.activations_mb} vs ${plain.memory.activations_mb}`);
});

test("bench:engine --rows: all, one, several; an unknown row is a one-line error naming it", () => {
  assert.deepEqual([...parseRows("all")], [...ROW_GROUPS]);
  assert.deepEqual([...parseRows("lora")], ["lora"]);
  assert.deepEqual([...parseRows("gemm, lora")].sort(), ["gemm", "lora"]);
  assert.throws(() => parseRows("lora,lroa"), /--rows: unknown row 'lroa'/);
  assert.throws(() => parseRows(","), /--rows: no row named/);
});

test("bench:engine --rounds: each side's median round, the range of the rounds' own ratios, failed rounds left out", () => {
  const ms = (median_ms: number): { median_ms: number } => ({ median_ms });
  const c = combineRounds([{ ours: ms(10), torch: ms(40) }, { ours: ms(30), torch: ms(50) }, { ours: ms(20), torch: ms(30) }], (r) => r.median_ms);
  assert.equal(c.ours?.median_ms, 20);
  assert.equal(c.torch?.median_ms, 40);
  assert.deepEqual(c.spread, [10 / 40, 20 / 30]);
  // a side that failed in a round: its median is over the other rounds, and that round has no ratio
  const f = combineRounds([{ ours: ms(10), torch: null }, { ours: ms(30), torch: ms(60) }, { ours: ms(20), torch: ms(50) }], (r) => r.median_ms);
  assert.equal(f.ours?.median_ms, 20);
  assert.equal(f.torch?.median_ms, 50);
  assert.deepEqual(f.spread, [20 / 50, 30 / 60]);
  // one round: no range
  assert.equal(combineRounds([{ ours: ms(1), torch: ms(2) }], (r) => r.median_ms).spread, undefined);
  const table = formatTable([{ figure: "toy step", unit: "ms", ours: 20, torch: 40, ratio: 0.5, spread: [0.25, 0.67], target: "<= 1/3", pass: false }]);
  assert.match(table, /0\.50x \(0\.25-0\.67\)/);
});

test("PyTorch's OpenBLAS kernels from the CPU's flags: SkylakeX with AVX-512, Haswell with AVX2 + FMA, else OpenBLAS's choice", () => {
  const avx512 = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"];
  assert.equal(openblasCoreType(new Set(avx512)), "SkylakeX");
  assert.equal(openblasCoreType(new Set(avx512.filter((f) => f !== "avx512vl"))), "Haswell");
  assert.equal(openblasCoreType(new Set(["sse3", "avx", "avx2", "fma"])), "Haswell");
  assert.equal(openblasCoreType(new Set(["sse3", "avx", "avx2"])), null);
  assert.equal(openblasCoreType(new Set()), null);
});

test("kernel profile: each call timed and counted, matmul FLOPs 2MNK (batched: times the batch) also by shape, results unchanged", () => {
  const profile: KernelProfile = new Map();
  const k = profiled(tsKernels, profile);
  const [M, N, K] = [3, 5, 7];
  const A = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i));
  const B = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i));
  const want = new Float32Array(M * N);
  tsKernels.gemm(false, false, M, N, K, 1, A, B, 0, want);
  const got = new Float32Array(M * N);
  k.gemm(false, false, M, N, K, 1, A, B, 0, got);
  k.gemm(false, false, M, N, K, 1, A, B, 0, got);
  assert.deepEqual(got, want);
  k.gemmBatched(false, false, 2, M, N, 1, 1, A, M, B, N, 0, new Float32Array(2 * M * N), M * N);
  k.scale(got, 2, got.length);
  assert.deepEqual(got, want.map((x) => 2 * x));
  assert.deepEqual([...profile.keys()].sort(), ["gemm", "gemmBatched", "scale"]);
  assert.equal(profile.get("gemm")!.calls, 2);
  assert.equal(profile.get("gemm")!.flops, 2 * 2 * M * N * K);
  assert.equal(profile.get("gemmBatched")!.flops, 2 * 2 * M * N * 1);
  assert.equal(profile.get("scale")!.flops, 0);
  for (const e of profile.values()) assert.ok(e.ms >= 0);
  // by shape: op(A) op(B) M x N x K (the batch first); the other kernels have none
  k.gemm(true, false, K, N, M, 1, A, B, 0, new Float32Array(K * N));
  const shapes = profile.get("gemm")!.shapes!;
  assert.deepEqual([...shapes.keys()], [`NN ${M}x${N}x${K}`, `TN ${K}x${N}x${M}`]);
  assert.equal(shapes.get(`NN ${M}x${N}x${K}`)!.calls, 2);
  assert.equal(shapes.get(`NN ${M}x${N}x${K}`)!.flops, 2 * 2 * M * N * K);
  assert.equal(shapes.get(`TN ${K}x${N}x${M}`)!.calls, 1);
  assert.ok(Math.abs(shapes.get(`NN ${M}x${N}x${K}`)!.ms + shapes.get(`TN ${K}x${N}x${M}`)!.ms - profile.get("gemm")!.ms) < 1e-9);
  assert.deepEqual([...profile.get("gemmBatched")!.shapes!.keys()], [`NN 2x ${M}x${N}x1`]);
  assert.equal(profile.get("scale")!.shapes, undefined);
  const totals = matmulTotals(profile);
  assert.equal(totals.flops, 3 * 2 * M * N * K + 2 * 2 * M * N);
  assert.equal(totals.ms, profile.get("gemm")!.ms + profile.get("gemmBatched")!.ms);
});

test("bench step --profile: the matmuls' time is part of the kernels', the kernels' part of the step's, and gemm is in the table", () => {
  const r = runCli(["bench", "step", "--preset", "qwen2-tiny", "--batch", "2", "--seq", "16", "--steps", "2", "--warmup", "1", "--profile", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  const p = out.profile;
  assert.ok(p.matmul_ms > 0 && p.matmul_ms <= p.kernels_ms + 0.1, JSON.stringify(p));
  assert.ok(p.kernels_ms <= Math.max(...out.times_ms) + 0.1, `${p.kernels_ms} vs ${out.times_ms}`);
  assert.ok(p.by_kernel.gemm.calls > 0 && p.matmul_gflop_per_s > 0);
  // the shapes' calls add up to the matmul kernels' calls, their times (rounded to 0.1 ms) to the matmuls'
  const shapes = Object.values(p.by_matmul_shape) as { ms: number; calls: number; gflop_per_s: number }[];
  assert.equal(shapes.reduce((n, e) => n + e.calls, 0), p.by_kernel.gemm.calls + (p.by_kernel.gemmBatched?.calls ?? 0));
  assert.ok(Math.abs(shapes.reduce((n, e) => n + e.ms, 0) - p.matmul_ms) <= 0.06 * (shapes.length + 1), JSON.stringify(p.by_matmul_shape));
  assert.ok(shapes.every((e) => e.gflop_per_s >= 0));
});
