/**
 * `lambda-grpo view <run dir | rollouts.jsonl> [--port N]`: a local page that draws each group's prefix tree
 * B(G) with its process rewards and advantages, the per-token weights under GRPO and lambda-GRPO, and the
 * run's curves. Bound to loopback only; runs until Ctrl-C. docs/viewer.md has the details.
 */
import { LOSS_TYPES } from "../prm/index.js";
import { startViewer } from "../view/server.js";
import { isSweep } from "../view/sweep.js";
import { lossTypeOption, onePositional, parseCommand, portOption } from "./args.js";
import { INPUT_OPTIONS, viewerInput } from "./input.js";

/** Default port: fixed so a bookmarked address keeps working between runs; --port 0 takes any free one. */
const DEFAULT_PORT = 8765;

const USAGE = `usage: lambda-grpo view <run dir | rollouts.jsonl | another trainer's log | sweep dir> [options]

Serves a local page: the run's curves (with a run directory), a group browser that draws each group's
prefix tree B(G) (one box per process step with |lambda|, R and A), and per-token weights under GRPO and
lambda-GRPO. A sweep folder (lambda-grpo toy's output) overlays its runs' curves, GRPO against
lambda-GRPO. Only the run's files are served, on a loopback address only.

options:
  -p, --port <n>       port (default ${DEFAULT_PORT}; 0 = any free port)
  --host <addr>        loopback address to bind: 127.0.0.1 (default), ::1 or localhost; others are refused
  --tokenizer <file>   Hugging Face tokenizer.json: show token text instead of ids (and read "text" completions);
                       default: the run's own, when its config.json names one (tokenizer, or a model directory)
  --format <f>         auto (default), lambda-grpo, verl, trl, open-instruct: as for prm (docs/cli-prm.md)
  --reward-field <c>   the reward column of another trainer's log (as for prm)
  --loss-type <t>      aggregation for the per-token weights: ${LOSS_TYPES.join(", ")}
                       (default: the run's config.json loss_type, else dapo)
  -h, --help           this text`;

export async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(
    argv,
    {
      port: { type: "string", short: "p" },
      host: { type: "string" },
      ...INPUT_OPTIONS,
      "loss-type": { type: "string" },
    },
    USAGE,
  );
  if (!parsed) return;
  const { values, positionals } = parsed;
  const source = onePositional("view", positionals, "run directory or rollouts file");
  // A sweep folder is the viewer's own (it overlays the runs' curves); anything else may be another trainer's log.
  const input = (await isSweep(source)) ? { path: source, cleanup: () => {} } : await viewerInput("view", source, values);
  const viewer = await startViewer({
    path: input.path,
    host: values.host,
    port: portOption(values.port, DEFAULT_PORT),
    tokenizer: values.tokenizer,
    lossType: lossTypeOption(values["loss-type"]),
  });
  console.log(`lambda-grpo view: ${viewer.summary}`);
  console.log(`serving on ${viewer.url}  (loopback only; Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void viewer.close().then(() => {
        input.cleanup();
        resolve();
      });
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
