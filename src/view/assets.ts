/**
 * The browser code of the viewer page, and the third-party libraries it uses, as text (served by the viewer,
 * inlined by the report). All from this package or node_modules: no CDN, no network.
 *
 * The page's own code is TypeScript, src/view/static/viewer.ts, type-checked with the DOM library like the
 * rest of the project. `npm run build` (tsc, the only build step) compiles it to dist/src/view/static/viewer.js
 * beside the compiled server, which reads it from there. Run from source (tsx, the tests), there is no .js
 * beside this file, so it is compiled on the fly with the TypeScript compiler (a devDependency, present
 * wherever the sources are).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { asset } from "../report/assets.js";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** uPlot (MIT), the run curves. */
export const uplotScript = (): string => asset("uplot/dist/uPlot.iife.min.js");
export const uplotStyle = (): string => asset("uplot/dist/uPlot.min.css");

/** d3-hierarchy (ISC), the tree layout; its UMD build defines the global `d3`. */
export function d3HierarchyScript(): string {
  // The package exports only its entry points, so the UMD build is found beside the main module.
  return asset(join(dirname(require.resolve("d3-hierarchy")), "d3-hierarchy.min.js"));
}

let viewerText: string | null = null;
/** The page's script (an ES module without imports; its globals `uPlot` and `d3` come from the two above). */
export async function viewerScript(): Promise<string> {
  if (viewerText !== null) return viewerText;
  const compiled = join(here, "static", "viewer.js");
  const source = join(here, "static", "viewer.ts");
  let code: string;
  if (existsSync(compiled)) {
    code = readFileSync(compiled, "utf8");
  } else if (existsSync(source)) {
    const ts = (await import("typescript")).default;
    code = ts.transpileModule(readFileSync(source, "utf8"), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
      fileName: "viewer.ts",
    }).outputText;
  } else {
    throw new Error(`viewer page script not found (${compiled}); run 'npm run build'`);
  }
  // A source map the page cannot fetch would only make the browser's console complain.
  viewerText = code.replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
  return viewerText;
}
