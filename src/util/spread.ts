/**
 * `count` items of `all`, evenly spaced, first and last included, in their order (all of them when there are
 * no more than `count`). Used to sample a run's steps for a table or a report.
 */
export function evenlySpaced<T>(all: readonly T[], count: number): T[] {
  if (all.length <= count) return [...all];
  if (count === 1) return [all[0]];
  const idx = new Set<number>();
  for (let j = 0; j < count; j++) idx.add(Math.round((j * (all.length - 1)) / (count - 1)));
  return [...idx].map((i) => all[i]);
}
