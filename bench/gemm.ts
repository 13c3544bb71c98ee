/**
 * GEMM throughput of the native kernels (and the TypeScript fallback, for reference) against PyTorch on
 * the same machine in the same run. `node dist/bench/gemm.js`; bench/engine.ts calls benchGemm().
 *
 * PyTorch runs in a child /usr/bin/python3 (torch.set_num_threads(os.cpu_count())) with the environment of
 * torchChildEnv (OpenBLAS's kernels for this CPU's instruction set). It reports two
 * paths: torch.mm (whatever BLAS this torch was built with) and, when available, a oneDNN (mkldnn)
 * Linear, which is PyTorch's fastest CPU GEMM. Ours is measured before and after PyTorch and the median
 * of all those repetitions is reported, so a burst of load on a shared machine hits both sides alike.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { nativeKernels, nativeLoadError, tsKernels } from "../src/engine/kernels/index.js";
import type { Kernels } from "../src/engine/kernels/types.js";

export interface GemmShape {
  M: number;
  N: number;
  K: number;
  /** what the shape is in GPT-2 */
  label: string;
}

export interface GemmBenchRow extends GemmShape {
  /** GFLOP/s (2MNK / median seconds) */
  native: number | null;
  ts: number | null;
  torchMm: number | null;
  torchOnednn: number | null;
  /** native / the faster PyTorch path */
  ratio: number | null;
  /** where the CPU has AMX tiles: the same on the AVX-512 path (tiles off), measured in the same run */
  nativeAvx512: number | null;
  /** one thread each, GFLOP per CPU-second (median): kernel efficiency, robust to a busy machine */
  native1: number | null;
  torchMm1: number | null;
  torchOnednn1: number | null;
  ratio1: number | null;
}

export interface GemmBenchResult {
  rows: GemmBenchRow[];
  isa: string | null;
  threads: number | null;
  torchThreads: number | null;
  /** why there is no PyTorch column, when there is none */
  torchNote: string | null;
}

export const GEMM_SHAPES: GemmShape[] = [
  { M: 768, N: 768, K: 768, label: "768x768x768" },
  { M: 64, N: 3072, K: 768, label: "64x768x3072 (64 tokens through c_fc: M=64 K=768 N=3072)" },
  { M: 64, N: 768, K: 3072, label: "64x3072x768 (64 tokens through mlp c_proj: M=64 K=3072 N=768)" },
];

function randomMatrix(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** Seconds of each of `reps` calls after `warmup` unmeasured ones (CPU seconds of this process with `cpu`). */
function time(k: Kernels, s: GemmShape, warmup: number, reps: number, cpu = false): number[] {
  const A = randomMatrix(s.M * s.K, 1);
  const B = randomMatrix(s.K * s.N, 2);
  const C = new Float32Array(s.M * s.N);
  for (let i = 0; i < warmup; i++) k.gemm(false, false, s.M, s.N, s.K, 1, A, B, 0, C);
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    if (cpu) {
      const c0 = process.cpuUsage();
      k.gemm(false, false, s.M, s.N, s.K, 1, A, B, 0, C);
      const c = process.cpuUsage(c0);
      out.push((c.user + c.system) / 1e6);
    } else {
      const t0 = performance.now();
      k.gemm(false, false, s.M, s.N, s.K, 1, A, B, 0, C);
      out.push((performance.now() - t0) / 1e3);
    }
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const gflops = (s: GemmShape, seconds: number): number => (2 * s.M * s.N * s.K) / seconds / 1e9;

const TORCH_SCRIPT = `
import json, os, sys, time
try:
    import torch
except Exception as e:
    print(json.dumps({"error": "import torch failed: %s" % e})); sys.exit(0)
import torch.utils.mkldnn
torch.set_num_threads(os.cpu_count() or 1)
shapes = json.loads(sys.argv[1]); reps = int(sys.argv[2])
def med(f, clock=time.perf_counter, n=reps):
    for _ in range(3): f()
    ts = []
    for _ in range(n):
        t = clock(); f(); ts.append(clock() - t)
    ts.sort(); n = len(ts)
    return ts[n // 2] if n % 2 else (ts[n // 2 - 1] + ts[n // 2]) / 2
def measure(clock, n):
    out = []
    for s in shapes:
        M, N, K = s["M"], s["N"], s["K"]
        a = torch.rand(M, K) * 2 - 1; b = torch.rand(K, N) * 2 - 1
        row = {"mm": med(lambda: torch.mm(a, b), clock, n), "onednn": None}
        try:
            lin = torch.nn.Linear(K, N, bias=False)
            with torch.no_grad():
                lin.weight.copy_(b.t())
            ml = torch.utils.mkldnn.to_mkldnn(lin); am = a.to_mkldnn()
            with torch.no_grad():
                row["onednn"] = med(lambda: ml(am), clock, n)
        except Exception:
            pass
        out.append(row)
    return out
threads = torch.get_num_threads()
rows = measure(time.perf_counter, reps)
# one thread, CPU seconds per call: a kernel's efficiency, unaffected by other processes taking turns
torch.set_num_threads(1)
rows1 = measure(time.process_time, max(5, reps // 2))
print(json.dumps({"threads": threads, "version": torch.__version__, "rows": rows, "rows1": rows1}))
`;

interface TorchResult {
  threads: number;
  version: string;
  rows: { mm: number; onednn: number | null }[];
  rows1: { mm: number; onednn: number | null }[];
}

/**
 * The OpenBLAS kernels (its OPENBLAS_CORETYPE name) for a CPU with these /proc/cpuinfo flags: SkylakeX with
 * AVX-512 (F, CD, BW, DQ, VL), Haswell with AVX2 and FMA, else null (OpenBLAS's own choice). OpenBLAS's
 * DYNAMIC_ARCH picks its kernels from the CPUID model, which a virtual machine may hide: on this machine
 * ("Intel(R) Xeon(R) Processor", AVX-512) Debian's OpenBLAS 0.3.21 fell back to Prescott's SSE3 kernels, and
 * torch's float32 GEMM at [1536,1536] x [1536,8960] ran at 10-11 GFLOP/s against 46-49 with SkylakeX's and
 * 48 on oneDNN (2 threads, a loaded machine, the paths alternating): every PyTorch time 4-5x too slow.
 */
export function openblasCoreType(flags: Set<string>): string | null {
  if (["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].every((f) => flags.has(f))) return "SkylakeX";
  if (flags.has("avx2") && flags.has("fma")) return "Haswell";
  return null;
}

/** This CPU's flags (the first `flags` line of /proc/cpuinfo; empty where there is none). */
export function cpuFlags(): Set<string> {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("flags"));
    return new Set(line?.split(":")[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

/**
 * The environment of a PyTorch child process: ours without OPENBLAS_L2_SIZE (a setting made for our process
 * would tune OpenBLAS for another CPU) and with OPENBLAS_CORETYPE set to this CPU's (openblasCoreType), so
 * that PyTorch's matmuls, attention's batched ones included, run on OpenBLAS's best kernels here.
 */
export function torchChildEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const core = openblasCoreType(cpuFlags());
  if (core !== null) env.OPENBLAS_CORETYPE = core;
  return env;
}

function runTorch(shapes: GemmShape[], reps: number): TorchResult | string {
  const r = spawnSync("/usr/bin/python3", ["-c", TORCH_SCRIPT, JSON.stringify(shapes), String(reps)], {
    env: torchChildEnv(),
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.error) return `could not run /usr/bin/python3 (${r.error.message})`;
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    const parsed = JSON.parse(line) as TorchResult | { error: string };
    if ("error" in parsed) return parsed.error;
    return parsed;
  } catch {
    return `python3 exited with ${r.status}: ${r.stderr.trim().split("\n").pop() ?? ""}`;
  }
}

export async function benchGemm(opts: { reps?: number; withTs?: boolean; shapes?: GemmShape[] } = {}): Promise<GemmBenchResult> {
  const reps = opts.reps ?? 15;
  const shapes = opts.shapes ?? GEMM_SHAPES;
  const native = nativeKernels;
  const ours: number[][] = shapes.map(() => []);
  const measureOurs = (): void => {
    if (native === null) return;
    shapes.forEach((s, i) => ours[i].push(...time(native, s, 3, Math.ceil(reps / 2))));
  };
  measureOurs();
  const torch = runTorch(shapes, reps);
  measureOurs();
  // With AMX, the float32 AVX-512 path beside it (setIsa is the addon's test hook; gemm.cc reads the
  // choice at every call).
  const avx512: (number | null)[] = shapes.map(() => null);
  const setIsa = (native as unknown as { setIsa?: (isa: string) => boolean } | null)?.setIsa;
  if (native !== null && native.isa === "amx" && setIsa !== undefined && setIsa("avx512")) {
    try {
      shapes.forEach((s, i) => (avx512[i] = median(time(native, s, 3, reps))));
    } finally {
      setIsa("amx");
    }
  }
  const ours1: (number | null)[] = shapes.map(() => null);
  if (native !== null) {
    const threads = native.getThreads();
    native.setThreads(1);
    shapes.forEach((s, i) => (ours1[i] = median(time(native, s, 3, Math.max(5, reps >> 1), true))));
    native.setThreads(threads);
  }
  const rows = shapes.map((s, i): GemmBenchRow => {
    const nat = native === null ? null : gflops(s, median(ours[i]));
    const ts = opts.withTs === false ? null : gflops(s, median(time(tsKernels, s, 1, 2)));
    const t = typeof torch === "string" ? null : torch.rows[i];
    const torchMm = t === null ? null : gflops(s, t.mm);
    const torchOnednn = t === null || t.onednn === null ? null : gflops(s, t.onednn);
    const best = Math.max(torchMm ?? 0, torchOnednn ?? 0);
    const t1 = typeof torch === "string" ? null : torch.rows1[i];
    const native1 = ours1[i] === null ? null : gflops(s, ours1[i]!);
    const torchMm1 = t1 === null ? null : gflops(s, t1.mm);
    const torchOnednn1 = t1 === null || t1.onednn === null ? null : gflops(s, t1.onednn);
    const best1 = Math.max(torchMm1 ?? 0, torchOnednn1 ?? 0);
    return {
      ...s, native: nat, ts, torchMm, torchOnednn, ratio: nat !== null && best > 0 ? nat / best : null,
      nativeAvx512: avx512[i] === null ? null : gflops(s, avx512[i]!),
      native1, torchMm1, torchOnednn1, ratio1: native1 !== null && best1 > 0 ? native1 / best1 : null,
    };
  });
  return {
    rows,
    isa: native?.isa ?? null,
    threads: native?.getThreads() ?? null,
    torchThreads: typeof torch === "string" ? null : torch.threads,
    torchNote: typeof torch === "string" ? `PyTorch not available: anchor column skipped (${torch})` : null,
  };
}

export function formatGemmBench(r: GemmBenchResult): string {
  const f = (x: number | null, d = 1): string => (x === null ? "-" : x.toFixed(d));
  const lines = [
    `GEMM, GFLOP/s (median of repetitions after warm-up); ours: ${r.isa === null ? `native not loaded (${nativeLoadError})` : `native ${r.isa}, ${r.threads} threads`}` +
      (r.torchThreads === null ? "" : `; PyTorch: ${r.torchThreads} threads`),
  ];
  if (r.torchNote !== null) lines.push(r.torchNote);
  const tilesOff = r.rows.some((row) => row.nativeAvx512 !== null);
  lines.push(["shape (M x K x N)", "ours", ...(tilesOff ? ["ours, AVX-512 (tiles off)"] : []), "ts", "torch.mm", "torch oneDNN", "ours / best torch"].join(" | "));
  const x = (v: number | null): string => (v === null ? "-" : `${v.toFixed(2)}x`);
  for (const row of r.rows) {
    lines.push([row.label, f(row.native), ...(tilesOff ? [f(row.nativeAvx512)] : []), f(row.ts, 2), f(row.torchMm), f(row.torchOnednn), x(row.ratio)].join(" | "));
  }
  lines.push("");
  lines.push("One thread each, GFLOP per CPU-second (kernel efficiency; unaffected by other processes taking turns on the cores)");
  lines.push(["shape (M x K x N)", "ours", "torch.mm", "torch oneDNN", "ours / best torch"].join(" | "));
  for (const row of r.rows) {
    lines.push([row.label, f(row.native1), f(row.torchMm1), f(row.torchOnednn1), x(row.ratio1)].join(" | "));
  }
  return lines.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const r = await benchGemm();
  console.log(formatGemmBench(r));
}
