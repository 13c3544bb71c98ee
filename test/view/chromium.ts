/**
 * The viewer's browser tests run in a real headless Chromium (Debian's `chromium`, driven by playwright-core;
 * .ci/run installs it). Without it they are skipped with a message, except under CI=true, where that is an
 * error. Playwright gives every launch a fresh temporary profile (user-data dir), removed on close.
 */
import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Where screenshots for people go. */
export const SCREENSHOTS = resolve("test-output", "screenshots");
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === "true") {
  throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium for the viewer's browser tests (.ci/run does)`);
}
export const skip: string | false = haveChromium ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH); browser tests skipped`;
if (skip) console.log(`# ${skip}`);

export async function launch(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A page that records console errors, uncaught exceptions and every request it makes. */
export async function openPage(context: BrowserContext): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()}`));
  page.on("request", (r) => requests.push(r.url()));
  return { page, errors, requests };
}

/** Polls `check` (locator reads only: the page's CSP forbids the string evaluation waitForFunction would use). */
export async function until(check: () => Promise<boolean>, ms = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}
