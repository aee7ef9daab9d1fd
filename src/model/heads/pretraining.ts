/** ElectraForPreTraining: the discriminator (replaced token detection), one logit per position. */
import * as ops from "../../core/ops.js";
import type { ElectraConfig } from "../config.js";
import { Encoder, type Batch, type RunContext } from "../encoder.js";
import { ElectraWithHead, type Head } from "../head.js";
import type { ParamStore } from "../params.js";

export interface DiscriminatorTape {
  h: Float32Array;
  pre: Float32Array;
  g: Float32Array;
  N: number;
}

/** discriminator_predictions: dense(C, C) -> GELU -> dense_prediction(C, 1): one replaced-token logit per position. */
export class DiscriminatorHead implements Head<DiscriminatorTape> {
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, readonly p = "discriminator_predictions.") {
    const C = cfg.hidden_size, d = cfg.num_hidden_layers + 2;
    store.declare(`${p}dense.weight`, [C, C], d);
    store.declare(`${p}dense.bias`, [C], d);
    store.declare(`${p}dense_prediction.weight`, [1, C], d);
    store.declare(`${p}dense_prediction.bias`, [1], d);
  }

  /** logits[N] from h[N,C] */
  forward(ctx: RunContext, h: Float32Array, batch: Batch): { logits: Float32Array; tape: DiscriminatorTape } {
    const C = this.cfg.hidden_size, a = ctx.arena, s = this.store, p = this.p, N = batch.B * batch.T;
    const pre = a.alloc(N * C), g = a.alloc(N * C), logits = a.alloc(N);
    ops.matmulForward(pre, h, s.get(`${p}dense.weight`), null, N, C, C);
    ops.biasGeluForward(g, pre, s.get(`${p}dense.bias`), N, C);
    ops.matmulForward(logits, g, s.get(`${p}dense_prediction.weight`), s.get(`${p}dense_prediction.bias`), N, C, 1);
    return { logits, tape: { h, pre, g, N } };
  }

  /** d loss / d h [N,C] from d loss / d logits [N] */
  backward(ctx: RunContext, t: DiscriminatorTape, dlogits: Float32Array): Float32Array {
    const C = this.cfg.hidden_size, N = t.N, a = ctx.arena, s = this.store, p = this.p;
    const dg = a.alloc(N * C), dh = a.alloc(N * C);
    ops.matmulBackward(dg, s.g(`${p}dense_prediction.weight`), s.g(`${p}dense_prediction.bias`), dlogits, t.g, s.get(`${p}dense_prediction.weight`), N, C, 1);
    ops.geluBackward(dg, dg, t.pre, N, C);
    ops.matmulBackward(dh, s.g(`${p}dense.weight`), s.g(`${p}dense.bias`), dg, t.h, s.get(`${p}dense.weight`), N, C, C);
    return dh;
  }
}

/** ElectraForPreTraining: the discriminator; logits [B*T]. */
export class ElectraForPreTraining extends ElectraWithHead<DiscriminatorTape> {
  readonly kind = "discriminator" as const;
  readonly architecture = "ElectraForPreTraining";
  readonly encoder: Encoder;
  readonly head: DiscriminatorHead;
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, prefix = "", sharedEmbeddings?: string) {
    super();
    this.encoder = new Encoder(cfg, store, `${prefix}electra.`, sharedEmbeddings);
    this.head = new DiscriminatorHead(cfg, store, `${prefix}discriminator_predictions.`);
  }
}
