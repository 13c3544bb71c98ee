/**
 * Grading facts, one kind at a time, each with cases that must match and cases that must not. Written from
 * the rules in src/math/equivalence.ts and normalize.ts (what a human grader of competition answers accepts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { grade, isEquivalent, normalize, plainNumber } from "../../src/math/index.js";

// the facts are about answers, not time: a limit no loaded test machine reaches (time-limit.test.ts tests the limit)
const FACTS = { timeLimitMs: 60_000 };

function same(pred: string, gold: string): void {
  assert.equal(isEquivalent(pred, gold, FACTS), true, `'${pred}' should match gold '${gold}'`);
}
function differ(pred: string, gold: string): void {
  assert.equal(isEquivalent(pred, gold, FACTS), false, `'${pred}' should not match gold '${gold}'`);
}

test("normalisation rewrites the spellings of one answer to one form", () => {
  assert.equal(normalize("$\\dfrac{3}{4}$"), "\\frac{3}{4}");
  assert.equal(normalize("\\tfrac34"), "\\frac{3}{4}");
  assert.equal(normalize("\\left[ 0, 1 \\right)"), "[0,1)");
  assert.equal(normalize("\\text{(B)}"), "(B)");
  assert.equal(normalize("45^{\\circ}"), "45");
  assert.equal(normalize("45^\\circ"), "45");
  assert.equal(normalize("12\\%"), "12");
  assert.equal(normalize("\\$1,250.50"), "1250.50");
  assert.equal(normalize("1{,}000{,}000"), "1000000");
  assert.equal(normalize("1\\,000"), "1000");
  assert.equal(normalize("8 \\text{ cm}^2"), "8");
  assert.equal(normalize("20 square units"), "20");
  assert.equal(normalize("3\\!\\cdot\\! 4."), "3\\cdot4");
  assert.equal(normalize("2\\pi r"), "2\\pi r");
  assert.equal(normalize("\\sqrt3"), "\\sqrt{3}");
  assert.equal(normalize("sqrt(3)"), "\\sqrt{3}");
  assert.equal(normalize("∞"), "\\infty");
  assert.equal(normalize("π/2"), "\\pi/2");
  // a list is not a number with thousands separators
  assert.equal(normalize("1, 2"), "1,2");
});

test("plain numbers are read without the CAS", () => {
  assert.equal(plainNumber("-12"), -12);
  assert.equal(plainNumber("0.25"), 0.25);
  assert.equal(plainNumber("3/4"), 0.75);
  assert.equal(plainNumber("\\frac{-1}{8}"), -0.125);
  assert.equal(plainNumber("-\\frac{1}{8}"), -0.125);
  assert.equal(plainNumber("1e3"), 1000);
  assert.equal(plainNumber("x"), null);
  assert.equal(plainNumber("1/0"), null);
});

test("numbers: equal values at relative 1e-6, any spelling", () => {
  same("0.5", "\\frac{1}{2}");
  same("\\dfrac12", "1/2");
  same("1,000", "1000");
  same("1000.0", "1000");
  same("-3", "-3.0");
  same("100000001", "100000000"); // relative difference 1e-8
  differ("1001", "1000"); // 1e-3
  differ("0.333", "\\frac{1}{3}");
  differ("1e-9", "0"); // relative: nothing but 0 equals 0
  differ("-2", "2");
});

test("units, degrees, percent and currency do not change the value", () => {
  same("30^\\circ", "30");
  same("30 degrees", "30");
  same("12 \\text{ inches}", "12");
  same("25\\%", "25");
  same("\\$ 4.50", "4.5");
  differ("31^\\circ", "30");
});

test("x = 3 answers a bare 3, and a bare 3 answers x = 3", () => {
  same("x = 3", "3");
  same("3", "x=3");
  same("a_1 = 5", "5");
  differ("x = 4", "3");
  // an equation that does not name the answer is not its right side
  differ("x + 1 = 3", "3");
});

test("symbolic: radicals, pi and polynomials equal as values or functions", () => {
  same("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt2}");
  same("2\\sqrt{3}", "\\sqrt{12}");
  same("\\pi/2", "\\frac{\\pi}{2}");
  same("3.1415927", "\\pi");
  same("(x+1)^2", "x^2 + 2x + 1");
  same("\\frac{x^2-1}{x-1}", "x+1");
  same("\\sin^2 x + \\cos^2 x", "1");
  differ("\\sqrt{3}", "\\sqrt{2}");
  differ("3.14", "\\pi");
  differ("(x+1)^2", "x^2+1");
  differ("2x", "2y");
});

test("infinity", () => {
  same("\\infty", "∞");
  same("+\\infty", "\\infty");
  differ("-\\infty", "\\infty");
});

test("intervals: endpoints and whether each end is open or closed", () => {
  same("\\left[ -1, \\frac{1}{2} \\right)", "[-1, 0.5)");
  same("(-\\infty, 3]", "(-\\infty,3]");
  differ("[-1, 0.5]", "[-1, 0.5)");
  differ("(1, 2)", "[1, 2)");
  differ("[1, 3)", "[1, 2)");
  same("(-\\infty, 0) \\cup (1, \\infty)", "(1, \\infty) \\cup (-\\infty, 0)");
  differ("(-\\infty, 0) \\cup (2, \\infty)", "(-\\infty, 0) \\cup (1, \\infty)");
  differ("(-\\infty, 0)", "(-\\infty, 0) \\cup (1, \\infty)");
});

test("tuples are ordered", () => {
  same("(1, \\frac{1}{2})", "(1, 0.5)");
  differ("(2, 1)", "(1, 2)");
  differ("(1, 2, 3)", "(1, 2)");
});

test("sets and lists of solutions are unordered", () => {
  same("\\{3, 1, 2\\}", "\\{1, 2, 3\\}");
  same("2, -2", "-2, 2");
  same("x = 2, x = -2", "-2, 2");
  same("\\{-2, 2\\}", "-2, 2");
  differ("\\{1, 2\\}", "\\{1, 2, 3\\}");
  differ("1, 3", "1, 2");
});

test("matrices elementwise, same shape", () => {
  same("\\begin{pmatrix} 1 & \\frac12 \\\\ 0 & 1 \\end{pmatrix}", "\\begin{bmatrix}1&0.5\\\\0&1\\end{bmatrix}");
  same("\\begin{pmatrix} 2 \\\\ -1 \\end{pmatrix}", "\\begin{pmatrix}2\\\\-1\\end{pmatrix}");
  differ("\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}", "\\begin{pmatrix} 0 & 1 \\\\ 1 & 0 \\end{pmatrix}");
  differ("\\begin{pmatrix} 1 & 0 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 0 \\end{pmatrix}");
});

test("equations: the same sides, swapped, or moved across", () => {
  same("y = 2x + 1", "y=1+2x");
  same("2x + 1 = y", "y = 2x + 1");
  same("y - 2x = 1", "y = 2x + 1");
  differ("y = 2x + 2", "y = 2x + 1");
  differ("5", "y = 2x + 1");
});

test("multiple choice: the same letter only", () => {
  same("C", "C");
  same("(C)", "\\text{(C)}");
  same("\\textbf{(C)} 12", "C");
  differ("B", "C");
  differ("(B) 12", "C");
  differ("12", "C");
});

test("text answers compare as text, not as products of letters", () => {
  same("\\text{Monday}", "monday");
  differ("\\text{yadnoM}", "Monday");
  differ("\\text{odd}", "\\text{even}");
});

test("grade: extraction then equivalence", () => {
  assert.deepEqual(grade("so the answer is \\boxed{\\dfrac{1}{2}}.", "0.5"), { correct: true, extracted: "\\dfrac{1}{2}", source: "boxed" });
  assert.deepEqual(grade("so the answer is \\boxed{3}.", "0.5"), { correct: false, extracted: "3", source: "boxed" });
  assert.deepEqual(grade("no answer at all", "0.5"), { correct: false, extracted: null, source: null });
  assert.equal(grade("... it is 12", "12", { fallbacks: ["last_number"] }).correct, true);
});
