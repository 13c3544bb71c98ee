/**
 * Benchmark evaluation of a policy on math datasets (PAPER.md section 5's table): for each benchmark file,
 * K completions per problem (K = 1: greedy pass@1; K > 1: sampled, avg@K and unbiased pass@k), graded by the
 * math grader. Output directory:
 *   eval.json      the settings (a resume must use the same ones)
 *   <name>.jsonl   one line per completion: {"id", "sample", "completion", "extracted", "correct"}
 *   results.json   per benchmark: n, samples, accuracy (the mean of all its completions' correctness:
 *                  pass@1 greedy, or avg@K), and for K > 1 "pass@k" for k = 1, 2, 4, ..., K
 *
 * Resume: problems are decoded in fixed batches (`batch_size` problems x K samples), each batch's lines
 * appended at once, and each batch's sampler seeded from (seed, benchmark, batch index) alone. A killed eval
 * is continued from its last whole batch, and every batch decodes exactly as it would have, so the results
 * are those of an eval never stopped.
 */
import { appendFile, mkdir, readFile, truncate } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { loadTokenizer, type HFTokenizer } from "../io/tokenizer.js";
import { stopTokenIds } from "../io/chat.js";
import type { Progress } from "../io/progress.js";
import { DEFAULT_TIME_LIMIT_MS, grade, type GradeOptions } from "../math/index.js";
import { readDataset, type MathRow } from "../data/index.js";
import { UserError } from "../util/errors.js";
import { Rng } from "../util/rng.js";
import { boxClosed, mathPrompter, type PromptStyle } from "./env/math.js";
import type { Policy } from "./policy.js";

export interface EvalSettings {
  model: string;
  /** a PEFT adapter directory on the model, or null */
  lora: string | null;
  /** benchmark name -> dataset file */
  data: Record<string, string>;
  samples: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  batchSize: number;
  seed: number;
  /** `chat` (the model's chat template) or `plain` (plainTemplate) */
  prompt: PromptStyle;
  plainTemplate: string;
  systemPrompt: string;
  stopAtBoxed: boolean;
}

export interface Benchmark {
  name: string;
  rows: MathRow[];
}

export interface BenchmarkResult {
  n: number;
  samples: number;
  /** mean correctness over all completions: pass@1 (greedy) or avg@K */
  accuracy: number;
  /** unbiased pass@k (Chen et al. 2021), k = 1, 2, 4, ..., K; only for K > 1 */
  "pass@k"?: Record<string, number>;
}

/**
 * Unbiased pass@k of one problem with c correct among n samples: 1 - C(n-c, k) / C(n, k), as the product
 * prod_{i=n-c+1}^{n} (1 - k / i), which never forms the large binomials.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (k > n) throw new Error(`pass@k: k = ${k} > n = ${n}`);
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

/** k = 1, 2, 4, ... up to K, and K itself. */
export function passKs(K: number): number[] {
  const ks: number[] = [];
  for (let k = 1; k < K; k *= 2) ks.push(k);
  ks.push(K);
  return ks;
}

interface Line {
  id: string;
  sample: number;
  completion: string;
  extracted: string | null;
  correct: boolean;
}

function batchSeed(seed: number, name: string, batch: number): number {
  // FNV-1a over the benchmark's name, mixed with the seed and the batch index
  let h = 0x811c9dc5 ^ seed;
  for (const c of `${name}\u0000${batch}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return h >>> 0;
}

/** The whole batches already in `path` (of `batches`; a torn or partial last batch is cut off): their lines. */
async function resumeFile(path: string, perBatch: (b: number) => number, batches: number): Promise<Line[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return [];
  }
  const lines: Line[] = [];
  let kept = 0;
  let keptBytes = 0;
  let batch = 0;
  let inBatch = 0;
  let start = 0;
  // only "\n"-terminated lines count: a line without its "\n" was torn by the kill
  for (let nl = text.indexOf("\n"); nl !== -1 && batch < batches; nl = text.indexOf("\n", start)) {
    const raw = text.slice(start, nl);
    start = nl + 1;
    try {
      lines.push(JSON.parse(raw) as Line);
    } catch {
      break;
    }
    if (++inBatch === perBatch(batch)) {
      batch++;
      inBatch = 0;
      kept = lines.length;
      keptBytes = Buffer.byteLength(text.slice(0, start));
    }
  }
  if (keptBytes < Buffer.byteLength(text)) await truncate(path, keptBytes);
  return lines.slice(0, kept);
}

/** Lines are K per problem, in problem order: accuracy over all of them, pass@k per problem. */
function summarize(lines: Line[], n: number, K: number): BenchmarkResult {
  const result: BenchmarkResult = { n, samples: K, accuracy: lines.filter((l) => l.correct).length / lines.length };
  if (K > 1) {
    const correct: number[] = [];
    for (let p = 0; p < n; p++) correct.push(lines.slice(p * K, (p + 1) * K).filter((l) => l.correct).length);
    result["pass@k"] = Object.fromEntries(passKs(K).map((k) => [String(k), correct.reduce((a, c) => a + passAtK(K, c, k), 0) / n]));
  }
  return result;
}

export interface EvalContext {
  policy: Policy;
  tokenizer: HFTokenizer;
  /** problem -> prompt text (src/rl/env/math.ts mathPrompter, from the settings) */
  prompter: (problem: string) => string;
  stopTokens: number[];
  grading: GradeOptions;
  progress: Progress;
}

/** The benchmarks of `settings.data` (name -> file), read in order. */
export async function readBenchmarks(data: Record<string, string>): Promise<Benchmark[]> {
  const benchmarks: Benchmark[] = [];
  for (const [name, file] of Object.entries(data)) benchmarks.push({ name, rows: (await readDataset(file)).rows });
  return benchmarks;
}

/**
 * The context of an evaluation of `policy` by `settings`: the tokenizer, chat template and stop tokens of the
 * model directory `settings.model`; `option` names the prompt setting in errors.
 */
export async function evalContext(settings: EvalSettings, policy: Policy, progress: Progress, option: string): Promise<EvalContext> {
  const tokenizer = await loadTokenizer(join(settings.model, "tokenizer.json"));
  return {
    policy,
    tokenizer,
    prompter: await mathPrompter({ style: settings.prompt, systemPrompt: settings.systemPrompt, plainTemplate: settings.plainTemplate }, settings.model, option),
    stopTokens: await stopTokenIds(settings.model, tokenizer),
    grading: { timeLimitMs: DEFAULT_TIME_LIMIT_MS },
    progress,
  };
}

/** Runs (or continues) an evaluation into `out`; returns the results by benchmark name. */
export async function evaluate(settings: EvalSettings, benchmarks: Benchmark[], out: string, ctx: EvalContext): Promise<Record<string, BenchmarkResult>> {
  await mkdir(out, { recursive: true });
  const settingsPath = join(out, "eval.json");
  const settingsText = JSON.stringify(settings, null, 2) + "\n";
  let previous: string | null = null;
  try {
    previous = await readFile(settingsPath, "utf8");
  } catch {
    previous = null;
  }
  if (previous !== null && previous !== settingsText) {
    throw new UserError(`${settingsPath}: this directory holds an eval with other settings; use another --out or pass --overwrite`);
  }
  if (previous === null) for (const b of benchmarks) await writeFileAtomic(join(out, `${b.name}.jsonl`), "");
  await writeFileAtomic(settingsPath, settingsText);

  const K = settings.samples;
  const stopWhen = settings.stopAtBoxed ? boxClosed(ctx.tokenizer) : null;
  let doneRows = 0;
  const results: Record<string, BenchmarkResult> = {};
  for (const bench of benchmarks) {
    const path = join(out, `${bench.name}.jsonl`);
    const B = settings.batchSize;
    const perBatch = (b: number): number => Math.min(B, bench.rows.length - b * B) * K;
    const lines = await resumeFile(path, perBatch, Math.ceil(bench.rows.length / B));
    doneRows += lines.length;
    ctx.progress.update(doneRows);
    const prompts = bench.rows.map((r) => Int32Array.from(ctx.tokenizer.encode(ctx.prompter(r.problem))));
    for (let s = lines.length / K; s < bench.rows.length; s += B) {
      const rows = bench.rows.slice(s, s + B);
      const batchPrompts = prompts.slice(s, s + B).flatMap((p) => Array.from({ length: K }, () => p));
      const longest = Math.max(...batchPrompts.map((p) => p.length));
      const maxNew = Math.min(settings.maxNewTokens, ctx.policy.contextLength - longest);
      if (maxNew < 1) throw new UserError(`${bench.name}: a problem's prompt of ${longest} tokens leaves no room in the model's context (${ctx.policy.contextLength})`);
      const completions = ctx.policy.sample(batchPrompts, {
        maxNewTokens: maxNew,
        temperature: settings.temperature,
        topK: 0,
        topP: settings.topP,
        stopTokens: ctx.stopTokens,
        stopWhen: stopWhen ? (_row, tokens) => stopWhen(tokens) : undefined,
        rng: new Rng(batchSeed(settings.seed, bench.name, s / B)),
      });
      let text = "";
      completions.forEach((c, i) => {
        const row = rows[Math.floor(i / K)];
        const completion = ctx.tokenizer.decode(Array.from(c));
        const g = grade(completion, row.answer, ctx.grading);
        const line: Line = { id: row.id, sample: i % K, completion, extracted: g.extracted, correct: g.correct };
        lines.push(line);
        text += JSON.stringify(line) + "\n";
      });
      // one append per batch: a kill leaves whole batches and at most one torn one, which resume cuts off
      await appendFile(path, text);
      doneRows += completions.length;
      ctx.progress.update(doneRows);
    }
    results[bench.name] = summarize(lines, bench.rows.length, K);
  }
  ctx.progress.stop();
  await writeFileAtomic(join(out, "results.json"), JSON.stringify(results, null, 2) + "\n");
  return results;
}

/** The paper's layout: one column per benchmark, one row per figure. */
export function resultsTable(results: Record<string, BenchmarkResult>): string {
  const names = Object.keys(results);
  const K = names.length ? results[names[0]].samples : 1;
  const rows: [string, (r: BenchmarkResult) => number][] = [[K === 1 ? "pass@1 (greedy)" : `avg@${K}`, (r) => r.accuracy]];
  if (K > 1) for (const k of passKs(K)) rows.push([`pass@${k}`, (r) => r["pass@k"]![String(k)]]);
  const header = ["", ...names];
  const body = rows.map(([label, f]) => [label, ...names.map((n) => (100 * f(results[n])).toFixed(1))]);
  const widths = header.map((_, j) => Math.max(...[header, ...body].map((r) => r[j].length)));
  const fmt = (r: string[]): string => `| ${r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join(" | ")} |`;
  return [fmt(header), `|${widths.map((w, j) => (j === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...body.map(fmt)].join("\n");
}
