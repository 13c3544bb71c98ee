/**
 * The browser code of the viewer page, and the third-party libraries it uses, as text (served by the viewer,
 * inlined by the report). All from this package or node_modules: no CDN, no network.
 *
 * The page's own code is TypeScript, src/view/static/*.ts (one module per view, sharing one state object),
 * type-checked with the DOM library like the rest of the project. `npm run build` (tsc, the only build step)
 * compiles it to dist/src/view/static/*.js beside the compiled server, which reads it from there. Run from
 * source (tsx, the tests), there is no .js beside this file, so each module is compiled on the fly with the
 * TypeScript compiler (a devDependency, present wherever the sources are). `viewerScript` joins the modules
 * into one classic script (the report inlines it, and an inline script cannot import).
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

/**
 * The d3 modules the page uses (ISC): d3-hierarchy (the tree layout) and d3-zoom (pan and zoom) with what
 * d3-zoom needs, in dependency order. Each UMD build adds its functions to the one global `d3`. Each is
 * resolved from the package that depends on it, as node would: the path of packages from this one.
 */
const D3_MODULES: string[][] = [
  ["d3-zoom", "d3-dispatch"],
  ["d3-zoom", "d3-selection"],
  ["d3-zoom", "d3-interpolate", "d3-color"],
  ["d3-zoom", "d3-interpolate"],
  ["d3-zoom", "d3-transition", "d3-ease"],
  ["d3-zoom", "d3-transition", "d3-timer"],
  ["d3-zoom", "d3-transition"],
  ["d3-zoom", "d3-drag"],
  ["d3-zoom"],
  ["d3-hierarchy"],
];

function resolveChain(chain: string[]): string {
  let req = require;
  for (const pkg of chain.slice(0, -1)) req = createRequire(req.resolve(pkg));
  return req.resolve(chain[chain.length - 1]);
}

let d3Text: string | null = null;
/** The d3 modules as one script (defines the global `d3`). */
export function d3Script(): string {
  if (d3Text === null) {
    // Each package exports only its entry points, so the UMD build is found beside the main module.
    d3Text = D3_MODULES.map((chain) => asset(join(dirname(resolveChain(chain)), `${chain[chain.length - 1]}.min.js`))).join("\n;\n");
  }
  return d3Text;
}

/** The page's modules, in dependency order; viewer.ts (the entry) last. */
const MODULES = ["dom", "colour", "source", "state", "curves", "tree", "strips", "controls", "viewer"];

/** One module's JavaScript: the compiled file when built, else its source compiled now. */
async function moduleCode(name: string): Promise<string> {
  const compiled = join(here, "static", `${name}.js`);
  const source = join(here, "static", `${name}.ts`);
  if (existsSync(compiled)) return readFileSync(compiled, "utf8");
  if (existsSync(source)) {
    const ts = (await import("typescript")).default;
    return ts.transpileModule(readFileSync(source, "utf8"), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
      fileName: `${name}.ts`,
    }).outputText;
  }
  throw new Error(`viewer page script not found (${compiled}); run 'npm run build'`);
}

/**
 * The modules joined into one script: each module's body runs in its own function scope and returns its
 * exports; `import { a, b as c } from "./m.js"` becomes `const { a, b: c } = m`. The page's modules keep to
 * that one import form and to `export function|class|const|let` (anything else is an error here, so a
 * module that would not join fails the build's tests, not a user's browser).
 */
export function joinModules(modules: { name: string; code: string }[]): string {
  const out: string[] = [];
  const known = new Set<string>();
  for (const { name, code } of modules) {
    let body = code.replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
    body = body.replace(/^import\s*\{([^}]*)\}\s*from\s*"\.\/([\w-]+)\.js";?$/gm, (_m, names: string, from: string) => {
      if (!known.has(from)) throw new Error(`viewer module ${name} imports ${from}, which comes later (or does not exist)`);
      const list = names.split(",").map((n) => n.trim()).filter((n) => n.length > 0).map((n) => n.replace(/\s+as\s+/, ": "));
      return `const { ${list.join(", ")} } = __${from.replace(/-/g, "_")};`;
    });
    const exported: string[] = [];
    body = body.replace(/^export\s+((?:async\s+)?function\*?|class|const|let)\s+([\w$]+)/gm, (_m, kind: string, id: string) => {
      exported.push(id);
      return `${kind} ${id}`;
    });
    const stray = /^\s*(import|export)\b.*$/m.exec(body);
    if (stray) throw new Error(`viewer module ${name}: cannot join '${stray[0].trim()}' (use named imports from "./x.js" and export declarations)`);
    out.push(`const __${name.replace(/-/g, "_")} = (() => {\n${body}\nreturn { ${exported.join(", ")} };\n})();`);
    known.add(name);
  }
  return `"use strict";\n${out.join("\n")}\n`;
}

let viewerText: string | null = null;
/** The page's script (a classic script; its globals `uPlot` and `d3` come from the two above). */
export async function viewerScript(): Promise<string> {
  if (viewerText !== null) return viewerText;
  const modules = await Promise.all(MODULES.map(async (name) => ({ name, code: await moduleCode(name) })));
  viewerText = joinModules(modules);
  return viewerText;
}
