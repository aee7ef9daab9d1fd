/** ElectraForMaskedLM: the generator, its lm head tied to its word embeddings. */
import * as ops from "../../core/ops.js";
import type { ElectraConfig } from "../config.js";
import { Encoder, type Batch, type RunContext } from "../encoder.js";
import { ElectraWithHead, type Head } from "../head.js";
import type { ParamStore } from "../params.js";

export interface GeneratorTape {
  rows: Int32Array | null;
  N: number;
  M: number;
  hs: Float32Array;
  pre: Float32Array;
  g: Float32Array;
  mean: Float32Array;
  rstd: Float32Array;
  ln: Float32Array;
}

/**
 * generator_predictions: dense(C, E) -> GELU -> LayerNorm(E), then generator_lm_head: logits = h word_embeddings^T + bias.
 * Runs on selected rows only (the masked positions) when `rows` is given: the vocabulary projection is the
 * costliest matrix product of a generator, and only masked positions have a loss.
 */
export class GeneratorHead implements Head<GeneratorTape> {
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, readonly prefix = "", readonly wordEmbeddings = `${prefix}electra.embeddings.word_embeddings.weight`) {
    const C = cfg.hidden_size, E = cfg.embedding_size, V = cfg.vocab_size, d = cfg.num_hidden_layers + 2;
    store.declare(`${prefix}generator_predictions.dense.weight`, [E, C], d);
    store.declare(`${prefix}generator_predictions.dense.bias`, [E], d);
    store.declare(`${prefix}generator_predictions.LayerNorm.weight`, [E], d);
    store.declare(`${prefix}generator_predictions.LayerNorm.bias`, [E], d);
    store.alias(`${prefix}generator_lm_head.weight`, wordEmbeddings); // tied, as transformers
    store.declare(`${prefix}generator_lm_head.bias`, [V], d);
  }

  /** logits[M,V] for rows (indices into h[N,C]) or all N rows */
  forward(ctx: RunContext, h: Float32Array, batch: Batch, rows: Int32Array | null): { logits: Float32Array; tape: GeneratorTape } {
    const { cfg, store: s, prefix: p } = this;
    const N = batch.B * batch.T;
    const C = cfg.hidden_size, E = cfg.embedding_size, V = cfg.vocab_size, a = ctx.arena;
    const M = rows ? rows.length : N;
    let hs = h;
    if (rows) {
      hs = a.alloc(M * C);
      ops.gatherRows(hs, h, rows, C);
    }
    const pre = a.alloc(M * E), g = a.alloc(M * E), ln = a.alloc(M * E), mean = a.alloc(M), rstd = a.alloc(M);
    ops.matmulForward(pre, hs, s.get(`${p}generator_predictions.dense.weight`), null, M, C, E);
    ops.biasGeluForward(g, pre, s.get(`${p}generator_predictions.dense.bias`), M, E);
    ops.layernormForward(ln, g, mean, rstd, g, null, s.get(`${p}generator_predictions.LayerNorm.weight`),
      s.get(`${p}generator_predictions.LayerNorm.bias`), M, E, cfg.layer_norm_eps);
    const logits = a.alloc(M * V);
    ops.matmulForward(logits, ln, s.get(this.wordEmbeddings), s.get(`${p}generator_lm_head.bias`), M, E, V);
    return { logits, tape: { rows, N, M, hs, pre, g, mean, rstd, ln } };
  }

  /** d loss / d h [N,C] from d loss / d logits [M,V] */
  backward(ctx: RunContext, t: GeneratorTape, dlogits: Float32Array): Float32Array {
    const { cfg, store: s, prefix: p } = this;
    const C = cfg.hidden_size, E = cfg.embedding_size, V = cfg.vocab_size, a = ctx.arena, M = t.M;
    const dln = a.alloc(M * E), dg = a.alloc(M * E), dhs = a.alloc(M * C);
    ops.matmulBackward(dln, s.g(this.wordEmbeddings), s.g(`${p}generator_lm_head.bias`), dlogits, t.ln, s.get(this.wordEmbeddings), M, E, V);
    ops.layernormBackward(dg, s.g(`${p}generator_predictions.LayerNorm.weight`), s.g(`${p}generator_predictions.LayerNorm.bias`), dln, t.g,
      t.mean, t.rstd, s.get(`${p}generator_predictions.LayerNorm.weight`), M, E);
    ops.geluBackward(dg, dg, t.pre, M, E);
    ops.matmulBackward(dhs, s.g(`${p}generator_predictions.dense.weight`), s.g(`${p}generator_predictions.dense.bias`), dg, t.hs,
      s.get(`${p}generator_predictions.dense.weight`), M, C, E);
    if (!t.rows) return dhs;
    const dh = a.zeros(t.N * C);
    ops.scatterAddRows(dh, dhs, t.rows, C);
    return dh;
  }
}

/** ElectraForMaskedLM: the generator (lm head tied to its word embeddings); logits [M,V] at `rows`, or [B*T,V]. */
export class ElectraForMaskedLM extends ElectraWithHead<GeneratorTape> {
  readonly kind = "generator" as const;
  readonly architecture = "ElectraForMaskedLM";
  readonly encoder: Encoder;
  readonly head: GeneratorHead;
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, prefix = "", sharedEmbeddings?: string) {
    super();
    this.encoder = new Encoder(cfg, store, `${prefix}electra.`, sharedEmbeddings);
    this.head = new GeneratorHead(cfg, store, prefix);
  }
}
