// Its own file: node --test runs each file in a fresh process, and Linux carries a parent's peak RSS into
// its children, so the loader is spawned from a process that never held a model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measureLoad, writeCheckpointInChild } from "../../bench/hf-load.js";

test("loading streams: peak RSS grows by at most 1.3x the float32 model (BF16 shards and F32)", () => {
  const dir = mkdtempSync(join(tmpdir(), "hf-rss-"));
  try {
    for (const [dtype, shardMb] of [["BF16", 30], ["F32", 0]] as const) {
      writeCheckpointInChild(dir, 100, dtype, shardMb);
      const m = measureLoad(dir);
      const growth = (m.maxRssBytes - m.rssBeforeBytes) / m.modelBytes;
      assert.ok(m.modelBytes > 90e6, `${m.modelBytes}`);
      assert.ok(growth <= 1.3, `${dtype}: peak RSS grew by ${growth.toFixed(2)}x the model`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
