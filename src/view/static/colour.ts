import { el } from "./dom.js";
// Colour: ColorBrewer RdBu (diverging; blue = positive advantage, red = negative) and a sequential purple.

export const RDBU = ["#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac"];
export const PURPLES = ["#fcfbfd", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#4a1486"];

function hexToRgb(h: string): [number, number, number] {
  return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
}

function ramp(stops: string[], t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(stops[i]);
  const b = hexToRgb(stops[i + 1]);
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Diverging colour of v in [-m, m]. */
export const diverging = (v: number, m: number): string => ramp(RDBU, m > 0 ? 0.5 + v / (2 * m) : 0.5);
/** Sequential colour of v in [0, m]. */
export const sequential = (v: number, m: number): string => ramp(PURPLES, m > 0 ? v / m : 0);

/** A symmetric colour domain that reads well: at least `floor`, rounded up to 1, 2 or 5 times a power of ten. */
export function niceMax(x: number, floor: number): number {
  const v = Math.max(x, floor);
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v - 1e-12) return m * p;
  return 10 * p;
}

export function legend(caption: string, stops: string[], lo: string, mid: string | null, hi: string): HTMLElement {
  const bar = el("div", { class: "bar" });
  bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  const ticks = el("div", { class: "ticks" }, el("span", {}, lo), el("span", {}, mid ?? ""), el("span", {}, hi));
  return el("div", { class: "legend" }, el("span", { class: "scale" }, bar, ticks), el("span", {}, caption));
}
