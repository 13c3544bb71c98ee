// Public entry: the paper's core (no engine needed) and the model interface.
export * from "./prm/index.js";
export type * from "./rl/policy.js";
export { Rng } from "./util/rng.js";
