// Builds the native kernels with node-gyp during `npm install` / `npm ci`.
// A failed build is not fatal: every kernel has a TypeScript fallback with the same results,
// so we warn and carry on (the engine reports which path it uses: `lambda-grpo info`).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

if (!existsSync("binding.gyp")) process.exit(0);
if (process.env.LAMBDA_GRPO_NO_NATIVE === "1") {
  console.warn("lambda-grpo: LAMBDA_GRPO_NO_NATIVE=1, skipping the native build (TypeScript kernels will be used)");
  process.exit(0);
}
const r = spawnSync("node-gyp", ["rebuild"], { stdio: "inherit", shell: process.platform === "win32" });
if (r.status !== 0) {
  console.warn("lambda-grpo: native kernels did not build; the TypeScript fallback will be used (slower, same results)");
}
process.exit(0);
