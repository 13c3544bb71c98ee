/**
 * `lambda-grpo eval` on a tiny byte-level model written by the test: unbiased pass@k against its brute-force
 * definition, the output files and table, and an eval killed with SIGKILL that, run again, gives the same
 * results.json and completions as one never stopped.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import { grade } from "../../src/math/index.js";
import { passAtK, passKs } from "../../src/rl/eval.js";
import { runCli } from "../cli/helpers.js";
import { cpSync } from "node:fs";
import { FAMILIES_DIR } from "../fixtures/families/fixture.js";
import { byteTokenizerJson, writeMathModel } from "../fixtures/math-model.js";

const dir = mkdtempSync(join(tmpdir(), "lgrpo-eval-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const modelDir = await writeMathModel(join(dir, "model"), { contextLength: 64 });

function problems(name: string, n: number): string {
  const path = join(dir, `${name}.jsonl`);
  writeFileSync(path, Array.from({ length: n }, (_, i) => JSON.stringify({ id: `${name}-${i}`, problem: `${i}+${i}=`, answer: String(2 * i) })).join("\n") + "\n");
  return path;
}

/** pass@k by its definition: the fraction of k-subsets of the n samples that hold a correct one. */
function bruteForcePassAtK(n: number, c: number, k: number): number {
  let subsets = 0;
  let hit = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let bits = 0;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) bits++;
    if (bits !== k) continue;
    subsets++;
    // samples 0..c-1 are the correct ones
    if (mask & ((1 << c) - 1)) hit++;
  }
  return hit / subsets;
}

test("unbiased pass@k is the chance that k of the n samples hold a correct one", () => {
  for (let n = 1; n <= 8; n++) {
    for (let c = 0; c <= n; c++) {
      for (let k = 1; k <= n; k++) assert.ok(Math.abs(passAtK(n, c, k) - bruteForcePassAtK(n, c, k)) < 1e-12, `n=${n} c=${c} k=${k}`);
    }
  }
  assert.deepEqual(passKs(16), [1, 2, 4, 8, 16]);
  assert.deepEqual(passKs(6), [1, 2, 4, 6]);
  assert.deepEqual(passKs(1), [1]);
});

const COMMON = ["--model", modelDir, "--prompt", "plain", "--template", "{problem}", "--max-new-tokens", "6", "--batch-size", "3"];

test("greedy pass@1: results.json, one jsonl per benchmark, the table with benchmarks as columns", () => {
  const out = join(dir, "greedy");
  const r = runCli(["eval", ...COMMON, "--data", `aime=${problems("aime", 4)}`, "--data", `amc=${problems("amc", 5)}`, "--out", out, "-q"]);
  assert.equal(r.status, 0, r.stderr);
  const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
  assert.deepEqual(Object.keys(results), ["aime", "amc"]);
  assert.equal(results.aime.n, 4);
  assert.equal(results.amc.samples, 1);
  const lines = readFileSync(join(out, "amc.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.id), ["amc-0", "amc-1", "amc-2", "amc-3", "amc-4"]);
  // the recorded grades are the grader's on the recorded completions
  for (const l of lines) assert.equal(l.correct, grade(l.completion, String(2 * Number(l.id.split("-")[1]))).correct);
  assert.equal(results.amc.accuracy, lines.filter((l) => l.correct).length / 5);
  const header = r.stdout.split("\n")[0];
  assert.match(header, /\|\s+\|\s+aime \|\s+amc \|/);
  assert.match(r.stdout, /pass@1 \(greedy\)/);
  // greedy decoding is deterministic: the same completions again
  const again = join(dir, "greedy2");
  assert.equal(runCli(["eval", ...COMMON, "--data", `amc=${join(dir, "amc.jsonl")}`, "--out", again, "-q"]).status, 0);
  assert.equal(readFileSync(join(again, "amc.jsonl"), "utf8"), readFileSync(join(out, "amc.jsonl"), "utf8"));
});

test("K samples: avg@K is pass@1, and pass@k grows with k", () => {
  const out = join(dir, "sampled");
  const r = runCli(["eval", ...COMMON, "--data", `aime=${problems("aime", 4)}`, "--samples", "4", "--temperature", "1", "--out", out, "-q"]);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8")).aime;
  assert.deepEqual(Object.keys(res["pass@k"]), ["1", "2", "4"]);
  assert.ok(Math.abs(res["pass@k"]["1"] - res.accuracy) < 1e-12);
  assert.ok(res["pass@k"]["1"] <= res["pass@k"]["2"] && res["pass@k"]["2"] <= res["pass@k"]["4"]);
  assert.equal(readFileSync(join(out, "aime.jsonl"), "utf8").trim().split("\n").length, 16);
  assert.match(r.stdout, /avg@4/);
});

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

test("an eval killed with SIGKILL and run again gives the results of one never stopped", async () => {
  const data = problems("big", 300);
  const args = (out: string) => ["eval", ...COMMON, "--data", `big=${data}`, "--samples", "2", "--temperature", "1", "--out", out, "-q"];
  const whole = join(dir, "whole");
  assert.equal(runCli(args(whole)).status, 0);
  const killed = join(dir, "killed");
  const child = spawn(process.execPath, [MAIN, ...args(killed)], { stdio: "ignore" });
  const file = join(killed, "big.jsonl");
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      // kill once at least one batch (3 problems x 2 samples) is on disk, before the end
      if (existsSync(file) && readFileSync(file, "utf8").split("\n").length > 6) {
        clearInterval(poll);
        child.kill("SIGKILL");
      }
    }, 5);
    child.on("exit", (code, signal) => {
      clearInterval(poll);
      if (signal === "SIGKILL") resolve();
      else reject(new Error(`the eval ended (code ${code}) before it could be killed`));
    });
  });
  assert.equal(existsSync(join(killed, "results.json")), false);
  const resumed = runCli(args(killed));
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(readFileSync(join(killed, "results.json"), "utf8"), readFileSync(join(whole, "results.json"), "utf8"));
  assert.equal(readFileSync(file, "utf8"), readFileSync(join(whole, "big.jsonl"), "utf8"));
  // other settings in the same directory are refused
  const other = runCli(["eval", ...COMMON, "--data", `big=${data}`, "--out", killed, "-q"]);
  assert.equal(other.status, 1);
  assert.match(other.stderr, /eval\.json: this directory holds an eval with other settings/);
});

test("the model's chat template is the default prompt", () => {
  const out = join(dir, "chat");
  const r = runCli(["eval", "--model", modelDir, "--system-prompt", "", "--max-new-tokens", "4", "--data", `amc=${problems("amc", 2)}`, "--out", out, "-q"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(readFileSync(join(out, "eval.json"), "utf8")).prompt, "chat");
  const base = join(dir, "base");
  return writeMathModel(base, { contextLength: 64, chat: false }).then(() => {
    const e = runCli(["eval", "--model", base, "--data", `amc=${join(dir, "amc.jsonl")}`, "--out", join(dir, "chat-base"), "-q"]);
    assert.equal(e.status, 1);
    assert.match(e.stderr, /--prompt: chat: .*--prompt plain/);
  });
});

test("a decoder family with a PEFT adapter evaluates through the same sampler", () => {
  // qwen2-tiny (53 tokens) with a tokenizer of 52 printable characters and <|endoftext|> as id 52
  const qwen = join(dir, "qwen2-tiny");
  cpSync(join(FAMILIES_DIR, "qwen2-tiny"), qwen, { recursive: true });
  const chars = "0123456789+=-*/^(){}[]\\$.,:abcdefghijklmnopqrstuvwxy";
  const tok = byteTokenizerJson() as { model: { vocab: Record<string, number> }; added_tokens: { id: number }[] };
  tok.model.vocab = Object.fromEntries([...chars].map((c, i) => [c, i]));
  tok.model.vocab["<|endoftext|>"] = chars.length;
  tok.added_tokens[0].id = chars.length;
  writeFileSync(join(qwen, "tokenizer.json"), JSON.stringify(tok));
  writeFileSync(join(qwen, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|endoftext|>" }));
  const data = problems("qwen", 3);
  const args = (extra: string[], out: string) => ["eval", "--model", qwen, ...extra, "--prompt", "plain", "--template", "{problem}", "--max-new-tokens", "5", "--data", `q=${data}`, "--out", out, "-q"];
  const base = runCli(args([], join(dir, "qwen-base")));
  assert.equal(base.status, 0, base.stderr);
  const adapted = runCli(args(["--lora", join(qwen, "adapter")], join(dir, "qwen-lora")));
  assert.equal(adapted.status, 0, adapted.stderr);
  const completions = (out: string) => readFileSync(join(dir, out, "q.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).completion);
  assert.equal(completions("qwen-base").length, 3);
  // the adapter changes the model, so greedy decoding differs somewhere (the fixture's B is not zero)
  assert.notDeepEqual(completions("qwen-lora"), completions("qwen-base"));
  assert.match(runCli(["eval", "--model", modelDir, "--lora", join(qwen, "adapter"), "--data", `q=${data}`, "--out", join(dir, "x")]).stderr, /--lora: GPT-2 models take no adapter/);
});

test("bad options are one-line errors", () => {
  assert.match(runCli(["eval", "--model", modelDir]).stderr, /--data is required/);
  assert.match(runCli(["eval", "--model", modelDir, "--data", "nofile"]).stderr, /--data: expected name=file/);
  assert.match(runCli(["eval", "--model", modelDir, "--data", `a=${join(dir, "none.jsonl")}`]).stderr, /none\.jsonl: cannot read input \(ENOENT\)/);
});
