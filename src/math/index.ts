/**
 * lambda-grpo/math: grading of math answers (extraction, normalisation, equivalence with a time limit).
 * Pure TypeScript plus @cortex-js/compute-engine for the symbolic check; no engine, no trainer.
 */
export { extractAnswer, firstBoxedEnd, lastBoxed, FALLBACKS, type AnswerSource, type ExtractOptions, type Extracted, type Fallback } from "./extract.js";
export { normalize } from "./normalize.js";
export { isEquivalent, plainNumber, DEFAULT_TIME_LIMIT_MS, type EquivalenceOptions } from "./equivalence.js";
export { casAdmissible, MAX_CAS_CHARS, REL_TOL } from "./cas.js";
export { parseAnswer, splitTopLevel, type Answer } from "./structure.js";
export { grade, goldFromSolution, type Grade, type GradeOptions } from "./grade.js";
