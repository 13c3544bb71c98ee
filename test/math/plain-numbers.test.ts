/** Plain numbers are graded without the CAS (its worker never starts), which keeps them thousands a second. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { grade } from "../../src/math/index.js";
import { casStarted } from "../../src/math/symbolic.js";

test("integers, decimals and fractions never start the CAS", () => {
  let correct = 0;
  for (let i = 0; i < 3000; i++) {
    const gold = i % 3 === 0 ? String(i) : i % 3 === 1 ? `\\frac{${i}}{7}` : (i / 8).toFixed(3);
    const pred = i % 2 === 0 ? gold : String(i + 1);
    if (grade(`so the answer is $\\boxed{${pred}}$.`, gold).correct) correct++;
  }
  assert.equal(correct, 1500);
  assert.equal(casStarted(), false);
});
