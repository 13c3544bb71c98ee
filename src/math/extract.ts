/**
 * Finding the answer in a completion: the content of the last `\boxed{...}` (or `\fbox{...}`) with its
 * nested braces, `\boxed 5` without braces, else the configured fallbacks in order: the phrase
 * "final answer is ..." and the last number of the text. A truncated last box (no closing brace) does not
 * count: the last box that closes does.
 */

export type AnswerSource = "boxed" | "final_answer" | "last_number";
export type Fallback = Exclude<AnswerSource, "boxed">;

export interface ExtractOptions {
  /** What to try, in order, when no box closes. Default: none (the authors' reward reads the box only). */
  fallbacks?: readonly Fallback[];
}

export interface Extracted {
  answer: string;
  source: AnswerSource;
}

export const FALLBACKS: readonly Fallback[] = ["final_answer", "last_number"];

const BOX = /\\(?:boxed|fbox)(?![a-zA-Z])/g;

/** The box's content starting at `from` (just after `\boxed`), and where it ends; null if it does not close. */
function boxAt(text: string, from: number): { content: string; end: number } | null {
  let i = from;
  while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  if (text[i] === "{") {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const c = text[j];
      if (c === "\\") {
        j++; // an escaped brace (\{ \}) does not open or close the box
        continue;
      }
      if (c === "{") depth++;
      else if (c === "}" && --depth === 0) return { content: text.slice(i + 1, j), end: j + 1 };
    }
    return null;
  }
  // `\boxed 5`: one TeX argument without braces, read as the run of characters up to a space or `$`
  if (i === from) return null; // `\boxedx` is another command
  const m = /^[^\s$]+/.exec(text.slice(i));
  return m ? { content: m[0], end: i + m[0].length } : null;
}

/** The content of the last `\boxed{...}` / `\fbox{...}` that closes, or null. */
export function lastBoxed(text: string): string | null {
  const starts: number[] = [];
  for (const m of text.matchAll(BOX)) starts.push(m.index + m[0].length);
  for (let k = starts.length - 1; k >= 0; k--) {
    const box = boxAt(text, starts[k]);
    if (box) return box.content;
  }
  return null;
}

/**
 * The offset just past the closing brace of the first `\boxed{...}` of `text`, or -1 while it has not closed
 * (the math env's stop rule: generation ends once the first box closes).
 */
export function firstBoxedEnd(text: string): number {
  BOX.lastIndex = 0;
  const m = BOX.exec(text);
  BOX.lastIndex = 0;
  if (!m) return -1;
  const box = boxAt(text, m.index + m[0].length);
  // `\boxed 5` has no closing mark: at the end of the text it may still be growing
  if (!box || (box.end === text.length && text[box.end - 1] !== "}")) return -1;
  return box.end;
}

const FINAL_ANSWER = /final answer is[:\s]*/gi;
// a number as people write it: sign, digits with optional thousands commas, decimals, or a/b
const NUMBER = /-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\/\d+)?|-?\.\d+/g;

function finalAnswer(text: string): string | null {
  let last: RegExpExecArray | null = null;
  for (const m of text.matchAll(FINAL_ANSWER)) last = m as RegExpExecArray;
  if (!last) return null;
  const rest = text.slice(last.index + last[0].length);
  const boxed = lastBoxed(rest);
  if (boxed !== null) return boxed;
  // up to the end of the sentence: a period followed by a space or the end, or a line break
  const m = /^(?:\$([^$]*)\$|(.*?))(?:\.\s|\.$|\n|$)/s.exec(rest);
  const answer = (m?.[1] ?? m?.[2] ?? "").trim();
  return answer === "" ? null : answer;
}

function lastNumber(text: string): string | null {
  let last: string | null = null;
  for (const m of text.matchAll(NUMBER)) last = m[0];
  return last;
}

/** The answer of a completion, or null when it has none (no closed box and no fallback found one). */
export function extractAnswer(text: string, opts: ExtractOptions = {}): Extracted | null {
  const boxed = lastBoxed(text);
  if (boxed !== null) return { answer: boxed, source: "boxed" };
  for (const f of opts.fallbacks ?? []) {
    const answer = f === "final_answer" ? finalAnswer(text) : lastNumber(text);
    if (answer !== null) return { answer, source: f };
  }
  return null;
}
