/**
 * The viewer's HTML page, in its two forms: served (scripts fetched from the local server, data from its
 * JSON API) and report (one offline file: scripts, styles and data inlined, no request of any kind).
 */
import { createHash } from "node:crypto";
import { escapeHtml, inlineJson, inlineStyle } from "../report/assets.js";
import { d3Script, uplotScript, uplotStyle, viewerScript } from "./assets.js";
import { VIEWER_CSS } from "./style.js";

/** Element id of the report's embedded data (read by static/viewer.ts). */
export const DATA_ELEMENT_ID = "lgrpo-data";

/** Paths of the served page's assets: the whole list of files the server sends besides the run's own. */
export const ASSET_PATHS = {
  "/assets/uPlot.iife.min.js": { type: "text/javascript; charset=utf-8", text: async () => uplotScript() },
  "/assets/uPlot.min.css": { type: "text/css; charset=utf-8", text: async () => uplotStyle() },
  "/assets/d3.min.js": { type: "text/javascript; charset=utf-8", text: async () => d3Script() },
  "/assets/viewer.js": { type: "text/javascript; charset=utf-8", text: viewerScript },
  "/assets/viewer.css": { type: "text/css; charset=utf-8", text: async () => VIEWER_CSS },
} as const;

/** The served page's Content-Security-Policy: its own scripts only, requests to its own origin only. */
export const SERVER_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function shell(title: string, head: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
${head}
</head>
<body>
<noscript>This page draws its figures with JavaScript; please enable it.</noscript>
<div id="app"></div>
${body}
</body>
</html>
`;
}

/** The page the viewer server sends for "/". */
export function servedPage(title: string): string {
  const head = [
    '<link rel="stylesheet" href="/assets/uPlot.min.css">',
    '<link rel="stylesheet" href="/assets/viewer.css">',
  ].join("\n");
  const body = [
    '<script src="/assets/uPlot.iife.min.js"></script>',
    '<script src="/assets/d3.min.js"></script>',
    '<script type="module" src="/assets/viewer.js"></script>',
  ].join("\n");
  return shell(title, head, body);
}

const sha256 = (text: string): string => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

/**
 * The self-contained report: `data` is embedded as JSON. Its Content-Security-Policy allows exactly its own
 * inline scripts (by hash) and no request at all, so the file provably works, and stays, offline.
 */
export async function reportPage(title: string, data: unknown): Promise<string> {
  // Escaped as inlineScript does; written out here so the hashes are of exactly the element's text.
  const scripts = [uplotScript(), d3Script()].map((code) => code.replace(/<\/script/gi, "<\\/script"));
  const viewer = (await viewerScript()).replace(/<\/script/gi, "<\\/script");
  const csp =
    `default-src 'none'; script-src ${[...scripts, viewer].map(sha256).join(" ")}; style-src 'unsafe-inline'; ` +
    "img-src data:; base-uri 'none'; form-action 'none'";
  const head = [
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    inlineStyle(uplotStyle()),
    inlineStyle(VIEWER_CSS),
  ].join("\n");
  const body = [
    inlineJson(DATA_ELEMENT_ID, data),
    ...scripts.map((s) => `<script>${s}</script>`),
    `<script type="module">${viewer}</script>`,
  ].join("\n");
  return shell(title, head, body);
}
