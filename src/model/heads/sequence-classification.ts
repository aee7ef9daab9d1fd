/** ElectraForSequenceClassification: sentence (pair) classification and regression on the first token. */
import * as ops from "../../core/ops.js";
import type { ElectraConfig } from "../config.js";
import { Encoder, type Batch, type RunContext } from "../encoder.js";
import { ElectraWithHead, headDropout, type Head } from "../head.js";
import type { ParamStore } from "../params.js";

export interface ClassifierTape {
  rows: Int32Array;
  N: number;
  x0: Float32Array; // [B,C] first-token states after dropout
  pre: Float32Array | null;
  gd: Float32Array | null; // [B,C] after GELU and dropout
  seeds: [number, number];
}

/**
 * Sequence classification on the first token. "hf": transformers' ElectraClassificationHead
 * (dropout -> dense(C, C) -> GELU -> dropout -> out_proj(C, L)); "official": google-research/electra's
 * (dropout -> dense(C, L), here named classifier.out_proj).
 */
export class ClassifierHead implements Head<ClassifierTape> {
  readonly kind: "hf" | "official";
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, readonly p = "classifier.") {
    const C = cfg.hidden_size, L = cfg.num_labels, d = cfg.num_hidden_layers + 2;
    this.kind = cfg.classifier_head ?? "hf";
    if (this.kind === "hf") {
      store.declare(`${p}dense.weight`, [C, C], d);
      store.declare(`${p}dense.bias`, [C], d);
    }
    store.declare(`${p}out_proj.weight`, [L, C], d);
    store.declare(`${p}out_proj.bias`, [L], d);
  }

  get dropout(): number {
    return headDropout(this.cfg);
  }

  forward(ctx: RunContext, h: Float32Array, batch: Batch): { logits: Float32Array; tape: ClassifierTape } {
    const { cfg, store: s, p } = this;
    const { B, T } = batch;
    const C = cfg.hidden_size, L = cfg.num_labels, a = ctx.arena, pd = this.dropout;
    const rows = new Int32Array(B);
    for (let b = 0; b < B; b++) rows[b] = b * T;
    const x0 = a.alloc(B * C);
    ops.gatherRows(x0, h, rows, C);
    const seeds: [number, number] = [ctx.dropoutSeed(pd), this.kind === "hf" ? ctx.dropoutSeed(pd) : 0];
    if (seeds[0]) ops.dropoutForward(x0, x0, pd, seeds[0]);
    const logits = a.alloc(B * L);
    if (this.kind === "official") {
      ops.matmulForward(logits, x0, s.get(`${p}out_proj.weight`), s.get(`${p}out_proj.bias`), B, C, L);
      return { logits, tape: { rows, N: B * T, x0, pre: null, gd: null, seeds } };
    }
    const pre = a.alloc(B * C), gd = a.alloc(B * C);
    ops.matmulForward(pre, x0, s.get(`${p}dense.weight`), null, B, C, C);
    ops.biasGeluForward(gd, pre, s.get(`${p}dense.bias`), B, C);
    if (seeds[1]) ops.dropoutForward(gd, gd, pd, seeds[1]);
    ops.matmulForward(logits, gd, s.get(`${p}out_proj.weight`), s.get(`${p}out_proj.bias`), B, C, L);
    return { logits, tape: { rows, N: B * T, x0, pre, gd, seeds } };
  }

  backward(ctx: RunContext, t: ClassifierTape, dlogits: Float32Array): Float32Array {
    const { cfg, store: s, p } = this;
    const C = cfg.hidden_size, L = cfg.num_labels, a = ctx.arena, B = t.rows.length, pd = this.dropout;
    const dx0 = a.alloc(B * C);
    if (this.kind === "official") {
      ops.matmulBackward(dx0, s.g(`${p}out_proj.weight`), s.g(`${p}out_proj.bias`), dlogits, t.x0, s.get(`${p}out_proj.weight`), B, C, L);
    } else {
      const dg = a.alloc(B * C);
      ops.matmulBackward(dg, s.g(`${p}out_proj.weight`), s.g(`${p}out_proj.bias`), dlogits, t.gd!, s.get(`${p}out_proj.weight`), B, C, L);
      if (t.seeds[1]) ops.dropoutBackward(dg, dg, pd, t.seeds[1]);
      ops.geluBackward(dg, dg, t.pre!, B, C);
      ops.matmulBackward(dx0, s.g(`${p}dense.weight`), s.g(`${p}dense.bias`), dg, t.x0, s.get(`${p}dense.weight`), B, C, C);
    }
    if (t.seeds[0]) ops.dropoutBackward(dx0, dx0, pd, t.seeds[0]);
    const dh = a.zeros(t.N * C);
    ops.scatterAddRows(dh, dx0, t.rows, C);
    return dh;
  }
}

/** ElectraForSequenceClassification (regression when num_labels = 1); logits [B,L]. */
export class ElectraForSequenceClassification extends ElectraWithHead<ClassifierTape> {
  readonly kind = "classifier" as const;
  readonly architecture = "ElectraForSequenceClassification";
  readonly encoder: Encoder;
  readonly head: ClassifierHead;
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, prefix = "") {
    super();
    this.encoder = new Encoder(cfg, store, `${prefix}electra.`);
    this.head = new ClassifierHead(cfg, store, `${prefix}classifier.`);
  }
}
