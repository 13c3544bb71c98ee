/**
 * configs/openrs-*.yaml, the authors' settings for the paper's two downstream models, run as a user runs
 * them: each config with only the model path, the data path, output_dir, steps (2) and
 * max_completion_length (small) changed, on a tiny random checkpoint of its model's family (Qwen2 for
 * DeepSeek-R1-Distill-Qwen-1.5B; Llama with llama3 RoPE scaling and a tied head for Llama-3.2-1B), through
 * `lambda-grpo train`: two lines of metrics and a PEFT adapter/ that loads on the base.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { parquetWriteBuffer } from "hyparquet-writer";
import YAML from "yaml";
import { loadDecoderModel } from "../../src/engine/hf-families.js";
import { loadConfigFile } from "../../src/rl/config.js";
import { validateEnv } from "../../src/rl/env/index.js";
import { runCli, tempDir } from "../cli/helpers.js";
import { textConfig, writeFamilyTextModel } from "../fixtures/family-text-model.js";

const CONFIGS = [
  { file: "configs/openrs-r1-distill-qwen-1.5b.yaml", family: "qwen2" as const },
  { file: "configs/openrs-llama-3.2-1b.yaml", family: "llama" as const },
];
const fromSources = import.meta.url.endsWith(".ts");
const configPath = (file: string): string => fileURLToPath(new URL(`${fromSources ? "../../" : "../../../"}${file}`, import.meta.url));

const OVERRIDDEN = ["model", "output_dir", "steps", "max_completion_length"];

for (const { file, family } of CONFIGS) {
  test(`${file}: two steps on a tiny ${family} checkpoint; every setting but the paths and sizes is the file's`, async () => {
    const dir = tempDir();
    const model = await writeFamilyTextModel(join(dir, "model"), family, 2);
    const data = join(dir, "train.parquet");
    const problems = Array.from({ length: 6 }, (_, i) => ({ problem: `What is ${i} + 1?`, solution: `${i} + 1 = \\boxed{${i + 1}}`, answer: String(i + 1) }));
    writeFileSync(data, new Uint8Array(parquetWriteBuffer({ columnData: ["problem", "solution", "answer"].map((name) => ({ name, data: problems.map((p) => p[name as keyof typeof p]) })) })));

    const source = configPath(file);
    const raw = YAML.parse(readFileSync(source, "utf8"));
    const out = join(dir, "run");
    const cfg = join(dir, "config.yaml");
    writeFileSync(cfg, YAML.stringify({ ...raw, model, env: { ...raw.env, data }, output_dir: out, steps: 2, max_completion_length: 8 }));
    const r = runCli(["train", cfg, "--quiet"]);
    assert.equal(r.status, 0, r.stderr);

    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n");
    assert.equal(metrics.length, 2);
    // the run's resolved config is the file's, but for what the test changed
    const theirs = await loadConfigFile(source, validateEnv);
    const ran = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    for (const key of OVERRIDDEN) {
      delete (theirs as Record<string, unknown>)[key];
      delete ran[key];
    }
    assert.deepEqual(ran, { ...theirs, env: { ...theirs.env, data } });
    assert.equal(theirs.num_generations, 6);
    assert.equal(theirs.learning_rate, 1e-6);

    const { model: loaded, adapter } = await loadDecoderModel(model, { trainable: false, adapter: join(out, "adapter") });
    assert.deepEqual({ r: adapter!.lora.r, alpha: adapter!.lora.alpha, dropout: adapter!.lora.dropout }, { r: 64, alpha: 128, dropout: 0.05 });
    assert.equal(loaded.loraParameters().length, 2 * 7 * textConfig(family).nLayer, "every linear module of every layer");
    assert.equal(adapter!.baseModelNameOrPath, model);
  });
}
