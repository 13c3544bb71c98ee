/** Synthetic rollout groups with realistic prefix sharing, shared by the PRM benches. */
import type { Rng } from "../src/util/rng.js";

/** GPT-2's vocabulary: distinct branches almost never collide again after they split. */
export const VOCAB = 50257;

/**
 * One group: lengths in [0.75 L, L]; each completion after the first copies an opening of an earlier one
 * (up to 60% of it, so shared openings are long) and then samples its own tokens.
 */
export function makeGroup(rng: Rng, k: number, L: number): Int32Array[] {
  const group: Int32Array[] = [];
  for (let i = 0; i < k; i++) {
    const len = L - rng.int((L >> 2) + 1);
    const y = new Int32Array(len);
    let t = 0;
    if (i > 0) {
      const parent = group[rng.int(i)];
      const branch = Math.min(len, rng.int(Math.floor(parent.length * 0.6) + 1));
      y.set(parent.subarray(0, branch));
      t = branch;
    }
    for (; t < len; t++) y[t] = rng.int(VOCAB);
    group.push(y);
  }
  return group;
}

