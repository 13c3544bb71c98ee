/**
 * --top-p (src/cli/args.ts topPOption, read by generate and eval): a probability mass in (0, 1], the fallback
 * when it is not given, and a one-line error naming the option and the value otherwise.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { topPOption } from "../../src/cli/args.js";
import { UserError } from "../../src/util/errors.js";

test("--top-p takes (0, 1], its fallback when not given, and refuses the rest by name", () => {
  assert.equal(topPOption(undefined, 0.95), 0.95);
  assert.equal(topPOption("1", 0.95), 1);
  assert.equal(topPOption("0.5", 1), 0.5);
  assert.throws(() => topPOption("1.5", 1), (e: Error) => e instanceof UserError && e.message === "--top-p: expected a number in (0, 1], got '1.5'");
  for (const bad of ["0", "-0.1", "", "abc"]) {
    assert.throws(() => topPOption(bad, 1), (e: Error) => e instanceof UserError && e.message === `--top-p: expected a number > 0, got '${bad}'`);
  }
});
