/**
 * What a command does when the other end of stdout or stderr goes away (`... | head`, a closed terminal):
 *
 * - stderr carries progress and notes, never results: once it cannot be written, nothing more is written
 *   to it and the work goes on (a `train ... 2>&1 | head -1` still trains to the end and checkpoints).
 * - stdout carries the command's product: when its reader has gone (EPIPE), nobody wants the rest, so the
 *   process ends at once with status 0, as Unix tools do under `head`; open atomic outputs are dropped by
 *   src/io/atomic.ts's exit hook. Any other stdout failure (a full disk behind `> file`) is one line and
 *   status 1. Commands therefore write their files before they print to stdout.
 *
 * src/cli/main.ts calls guardStdio() once, for every command.
 */

let stderrOpen = true;
let installed = false;

/** False once a write to stderr has failed: progress stops being drawn (src/io/progress.ts). */
export function stderrWritable(): boolean {
  return stderrOpen;
}

export function guardStdio(): void {
  if (installed) return;
  installed = true;
  process.stderr.on("error", () => {
    stderrOpen = false;
  });
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    if (stderrOpen) process.stderr.write(`lambda-grpo: cannot write stdout (${err.code ?? err.message})\n`);
    process.exit(1);
  });
}
