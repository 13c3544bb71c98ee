/** A pathological answer returns within the check's time limit, and the grader keeps working after it. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isEquivalent } from "../../src/math/index.js";
import { startCas } from "../../src/math/symbolic.js";

// cut-off plus scheduling slack on a loaded 2-core machine
const LIMIT_MS = 200;
const SLACK_MS = 400;

test("inputs that run the CAS for seconds are cut off at the limit", () => {
  // each was measured to run 1-95 s in the engine when not cut off (src/math/cas.ts)
  const cases: [string, string][] = [
    ["9^{9^{9}}", "9^{9^{9}}+1"],
    ["(1+x)^{39}(1+y)^{39}", "(1+y)^{39}(1+x)^{38}"],
    ["(a+b+c+d+e)^{40}", "(a+b+c+d+e)^{40}+1"],
  ];
  for (const [pred, gold] of cases) {
    assert.ok(startCas(), "the CAS worker starts");
    const t0 = performance.now();
    const r = isEquivalent(pred, gold, { timeLimitMs: LIMIT_MS });
    const ms = performance.now() - t0;
    assert.equal(r, false);
    assert.ok(ms < LIMIT_MS + SLACK_MS, `'${pred}' took ${ms.toFixed(0)} ms, limit ${LIMIT_MS}`);
  }
  // the worker that was cut off is replaced
  assert.equal(isEquivalent("(x+1)^2", "x^2+2x+1"), true);
});

test("huge or deeply nested strings are refused before the CAS", () => {
  const nested = "{".repeat(5000) + "1" + "}".repeat(5000);
  const long = "x+".repeat(50_000) + "1";
  for (const pred of [nested, long, "1".repeat(100_000)]) {
    const t0 = performance.now();
    assert.equal(isEquivalent(pred, "2", { timeLimitMs: LIMIT_MS }), false);
    assert.ok(performance.now() - t0 < LIMIT_MS + SLACK_MS);
  }
});
