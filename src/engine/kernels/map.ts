/**
 * `mapKernels(k, wrap)`: `k` with each kernel of the interface replaced by `wrap(name, kernel)`, the one
 * loop behind the kernel routing (index.ts) and the profiler (profile.ts). The interface's kernels are
 * the fallback's keys (ts.ts implements exactly `Kernels`), so what an implementation has beyond them
 * (the addon's isa, getThreads) is left out.
 */
import { tsKernels } from "./ts.js";
import type { Kernels } from "./types.js";

export type KernelName = Exclude<keyof Kernels, "name">;
export type AnyKernel = (...args: unknown[]) => unknown;

export function mapKernels(k: Kernels, wrap: (name: KernelName, kernel: AnyKernel) => AnyKernel): Kernels {
  const out: Record<string, unknown> = { name: k.name };
  for (const key of Object.keys(tsKernels) as (keyof Kernels)[]) {
    if (key === "name") continue;
    out[key] = wrap(key, k[key] as AnyKernel);
  }
  return out as unknown as Kernels;
}
