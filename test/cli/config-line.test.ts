/**
 * atConfigLine (src/cli/config-line.ts): a trainer's `field: message` gets the config's path and the field's
 * line; a message that begins with a place of its own (a file that exists, `file:line` of one) is left as it
 * is; a field is a field even where a file of its name exists in the working directory.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { atConfigLine } from "../../src/cli/config-line.js";
import { UserError } from "../../src/util/errors.js";

// line 1: model; line 2: lora, whose mapping begins at line 3 with lora.r; line 4: steps
const CONFIG = "model: tiny\nlora:\n  r: 8\nsteps: 10\n";

let dir: string;
let cfg: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "lgrpo-configline-"));
  cfg = join(dir, "train.yaml");
  writeFileSync(cfg, CONFIG);
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function message(text: string, cwd = process.cwd()): Promise<string> {
  const here = process.cwd();
  process.chdir(cwd);
  try {
    return ((await atConfigLine(new UserError(text), cfg)) as Error).message;
  } finally {
    process.chdir(here);
  }
}

test("a field's message gets the config and the field's line, or its mapping's for a field not written", async () => {
  assert.equal(await message("lora.r: 8 disagrees with the adapter's 4"), `${cfg}:3: lora.r: 8 disagrees with the adapter's 4`);
  assert.equal(await message("lora.alpha: must be positive"), `${cfg}:3: lora.alpha: must be positive`);
  assert.equal(await message("max_length: 2048 exceeds the context 1024"), `${cfg}: max_length: 2048 exceeds the context 1024`);
  assert.equal(await message("the model has no tokenizer"), `${cfg}: the model has no tokenizer`);
});

test("a field is a field even where a file of that name exists here", async () => {
  writeFileSync(join(dir, "lora.r"), "");
  writeFileSync(join(dir, "steps"), "");
  assert.equal(await message("lora.r: 8 disagrees with the adapter's 4", dir), `${cfg}:3: lora.r: 8 disagrees with the adapter's 4`);
  assert.equal(await message("steps: nothing to train", dir), `${cfg}:4: steps: nothing to train`);
});

test("a message beginning with a file that exists, or file:line of one, is left as it is", async () => {
  const weights = join(dir, "model.safetensors");
  writeFileSync(weights, "");
  for (const text of [
    `${cfg}: gradient_accumulation_steps: must divide the batch`,
    `${cfg}:4: steps: expected a positive integer`,
    `${weights}: tensor 'wte.weight' has shape [2, 2]`,
    `${weights}:1: not a safetensors header`,
  ]) {
    assert.equal(await message(text), text);
  }
  // a bare file name (model: . in a model directory) whose first part is a field: the file, not the field
  assert.equal(await message("model.safetensors: tensor 'wte.weight' has shape [2, 2]", dir), "model.safetensors: tensor 'wte.weight' has shape [2, 2]");
});

test("errors other than UserError pass through untouched", async () => {
  const bug = new TypeError("lora.r: not a UserError");
  assert.equal(await atConfigLine(bug, cfg), bug);
  assert.equal(bug.message, "lora.r: not a UserError");
});
