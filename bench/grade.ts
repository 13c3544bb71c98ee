/**
 * `npm run bench:grade`: grading throughput (cases/s) on three kinds of case: plain numbers (the path
 * without the CAS), LaTeX that normalises to equal strings, and pairs that need the CAS. Sizes are small so
 * the run takes seconds; pass a number to scale them (`node dist/bench/grade.js 10`).
 */
import { grade } from "../src/math/index.js";
import { startCas } from "../src/math/symbolic.js";

const scale = Number(process.argv[2] ?? 1);

function time(label: string, cases: [string, string][]): void {
  const t0 = performance.now();
  let correct = 0;
  for (const [completion, gold] of cases) if (grade(completion, gold).correct) correct++;
  const s = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(28)} ${String(cases.length).padStart(7)} cases  ${(cases.length / s).toFixed(0).padStart(8)} cases/s  (${correct} correct)`);
}

const n = Math.round(20000 * scale);
const plain: [string, string][] = Array.from({ length: n }, (_, i) => [`... so the answer is $\\boxed{${i % 7 === 0 ? i + 1 : i}}$.`, String(i)]);
const latex: [string, string][] = Array.from({ length: n }, (_, i) => [`\\boxed{\\dfrac{${i}}{${i + 1}}}`, `\\frac{${i}}{${i + 1}}`]);
const m = Math.round(200 * scale);
const symbolic: [string, string][] = Array.from({ length: m }, (_, i) => [`\\boxed{\\frac{\\sqrt{${i + 2}}}{${i + 2}}}`, `\\frac{1}{\\sqrt{${i + 2}}}`]);

time("plain numbers", plain);
time("LaTeX, equal once normalised", latex);
startCas();
time("CAS (radicals)", symbolic);
