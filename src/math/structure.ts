/**
 * The shape of a normalised answer, read from its top level (brackets balanced, `{...}` groups opaque):
 * a multiple-choice letter, a matrix, a union of intervals, a set `\{...\}` (unordered), a bracketed
 * sequence `(a, b]` (an interval or a tuple: ordered, brackets compared), a bare list `a, b` (unordered, the
 * way solutions are listed), an equation `lhs = rhs`, or a scalar expression.
 */

export type Answer =
  | { kind: "letter"; letter: string }
  | { kind: "matrix"; rows: string[][] }
  | { kind: "union"; parts: string[] }
  | { kind: "set"; items: string[] }
  | { kind: "sequence"; open: string; close: string; items: string[] }
  | { kind: "list"; items: string[] }
  | { kind: "equation"; lhs: string; rhs: string }
  | { kind: "scalar"; expr: string };

const OPEN = new Set(["(", "[", "{"]);
const CLOSE = new Set([")", "]", "}"]);

/** Splits `s` at top-level occurrences of `sep` (outside any bracket pair; `\{`, `\}` count as brackets). */
export function splitTopLevel(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") {
      if (s[i + 1] === "{" || s[i + 1] === "}") depth += s[i + 1] === "{" ? 1 : -1;
      if (depth === 0 && s.startsWith(sep, i)) {
        parts.push(s.slice(start, i));
        start = i + sep.length;
        i += sep.length - 1;
        continue;
      }
      i++;
      continue;
    }
    if (OPEN.has(c)) depth++;
    else if (CLOSE.has(c)) depth--;
    else if (depth === 0 && s.startsWith(sep, i)) {
      parts.push(s.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/** True when s[0] and s[s.length-1] are one bracket pair enclosing everything (`(a)(b)` is not). */
function enclosed(s: string, openLen: number, closeLen: number): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") {
      if (s[i + 1] === "{") depth++;
      else if (s[i + 1] === "}") depth--;
      i++;
    } else if (OPEN.has(c)) depth++;
    else if (CLOSE.has(c)) depth--;
    if (depth === 0 && i < s.length - closeLen) return false;
  }
  return depth === 0 && openLen > 0;
}

const MATRIX = /^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?([\s\S]*)\\end\{\1\}$/;
const LETTER = /^\(?([A-E])\)?$/;

export function parseAnswer(s: string): Answer {
  const letter = LETTER.exec(s);
  if (letter) return { kind: "letter", letter: letter[1] };
  const matrix = MATRIX.exec(s);
  if (matrix) {
    const rows = splitTopLevel(matrix[2], "\\\\").map((r) => r.trim()).filter((r) => r !== "");
    return { kind: "matrix", rows: rows.map((r) => splitTopLevel(r, "&").map((c) => c.trim())) };
  }
  const union = splitTopLevel(s, "\\cup");
  if (union.length > 1) return { kind: "union", parts: union };
  if (s.startsWith("\\{") && s.endsWith("\\}") && enclosed(s, 2, 2)) {
    const inner = s.slice(2, -2);
    return { kind: "set", items: inner === "" ? [] : splitTopLevel(inner, ",") };
  }
  const items = splitTopLevel(s, ",");
  const first = s[0];
  const last = s[s.length - 1];
  if (items.length === 1 && (first === "(" || first === "[") && (last === ")" || last === "]") && enclosed(s, 1, 1)) {
    const inner = splitTopLevel(s.slice(1, -1), ",");
    if (inner.length > 1) return { kind: "sequence", open: first, close: last, items: inner };
  }
  if (items.length > 1) return { kind: "list", items };
  const sides = splitTopLevel(s, "=");
  if (sides.length === 2 && sides[0] !== "" && sides[1] !== "") return { kind: "equation", lhs: sides[0], rhs: sides[1] };
  return { kind: "scalar", expr: s };
}

/** `x = 3`, `f(x) = 3`, `a_1 = 3`: an equation whose left side names what the answer is, so `3` answers it. */
export function isNamingEquation(a: Answer): a is { kind: "equation"; lhs: string; rhs: string } {
  return a.kind === "equation" && /^(?:[a-zA-Z](?:_\{?\w+\}?)?(?:\([a-zA-Z]\))?|\\[a-zA-Z]+)$/.test(a.lhs);
}
