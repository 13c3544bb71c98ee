/**
 * DecoderPolicy: a Llama 3 / Qwen2 / Qwen3 TransformerLM behind the RL layer's model interface (the
 * shared adapter, engine-policy.ts). With LoRA only the adapters are trained, exported and optimised,
 * and the KL reference is the same model with its adapters off (the frozen base: no second copy).
 */
import type { AdamWConfig } from "../engine/adamw.js";
import { TransformerLM } from "../engine/transformer.js";
import type { Policy, SampleOptions, ScoreOptions, SequenceBatch, TokenScores } from "../rl/policy.js";
import { EnginePolicy } from "./engine-policy.js";
import { UserError } from "../util/errors.js";
import type { RngState } from "../util/rng.js";

export const DECODER_POLICY_STATE_FORMAT = "lambda-grpo/decoder-policy@1";

export class DecoderPolicy extends EnginePolicy<TransformerLM> {
  protected readonly format = DECODER_POLICY_STATE_FORMAT;
  /** true: this policy scores its model with the adapters off (a LoRA policy's reference) */
  private readonly base: boolean;

  /** frozen: no gradients or optimizer; base: score with the adapters off (frozen only). */
  constructor(model: TransformerLM, adam: Partial<AdamWConfig> = {}, frozen = false, base = false) {
    super(model, adam, frozen);
    this.base = base;
  }

  protected identity(): Record<string, unknown> {
    const m = this.model;
    return { config: { ...m.config }, lora: m.lora === null ? null : { ...m.lora } };
  }

  /** LoRA dropout's generator state (its masks continue exactly after a resume). */
  protected override extraMeta(): Record<string, unknown> {
    return { dropout_rng: this.model.dropoutRng.getState() };
  }

  protected override restoreMeta(meta: Record<string, unknown>): void {
    const s = meta.dropout_rng;
    if (!Array.isArray(s) || s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
      throw new UserError(`policy state: dropout_rng is ${JSON.stringify(s)}, expected four uint32 words`);
    }
    this.model.dropoutRng.setState(s as RngState);
  }

  override score(batch: SequenceBatch, opts: ScoreOptions = {}): TokenScores {
    return this.onModel(() => super.score(batch, opts));
  }

  override sample(prompts: Int32Array[], opts: SampleOptions): Int32Array[] {
    return this.onModel(() => super.sample(prompts, opts));
  }

  /** Runs fn with the adapters off when this policy is a LoRA policy's reference. */
  private onModel<R>(fn: () => R): R {
    if (!this.base) return fn();
    const m = this.model;
    const was = m.adapters;
    m.adapters = false;
    try {
      return fn();
    } finally {
      m.adapters = was;
    }
  }

  /**
   * The KL reference. With LoRA: this model with its adapters off (the base stays frozen, so it is the
   * initial policy whatever the adapters learn). Without: a frozen copy of the weights.
   */
  clone(): Policy {
    const m = this.model;
    if (m.lora !== null) return new DecoderPolicy(m, {}, true, true);
    const copy = new TransformerLM(m.config, { trainable: false });
    copy.baseData.set(m.baseData);
    return new DecoderPolicy(copy, {}, true);
  }
}
