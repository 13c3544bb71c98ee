/**
 * Where a workload's time goes, kernel by kernel: `profiled(k, profile)` is `k` with each kernel timed
 * (performance.now around the call) into `profile`, and `gemm` / `gemmBatched` also counting their FLOPs
 * (2MNK a matrix), so a matmul rate can be read off a whole training step. Install it with
 * backend.useKernels for the calls to measure (`lambda-grpo bench step --profile`). The timer costs
 * about a microsecond a call: nothing against a step's kernels, whose smallest take tens of microseconds.
 */
import { mapKernels } from "./map.js";
import type { Kernels } from "./types.js";

export interface KernelTime {
  ms: number;
  calls: number;
  /** floating-point operations, for the matmul kernels (0 for the others) */
  flops: number;
  /** the matmul kernels: the same figures for each shape (matmulShape's names) */
  shapes?: Map<string, KernelTime>;
}

export type KernelProfile = Map<string, KernelTime>;

/** The kernels whose FLOPs are counted: the matmuls. */
export const MATMUL_KERNELS: readonly string[] = ["gemm", "gemmBatched"];

/**
 * A matmul call's shape: op(A) op(B) (N plain, T transposed) and M x N x K, with the batch first for
 * gemmBatched ("NT 512x4864x896", "NN 56x 128x64x128"); null for the other kernels.
 */
export function matmulShape(name: string, args: unknown[]): string | null {
  const t = (x: unknown): string => (x ? "T" : "N");
  if (name === "gemm") return `${t(args[0])}${t(args[1])} ${args[2] as number}x${args[3] as number}x${args[4] as number}`;
  if (name === "gemmBatched") return `${t(args[0])}${t(args[1])} ${args[2] as number}x ${args[3] as number}x${args[4] as number}x${args[5] as number}`;
  return null;
}

function flopsOf(name: string, args: unknown[]): number {
  if (name === "gemm") return 2 * (args[2] as number) * (args[3] as number) * (args[4] as number);
  if (name === "gemmBatched") return 2 * (args[2] as number) * (args[3] as number) * (args[4] as number) * (args[5] as number);
  return 0;
}

/** `k` with every kernel call timed into `profile` (entries created on first use). */
export function profiled(k: Kernels, profile: KernelProfile): Kernels {
  return mapKernels(k, (name, fn) => (...args: unknown[]): unknown => {
    const t0 = performance.now();
    try {
      return fn(...args);
    } finally {
      const ms = performance.now() - t0;
      const flops = flopsOf(name, args);
      const e = tally(profile, name, ms, flops);
      const shape = matmulShape(name, args);
      if (shape !== null) tally((e.shapes ??= new Map()), shape, ms, flops);
    }
  });
}

function tally(into: Map<string, KernelTime>, key: string, ms: number, flops: number): KernelTime {
  let e = into.get(key);
  if (e === undefined) into.set(key, (e = { ms: 0, calls: 0, flops: 0 }));
  e.ms += ms;
  e.calls++;
  e.flops += flops;
  return e;
}

/** The matmuls' share of a profile: their time and FLOPs, summed. */
export function matmulTotals(profile: KernelProfile): { ms: number; flops: number } {
  let ms = 0;
  let flops = 0;
  for (const [name, e] of profile) {
    if (!MATMUL_KERNELS.includes(name)) continue;
    ms += e.ms;
    flops += e.flops;
  }
  return { ms, flops };
}
