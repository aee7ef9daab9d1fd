/**
 * Replaced token detection, the ELECTRA pretraining objective, as google-research/electra's
 * run_pretraining.py computes it:
 *   generator on the masked input -> logits at the masked positions only -> MLM loss (mean over them)
 *   -> Gumbel-max sample (no gradient through it) -> discriminator input = original with samples at the masked
 *   positions -> label "replaced" where the sample differs from the original -> sigmoid loss over real tokens
 *   -> loss = generator loss + DISC_WEIGHT * discriminator loss.
 * The generator and the discriminator share the whole embedding block (word, position, token type, LayerNorm);
 * in the ParamStore the generator's names are aliases of the discriminator's, so both gradients add up there.
 */
import * as ops from "../core/ops.js";
import type { ElectraConfig } from "../model/config.js";
import { ElectraForMaskedLM, ElectraForPreTraining, RunContext, type Batch } from "../model/electra.js";
import { bceLoss, crossEntropyLoss } from "../model/losses.js";
import { ParamStore } from "../model/params.js";

/** Weight of the discriminator loss (run_pretraining.py: disc_weight = 50.0). */
export const DISC_WEIGHT = 50.0;
/** Gumbel sampling temperature (run_pretraining.py: temperature = 1.0). */
export const SAMPLING_TEMPERATURE = 1.0;

export const DISCRIMINATOR_PREFIX = "discriminator.";
export const GENERATOR_PREFIX = "generator.";

export interface RtdInputs {
  /** the original (unmasked) batch */
  batch: Batch;
  /** [B*T] the generator's input: original ids with [MASK] (or the kept token) at the masked positions */
  generatorInputIds: Int32Array;
  /** flattened indices b*T+t of the masked positions, ascending */
  maskedRows: Int32Array;
  /**
   * Keyed Gumbel noise: the seed, and per masked position a key naming it independently of this batch's layout
   * (pretraining: global example * max_seq_length + t). Without it the noise comes from ctx.rng.
   */
  sampling?: { seed: number; rowKeys: Int32Array };
}

export interface RtdStepOptions {
  lossScale?: number;
  /**
   * Data parallelism: the masked positions and the real tokens of the whole global batch (every rank's). Each
   * loss is then this batch's share of the global mean (its mean times local count / global count), so that the
   * ranks' gradients sum to the gradient of the global batch.
   */
  globalCounts?: { masked: number; real: number };
  /** replaces Gumbel sampling (tests pass fixed samples) */
  sample?: (logits: Float32Array, M: number) => Int32Array;
  /**
   * Called between the discriminator's backward pass and the generator's: the gradients in
   * discriminatorOnlyRange() are final then (data parallelism starts reducing them while the generator's run).
   */
  afterDiscriminatorBackward?: () => void;
}

export interface RtdResult {
  loss: number;
  generatorLoss: number;
  discriminatorLoss: number;
  /** masked positions where the generator's argmax equals the original token */
  generatorCorrect: number;
  masked: number;
  /** [M] sampled ids at the masked positions */
  sampled: Int32Array;
  /** [B*T] the discriminator's input ids */
  discriminatorInputIds: Int32Array;
  /** [B*T] 1 where replaced */
  replaced: Float32Array;
  /** [M,V] generator logits at masked positions; [B*T] discriminator logits (arena views, valid until reset) */
  generatorLogits: Float32Array;
  discriminatorLogits: Float32Array;
  /** real tokens, discriminator right answers, true positives / predicted positives / actual positives on "replaced" */
  real: number;
  discCorrect: number;
  tp: number;
  predictedReplaced: number;
  actualReplaced: number;
}

/** One generator + discriminator pair in one ParamStore, with the shared embedding block. */
export class RtdModel {
  readonly store = new ParamStore();
  readonly discriminator: ElectraForPreTraining;
  readonly generator: ElectraForMaskedLM;

  constructor(readonly discConfig: ElectraConfig, readonly genConfig: ElectraConfig) {
    for (const k of ["vocab_size", "embedding_size", "max_position_embeddings", "type_vocab_size"] as const) {
      if (discConfig[k] !== genConfig[k]) throw new Error(`generator and discriminator must agree on ${k} (${genConfig[k]} vs ${discConfig[k]}) to share embeddings`);
    }
    this.discriminator = new ElectraForPreTraining(discConfig, this.store, DISCRIMINATOR_PREFIX);
    this.generator = new ElectraForMaskedLM(genConfig, this.store, GENERATOR_PREFIX, `${DISCRIMINATOR_PREFIX}electra.embeddings.`);
    this.store.finalize();
  }

  /**
   * [lo, hi) of the gradient buffer holding the discriminator's own parameters (all but the shared embedding
   * block), whose gradients are final once the discriminator's backward pass is done; null if not contiguous.
   */
  discriminatorOnlyRange(): [number, number] | null {
    const shared = new Set(this.store.allNames().filter(([n]) => n.startsWith(GENERATOR_PREFIX)).map(([, s]) => s.name));
    const own = this.store.own().filter((s) => s.name.startsWith(DISCRIMINATOR_PREFIX) && !shared.has(s.name));
    if (!own.length) return null;
    const lo = Math.min(...own.map((s) => s.offset)), hi = Math.max(...own.map((s) => s.offset + s.size));
    return own.reduce((a, s) => a + s.size, 0) === hi - lo ? [lo, hi] : null;
  }

  /**
   * Forward and backward of one batch: adds d(loss * lossScale)/d params into store.grad (call zeroGrad first,
   * or not, to accumulate). The losses returned are this batch's means.
   */
  step(ctx: RunContext, inp: RtdInputs, opts: RtdStepOptions = {}): RtdResult {
    const { batch, generatorInputIds, maskedRows } = inp;
    const { B, T } = batch;
    const N = B * T, M = maskedRows.length, V = this.genConfig.vocab_size;
    const scale = opts.lossScale ?? 1;
    if (generatorInputIds.length !== N) throw new ops.ShapeError(`generator input has ${generatorInputIds.length} ids, expected B*T = ${N}`);
    for (let i = 0; i < M; i++) {
      const r = maskedRows[i];
      if (r < 0 || r >= N || (i > 0 && r <= maskedRows[i - 1])) throw new RangeError(`masked row ${r} at ${i} is out of range or not ascending`);
    }

    // generator: MLM loss at the masked positions
    const genBatch: Batch = { ...batch, inputIds: generatorInputIds };
    const gen = this.generator.forward(ctx, genBatch, maskedRows);
    const targets = new Int32Array(M);
    for (let i = 0; i < M; i++) targets[i] = batch.inputIds[maskedRows[i]];
    const argmax = new Int32Array(M);
    ops.argmaxRows(argmax, gen.logits, V);
    let generatorCorrect = 0;
    for (let i = 0; i < M; i++) if (argmax[i] === targets[i]) generatorCorrect++;
    const sampled = opts.sample ? opts.sample(gen.logits, M) : new Int32Array(M);
    if (!opts.sample) {
      const s = inp.sampling;
      ops.gumbelArgmax(sampled, gen.logits, V, SAMPLING_TEMPERATURE, s ? s.seed : ctx.rng.nextU32(), s ? s.rowKeys : null);
    }
    if (sampled.length !== M) throw new ops.ShapeError(`sampler returned ${sampled.length} ids for ${M} masked positions`);
    const global = opts.globalCounts;
    const g = crossEntropyLoss(ctx, gen.logits, targets, M, V, global ? (scale * M) / global.masked : scale);

    // discriminator: replaced-token detection over real tokens
    const discIds = Int32Array.from(batch.inputIds);
    for (let i = 0; i < M; i++) discIds[maskedRows[i]] = sampled[i];
    const replaced = new Float32Array(N), weights = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      replaced[i] = discIds[i] !== batch.inputIds[i] ? 1 : 0;
      weights[i] = batch.attentionMask[i];
    }
    const disc = this.discriminator.forward(ctx, { ...batch, inputIds: discIds });
    let localReal = 0;
    for (let i = 0; i < N; i++) localReal += weights[i];
    const d = bceLoss(ctx, disc.logits, replaced, weights, scale * DISC_WEIGHT * (global ? localReal / global.real : 1));

    let real = 0, discCorrect = 0, tp = 0, predictedReplaced = 0, actualReplaced = 0;
    for (let i = 0; i < N; i++) {
      if (!weights[i]) continue;
      real++;
      const pred = disc.logits[i] > 0 ? 1 : 0;
      if (pred === replaced[i]) discCorrect++;
      if (pred) predictedReplaced++;
      if (replaced[i]) actualReplaced++;
      if (pred && replaced[i]) tp++;
    }

    this.discriminator.backward(ctx, disc, d.dlogits);
    opts.afterDiscriminatorBackward?.();
    this.generator.backward(ctx, gen, g.dlogits);
    return {
      loss: g.loss + DISC_WEIGHT * d.loss, generatorLoss: g.loss, discriminatorLoss: d.loss, generatorCorrect, masked: M, sampled,
      discriminatorInputIds: discIds, replaced, generatorLogits: gen.logits, discriminatorLogits: disc.logits,
      real, discCorrect, tp, predictedReplaced, actualReplaced,
    };
  }
}
