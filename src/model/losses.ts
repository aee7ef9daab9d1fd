/**
 * Losses as Hugging Face / PyTorch define them, each returning the mean loss and d(scale * loss)/d logits.
 * A non-finite loss throws: training on NaN silently is worse than stopping with a message.
 */
import * as ops from "../core/ops.js";
import type { RunContext } from "./electra.js";

export interface LossResult {
  loss: number;
  dlogits: Float32Array;
  /** rows or positions that count in the mean */
  count: number;
}

function finite(loss: number, what: string): number {
  if (!Number.isFinite(loss)) throw new Error(`${what} is ${loss}: the model diverged or an input is not finite`);
  return loss;
}

/** Softmax cross-entropy over logits[N,V], mean over rows whose label is not ignoreIndex (F.cross_entropy). */
export function crossEntropyLoss(ctx: RunContext, logits: Float32Array, labels: Int32Array, N: number, V: number,
  scale = 1, ignoreIndex = -100): LossResult {
  const losses = ctx.arena.alloc(N);
  ops.crossentropyForward(losses, logits, labels, N, V, ignoreIndex);
  let sum = 0, count = 0;
  for (let i = 0; i < N; i++) {
    if (labels[i] === ignoreIndex) continue;
    sum += losses[i];
    count++;
  }
  const dlogits = ctx.arena.alloc(N * V);
  if (count === 0) {
    dlogits.fill(0);
    return { loss: 0, dlogits, count };
  }
  ops.crossentropyBackward(dlogits, logits, labels, N, V, ignoreIndex, scale / count);
  return { loss: finite(sum / count, "cross-entropy loss"), dlogits, count };
}

/** Sigmoid binary cross-entropy over logits[N], mean over positions with weight 1 (weights are 0/1). */
export function bceLoss(ctx: RunContext, logits: Float32Array, targets: Float32Array, weights: Float32Array, scale = 1): LossResult {
  const N = logits.length;
  const losses = ctx.arena.alloc(N);
  ops.bceForward(losses, logits, targets, weights);
  let sum = 0, count = 0;
  for (let i = 0; i < N; i++) {
    sum += losses[i];
    count += weights[i];
  }
  const dlogits = ctx.arena.alloc(N);
  if (count === 0) {
    dlogits.fill(0);
    return { loss: 0, dlogits, count };
  }
  ops.bceBackward(dlogits, logits, targets, weights, scale / count);
  return { loss: finite(sum / count, "binary cross-entropy loss"), dlogits, count };
}

/** Mean squared error between pred[N] and target[N] (F.mse_loss). */
export function mseLoss(ctx: RunContext, pred: Float32Array, target: Float32Array, scale = 1): LossResult {
  const N = pred.length;
  for (let i = 0; i < N; i++) if (!Number.isFinite(target[i])) throw new RangeError(`regression target ${i} is ${target[i]}`);
  const losses = ctx.arena.alloc(N);
  ops.mseForward(losses, pred, target);
  let sum = 0;
  for (let i = 0; i < N; i++) sum += losses[i];
  const dpred = ctx.arena.alloc(N);
  ops.mseBackward(dpred, pred, target, scale / N);
  return { loss: finite(sum / N, "mean squared error"), dlogits: dpred, count: N };
}

/**
 * Extractive QA (transformers' ElectraForQuestionAnswering): logits [B*T, 2] (start at [n, 0], end at [n, 1]);
 * loss = (CE(start_logits [B, T], start) + CE(end_logits, end)) / 2, each a mean over the batch. Positions are
 * clamped to [0, T] and T is ignored, as transformers does with ignored_index = T. dlogits is interleaved like
 * the logits.
 */
export function spanLoss(ctx: RunContext, logits: Float32Array, startPositions: Int32Array, endPositions: Int32Array, B: number, T: number,
  scale = 1): LossResult {
  if (logits.length !== B * T * 2) throw new ops.ShapeError(`spanLoss: logits has ${logits.length} elements, expected B*T*2 = ${B * T * 2}`);
  if (startPositions.length !== B || endPositions.length !== B) throw new ops.ShapeError(`spanLoss: ${B} start and end positions expected`);
  const a = ctx.arena, N = B * T;
  const dlogits = a.alloc(N * 2);
  let total = 0, count = 0;
  for (let side = 0; side < 2; side++) {
    const pos = side === 0 ? startPositions : endPositions;
    const x = a.alloc(N);
    for (let n = 0; n < N; n++) x[n] = logits[2 * n + side];
    const labels = Int32Array.from(pos, (p) => Math.min(Math.max(p, 0), T));
    const r = crossEntropyLoss(ctx, x, labels, B, T, scale / 2, T);
    for (let n = 0; n < N; n++) dlogits[2 * n + side] = r.dlogits[n];
    total += r.loss / 2;
    count = Math.max(count, r.count);
  }
  return { loss: finite(total, "span loss"), dlogits, count };
}

/** Multiple choice: logits [examples * choices] (one score per (example, choice) row), CE over each example's choices. */
export function choiceLoss(ctx: RunContext, logits: Float32Array, labels: Int32Array, numChoices: number, scale = 1): LossResult {
  const E = labels.length;
  if (logits.length !== E * numChoices) throw new ops.ShapeError(`choiceLoss: logits has ${logits.length} elements, expected ${E} examples x ${numChoices} choices`);
  for (let i = 0; i < E; i++) {
    if (labels[i] !== -100 && !(labels[i] >= 0 && labels[i] < numChoices)) throw new RangeError(`choiceLoss: label ${labels[i]} of example ${i} is not a choice in [0, ${numChoices})`);
  }
  return crossEntropyLoss(ctx, logits, labels, E, numChoices, scale);
}
