/**
 * Adam with decoupled weight decay over a ParamStore's flat buffers: one native loop over all parameters,
 * segmented by (learning-rate scale, weight decay) so that the no-decay rule and layer-wise learning-rate
 * decay cost nothing per step.
 *
 * Two flavours, both decoupled:
 *  - official (google-research/electra model/optimization.py AdamWeightDecayOptimizer): no bias correction,
 *    p -= lr * (m / (sqrt(v) + eps) + wd * p). The pretraining default.
 *  - biasCorrection: torch.optim.AdamW (p *= 1 - lr wd; p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)).
 */
import { native } from "../core/native.js";
import { sumSquares, scaleInplace } from "../core/ops.js";
import { isNoDecay, type ParamStore } from "../model/params.js";

/** eps 1e-6 and betas (0.9, 0.999): the official optimizer's values (model/optimization.py). */
export const ADAM_EPS = 1e-6;
export const ADAM_BETAS: [number, number] = [0.9, 0.999];

export interface AdamWOptions {
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  biasCorrection?: boolean;
  /** Layer-wise learning-rate decay: lr * decay^(maxDepth - depth); 1 = off. */
  layerDecay?: number;
  /** Depth of the task head (num_hidden_layers + 2 in the official code). */
  maxDepth?: number;
  /** Parameters excluded from decay (default: names ending in bias, or containing LayerNorm / layer_norm). */
  noDecay?: (name: string) => boolean;
}

export class AdamW {
  readonly m: Float32Array;
  readonly v: Float32Array;
  step = 0;
  readonly segments: Float64Array;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly biasCorrection: boolean;

  constructor(readonly store: ParamStore, readonly opts: AdamWOptions) {
    this.m = new Float32Array(store.size);
    this.v = new Float32Array(store.size);
    this.beta1 = opts.beta1 ?? ADAM_BETAS[0];
    this.beta2 = opts.beta2 ?? ADAM_BETAS[1];
    this.eps = opts.eps ?? ADAM_EPS;
    this.biasCorrection = opts.biasCorrection ?? false;
    const noDecay = opts.noDecay ?? isNoDecay;
    const decay = opts.layerDecay ?? 1;
    const maxDepth = opts.maxDepth ?? 0;
    const segs: number[] = [];
    for (const s of store.own()) {
      const lrScale = decay === 1 ? 1 : decay ** Math.max(0, maxDepth - s.depth);
      const wd = noDecay(s.name) ? 0 : opts.weightDecay;
      const last = segs.length - 4;
      // merge with the previous segment when contiguous and alike
      if (last >= 0 && segs[last] + segs[last + 1] === s.offset && segs[last + 2] === lrScale && segs[last + 3] === wd) segs[last + 1] += s.size;
      else segs.push(s.offset, s.size, lrScale, wd);
    }
    this.segments = Float64Array.from(segs);
  }

  /** One update with learning rate lr from the store's current gradients. */
  update(lr: number): void {
    this.step++;
    native.adamw_step(this.store.data, this.store.grad, this.m, this.v, this.segments, lr, this.beta1, this.beta2, this.eps,
      this.step, this.biasCorrection);
  }
}

/**
 * Global gradient-norm clipping. Returns the norm before clipping. "torch": scale by max / (norm + 1e-6) when
 * norm > max (clip_grad_norm_); "tf": scale by max / max(norm, max) (tf.clip_by_global_norm, the official code).
 */
export function clipGradNorm(grad: Float32Array, maxNorm: number, mode: "torch" | "tf" = "torch"): number {
  const norm = Math.sqrt(sumSquares(grad));
  if (!Number.isFinite(norm)) throw new Error(`gradient norm is ${norm}: a NaN or infinity reached the gradients`);
  if (mode === "torch") {
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) scaleInplace(grad, coef);
  } else if (norm > maxNorm) {
    scaleInplace(grad, maxNorm / norm);
  }
  return norm;
}
