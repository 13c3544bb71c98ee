/**
 * The reasoning task family: small straight-line programs. A problem binds a few letters to numbers and
 * defines others from them, in shuffled order, with statements the answer does not need mixed in; the
 * question asks for one letter. A solution evaluates the letters the answer needs, one statement a step,
 * in any order the dependencies allow, and ends with the value in `\boxed{}`:
 *
 *   problem:  Given w = 6 , k = q * 4 , q = w + 3 , u = 8 - w , p = 5 + 2 . Find k .
 *   solution: q = w + 3 = 6 + 3 = 9 . k = q * 4 = 9 * 4 = 36 . \boxed{36}
 *   answer:   36
 *
 * Why this family (docs/reasoning.md has the measurements): a step is three lookups (the statement, then each
 * operand's value) and one small sum or product, which a model of a few million parameters learns from
 * scratch; its accuracy falls with the number of steps (an error anywhere is final), which leaves RL
 * headroom; and independent sub-results may be computed in any order, so sampled solutions branch where the
 * policy chooses which step to take next, share the steps before, and can go wrong mid-way (a wrong lookup,
 * a wrong sum, a detour through a statement the answer does not need).
 *
 * Everything here is pure and seeded: the same seed gives the same rows.
 */
import { Rng } from "../util/rng.js";

/** One row, as OpenRS (and MATH-style datasets) write it. */
export interface TaskRow {
  problem: string;
  solution: string;
  answer: string;
}

/** The shape of a split's problems. Ranges are inclusive. */
export interface TaskSpec {
  /** statements the answer needs (the solution's steps) */
  steps: [number, number];
  /** statements the answer does not need */
  distractors: [number, number];
  /** bound values and literal operands */
  constants: [number, number];
  /**
   * false: every letter feeds at most one statement the answer needs (the dependencies form a tree); true:
   * at least one sub-result feeds two (a DAG), a shape the training split never has.
   */
  shared: boolean;
}

/** Every value, intermediate ones included, lies in 0..MAX_VALUE: two digits, so sums stay short. */
export const MAX_VALUE = 99;
/** A product needs a factor of at most this: one-digit times two-digit multiplication, nothing harder. */
export const MAX_FACTOR = 9;

/**
 * How often a statement with three or more steps below it reads two sub-results rather than one: the source
 * of independent steps, hence of valid orders. At 0.6, 57% of training solutions have more than one valid
 * order (bench/reasoning-tasks.ts); uniform splits gave 34%.
 */
const BRANCHING = 0.6;

const TRAIN: TaskSpec = { steps: [2, 5], distractors: [0, 2], constants: [1, 9], shared: false };

/**
 * The splits. `train` for SFT and RL prompts, `validation` (same distribution) for choosing settings once,
 * and five held-out benchmarks that each move one thing away from training: more steps, larger numbers,
 * more distractors, a shared sub-result, and `iid` (none: the train distribution, unseen problems).
 */
export const SPLITS = {
  train: TRAIN,
  validation: TRAIN,
  iid: TRAIN,
  long: { ...TRAIN, steps: [6, 7] },
  large: { ...TRAIN, constants: [10, 40] },
  distract: { ...TRAIN, distractors: [4, 6] },
  // a sub-result read twice takes three steps at least: itself and its two readers
  shared: { ...TRAIN, steps: [3, 5], shared: true },
} satisfies Record<string, TaskSpec>;

export type SplitName = keyof typeof SPLITS;
/** The five benchmarks, in the order tables show them. */
export const BENCHMARKS = ["iid", "long", "large", "distract", "shared"] as const satisfies readonly SplitName[];

export type Op = "+" | "-" | "*";

/** An operand: a letter (bound or defined) or a literal number. */
export type Operand = { letter: string } | { literal: number };

export interface Statement {
  letter: string;
  /** a binding `w = 6` has a value and no op */
  op: Op | null;
  left: Operand | null;
  right: Operand | null;
  value: number;
}

/** A generated problem before it is written out: its statements and the letter asked for. */
export interface Program {
  statements: Statement[];
  target: string;
  /** the defined (non-binding) letters the answer needs */
  needed: string[];
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

/** A problem for `spec`, drawn from `rng` (retries internally until every value lies in 0..MAX_VALUE). */
export function generateProgram(spec: TaskSpec, rng: Rng): Program {
  for (;;) {
    const p = tryProgram(spec, rng);
    if (p) return p;
  }
}

interface Node {
  letter: string;
  kind: "bound" | "defined";
  children: Operand[];
  op: Op | null;
  value: number;
}

function between(rng: Rng, [lo, hi]: [number, number]): number {
  return lo + rng.int(hi - lo + 1);
}

function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** The ops that keep the result in 0..MAX_VALUE for operand values a, b (subtraction only when a > b). */
function feasibleOps(a: number, b: number): Op[] {
  const ops: Op[] = [];
  if (a + b <= MAX_VALUE) ops.push("+");
  if (a > b) ops.push("-");
  if (a * b <= MAX_VALUE && Math.min(a, b) <= MAX_FACTOR && Math.min(a, b) >= 2) ops.push("*");
  return ops;
}

function apply(op: Op, a: number, b: number): number {
  return op === "+" ? a + b : op === "-" ? a - b : a * b;
}

function tryProgram(spec: TaskSpec, rng: Rng): Program | null {
  const steps = between(rng, spec.steps);
  const distractors = between(rng, spec.distractors);
  const names = shuffle(LETTERS.split(""), rng);
  let next = 0;
  const fresh = (): string => names[next++];
  const nodes = new Map<string, Node>();
  const constant = (): number => between(rng, spec.constants);

  // The needed statements, top-down: a defined letter with k defined letters below it splits k - 1 between
  // its two operands (both get some with probability BRANCHING, when k >= 3); an operand with none below is
  // a bound letter or a literal (at least one letter each).
  const build = (k: number): Node => {
    const j = k >= 3 && rng.next() < BRANCHING ? 1 + rng.int(k - 2) : rng.next() < 0.5 ? 0 : k - 1;
    const sides = [j, k - 1 - j];
    const children: (Node | number)[] = sides.map((s) => (s > 0 ? build(s) : rng.next() < 0.5 ? -1 : constant()));
    if (children.every((c) => typeof c === "number")) children[rng.int(2)] = -1;
    const operands: Operand[] = children.map((c) => {
      if (typeof c !== "number") return { letter: c.letter };
      if (c >= 0) return { literal: c };
      const b: Node = { letter: fresh(), kind: "bound", children: [], op: null, value: constant() };
      nodes.set(b.letter, b);
      return { letter: b.letter };
    });
    const node: Node = { letter: fresh(), kind: "defined", children: operands, op: null, value: 0 };
    nodes.set(node.letter, node);
    return node;
  };
  const root = build(steps);
  if (spec.shared && !shareSubresult(root, nodes, rng)) return null;
  if (!evaluate(nodes, rng)) return null;

  const needed = [...nodes.values()].filter((n) => n.kind === "defined").map((n) => n.letter);
  // Distractors: defined from any letter so far (needed ones included) and a literal or a second letter;
  // nothing needed reads them, and a bound distractor now and then so bindings are not all needed either.
  for (let d = 0; d < distractors; d++) {
    const pool = [...nodes.keys()].filter((l) => l !== root.letter);
    if (rng.next() < 0.25) {
      const b: Node = { letter: fresh(), kind: "bound", children: [], op: null, value: constant() };
      nodes.set(b.letter, b);
      continue;
    }
    for (let attempt = 0; attempt < 20; attempt++) {
      const a: Operand = { letter: pool[rng.int(pool.length)] };
      const b: Operand = rng.next() < 0.5 ? { literal: constant() } : { letter: pool[rng.int(pool.length)] };
      const [va, vb] = [valueOf(a, nodes), valueOf(b, nodes)];
      const ops = feasibleOps(va, vb);
      if (ops.length === 0) continue;
      const op = ops[rng.int(ops.length)];
      const n: Node = { letter: fresh(), kind: "defined", children: [a, b], op, value: apply(op, va, vb) };
      nodes.set(n.letter, n);
      break;
    }
  }

  const statements: Statement[] = shuffle([...nodes.values()], rng).map((n) => ({
    letter: n.letter,
    op: n.op,
    left: n.children[0] ?? null,
    right: n.children[1] ?? null,
    value: n.value,
  }));
  return { statements, target: root.letter, needed };
}

function valueOf(o: Operand, nodes: Map<string, Node>): number {
  return "literal" in o ? o.literal : nodes.get(o.letter)!.value;
}

/**
 * Makes one sub-result feed a second needed statement: a defined letter x replaces a leaf operand of a
 * defined letter y that does not depend on x already and that x does not depend on (no cycle).
 */
function shareSubresult(root: Node, nodes: Map<string, Node>, rng: Rng): boolean {
  const defined = [...nodes.values()].filter((n) => n.kind === "defined" && n !== root);
  const below = (n: Node, acc = new Set<string>()): Set<string> => {
    for (const c of n.children) {
      if ("letter" in c && !acc.has(c.letter)) {
        acc.add(c.letter);
        below(nodes.get(c.letter)!, acc);
      }
    }
    return acc;
  };
  const choices: [Node, Node, number][] = [];
  for (const x of defined) {
    const xBelow = below(x);
    for (const y of nodes.values()) {
      if (y.kind !== "defined" || y === x || xBelow.has(y.letter) || below(y).has(x.letter)) continue;
      y.children.forEach((c, i) => {
        if ("literal" in c || nodes.get(c.letter)!.kind === "bound") choices.push([x, y, i]);
      });
    }
  }
  if (choices.length === 0) return false;
  const [x, y, i] = choices[rng.int(choices.length)];
  const dropped = y.children[i];
  y.children[i] = { letter: x.letter };
  if ("letter" in dropped && ![...nodes.values()].some((n) => n.children.some((c) => "letter" in c && c.letter === dropped.letter))) {
    nodes.delete(dropped.letter);
  }
  return true;
}

/** Values bottom-up; each defined letter's op drawn among the feasible ones. False when none is. */
function evaluate(nodes: Map<string, Node>, rng: Rng): boolean {
  const done = new Set<string>();
  const visit = (n: Node): boolean => {
    if (done.has(n.letter)) return true;
    if (n.kind === "defined") {
      for (const c of n.children) if ("letter" in c && !visit(nodes.get(c.letter)!)) return false;
      let [a, b] = n.children;
      const ops = feasibleOps(valueOf(a, nodes), valueOf(b, nodes));
      if (ops.length === 0) return false;
      n.op = ops[rng.int(ops.length)];
      // subtraction keeps the larger value on the left; + and * keep the drawn order
      if (n.op === "-" && valueOf(a, nodes) < valueOf(b, nodes)) [a, b] = [b, a];
      n.children = [a, b];
      n.value = apply(n.op, valueOf(a, nodes), valueOf(b, nodes));
    }
    done.add(n.letter);
    return true;
  };
  for (const n of nodes.values()) if (!visit(n)) return false;
  return true;
}

function operandText(o: Operand): string {
  return "letter" in o ? o.letter : String(o.literal);
}

function statementText(s: Statement): string {
  return s.op === null ? `${s.letter} = ${s.value}` : `${s.letter} = ${operandText(s.left!)} ${s.op} ${operandText(s.right!)}`;
}

export function problemText(p: Program): string {
  return `Given ${p.statements.map(statementText).join(" , ")} . Find ${p.target} .`;
}

/** The solution's step for defined letter `s`: `k = q * 4 = 9 * 4 = 36 .` */
export function stepText(s: Statement, values: Map<string, number>): string {
  const v = (o: Operand): string => ("letter" in o ? String(values.get(o.letter)) : String(o.literal));
  return `${statementText(s)} = ${v(s.left!)} ${s.op} ${v(s.right!)} = ${s.value} .`;
}

/** `\boxed{v}`: how every solution ends, and where graders and the math environment find the answer. */
export function boxed(value: number | string): string {
  return `\\boxed{${value}}`;
}

/** The needed steps' dependencies: for each needed letter, the needed letters its statement reads. */
export function neededDependencies(p: Program): Map<string, string[]> {
  const byLetter = new Map(p.statements.map((s) => [s.letter, s]));
  const needed = new Set(p.needed);
  const deps = new Map<string, string[]>();
  for (const l of p.needed) {
    const s = byLetter.get(l)!;
    const reads = [s.left!, s.right!].filter((o): o is { letter: string } => "letter" in o).map((o) => o.letter);
    deps.set(l, [...new Set(reads.filter((r) => needed.has(r)))]);
  }
  return deps;
}

/**
 * A solution: the needed steps in an order drawn from `rng` (at each step, uniformly among the statements
 * whose operands are known), then the boxed answer.
 */
export function solutionText(p: Program, rng: Rng): string {
  const byLetter = new Map(p.statements.map((s) => [s.letter, s]));
  const values = new Map(p.statements.map((s) => [s.letter, s.value]));
  const deps = neededDependencies(p);
  const done = new Set<string>();
  const parts: string[] = [];
  while (done.size < p.needed.length) {
    const ready = p.needed.filter((l) => !done.has(l) && deps.get(l)!.every((d) => done.has(d)));
    const l = ready[rng.int(ready.length)];
    parts.push(stepText(byLetter.get(l)!, values));
    done.add(l);
  }
  parts.push(boxed(values.get(p.target)!));
  return parts.join(" ");
}

/** How many orders of the needed steps are valid (linear extensions of the dependency order; exact DP). */
export function validOrders(p: Program): number {
  const letters = p.needed;
  const index = new Map(letters.map((l, i) => [l, i]));
  const deps = neededDependencies(p);
  const need = letters.map((l) => deps.get(l)!.reduce((m, d) => m | (1 << index.get(d)!), 0));
  const count = new Float64Array(1 << letters.length);
  count[0] = 1;
  for (let mask = 0; mask < count.length; mask++) {
    if (count[mask] === 0) continue;
    for (let i = 0; i < letters.length; i++) {
      if (!(mask & (1 << i)) && (need[i] & mask) === need[i]) count[mask | (1 << i)] += count[mask];
    }
  }
  return count[count.length - 1];
}

export function taskRow(p: Program, rng: Rng): TaskRow {
  const target = p.statements.find((s) => s.letter === p.target)!;
  return { problem: problemText(p), solution: solutionText(p, rng), answer: String(target.value) };
}

/**
 * `count` distinct rows of a split from `seed`, none of whose problems is in `exclude` (so the training split
 * can leave out every held-out problem). Each split draws from its own stream: rows of one split do not
 * change when another's count does.
 */
export function generateSplit(split: SplitName, count: number, seed: number, exclude: ReadonlySet<string> = new Set()): TaskRow[] {
  const rng = new Rng(splitSeed(split, seed));
  const seen = new Set<string>();
  const rows: TaskRow[] = [];
  for (let tries = 0; rows.length < count; tries++) {
    if (tries > 100 * count + 1000) throw new Error(`split ${split}: cannot find ${count} distinct problems`);
    const row = taskRow(generateProgram(SPLITS[split], rng), rng);
    if (seen.has(row.problem) || exclude.has(row.problem)) continue;
    seen.add(row.problem);
    rows.push(row);
  }
  return rows;
}

/** A split's stream: the seed and the split's name hashed together (FNV-1a), so splits never share draws. */
function splitSeed(split: string, seed: number): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (const ch of `${split}:${seed}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** Every split: the five benchmarks, validation, then train (which excludes all the held-out problems). */
export function generateAllSplits(counts: { train: number; heldOut: number }, seed: number): Record<SplitName, TaskRow[]> {
  const heldOut = ["validation", ...BENCHMARKS] as const;
  const out = {} as Record<SplitName, TaskRow[]>;
  const exclude = new Set<string>();
  for (const s of heldOut) {
    out[s] = generateSplit(s, counts.heldOut, seed);
    for (const r of out[s]) exclude.add(r.problem);
  }
  out.train = generateSplit("train", counts.train, seed, exclude);
  return out;
}
