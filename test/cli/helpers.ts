/**
 * Shared by the CLI tests (and the other tests for their temp directories): temp directories, running the real
 * CLI in a child process (under tsx from sources, or compiled from dist/; to its end, or killed), and capturing
 * what a command prints in-process.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
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

/** Runs `fn` in a fresh directory, removed as soon as `fn` settles. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "lgrpo-test-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const fromSources = import.meta.url.endsWith(".ts");
const MAIN = fileURLToPath(new URL(`../../src/cli/main.${fromSources ? "ts" : "js"}`, import.meta.url));

const NODE_ARGS = [...(fromSources ? ["--import", "tsx"] : []), MAIN];
const ENV = { ...process.env, NODE_NO_WARNINGS: "1" };

/** Runs `lambda-grpo <args>` as a child process (a second or so: use for exit codes and stderr only). */
export function runCli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...NODE_ARGS, ...args], { encoding: "utf8", input, env: ENV });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `lambda-grpo <args>` as a child process without waiting: for a test that kills it, or runs it long. */
export function startCli(args: string[]): { child: ChildProcess; done: Promise<CliExit> } {
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], { stdio: ["ignore", "pipe", "pipe"], env: ENV });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<CliExit>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

/**
 * The kill test of a command that trains into --output-dir (train, sft): `lambda-grpo <args> --quiet` run
 * whole into DIR/whole, and into DIR/broken SIGKILLed as soon as its file `checkpoint` (relative to the run
 * folder) exists; `whenKilled` looks at the broken run, which is then resumed with --resume to its end.
 */
export async function killedAndResumed(
  args: string[],
  dir: string,
  checkpoint: string,
  whenKilled: (broken: string) => Promise<void> | void,
): Promise<{ whole: string; broken: string }> {
  const whole = join(dir, "whole");
  const broken = join(dir, "broken");
  const a = await startCli([...args, "--output-dir", whole, "--quiet"]).done;
  assert.equal(a.code, 0, a.stderr);

  const b = startCli([...args, "--output-dir", broken, "--quiet"]);
  let exited = false;
  void b.done.then(() => (exited = true));
  while (!existsSync(join(broken, checkpoint)) && !exited) await new Promise((r) => setTimeout(r, 5));
  b.child.kill("SIGKILL");
  const killed = await b.done;
  assert.equal(killed.signal, "SIGKILL", "the run finished before it could be killed; make it longer");
  await whenKilled(broken);

  const c = await startCli([...args, "--output-dir", broken, "--resume", "--quiet"]).done;
  assert.equal(c.code, 0, c.stderr);
  return { whole, broken };
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
