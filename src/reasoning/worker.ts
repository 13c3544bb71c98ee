/**
 * A reasoning-sweep worker thread (src/reasoning/experiment.ts drives it): receives a Job, trains its run
 * (resuming from the run's newest checkpoint; a finished run is only reloaded), then evaluates the trained
 * policy, or the base model for a job without a run, greedily on the job's benchmarks (eval resumes too).
 */
import { parentPort } from "node:worker_threads";
import { join } from "node:path";
import { nativeKernels } from "../engine/kernels/index.js";
import { createProgress } from "../io/progress.js";
import { stopTokenIds } from "../io/chat.js";
import { loadTokenizer } from "../io/tokenizer.js";
import { readDataset } from "../data/index.js";
import { createPolicy } from "../policy/index.js";
import { mathPrompter } from "../rl/env/math.js";
import { evaluate, type BenchmarkResult } from "../rl/eval.js";
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
  const tokenizer = await loadTokenizer(join(job.model, "tokenizer.json"));
  const benchmarks = [];
  for (const [name, file] of Object.entries(job.benchmarks)) benchmarks.push({ name, rows: (await readDataset(file, {})).rows });
  return evaluate(settings, benchmarks, job.evalOut, {
    policy,
    tokenizer,
    prompter: await mathPrompter({ style: settings.prompt, systemPrompt: settings.systemPrompt, plainTemplate: settings.plainTemplate }, job.model, "eval"),
    stopTokens: await stopTokenIds(job.model, tokenizer),
    grading: {},
    progress: createProgress({ label: "eval", quiet: true }),
  });
}

port.on("message", async ({ index, job }: { index: number; job: Job }) => {
  try {
    post({ type: "done", index, result: await runJob(index, job) });
  } catch (err) {
    post({ type: "error", index, message: err instanceof Error ? err.message : String(err), user: err instanceof UserError });
  }
});
