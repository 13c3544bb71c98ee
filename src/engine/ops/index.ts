/** The engine's differentiable ops; each file holds an op's forward and its backward. */
export { matmul, type MatmulOptions } from "./matmul.js";
export { linear } from "./linear.js";
export { biasAdd } from "./biasAdd.js";
export { add } from "./add.js";
export { scale } from "./scale.js";
export { gelu, silu } from "./activations.js";
export { layerNorm, rmsNorm } from "./norms.js";
export { embedding } from "./embedding.js";
export { causalSelfAttention } from "./attention.js";
export { logSoftmaxGather, type GatherOptions } from "./logSoftmaxGather.js";
export { softmax, logSoftmax } from "./softmax.js";
export { sum, mean } from "./reduce.js";
export { rope, ropeQkv, type RopeOptions } from "./rope.js";
export { mul } from "./mul.js";
