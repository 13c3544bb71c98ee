/**
 * `view` on a sweep folder (the layout `lambda-grpo toy` writes: results.json, runs/<run>/config.json +
 * metrics.jsonl): runs grouped into cells by their configs, and in Chromium the overlaid curves, every seed
 * and the mean over seeds of GRPO and lambda-GRPO, with EMA smoothing checked against the formula.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { startViewer, type Viewer } from "../../src/view/server.js";
import { isSweep, SweepData } from "../../src/view/sweep.js";
import { launch, openPage, SCREENSHOTS, skip, until } from "./chromium.js";

const STEPS = 40;
const SEEDS = [0, 1, 2];

/** A target-rate curve that differs by cell, objective and seed (lambda-GRPO rises sooner). */
function rate(n: number, algo: "grpo" | "lambda", seed: number, step: number): number {
  const mid = (algo === "lambda" ? 12 : 22) + 4 * n + 3 * seed;
  return Number((1 / (1 + Math.exp(-(step - mid) / 3))).toFixed(6));
}

let root: string;
let viewer: Viewer;
let browser: Browser | undefined;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "lgrpo-sweep-"));
  writeFileSync(join(root, "results.json"), JSON.stringify({ preset: "small", cells: [] }));
  for (const n of [1, 2]) {
    for (const algo of ["grpo", "lambda"] as const) {
      for (const seed of SEEDS) {
        const name = `n${n}_rneg-1.0_${algo}_seed${seed}`;
        const dir = join(root, "runs", name);
        mkdirSync(dir, { recursive: true });
        const config = { lambda: algo === "lambda", seed, learning_rate: 3e-4, env: { name: "tree", shared_prefix: n, r_neg: -1 }, output_dir: dir };
        writeFileSync(join(dir, "config.json"), JSON.stringify(config));
        const lines = Array.from({ length: STEPS }, (_, i) =>
          JSON.stringify({ step: i + 1, learning_rate: 3e-4, "env/target_rate": rate(n, algo, seed, i + 1), reward_mean: 0.7 + 0.3 * rate(n, algo, seed, i + 1) }),
        );
        writeFileSync(join(dir, "metrics.jsonl"), lines.join("\n") + "\n");
      }
    }
  }
  viewer = await startViewer({ path: root, port: 0 });
  if (!skip) browser = await launch();
});

after(async () => {
  await browser?.close();
  await viewer?.close();
  rmSync(root, { recursive: true, force: true });
});

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: viewer.host, port: viewer.port, path, headers: { Host: `${viewer.host}:${viewer.port}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("a sweep folder: runs in cells by their configs, objective and seed from config.json", async () => {
  assert.equal(await isSweep(root), true);
  assert.equal(await isSweep(join(root, "runs", "n1_rneg-1.0_grpo_seed0")), false, "a run directory is not a sweep");
  const sweep = await SweepData.open(root);
  assert.deepEqual(sweep.info.cells, ["env.shared_prefix=1", "env.shared_prefix=2"]);
  assert.equal(sweep.info.runs.length, 12);
  const run = sweep.info.runs.find((r) => r.name === "n2_rneg-1.0_lambda_seed1")!;
  assert.deepEqual({ algorithm: run.algorithm, seed: run.seed, cell: run.cell }, { algorithm: "lambda", seed: 1, cell: "env.shared_prefix=2" });
  assert.equal(viewer.summary, `${sweep.info.name}: a sweep of 12 runs in 2 cell(s)`);

  const info = JSON.parse((await get("/api/run")).body) as { kind: string };
  assert.equal(info.kind, "sweep");
  const page = JSON.parse((await get("/api/sweep")).body) as { runs: { handle: number; name: string }[]; dir?: string };
  assert.equal(page.dir, undefined, "the folder's path stays on the server");
  const m = JSON.parse((await get(`/api/sweep/metrics?run=${run.handle}`)).body) as { step: number[]; series: Record<string, number[]> };
  assert.equal(m.step.length, STEPS);
  assert.equal(m.series["env/target_rate"][9], rate(2, "lambda", 1, 10));
  assert.equal((await get("/api/sweep/metrics?run=99")).status, 404);
  assert.equal((await get("/api/sweep/metrics?run=../x")).status, 400);
  assert.equal((await get("/api/groups?step=1")).status, 404);
});

/** TensorBoard's debiased EMA, written out here as the reference. */
function tensorboardEma(xs: number[], w: number): number[] {
  let last = 0;
  return xs.map((x, i) => {
    last = last * w + (1 - w) * x;
    return last / (1 - w ** (i + 1));
  });
}

test("the sweep page overlays every seed and the mean of each objective, smoothed on request", { skip }, async () => {
  const context = await browser!.newContext({ viewport: { width: 1360, height: 900 } });
  const { page, errors } = await openPage(context);
  await page.goto(viewer.url);
  await page.waitForSelector("body[data-ready='1']");
  await until(async () => (await page.locator("body").getAttribute("data-cell")) === "env.shared_prefix=1", 10_000, "first cell");
  // learning_rate never changes: folded into one line, not a chart.
  assert.equal(await page.locator(".chart").count(), 2);
  assert.match((await page.locator(".constants").textContent()) ?? "", /learning rate = 3\.00e\u22124/);
  const chart = page.locator('.chart[data-metric="env/target_rate"]');
  assert.equal(await chart.getAttribute("data-lines"), String(2 * SEEDS.length + 2), "three seeds and a mean per objective");

  const mean = (algo: "grpo" | "lambda", n: number): number[] =>
    Array.from({ length: STEPS }, (_, i) => SEEDS.reduce((s, seed) => s + rate(n, algo, seed, i + 1), 0) / SEEDS.length);
  const shown = async (algo: string): Promise<number[]> => ((await chart.getAttribute(`data-mean-${algo}`)) ?? "").split(",").map(Number);
  const close = (a: number[], b: number[]): boolean => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < 1e-5);

  await page.locator('input[aria-label="smoothing"]').fill("0");
  await until(async () => close(await shown("lambda"), mean("lambda", 1)), 5000, "raw mean over seeds");
  assert.ok(close(await shown("grpo"), mean("grpo", 1)));
  await page.locator('input[aria-label="smoothing"]').fill("0.9");
  await until(async () => close(await shown("grpo"), tensorboardEma(mean("grpo", 1), 0.9)), 5000, "smoothed mean");

  await page.locator('input[aria-label="smoothing"]').fill("0.6");
  await page.selectOption('select[aria-label="cell"]', "env.shared_prefix=2");
  await until(async () => (await page.locator("body").getAttribute("data-cell")) === "env.shared_prefix=2", 10_000, "second cell");
  assert.ok(close(await shown("lambda"), tensorboardEma(mean("lambda", 2), 0.6)));
  await page.screenshot({ path: join(SCREENSHOTS, "viewer-sweep.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
