/**
 * How the toy's one learning rate was chosen (docs/trainer.md): the full sweep on a target leaf and seeds
 * that the reported table does not use (TUNING_TARGET, TUNING_SEEDS), for each candidate rate, scored by the
 * mean target rate over all cells and BOTH algorithms, so the choice favours neither.
 *
 *   node --import tsx src/rl/toy-tune.ts [--preset small | --model DIR] [--rates 1e-4,3e-4,1e-3] [--steps 250] [--out DIR]
 *
 * `--model DIR` chooses the rate of `toy --model DIR --learning-rate X` the same way (src/rl/toy-model.ts).
 *
 * `--target LLRL --seed-list 0,1,2,3,4` repeats it on the reported target and seeds: a sensitivity study of
 * the finished table (docs/trainer.md), never a way to pick the rate.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { toyModel, type ToyModel } from "./toy-model.js";
import { formatTable, runToy, summarise, TUNING_SEEDS, TUNING_TARGET, type ToyOptions, type ToyPreset } from "./toy.js";

export async function tune(
  preset: ToyPreset,
  rates: number[],
  steps: number,
  outDir: string,
  target = TUNING_TARGET,
  seeds = TUNING_SEEDS,
  model?: ToyModel,
): Promise<{ rate: number; score: number }[]> {
  const scores: { rate: number; score: number }[] = [];
  for (const rate of rates) {
    const opts: ToyOptions = {
      preset,
      model,
      seeds: seeds.length,
      seedList: seeds,
      steps,
      target,
      outDir: join(outDir, `lr-${rate}`),
      hyperparameters: { learning_rate: rate, log_rollouts: false },
    };
    const r = summarise(opts, await runToy(opts));
    const score = r.cells.reduce((a, c) => a + c.grpo.mean + c.lambda.mean, 0) / (2 * r.cells.length);
    console.log(`learning_rate ${rate}: mean target rate ${score.toFixed(4)} (${r.wall_seconds.toFixed(0)} s)\n${formatTable(r)}\n`);
    scores.push({ rate, score });
  }
  return scores;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      preset: { type: "string", default: "small" },
      model: { type: "string" },
      rates: { type: "string", default: "1e-4,3e-4,1e-3,3e-3" },
      steps: { type: "string", default: "250" },
      out: { type: "string", default: "runs/toy-tune" },
      target: { type: "string", default: TUNING_TARGET },
      "seed-list": { type: "string", default: TUNING_SEEDS.join(",") },
    },
  });
  const scores = await tune(
    values.preset as ToyPreset,
    values.rates!.split(",").map(Number),
    Number(values.steps),
    values.out!,
    values.target!,
    values["seed-list"]!.split(",").map(Number),
    values.model === undefined ? undefined : await toyModel(values.model),
  );
  const best = scores.reduce((a, b) => (b.score > a.score ? b : a));
  console.log(`chosen learning_rate: ${best.rate} (${scores.map((s) => `${s.rate}: ${s.score.toFixed(4)}`).join(", ")})`);
}
