// The paper's core (PAPER.md sections 1-3): prefix tree B(G), process rewards and advantages, lambda sizes,
// loss weights, overlap metrics. Pure TypeScript; usable alone on rollouts from any trainer.
export * from "./tree.js";
export * from "./advantages.js";
export * from "./weights.js";
export * from "./metrics.js";
export * from "./analyze.js";
