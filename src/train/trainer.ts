/**
 * The fine-tuning step and batched prediction for any task (src/tasks/task.ts): the official optimizer
 * (AdamWeightDecayOptimizer: decoupled weight decay 0.01, betas 0.9/0.999, eps 1e-6, no bias correction, no
 * decay for LayerNorm and bias), layer-wise learning-rate decay, global-norm clipping at 1.0, dropout on in
 * training. The trainer knows no task by name: the task turns a batch's logits into a loss, and head outputs
 * into predictions. With a world of several ranks (src/core/mpi.ts) each rank trains on its shard of every
 * global batch (see trainStep) and predicts every size-th feature (see outputs).
 */
import { ONE_PROCESS, type World } from "../core/mpi.js";
import { keyedSeed } from "../core/rng.js";
import { scaleInplace } from "../core/ops.js";
import { padBatch } from "../data/batching.js";
import { RunContext } from "../model/encoder.js";
import type { ElectraModel } from "../model/head.js";
import type { ParamStore } from "../model/params.js";
import { featureOutputs } from "../tasks/outputs.js";
import type { Feature, Task } from "../tasks/task.js";
import { FINETUNE_CLIP_NORM, FINETUNE_WEIGHT_DECAY } from "../tasks/hyperparameters.js";
import { GradientReducer, parameterDigests, share, sumOverRanks } from "./data-parallel.js";
import { AdamW, clipGradNorm } from "./optimizer.js";

export interface TrainerOptions {
  weightDecay?: number;
  layerDecay?: number;
  biasCorrection?: boolean;
  clipNorm?: number;
  /** dropout seed (rank r > 0 of a world draws its own: keyed by r) */
  seed?: number;
  /** data parallelism over this world's ranks (default: one process) */
  world?: World;
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
  readonly world: World;
  private readonly reducer: GradientReducer;
  private readonly digest: ReturnType<typeof parameterDigests>;

  constructor(readonly model: ElectraModel, readonly task: Task<unknown, F, unknown>, o: TrainerOptions = {}) {
    const cfg = model.cfg;
    this.clipNorm = o.clipNorm ?? FINETUNE_CLIP_NORM;
    this.world = o.world ?? ONE_PROCESS;
    const seed = (o.seed ?? 0) ^ 0x5bd1e995;
    this.ctx = new RunContext({ train: true, seed: this.world.rank === 0 ? seed : keyedSeed(seed, this.world.rank) });
    this.evalCtx = new RunContext({ train: false, tape: false });
    this.opt = new AdamW(model.store, {
      weightDecay: o.weightDecay ?? FINETUNE_WEIGHT_DECAY, layerDecay: o.layerDecay ?? 1, maxDepth: cfg.num_hidden_layers + 2,
      biasCorrection: o.biasCorrection ?? false,
    });
    this.reducer = new GradientReducer(this.world, model.store.grad);
    this.digest = parameterDigests(this.world);
  }

  get store(): ParamStore {
    return this.model.store;
  }

  /**
   * forward + the task's loss + backward + clipping + one optimizer update at learning rate lr. With several
   * ranks, `features` is this rank's shard of the global batch (possibly empty): its loss is weighted by its share
   * of the global batch's count (the loss's denominator), the gradients are summed over the ranks, and the
   * returned loss and tokens are the global batch's.
   */
  trainStep(features: readonly F[], lr: number, padId = 0): StepResult {
    const { ctx, model, world } = this;
    world.atStep(this.opt.step);
    ctx.arena.reset();
    model.store.zeroGrad();
    let loss = 0, tokens = 0;
    if (features.length) {
      const b = padBatch(rowsOf(features), padId);
      const out = model.forward(ctx, b.batch);
      const r = this.task.loss(ctx, out.logits, features, b.batch);
      if (world.size > 1) {
        const w = share(r.count, sumOverRanks(world, [r.count], "count all-reduce")[0]);
        scaleInplace(r.dlogits, w);
        loss = r.loss * w;
      } else loss = r.loss;
      tokens = b.tokens;
      model.backward(ctx, out, r.dlogits);
    } else if (world.size > 1) sumOverRanks(world, [0], "count all-reduce");
    else throw new Error("trainStep: an empty batch");
    this.reducer.reduce();
    [loss, tokens] = sumOverRanks(world, [loss, tokens]);
    const gradNorm = clipGradNorm(model.store.grad, this.clipNorm, "tf");
    this.opt.update(lr);
    this.digest?.(this.opt.step, model.store.data);
    return { loss, gradNorm, tokens };
  }

  /**
   * The head's outputs for each feature (dropout off), as Task.decode takes them (src/tasks/outputs.ts). With
   * several ranks, rank r computes features r, r + size, ... and one all-reduce gives every rank all of them.
   */
  outputs(features: readonly F[], batchSize = 64, padId = 0): Float32Array[] {
    const { world } = this;
    const layout = this.task.outputLayout(this.model.cfg);
    if (world.size === 1) return featureOutputs(this.model, this.evalCtx, features, layout, batchSize, padId);
    const mine = features.filter((_, i) => i % world.size === world.rank);
    const got = featureOutputs(this.model, this.evalCtx, mine, layout, batchSize, padId);
    const sizes = features.map((f) => (layout.perPosition ? f.rows.reduce((a, r) => a + r.ids.length, 0) : f.rows.length) * layout.width);
    const offsets = new Float64Array(features.length + 1);
    sizes.forEach((n, i) => (offsets[i + 1] = offsets[i] + n));
    const all = new Float32Array(offsets[features.length]);
    got.forEach((o, j) => all.set(o, offsets[j * world.size + world.rank]));
    world.sum([all], "evaluation all-reduce");
    return sizes.map((n, i) => all.subarray(offsets[i], offsets[i] + n));
  }
}
