/**
 * pearson against its textbook definition (the mean product of z-scores, population standard deviations),
 * computed the slow way, and against facts of a correlation: +-1 for an exact line, symmetry, invariance under
 * affine maps, undefined for a constant series.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../src/util/rng.js";
import { pearson } from "../../src/util/stats.js";

function definition(x: number[], y: number[]): number {
  const n = x.length;
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / n;
  const sd = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / n);
  let s = 0;
  for (let i = 0; i < n; i++) s += ((x[i] - mean(x)) / sd(x)) * ((y[i] - mean(y)) / sd(y));
  return s / n;
}

test("pearson agrees with the mean product of z-scores on random, correlated series", () => {
  const rng = new Rng(7);
  const rand = () => rng.next();
  for (let trial = 0; trial < 50; trial++) {
    const n = 2 + Math.floor(rand() * 40);
    const mix = 2 * rand() - 1;
    const x = Array.from({ length: n }, () => 10 * rand() - 5);
    const y = x.map((v) => mix * v + (1 - Math.abs(mix)) * (10 * rand() - 5));
    const r = pearson(x, y);
    assert.ok(r !== null);
    assert.ok(Math.abs(r - definition(x, y)) < 1e-12, `n ${n}: ${r} vs ${definition(x, y)}`);
  }
});

test("pearson is +1 or -1 on a line, symmetric, and unchanged by affine maps of either series", () => {
  const x = [3, 1, 4, 1, 5, 9, 2, 6];
  assert.equal(pearson(x, x.map((v) => 2.5 * v - 7)), 1);
  assert.equal(pearson(x, x.map((v) => -0.5 * v + 1e6)), -1);
  const y = [2, 7, 1, 8, 2, 8, 1, 8];
  const r = pearson(x, y)!;
  assert.ok(Math.abs(r - pearson(y, x)!) < 1e-15);
  // Negating one series negates r; an offset of 1e8 must not swamp the deviations.
  assert.ok(Math.abs(r + pearson(x.map((v) => 1e8 + 3 * v), y.map((v) => -v))!) < 1e-9);
});

test("pearson is null where it is undefined: a constant series, or fewer than two pairs", () => {
  assert.equal(pearson([0.1, 0.1, 0.1, 0.1], [1, 2, 3, 4]), null);
  assert.equal(pearson([1, 2, 3], [5, 5, 5]), null);
  assert.equal(pearson([1], [2]), null);
  assert.equal(pearson([], []), null);
  assert.throws(() => pearson([1, 2], [1, 2, 3]), /2 x values against 3 y values/);
});
