/**
 * ElectraForQuestionAnswering (extractive QA): qa_outputs Linear(C, 2) at every position, no dropout; logits
 * [B*T, 2] with the start logit at [n, 0] and the end logit at [n, 1] (transformers splits them into
 * start_logits [B, T] and end_logits [B, T]: splitSpanLogits).
 */
import * as ops from "../../core/ops.js";
import type { ElectraConfig } from "../config.js";
import { Encoder, type Batch, type RunContext } from "../encoder.js";
import { ElectraWithHead, type Head } from "../head.js";
import type { ParamStore } from "../params.js";

export interface SpanTape {
  h: Float32Array;
  N: number;
}

export class SpanHead implements Head<SpanTape> {
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, readonly p = "qa_outputs.") {
    const C = cfg.hidden_size, d = cfg.num_hidden_layers + 2;
    store.declare(`${p}weight`, [2, C], d);
    store.declare(`${p}bias`, [2], d);
  }

  /** logits [N,2] from h [N,C] */
  forward(ctx: RunContext, h: Float32Array, batch: Batch): { logits: Float32Array; tape: SpanTape } {
    const N = batch.B * batch.T, C = this.cfg.hidden_size, s = this.store, p = this.p;
    const logits = ctx.arena.alloc(N * 2);
    ops.matmulForward(logits, h, s.get(`${p}weight`), s.get(`${p}bias`), N, C, 2);
    return { logits, tape: { h, N } };
  }

  /** d loss / d h [N,C] from d loss / d logits [N,2] */
  backward(ctx: RunContext, t: SpanTape, dlogits: Float32Array): Float32Array {
    const C = this.cfg.hidden_size, N = t.N, s = this.store, p = this.p;
    const dh = ctx.arena.alloc(N * C);
    ops.matmulBackward(dh, s.g(`${p}weight`), s.g(`${p}bias`), dlogits, t.h, s.get(`${p}weight`), N, C, 2);
    return dh;
  }
}

/** start_logits [N] and end_logits [N] (each [B, T]) from the head's interleaved [N, 2] logits. */
export function splitSpanLogits(logits: Float32Array): { start: Float32Array; end: Float32Array } {
  const N = logits.length / 2;
  const start = new Float32Array(N), end = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    start[n] = logits[2 * n];
    end[n] = logits[2 * n + 1];
  }
  return { start, end };
}

/** ElectraForQuestionAnswering; logits [B*T, 2]. */
export class ElectraForQuestionAnswering extends ElectraWithHead<SpanTape> {
  readonly kind = "question-answering" as const;
  readonly architecture = "ElectraForQuestionAnswering";
  readonly encoder: Encoder;
  readonly head: SpanHead;
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, prefix = "") {
    super();
    this.encoder = new Encoder(cfg, store, `${prefix}electra.`);
    this.head = new SpanHead(cfg, store, `${prefix}qa_outputs.`);
  }
}
