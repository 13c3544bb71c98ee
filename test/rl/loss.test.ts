/**
 * Facts of the objective (PAPER.md sections 1 and 3): its gradient matches finite differences; with
 * lambda = false it is the standard per-token GRPO objective written out by brute force; with lambda = true
 * each token's gradient is the GRPO one divided by |lambda(i,t)|.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildPrefixTree, lossWeights, outcomeAdvantages } from "../../src/prm/index.js";
import { objective, type SequenceTerms } from "../../src/rl/loss.js";
import { Rng } from "../../src/util/rng.js";

import { charIds, PAPER_REWARDS as REWARDS, PAPER_WORDS } from "../fixtures/paper-example.js";

// The paper's worked example: ABCD, ABEFHI, JKLM, JKLNQST, JKLNQU, VWYZ with rewards .5 .5 1 0 0 .5
const COMPLETIONS = PAPER_WORDS.map(charIds);
const OPTS = { epsilonLow: 0.2, epsilonHigh: 0.28, beta: 0.04 };

function randomTerms(lambda: boolean, rng: Rng, withOld: boolean): { terms: SequenceTerms[]; lambdaSize: Int32Array[] } {
  const tree = buildPrefixTree(COMPLETIONS);
  const adv = outcomeAdvantages(REWARDS);
  const w = lossWeights([tree], { lossType: "dapo", lambda })[0];
  const terms = COMPLETIONS.map((c, i) => {
    const lp = Float64Array.from(c, () => -0.2 - 2 * rng.next());
    // ratios spread over [0.6, 1.5] so some tokens clip on each side; kept away from the clip edges
    const old = withOld ? lp.map((x) => x - Math.log(0.6 + 0.9 * rng.next())) : null;
    const ref = lp.map((x) => x + 0.5 * rng.normal());
    return { logprobs: lp, old, ref, advantage: adv[i], weights: w[i] };
  });
  return { terms, lambdaSize: tree.lambdaSize };
}

test("gradient matches central finite differences of the objective", () => {
  const rng = new Rng(7);
  for (const lambda of [false, true]) {
    const { terms } = randomTerms(lambda, rng, true);
    const r = objective(terms, OPTS);
    const h = 1e-6;
    for (let i = 0; i < terms.length; i++) {
      for (let t = 0; t < terms[i].logprobs.length; t++) {
        const lp = terms[i].logprobs as Float64Array;
        const orig = lp[t];
        const ratio = Math.exp(orig - (terms[i].old as Float64Array)[t]);
        if (Math.abs(ratio - 0.8) < 1e-3 || Math.abs(ratio - 1.28) < 1e-3) continue; // kink of the clip
        lp[t] = orig + h;
        const up = objective(terms, OPTS).objective;
        lp[t] = orig - h;
        const down = objective(terms, OPTS).objective;
        lp[t] = orig;
        const fd = (up - down) / (2 * h);
        assert.ok(Math.abs(fd - r.grad[i][t]) < 1e-7, `lambda=${lambda} (${i},${t}): fd ${fd} vs ${r.grad[i][t]}`);
      }
    }
  }
});

test("lambda=false is the standard GRPO objective (brute force, token mean over the batch)", () => {
  const rng = new Rng(11);
  const { terms } = randomTerms(false, rng, true);
  const adv = outcomeAdvantages(REWARDS);
  let total = 0;
  let tokens = 0;
  for (let i = 0; i < terms.length; i++) {
    for (let t = 0; t < terms[i].logprobs.length; t++) {
      const lp = terms[i].logprobs[t];
      const P = Math.exp(lp - terms[i].old![t]);
      const clipP = Math.min(Math.max(P, 1 - OPTS.epsilonLow), 1 + OPTS.epsilonHigh);
      const ratioRef = Math.exp(terms[i].ref![t] - lp);
      const D = OPTS.beta * (ratioRef - Math.log(ratioRef) - 1);
      total += Math.min(P * adv[i], clipP * adv[i]) - D;
      tokens++;
    }
  }
  const J = objective(terms, OPTS);
  // weights are float32 (the trainer's dtype): agreement to float32 rounding
  assert.ok(Math.abs(J.objective - total / tokens) < 1e-6 * Math.abs(total / tokens), `${J.objective} vs ${total / tokens}`);
  assert.ok(J.clipped > 0, "the test should exercise the clip");
});

test("lambda=true divides each token's gradient (policy and KL terms) by |lambda(i,t)|", () => {
  const a = randomTerms(false, new Rng(3), true);
  const b = randomTerms(true, new Rng(3), true); // same draws: same log-probs
  const ga = objective(a.terms, OPTS).grad;
  const gb = objective(b.terms, OPTS).grad;
  let shared = 0;
  for (let i = 0; i < ga.length; i++) {
    for (let t = 0; t < ga[i].length; t++) {
      const lam = b.lambdaSize[i][t];
      if (lam > 1) shared++;
      assert.ok(Math.abs(gb[i][t] - ga[i][t] / lam) < 1e-7 * Math.max(1, Math.abs(ga[i][t])), `(${i},${t})`);
    }
  }
  assert.ok(shared > 0);
});

test("mu = 1: P = 1 (old = new detached), nothing clips, gradient is w * a - beta-term", () => {
  const { terms } = randomTerms(false, new Rng(5), false);
  const r = objective(terms, { ...OPTS, beta: 0 });
  assert.equal(r.clipped, 0);
  for (let i = 0; i < terms.length; i++) {
    for (let t = 0; t < terms[i].logprobs.length; t++) {
      assert.ok(Math.abs(r.grad[i][t] - terms[i].weights[t] * terms[i].advantage) < 1e-12);
    }
  }
});

test("paper's example: GRPO pushes node JKL down, lambda-GRPO by a third as much", () => {
  const tree = buildPrefixTree(COMPLETIONS);
  const adv = outcomeAdvantages(REWARDS);
  for (const lambda of [false, true]) {
    const w = lossWeights([tree], { lossType: "dapo", lambda })[0];
    const terms = COMPLETIONS.map((c, i) => ({
      logprobs: new Float64Array(c.length).fill(-1),
      old: null,
      ref: null,
      advantage: adv[i],
      weights: w[i],
    }));
    const g = objective(terms, { ...OPTS, beta: 0 }).grad;
    // token J (position 0) of JKLM, JKLNQST, JKLNQU: total push on the shared node
    const push = g[2][0] + g[3][0] + g[4][0];
    const tokens = COMPLETIONS.reduce((a, c) => a + c.length, 0);
    const expected = ((1 - 0 - 0 - 3 * (5 / 12)) / 0.3764 / tokens) * (lambda ? 1 / 3 : 1);
    assert.ok(push < 0, "the node's summed push is negative (its process advantage is -0.22)");
    assert.ok(Math.abs(push - expected) < 2e-3 * Math.abs(expected), `${push} vs ${expected}`);
  }
});
