/** DOM helpers of the viewer page, number formats, and the one tooltip. */
const SVG_NS = "http://www.w3.org/2000/svg";

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

export function svgEl(tag: string, attrs: Record<string, string | number> = {}): SVGElement {
  const e = document.createElementNS(SVG_NS, tag) as SVGElement;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** Signed number with a true minus sign, e.g. "+1.55", "\u22120.22". */
export function signed(x: number, digits = 2): string {
  if (Object.is(x, -0) || Math.abs(x) < 0.5 * 10 ** -digits) return (0).toFixed(digits);
  return (x > 0 ? "+" : "\u2212") + Math.abs(x).toFixed(digits);
}

export function num(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) return x.toExponential(2).replace("-", "\u2212");
  return Number(x.toFixed(digits)).toString().replace("-", "\u2212");
}

export const tooltip = el("div", { id: "tooltip", role: "tooltip" });

export function showTip(ev: MouseEvent, parts: (Node | string)[]): void {
  tooltip.replaceChildren(...parts);
  tooltip.style.display = "block";
  const pad = 14;
  const w = tooltip.offsetWidth;
  const h = tooltip.offsetHeight;
  let x = ev.clientX + pad;
  let y = ev.clientY + pad;
  if (x + w > window.innerWidth - 4) x = ev.clientX - w - pad;
  if (y + h > window.innerHeight - 4) y = ev.clientY - h - pad;
  tooltip.style.left = `${Math.max(4, x)}px`;
  tooltip.style.top = `${Math.max(4, y)}px`;
}

export function hideTip(): void {
  tooltip.style.display = "none";
}

/** An axis tick: short, and still distinct for tiny values such as a learning rate of 3e-4. */
export function tick(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) < 1e-2 || Math.abs(v) >= 1e5) return v.toExponential(1).replace("-", "\u2212");
  return Number(v.toPrecision(3)).toString().replace("-", "\u2212");
}
