/**
 * `lambda-grpo info [--json]`: which kernels the engine uses here (native C++ or the TypeScript
 * fallback), the GEMM instruction set and the thread count, and why the native addon did not load.
 */
import { kernelInfo, nativeLoadError } from "../engine/kernels/index.js";
import { parseCommand } from "./args.js";

const USAGE = `usage: lambda-grpo info [--json]

Which kernels the engine uses here: native (C++, built by npm install) or ts (the TypeScript fallback,
same results, slower); the GEMM instruction set (avx512, avx2, scalar) and the number of threads.
LAMBDA_GRPO_KERNELS=ts|native forces one.

options:
  --json               one JSON object: kernels, isa, threads, node and why native is not in use
  -h, --help           this text`;

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      json: { type: "boolean" },
    },
    USAGE,
    false,
  );
  if (!parsed) return;
  const { values } = parsed;
  const info = kernelInfo();
  const why = info.name === "ts" ? (nativeLoadError ?? "forced by LAMBDA_GRPO_KERNELS=ts") : null;
  if (values.json) {
    console.log(JSON.stringify({ ...info, node: process.version, native_unavailable: why }));
    return;
  }
  console.log(`kernels: ${info.name}`);
  console.log(`isa:     ${info.isa}`);
  console.log(`threads: ${info.threads}`);
  console.log(`node:    ${process.version}`);
  if (why !== null) console.log(`native:  not in use: ${why}`);
}
