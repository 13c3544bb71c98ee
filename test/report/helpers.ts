/**
 * The report tests' pages: each test file writes its self-contained HTML reports into a temporary folder and
 * loads them offline in one headless Chromium (test/view/chromium.ts); folder and browser are made before
 * the file's tests and removed after them.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launch, openPage, skip } from "../view/chromium.js";

export interface OfflinePage {
  context: BrowserContext;
  page: Page;
  /** console errors and warnings, uncaught exceptions, failed requests */
  errors: string[];
  /** every URL the page requested */
  requests: string[];
}

/** `open(name, html, viewport)`: the report written as `name` in the folder, loaded offline (call from tests not skipped for want of Chromium). */
export function offlinePages(prefix: string): (name: string, html: string, viewport: { width: number; height: number }) => Promise<OfflinePage> {
  let dir = "";
  let browser: Browser | undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    if (!skip) browser = await launch();
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return async (name, html, viewport) => {
    const file = join(dir, name);
    writeFileSync(file, html);
    const context = await browser!.newContext({ viewport, offline: true });
    const opened = await openPage(context);
    await opened.page.goto(`file://${file}`);
    return { context, ...opened };
  };
}
