/**
 * Small statistics over plain number arrays, shared by the sweeps and their reports.
 */

/**
 * Pearson's correlation coefficient of paired samples, in [-1, 1]; null where it is undefined: fewer than two
 * pairs, or either series constant (zero variance). A series counts as constant when all its values are equal,
 * not when its computed variance is 0: a float mean can leave rounding residues that would give a spurious r.
 * Two passes (means first), so large offsets do not cancel the deviations.
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  if (x.length !== y.length) throw new Error(`pearson: ${x.length} x values against ${y.length} y values`);
  const n = x.length;
  if (n < 2 || isConstant(x) || isConstant(y)) return null;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  // Rounding can push |r| a hair past 1 for exactly linear data.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

function isConstant(xs: ArrayLike<number>): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i] !== xs[0]) return false;
  return true;
}

/** Mean and sample standard deviation (n - 1; 0 for a single value) of a non-empty series. */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}
