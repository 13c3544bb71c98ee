/**
 * One completion against one gold answer: extract (src/math/extract.ts), then compare
 * (src/math/equivalence.ts). The gold answer is a dataset's `answer`, or the boxed answer of its solution
 * (`goldFromSolution`).
 */
import { isEquivalent, type EquivalenceOptions } from "./equivalence.js";
import { extractAnswer, lastBoxed, type AnswerSource, type ExtractOptions } from "./extract.js";

export type GradeOptions = ExtractOptions & EquivalenceOptions;

export interface Grade {
  correct: boolean;
  /** the extracted answer, raw; null when the completion has none */
  extracted: string | null;
  source: AnswerSource | null;
}

export function grade(completion: string, gold: string, opts: GradeOptions = {}): Grade {
  const e = extractAnswer(completion, opts);
  if (e === null) return { correct: false, extracted: null, source: null };
  return { correct: isEquivalent(e.answer, gold, opts), extracted: e.answer, source: e.source };
}

/** The gold answer inside a worked solution: its last `\boxed{...}`, or null. */
export function goldFromSolution(solution: string): string | null {
  return lastBoxed(solution);
}
