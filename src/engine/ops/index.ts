/** The engine's differentiable ops; each file holds an op's forward and its backward. */
export { matmul, type MatmulOptions } from "./matmul.js";
export { linear, linearT } from "./linear.js";
export { biasAdd } from "./biasAdd.js";
export { add } from "./add.js";
export { scale } from "./scale.js";
export { gelu, silu, swiglu } from "./activations.js";
export { layerNorm, rmsNorm } from "./norms.js";
export { embedding, tokenEmbedding } from "./embedding.js";
export { causalSelfAttention, groupedQueryAttention } from "./attention.js";
export { logSoftmaxGather, type GatherOptions } from "./logSoftmaxGather.js";
export { softmax, logSoftmax } from "./softmax.js";
export { sum, mean } from "./reduce.js";
export { rope, ropeInvFreq, ropeQkv, type RopeOptions } from "./rope.js";
export { dropout } from "./dropout.js";
export { loraLinear } from "./lora.js";
export { mul } from "./mul.js";
