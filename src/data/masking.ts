/**
 * ELECTRA's dynamic masking, as in the official code (google-research/electra,
 * pretrain/pretrain_helpers.py: mask(), with N from configure_pretraining.py):
 *
 * - N = int((mask_prob + 0.005) * max_seq_length) prediction slots per example (19 for 0.15 × 128).
 * - Per example: num_to_predict = max(1, min(N, round(real_tokens * mask_prob))), computed as in
 *   TensorFlow: float32 product and tf.round, which rounds half to even (70 tokens → 10.5 → 10).
 * - Candidates: real tokens (attention mask 1) that are not [CLS], [SEP], [MASK] or [PAD].
 * - num_to_predict positions are drawn uniformly among the candidates *with replacement*; duplicate
 *   draws collapse into one masked position (the official code keeps duplicate slots; the loss here
 *   sees each position once).
 * - Each draw becomes [MASK] when uniform() < 0.85; otherwise the token is kept (no random
 *   replacement). A position drawn several times is [MASK] if any of its draws says so, which is
 *   what the official scatter_update does.
 * - An example without candidates (e.g. only [CLS] [SEP]) gets no masked position.
 *
 * All randomness comes from the caller's Rng: the result is a pure function of the batch and the
 * Rng state. Draw order: row by row; per draw, the position then the 0.85 coin. Given a function of the
 * row instead, each row draws from its own Rng (pretraining keys it by the example's place in the global
 * batch, so that a row is masked alike in whatever batch or process it is).
 */
import type { Rng } from "../core/rng.js";

/** configure_pretraining.py: mask_prob = 0.15 (0.25 for ELECTRA-Large). */
export const DEFAULT_MASK_PROB = 0.15;
/** configure_pretraining.py: max_predictions_per_seq = int((mask_prob + 0.005) * max_seq_length). */
export const MAX_PREDICTIONS_SLACK = 0.005;
/** pretrain_helpers.py mask(): tf.less(tf.random.uniform([B, N]), 0.85): a chosen position becomes [MASK], else keeps its token. */
export const MASK_TOKEN_PROB = 0.85;

/** N: prediction slots per example, int((maskProb + 0.005) × seqLen). */
export function maxPredictionsPerSeq(maskProb: number, seqLen: number): number {
  return Math.floor((maskProb + MAX_PREDICTIONS_SLACK) * seqLen);
}

/** tf.round: round half to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** max(1, min(N, round(realTokens × maskProb))) with float32 arithmetic and half-to-even rounding, as in TF. */
export function numToPredict(realTokens: number, maskProb: number, maxPredictions: number): number {
  const x = Math.fround(Math.fround(realTokens) * Math.fround(maskProb));
  return Math.max(1, Math.min(maxPredictions, roundHalfEven(x)));
}

export interface MaskingIds {
  padId: number;
  clsId: number;
  sepId: number;
  maskId: number;
}

export interface MaskingOptions {
  /** Default 0.15. */
  maskProb?: number;
  /** Default maxPredictionsPerSeq(maskProb, seqLen). */
  maxPredictions?: number;
}

/** The rows to mask: row-major [B, T]. */
export interface MaskableBatch {
  batchSize: number;
  seqLen: number;
  inputIds: Int32Array;
  attentionMask: ArrayLike<number>;
}

export interface MaskedBatch {
  batchSize: number;
  seqLen: number;
  /** N, the per-example cap. */
  maxPredictions: number;
  /** The input with the chosen [MASK] replacements, [B*T]. */
  maskedInput: Int32Array;
  /** Masked positions as flat indices b*T + t into the [B*T] batch, ascending, unique. */
  positions: Int32Array;
  /** The original token at each listed position (the generator's targets). */
  originalIds: Int32Array;
  /** 1 where the listed position was replaced by [MASK], 0 where it kept its token. */
  replacedWithMask: Uint8Array;
  /** 0/1 per token, [B*T]: 1 at the masked (to be predicted) positions. */
  isMasked: Uint8Array;
  /** Masked positions per row (after duplicates collapse). */
  numMasked: Int32Array;
  /** num_to_predict per row (draws, before duplicates collapse; 0 for rows without candidates). */
  numDrawn: Int32Array;
}

/** Masks a batch (see the file comment). */
export function maskBatch(batch: MaskableBatch, ids: MaskingIds, rng: Rng | ((row: number) => Rng), opts: MaskingOptions = {}): MaskedBatch {
  const { batchSize: B, seqLen: T, inputIds, attentionMask } = batch;
  if (inputIds.length !== B * T || attentionMask.length !== B * T) {
    throw new Error(`maskBatch: expected ${B}×${T} = ${B * T} ids and mask values, got ${inputIds.length} and ${attentionMask.length}`);
  }
  const maskProb = opts.maskProb ?? DEFAULT_MASK_PROB;
  if (!(maskProb > 0 && maskProb < 1)) throw new Error(`maskBatch: maskProb ${maskProb} must be in (0, 1)`);
  const N = opts.maxPredictions ?? maxPredictionsPerSeq(maskProb, T);
  if (!Number.isInteger(N) || N < 1) throw new Error(`maskBatch: maxPredictions ${N} must be a positive integer`);

  const maskedInput = Int32Array.from(inputIds);
  const isMasked = new Uint8Array(B * T);
  const toMask = new Uint8Array(B * T);
  const numMasked = new Int32Array(B);
  const numDrawn = new Int32Array(B);
  const cand = new Int32Array(T);
  let total = 0;
  for (let b = 0; b < B; b++) {
    const base = b * T;
    let real = 0;
    let C = 0;
    for (let t = 0; t < T; t++) {
      if (attentionMask[base + t] !== 1) continue;
      real++;
      const id = inputIds[base + t];
      if (id !== ids.clsId && id !== ids.sepId && id !== ids.maskId && id !== ids.padId) cand[C++] = t;
    }
    if (C === 0) continue;
    const k = numToPredict(real, maskProb, N);
    numDrawn[b] = k;
    const r = typeof rng === "function" ? rng(b) : rng;
    for (let j = 0; j < k; j++) {
      const p = base + cand[Math.floor(r.uniform() * C)];
      const replace = r.uniform() < MASK_TOKEN_PROB;
      if (!isMasked[p]) {
        isMasked[p] = 1;
        numMasked[b]++;
        total++;
      }
      if (replace) toMask[p] = 1;
    }
  }
  const positions = new Int32Array(total);
  const originalIds = new Int32Array(total);
  const replacedWithMask = new Uint8Array(total);
  let m = 0;
  for (let p = 0; p < B * T; p++) {
    if (!isMasked[p]) continue;
    positions[m] = p;
    originalIds[m] = inputIds[p];
    if (toMask[p]) {
      replacedWithMask[m] = 1;
      maskedInput[p] = ids.maskId;
    }
    m++;
  }
  return { batchSize: B, seqLen: T, maxPredictions: N, maskedInput, positions, originalIds, replacedWithMask, isMasked, numMasked, numDrawn };
}

/**
 * The official fixed-size layout of the masked positions: [B, N] positions within the row
 * (0 in unused slots), target ids (0 there) and weights (1 for used slots, 0 for padding).
 */
export function toPredictionSlots(m: MaskedBatch): { positions: Int32Array; ids: Int32Array; weights: Float32Array } {
  const { batchSize: B, seqLen: T, maxPredictions: N } = m;
  const positions = new Int32Array(B * N);
  const ids = new Int32Array(B * N);
  const weights = new Float32Array(B * N);
  const used = new Int32Array(B);
  for (let k = 0; k < m.positions.length; k++) {
    const p = m.positions[k];
    const b = Math.floor(p / T);
    const j = used[b]++;
    if (j >= N) throw new Error(`toPredictionSlots: row ${b} has more than ${N} masked positions`);
    positions[b * N + j] = p - b * T;
    ids[b * N + j] = m.originalIds[k];
    weights[b * N + j] = 1;
  }
  return { positions, ids, weights };
}
