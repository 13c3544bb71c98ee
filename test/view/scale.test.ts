/**
 * The viewer on a real reasoning group: 36 completions of up to 2,000 tokens (test/view/bigRun.ts writes the
 * run: 250 steps of metrics, two steps of such groups, a SentencePiece-style tokenizer named by the run's
 * config.json). In Chromium: the group draws within a time budget, the tree pans and zooms, long spans are
 * collapsed with their length shown, and the text reads as the tokenizer decodes the whole completion
 * (spaces kept), on the tree and in a step's pinned text. Also the colour scale of A held fixed for the run.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { outcomeAdvantages } from "../../src/prm/index.js";
import { startViewer, type Viewer } from "../../src/view/server.js";
import { expectedText, writeBigRun } from "./bigRun.js";
import { launch, openPage, SCREENSHOTS, skip, until } from "./chromium.js";

/** Generous: the machine is shared by many jobs; the page alone takes well under a second here. */
const DRAW_BUDGET_MS = 20_000;
const SHAPE = { steps: 250, groups: 2, completions: 36, tokens: 2000, rolloutSteps: [1, 2] };

let root: string;
let viewer: Viewer;
let browser: Browser;
let groups: { id: string; completions: { tokens: number[]; reward: number }[] }[];

before(async () => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), "lgrpo-scale-"));
  await writeBigRun(join(root, "run"), SHAPE);
  groups = readFileSync(join(root, "run", "rollouts.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  // No --tokenizer: the run's config.json names its tokenizer.json.
  viewer = await startViewer({ path: join(root, "run"), port: 0 });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await viewer?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const attr = async (page: Page, selector: string, name: string): Promise<string> => (await page.locator(selector).first().getAttribute(name)) ?? "";

test("a group of 36 x 2000 tokens: drawn in time, zoom and pan, collapsed spans, text with its spaces", { skip }, async () => {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const { page, errors } = await openPage(context);
  const started = Date.now();
  await page.goto(`${viewer.url}#step=1&group=s1-g0`);
  await page.waitForSelector('svg.tree[data-group="s1-g0"]', { timeout: DRAW_BUDGET_MS });
  await until(async () => (await page.locator(".strip-row").count()) === 36, DRAW_BUDGET_MS, "36 strip rows");
  const drawMs = Date.now() - started;
  console.log(`# page with a 36 x 2000-token group drawn in ${drawMs} ms (budget ${DRAW_BUDGET_MS})`);
  assert.ok(drawMs < DRAW_BUDGET_MS, `${drawMs} ms`);
  assert.match(await page.locator("header.top").textContent() ?? "", /token text: run\/tokenizer\.json/);

  // Text: each completion's path, step by step, reads as the whole completion decoded (words, spaces between).
  const group = groups[0];
  for (const i of [0, 17, 35]) {
    const path = (await attr(page, `.strip-row[data-completion="${i}"]`, "data-path")).split(" ");
    let text = "";
    for (const id of path) text += await attr(page, `svg.tree g.step[data-step="${id}"]`, "data-text");
    assert.equal(text, expectedText(group.completions[i].tokens), `completion ${i}`);
  }

  // Collapse: a long span shows its first and last tokens and its length; a click pins its whole text.
  const longest = await page.locator("svg.tree g.step.collapsed").evaluateAll((gs) =>
    gs.map((g) => ({ id: g.getAttribute("data-step")!, length: Number(g.getAttribute("data-length")), start: g.getAttribute("transform") })),
  );
  assert.ok(longest.length > 0, "no collapsed step");
  const step = longest.sort((a, b) => b.length - a.length)[0];
  const box = page.locator(`svg.tree g.step[data-step="${step.id}"]`);
  const ids = ((await box.getAttribute("data-tokens")) ?? "").split(" ").map(Number);
  assert.equal(ids.length, step.length);
  assert.ok(step.length > 16);
  assert.equal(await box.locator("text.len").textContent(), `${step.length.toLocaleString("en-US")} tokens`);
  const [line1, line2] = await box.locator("text.tok").allTextContents();
  const full = (await box.getAttribute("data-text")) ?? "";
  const lead = full.startsWith(" ") ? " " : "";
  assert.equal(full, lead + expectedText(ids));
  assert.ok(line1.endsWith(" \u2026") && expectedText(ids.slice(0, 6)).startsWith(line1.slice(0, -2)), line1);
  assert.ok(line2.startsWith("\u2026 ") && expectedText(ids.slice(-6)).endsWith(line2.slice(2)), line2);

  // Zoom: the buttons, the wheel and a drag change the view; "fit" shows the whole tree.
  const scale = async (): Promise<number> => Number(await attr(page, "svg.tree", "data-scale"));
  await page.click('button[data-zoom="fit"]');
  const W = await page.locator(".tree-wrap").evaluate((e) => [e.clientWidth, e.clientHeight]);
  const size = [Number(await attr(page, "svg.tree", "data-width")), Number(await attr(page, "svg.tree", "data-height"))];
  const fitK = Math.min(1, W[0] / size[0], W[1] / size[1]);
  await until(async () => Math.abs((await scale()) - fitK) < 1e-3, 5000, `fit scale ${fitK}`);
  const svgBox = (await page.locator("svg.tree").boundingBox())!;
  const treeBox = (await page.locator("svg.tree g.canvas").boundingBox())!;
  assert.ok(treeBox.x >= svgBox.x - 1 && treeBox.y >= svgBox.y - 1, "tree starts inside the view");
  assert.ok(treeBox.x + treeBox.width <= svgBox.x + svgBox.width + 1 && treeBox.y + treeBox.height <= svgBox.y + svgBox.height + 1, "tree ends inside the view");
  await page.locator(".tree-wrap").screenshot({ path: join(SCREENSHOTS, "viewer-big-fit.png") });
  await page.click('button[data-zoom="+"]');
  await until(async () => Math.abs((await scale()) - fitK * 1.5) < 1e-3, 5000, "zoom in x1.5");
  await page.locator(".tree-wrap").scrollIntoViewIfNeeded();
  const view = (await page.locator("svg.tree").boundingBox())!;
  await page.mouse.move(view.x + view.width / 2, view.y + view.height / 2);
  await page.mouse.wheel(0, -400);
  await until(async () => (await scale()) > fitK * 1.5 + 1e-3, 5000, "wheel zoom");
  const before = await attr(page, "svg.tree g.canvas", "transform");
  await page.mouse.down();
  await page.mouse.move(view.x + view.width / 2 - 150, view.y + view.height / 2 - 60, { steps: 5 });
  await page.mouse.up();
  assert.notEqual(await attr(page, "svg.tree g.canvas", "transform"), before, "drag pans");

  await page.click('button[data-zoom="1:1"]');
  await until(async () => (await scale()) === 1, 5000, "actual size");
  await box.scrollIntoViewIfNeeded();
  await box.dispatchEvent("click");
  await page.waitForSelector(".step-detail:not([hidden]) pre.full");
  assert.equal(await page.locator(".step-detail pre.full").textContent(), full);
  assert.equal(await page.locator(".step-detail pre.full").getAttribute("data-step"), step.id);
  await page.locator("#groups").screenshot({ path: join(SCREENSHOTS, "viewer-big-group.png") });

  // Another group of 36 x 2000 tokens: drawn in time too; the pinned text goes with the old group.
  const t1 = Date.now();
  await page.selectOption('select[aria-label="group"]', { label: "s1-g1" });
  await page.waitForSelector('svg.tree[data-group="s1-g1"]', { timeout: DRAW_BUDGET_MS });
  console.log(`# next group drawn in ${Date.now() - t1} ms`);
  assert.equal(await page.locator(".step-detail").isHidden(), true);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the colour scale of A: per group, or held at the run's largest |A| across steps and groups", { skip }, async () => {
  // Independently of the index's scan: the outcome advantages of every group, from the file.
  let runMax = 0;
  for (const g of groups) for (const a of outcomeAdvantages(g.completions.map((c) => c.reward))) runMax = Math.max(runMax, Math.abs(a));
  const info = viewer.data!.info();
  assert.ok(Math.abs(info.maxAbsAdvantage! - runMax) < 1e-9, `${info.maxAbsAdvantage} vs ${runMax}`);

  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const { page, errors } = await openPage(context);
  const domainOf = async (id: string): Promise<{ domain: number; maxA: number }> => {
    await page.waitForSelector(`svg.tree[data-group="${id}"]`);
    const as = await page.locator("svg.tree g.step").evaluateAll((gs) => gs.map((g) => Math.abs(Number(g.getAttribute("data-a")))));
    return { domain: Number(await attr(page, "svg.tree", "data-domain")), maxA: Math.max(...as) };
  };
  await page.goto(`${viewer.url}#step=1&group=s1-g0`);
  const seen: { domain: number; maxA: number }[] = [];
  for (const id of ["s1-g0", "s2-g1"]) {
    if (id !== "s1-g0") await page.evaluate(`location.hash = "#step=2&group=${id}"`);
    const g = await domainOf(id);
    // Rescaled per group: covers the group's |A|, rounded up to a readable bound (at most x1.5).
    assert.ok(g.domain >= g.maxA - 1e-9 && g.domain <= 1.5 * Math.max(g.maxA, 0.5) + 1e-9, JSON.stringify(g));
    seen.push(g);
  }
  await page.selectOption('select[aria-label="colour scale"]', "run");
  const fixed: number[] = [];
  for (const [step, id] of [[2, "s2-g1"], [1, "s1-g1"], [1, "s1-g0"]] as const) {
    await page.evaluate(`location.hash = "#step=${step}&group=${id}"`);
    await page.waitForSelector(`svg.tree[data-group="${id}"]`);
    fixed.push(Number(await attr(page, "svg.tree", "data-domain")));
  }
  assert.ok(fixed.every((d) => d === fixed[0]), `one domain for every group: ${fixed}`);
  assert.ok(fixed[0] >= runMax - 1e-9 && fixed[0] <= 1.5 * runMax + 1e-9, `${fixed[0]} vs run max ${runMax}`);
  assert.match(await page.locator(".legend").first().textContent() ?? "", /run's fixed scale/);
  assert.deepEqual(errors, []);
  await context.close();
});
