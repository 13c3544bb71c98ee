/**
 * The golden test (llm.c's test_gpt2 against PyTorch): a tiny GPT-2 with random weights, saved in Hugging
 * Face format by scripts/golden_gpt2.py together with PyTorch's logits, per-token log-probs, mean NLL and
 * the gradient of that loss for every parameter on a padded batch. Our engine, on the TypeScript kernels
 * and on the native ones when they are built, must give the same numbers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { useKernels } from "../../src/engine/backend.js";
import { loadHFModel } from "../../src/engine/hf.js";
import { createPolicy } from "../../src/policy/index.js";
import { GPT2_TINY_DIR, readGolden, type Golden } from "../fixtures/gpt2-tiny/fixture.js";
import { answersOf, expectClose, KERNEL_BACKENDS, expectRegenerated, torchVersion } from "../fixtures/golden.js";

/** The golden batch through the HF directory's model. */
async function ours(g: Golden) {
  const model = await loadHFModel(GPT2_TINY_DIR);
  return { model, ...answersOf(model, g) };
}

for (const [name, k, skip] of KERNEL_BACKENDS) {
  test(`GPT-2 matches PyTorch on the golden fixture: logits, logprobs, loss, every gradient (${name} kernels)`, { skip }, async (t) => {
    const g = await readGolden();
    const prev = useKernels(k!);
    try {
      const r = await ours(g);
      const errs = [
        `logits ${expectClose("logits", r.logits, g.logits).toExponential(1)}`,
        `logprobs ${expectClose("logprobs", r.logprobs, g.logprobs).toExponential(1)}`,
        `loss ${expectClose("loss", [r.loss], [g.loss]).toExponential(1)}`,
      ];
      const params = r.model.parameters();
      assert.deepEqual(params.map((p) => p.name).sort(), [...g.grads.keys()].sort(), "one reference gradient per parameter");
      let worst = { name: "", err: 0 };
      for (const p of params) {
        const err = expectClose(`grad ${p.name}`, p.grad, g.grads.get(p.name)!);
        if (err > worst.err) worst = { name: p.name, err };
      }
      t.diagnostic(`relative errors: ${errs.join(", ")}, worst gradient ${worst.name} ${worst.err.toExponential(1)}`);
      // a gradient that is all zeros would "match" a reference that is all zeros: make sure none is
      for (const [pname, ref] of g.grads) assert.ok(ref.some((x) => x !== 0), `reference gradient of ${pname} is not zero`);
    } finally {
      useKernels(prev);
    }
  });
}

test("createPolicy on the HF directory scores the golden batch as PyTorch does", async () => {
  const g = await readGolden();
  const policy = await createPolicy(GPT2_TINY_DIR, { seed: 0 });
  assert.equal(policy.vocabSize, g.vocabSize);
  assert.equal(policy.contextLength, g.seqLen);
  const s = policy.score({ tokens: g.tokens, batch: g.batch, seqLen: g.seqLen, lengths: g.lengths });
  expectClose("logprobs via Policy.score", s.logprobs, g.logprobs);
});

const SCRIPT = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "../../scripts/golden_gpt2.py" : "../../../scripts/golden_gpt2.py", import.meta.url));

test("the committed fixture is what scripts/golden_gpt2.py writes (same torch version; PyTorch's answers within a tolerance)", async (t) => {
  const torch = torchVersion();
  if ("missing" in torch) return t.skip(`${torch.missing}: PyTorch is not needed to run the golden test, only to regenerate it`);
  const { metadata } = await readGolden();
  if (metadata.torch !== torch.version) {
    return t.skip(`fixture made with torch ${metadata.torch}, this machine has ${torch.version} (its random numbers may differ)`);
  }
  const dir = await mkdtemp(join(tmpdir(), "golden-"));
  try {
    const r = spawnSync("/usr/bin/python3", [SCRIPT, "--out", dir], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    await expectRegenerated(dir, GPT2_TINY_DIR, ["config.json", "model.safetensors", "inputs.jsonl", "golden.safetensors"], "/usr/bin/python3 scripts/golden_gpt2.py");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
