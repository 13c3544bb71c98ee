/**
 * One rollout group as the viewer draws it: the prefix tree B(G) with each process step's tokens, |lambda|,
 * R and A, and each completion's path through it with its per-token loss weights under GRPO and lambda-GRPO.
 * Every number comes from the PRM library (src/prm); this file only reads the group and reshapes the result.
 *
 * The view is per step, not per token: a completion's tokens, R, A and |lambda| are those of the steps on its
 * path, so a shared step's tokens travel once (the JSON of a 36 x 1,000-token group stays ~200 KB).
 */
import { open } from "node:fs/promises";
import { basename } from "node:path";
import {
  analyzeGroup,
  groupScale,
  lossWeights,
  pathOf,
  stepTokens,
  type LossType,
  type ProcessStep,
  type RewardScaling,
} from "../prm/index.js";
import { readRolloutGroups, type RolloutGroup } from "../io/rollouts.js";
import type { TextEncoder } from "../io/tokenizer.js";
import { UserError } from "../util/errors.js";
import type { GroupEntry } from "./runIndex.js";

/** A node of B(G) as drawn: the tree's own fields (src/prm/tree.ts), then what the page shows of it. */
export interface StepView extends ProcessStep {
  /** |lambda| = members.length. */
  lambdaSize: number;
  /** R: the mean reward of the members. */
  processReward: number;
  /** A = (R - group mean) / denom, scaled as the outcome advantages. */
  processAdvantage: number;
  tokens: number[];
  /** Per-token text when a tokenizer is known, else null (each token decoded alone: for labels of one token). */
  pieces: string[] | null;
  /**
   * The step's text when a tokenizer is known, else null: its tokens decoded as one run, after the tokens
   * before it on the path (spanText), so byte-level BPE and SentencePiece text keeps its spaces.
   */
  text: string | null;
  /** A span longer than COLLAPSE.over tokens is drawn as its first and last COLLAPSE.edge tokens: their text (null: ids). */
  head: string | null;
  tail: string | null;
  /** Completions that end in this step (it is their leaf). */
  leafOf: number[];
  /**
   * The step's total signed weight in the loss at one of its token positions, sum over members j of
   * w_j * a_j: under GRPO |lambda| times that of a lone token with advantage A, under lambda-GRPO once.
   * In units of 1/T (T = the group's tokens), so a lone token with a = 1 under "dapo" has weight 1.
   */
  pushGrpo: number;
  pushLambda: number;
}

export interface CompletionView {
  index: number;
  reward: number;
  /** Outcome advantage a_i. */
  advantage: number;
  length: number;
  /** Step ids from the root to the leaf. */
  path: number[];
  /** Per step of `path`: the loss weight of each of its tokens (constant within a step), in units of 1/T. */
  wGrpo: number[];
  wLambda: number[];
  pathDepth: number;
  intermediateProportion: number;
}

export interface GroupView {
  /** The viewer's handle of the group (its position in the run's index). */
  handle: number;
  id: string | number;
  step: number | null;
  /** First line of the group in rollouts.jsonl. */
  line: number;
  k: number;
  /** T: tokens of all completions. */
  tokens: number;
  rewardMean: number;
  rewardStd: number;
  lossType: LossType;
  flat: boolean;
  pathDepthMean: number;
  intermediateProportionMean: number;
  /** Spans longer than `over` tokens are drawn collapsed to their first and last `edge` tokens (COLLAPSE). */
  collapse: { over: number; edge: number };
  roots: number[];
  steps: StepView[];
  completions: CompletionView[];
}

/** Token ids -> text, for display (a tokenizer.json's HFTokenizer, src/io/tokenizer.ts, special tokens kept). */
export interface TokenDecoder {
  decode(ids: number[]): string;
}

/**
 * Long spans in the tree: a box holds ~2 lines of text, so a span of more than `over` tokens shows its first
 * and last `edge` tokens and its length; its whole text is a click away.
 */
export const COLLAPSE = { over: 16, edge: 6 };

/**
 * Tokens before a span decoded with it, so the span's text is what it reads as inside the completion: a
 * SentencePiece piece "\u2581word" decodes to "word" at the start of a text but " word" after another, and a
 * character whose UTF-8 bytes are split over two byte-level tokens needs the tokens before it. Eight covers
 * both (a piece's space, at most three leading bytes of a character) with room.
 */
const CONTEXT_TOKENS = 8;

/**
 * The text of `span` as it reads after `context`: decode(context + span) minus decode(context) when the
 * first extends the second. An incomplete character at the end of the context (U+FFFD) is completed by the
 * span, which then starts with it. Else (a decoder that rewrites across the boundary) the span alone.
 */
export function spanText(decoder: TokenDecoder, context: number[], span: number[]): string {
  if (span.length === 0) return "";
  if (context.length === 0) return decoder.decode(span);
  const whole = decoder.decode([...context, ...span]);
  let before = decoder.decode(context);
  if (whole.startsWith(before)) return whole.slice(before.length);
  before = before.replace(/\uFFFD+$/, "");
  if (whole.startsWith(before)) return whole.slice(before.length);
  return decoder.decode(span);
}

/** Six significant digits: what a person reads, and a third of the JSON of full doubles. */
function round(x: number): number {
  return x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(6));
}

/** Reads the bytes of one indexed group and parses them with the project's rollout reader (exact line numbers). */
export async function readGroup(file: string, entry: GroupEntry, tokenizer?: TextEncoder): Promise<RolloutGroup> {
  const first = entry.ranges[0];
  const last = entry.ranges[entry.ranges.length - 1];
  const handle = await open(file, "r");
  let bytes: Buffer;
  try {
    bytes = Buffer.alloc(last.offset + last.length - first.offset);
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, first.offset);
    if (bytesRead !== bytes.length) throw new UserError(`${basename(file)}: changed since it was indexed (reload the page)`);
  } finally {
    await handle.close();
  }
  // Blank lines keep the reader's line numbers those of the file (the reader skips them).
  async function* source(): AsyncGenerator<Buffer> {
    let line = 1;
    for (const r of entry.ranges) {
      if (r.line > line) yield Buffer.alloc(r.line - line, 0x0a);
      yield bytes.subarray(r.offset - first.offset, r.offset - first.offset + r.length);
      yield Buffer.from("\n");
      line = r.line + 1;
    }
  }
  const groups: RolloutGroup[] = [];
  for await (const g of readRolloutGroups(source(), { file: basename(file), tokenizer })) groups.push(g);
  const g = groups[0];
  if (groups.length !== 1 || String(g.id) !== String(entry.id) || g.step !== entry.step) {
    throw new UserError(`${basename(file)}: changed since it was indexed (reload the page)`);
  }
  return g;
}

export interface ViewOptions {
  lossType: LossType;
  /** Advantage scaling as in training (default "group"); "batch" needs the step's reward std. */
  scale?: RewardScaling;
  batchStd?: number;
  /** "dr_grpo" normaliser; default the group's longest completion. */
  maxCompletionLength?: number;
  decoder?: TokenDecoder;
}

/** The drawn form of one group; the group alone is the batch (other groups of a step only rescale weights). */
export function groupView(handle: number, group: RolloutGroup, opts: ViewOptions): GroupView {
  const tokens = group.completions.map((c) => c.tokens);
  const rewards = group.completions.map((c) => c.reward);
  const advOpts = { scale: opts.scale, batchStd: opts.batchStd };
  const an = analyzeGroup(tokens, rewards, advOpts);
  const tree = an.tree;
  const k = tokens.length;
  let total = 0;
  for (const y of tokens) total += y.length;
  const weightOpts = { lossType: opts.lossType, maxCompletionLength: opts.maxCompletionLength };
  const [wG] = lossWeights([tree], { ...weightOpts, lambda: false });
  const [wL] = lossWeights([tree], { ...weightOpts, lambda: true });
  const unit = total; // weights in units of 1/T

  const { mean, std } = groupScale(rewards, advOpts);

  const leafOf: number[][] = tree.steps.map(() => []);
  for (let i = 0; i < k; i++) if (tree.leafOf[i] >= 0) leafOf[tree.leafOf[i]].push(i);

  const decodeCache = new Map<number, string>();
  const piece = (id: number): string => {
    let s = decodeCache.get(id);
    if (s === undefined) {
      s = opts.decoder!.decode([id]);
      decodeCache.set(id, s);
    }
    return s;
  };

  const steps: StepView[] = tree.steps.map((s) => {
    const ids = stepTokens(tree, tokens, s.id);
    const dec = opts.decoder;
    // Every member holds the path up to the step; the first one's tokens give the context.
    const path = s.length > 0 ? tokens[s.members[0]] : [];
    const before = (end: number): number[] => path.slice(Math.max(0, end - CONTEXT_TOKENS), end);
    const collapsed = s.length > COLLAPSE.over;
    let pushGrpo = 0;
    let pushLambda = 0;
    if (s.length > 0) {
      for (const j of s.members) {
        pushGrpo += wG[j][s.start] * an.advantages[j];
        pushLambda += wL[j][s.start] * an.advantages[j];
      }
    }
    return {
      ...s,
      lambdaSize: s.members.length,
      processReward: round(an.stepRewards[s.id]),
      processAdvantage: round(an.stepAdvantages[s.id]),
      tokens: ids,
      pieces: dec ? ids.map(piece) : null,
      text: dec ? spanText(dec, before(s.start), ids) : null,
      head: dec && collapsed ? spanText(dec, before(s.start), ids.slice(0, COLLAPSE.edge)) : null,
      tail: dec && collapsed ? spanText(dec, before(s.start + s.length - COLLAPSE.edge), ids.slice(-COLLAPSE.edge)) : null,
      leafOf: leafOf[s.id],
      pushGrpo: round(pushGrpo * unit),
      pushLambda: round(pushLambda * unit),
    };
  });

  const completions: CompletionView[] = [];
  for (let i = 0; i < k; i++) {
    const path = pathOf(tree, i);
    const at = (w: Float32Array[], s: number): number => {
      const step = tree.steps[s];
      return step.length > 0 ? round(w[i][step.start] * unit) : 0;
    };
    completions.push({
      index: i,
      reward: rewards[i],
      advantage: round(an.advantages[i]),
      length: tokens[i].length,
      path,
      wGrpo: path.map((s) => at(wG, s)),
      wLambda: path.map((s) => at(wL, s)),
      pathDepth: an.pathDepths[i],
      intermediateProportion: round(an.intermediateProportions[i]),
    });
  }

  return {
    handle,
    id: group.id,
    step: group.step,
    line: group.line,
    k,
    tokens: total,
    rewardMean: round(mean),
    rewardStd: round(std),
    lossType: opts.lossType,
    flat: an.flat,
    pathDepthMean: round(an.overlap.pathDepthMean),
    intermediateProportionMean: round(an.overlap.intermediateProportionMean),
    collapse: COLLAPSE,
    roots: tree.roots,
    steps,
    completions,
  };
}
