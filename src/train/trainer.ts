/**
 * The fine-tuning step and batched prediction for any task (src/tasks/task.ts): the official optimizer
 * (AdamWeightDecayOptimizer: decoupled weight decay 0.01, betas 0.9/0.999, eps 1e-6, no bias correction, no
 * decay for LayerNorm and bias), layer-wise learning-rate decay, global-norm clipping at 1.0, dropout on in
 * training. The trainer knows no task by name: the task turns a batch's logits into a loss, and head outputs
 * into predictions.
 */
import { padBatch } from "../data/batching.js";
import { RunContext } from "../model/encoder.js";
import type { ElectraModel } from "../model/head.js";
import type { ParamStore } from "../model/params.js";
import { featureOutputs } from "../tasks/outputs.js";
import type { Feature, Task } from "../tasks/task.js";
import { FINETUNE_CLIP_NORM, FINETUNE_WEIGHT_DECAY } from "../tasks/hyperparameters.js";
import { AdamW, clipGradNorm } from "./optimizer.js";

export interface TrainerOptions {
  weightDecay?: number;
  layerDecay?: number;
  biasCorrection?: boolean;
  clipNorm?: number;
  /** dropout seed */
  seed?: number;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  tokens: number;
}

/** The rows of the features, back to back (multiple choice: a feature's choices are consecutive rows). */
function rowsOf(features: readonly Feature[]) {
  return features.flatMap((f) => f.rows);
}

/** A model and its optimizer for one task: one call per training step, and batched prediction. */
export class Trainer<F extends Feature> {
  readonly ctx: RunContext;
  readonly evalCtx: RunContext;
  readonly opt: AdamW;
  readonly clipNorm: number;

  constructor(readonly model: ElectraModel, readonly task: Task<unknown, F, unknown>, o: TrainerOptions = {}) {
    const cfg = model.cfg;
    this.clipNorm = o.clipNorm ?? FINETUNE_CLIP_NORM;
    this.ctx = new RunContext({ train: true, seed: (o.seed ?? 0) ^ 0x5bd1e995 });
    this.evalCtx = new RunContext({ train: false });
    this.opt = new AdamW(model.store, {
      weightDecay: o.weightDecay ?? FINETUNE_WEIGHT_DECAY, layerDecay: o.layerDecay ?? 1, maxDepth: cfg.num_hidden_layers + 2,
      biasCorrection: o.biasCorrection ?? false,
    });
  }

  get store(): ParamStore {
    return this.model.store;
  }

  /** forward + the task's loss + backward + clipping + one optimizer update at learning rate lr */
  trainStep(features: readonly F[], lr: number, padId = 0): StepResult {
    const { ctx, model } = this;
    ctx.arena.reset();
    model.store.zeroGrad();
    const { batch, tokens } = padBatch(rowsOf(features), padId);
    const out = model.forward(ctx, batch);
    const r = this.task.loss(ctx, out.logits, features, batch);
    model.backward(ctx, out, r.dlogits);
    const gradNorm = clipGradNorm(model.store.grad, this.clipNorm, "tf");
    this.opt.update(lr);
    return { loss: r.loss, gradNorm, tokens };
  }

  /** The head's outputs for each feature (dropout off), as Task.decode takes them (src/tasks/outputs.ts). */
  outputs(features: readonly F[], batchSize = 64, padId = 0): Float32Array[] {
    return featureOutputs(this.model, this.evalCtx, features, this.task.outputLayout(this.model.cfg), batchSize, padId);
  }
}
