/**
 * `lambda-grpo prm` end to end (read JSONL, build the trees, compute the PRM, write JSONL) against a
 * straightforward Python implementation with its C `json` module (bench/prm_baseline.py), side by side on
 * one rollouts file, each as its own process writing its output file.
 *
 * Run: npm run bench:prm   (this part alone: node dist/bench/prm-e2e.js [--tokens N] [--reps R] [--quick])
 *
 * Default 10M tokens (groups of 16 completions of 768-1024 tokens, 4 groups a step, long shared openings).
 * The two outputs are checked to hold the same values before anything is timed. Best of R runs each,
 * alternated so both see the same moments of the machine; the ratio needs a quiet machine to mean much.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Rng } from "../src/util/rng.js";
import { makeGroup } from "./workload.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const quick = process.argv.includes("--quick");
const TOKENS = arg("tokens", quick ? 200_000 : 10_000_000);
const REPS = arg("reps", quick ? 1 : 3);
const GROUP = 16;
const LENGTH = 1024;
const GROUPS_PER_STEP = 4;

const here = fileURLToPath(new URL(".", import.meta.url));
/** dist/bench/ -> the package root. */
const root = join(here, "..", "..");
const CLI = join(root, "dist", "src", "cli", "main.js");
const BASELINE = join(root, "bench", "prm_baseline.py");

function writeRollouts(path: string): number {
  const rng = new Rng(7);
  const lines: string[] = [];
  let tokens = 0;
  for (let g = 0; tokens < TOKENS; g++) {
    const group = makeGroup(rng, GROUP, LENGTH);
    const step = Math.floor(g / GROUPS_PER_STEP);
    const completions = group.map((y) => ({ tokens: Array.from(y), reward: rng.next() < 0.4 ? 1 : 0 }));
    lines.push(JSON.stringify({ id: `s${step}-g${g % GROUPS_PER_STEP}`, step, completions }));
    for (const y of group) tokens += y.length;
  }
  writeFileSync(path, lines.join("\n") + "\n");
  return tokens;
}

/** GNU time gives each child's CPU seconds; on a busy machine they mean more than the wall clock. */
const TIME = "/usr/bin/time";
const haveTime = existsSync(TIME);

interface Timing {
  wall: number;
  /** user + system seconds of the child, NaN without GNU time. */
  cpu: number;
}

function run(cmd: string, args: string[]): Timing {
  const t0 = performance.now();
  const r = haveTime
    ? spawnSync(TIME, ["-f", "cpu %U %S", cmd, ...args], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" })
    : spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  return { wall, cpu: m ? Number(m[1]) + Number(m[2]) : NaN };
}

function best(a: Timing, b: Timing): Timing {
  return { wall: Math.min(a.wall, b.wall), cpu: Math.min(a.cpu, b.cpu) };
}

/** Both outputs hold the same lines with the same values (Python writes 1.0 where JavaScript writes 1). */
function sameValues(a: string, b: string): void {
  const la = readFileSync(a, "utf8").trimEnd().split("\n");
  const lb = readFileSync(b, "utf8").trimEnd().split("\n");
  if (la.length !== lb.length) throw new Error(`outputs differ: ${la.length} lines against ${lb.length}`);
  for (let i = 0; i < la.length; i++) {
    const x = JSON.stringify(JSON.parse(la[i]));
    const y = JSON.stringify(JSON.parse(lb[i]));
    if (x !== y) throw new Error(`outputs differ on line ${i + 1}`);
  }
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), "lgrpo-bench-"));
  try {
    const input = join(dir, "rollouts.jsonl");
    const tokens = writeRollouts(input);
    const mb = (p: string) => (statSync(p).size / 2 ** 20).toFixed(0);
    const outTs = join(dir, "ts.jsonl");
    const outPy = join(dir, "py.jsonl");
    console.log(`prm end to end: ${(tokens / 1e6).toFixed(1)}M tokens, groups of ${GROUP} x <= ${LENGTH} tokens, input ${mb(input)} MB`);
    const ts = () => run(process.execPath, [CLI, "prm", input, "--out", outTs, "--quiet"]);
    const py = () => run("python3", [BASELINE, input, outPy]);
    let bestTs = ts();
    let bestPy = py();
    sameValues(outTs, outPy);
    console.log(`outputs: ${mb(outTs)} MB each, same values line by line`);
    for (let r = 1; r < REPS; r++) {
      bestTs = best(bestTs, ts());
      bestPy = best(bestPy, py());
    }
    const row = (label: string, t: Timing) =>
      `${label.padEnd(20)} wall ${t.wall.toFixed(2).padStart(7)} s  ${(tokens / t.wall / 1e6).toFixed(2).padStart(6)}M tokens/s` +
      (Number.isNaN(t.cpu) ? "" : `   cpu ${t.cpu.toFixed(2).padStart(7)} s`);
    console.log(row("lambda-grpo prm", bestTs));
    console.log(row("python3 (C json)", bestPy));
    const cpu = Number.isNaN(bestTs.cpu) ? "" : `, cpu ${(bestPy.cpu / bestTs.cpu).toFixed(2)}x`;
    console.log(`ratio: wall ${(bestPy.wall / bestTs.wall).toFixed(2)}x${cpu} (target >= 4x; best of ${REPS} each, process start included)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
