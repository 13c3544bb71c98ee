/**
 * Third-party browser assets (from node_modules) inlined into self-contained HTML: no CDN, no network.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const cache = new Map<string, string>();

/** The text of a file inside an installed package, e.g. asset("uplot/dist/uPlot.iife.min.js"). */
export function asset(specifier: string): string {
  let text = cache.get(specifier);
  if (text === undefined) {
    text = readFileSync(require.resolve(specifier), "utf8");
    cache.set(specifier, text);
  }
  return text;
}

/** A <script> element holding the code; "</script" inside is escaped so it cannot end the element early. */
export function inlineScript(code: string): string {
  return `<script>${code.replace(/<\/script/gi, "<\\/script")}</script>`;
}

export function inlineStyle(css: string): string {
  return `<style>${css.replace(/<\/style/gi, "<\\/style")}</style>`;
}

/** JSON embedded in a page as data, safe against "</script>" and U+2028/2029 inside strings. */
export function inlineJson(id: string, value: unknown): string {
  const json = JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
  return `<script type="application/json" id="${id}">${json}</script>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
