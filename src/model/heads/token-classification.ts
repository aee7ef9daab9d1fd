/**
 * ElectraForTokenClassification (NER, chunking, any tagging): dropout -> classifier Linear(C, L) at every
 * position; logits [B*T, L]. transformers' ElectraForTokenClassification; the dropout is classifier_dropout,
 * else hidden_dropout_prob.
 */
import * as ops from "../../core/ops.js";
import type { ElectraConfig } from "../config.js";
import { Encoder, type Batch, type RunContext } from "../encoder.js";
import { ElectraWithHead, headDropout, type Head } from "../head.js";
import type { ParamStore } from "../params.js";

export interface TokenClassifierTape {
  /** [N,C] the head's input after dropout */
  x: Float32Array;
  N: number;
  seed: number;
}

export class TokenClassifierHead implements Head<TokenClassifierTape> {
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, readonly p = "classifier.") {
    const C = cfg.hidden_size, L = cfg.num_labels, d = cfg.num_hidden_layers + 2;
    store.declare(`${p}weight`, [L, C], d);
    store.declare(`${p}bias`, [L], d);
  }

  /** logits [N,L] from h [N,C] */
  forward(ctx: RunContext, h: Float32Array, batch: Batch): { logits: Float32Array; tape: TokenClassifierTape } {
    const { cfg, store: s, p } = this;
    const N = batch.B * batch.T, C = cfg.hidden_size, L = cfg.num_labels, a = ctx.arena, pd = headDropout(cfg);
    const seed = ctx.dropoutSeed(pd);
    let x = h;
    if (seed) {
      x = a.alloc(N * C);
      ops.dropoutForward(x, h, pd, seed);
    }
    const logits = a.alloc(N * L);
    ops.matmulForward(logits, x, s.get(`${p}weight`), s.get(`${p}bias`), N, C, L);
    return { logits, tape: { x, N, seed } };
  }

  /** d loss / d h [N,C] from d loss / d logits [N,L] */
  backward(ctx: RunContext, t: TokenClassifierTape, dlogits: Float32Array): Float32Array {
    const { cfg, store: s, p } = this;
    const C = cfg.hidden_size, L = cfg.num_labels, N = t.N;
    const dh = ctx.arena.alloc(N * C);
    ops.matmulBackward(dh, s.g(`${p}weight`), s.g(`${p}bias`), dlogits, t.x, s.get(`${p}weight`), N, C, L);
    if (t.seed) ops.dropoutBackward(dh, dh, headDropout(cfg), t.seed);
    return dh;
  }
}

/** ElectraForTokenClassification; logits [B*T, L]. */
export class ElectraForTokenClassification extends ElectraWithHead<TokenClassifierTape> {
  readonly kind = "token-classifier" as const;
  readonly architecture = "ElectraForTokenClassification";
  readonly encoder: Encoder;
  readonly head: TokenClassifierHead;
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, prefix = "") {
    super();
    this.encoder = new Encoder(cfg, store, `${prefix}electra.`);
    this.head = new TokenClassifierHead(cfg, store, `${prefix}classifier.`);
  }
}
