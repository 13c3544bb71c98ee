/**
 * LaTeX answer normalisation: the spellings that mean the same answer are rewritten to one form before
 * any comparison, so `\dfrac12`, `\frac{1}{2}` and `\left(\frac{1}{2}\right)`-style variants meet as strings
 * where they can. What it does, in order:
 *  - math delimiters (`$...$`, `\(...\)`, `\[...\]`), `\displaystyle`, `\left`/`\right` (and `\bigl` etc.);
 *  - `\dfrac`/`\tfrac` -> `\frac`, `\dbinom`/`\tbinom` -> `\binom`, `\frac12` -> `\frac{1}{2}`,
 *    `\sqrt2` / `sqrt(2)` / `√2` -> `\sqrt{2}`;
 *  - `\text{}`, `\textbf{}`, `\mathrm{}`, `\mathbf{}`, `\mbox{}`, `\operatorname{}` unwrapped;
 *  - degrees (`^\circ`, `^{\circ}`, `°`, `\degree`), `\%`, `\$`, and a unit word after a value
 *    ("5 cm", "12 \text{ square units}", "3 dollars");
 *  - thousands separators (`1,000`, `1{,}000`, `1\,000`) in a number standing alone;
 *  - `\!`, `\,`, `\;`, `\:`, `~`, `\quad` and all spacing that LaTeX ignores;
 *  - trailing punctuation (`.`, `,`, `;`);
 *  - `∞`, `infinity`, `inf` -> `\infty`; `π` -> `\pi`.
 * `x = 3` against a bare `3` is a rule of the comparison (src/math/equivalence.ts), which sees both sides.
 */

const TEXT_COMMANDS = /\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mathit|mathsf|mathtt|mbox|operatorname|boldsymbol)\s*\{/g;

/**
 * Unit words dropped after a value: lengths, areas, time, money, angles, counts. Only a whole word after a
 * space (or from `\text{...}`) is dropped, so a variable such as the `m` of `3m` stays.
 */
const UNITS = [
  "square units", "sq units", "square feet", "square inches", "square meters", "square centimeters", "square cm",
  "cubic units", "cubic feet", "cubic inches", "cubic meters", "cubic centimeters",
  "units", "unit", "degrees", "degree", "radians", "dollars", "dollar", "cents", "cent",
  "meters", "meter", "metres", "centimeters", "millimeters", "kilometers", "cm", "mm", "km", "m",
  "inches", "inch", "feet", "foot", "ft", "yards", "yard", "miles", "mile", "mph",
  "seconds", "second", "minutes", "minute", "hours", "hour", "days", "day", "weeks", "years",
  "grams", "gram", "kilograms", "kg", "g", "pounds", "liters", "litres", "ml", "people", "ways", "students",
];
const UNIT_SUFFIX = new RegExp(`^(.*?\\S)\\s+(?:${UNITS.map((u) => u.replace(/ /g, "\\s+")).join("|")})(?:\\s*\\^\\{?[23]\\}?)?$`);

/** `\cmd{...}` with balanced braces replaced by what `f` makes of its content. */
function replaceBraced(s: string, re: RegExp, f: (content: string) => string): string {
  let out = "";
  let last = 0;
  re.lastIndex = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    const open = m.index + m[0].length - 1;
    let depth = 0;
    let close = -1;
    for (let j = open; j < s.length; j++) {
      if (s[j] === "\\") {
        j++;
        continue;
      }
      if (s[j] === "{") depth++;
      else if (s[j] === "}" && --depth === 0) {
        close = j;
        break;
      }
    }
    if (close < 0) break;
    out += s.slice(last, m.index) + f(s.slice(open + 1, close));
    last = close + 1;
    re.lastIndex = close + 1;
  }
  return out + s.slice(last);
}

function stripDelimiters(s: string): string {
  for (;;) {
    const t = s.trim();
    const m = /^\$\$?([\s\S]*?)\$?\$$/.exec(t) ?? /^\\\(([\s\S]*)\\\)$/.exec(t) ?? /^\\\[([\s\S]*)\\\]$/.exec(t);
    if (!m || m[1] === t) return t;
    s = m[1];
  }
}

export function normalize(answer: string): string {
  let s = stripDelimiters(answer);
  s = s.replace(/\\displaystyle|\\textstyle/g, "");
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])\s*(\.)?/g, "");
  s = s.replace(/\\[dt]frac(?![a-zA-Z])/g, "\\frac").replace(/\\[dt]binom(?![a-zA-Z])/g, "\\binom");
  // text-like wrappers: their content, set off by spaces so a unit word stays a word
  s = replaceBraced(s, TEXT_COMMANDS, (c) => ` ${c} `);
  s = s.replace(/(?<!\\)\\(?:!|,|;|:|>| |quad|qquad|thinspace|medspace|thickspace)(?![a-zA-Z])|~/g, " ");
  // degrees, percent, currency
  s = s.replace(/\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![a-zA-Z])|\\circ(?![a-zA-Z])/g, "");
  s = s.replace(/\\?%|\\\$|\$/g, "");
  s = s.replace(/∞|\binfinity\b|\binf\b/gi, "\\infty").replace(/π/g, "\\pi ");
  s = s.replace(/√\s*(\d+|[a-zA-Z])/g, "\\sqrt{$1}").replace(/(?<!\\)\bsqrt\s*\(([^()]*)\)/g, "\\sqrt{$1}");
  s = s.replace(/(?<!\\)\bsqrt\s*\{/g, "\\sqrt{");
  s = s.replace(/\\sqrt\s*([0-9a-zA-Z])/g, "\\sqrt{$1}");
  // \frac12, \frac1{2}, \frac{1}2: one-character arguments braced
  s = s.replace(/\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])/g, "\\frac{$1}{$2}");
  s = s.replace(/\\frac\s*([0-9a-zA-Z])\s*\{/g, "\\frac{$1}{");
  s = s.replace(/\\frac\s*(\{[^{}]*\})\s*([0-9a-zA-Z])/g, "\\frac$1{$2}");
  s = s.trim();
  for (let prev = ""; prev !== s; ) {
    prev = s;
    s = s.replace(/[.,;]+$/, "").trim();
    const unit = UNIT_SUFFIX.exec(s);
    if (unit) s = unit[1].trim();
  }
  s = s.replace(/\{,\}/g, ",");
  const t = s.replace(/\s+/g, "");
  if (/^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(t) || /^[-+]?\d{1,3}(?:\s\d{3})+(?:\.\d+)?$/.test(s)) return t.replace(/,/g, "").replace(/^\+/, "");
  // spacing: none, except where it separates a command from a following letter (`\pi r`)
  s = s.replace(/(\\[a-zA-Z]+)?\s+/g, (all, cmd: string | undefined, offset: number, whole: string) => {
    if (cmd && /[a-zA-Z]/.test(whole[offset + all.length] ?? "")) return `${cmd} `;
    return cmd ?? "";
  });
  return s.replace(/^\+(?=\d)/, "");
}
