/**
 * A reasoning-sweep worker thread (src/reasoning/experiment.ts drives it): receives a Job, trains its run
 * (resuming from the run's newest checkpoint; a finished run is only reloaded), then evaluates the trained
 * policy, or the base model for a job without a run, greedily on the job's benchmarks (eval resumes too).
 */
import { parentPort } from "node:worker_threads";
import { nativeKernels } from "../engine/kernels/index.js";
import { createProgress } from "../io/progress.js";
import { createPolicy } from "../policy/index.js";
import { evalContext, evaluate, readBenchmarks, type BenchmarkResult } from "../rl/eval.js";
import { createEnginePolicy } from "../rl/model.js";
import type { Policy } from "../rl/policy.js";
import { train } from "../rl/trainer.js";
import { UserError } from "../util/errors.js";
import type { PoolMessage } from "../util/workers.js";
import { evalSettings, type Job } from "./experiment.js";

// One run per core: the kernels' own thread pool would only fight the other workers for the cores.
nativeKernels?.setThreads(1);

const port = parentPort!;
const post = (m: PoolMessage<Record<string, BenchmarkResult>>): void => port.postMessage(m);

async function runJob(index: number, job: Job): Promise<Record<string, BenchmarkResult>> {
  let policy: Policy;
  if (job.train !== null) {
    let built: Policy | null = null;
    await train(job.train, {
      resume: true,
      // the trainer builds the policy; keeping it gives the trained weights (after a finished run's resume: its last checkpoint's)
      policyFactory: async (c) => (built = await createEnginePolicy(c)),
      onStep: (m) => post({ type: "step", index, step: m.step }),
    });
    policy = built!;
  } else {
    policy = await createPolicy(job.model, { seed: 0 });
  }
  if (Object.keys(job.benchmarks).length === 0) return {};
  const settings = evalSettings(job.model, job.benchmarks);
  const progress = createProgress({ label: "eval", quiet: true });
  return evaluate(settings, await readBenchmarks(job.benchmarks), job.evalOut, await evalContext(settings, policy, progress, "eval"));
}

port.on("message", async ({ index, job }: { index: number; job: Job }) => {
  try {
    post({ type: "done", index, result: await runJob(index, job) });
  } catch (err) {
    post({ type: "error", index, message: err instanceof Error ? err.message : String(err), user: err instanceof UserError });
  }
});
