/**
 * The page's modules joined into one script (src/view/assets.ts): imports bound to earlier modules'
 * exports, each module in its own scope, and forms that cannot be joined refused at build time.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runInNewContext } from "node:vm";
import { joinModules, viewerScript } from "../../src/view/assets.js";

test("joined modules see each other's exports, and keep their own top-level names apart", () => {
  const code = joinModules([
    { name: "a", code: 'const hidden = 2;\nexport function twice(x) { return hidden * x; }\nexport const base = 10;\n' },
    { name: "b", code: 'import { twice, base as start } from "./a.js";\nconst hidden = 5;\nexport const result = twice(start) + hidden;\nglobalThis.out = result;\n' },
  ]);
  const ctx: { out?: number } = {};
  runInNewContext(code, ctx);
  assert.equal(ctx.out, 25);
});

test("an import of a later module, or an export form the joiner does not know, is an error", () => {
  assert.throws(() => joinModules([{ name: "a", code: 'import { x } from "./b.js";\n' }]), /imports b, which comes later/);
  assert.throws(() => joinModules([{ name: "a", code: "const x = 1;\nexport { x };\n" }]), /cannot join 'export \{ x \};'/);
  assert.throws(() => joinModules([{ name: "a", code: 'import * as d3 from "d3";\n' }]), /cannot join/);
});

test("the viewer's own modules join into one script with no import or export left", async () => {
  const code = await viewerScript();
  assert.doesNotMatch(code, /^\s*(import|export)\b/m);
  for (const name of ["dom", "colour", "source", "state", "curves", "tree", "strips", "controls", "viewer"]) assert.ok(code.includes(`const __${name} = (() => {`), name);
});
