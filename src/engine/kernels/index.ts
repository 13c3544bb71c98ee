/**
 * `kernels`: the native addon when it loaded, else the TypeScript fallback (docs/KERNELS.md).
 * LAMBDA_GRPO_KERNELS=ts|native forces one. A call with any Float64Array argument always runs on the
 * fallback (the native kernels are float32 only), so gradient checks in float64 work on either.
 */
import { type AnyKernel, mapKernels } from "./map.js";
import { nativeAddonPath, nativeInfo, nativeKernels, nativeLoadError } from "./native.js";
import { tsKernels } from "./ts.js";
import type { KernelInfo, Kernels } from "./types.js";

export type { F, KernelInfo, Kernels } from "./types.js";
export type { NativeKernels } from "./native.js";
export { nativeAddonPath, nativeKernels, nativeLoadError, tsKernels };

/** Each kernel routed: to the fallback when an argument is a Float64Array, else to the native addon. */
function routed(native: Kernels): Kernels {
  return mapKernels(native, (name, nat) => {
    const ts = tsKernels[name] as AnyKernel;
    return (...args: unknown[]): unknown => {
      for (let i = 0; i < args.length; i++) if (args[i] instanceof Float64Array) return ts(...args);
      return nat(...args);
    };
  });
}

function choose(): Kernels {
  const forced = process.env.LAMBDA_GRPO_KERNELS;
  if (forced !== undefined && forced !== "" && forced !== "ts" && forced !== "native") {
    throw new Error(`LAMBDA_GRPO_KERNELS=${forced}: expected "ts" or "native"`);
  }
  if (forced === "ts") return tsKernels;
  if (nativeKernels === null) {
    if (forced === "native") {
      throw new Error(`LAMBDA_GRPO_KERNELS=native but the native kernels are not available: ${nativeLoadError}`);
    }
    return tsKernels;
  }
  return routed(nativeKernels);
}

export const kernels: Kernels = choose();

/** Which kernels `kernels` runs on, for `lambda-grpo info`. */
export function kernelInfo(): KernelInfo {
  if (kernels.name === "native") return nativeInfo()!;
  return { name: "ts", isa: "scalar", threads: 1 };
}
