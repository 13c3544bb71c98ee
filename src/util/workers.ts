/**
 * A pool of worker threads for sweeps (the toy's runs, the reasoning experiment's): each job goes to the
 * next free worker, a worker reports steps and its result, and the first failure stops the pool.
 */
import { Worker } from "node:worker_threads";

/** What a pool's worker posts: progress, its job's result, or a failure (`user`: a UserError, one line). */
export type PoolMessage<R> =
  | { type: "step"; index: number; step: number }
  | { type: "done"; index: number; result: R }
  | { type: "error"; index: number; message: string; user: boolean };

/**
 * A spawner of the worker module `name` (without extension) beside `from` (the caller's import.meta.url).
 * From dist the worker is `<name>.js`. From source (node --import tsx, the tests) it is `<name>.ts`, and
 * Node 20 does not carry tsx's loader into a worker, so a tiny bootstrap registers tsx there first.
 */
export function workerSpawner(from: string, name: string): () => Worker {
  const here = new URL(from);
  if (!here.pathname.endsWith(".ts")) return () => new Worker(new URL(`./${name}.js`, here));
  const tsx = import.meta.resolve("tsx/esm/api");
  const worker = new URL(`./${name}.ts`, here).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(worker)}); });`;
  return () => new Worker(code, { eval: true });
}

export interface PoolHandlers<R> {
  /** job `index` reached training step `step` */
  step?(index: number, step: number): void;
  /** job `index` finished with `result` */
  done?(index: number, result: R): void;
  /** the error the pool rejects with when job `index` failed */
  error(index: number, message: string, user: boolean): Error;
}

/**
 * Runs `jobs[i]` for each i in `todo` (posted as `{ index, job }`) on at most `parallel` workers from
 * `spawn`; resolves with the results by index (entries outside `todo` left empty) once every job is done.
 */
export async function runPool<J, R>(jobs: J[], todo: number[], parallel: number, spawn: () => Worker, on: PoolHandlers<R>): Promise<R[]> {
  const results: R[] = new Array(jobs.length);
  let next = 0;
  let finished = 0;
  if (todo.length === 0) return results;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    let live = 0;
    const pool: Worker[] = [];
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      for (const w of pool) void w.terminate();
      reject(err);
    };
    const feed = (w: Worker): void => {
      if (failed) return;
      if (next >= todo.length) {
        void w.terminate();
        return;
      }
      const index = todo[next++];
      w.postMessage({ index, job: jobs[index] });
    };
    for (let i = 0; i < Math.max(1, Math.min(parallel, todo.length)); i++) {
      const w = spawn();
      pool.push(w);
      live++;
      w.on("message", (m: PoolMessage<R>) => {
        if (m.type === "step") on.step?.(m.index, m.step);
        else if (m.type === "done") {
          results[m.index] = m.result;
          finished++;
          on.done?.(m.index, m.result);
          feed(w);
        } else fail(on.error(m.index, m.message, m.user));
      });
      w.on("error", fail);
      w.on("exit", () => {
        live--;
        if (live === 0 && !failed) {
          if (finished === todo.length) resolve();
          else reject(new Error(`workers exited with ${todo.length - finished} jobs unfinished`));
        }
      });
      feed(w);
    }
  });
  return results;
}
