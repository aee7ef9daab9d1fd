/**
 * A model's head outputs for features (dropout off), as Task.decode takes them: for each feature its rows back to
 * back, each row's values (per-position heads: its real positions only) times the layout's width. Shared by
 * fine-tuning's evaluation and the library's inference, so both see the same numbers.
 */
import { evalBatches, padBatch } from "../data/batching.js";
import type { RunContext } from "../model/encoder.js";
import type { ElectraModel } from "../model/head.js";
import { featureLength, type Feature, type OutputLayout } from "./task.js";

export function featureOutputs(model: ElectraModel, ctx: RunContext, features: readonly Feature[], layout: OutputLayout, batchSize = 64, padId = 0): Float32Array[] {
  const { perPosition, width } = layout;
  const out: Float32Array[] = new Array(features.length);
  // batches hold whole features; a feature's length is its longest row
  const lengths = features.map(featureLength);
  const perBatch = Math.max(1, Math.floor(batchSize / Math.max(1, features[0]?.rows.length ?? 1)));
  for (const idx of evalBatches(lengths, perBatch)) {
    ctx.arena.reset();
    const fs = idx.map((i) => features[i]);
    const { batch, lengths: rowLen } = padBatch(fs.flatMap((f) => f.rows), padId);
    const { logits } = model.forward(ctx, batch);
    let row = 0;
    fs.forEach((f, j) => {
      const parts: Float32Array[] = [];
      for (let r = 0; r < f.rows.length; r++, row++) {
        if (perPosition) parts.push(logits.slice(row * batch.T * width, (row * batch.T + rowLen[row]) * width));
        else parts.push(logits.slice(row * width, (row + 1) * width));
      }
      out[idx[j]] = parts.length === 1 ? parts[0] : concat(parts);
    });
  }
  return out;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
