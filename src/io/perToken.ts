/**
 * The per-token output of `prm`: one JSON line per completion, written in pieces as it is formed.
 *
 *   {"group", "step"?, "index", "reward"?, "advantage"?, "lambda"?: [...], "processReward"?: [...],
 *    "processAdvantage"?: [...], "node"?: [...], "tokens"?: [...]}
 *
 * Every per-token field but `tokens` is a function of the token's process step (|lambda| = the step's member
 * count, R and A its values, `node` its id), so each step's numbers are formatted once and a span of L tokens
 * is that text repeated L times: the cost of the output is string copying, not number formatting.
 *
 * Pieces are handed to the sink once they pass FLUSH_CHARS, and no piece is longer than a span of
 * MAX_REPEAT tokens, so a group of any size streams out in bounded memory (a whole group built as one
 * string stops at V8's string limit, ~2^29 characters).
 */
import type { GroupAdvantages, PrefixTree } from "../prm/index.js";
import { UserError } from "../util/errors.js";
import type { RolloutGroup } from "./rollouts.js";

/** What `prm --fields` can write, in output order. */
export const PER_TOKEN_FIELDS = ["reward", "advantage", "lambda", "processReward", "processAdvantage", "node", "tokens"] as const;
export type PerTokenField = (typeof PER_TOKEN_FIELDS)[number];

/** Everything but the input's own tokens (the reader has them already). */
export const DEFAULT_FIELDS: readonly PerTokenField[] = ["reward", "advantage", "lambda", "processReward", "processAdvantage", "node"];

/** Parses `--fields a,b,c` (any order; written in PER_TOKEN_FIELDS order). */
export function parseFields(spec: string): PerTokenField[] {
  const names = spec.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length === 0) throw new UserError(`--fields: expected a comma-separated list of ${PER_TOKEN_FIELDS.join(", ")}, got '${spec}'`);
  for (const n of names) {
    if (!(PER_TOKEN_FIELDS as readonly string[]).includes(n)) {
      throw new UserError(`--fields: unknown field '${n}' (expected some of ${PER_TOKEN_FIELDS.join(", ")})`);
    }
  }
  return PER_TOKEN_FIELDS.filter((f) => names.includes(f));
}

/** Characters gathered before a write: large enough that per-write costs vanish. */
const FLUSH_CHARS = 1 << 20;
/** Tokens per repeated piece: keeps any one string far below V8's limit whatever the span length. */
const MAX_REPEAT = 1 << 16;

export interface TextSink {
  write(text: string): Promise<void>;
}

type StepArrayField = "lambda" | "processReward" | "processAdvantage" | "node";

/**
 * Writes the output lines of one group (one per completion, "\n"-terminated) to `sink`, in pieces.
 * `adv` is groupAdvantages(tree, rewards) of the group.
 */
export async function writePerTokenGroup(
  sink: TextSink,
  group: RolloutGroup,
  tree: PrefixTree,
  adv: GroupAdvantages,
  fields: readonly PerTokenField[],
): Promise<void> {
  const { steps } = tree;
  const has = (f: PerTokenField): boolean => fields.includes(f);
  const stepFields = (["lambda", "processReward", "processAdvantage", "node"] as const).filter(has);
  // Per step and field: its number as text, formatted once for all the tokens through the step.
  const cell: Record<StepArrayField, string[]> = { lambda: [], processReward: [], processAdvantage: [], node: [] };
  for (const f of stepFields) {
    const c = new Array<string>(steps.length);
    for (let s = 0; s < steps.length; s++) {
      const v = f === "lambda" ? steps[s].members.length : f === "processReward" ? adv.stepRewards[s] : f === "processAdvantage" ? adv.stepAdvantages[s] : s;
      c[s] = `${v}`;
    }
    cell[f] = c;
  }
  const head = `{"group":${JSON.stringify(group.id)}${group.step === null ? "" : `,"step":${group.step}`}`;
  let buf = "";
  const flush = async (): Promise<void> => {
    if (buf.length >= FLUSH_CHARS) {
      await sink.write(buf);
      buf = "";
    }
  };
  // Within one array: whether the next piece is its first (no "," before it).
  let first = true;
  const put = (text: string, n: number): void => {
    buf += first ? "" : ",";
    buf += n === 1 ? text : `${`${text},`.repeat(n - 1)}${text}`;
    first = false;
  };
  for (let i = 0; i < group.completions.length; i++) {
    const { reward, tokens } = group.completions[i];
    buf += `${head},"index":${i}`;
    if (has("reward")) buf += `,"reward":${reward}`;
    if (has("advantage")) buf += `,"advantage":${adv.advantages[i]}`;
    if (stepFields.length > 0) {
      const path: number[] = [];
      for (let s = tree.leafOf[i]; s >= 0; s = steps[s].parent) path.push(s);
      path.reverse();
      for (const f of stepFields) {
        buf += `,"${f}":[`;
        first = true;
        const c = cell[f];
        for (const s of path) {
          for (let left = steps[s].length; left > 0; left -= MAX_REPEAT) {
            put(c[s], Math.min(left, MAX_REPEAT));
            await flush();
          }
        }
        buf += "]";
      }
    }
    if (has("tokens")) {
      buf += `,"tokens":[`;
      first = true;
      for (let t = 0; t < tokens.length; t += MAX_REPEAT) {
        put(tokens.slice(t, t + MAX_REPEAT).join(","), 1);
        await flush();
      }
      buf += "]";
    }
    buf += "}\n";
    await flush();
  }
  if (buf.length > 0) await sink.write(buf);
}
