/** The toy sweep's design: the paper's grid, and GRPO and lambda-GRPO runs that differ only in `lambda`. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { lastRate, stepsToHalf, toyRuns } from "../../src/rl/toy.js";

test("the sweep is the paper's grid, and each GRPO run's config equals its lambda-GRPO twin's but for lambda", () => {
  const runs = toyRuns({ preset: "small", seeds: 5, steps: 250, outDir: "/tmp/x" });
  assert.equal(runs.length, 2 * 3 * 2 * 5);
  for (const r of runs) {
    assert.equal(r.config.num_generations, 16);
    assert.equal(r.config.steps, 250);
    assert.equal(r.config.env.target, "LLRL");
  }
  for (const g of runs.filter((r) => r.algorithm === "grpo")) {
    const twin = runs.find((r) => r.algorithm === "lambda" && r.n === g.n && r.r_neg === g.r_neg && r.seed === g.seed)!;
    const strip = (c: object) => ({ ...c, lambda: null, output_dir: null });
    assert.deepEqual(strip(g.config), strip(twin.config));
    assert.equal(g.config.lambda, false);
    assert.equal(twin.config.lambda, true);
  }
  const lrs = new Set(runs.map((r) => r.config.learning_rate));
  assert.equal(lrs.size, 1, "one learning rate for every cell and both algorithms");
});

test("last-50 rate and the step where the 10-step average first reaches 0.5", () => {
  const rates = [...new Array(100).fill(0), ...new Array(150).fill(1)];
  assert.equal(lastRate(rates), 1);
  assert.equal(lastRate([...new Array(200).fill(1), ...new Array(50).fill(0.25)]), 0.25);
  assert.equal(stepsToHalf(rates), 105); // steps 96..105: five zeros, five ones
  assert.equal(stepsToHalf(new Array(250).fill(0.4)), null);
});
