/**
 * ElectraModel: the bare encoder (a common Hub upload). Its "logits" are the last hidden state [N, C], so
 * `embed` and fine-tuning (which replaces the head) can start from it.
 */
import type { ElectraConfig } from "../config.js";
import { Encoder, type Batch, type RunContext } from "../encoder.js";
import { ElectraWithHead, type Head } from "../head.js";
import type { ParamStore } from "../params.js";

export class IdentityHead implements Head<null> {
  forward(_ctx: RunContext, h: Float32Array, _batch: Batch): { logits: Float32Array; tape: null } {
    return { logits: h, tape: null };
  }
  backward(_ctx: RunContext, _t: null, dlogits: Float32Array): Float32Array {
    return dlogits;
  }
}

export class ElectraBareModel extends ElectraWithHead<null> {
  readonly kind = "encoder" as const;
  readonly architecture = "ElectraModel";
  readonly encoder: Encoder;
  readonly head = new IdentityHead();
  /**
   * transformers' ElectraModel saves `embeddings.*` and `encoder.*` without the `electra.` prefix; the store keeps
   * the prefix of every other head (loadIntoStore accepts both), so one folder's encoder loads into any head.
   */
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, prefix = "") {
    super();
    this.encoder = new Encoder(cfg, store, `${prefix}electra.`);
  }
}
