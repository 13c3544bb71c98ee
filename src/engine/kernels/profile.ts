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
}

export type KernelProfile = Map<string, KernelTime>;

/** The kernels whose FLOPs are counted: the matmuls. */
export const MATMUL_KERNELS: readonly string[] = ["gemm", "gemmBatched"];

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
      let e = profile.get(name);
      if (e === undefined) profile.set(name, (e = { ms: 0, calls: 0, flops: 0 }));
      e.ms += performance.now() - t0;
      e.calls++;
      e.flops += flopsOf(name, args);
    }
  });
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
