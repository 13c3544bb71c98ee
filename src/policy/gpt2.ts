/** GPT2Policy: a GPT-2 behind the RL layer's model interface (the shared adapter, engine-policy.ts). */
import type { AdamWConfig } from "../engine/adamw.js";
import { GPT2 } from "../engine/gpt2.js";
import type { Policy } from "../rl/policy.js";
import { EnginePolicy } from "./engine-policy.js";

/** The `meta.format` of PolicyState written by exportState. */
export const POLICY_STATE_FORMAT = "lambda-grpo/gpt2-policy@1";

export class GPT2Policy extends EnginePolicy<GPT2> {
  protected readonly format = POLICY_STATE_FORMAT;

  /** frozen: no gradients or optimizer (clone()'s reference copy). */
  constructor(model: GPT2, adam: Partial<AdamWConfig> = {}, frozen = false) {
    super(model, adam, frozen);
  }

  protected identity(): Record<string, unknown> {
    return { config: { ...this.model.config } };
  }

  clone(): Policy {
    const m = new GPT2(this.model.config, { trainable: false });
    m.data.set(this.model.data);
    return new GPT2Policy(m, {}, true);
  }
}
