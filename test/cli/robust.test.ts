/**
 * Issue 12 as a user meets it, through the real CLI: an output that is the input is refused and the input
 * kept; a closed stdout ends a command quietly with status 0, a closed stderr does not stop `train`; options
 * and --version give one line.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli, tempDir } from "./helpers.js";

const dir = tempDir();
const GROUP = '{"id":"g","completions":[{"tokens":[1,2,3],"reward":1},{"tokens":[1,2],"reward":0}]}\n';
const input = join(dir, "same.jsonl");
writeFileSync(input, GROUP);
symlinkSync(input, join(dir, "link.jsonl"));

const fromSources = import.meta.url.endsWith(".ts");
const MAIN = fileURLToPath(new URL(`../../src/cli/main.${fromSources ? "ts" : "js"}`, import.meta.url));
const NODE = [process.execPath, ...(fromSources ? ["--import", "tsx"] : []), MAIN].map((a) => JSON.stringify(a)).join(" ");

/** Runs `lambda-grpo <args> | <reader>` in bash; returns the CLI's exit status and what reached the reader. */
function piped(args: string, reader: string): { status: number; output: string } {
  const r = spawnSync("bash", ["-c", `${NODE} ${args} | ${reader}; exit \${PIPESTATUS[0]}`], {
    encoding: "utf8",
    cwd: dir,
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
  });
  return { status: r.status ?? -1, output: r.stdout + r.stderr };
}

test("prm --out through a link to the input: refused, one line, the input untouched", () => {
  const r = runCli(["prm", input, "--out", join(dir, "link.jsonl")]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^lambda-grpo prm: --out: .*link\.jsonl is the input .*same\.jsonl \(the same file under another name\)/);
  assert.equal(readFileSync(input, "utf8"), GROUP);
});

test("stdout closed early (| head): the command ends quietly with status 0", () => {
  writeFileSync(join(dir, "big.jsonl"), Array.from({ length: 20000 }, (_, i) => GROUP.replace('"g"', `"g${i}"`)).join(""));
  const r = piped("prm big.jsonl --out -", "head -c 100");
  assert.equal(r.status, 0, r.output);
  assert.ok(!r.output.includes("EPIPE") && !r.output.includes("lambda-grpo"), r.output);
});

test("stderr closed early (2>&1 | head -1): train goes on to the end and leaves its checkpoint", () => {
  writeFileSync(join(dir, "t.yaml"), "steps: 12\nnum_generations: 4\ncheckpoint_every: 5\noutput_dir: run\n");
  const r = piped("train t.yaml 2>&1", "head -1");
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /^training GRPO/);
  assert.equal(readFileSync(join(dir, "run", "metrics.jsonl"), "utf8").trim().split("\n").length, 12);
  assert.ok(existsSync(join(dir, "run", "checkpoints", "step-00000012.safetensors")));
});

test("--version and -V print the package's version; a negative number for an option is its own one-line error", () => {
  const { version } = JSON.parse(readFileSync(new URL(fromSources ? "../../package.json" : "../../../package.json", import.meta.url), "utf8"));
  for (const flag of ["--version", "-V"]) {
    const r = runCli([flag]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `${version}\n`);
  }
  const r = runCli(["prm", input, "--out", join(dir, "x.jsonl"), "--eps", "-1"]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "lambda-grpo prm: --eps: expected a number >= 0, got '-1'\n");
});
