/**
 * `npm run bench:engine [-- --quick | --smoke]`: the engine's figures, each beside PyTorch's in the same run, against
 * the issue's targets.
 *
 *   GEMM GFLOP/s at 768x768x768 and 64x768x3072       ours >= 0.9x PyTorch   (bench/gemm.ts: benchGemm)
 *   toy step (vocab 8, ctx 16, 4x128, 4 heads; B16 T16)  ours <= 1/3 of its time
 *   gpt2-small step (124M; B16 T16)                    ours <= 1/2 of its time, peak RSS no higher
 *   sampling tokens/s with the KV cache, batch 16      ours >= 1.5x, for each preset
 *   qwen2-0.5b step (full fine-tuning; B4 T128)        ours <= 1/2 of its time, peak RSS no higher
 *   qwen2-0.5b sampling, 6 x 512 new tokens (KV cache) ours >= 2x its tokens/s
 *   r1-distill-1.5b LoRA r64 (all linear) step, 6 x 1024 tokens: ours <= 16 GB peak RSS, time beside PyTorch's
 *
 * Ours runs in child processes (`lambda-grpo bench step|sample --json`: createPolicy + the Policy's
 * scoreForTraining/backward/optimizerStep, or Policy.sample), PyTorch in `/usr/bin/python3
 * bench/torch_engine.py` with the same workload and options, one process per figure so that peak RSS is
 * that figure's alone. PyTorch's float32 matmuls take torch's own path (its BLAS) when that is OpenBLAS,
 * MKL or BLIS, and oneDNN otherwise when the build has it (`--torch-matmul onednn|blas` chooses).
 * PyTorch's child gets every core (torch.set_num_threads(os.cpu_count()), unless
 * --torch-threads) and bench/gemm.ts torchChildEnv's environment (OPENBLAS_CORETYPE for this CPU's
 * instruction set: OpenBLAS took this VM's AVX-512 Xeon for a Prescott, 4-5x slower at GEMM). When
 * `/usr/bin/python3 -c 'import torch'` fails, the PyTorch column is skipped with a line saying why.
 *
 * The run first prints which BLAS PyTorch loaded (`torch_engine.py blas`: the libraries in its
 * /proc/self/maps and torch.__config__.show()'s BLAS_INFO). On the reference BLAS (Debian's python3-torch
 * without libopenblas0-pthread: about 8 GFLOP/s here, against 440 with OpenBLAS) every ratio would flatter
 * ours, so the table then shows both columns but no ratio and no pass/fail, and says why.
 *
 * The families' PyTorch side is scripts/golden_families.py's reference model with random weights in
 * FAMILY_PRESETS' shapes (passed as JSON). The LoRA step does the same work on both sides: each block
 * recomputed in the backward (HF's gradient_checkpointing; ours `bench step --gradient-checkpointing`) and
 * the LM head in chunks recomputed in the backward (PyTorch 1024 rows at a time, ours LOGITS_BUDGET
 * logits), as anyone training a 1.5B model on 6 x 1024 tokens must: without them the activations alone
 * would exceed this machine's memory. Ours also reports where its memory went (`bench step`'s memory
 * account: weights, adapters' gradients and AdamW moments, kept activations, the recomputed layer,
 * activation gradients); docs/engine.md has the account at 6 x 1024.
 *
 * `--rows lora` (or any comma-separated list of ROW_GROUPS) runs those rows alone, each still beside
 * PyTorch's in the same run; each row is printed to stderr as soon as both sides have run.
 *
 * `--rounds N` measures each row N times, the two sides alternating (ours first in odd rounds, PyTorch first
 * in even ones), because this shared machine's speed drifts by more than the targets' margins between one
 * minute and the next. A row then shows each side's median round and the ratio of those, and the range of
 * the N rounds' own ratios beside it (`spread`).
 */
import { spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { FAMILY_PRESETS } from "../src/engine/families/config.js";
import { benchGemm, cpuFlags, GEMM_SHAPES, openblasCoreType, torchChildEnv, type GemmBenchRow } from "./gemm.js";

const fromSources = import.meta.url.endsWith(".ts");
const MAIN = fileURLToPath(new URL(fromSources ? "../src/cli/main.ts" : "../src/cli/main.js", import.meta.url));
const TORCH_SCRIPT = fileURLToPath(new URL(fromSources ? "./torch_engine.py" : "../../bench/torch_engine.py", import.meta.url));
const PYTHON = "/usr/bin/python3";

const USAGE = `usage: npm run bench:engine [-- options]    (or: node dist/bench/engine.js [options])

options:
  --quick               fewer repetitions, 16 instead of 64 new tokens for gpt2-small sampling, 64 instead of
                        512 for qwen2-0.5b's, and the LoRA step on 6 x 256 instead of 6 x 1024 tokens
  --smoke               every workload at a tiny size, once (toy, qwen2-tiny): checks that the harness runs;
                        its figures mean nothing
  --rows <list>         all (default), or a comma-separated list of the rows to run: gemm, toy-step,
                        small-step, toy-sample, small-sample, qwen2-step, qwen2-sample, lora (each beside
                        PyTorch's, as in the whole table); e.g. --rows lora
  --rounds <n>          measure each row n times (odd), the sides alternating; a row shows each side's median
                        round and the range of the rounds' ratios (default 1)
  --torch-threads <n>   PyTorch's thread count (default: every core)
  --torch-matmul <m>    PyTorch's float32 matmuls: auto (torch's own path when its BLAS is OpenBLAS, MKL
                        or BLIS, else oneDNN when this torch has it), onednn, or blas (torch.mm/addmm,
                        F.linear: the BLAS it links; Debian's is the system libblas)
  --json                print everything as JSON instead of the table`;

/** One workload, run identically on both sides. */
interface Workload {
  what: "step" | "sample";
  /** a GPT-2 preset (toy, gpt2-small) or one of FAMILY_PRESETS */
  preset: string;
  args: Record<string, number>;
  /** ours only: switches of `lambda-grpo bench` (gradient checkpointing) */
  oursSwitches?: string[];
  /** PyTorch only: how it runs the same workload (LM head chunking, gradient checkpointing, LoRA's alpha) */
  torchArgs?: string[];
}

/** What `--rows` selects, in the order they run: each names one workload and its rows of the table. */
export const ROW_GROUPS = ["gemm", "toy-step", "small-step", "toy-sample", "small-sample", "qwen2-step", "qwen2-sample", "lora"] as const;
export type RowGroup = (typeof ROW_GROUPS)[number];

/** The issue's bound on the r1-distill-1.5b LoRA step's peak RSS: 16 GB (taken as GiB, 16384 MiB). */
export const LORA_RSS_TARGET_MB = 16384;

/** `--rows a,b` -> the groups, or a one-line error naming the unknown one. */
export function parseRows(spec: string): Set<RowGroup> {
  if (spec === "all") return new Set(ROW_GROUPS);
  const out = new Set<RowGroup>();
  for (const name of spec.split(",").map((x) => x.trim()).filter((x) => x !== "")) {
    if (!(ROW_GROUPS as readonly string[]).includes(name)) throw new Error(`--rows: unknown row '${name}' (expected all or a comma-separated list of ${ROW_GROUPS.join(", ")})`);
    out.add(name as RowGroup);
  }
  if (out.size === 0) throw new Error(`--rows: no row named (expected all or a comma-separated list of ${ROW_GROUPS.join(", ")})`);
  return out;
}

/** What torch_engine.py blas says: the BLAS PyTorch's matmuls run on. */
interface TorchBlas {
  /** openblas, blis, mkl, atlas, reference or unknown */
  kind: string;
  libraries: string[];
  /** torch.__config__.show()'s BLAS_INFO ("generic": Debian's, which calls the system libblas.so.3) */
  build: string;
  torch: string;
  threads: number;
  /** OpenBLAS's kernels (openblas_get_corename), null when OpenBLAS is not loaded */
  core?: string | null;
}

interface RunResult {
  median_ms: number;
  tokens_per_s: number;
  peak_rss_mb: number;
  threads: number;
  kernels?: string;
  isa?: string;
  blas?: TorchBlas;
  matmul?: string;
  torch?: string;
  /** ours, step: lambda-grpo bench's memory account (MiB) */
  memory?: Record<string, number>;
  /**
   * `--profile` (both sides): time in matmuls per step; ours over the timed steps (`bench step --profile`),
   * PyTorch's in one more step under torch.profiler (run_ms: that step's wall time)
   */
  profile?: { matmul_ms: number; matmul_gflop_per_s?: number; run_ms?: number };
}

export interface Row {
  figure: string;
  unit: string;
  ours: number | null;
  torch: number | null;
  /** ours / PyTorch */
  ratio: number | null;
  /** with --rounds > 1: the smallest and largest of the rounds' own ratios */
  spread?: [number, number];
  /** "<= 0.33x", ">= 1.5x", or an absolute bound on ours ("ours <= 16384") */
  target: string;
  pass: boolean | null;
}

/**
 * PyTorch's child environment. OMP_WAIT_POLICY=PASSIVE (unless set already): with its default, libgomp's
 * threads spin at every barrier, and on a machine with more runnable threads than cores (any shared one)
 * a toy step measured 459 ms instead of 41 ms; that would time the scheduler, not PyTorch.
 */
function torchEnv(): NodeJS.ProcessEnv {
  const env = torchChildEnv();
  env.OMP_WAIT_POLICY ??= "PASSIVE";
  return env;
}

/** null when PyTorch can be imported, else why not. */
function torchUnavailable(): string | null {
  const r = spawnSync(PYTHON, ["-c", "import torch"], { env: torchEnv(), encoding: "utf8" });
  if (r.error) return `${PYTHON} could not run (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} -c 'import torch' failed: ${r.stderr.trim().split("\n").pop() ?? `exit ${r.status}`}`;
  return null;
}

function flags(args: Record<string, number>): string[] {
  return Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

/** Runs a child that prints one JSON object on its last stdout line. */
function runJson(cmd: string, argv: string[], env: NodeJS.ProcessEnv, what: string): RunResult {
  const r = spawnSync(cmd, argv, { env, encoding: "utf8", maxBuffer: 1 << 24 });
  const last = r.stdout?.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !last.startsWith("{")) {
    throw new Error(`${what} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ""}):\n${r.stderr?.trim().split("\n").slice(-5).join("\n")}`);
  }
  return JSON.parse(last) as RunResult;
}

function ours(w: Workload): RunResult {
  const argv = [...(fromSources ? ["--import", "tsx"] : []), MAIN, "bench", w.what, "--preset", w.preset, ...flags(w.args), ...(w.oursSwitches ?? []), "--json"];
  return runJson(process.execPath, argv, process.env, `lambda-grpo bench ${w.what} --preset ${w.preset}`);
}

function torchEnvWith(threads: number | null): NodeJS.ProcessEnv {
  const env = torchEnv();
  if (threads !== null) env.LAMBDA_GRPO_TORCH_THREADS = String(threads);
  return env;
}

function pytorch(w: Workload, threads: number | null, matmul: string): RunResult {
  const family = FAMILY_PRESETS[w.preset];
  const decoder = family === undefined ? [] : ["--decoder", JSON.stringify(family)];
  const argv = [TORCH_SCRIPT, w.what, "--preset", w.preset, ...decoder, ...flags(w.args), ...(w.torchArgs ?? []), "--matmul", matmul];
  return runJson(PYTHON, argv, torchEnvWith(threads), `bench/torch_engine.py ${w.what} --preset ${w.preset}`);
}

function torchBlas(threads: number | null): TorchBlas {
  return runJson(PYTHON, [TORCH_SCRIPT, "blas"], torchEnvWith(threads), "bench/torch_engine.py blas") as unknown as TorchBlas;
}

/** One line on the BLAS PyTorch runs on. */
export function describeBlas(b: TorchBlas): string {
  const core = b.core ? `, ${b.core} kernels` : "";
  return `${b.kind}${core} (${b.libraries.join(", ") || "no BLAS library mapped"}; torch ${b.torch} built with BLAS_INFO=${b.build})`;
}

/**
 * A row: ratio ours/PyTorch against `target` (at most, for times and memory; at least, for rates).
 * `noRatio`: PyTorch's figure is shown, but no ratio or verdict (it runs on the reference BLAS).
 */
function row(figure: string, unit: string, o: number | null, t: number | null, bound: number, atMost: boolean, noRatio = false, spread?: [number, number]): Row {
  const ratio = !noRatio && o !== null && t !== null && t > 0 ? o / t : null;
  const target = `${atMost ? "<=" : ">="} ${bound === 1 / 3 ? "1/3" : bound === 1 / 2 ? "1/2" : `${bound}x`}`;
  const r: Row = { figure, unit, ours: o, torch: t, ratio, target, pass: ratio === null ? null : atMost ? ratio <= bound : ratio >= bound };
  if (ratio !== null && spread !== undefined) r.spread = spread;
  return r;
}

/**
 * Rounds of one workload on both sides -> each side's median round (by its figure; the lower middle of an
 * even count) and the range of the rounds' own ratios. Rounds where a side failed are left out of the range.
 */
export function combineRounds<T>(rounds: { ours: T | null; torch: T | null }[], figure: (r: T) => number): { ours: T | null; torch: T | null; spread?: [number, number] } {
  const medianOf = (xs: T[]): T | null => (xs.length === 0 ? null : [...xs].sort((a, b) => figure(a) - figure(b))[(xs.length - 1) >> 1]);
  const ratios = rounds.flatMap((r) => (r.ours !== null && r.torch !== null && figure(r.torch) > 0 ? [figure(r.ours) / figure(r.torch)] : []));
  const out: { ours: T | null; torch: T | null; spread?: [number, number] } = {
    ours: medianOf(rounds.flatMap((r) => (r.ours === null ? [] : [r.ours]))),
    torch: medianOf(rounds.flatMap((r) => (r.torch === null ? [] : [r.torch]))),
  };
  if (rounds.length > 1 && ratios.length > 0) out.spread = [Math.min(...ratios), Math.max(...ratios)];
  return out;
}

/** A row judged on ours alone (an absolute bound); PyTorch's figure beside it, and the ratio unless noRatio. */
function absoluteRow(figure: string, unit: string, o: number | null, t: number | null, bound: number | null, noRatio = false): Row {
  const ratio = !noRatio && o !== null && t !== null && t > 0 ? o / t : null;
  return { figure, unit, ours: o, torch: t, ratio, target: bound === null ? "reported" : `ours <= ${bound}`, pass: bound === null || o === null ? null : o <= bound };
}

/**
 * The step's time in matmuls on both sides, and what the <= 1/2 target asks of ours: when PyTorch's whole
 * step is less than twice our matmuls' time alone, no saving outside the matmuls can meet it.
 */
export function matmulNote(preset: string, r: { ours: RunResult | null; torch: RunResult | null } | undefined): string | null {
  const o = r?.ours;
  const t = r?.torch;
  if (!o?.profile) return null;
  const ours = `ours ${fmt(o.profile.matmul_ms)} ms of ${fmt(o.median_ms)}${o.profile.matmul_gflop_per_s ? ` (${fmt(o.profile.matmul_gflop_per_s)} GFLOP/s)` : ""}`;
  if (!t?.profile) return `${preset} step, time in matmuls a step: ${ours}`;
  const half = t.median_ms / 2;
  const verdict = o.profile.matmul_ms >= half
    ? `1/2 of PyTorch's median step is ${fmt(half)} ms, less than our matmuls alone`
    : `1/2 of PyTorch's median step is ${fmt(half)} ms: ${fmt(half - o.profile.matmul_ms)} ms left for everything but our matmuls (now ${fmt(o.median_ms - o.profile.matmul_ms)})`;
  return `${preset} step, time in matmuls a step: ${ours}; PyTorch ${fmt(t.profile.matmul_ms)} ms of ${fmt(t.profile.run_ms ?? null)} (one step under torch.profiler); ${verdict}`;
}

function fmt(x: number | null): string {
  if (x === null) return "-";
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export function formatTable(rows: Row[]): string {
  const header = ["figure", "ours", "PyTorch", "ours/PyTorch", "target", "pass"];
  const cells = rows.map((r) => [
    `${r.figure} (${r.unit})`,
    fmt(r.ours),
    fmt(r.torch),
    r.ratio === null ? "-" : `${r.ratio.toFixed(2)}x${r.spread ? ` (${r.spread[0].toFixed(2)}-${r.spread[1].toFixed(2)})` : ""}`,
    r.target,
    r.pass === null ? "-" : r.pass ? "pass" : "FAIL",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => `| ${c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join(" | ")} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`, ...cells.map(line)].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      smoke: { type: "boolean", default: false },
      "torch-threads": { type: "string" },
      "torch-matmul": { type: "string", default: "auto" },
      rows: { type: "string", default: "all" },
      rounds: { type: "string", default: "1" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!["auto", "onednn", "blas"].includes(values["torch-matmul"]!)) throw new Error(`--torch-matmul: expected auto, onednn or blas\n\n${USAGE}`);
  const selected = parseRows(values.rows!);
  const smoke = values.smoke;
  const quick = values.quick || smoke;
  const rounds = Number(values.rounds);
  // odd, so that each side's median is one of its rounds
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds % 2 === 1)) throw new Error(`--rounds: expected an odd positive integer, got '${values.rounds}'\n\n${USAGE}`);
  const torchThreads = values["torch-threads"] === undefined ? null : Number(values["torch-threads"]);
  if (torchThreads !== null && !(Number.isInteger(torchThreads) && torchThreads >= 1)) {
    throw new Error(`--torch-threads: expected a positive integer, got '${values["torch-threads"]}'\n\n${USAGE}`);
  }
  const started = performance.now();
  const log = (s: string): void => void process.stderr.write(s + "\n");
  const noTorch = torchUnavailable();

  log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}, node ${process.version}`);
  if (noTorch) log(`PyTorch: skipped (${noTorch}); the PyTorch column is empty`);
  const blas = noTorch ? null : torchBlas(torchThreads);
  const referenceBlas = blas?.kind === "reference";
  const wantCore = openblasCoreType(cpuFlags());
  // OpenBLAS on other kernels than the ones torchChildEnv asked for (a name this OpenBLAS does not know)
  const weakCore = blas?.kind === "openblas" && wantCore !== null && (blas.core ?? "").toLowerCase() !== wantCore.toLowerCase();
  const blasNote = blas === null ? null : referenceBlas
    ? `PyTorch runs its matmuls on the reference BLAS, ${describeBlas(blas)}: ratios against it would flatter ours, so none are printed. Install OpenBLAS (Debian: apt-get install libopenblas0-pthread) and rerun.`
    : weakCore
      ? `PyTorch's OpenBLAS runs ${blas.core ?? "unknown"} kernels, not ${wantCore}'s (this CPU's), ${describeBlas(blas)}: ratios against it would flatter ours, so none are printed.`
      : `PyTorch's BLAS: ${describeBlas(blas)}`;
  if (blasNote) log(blasNote);

  // Step and sampling workloads, the same on both sides. Toy's context of 16 caps its new tokens at 12.
  const step = (preset: Workload["preset"], steps: number, warmup: number): Workload => ({ what: "step", preset, args: { batch: 16, seq: 16, steps, warmup } });
  const sample = (preset: Workload["preset"], prompt: number, newTokens: number, steps: number, warmup: number): Workload => ({
    what: "sample", preset, args: { batch: 16, prompt, "new-tokens": newTokens, steps, warmup },
  });
  const small = smoke ? "toy" : "gpt2-small";
  // The families (issue 8): 6 completions (a group) after 64-token prompts; one run each (minutes on CPU)
  const [qwen2, r1] = smoke ? ["qwen2-tiny", "qwen2-tiny"] : ["qwen2-0.5b", "r1-distill-1.5b"];
  const w = {
    "toy-step": step("toy", quick ? (smoke ? 1 : 5) : 20, quick ? 1 : 3),
    "small-step": step(small, quick ? 1 : 3, smoke ? 0 : 1),
    "toy-sample": sample("toy", 4, 12, quick ? (smoke ? 1 : 2) : 5, smoke ? 0 : 1),
    // one run, no warm-up: 64 tokens of gpt2-small take minutes on a loaded 2-core machine
    "small-sample": sample(small, 8, smoke ? 8 : quick ? 16 : 64, 1, 0),
    // profiled on both sides: how much of each step is matmuls, which both run at about the same rate
    "qwen2-step": {
      what: "step", preset: qwen2, args: { batch: smoke ? 2 : 4, seq: smoke ? 16 : 128, steps: quick ? 1 : 3, warmup: smoke ? 0 : 1 },
      oursSwitches: ["--profile"], torchArgs: ["--profile"],
    },
    "qwen2-sample": { what: "sample", preset: qwen2, args: { batch: 6, prompt: smoke ? 4 : 64, "new-tokens": smoke ? 8 : quick ? 64 : 512, steps: 1, warmup: 0 } },
    // the issue's 6 x 1024 tokens (--quick: 6 x 256). Both sides recompute each block in the backward and
    // compute the LM head in chunks recomputed in the backward (ours: LOGITS_BUDGET logits at a time, 220
    // rows of 151,936; PyTorch's: 1024 rows), so both do the same FLOPs.
    lora: {
      what: "step", preset: r1, args: { batch: smoke ? 2 : 6, seq: smoke ? 32 : quick ? 256 : 1024, lora: smoke ? 4 : 64, steps: 1, warmup: 0 },
      oursSwitches: ["--gradient-checkpointing"],
      torchArgs: ["--lora-alpha", smoke ? "8" : "128", "--lora-dropout", "0", "--head-chunk", smoke ? "16" : "1024", "--checkpoint-layers"],
    },
  } satisfies Record<Exclude<RowGroup, "gemm">, Workload>;

  // a side that fails (out of memory, say) leaves its cells empty and a note says why, rather than losing the table
  const unavailable: string[] = [];
  const attempt = (what: string, run: () => RunResult): RunResult | null => {
    try {
      return run();
    } catch (err) {
      unavailable.push(`${what}: ${(err as Error).message.split("\n").slice(0, 2).join(" ")}`);
      return null;
    }
  };
  const results: Partial<Record<RowGroup, { ours: RunResult | null; torch: RunResult | null }>> = {};
  const rows: Row[] = [];
  const noRatio = referenceBlas || weakCore;
  const add = (r: Row): void => {
    rows.push(r);
    const spread = r.spread ? `, rounds ${r.spread[0].toFixed(2)}-${r.spread[1].toFixed(2)}x` : "";
    log(`  ${r.figure} (${r.unit}): ours ${fmt(r.ours)}, PyTorch ${fmt(r.torch)}${r.ratio === null ? "" : `, ${r.ratio.toFixed(2)}x (target ${r.target}${spread})`}`);
  };
  const sampleLabel = (x: Workload): string => `${x.preset} sampling, B${x.args.batch}, ${x.args["new-tokens"]} new tokens`;
  // sp: with --rounds, the range of the rounds' ratios of the row's main figure (time or tokens/s)
  const figures: Record<Exclude<RowGroup, "gemm">, (o: RunResult | null, t: RunResult | null, sp?: [number, number]) => void> = {
    "toy-step": (o, t, sp) => add(row("toy step, B16 T16", "ms", o?.median_ms ?? null, t?.median_ms ?? null, 1 / 3, true, noRatio, sp)),
    "small-step": (o, t, sp) => {
      add(row(`${small} step, B16 T16`, "ms", o?.median_ms ?? null, t?.median_ms ?? null, 1 / 2, true, noRatio, sp));
      add(row(`${small} step peak RSS`, "MB", o?.peak_rss_mb ?? null, t?.peak_rss_mb ?? null, 1, true, noRatio));
    },
    "toy-sample": (o, t, sp) => add(row(sampleLabel(w["toy-sample"]), "tokens/s", o?.tokens_per_s ?? null, t?.tokens_per_s ?? null, 1.5, false, noRatio, sp)),
    "small-sample": (o, t, sp) => add(row(sampleLabel(w["small-sample"]), "tokens/s", o?.tokens_per_s ?? null, t?.tokens_per_s ?? null, 1.5, false, noRatio, sp)),
    "qwen2-step": (o, t, sp) => {
      const a = w["qwen2-step"].args;
      add(row(`${qwen2} step, B${a.batch} T${a.seq}`, "ms", o?.median_ms ?? null, t?.median_ms ?? null, 1 / 2, true, noRatio, sp));
      add(row(`${qwen2} step peak RSS`, "MB", o?.peak_rss_mb ?? null, t?.peak_rss_mb ?? null, 1, true, noRatio));
    },
    "qwen2-sample": (o, t, sp) => add(row(sampleLabel(w["qwen2-sample"]), "tokens/s", o?.tokens_per_s ?? null, t?.tokens_per_s ?? null, 2, false, noRatio, sp)),
    lora: (o, t) => {
      const a = w.lora.args;
      const label = `${r1} LoRA r${a.lora} step, ${a.batch}x${a.seq}`;
      add(absoluteRow(label, "ms", o?.median_ms ?? null, t?.median_ms ?? null, null, noRatio));
      // the issue's bound is for 6 x 1024 tokens: at --quick's 6 x 256 the figure is reported, not judged
      const bound = a.batch === 6 && a.seq === 1024 ? LORA_RSS_TARGET_MB : null;
      add(absoluteRow(`${label} peak RSS`, "MB", o?.peak_rss_mb ?? null, t?.peak_rss_mb ?? null, bound, noRatio));
    },
  };

  let gemm: Awaited<ReturnType<typeof benchGemm>> | null = null;
  if (selected.has("gemm")) {
    log("GEMM ...");
    // each round is benchGemm's ours, PyTorch, ours again
    const each: Awaited<ReturnType<typeof benchGemm>>[] = [];
    for (let r = 0; r < rounds; r++) each.push(await benchGemm({ reps: smoke ? 1 : quick ? 5 : 15, withTs: false, shapes: GEMM_SHAPES.slice(0, 2) }));
    gemm = each[0];
    const bestTorch = (g: GemmBenchRow): number | null => (g.torchMm === null && g.torchOnednn === null ? null : Math.max(g.torchMm ?? 0, g.torchOnednn ?? 0));
    each[0].rows.forEach((_, i) => {
      const c = combineRounds(each.map((e) => ({ ours: e.rows[i].native, torch: bestTorch(e.rows[i]) })), (x) => x);
      add(row(`GEMM ${["768x768x768", "64x768x3072"][i]}`, "GFLOP/s", c.ours, c.torch, 0.9, false, noRatio, c.spread));
    });
  }
  for (const [name, x] of Object.entries(w) as [Exclude<RowGroup, "gemm">, Workload][]) {
    if (!selected.has(name)) continue;
    log(`${name}: ${x.what} ${x.preset} ${flags(x.args).join(" ")} ${(x.oursSwitches ?? []).join(" ")}...`);
    const runOurs = (): RunResult | null => attempt(`ours, ${name}`, () => ours(x));
    const runTorch = (): RunResult | null => (noTorch ? null : attempt(`PyTorch, ${name}`, () => pytorch(x, torchThreads, values["torch-matmul"]!)));
    const each: { ours: RunResult | null; torch: RunResult | null }[] = [];
    for (let r = 0; r < rounds; r++) {
      // ours first in odd rounds (r = 0, 2, ...), PyTorch first in even ones
      const [first, second] = r % 2 === 0 ? [runOurs(), runTorch()] : [runTorch(), runOurs()];
      each.push(r % 2 === 0 ? { ours: first, torch: second } : { ours: second, torch: first });
    }
    const { ours: o, torch: t, spread } = combineRounds(each, (r) => (x.what === "step" ? r.median_ms : r.tokens_per_s));
    results[name] = { ours: o, torch: t };
    figures[name](o, t, spread);
  }

  const first = Object.values(results).find((r) => r?.ours || r?.torch);
  const o = first?.ours;
  const t = first?.torch;
  const seconds = (performance.now() - started) / 1000;
  const mem = results.lora?.ours?.memory;
  const notes = [
    o ? `ours: ${o.kernels} kernels (${o.isa}), ${o.threads} threads` : null,
    gemm ? `GEMM: ours ${gemm.isa ?? "native not loaded"}, ${gemm.threads ?? "-"} threads; PyTorch's column: the faster of torch.mm and oneDNN (${gemm.torchThreads} threads)` : null,
    t ? `PyTorch ${t.torch}: ${t.threads} threads (OMP_WAIT_POLICY=${torchEnv().OMP_WAIT_POLICY}), matmuls on ${t.matmul}` : noTorch ? `PyTorch: skipped (${noTorch})` : null,
    blasNote,
    selected.has("qwen2-step") || selected.has("qwen2-sample") || selected.has("lora") ? "families' PyTorch side: scripts/golden_families.py's model" : null,
    selected.has("lora")
      ? `LoRA step on both sides with gradient checkpointing and a chunked LM head recomputed in the backward (ours ${w.lora.oursSwitches.join(" ")}; PyTorch ${w.lora.torchArgs.join(" ")})` +
        (quick && !smoke ? `; --quick: ${w.lora.args.batch} x ${w.lora.args.seq} tokens, the issue's target is for 6 x 1024 (run without --quick)` : "")
      : null,
    mem ? `ours, LoRA step memory (MiB): ${Object.entries(mem).map(([k, v]) => `${k.replace(/_mb$/, "")} ${v}`).join(", ")}` : null,
    matmulNote(qwen2, results["qwen2-step"]),
    ...unavailable.map((u) => `not measured: ${u}`),
    `${smoke ? "--smoke: tiny sizes, figures meaningless; " : quick ? "--quick: fewer repetitions; " : ""}rows ${[...selected].join(", ")}; ${rounds > 1 ? `${rounds} rounds a row, the sides alternating (each side's median round; in brackets the range of the rounds' ratios); ` : ""}load average at the end ${loadavg().map((x) => x.toFixed(1)).join(" ")}; ${seconds.toFixed(0)} s in all`,
  ].filter((n): n is string => n !== null);
  if (values.json) {
    console.log(JSON.stringify({ rows, notes, gemm, results, blas }, null, 2));
    return;
  }
  console.log(formatTable(rows));
  console.log(notes.map((n) => `- ${n}`).join("\n"));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await main();
}
