/** Progress draws only on a terminal, and --quiet silences it there too. */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createProgress, formatBytes } from "../../src/io/progress.js";

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let text = "";
  const w = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(w, { isTTY, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return { stream: w, text: () => text };
}

test("a bar with bytes of total on a TTY; nothing on a pipe or with quiet", () => {
  const tty = fakeStream(true);
  const p = createProgress({ label: "prm", total: 2_000_000, unit: "bytes", stream: tty.stream });
  p.update(1_000_000, { groups: 12 });
  p.stop();
  p.stop();
  assert.match(tty.text(), /prm \[=+ *\] 50% \| 1\.00 MB \/ 2\.00 MB \| 12 groups/);

  for (const [isTTY, quiet] of [[false, false], [true, true]]) {
    const s = fakeStream(isTTY);
    const q = createProgress({ label: "prm", total: 10, stream: s.stream, quiet });
    q.update(5);
    q.stop();
    assert.equal(s.text(), "");
  }
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(1_234_567_890), "1.23 GB");
});
