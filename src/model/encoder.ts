/**
 * The ELECTRA encoder (ElectraModel without a head): a post-LayerNorm BERT encoder with exact erf GELU and an
 * embeddings_project when embedding_size != hidden_size, under Hugging Face parameter names and shapes. There is
 * no autograd: forward returns a "tape" of the activations backward needs, and backward adds parameter gradients
 * into the ParamStore.
 *
 * Shapes use the legend of native/kernels.h: B batch, T sequence, N = B*T, C hidden, E embedding,
 * F intermediate, NH heads, V vocabulary, L labels, M gathered rows.
 */
import * as ops from "../core/ops.js";
import { Arena } from "../core/arena.js";
import { Rng } from "../core/rng.js";
import type { ElectraConfig } from "./config.js";
import type { ParamStore } from "./params.js";

/** The additive attention bias of a masked key, as transformers: torch.finfo(float32).min. */
export const MASKED_KEY_BIAS = -3.4028234663852886e38;

export interface Batch {
  B: number;
  T: number;
  /** [B*T] token ids */
  inputIds: Int32Array;
  /** [B*T] segment ids (0/1) */
  tokenTypeIds: Int32Array;
  /** [B*T] 1 for real tokens, 0 for padding */
  attentionMask: Int32Array;
}

/**
 * Where a forward pass runs: its activation arena, whether dropout is on, the dropout seeds, and whether the
 * pass keeps the tape a backward pass needs. Without the tape (`tape: false`, inference), each layer's
 * temporaries are released as soon as the layer is done, so every layer reuses the same few megabytes, which
 * stay in cache, instead of writing ~19 MB of fresh memory per layer at 8 x 128 (ELECTRA-Small).
 */
export class RunContext {
  readonly arena: Arena;
  train: boolean;
  readonly rng: Rng;
  readonly tape: boolean;

  constructor(opts: { train?: boolean; seed?: number; arena?: Arena; tape?: boolean } = {}) {
    this.train = opts.train ?? false;
    this.rng = new Rng(opts.seed ?? 0);
    this.arena = opts.arena ?? new Arena();
    this.tape = opts.tape ?? true;
  }

  /** A fresh seed for one dropout site (0 when dropout is off, where it is unused). */
  dropoutSeed(p: number): number {
    return this.train && p > 0 ? this.rng.nextU32() : 0;
  }
}

export function checkBatch(b: Batch, cfg: ElectraConfig, what = "batch"): void {
  const n = b.B * b.T;
  if (!Number.isInteger(b.B) || !Number.isInteger(b.T) || b.B < 1 || b.T < 1) throw new ops.ShapeError(`${what}: bad shape B=${b.B}, T=${b.T}`);
  for (const [k, a] of [["inputIds", b.inputIds], ["tokenTypeIds", b.tokenTypeIds], ["attentionMask", b.attentionMask]] as const) {
    if (!(a instanceof Int32Array)) throw new TypeError(`${what}: ${k} must be an Int32Array`);
    if (a.length !== n) throw new ops.ShapeError(`${what}: ${k} has ${a.length} elements, expected B*T = ${b.B}*${b.T} = ${n}`);
  }
  if (b.T > cfg.max_position_embeddings) {
    throw new ops.ShapeError(`${what}: sequence length ${b.T} exceeds max_position_embeddings ${cfg.max_position_embeddings}`);
  }
  for (let i = 0; i < n; i++) {
    const id = b.inputIds[i];
    if (id < 0 || id >= cfg.vocab_size) throw new RangeError(`${what}: token id ${id} at position ${i} is outside the vocabulary [0, ${cfg.vocab_size})`);
    const t = b.tokenTypeIds[i];
    if (t < 0 || t >= cfg.type_vocab_size) throw new RangeError(`${what}: token type id ${t} at position ${i} is outside [0, ${cfg.type_vocab_size})`);
    const m = b.attentionMask[i];
    if (m !== 0 && m !== 1) throw new RangeError(`${what}: attention mask value ${m} at position ${i} is not 0 or 1`);
  }
}

interface LayerTape {
  x: Float32Array; // [N,C] layer input
  qkv: Float32Array; // [N,3C]
  probs: Float32Array; // [B,NH,T,T]
  att: Float32Array; // [N,C] attention output before the output dense
  sum1: Float32Array; // [N,C] dropout(dense(att)) + x
  mean1: Float32Array;
  rstd1: Float32Array;
  h1: Float32Array; // [N,C]
  pre: Float32Array; // [N,F] before GELU (an int8 model: g, its GELU fused into the int8 layer)
  g: Float32Array; // [N,F] after GELU
  sum2: Float32Array; // [N,C]
  mean2: Float32Array;
  rstd2: Float32Array;
  seeds: [number, number, number]; // attention probs, attention output, FFN output dropout
}

export interface EncoderTape {
  batch: Batch;
  maskbias: Float32Array; // [B*T]
  embRaw: Float32Array; // [N,E] word + position + type
  embMean: Float32Array;
  embRstd: Float32Array;
  embOut: Float32Array; // [N,E] after LayerNorm and dropout (the projection's input)
  embSeed: number;
  /** hidden[0]: the (projected) embedding output, hidden[i]: the output of layer i. Each [N,C]. */
  hidden: Float32Array[];
  /** empty when the pass ran without a tape (RunContext.tape false): then there is no backward pass */
  layers: LayerTape[];
}

/** ElectraModel: embeddings (+ embeddings_project) and the encoder layers. */
export class Encoder {
  readonly p: string;
  readonly emb: string;
  readonly project: boolean;
  /** relative_key: each layer's distance table [2P-1, HS]; position embeddings are then not added (as transformers) */
  readonly relative: boolean;

  /**
   * Declares the parameters `${prefix}embeddings.*`, `${prefix}embeddings_project.*`, `${prefix}encoder.layer.i.*`.
   * With `sharedEmbeddings`, the embedding block is not declared but aliased to that prefix's (pretraining).
   */
  constructor(readonly cfg: ElectraConfig, readonly store: ParamStore, prefix = "electra.", sharedEmbeddings?: string) {
    this.p = prefix;
    this.emb = `${prefix}embeddings.`;
    this.project = cfg.embedding_size !== cfg.hidden_size;
    this.relative = cfg.position_embedding_type === "relative_key";
    const { vocab_size: V, embedding_size: E, hidden_size: C, intermediate_size: F, max_position_embeddings: P, type_vocab_size: TV } = cfg;
    const tables: [string, number[]][] = [
      ["word_embeddings.weight", [V, E]], ["position_embeddings.weight", [P, E]], ["token_type_embeddings.weight", [TV, E]],
      ["LayerNorm.weight", [E]], ["LayerNorm.bias", [E]],
    ];
    for (const [n, shape] of tables) {
      if (sharedEmbeddings) {
        const target = store.spec(`${sharedEmbeddings}${n}`);
        if (target.shape.join() !== shape.join()) {
          throw new ops.ShapeError(`shared embedding ${sharedEmbeddings}${n} has shape [${target.shape}], this model needs [${shape}]`);
        }
        store.alias(this.emb + n, target.name);
      } else {
        store.declare(this.emb + n, shape, 0);
      }
    }
    if (this.project) {
      store.declare(`${prefix}embeddings_project.weight`, [C, E], 0);
      store.declare(`${prefix}embeddings_project.bias`, [C], 0);
    }
    for (let i = 0; i < cfg.num_hidden_layers; i++) {
      const l = this.layerPrefix(i), d = i + 1;
      // query, key and value are declared back to back so that they form one [3C, C] matrix and one [3C] bias
      for (const n of ["query", "key", "value"]) store.declare(`${l}attention.self.${n}.weight`, [C, C], d);
      for (const n of ["query", "key", "value"]) store.declare(`${l}attention.self.${n}.bias`, [C], d);
      if (this.relative) store.declare(`${l}attention.self.distance_embedding.weight`, [2 * P - 1, C / cfg.num_attention_heads], d);
      store.declare(`${l}attention.output.dense.weight`, [C, C], d);
      store.declare(`${l}attention.output.dense.bias`, [C], d);
      store.declare(`${l}attention.output.LayerNorm.weight`, [C], d);
      store.declare(`${l}attention.output.LayerNorm.bias`, [C], d);
      store.declare(`${l}intermediate.dense.weight`, [F, C], d);
      store.declare(`${l}intermediate.dense.bias`, [F], d);
      store.declare(`${l}output.dense.weight`, [C, F], d);
      store.declare(`${l}output.dense.bias`, [C], d);
      store.declare(`${l}output.LayerNorm.weight`, [C], d);
      store.declare(`${l}output.LayerNorm.bias`, [C], d);
    }
  }

  layerPrefix(i: number): string {
    return `${this.p}encoder.layer.${i}.`;
  }

  /**
   * int8 weights of the Linear layers (dynamic int8 inference, src/model/quantize.ts), keyed by each group's
   * first name (linearGroups); null: float32. The float32 weights of those layers are then never read.
   */
  int8: Map<string, ops.Int8Weights> | null = null;

  /**
   * float32 Linear weights packed for inference (ops.packWeights), keyed like `int8`; used only by passes without
   * a tape (RunContext.tape false), so a training pass always multiplies the live weights. null: not packed.
   * A copy: after the weights change (training, loading), call packForInference again.
   */
  packed: Map<string, ops.PackedWeights> | null = null;

  /** Packs the Linear weights for tape-less (inference) passes: ~the weights' size again in memory. */
  packForInference(): void {
    const packed = new Map<string, ops.PackedWeights>();
    for (const group of this.linearGroups()) {
      const first = group[0], last = group[group.length - 1];
      const [, IC] = this.store.spec(first).shape;
      const OC = group.reduce((n, name) => n + this.store.spec(name).shape[0], 0);
      packed.set(first, ops.packWeights(group.length > 1 ? this.store.span(first, last) : this.store.get(first), OC, IC));
    }
    this.packed = packed;
  }

  /** The Linear weights, grouped as the forward pass multiplies them: a layer's query, key and value are one [3C, C]. */
  linearGroups(): string[][] {
    const groups: string[][] = this.project ? [[`${this.p}embeddings_project.weight`]] : [];
    for (let i = 0; i < this.cfg.num_hidden_layers; i++) {
      const l = this.layerPrefix(i);
      groups.push(["query", "key", "value"].map((n) => `${l}attention.self.${n}.weight`));
      for (const n of ["attention.output.dense", "intermediate.dense", "output.dense"]) groups.push([`${l}${n}.weight`]);
    }
    return groups;
  }

  /**
   * out[N,OC] = inp[N,IC] @ W^T + bias (with `gelu`, out = gelu(that)), W the group starting at `first`: int8 when
   * the model has int8 weights, packed float32 in a tape-less pass of a packed model, else sgemm.
   */
  private linear(ctx: RunContext, out: Float32Array, inp: Float32Array, first: string, weight: () => Float32Array, bias: Float32Array | null,
    N: number, IC: number, OC: number, gelu = false): void {
    const packed = !ctx.tape && this.packed?.get(first);
    if (packed) return ops.packedLinearForward(out, inp, packed, bias, N, IC, OC, gelu);
    if (!this.int8) {
      ops.matmulForward(out, inp, weight(), gelu ? null : bias, N, IC, OC);
      if (gelu) ops.biasGeluForward(out, out, bias, N, OC);
      return;
    }
    const w = this.int8.get(first);
    if (!w) throw new Error(`int8 model: no int8 weights for ${first}`);
    ops.int8LinearForward(out, inp, w, bias, N, IC, OC, gelu);
  }

  forward(ctx: RunContext, batch: Batch): EncoderTape {
    const { cfg, store } = this;
    checkBatch(batch, cfg);
    const { B, T } = batch;
    const N = B * T, E = cfg.embedding_size, C = cfg.hidden_size;
    const a = ctx.arena;
    const maskbias = a.alloc(N);
    for (let i = 0; i < N; i++) maskbias[i] = batch.attentionMask[i] ? 0 : MASKED_KEY_BIAS;

    // embeddings: LayerNorm(word + position + type) -> dropout -> (embeddings_project)
    const embRaw = a.alloc(N * E), ln = a.alloc(N * E), embMean = a.alloc(N), embRstd = a.alloc(N);
    ops.embeddingsForward(embRaw, batch.inputIds, batch.tokenTypeIds, store.get(this.emb + "word_embeddings.weight"),
      // transformers keeps position_embeddings.weight in a relative_key model but never adds it
      this.relative ? null : store.get(this.emb + "position_embeddings.weight"), store.get(this.emb + "token_type_embeddings.weight"),
      B, T, E, cfg.vocab_size, cfg.max_position_embeddings, cfg.type_vocab_size);
    ops.layernormForward(ln, embRaw, embMean, embRstd, embRaw, null, store.get(this.emb + "LayerNorm.weight"),
      store.get(this.emb + "LayerNorm.bias"), N, E, cfg.layer_norm_eps);
    const embSeed = ctx.dropoutSeed(cfg.hidden_dropout_prob);
    const embOut = embSeed ? a.alloc(N * E) : ln;
    if (embSeed) ops.dropoutForward(embOut, ln, cfg.hidden_dropout_prob, embSeed);
    let h = embOut;
    if (this.project) {
      h = a.alloc(N * C);
      const w = `${this.p}embeddings_project.weight`;
      this.linear(ctx, h, embOut, w, () => store.get(w), store.get(`${this.p}embeddings_project.bias`), N, E, C);
    }
    const hidden = [h];
    const layers: LayerTape[] = [];
    for (let i = 0; i < cfg.num_hidden_layers; i++) {
      const out = a.alloc(N * C);
      if (ctx.tape) {
        layers.push(this.layerForward(ctx, i, h, maskbias, B, T, out));
      } else {
        // the layer's output outlives its temporaries, which the next layer reuses
        const m = a.mark();
        this.layerForward(ctx, i, h, maskbias, B, T, out);
        a.release(m);
      }
      h = out;
      hidden.push(h);
    }
    return { batch, maskbias, embRaw, embMean, embRstd, embOut, embSeed, hidden, layers };
  }

  private layerForward(ctx: RunContext, i: number, x: Float32Array, maskbias: Float32Array, B: number, T: number,
    out: Float32Array): LayerTape & { out: Float32Array } {
    const { cfg, store } = this;
    const l = this.layerPrefix(i), a = ctx.arena;
    const N = B * T, C = cfg.hidden_size, F = cfg.intermediate_size, NH = cfg.num_attention_heads, eps = cfg.layer_norm_eps;
    const pAttn = cfg.attention_probs_dropout_prob, pHid = cfg.hidden_dropout_prob;
    const seeds: [number, number, number] = [ctx.dropoutSeed(pAttn), ctx.dropoutSeed(pHid), ctx.dropoutSeed(pHid)];

    const qkv = a.alloc(N * 3 * C);
    this.linear(ctx, qkv, x, `${l}attention.self.query.weight`, () => store.span(`${l}attention.self.query.weight`, `${l}attention.self.value.weight`),
      store.span(`${l}attention.self.query.bias`, `${l}attention.self.value.bias`), N, C, 3 * C);
    const att = a.alloc(N * C);
    let probs = att; // (no probs kept by a tape-less pass)
    if (!ctx.tape && !this.relative && !seeds[0] && ops.attentionInferFits(C, NH)) {
      ops.attentionInfer(att, qkv, maskbias, B, T, C, NH);
    } else {
      probs = a.alloc(B * NH * T * T);
      const dist = this.relative ? store.get(`${l}attention.self.distance_embedding.weight`) : null;
      ops.attentionForward(att, probs, qkv, maskbias, dist, cfg.max_position_embeddings, B, T, C, NH, seeds[0] ? pAttn : 0, seeds[0]);
    }
    const ao = a.alloc(N * C);
    const dense = (n: string) => [`${l}${n}.weight`, () => store.get(`${l}${n}.weight`)] as const;
    this.linear(ctx, ao, att, ...dense("attention.output.dense"), store.get(`${l}attention.output.dense.bias`), N, C, C);
    if (seeds[1]) ops.dropoutForward(ao, ao, pHid, seeds[1]);
    const sum1 = ao, h1 = a.alloc(N * C), mean1 = a.alloc(N), rstd1 = a.alloc(N);
    ops.layernormForward(h1, sum1, mean1, rstd1, ao, x, store.get(`${l}attention.output.LayerNorm.weight`),
      store.get(`${l}attention.output.LayerNorm.bias`), N, C, eps);

    const g = a.alloc(N * F);
    let pre = g;
    const interW = dense("intermediate.dense"), interB = store.get(`${l}intermediate.dense.bias`);
    if (this.int8 || !ctx.tape) {
      this.linear(ctx, g, h1, ...interW, interB, N, C, F, true); // GELU fused or in place: no pre kept (no backward)
    } else {
      pre = a.alloc(N * F);
      this.linear(ctx, pre, h1, ...interW, null, N, C, F);
      ops.biasGeluForward(g, pre, interB, N, F);
    }
    const f = a.alloc(N * C);
    this.linear(ctx, f, g, ...dense("output.dense"), store.get(`${l}output.dense.bias`), N, F, C);
    if (seeds[2]) ops.dropoutForward(f, f, pHid, seeds[2]);
    const sum2 = f, mean2 = a.alloc(N), rstd2 = a.alloc(N);
    ops.layernormForward(out, sum2, mean2, rstd2, f, h1, store.get(`${l}output.LayerNorm.weight`), store.get(`${l}output.LayerNorm.bias`), N, C, eps);
    return { x, qkv, probs, att, sum1, mean1, rstd1, h1, pre, g, sum2, mean2, rstd2, seeds, out };
  }

  /** Adds d loss / d parameters into the store's gradients, given d loss / d last hidden state [N,C]. */
  backward(ctx: RunContext, tape: EncoderTape, dlast: Float32Array): void {
    if (this.int8) throw new Error("an int8 model runs inference only: training needs its float32 weights (load it with dtype fp32)");
    if (tape.layers.length !== this.cfg.num_hidden_layers) throw new Error("backward: the forward pass ran without a tape (RunContext tape: false)");
    const { cfg, store } = this;
    const { B, T } = tape.batch;
    const N = B * T, C = cfg.hidden_size, E = cfg.embedding_size;
    const a = ctx.arena;
    const ping = [a.alloc(N * C), a.alloc(N * C)];
    let d = dlast;
    for (let i = cfg.num_hidden_layers - 1; i >= 0; i--) {
      const m = a.mark();
      const dx = ping[i % 2];
      this.layerBackward(ctx, i, tape.layers[i], d, dx, B, T);
      a.release(m);
      d = dx;
    }
    // d embOut
    let dEmb = d;
    if (this.project) {
      dEmb = a.alloc(N * E);
      ops.matmulBackward(dEmb, store.g(`${this.p}embeddings_project.weight`), store.g(`${this.p}embeddings_project.bias`), d, tape.embOut,
        store.get(`${this.p}embeddings_project.weight`), N, E, C);
    }
    if (tape.embSeed) ops.dropoutBackward(dEmb, dEmb, cfg.hidden_dropout_prob, tape.embSeed);
    const dRaw = a.alloc(N * E);
    ops.layernormBackward(dRaw, store.g(this.emb + "LayerNorm.weight"), store.g(this.emb + "LayerNorm.bias"), dEmb, tape.embRaw,
      tape.embMean, tape.embRstd, store.get(this.emb + "LayerNorm.weight"), N, E);
    ops.embeddingsBackward(store.g(this.emb + "word_embeddings.weight"), this.relative ? null : store.g(this.emb + "position_embeddings.weight"),
      store.g(this.emb + "token_type_embeddings.weight"), dRaw, tape.batch.inputIds, tape.batch.tokenTypeIds, B, T, E,
      cfg.vocab_size, cfg.max_position_embeddings, cfg.type_vocab_size, cfg.pad_token_id);
  }

  private layerBackward(ctx: RunContext, i: number, t: LayerTape, dy: Float32Array, dx: Float32Array, B: number, T: number): void {
    const { cfg, store } = this;
    const l = this.layerPrefix(i), a = ctx.arena;
    const N = B * T, C = cfg.hidden_size, F = cfg.intermediate_size, NH = cfg.num_attention_heads;
    const pAttn = cfg.attention_probs_dropout_prob, pHid = cfg.hidden_dropout_prob;

    // out = LN(dropout(dense2(g)) + h1)
    const dsum2 = a.alloc(N * C);
    ops.layernormBackward(dsum2, store.g(`${l}output.LayerNorm.weight`), store.g(`${l}output.LayerNorm.bias`), dy, t.sum2, t.mean2, t.rstd2,
      store.get(`${l}output.LayerNorm.weight`), N, C);
    let df = dsum2;
    if (t.seeds[2]) {
      df = a.alloc(N * C);
      ops.dropoutBackward(df, dsum2, pHid, t.seeds[2]);
    }
    const dg = a.alloc(N * F);
    ops.matmulBackward(dg, store.g(`${l}output.dense.weight`), store.g(`${l}output.dense.bias`), df, t.g, store.get(`${l}output.dense.weight`), N, F, C);
    ops.geluBackward(dg, dg, t.pre, N, F);
    const dh1 = a.alloc(N * C);
    dh1.set(dsum2); // the residual branch
    ops.matmulBackward(dh1, store.g(`${l}intermediate.dense.weight`), store.g(`${l}intermediate.dense.bias`), dg, t.h1,
      store.get(`${l}intermediate.dense.weight`), N, C, F, true);

    // h1 = LN(dropout(dense(att)) + x)
    const dsum1 = a.alloc(N * C);
    ops.layernormBackward(dsum1, store.g(`${l}attention.output.LayerNorm.weight`), store.g(`${l}attention.output.LayerNorm.bias`), dh1,
      t.sum1, t.mean1, t.rstd1, store.get(`${l}attention.output.LayerNorm.weight`), N, C);
    let dao = dsum1;
    if (t.seeds[1]) {
      dao = a.alloc(N * C);
      ops.dropoutBackward(dao, dsum1, pHid, t.seeds[1]);
    }
    const datt = a.alloc(N * C);
    ops.matmulBackward(datt, store.g(`${l}attention.output.dense.weight`), store.g(`${l}attention.output.dense.bias`), dao, t.att,
      store.get(`${l}attention.output.dense.weight`), N, C, C);
    const dqkv = a.alloc(N * 3 * C);
    const dist = this.relative ? `${l}attention.self.distance_embedding.weight` : null;
    ops.attentionBackward(dqkv, dist === null ? null : store.g(dist), datt, t.qkv, t.probs, dist === null ? null : store.get(dist), cfg.max_position_embeddings,
      B, T, C, NH, t.seeds[0] ? pAttn : 0, t.seeds[0]);
    dx.set(dsum1); // the residual branch
    ops.matmulBackward(dx, store.span(`${l}attention.self.query.weight`, `${l}attention.self.value.weight`, "grad"),
      store.span(`${l}attention.self.query.bias`, `${l}attention.self.value.bias`, "grad"), dqkv, t.x,
      store.span(`${l}attention.self.query.weight`, `${l}attention.self.value.weight`), N, C, 3 * C, true);
  }
}
