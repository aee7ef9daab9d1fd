/**
 * The one pad-to-longest batcher (dynamic padding), used by fine-tuning, evaluation and inference, and the
 * orders batches are drawn in. (Pretraining batches are packed to max_seq_length by the official data builder
 * and need no padding.)
 */
import type { Rng } from "../core/rng.js";
import type { Batch } from "../model/encoder.js";

/** One row of model input, unpadded: token ids and segment ids. */
export interface Sequence {
  ids: Int32Array;
  types: Int32Array;
}

/** Batches per length-sorted chunk (dynamic padding). */
export const BUCKET_CHUNK_BATCHES = 100;

/** Pads the rows to the longest of them: one Batch, each row's real length, and the real token count. */
export function padBatch(rows: readonly Sequence[], padId = 0): { batch: Batch; lengths: number[]; tokens: number } {
  const B = rows.length;
  if (B === 0) throw new Error("padBatch: empty batch");
  let T = 1, tokens = 0;
  for (const r of rows) {
    if (r.types.length !== r.ids.length) throw new Error(`padBatch: a row has ${r.ids.length} ids and ${r.types.length} token types`);
    T = Math.max(T, r.ids.length);
    tokens += r.ids.length;
  }
  const inputIds = new Int32Array(B * T).fill(padId), tokenTypeIds = new Int32Array(B * T), attentionMask = new Int32Array(B * T);
  rows.forEach((r, b) => {
    inputIds.set(r.ids, b * T);
    tokenTypeIds.set(r.types, b * T);
    attentionMask.fill(1, b * T, b * T + r.ids.length);
  });
  return { batch: { B, T, inputIds, tokenTypeIds, attentionMask }, lengths: rows.map((r) => r.ids.length), tokens };
}

/**
 * One epoch's training batches (lists of item indices): a seeded shuffle, chunks of `chunkBatches` batches
 * sorted by length and cut into batches, then the batches shuffled. Only the last batch can be short.
 */
export function bucketedBatches(lengths: ArrayLike<number>, batchSize: number, rng: Rng, chunkBatches = BUCKET_CHUNK_BATCHES): number[][] {
  const n = lengths.length;
  const order = Array.from({ length: n }, (_, i) => i);
  rng.shuffle(order);
  const chunk = batchSize * Math.max(1, chunkBatches);
  const batches: number[][] = [];
  for (let s = 0; s < n; s += chunk) {
    const part = order.slice(s, s + chunk).sort((a, b) => lengths[a] - lengths[b] || a - b);
    for (let b = 0; b < part.length; b += batchSize) batches.push(part.slice(b, b + batchSize));
  }
  rng.shuffle(batches);
  return batches;
}

/** Evaluation batches: all items sorted by length (least padding), in batches of batchSize. */
export function evalBatches(lengths: ArrayLike<number>, batchSize: number): number[][] {
  const order = Array.from({ length: lengths.length }, (_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const out: number[][] = [];
  for (let s = 0; s < order.length; s += batchSize) out.push(order.slice(s, s + batchSize));
  return out;
}
