/**
 * The kernels the engine's ops call: `kernels` from kernels/index.ts (native when it loaded, else the
 * TypeScript fallback). `useKernels` swaps them at run time, which is how the tests run one model on
 * both paths in one process and compare.
 */
import { kernels as chosen, type Kernels } from "./kernels/index.js";

export let kernels: Kernels = chosen;

/** Makes the ops call `k` from now on; returns the kernels used before. */
export function useKernels(k: Kernels): Kernels {
  const prev = kernels;
  kernels = k;
  return prev;
}
