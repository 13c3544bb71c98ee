/**
 * The prefix tree B(G) of one group's completions (PAPER.md section 2).
 *
 * A process step (node) is a maximal run of token positions shared by exactly the same set of trajectories.
 * The tree branches where trajectories diverge. Choices where the paper is silent:
 * - Identical trajectories stay separate members of every step they pass (the authors' code).
 * - A trajectory that ends where another goes on ends in a step of its own: an empty "end step" (length 0,
 *   no tokens) that is a child of the last step it shares, whose members are the trajectories ending there.
 *   It counts as a step for the path depth and is its leaf (`leafOf`), but holds no token, so `stepOf`,
 *   `lambdaSize` and the loss are unchanged by it. When every member of a step ends with it, that step is
 *   their leaf and no end step is made.
 * - An empty completion passes through no step: `leafOf` is -1, its per-token arrays are empty, path depth 0.
 * - An empty group gives an empty tree (no steps, no roots).
 *
 * Step ids are a preorder walk (a parent's id is below its children's); roots and children are ordered by
 * their smallest member, so the paper's example numbers its steps AB, CD, EFHI, JKL, M, NQ, ST, U, VWYZ.
 * Cost: linear in the group's tokens (each token is compared about once against its step's first member).
 */
import { UserError } from "../util/errors.js";
import { FILL_MIN } from "./span.js";

/** A completion's token ids: number[] or Int32Array (other array-likes are copied to Int32Array). */
export type Tokens = ArrayLike<number>;

/** A node of B(G). */
export interface ProcessStep {
  /** Index in `PrefixTree.steps`. */
  id: number;
  /** Parent step id; -1 for a step directly under the root (the prompt). */
  parent: number;
  /** Child step ids, ordered by their smallest member. */
  children: number[];
  /** 1 for a step directly under the root. */
  depth: number;
  /** Token span [start, start + length) in each member's completion (length 0 only for an end step). */
  start: number;
  length: number;
  /** Indices of the trajectories through the step, ascending; |lambda| = members.length. */
  members: number[];
}

export interface PrefixTree {
  steps: ProcessStep[];
  /** Ids of the steps directly under the root. */
  roots: number[];
  /**
   * Per completion, per token: id of the step holding it. Like `lambdaSize`, these are views into one
   * buffer per tree (mind `byteOffset` when passing `.buffer` on).
   */
  stepOf: Int32Array[];
  /** Per completion, per token: |lambda(i,t)| = #{ j : y_j[0..t] == y_i[0..t] } (1..k). */
  lambdaSize: Int32Array[];
  /** Per completion: its last step, an end step where it stops inside another's path (-1 when empty). */
  leafOf: Int32Array;
  /** Per completion: number of tokens. (With `lambdaSize` this makes a tree a `WeightGroup`.) */
  lengths: Int32Array;
}

interface Frame {
  parent: number;
  depth: number;
  start: number;
  members: number[];
  /** An end step: the members stop at `start` while others in the parent go on. */
  end: boolean;
}

/** Token ids as Int32Array (kept as is when already one), so the hot loops see one array kind. */
export function toTokenArray(tokens: Tokens, where: string): Int32Array {
  if (tokens instanceof Int32Array) return tokens;
  if (tokens === null || typeof tokens !== "object" || typeof tokens.length !== "number") {
    throw new UserError(`${where}: expected an array of token ids, got ${describe(tokens)}`);
  }
  const n = tokens.length;
  const out = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    const v = tokens[t];
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      throw new UserError(`${where}[${t}]: expected an integer token id (32-bit), got ${describe(v)}`);
    }
    out[t] = v;
  }
  return out;
}

function describe(v: unknown): string {
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  if (typeof v === "string") return JSON.stringify(v.length > 20 ? v.slice(0, 20) + "..." : v);
  return typeof v;
}

/** Group members (ascending) by their token at `pos`; groups come out ordered by their smallest member. */
function splitByToken(seqs: Int32Array[], members: number[], pos: number): number[][] {
  // Most splits have a few branches: a linear search over them beats a Map until there are many.
  const heads: number[] = [];
  const groups: number[][] = [];
  let j = 0;
  for (; j < members.length; j++) {
    const m = members[j];
    const tok = seqs[m][pos];
    let g = 0;
    while (g < heads.length && heads[g] !== tok) g++;
    if (g < heads.length) groups[g].push(m);
    else if (heads.length < 8) {
      heads.push(tok);
      groups.push([m]);
    } else break;
  }
  if (j === members.length) return groups;
  const byToken = new Map<number, number[]>();
  for (let g = 0; g < heads.length; g++) byToken.set(heads[g], groups[g]);
  for (; j < members.length; j++) {
    const m = members[j];
    const tok = seqs[m][pos];
    const g = byToken.get(tok);
    if (g === undefined) byToken.set(tok, [m]);
    else g.push(m);
  }
  return [...byToken.values()];
}

/**
 * The first position in [from, limit) where some member's token differs from the first member's (limit if
 * none). Scans member by member (sequential memory) over blocks that double in size: a member that agrees
 * far beyond the step's end costs at most about twice the step's length, so the build stays linear in the
 * group's tokens even when a long shared pair sits under many short branches.
 */
function agreeUntil(seqs: Int32Array[], members: number[], from: number, limit: number): number {
  const first = seqs[members[0]];
  let q = from;
  let block = 64;
  while (q < limit) {
    const end = Math.min(limit, q + block);
    let stop = end;
    for (let j = 1; j < members.length && stop > q; j++) {
      const y = seqs[members[j]];
      let p = q;
      while (p < stop && y[p] === first[p]) p++;
      stop = p;
    }
    if (stop < end) return stop;
    q = end;
    block *= 2;
  }
  return limit;
}

/** Build B(G) for one group's completions (the prompt is common to all and sits above the root). */
export function buildPrefixTree(completions: readonly Tokens[]): PrefixTree {
  if (!Array.isArray(completions)) {
    throw new UserError(`completions: expected an array of token arrays, got ${describe(completions)}`);
  }
  const k = completions.length;
  const seqs: Int32Array[] = new Array(k);
  const lengths = new Int32Array(k);
  const stepOf: Int32Array[] = new Array(k);
  const lambdaSize: Int32Array[] = new Array(k);
  const leafOf = new Int32Array(k).fill(-1);
  const nonEmpty: number[] = [];
  let total = 0;
  for (let i = 0; i < k; i++) {
    const y = toTokenArray(completions[i], `completions[${i}]`);
    seqs[i] = y;
    lengths[i] = y.length;
    total += y.length;
    if (y.length > 0) nonEmpty.push(i);
  }
  // One buffer for both per-token arrays of the whole group (views per completion): allocating a backing
  // store per completion cost more than building the tree for short completions.
  const buf = new Int32Array(2 * total);
  for (let i = 0, at = 0; i < k; at += lengths[i], i++) {
    stepOf[i] = buf.subarray(at, at + lengths[i]);
    lambdaSize[i] = buf.subarray(total + at, total + at + lengths[i]);
  }

  const steps: ProcessStep[] = [];
  const roots: number[] = [];
  const stack: Frame[] = [];
  const rootGroups = splitByToken(seqs, nonEmpty, 0);
  for (let g = rootGroups.length - 1; g >= 0; g--) {
    stack.push({ parent: -1, depth: 1, start: 0, members: rootGroups[g], end: false });
  }

  while (stack.length > 0) {
    const f = stack.pop()!;
    const id = steps.length;
    const members = f.members;
    const start = f.start;
    let stop = start;
    if (!f.end) {
      // All members hold the same token at `start`; the step runs while they all go on and agree.
      stop = lengths[members[0]];
      for (let j = 1; j < members.length; j++) if (lengths[members[j]] < stop) stop = lengths[members[j]];
      stop = agreeUntil(seqs, members, start + 1, stop);
      const size = members.length;
      if (stop - start < FILL_MIN) {
        for (const m of members) {
          const so = stepOf[m];
          const ls = lambdaSize[m];
          for (let t = start; t < stop; t++) {
            so[t] = id;
            ls[t] = size;
          }
        }
      } else {
        for (const m of members) {
          stepOf[m].fill(id, start, stop);
          lambdaSize[m].fill(size, start, stop);
        }
      }
    }
    steps.push({ id, parent: f.parent, children: [], depth: f.depth, start, length: stop - start, members });
    if (f.parent >= 0) steps[f.parent].children.push(id);
    else roots.push(id);

    if (f.end) {
      for (const m of members) leafOf[m] = id;
      continue;
    }
    const ended: number[] = [];
    const going: number[] = [];
    for (const m of members) (lengths[m] === stop ? ended : going).push(m);
    if (going.length === 0) {
      for (const m of members) leafOf[m] = id;
      continue;
    }
    const next: Frame[] = [];
    for (const g of splitByToken(seqs, going, stop)) {
      next.push({ parent: id, depth: f.depth + 1, start: stop, members: g, end: false });
    }
    if (ended.length > 0) {
      const endFrame: Frame = { parent: id, depth: f.depth + 1, start: stop, members: ended, end: true };
      // Keep children ordered by smallest member.
      let at = 0;
      while (at < next.length && next[at].members[0] < ended[0]) at++;
      next.splice(at, 0, endFrame);
    }
    for (let c = next.length - 1; c >= 0; c--) stack.push(next[c]);
  }
  return { steps, roots, stepOf, lambdaSize, leafOf, lengths };
}

/** The token ids of one step (the same in every member). */
export function stepTokens(tree: PrefixTree, completions: readonly Tokens[], stepId: number): number[] {
  const step = tree.steps[stepId];
  if (step === undefined) {
    throw new UserError(`stepTokens: no step ${stepId} (the tree has ${tree.steps.length} steps)`);
  }
  const y = completions[step.members[0]];
  const out: number[] = new Array(step.length);
  for (let t = 0; t < step.length; t++) out[t] = y[step.start + t];
  return out;
}

/** Number of completions the tree was built from. */
export function groupSize(tree: PrefixTree): number {
  return tree.leafOf.length;
}

/** The step ids completion `i` passes from the root to its leaf (empty for an empty completion). */
export function pathOf(tree: PrefixTree, i: number): number[] {
  if (!Number.isInteger(i) || i < 0 || i >= tree.leafOf.length) {
    throw new UserError(`pathOf: no completion ${i} (the group has ${tree.leafOf.length})`);
  }
  const path: number[] = [];
  for (let s = tree.leafOf[i]; s >= 0; s = tree.steps[s].parent) path.push(s);
  return path.reverse();
}
