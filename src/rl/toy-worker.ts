/**
 * A toy-sweep worker thread: receives { index, job: config }, runs `train` on it, posts progress and the run's
 * per-step target rate (src/rl/toy.ts drives it).
 */
import { parentPort } from "node:worker_threads";
import { nativeKernels } from "../engine/kernels/index.js";
import { UserError } from "../util/errors.js";
import type { TrainConfig } from "./config.js";
import type { RunResult, WorkerMessage } from "./toy.js";
import { train } from "./trainer.js";

// One run per core: the kernels' own thread pool would only fight the other workers for the cores.
nativeKernels?.setThreads(1);

const port = parentPort!;
port.on("message", async ({ index, job: config }: { index: number; job: TrainConfig }) => {
  const post = (m: WorkerMessage) => port.postMessage(m);
  try {
    const started = performance.now();
    const targetRate: number[] = [];
    const rewardMean: number[] = [];
    await train(config, {
      overwrite: true,
      onStep(m) {
        targetRate.push(m["env/target_rate"] ?? 0);
        rewardMean.push(m.reward_mean);
        if (m.step % 10 === 0 || m.step === config.steps) post({ type: "step", index, step: m.step });
      },
    });
    const result: RunResult = { targetRate, rewardMean, seconds: (performance.now() - started) / 1000 };
    post({ type: "done", index, result });
  } catch (err) {
    post({ type: "error", index, message: err instanceof Error ? err.message : String(err), user: err instanceof UserError });
  }
});
