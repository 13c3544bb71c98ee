/**
 * The symbolic check, through @cortex-js/compute-engine (LaTeX -> MathJSON, simplify, numeric evaluation).
 * This file runs inside the CAS worker (src/math/cas-worker.ts); the grader reaches it through
 * src/math/symbolic.ts, which cuts a check off at its deadline by terminating the worker.
 *
 * Inside the worker two cheaper bounds keep a check short before that cut is needed:
 *  1. before the engine sees an expression, its size and its dangerous parts are bounded (MAX_CAS_CHARS,
 *     integers of at most 30 digits, exponents and factorials of small literal integers, bracket depth):
 *     what does not pass is "not equivalent";
 *  2. the engine's work runs inside `ce.withTimeLimit(ms)`, its own cooperative deadline. It is checked
 *     only at some points: `9^{9^{9}}` or an expanded product of powers ran for 10-90 s past it when
 *     measured, which is why the worker exists.
 */
import { createRequire } from "node:module";
import type { BoxedExpression, ComputeEngine as ComputeEngineType } from "@cortex-js/compute-engine";

/** Longest expression handed to the engine; real answers are far shorter (a MATH-500 answer is < 100). */
export const MAX_CAS_CHARS = 300;
/** An integer literal of more than 30 digits (10^30 covers every competition answer) is not handed on. */
const LONG_INTEGER = new RegExp(`\\d{${30 + 1},}`);
/** Largest literal exponent, and largest n in n!, whose expansion stays cheap. */
const MAX_POWER = 40;
const MAX_FACTORIAL = 100;
const MAX_DEPTH = 12;
/** Relative tolerance of the numeric comparison (the 1e-6). */
export const REL_TOL = 1e-6;
/** Points at which two expressions with free variables are compared after simplify gave no verdict. */
const PROBES = [0.5772156649, 1.3247179572, 2.7182818285, -0.6180339887];

let engine: ComputeEngineType | null = null;

/**
 * Loads the engine and runs one small check through it (its first parse and simplify set up tables, a few
 * hundred ms once per process); returns the ms this took, 0 when it was loaded already.
 */
export function loadCas(): number {
  if (engine !== null) return 0;
  const t0 = performance.now();
  const require = createRequire(import.meta.url);
  const { ComputeEngine } = require("@cortex-js/compute-engine") as typeof import("@cortex-js/compute-engine");
  const e = new ComputeEngine();
  e.box(["Subtract", e.parse("(x+1)^2"), e.parse("\\frac{x^2}{2}")]).simplify().N();
  e.parse("\\sqrt{2}+\\pi").N();
  engine = e;
  return performance.now() - t0;
}

function ce(): ComputeEngineType {
  loadCas();
  return engine!;
}

/** True when `latex` is small and tame enough to hand to the engine (rule 1 above). */
export function casAdmissible(latex: string): boolean {
  if (latex.length > MAX_CAS_CHARS) return false;
  if (LONG_INTEGER.test(latex)) return false;
  // \sum, \prod, \int, \lim run loops or searches; answers do not need them evaluated
  if (/\\(?:sum|prod|int|iint|oint|lim)(?![a-zA-Z])/.test(latex)) return false;
  for (const m of latex.matchAll(/\^\s*\{?\s*(-?\d+)/g)) if (Math.abs(Number(m[1])) > MAX_POWER) return false;
  // a tower x^{y^{z}} or an exponent that is itself an expression: only tiny ones
  if ((latex.match(/\^/g)?.length ?? 0) > 6) return false;
  for (const m of latex.matchAll(/(\d+)\s*!/g)) if (Number(m[1]) > MAX_FACTORIAL) return false;
  if (/[)}]\s*!/.test(latex)) return false;
  let depth = 0;
  for (const c of latex) {
    if (c === "{" || c === "(" || c === "[") depth++;
    else if (c === "}" || c === ")" || c === "]") depth--;
    if (depth > MAX_DEPTH) return false;
  }
  return true;
}

export function relClose(a: number, b: number, tol = REL_TOL): boolean {
  if (a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));
}

/** A real value of an expression without free variables, or null (complex, undefined, not a number). */
function realValue(e: BoxedExpression): number | null {
  const n = e.N();
  const re = n.re;
  const im = n.im;
  if (typeof re !== "number" || Number.isNaN(re)) return null;
  if (typeof im === "number" && im !== 0 && !Number.isNaN(im)) return null;
  return re;
}

function complexClose(a: BoxedExpression, b: BoxedExpression): boolean | null {
  const x = a.N();
  const y = b.N();
  const [ar, ai, br, bi] = [x.re, x.im, y.re, y.im];
  if ([ar, ai, br, bi].some((v) => typeof v !== "number" || Number.isNaN(v))) return null;
  return relClose(ar, br) && relClose(ai, bi);
}

/**
 * Whether two LaTeX expressions are the same value or the same function: equal structure, or numerically
 * equal (rel 1e-6) without free variables, or a difference that simplifies to 0, or (free variables) equal
 * at every probe point. Within `ms` milliseconds, else false.
 */
export function casCheck(a: string, b: string, ms: number): boolean {
  if (!casAdmissible(a) || !casAdmissible(b)) return false;
  const engine = ce();
  try {
    return engine.withTimeLimit(ms, () => {
      const x = engine.parse(a);
      const y = engine.parse(b);
      if (!x.isValid || !y.isValid) return false;
      if (x.isSame(y)) return true;
      const vars = [...new Set([...x.unknowns, ...y.unknowns])];
      if (vars.length === 0) {
        const u = realValue(x);
        const v = realValue(y);
        if (u !== null && v !== null) return relClose(u, v);
        return complexClose(x, y) ?? false;
      }
      const diff = engine.box(["Subtract", x, y]).simplify();
      if (diff.is(0)) return true;
      // identity testing: two different functions agree at all of a few generic points with probability 0
      let compared = 0;
      for (let p = 0; p < PROBES.length; p++) {
        const at: Record<string, number> = {};
        vars.forEach((name, i) => (at[name] = PROBES[(p + i) % PROBES.length]));
        const u = realValue(x.subs(at));
        const v = realValue(y.subs(at));
        if (u === null && v === null) continue; // outside both domains
        if (u === null || v === null || !relClose(u, v)) return false;
        compared++;
      }
      return compared >= 2;
    });
  } catch {
    // CancellationError (the deadline), or an engine failure on a strange input: not shown equivalent
    return false;
  }
}
