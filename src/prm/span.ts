/**
 * Below this many elements a plain loop writes a span faster than TypedArray.prototype.fill, whose call costs
 * tens of ns (measured on Node 20: fill of 4 elements 33 ns, loop 24 ns; fill of 64 elements 68 ns, loop 198 ns).
 * Internal to src/prm; not re-exported.
 */
export const FILL_MIN = 16;
