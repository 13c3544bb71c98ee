/**
 * Every command prints its options on --help, and misuse (an unknown option, a missing value, a missing
 * argument) is one line on stderr that names the command and points at its --help.
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli } from "./helpers.js";

const COMMANDS = ["toy", "train", "sft", "reasoning-data", "prm", "analyze", "view", "report", "logprobs", "bench", "info"];

for (const command of COMMANDS) {
  test(`${command} --help prints its usage and options; an unknown option is one line, exit 2`, () => {
    const help = runCli([command, "--help"]);
    assert.equal(help.status, 0, help.stderr);
    assert.ok(help.stdout.startsWith(`usage: lambda-grpo ${command}`), help.stdout);
    assert.match(help.stdout, /-h, --help/);
    const bad = runCli([command, "--no-such-option"]);
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, `lambda-grpo ${command}: Unknown option '--no-such-option' (see 'lambda-grpo ${command} --help')\n`);
  });
}

test("a missing argument or option value is one line naming what is missing", () => {
  const cases: [string[], number, RegExp][] = [
    [["prm", "in.jsonl"], 1, /^lambda-grpo prm: --out is required \(see 'lambda-grpo prm --help'\)\n$/],
    [["prm", "in.jsonl", "--out"], 2, /^lambda-grpo prm: Option '-o, --out <value>' argument missing \(see 'lambda-grpo prm --help'\)\n$/],
    [["analyze"], 1, /^lambda-grpo analyze: expected one input file, got 0 \(see 'lambda-grpo analyze --help'\)\n$/],
    [["info", "extra"], 2, /^lambda-grpo info: Unexpected argument 'extra'.* \(see 'lambda-grpo info --help'\)\n$/],
  ];
  for (const [args, status, stderr] of cases) {
    const r = runCli(args);
    assert.equal(r.status, status, args.join(" "));
    assert.match(r.stderr, stderr);
  }
});

test("the built CLI entry is executable (npm links it as the lambda-grpo bin; a rebuild must keep it so)", (t) => {
  if (import.meta.url.endsWith(".ts")) return t.skip("running from sources: there is no build to check");
  const entry = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
  assert.notEqual(statSync(entry).mode & 0o111, 0, `${entry} is not executable`);
});
