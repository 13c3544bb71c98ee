/**
 * Shared by the CLI tests: temp directories, running the real CLI in a child process (under tsx from
 * sources, or compiled from dist/), and capturing what a command prints in-process.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after } from "node:test";

/** A fresh directory, removed when the test file ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "lgrpo-cli-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const fromSources = import.meta.url.endsWith(".ts");
const MAIN = fileURLToPath(new URL(`../../src/cli/main.${fromSources ? "ts" : "js"}`, import.meta.url));

/** Runs `lambda-grpo <args>` as a child process (a second or so: use for exit codes and stderr only). */
export function runCli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...(fromSources ? ["--import", "tsx"] : []), MAIN, ...args], {
    encoding: "utf8",
    input,
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Captures console.log output while `fn` runs (for commands called in-process through main()). */
export async function captureStdout(fn: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    await fn();
  } finally {
    console.log = log;
  }
  return lines.join("\n");
}
