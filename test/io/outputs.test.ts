/**
 * prepareOutputs: an output that is an input (by name, through a symbolic link, as a hard link), two outputs
 * that are one file, or an output that is a directory is refused before anything is written; stale temp
 * files of dead writers are removed, those of live ones kept.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { removeStaleTemps, tempPathFor } from "../../src/io/atomic.js";
import { prepareOutputs, sameFile } from "../../src/io/outputs.js";

const dir = mkdtempSync(join(tmpdir(), "lgrpo-outputs-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const input = join(dir, "in.jsonl");
writeFileSync(input, "{}\n");
symlinkSync(input, join(dir, "soft.jsonl"));
linkSync(input, join(dir, "hard.jsonl"));
mkdirSync(join(dir, "sub"));
symlinkSync(dir, join(dir, "sub", "up"));

test("an output that is an input is refused, by any name", async () => {
  for (const out of [input, join(dir, "soft.jsonl"), join(dir, "hard.jsonl"), join(dir, "sub", "..", "in.jsonl"), join(dir, "sub", "up", "in.jsonl")]) {
    await assert.rejects(
      prepareOutputs({ inputs: [{ option: "input", path: input }], outputs: [{ option: "--out", path: out }] }),
      (err: Error) => err.name === "UserError" && err.message.startsWith(`--out: ${out} is the input ${input}`),
      out,
    );
  }
  // the same check when the input is named through the link and the output by its real name
  await assert.rejects(
    prepareOutputs({ inputs: [{ option: "--tokenizer", path: join(dir, "soft.jsonl") }], outputs: [{ option: "--out", path: input }] }),
    /--out: .*in\.jsonl is the --tokenizer file .*soft\.jsonl \(the same file under another name\)/,
  );
  assert.equal(readdirSync(dir).sort().join(), "hard.jsonl,in.jsonl,soft.jsonl,sub");
});

test("two outputs that are one file, an output that is a directory, or a file of an input directory are refused", async () => {
  const a = join(dir, "new.json");
  await assert.rejects(
    prepareOutputs({ outputs: [{ option: "--json", path: a }, { option: "--report", path: join(dir, "sub", "up", "new.json") }] }),
    /--report: .* is also the --json file .*new\.json \(the same file under another name\); give each output its own file/,
  );
  assert.ok(!existsSync(a));
  await assert.rejects(prepareOutputs({ outputs: [{ option: "--out", path: join(dir, "sub") }] }), /--out: .*sub is a directory/);
  await assert.rejects(
    prepareOutputs({ inputDirs: [{ option: "--model", path: dir }], outputs: [{ option: "--out", path: join(dir, "hard.jsonl") }] }),
    /a file of the --model directory/,
  );
  // what is fine: distinct new files, stdin/stdout, options not given, a new file in an input directory
  await prepareOutputs({
    inputs: [{ option: "input", path: "-" }, { option: "input", path: input }, { option: "--tokenizer", path: undefined }],
    inputDirs: [{ option: "--model", path: dir }],
    outputs: [{ option: "--out", path: "-" }, { option: "--json", path: a }, { option: "--report", path: join(dir, "b.html") }],
  });
  assert.equal(await sameFile(join(dir, "hard.jsonl"), join(dir, "soft.jsonl")), true);
  assert.equal(await sameFile(join(dir, "new.json"), join(dir, "sub", "up", "new.json")), true);
  assert.equal(await sameFile(join(dir, "new.json"), join(dir, "b.html")), false);
});

test("stale temp files: those of a dead writer go, a live writer's stay, others' names are not touched", async () => {
  const work = join(dir, "temps");
  mkdirSync(work);
  const target = join(work, "out.jsonl");
  // a pid that is certainly dead: a child that has exited
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
  const stale = `.out.jsonl.${dead}.0123abcd.tmp`;
  const other = `.other.jsonl.${dead}.0123abcd.tmp`;
  const live = tempPathFor(target);
  const notOurs = ".out.jsonl.notes.tmp";
  const ckpt = `.step-00000010.safetensors.${dead}.deadbeef.tmp`;
  for (const f of [stale, other, notOurs, ckpt]) writeFileSync(join(work, f), "x");
  writeFileSync(live, "x");
  await prepareOutputs({ outputs: [{ option: "--out", path: target }] });
  assert.deepEqual(readdirSync(work).sort(), [ckpt, other, notOurs, live.slice(work.length + 1)].sort());
  assert.deepEqual(await removeStaleTemps(work, /^step-\d{8}\.safetensors$/), [ckpt]);
});
