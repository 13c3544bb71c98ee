/** Atomic writes: the target appears whole on commit, and nothing (not even the temp file) on abort. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { AtomicWriter, writeFileAtomic } from "../../src/io/atomic.js";

const dir = mkdtempSync(join(tmpdir(), "lgrpo-atomic-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("commit: nothing at the target until commit, then exactly what was written (text and bytes, past the flush size)", async () => {
  const path = join(dir, "out.jsonl");
  const out = await AtomicWriter.open(path);
  const line = "x".repeat(1000) + "\n";
  for (let i = 0; i < 1500; i++) await out.write(line); // 1.5 MB: crosses the 1 MiB flush
  await out.write(new Uint8Array([0x61, 0x62]));
  assert.ok(!existsSync(path), "target absent before commit");
  assert.ok(existsSync(out.tempPath), "bytes go to the temp file meanwhile");
  await out.commit();
  await out.abort(); // a no-op after commit
  assert.equal(readFileSync(path, "utf8"), line.repeat(1500) + "ab");
  assert.deepEqual(readdirSync(dir), ["out.jsonl"]);
});

test("abort: the target keeps its old content and the temp file is gone", async () => {
  const path = join(dir, "keep.txt");
  writeFileSync(path, "old");
  const out = await AtomicWriter.open(path);
  await out.write("new, half-written");
  await out.abort();
  assert.equal(readFileSync(path, "utf8"), "old");
  assert.ok(!existsSync(out.tempPath));
  await assert.rejects(out.write("more"), /write after aborted/);
});

test("writeFileAtomic replaces a file in one step", async () => {
  const path = join(dir, "summary.json");
  await writeFileAtomic(path, "{}\n");
  await writeFileAtomic(path, '{"a": 1}\n');
  assert.equal(readFileSync(path, "utf8"), '{"a": 1}\n');
  assert.ok(!readdirSync(dir).some((f) => f.endsWith(".tmp")));
});

test("killed by a signal mid-write: the temp file is removed and the process still dies of that signal", () => {
  const fromSources = import.meta.url.endsWith(".ts");
  const mod = new URL(`../../src/io/atomic.${fromSources ? "ts" : "js"}`, import.meta.url).href;
  const target = join(dir, "killed.bin");
  const code = [
    `const { AtomicWriter } = await import(${JSON.stringify(mod)});`,
    `const w = await AtomicWriter.open(${JSON.stringify(target)});`,
    `await w.write("partial"); console.log(w.tempPath);`,
    `process.kill(process.pid, "SIGTERM"); await new Promise((r) => setTimeout(r, 5000));`,
  ].join("\n");
  const r = spawnSync(process.execPath, [...(fromSources ? ["--import", "tsx"] : []), "--input-type=module", "-e", code], { encoding: "utf8" });
  assert.equal(r.signal, "SIGTERM", r.stderr);
  const temp = r.stdout.trim();
  assert.ok(temp.startsWith(join(dir, ".killed.bin.")), temp);
  assert.ok(!existsSync(temp), "temp file removed");
  assert.ok(!existsSync(target), "no target");
});
