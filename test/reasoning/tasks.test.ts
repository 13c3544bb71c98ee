/**
 * The task family's facts, checked by an interpreter written here from the problem text alone: every answer
 * is the asked letter's value, every solution step copies its statement, substitutes the right values and
 * computes right, the steps come in an order the dependencies allow and are exactly the needed ones; each
 * split's problems have the shape its spec says; the count of valid orders matches brute force.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BENCHMARKS, generateAllSplits, generateProgram, generateSplit, MAX_VALUE, SPLITS, taskRow, validOrders, type TaskRow,
} from "../../src/reasoning/tasks.js";
import { Rng } from "../../src/util/rng.js";

interface Parsed {
  defs: Map<string, { text: string; op: string | null; operands: string[]; literal: number | null }>;
  target: string;
}

function parseProblem(problem: string): Parsed {
  const m = /^Given (.*) \. Find ([a-z]) \.$/.exec(problem);
  assert.ok(m, `problem shape: ${problem}`);
  const defs: Parsed["defs"] = new Map();
  for (const st of m[1].split(" , ")) {
    const bound = /^([a-z]) = (\d+)$/.exec(st);
    const defined = /^([a-z]) = ([a-z]|\d+) ([-+*]) ([a-z]|\d+)$/.exec(st);
    assert.ok(bound || defined, `statement shape: ${st}`);
    const letter = (bound ?? defined)![1];
    assert.ok(!defs.has(letter), `${letter} bound twice`);
    if (bound) defs.set(letter, { text: st, op: null, operands: [], literal: Number(bound[2]) });
    else defs.set(letter, { text: st, op: defined![3], operands: [defined![2], defined![4]], literal: null });
  }
  return { defs, target: m[2] };
}

function valueOf(p: Parsed, x: string, seen = new Set<string>()): number {
  if (/^\d+$/.test(x)) return Number(x);
  assert.ok(!seen.has(x), `cycle through ${x}`);
  const d = p.defs.get(x);
  assert.ok(d, `undefined letter ${x}`);
  if (d.op === null) return d.literal!;
  const [a, b] = d.operands.map((o) => valueOf(p, o, new Set([...seen, x])));
  return d.op === "+" ? a + b : d.op === "-" ? a - b : a * b;
}

/** The defined letters the target needs. */
function needed(p: Parsed, x = p.target, acc = new Set<string>()): Set<string> {
  const d = p.defs.get(x);
  if (!d || d.op === null || acc.has(x)) return acc;
  acc.add(x);
  for (const o of d.operands) needed(p, o, acc);
  return acc;
}

/** Checks one row completely; returns the parsed problem and the order its solution took. */
function checkRow(row: TaskRow): { parsed: Parsed; order: string[] } {
  const p = parseProblem(row.problem);
  for (const l of p.defs.keys()) {
    const v = valueOf(p, l);
    assert.ok(Number.isInteger(v) && v >= 0 && v <= MAX_VALUE, `${l} = ${v} out of range in ${row.problem}`);
  }
  assert.equal(row.answer, String(valueOf(p, p.target)));
  const parts = row.solution.split(" . ");
  assert.equal(parts[parts.length - 1], `\\boxed{${row.answer}}`);
  const order: string[] = [];
  for (const step of parts.slice(0, -1)) {
    const m = /^(([a-z]) = (\S+) ([-+*]) (\S+)) = (\d+) ([-+*]) (\d+) = (\d+)$/.exec(step);
    assert.ok(m, `step shape: '${step}'`);
    const [, copied, letter, , , , va, op2, vb, v] = m;
    const d = p.defs.get(letter)!;
    assert.equal(copied, d.text, "the step copies its statement");
    assert.equal(op2, d.op);
    for (const [i, given] of [va, vb].entries()) {
      const o = d.operands[i];
      if (!/^\d+$/.test(o) && p.defs.get(o)!.op !== null) assert.ok(order.includes(o), `${letter} reads ${o} before it is computed`);
      assert.equal(Number(given), valueOf(p, o), `value of ${o}`);
    }
    assert.equal(Number(v), valueOf(p, letter));
    order.push(letter);
  }
  assert.deepEqual([...order].sort(), [...needed(p)].sort(), "the steps are exactly the needed letters, once each");
  assert.equal(order[order.length - 1], p.target);
  return { parsed: p, order };
}

test("every row of every split is right: answers, step copies, substitutions, arithmetic, order", () => {
  for (const split of Object.keys(SPLITS) as (keyof typeof SPLITS)[]) {
    for (const row of generateSplit(split, 300, 7)) checkRow(row);
  }
});

test("each split has the shape of its spec: steps, distractors, constants, tree or shared", () => {
  for (const split of Object.keys(SPLITS) as (keyof typeof SPLITS)[]) {
    const spec = SPLITS[split];
    let sharedSeen = 0;
    const steps = new Set<number>();
    for (const row of generateSplit(split, 300, 3)) {
      const { parsed } = checkRow(row);
      const need = needed(parsed);
      steps.add(need.size);
      assert.ok(need.size >= spec.steps[0] && need.size <= spec.steps[1], `${split}: ${need.size} steps`);
      const definedOthers = [...parsed.defs.values()].filter((d) => d.op !== null).length - need.size;
      assert.ok(definedOthers <= spec.distractors[1], `${split}: ${definedOthers} unneeded statements`);
      // reads by needed statements, per letter: a tree reads each letter at most once
      const reads = new Map<string, number>();
      for (const l of need) for (const o of parsed.defs.get(l)!.operands) reads.set(o, (reads.get(o) ?? 0) + 1);
      const twice = [...reads.entries()].some(([o, n]) => n > 1 && !/^\d+$/.test(o) && parsed.defs.get(o)!.op !== null);
      if (twice) sharedSeen++;
      if (!spec.shared) assert.ok(![...reads.entries()].some(([o, n]) => n > 1 && !/^\d+$/.test(o)), `${split} is a tree: ${row.problem}`);
      for (const d of parsed.defs.values()) {
        const nums = d.op === null ? [d.literal!] : d.operands.filter((o) => /^\d+$/.test(o)).map(Number);
        for (const c of nums) assert.ok(c >= spec.constants[0] && c <= spec.constants[1], `${split}: constant ${c}`);
      }
    }
    if (spec.shared) assert.equal(sharedSeen, 300, "every shared problem reuses a sub-result");
    assert.equal(steps.size, spec.steps[1] - spec.steps[0] + 1, `${split}: every step count occurs`);
  }
});

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

test("validOrders counts the valid orders of the steps (brute force over permutations), and solutions take several", () => {
  const rng = new Rng(11);
  let branching = 0;
  for (const split of ["train", "long", "shared"] as const) {
    for (let i = 0; i < 40; i++) {
      const program = generateProgram(SPLITS[split], rng);
      const row = taskRow(program, rng);
      const { parsed } = checkRow(row);
      const need = [...needed(parsed)];
      const valid = permutations(need).filter((perm) =>
        perm.every((l, k) => parsed.defs.get(l)!.operands.every((o) => !need.includes(o) || perm.slice(0, k).includes(o))),
      ).length;
      assert.equal(validOrders(program), valid, row.problem);
      if (valid > 1) {
        // the solution sampler reaches more than one of them
        const orders = new Set<string>();
        for (let s = 0; s < 64; s++) orders.add(checkRow(taskRow(program, new Rng(s))).order.join(""));
        assert.ok(orders.size > 1, `one order only for ${row.problem}`);
        assert.ok(orders.size <= valid);
        branching++;
      }
    }
  }
  assert.ok(branching > 40, `${branching} of 120 problems branch`);
});

test("splits are seeded, distinct within a split, and train leaves out every held-out problem", () => {
  assert.deepEqual(generateSplit("long", 20, 5), generateSplit("long", 20, 5));
  assert.notDeepEqual(generateSplit("long", 20, 5), generateSplit("long", 20, 6));
  // one split's rows do not depend on another's count
  const a = generateAllSplits({ train: 200, heldOut: 50 }, 1);
  const b = generateAllSplits({ train: 100, heldOut: 50 }, 1);
  assert.deepEqual(a.iid, b.iid);
  const heldOut = new Set(["validation", ...BENCHMARKS].flatMap((s) => a[s as keyof typeof a].map((r) => r.problem)));
  for (const rows of Object.values(a)) assert.equal(new Set(rows.map((r) => r.problem)).size, rows.length);
  assert.ok(a.train.every((r) => !heldOut.has(r.problem)));
  // validation and iid share a distribution but not problems
  const iid = new Set(a.iid.map((r) => r.problem));
  assert.ok(a.validation.every((r) => !iid.has(r.problem)));
});
