/** Extraction: the last closed \boxed{} / \fbox{}, braces nested, and the fallbacks in their order. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { extractAnswer, firstBoxedEnd, goldFromSolution, lastBoxed } from "../../src/math/index.js";

test("the last box wins and its nested braces are kept", () => {
  assert.equal(lastBoxed("first \\boxed{1}, then \\boxed{\\frac{a}{b^{2}}} end"), "\\frac{a}{b^{2}}");
  assert.equal(lastBoxed("\\fbox{7}"), "7");
  assert.equal(lastBoxed("a set \\boxed{\\{1, 2\\}}"), "\\{1, 2\\}");
  assert.equal(lastBoxed("no box here"), null);
});

test("\\boxed without braces takes one argument up to a space or $", () => {
  assert.equal(lastBoxed("so $\\boxed 5$."), "5");
  assert.equal(lastBoxed("\\boxed 12 apples"), "12");
  // \boxedx is not \boxed
  assert.equal(lastBoxed("\\boxedx{3}"), null);
});

test("a truncated last box does not count; the last closed one does", () => {
  assert.equal(lastBoxed("\\boxed{4} and then \\boxed{\\frac{1}{"), "4");
  assert.equal(lastBoxed("\\boxed{\\frac{1}{"), null);
});

test("fallbacks run only when no box closes, in the order given", () => {
  const text = "We get 3 and 1,234 apples. The final answer is $42$. Done 7";
  assert.equal(extractAnswer(text), null);
  assert.deepEqual(extractAnswer(text, { fallbacks: ["final_answer"] }), { answer: "42", source: "final_answer" });
  assert.deepEqual(extractAnswer(text, { fallbacks: ["last_number"] }), { answer: "7", source: "last_number" });
  assert.deepEqual(extractAnswer(text, { fallbacks: ["last_number", "final_answer"] }), { answer: "7", source: "last_number" });
  assert.deepEqual(extractAnswer("it is \\boxed{5}. The final answer is 6", { fallbacks: ["final_answer"] }), { answer: "5", source: "boxed" });
  assert.deepEqual(extractAnswer("total 1,234.5 units", { fallbacks: ["last_number"] }), { answer: "1,234.5", source: "last_number" });
  assert.deepEqual(extractAnswer("The final answer is x = 2\nmore", { fallbacks: ["final_answer"] }), { answer: "x = 2", source: "final_answer" });
});

test("the stop rule: the offset where the first box closes, -1 before", () => {
  const t = "so \\boxed{\\frac{1}{2}} and more";
  assert.equal(firstBoxedEnd(t), t.indexOf("} and") + 1);
  assert.equal(firstBoxedEnd("so \\boxed{\\frac{1}{2}"), -1);
  assert.equal(firstBoxedEnd("no box"), -1);
  // without braces the argument may still be growing at the end of the text
  assert.equal(firstBoxedEnd("\\boxed 12"), -1);
  assert.equal(firstBoxedEnd("\\boxed 12 "), "\\boxed 12".length);
});

test("the gold answer of a worked solution is its last box", () => {
  assert.equal(goldFromSolution("Hence $x = \\boxed{\\dfrac{3}{4}}$."), "\\dfrac{3}{4}");
  assert.equal(goldFromSolution("no box"), null);
});
