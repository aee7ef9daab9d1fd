/**
 * ElectraForMultipleChoice: each (context, choice) pair is one row of the batch, the rows of one example back to
 * back ([examples, num_choices, T] flattened to B = examples * num_choices rows). On each row's first token:
 * transformers' SequenceSummary as ELECTRA configures it (summary_type "first", summary_use_proj: the
 * `sequence_summary.summary` Linear(C, C), summary_activation "gelu" (erf), summary_last_dropout), then
 * `classifier` Linear(C, 1); logits [B] = [examples, num_choices], a softmax over each example's choices.
 */
import * as ops from "../../core/ops.js";
import type { ElectraConfig } from "../config.js";
import { Encoder, type Batch, type RunContext } from "../encoder.js";
import { ElectraWithHead, type Head } from "../head.js";
import type { ParamStore } from "../params.js";

export interface ChoiceTape {
  rows: Int32Array;
  N: number;
  x0: Float32Array; // [B,C] first-token states
  pre: Float32Array; // [B,C] before GELU
  gd: Float32Array; // [B,C] after GELU and dropout
  seed: number;
}

export class ChoiceHead implements Head<ChoiceTape> {
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, readonly prefix = "") {
    const C = cfg.hidden_size, d = cfg.num_hidden_layers + 2;
    store.declare(`${prefix}sequence_summary.summary.weight`, [C, C], d);
    store.declare(`${prefix}sequence_summary.summary.bias`, [C], d);
    store.declare(`${prefix}classifier.weight`, [1, C], d);
    store.declare(`${prefix}classifier.bias`, [1], d);
  }

  /** transformers' ElectraConfig: summary_last_dropout 0.1 */
  get dropout(): number {
    return this.cfg.summary_last_dropout ?? 0.1;
  }

  /** logits [B] from h [N,C] */
  forward(ctx: RunContext, h: Float32Array, batch: Batch): { logits: Float32Array; tape: ChoiceTape } {
    const { cfg, store: s, prefix: p } = this;
    const { B, T } = batch;
    const C = cfg.hidden_size, a = ctx.arena, pd = this.dropout;
    const rows = new Int32Array(B);
    for (let b = 0; b < B; b++) rows[b] = b * T;
    const x0 = a.alloc(B * C), pre = a.alloc(B * C), gd = a.alloc(B * C), logits = a.alloc(B);
    ops.gatherRows(x0, h, rows, C);
    ops.matmulForward(pre, x0, s.get(`${p}sequence_summary.summary.weight`), null, B, C, C);
    ops.biasGeluForward(gd, pre, s.get(`${p}sequence_summary.summary.bias`), B, C);
    const seed = ctx.dropoutSeed(pd);
    if (seed) ops.dropoutForward(gd, gd, pd, seed);
    ops.matmulForward(logits, gd, s.get(`${p}classifier.weight`), s.get(`${p}classifier.bias`), B, C, 1);
    return { logits, tape: { rows, N: B * T, x0, pre, gd, seed } };
  }

  /** d loss / d h [N,C] from d loss / d logits [B] */
  backward(ctx: RunContext, t: ChoiceTape, dlogits: Float32Array): Float32Array {
    const { cfg, store: s, prefix: p } = this;
    const C = cfg.hidden_size, a = ctx.arena, B = t.rows.length;
    const dg = a.alloc(B * C), dx0 = a.alloc(B * C);
    ops.matmulBackward(dg, s.g(`${p}classifier.weight`), s.g(`${p}classifier.bias`), dlogits, t.gd, s.get(`${p}classifier.weight`), B, C, 1);
    if (t.seed) ops.dropoutBackward(dg, dg, this.dropout, t.seed);
    ops.geluBackward(dg, dg, t.pre, B, C);
    ops.matmulBackward(dx0, s.g(`${p}sequence_summary.summary.weight`), s.g(`${p}sequence_summary.summary.bias`), dg, t.x0,
      s.get(`${p}sequence_summary.summary.weight`), B, C, C);
    const dh = a.zeros(t.N * C);
    ops.scatterAddRows(dh, dx0, t.rows, C);
    return dh;
  }
}

/** ElectraForMultipleChoice; logits [B] (= [examples, num_choices]). */
export class ElectraForMultipleChoice extends ElectraWithHead<ChoiceTape> {
  readonly kind = "multiple-choice" as const;
  readonly architecture = "ElectraForMultipleChoice";
  readonly encoder: Encoder;
  readonly head: ChoiceHead;
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, prefix = "") {
    super();
    this.encoder = new Encoder(cfg, store, `${prefix}electra.`);
    this.head = new ChoiceHead(cfg, store, prefix);
  }
}
