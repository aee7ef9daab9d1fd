/**
 * The official fine-tuning hyperparameters (google-research/electra configure_finetuning.py and
 * model/optimization.py) that every task shares, and the layer-wise learning-rate decay.
 */
import type { ElectraConfig } from "../model/config.js";

/** Global-norm clip (official: tf.clip_by_global_norm(grads, 1.0)). */
export const FINETUNE_CLIP_NORM = 1.0;
export const FINETUNE_WEIGHT_DECAY = 0.01;
export const FINETUNE_WARMUP_PROPORTION = 0.1;
export const FINETUNE_BATCH_SIZE = 32;
export const FINETUNE_MAX_SEQ_LENGTH = 128;

export type ModelSize = "small" | "base" | "large";

/** The model size the official defaults key on (configure_finetuning.py model_size). */
export function modelSize(cfg: ElectraConfig): ModelSize {
  if (cfg.hidden_size >= 1024 || cfg.num_hidden_layers >= 24) return "large";
  if (cfg.hidden_size <= 256) return "small";
  return "base";
}

/** configure_finetuning.py: lr 1e-4 and layer decay 0.8 (large: 5e-5 and 0.9). */
export function officialLrAndDecay(cfg: ElectraConfig): { lr: number; layerDecay: number } {
  const large = modelSize(cfg) === "large";
  return { lr: large ? 5e-5 : 1e-4, layerDecay: large ? 0.9 : 0.8 };
}

/**
 * The depth google-research/electra's _get_layer_lrs gives a variable, applied to a Hugging Face name:
 * "/embeddings/" and "/embeddings_project/" -> 0, "encoder/layer_i/" -> i + 1, the task head -> L + 2.
 */
export function officialLayerDepth(name: string, numLayers: number): number {
  if (/(^|\.)embeddings(_project)?\./.test(name)) return 0;
  const m = /(^|\.)encoder\.layer\.(\d+)\./.exec(name);
  if (m) return Number(m[2]) + 1;
  return numLayers + 2;
}

/** _get_layer_lrs: lr * decay^(L + 2 - depth). */
export function layerLearningRate(lr: number, decay: number, depth: number, numLayers: number): number {
  return lr * decay ** (numLayers + 2 - depth);
}

/** The median (numpy convention: mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
