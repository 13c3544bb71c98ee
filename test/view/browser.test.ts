/**
 * The viewer in a real headless Chromium (Debian's `chromium`, driven by playwright-core; .ci/run installs
 * it): the page loads without console errors, draws PAPER.md's worked example as the right tree, redraws
 * when the group changes, and the report draws the same tree offline. Screenshots of the main views are
 * written to test-output/screenshots/ for people to look at.
 *
 * One browser launch for the whole file (the machine is shared); each test opens a page in it. Playwright
 * gives every launch a fresh temporary profile (user-data dir), removed on close.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { writeReport } from "../../src/view/report.js";
import { startViewer, type Viewer } from "../../src/view/server.js";
import { launch, openPage, SCREENSHOTS, skip } from "./chromium.js";
import { FIXTURE, HOSTILE_ID, writeRun } from "./fixture.js";

let root: string;
let viewer: Viewer;
let tokenizer: string;
let browser: Browser;

before(async () => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), "lgrpo-browser-"));
  ({ tokenizer } = writeRun(join(root, "run")));
  viewer = await startViewer({ path: join(root, "run"), port: 0, tokenizer });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await viewer?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** The drawn steps' token ids (locator reads only: no functions shipped into the page). */
async function stepTokens(page: Page): Promise<string> {
  const out: string[] = [];
  for (const g of await page.locator("svg.tree g.step").all()) out.push((await g.getAttribute("data-tokens")) ?? "");
  return out.join("|");
}

const stepBox = (page: Page, text: string) => page.locator(`svg.tree g.step[data-text="${text}"]`);

/** The worked example's tree as drawn: 6 leaves; AB, JKL, NQ with |lambda| 2, 3, 2 and A +, -, -. */
async function assertWorkedExample(page: Page): Promise<void> {
  await page.waitForSelector(`svg.tree[data-group="${FIXTURE.exampleId}"]`);
  assert.equal(await page.locator("svg.tree g.step.leaf").count(), 6);
  assert.equal(await page.locator("svg.tree g.step").count(), 9);
  const expected: [string, number, 1 | -1, string[]][] = [
    ["AB", 2, 1, ["CD", "EFHI"]],
    ["JKL", 3, -1, ["M", "NQ"]],
    ["NQ", 2, -1, ["ST", "U"]],
  ];
  for (const [text, lambda, sign, children] of expected) {
    const box = stepBox(page, text);
    assert.equal(await box.count(), 1, text);
    assert.equal(Number(await box.getAttribute("data-lambda")), lambda, `|lambda| of ${text}`);
    assert.equal(Math.sign(Number(await box.getAttribute("data-a"))), sign, `sign of A of ${text}`);
    assert.equal(await box.getAttribute("data-leaf-of"), "", `${text} is not a leaf`);
    const id = await box.getAttribute("data-step");
    const kids = page.locator(`svg.tree g.step[data-parent="${id}"]`);
    const texts: string[] = [];
    for (const k of await kids.all()) texts.push((await k.getAttribute("data-text")) ?? "");
    assert.deepEqual(texts.sort(), children, `children of ${text}`);
  }
  // Leaves show the outcome reward; JKLM (#2) is the best completion.
  assert.match((await stepBox(page, "M").textContent()) ?? "", /#2\s*r = 1/);
  assert.equal(await stepBox(page, "VWYZ").getAttribute("data-parent"), "-1");
  // JKLM's strip: on JKL, GRPO's summed weight is 3 times lambda-GRPO's (|lambda| = 3), on M they agree.
  const row = page.locator('.strip-row[data-completion="2"]');
  const grpo = ((await row.locator('canvas[data-kind="grpo"]').getAttribute("data-values")) ?? "").split(",").map(Number);
  const lam = ((await row.locator('canvas[data-kind="lambda"]').getAttribute("data-values")) ?? "").split(",").map(Number);
  assert.equal(grpo.length, 4);
  for (let t = 0; t < 3; t++) assert.ok(Math.abs(grpo[t] - 3 * lam[t]) < 1e-3 && lam[t] < 0, `token ${t}: ${grpo[t]} vs ${lam[t]}`);
  assert.ok(Math.abs(grpo[3] - lam[3]) < 1e-6 && lam[3] > 0);
}

async function assertHostileIdInert(page: Page): Promise<void> {
  let dialogs = 0;
  page.on("dialog", (d) => {
    dialogs++;
    void d.dismiss();
  });
  await page.evaluate(`location.hash = ${JSON.stringify(`#step=${FIXTURE.steps}&group=${encodeURIComponent(HOSTILE_ID)}`)}`);
  // Polled from here: the page's CSP forbids the string evaluation waitForFunction would use.
  const shown = page.locator(".summary b").first();
  for (let i = 0; i < 100 && (await shown.textContent()) !== HOSTILE_ID; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await shown.textContent(), HOSTILE_ID);
  assert.equal(await page.locator("img").count(), 0, "markup in a group id became an element");
  assert.notEqual(await page.title(), "pwned");
  assert.equal(dialogs, 0);
}

test("viewer: loads without console errors, draws the worked example, redraws on group and step changes", { skip }, async () => {
  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 } });
  const { page, errors, requests } = await openPage(context);
  await page.goto(viewer.url);
  await page.waitForSelector("body[data-ready='1']");
  // One chart per metric of metrics.jsonl that changes; `seconds` (0.5 at every step) is folded into one line.
  assert.equal(await page.locator(".chart").count(), 8);
  assert.equal(await page.locator(".constants").getAttribute("data-constant"), "seconds");
  assert.match((await page.locator(".constants").textContent()) ?? "", /seconds per step = 0\.5/);
  await page.locator(".chart").first().screenshot({ path: join(SCREENSHOTS, "viewer-curve.png") });
  // Smoothing: TensorBoard's debiased EMA of the raw values, s_t = w s_(t-1) + (1 - w) x_t over 1 - w^t.
  const raw = readFileSync(join(root, "run", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { reward_mean: number }).reward_mean);
  let last = 0;
  const smooth = raw.map((x, i) => ((last = 0.7 * last + 0.3 * x), last / (1 - 0.7 ** (i + 1))));
  const shown = async (): Promise<number[]> => ((await page.locator('.chart[data-metric="reward_mean"]').getAttribute("data-smoothed")) ?? "").split(",").map(Number);
  assert.deepEqual(await shown(), raw.map((x) => Number(x.toPrecision(6))), "a short run is drawn raw");
  await page.locator('input[aria-label="smoothing"]').fill("0.7");
  const got = await shown();
  assert.ok(got.length === raw.length && got.every((v, i) => Math.abs(v - smooth[i]) < 1e-5), `${got} vs ${smooth}`);
  await page.locator('input[aria-label="smoothing"]').fill("0");

  // Find the worked example by its id.
  await page.fill('input[type="search"]', FIXTURE.exampleId);
  await page.press('input[type="search"]', "Enter");
  await page.waitForSelector(`body[data-group="${FIXTURE.exampleId}"]`);
  await assertWorkedExample(page);
  await page.screenshot({ path: join(SCREENSHOTS, "viewer-page.png"), fullPage: true });
  await page.locator(".tree-wrap").screenshot({ path: join(SCREENSHOTS, "viewer-tree.png") });
  await page.locator(".strips").screenshot({ path: join(SCREENSHOTS, "viewer-strips.png") });

  // Hovering JKL highlights its three trajectories' strips.
  await stepBox(page, "JKL").hover();
  assert.equal(await page.locator(".strip-row.hl").count(), 3);

  // Another group of the same step: a new tree.
  const before = await stepTokens(page);
  await page.selectOption('select[aria-label="group"]', { label: FIXTURE.otherId });
  await page.waitForSelector(`svg.tree[data-group="${FIXTURE.otherId}"]`);
  const afterSwitch = await stepTokens(page);
  assert.notEqual(afterSwitch, before);
  assert.equal(await stepBox(page, "JKL").count(), 0);
  await page.locator(".tree-wrap").screenshot({ path: join(SCREENSHOTS, "viewer-tree-other.png") });

  // Next step keeps the group's position: s4-g1.
  await page.click('button[title^="next step"]');
  await page.waitForSelector(`svg.tree[data-group="s${FIXTURE.exampleStep + 1}-g1"]`);
  // A group id that is markup is shown as text and never run.
  await assertHostileIdInert(page);

  // Only the viewer's own address was asked for (no CDN, no network).
  for (const url of requests) assert.ok(url.startsWith(viewer.url), url);
  assert.deepEqual(errors, []);
  await context.close();
  console.log(`# screenshots: ${SCREENSHOTS}`);
});

test("report: one offline file draws the same tree with no request", { skip }, async () => {
  const out = join(root, "report.html");
  await writeReport(join(root, "run"), out, { tokenizer });
  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 }, offline: true });
  const { page, errors, requests } = await openPage(context);
  await page.goto(`file://${out}#step=${FIXTURE.exampleStep}&group=${FIXTURE.exampleId}`);
  await page.waitForSelector("body[data-ready='1']");
  await assertWorkedExample(page);
  await page.screenshot({ path: join(SCREENSHOTS, "report-page.png"), fullPage: true });
  await assertHostileIdInert(page);
  assert.equal(requests.length, 1, `the report made requests: ${requests.join(", ")}`);
  assert.ok(requests[0].startsWith(`file://${out}`), requests[0]);
  assert.deepEqual(errors, []);
  await context.close();
});
