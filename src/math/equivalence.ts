/**
 * Answer equivalence, after normalisation (src/math/normalize.ts), by the shape of the gold answer
 * (src/math/structure.ts):
 *  - multiple choice: a gold letter A-E is matched by the same letter only (`C`, `(C)`, `\text{(C)} 12`);
 *  - matrices elementwise (same shape); bracketed sequences (intervals, tuples) elementwise with the same
 *    brackets, so `(1, 2]` is not `[1, 2]`; sets, unions and bare lists as unordered multisets;
 *  - equations: the same sides, sides swapped, or lhs - rhs equal up to sign; `x = 3` answers a bare gold
 *    `3` and a bare `3` answers gold `x = 3`;
 *  - scalars: equal strings, then plain numbers compared numerically (relative 1e-6) without the CAS,
 *    then text (a word of three letters or more) compared as text, then the CAS (src/math/cas.ts):
 *    numeric, symbolic, probe points.
 * Every comparison of one pair shares one deadline (`timeLimitMs`); past it the answer is "not equivalent".
 */
import { casAdmissible, relClose } from "./cas.js";
import { normalize } from "./normalize.js";
import { startCas, symbolicEquivalent } from "./symbolic.js";
import { isNamingEquation, parseAnswer, type Answer } from "./structure.js";

export interface EquivalenceOptions {
  /** Wall-clock budget of one comparison, ms. Default DEFAULT_TIME_LIMIT_MS. */
  timeLimitMs?: number;
}

/**
 * 1 s per comparison: a few hundred times what a real answer needs (a CAS check of a MATH-500 answer takes
 * ~1-5 ms once the engine is loaded), small enough that a pathological string costs a step next to nothing.
 */
export const DEFAULT_TIME_LIMIT_MS = 1000;

const PLAIN_NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/i;
const PLAIN_FRACTION = /^(-?)(?:\\frac\{(-?\d+)\}\{(-?\d+)\}|(-?\d+)\/(-?\d+))$/;

/** The value of a plain number (`12`, `-0.5`, `3/4`, `\frac{3}{4}`, `-\frac{1}{2}`), or null. */
export function plainNumber(s: string): number | null {
  if (PLAIN_NUMBER.test(s)) return Number(s);
  const m = PLAIN_FRACTION.exec(s);
  if (!m) return null;
  const num = Number(m[2] ?? m[4]);
  const den = Number(m[3] ?? m[5]);
  if (den === 0) return null;
  return (m[1] === "-" ? -1 : 1) * (num / den);
}

/** A word of three letters or more that is not a command: text, which the CAS would read as a product. */
const TEXT = /(?<![\\a-zA-Z])[a-zA-Z]{3,}/;

class Deadline {
  private end: number;
  constructor(ms: number) {
    this.end = performance.now() + ms;
  }
  left(): number {
    return this.end - performance.now();
  }
  extend(ms: number): void {
    this.end += ms;
  }
}

function scalarEquivalent(a: string, b: string, deadline: Deadline): boolean {
  if (a === b) return true;
  if (a === "" || b === "") return false;
  const x = plainNumber(a);
  const y = plainNumber(b);
  if (x !== null && y !== null) return relClose(x, y);
  if (TEXT.test(a.replace(/\\[a-zA-Z]+/g, "")) || TEXT.test(b.replace(/\\[a-zA-Z]+/g, ""))) {
    return a.toLowerCase() === b.toLowerCase();
  }
  if (!casAdmissible(a) || !casAdmissible(b)) return false;
  const t0 = performance.now();
  startCas();
  deadline.extend(performance.now() - t0);
  const ms = deadline.left();
  return ms > 0 && symbolicEquivalent(a, b, ms);
}

/** Unordered: a perfect matching of equivalent items (greedy is exact when equivalence is transitive). */
function sameMultiset(xs: string[], ys: string[], deadline: Deadline): boolean {
  if (xs.length !== ys.length) return false;
  const used = new Uint8Array(ys.length);
  outer: for (const x of xs) {
    for (let j = 0; j < ys.length; j++) {
      if (!used[j] && answerEquivalent(x, ys[j], deadline)) {
        used[j] = 1;
        continue outer;
      }
    }
    return false;
  }
  return true;
}

function sameSequence(xs: string[], ys: string[], deadline: Deadline): boolean {
  return xs.length === ys.length && xs.every((x, i) => answerEquivalent(x, ys[i], deadline));
}

function itemsOf(a: Answer): string[] | null {
  if (a.kind === "set" || a.kind === "list") return a.items;
  if (a.kind === "union") return a.parts;
  return null;
}

/** Two normalised answers, compared by the gold answer's shape. */
function answerEquivalent(pred: string, gold: string, deadline: Deadline): boolean {
  pred = pred.trim();
  gold = gold.trim();
  if (pred === gold) return true;
  const p = parseAnswer(pred);
  const g = parseAnswer(gold);
  switch (g.kind) {
    case "letter": {
      const m = /^\(([A-E])\)/.exec(pred) ?? /^([A-E])(?:$|[:.)])/.exec(pred);
      return m !== null && m[1] === g.letter;
    }
    case "matrix":
      return p.kind === "matrix" && p.rows.length === g.rows.length && p.rows.every((r, i) => sameSequence(r, g.rows[i], deadline));
    case "sequence":
      return p.kind === "sequence" && p.open === g.open && p.close === g.close && sameSequence(p.items, g.items, deadline);
    case "set":
    case "list":
    case "union": {
      const items = itemsOf(p);
      // a set and a bare list of solutions are the same answer; a union only matches a union
      return items !== null && (p.kind === "union") === (g.kind === "union") && sameMultiset(items, itemsOf(g)!, deadline);
    }
    case "equation": {
      if (p.kind !== "equation") return isNamingEquation(g) && answerEquivalent(pred, g.rhs, deadline);
      if (scalarEquivalent(p.lhs, g.lhs, deadline) && scalarEquivalent(p.rhs, g.rhs, deadline)) return true;
      if (scalarEquivalent(p.lhs, g.rhs, deadline) && scalarEquivalent(p.rhs, g.lhs, deadline)) return true;
      const dp = `${p.lhs}-(${p.rhs})`;
      const dg = `${g.lhs}-(${g.rhs})`;
      return scalarEquivalent(dp, dg, deadline) || scalarEquivalent(dp, `-(${dg})`, deadline);
    }
    case "scalar":
      if (isNamingEquation(p)) return answerEquivalent(p.rhs, gold, deadline);
      if (p.kind !== "scalar") return false;
      return scalarEquivalent(pred, gold, deadline);
  }
}

/** Whether a predicted answer is equivalent to the gold answer (both raw LaTeX; normalised here). */
export function isEquivalent(pred: string, gold: string, opts: EquivalenceOptions = {}): boolean {
  const deadline = new Deadline(opts.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS);
  return answerEquivalent(normalize(pred), normalize(gold), deadline);
}
