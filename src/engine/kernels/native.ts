/**
 * Loads the native kernels (build/Release/lgrpo_native.node, built by node-gyp from native/*.cc during
 * `npm install`). Returns null when the addon is missing or does not load; the engine then uses the
 * TypeScript fallback, which gives the same results.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { KernelInfo, Kernels } from "./types.js";

/** The addon's exports beyond the kernels themselves. */
interface Addon extends Omit<Kernels, "name"> {
  /** "amx" | "avx512" | "avx2" | "scalar": the GEMM microkernel chosen for this CPU */
  isa(): string;
  /** threads in the pool (the caller's thread included) */
  getThreads(): number;
  setThreads(n: number): void;
}

export interface NativeKernels extends Kernels {
  readonly isa: "amx" | "avx512" | "avx2" | "scalar";
  /** Threads the kernels split over; results do not depend on it (tests check that bit for bit). */
  getThreads(): number;
  setThreads(n: number): void;
}

/** The package root: the nearest folder above this file whose package.json is ours (src/ or dist/src/). */
function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === "lambda-grpo") return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** Why the addon did not load (for `lambda-grpo info` and the error of LAMBDA_GRPO_KERNELS=native). */
export let nativeLoadError: string | null = null;
/** The addon file that loaded (worker_threads load it again by this path). */
export let nativeAddonPath: string | null = null;

function load(): NativeKernels | null {
  const root = packageRoot();
  if (root === null) {
    nativeLoadError = "package root not found above " + fileURLToPath(import.meta.url);
    return null;
  }
  const file = join(root, "build", "Release", "lgrpo_native.node");
  if (!existsSync(file)) {
    nativeLoadError = `${file} does not exist (the native build failed or was skipped)`;
    return null;
  }
  let addon: Addon;
  try {
    addon = createRequire(join(root, "package.json"))(file) as Addon;
  } catch (e) {
    nativeLoadError = `${file} did not load: ${(e as Error).message}`;
    return null;
  }
  nativeAddonPath = file;
  const isa = addon.isa() as NativeKernels["isa"];
  return { ...addon, name: "native", isa };
}

export const nativeKernels: NativeKernels | null = load();

/** What the kernels in use are, for `lambda-grpo info`. */
export function nativeInfo(): KernelInfo | null {
  if (nativeKernels === null) return null;
  return { name: "native", isa: nativeKernels.isa, threads: nativeKernels.getThreads() };
}
