/**
 * Fine-tuning and evaluation of an ELECTRA sequence classifier on a GLUE task, as google-research/electra's
 * run_finetuning.py does it (configure_finetuning.py, finetune/classification/classification_tasks.py,
 * model/optimization.py):
 *
 *  - features: `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, truncated to max_seq_length (128) with the official
 *    _truncate_seq_pair (pop from the longer side, from B on ties); token type 0 for the first part, 1 for B [SEP];
 *    B counts only when it is non-empty (the official `if tokens_b:`);
 *  - training batches: examples shuffled (seeded), cut into chunks of 100 batches, each chunk sorted by length and
 *    cut into batches, the batches shuffled; each batch padded to its longest example only (dynamic padding). The
 *    official code pads every example to 128; the result is the same computation on fewer positions;
 *  - head: Hugging Face's two-layer ElectraClassificationHead by default ("hf", what fine-tuned checkpoints on the
 *    Hub have), or the official one (dropout -> dense(num_labels) on the first token; "official");
 *  - STS-B is a regression (num_labels 1) on score / 5 with squared loss, as the official RegressionTask
 *    ((label - 0) / 5). The saved model has the factor 5 folded into its last layer (classifier.out_proj), so that
 *    it outputs the 0..5 score directly, as Hugging Face STS-B models do; evaluate/predict read it that way;
 *  - MRPC and STS-B train on both sentence orders (the official double_unordered = True);
 *  - optimizer: the official AdamWeightDecayOptimizer (decoupled weight decay 0.01, betas 0.9/0.999, eps 1e-6,
 *    NO bias correction; no decay for LayerNorm and bias), layer-wise learning-rate decay (_get_layer_lrs:
 *    lr * decay^(L + 2 - depth), depth 0 for the embeddings and embeddings_project, i + 1 for encoder layer i,
 *    L + 2 for the task head), global-norm clipping at 1.0, lr = peak * (1 - step / total) * min(1, step / warmup)
 *    with warmup = 10% of the steps;
 *  - defaults (configure_finetuning.py): lr 1e-4 (5e-5 for large; the paper's Table 7 says 3e-4 for small: pass
 *    --lr), layer decay 0.8 (0.9 for large), 3 epochs (10 for RTE and STS-B), batch 32, weight decay 0.01;
 *  - dropout on in training (the config's hidden/attention dropout, 0.1; the head's classifier_dropout or 0.1);
 *  - beyond the official loop: the dev set is scored after every epoch and the best epoch's weights (by the task's
 *    main metric) are kept; several seeds run one after another and the median of each metric is reported.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Rng } from "../core/rng.js";
import {
  getGlueTask, predictionRows, readGlueSplit, resolveSplit, writePredictions, type GlueExample, type GlueTask,
} from "../data/glue.js";
import { WordPieceTokenizer } from "../data/tokenizer.js";
import { loadIntoStore, readHfFolder, saveHfFolder, tokenizerFilesIn, type HfFolder } from "../io/hf-folder.js";
import type { TensorData } from "../io/tensor-data.js";
import { scoreTask } from "../metrics/glue-metrics.js";
import { parseConfig, type ClassifierHead, type ElectraConfig } from "../model/config.js";
import { createModel, RunContext, type Batch, type ElectraForSequenceClassification } from "../model/electra.js";
import { crossEntropyLoss, mseLoss } from "../model/losses.js";
import { initParams, type ParamStore } from "../model/params.js";
import { AdamW, clipGradNorm } from "./optimizer.js";
import { learningRate, PRESETS } from "./pretrain.js";

// ---------------------------------------------------------------------------------------------------------
// hyperparameters

/** Global-norm clip (official: tf.clip_by_global_norm(grads, 1.0)). */
export const FINETUNE_CLIP_NORM = 1.0;
export const FINETUNE_WEIGHT_DECAY = 0.01;
export const FINETUNE_WARMUP_PROPORTION = 0.1;
export const FINETUNE_BATCH_SIZE = 32;
export const FINETUNE_MAX_SEQ_LENGTH = 128;
/** Batches per length-sorted chunk (dynamic padding). */
export const BUCKET_CHUNK_BATCHES = 100;
/** STS-B targets are score / REGRESSION_SCALE in training (official RegressionTask: (label - 0) / 5). */
export const REGRESSION_SCALE = 5;

export type ModelSize = "small" | "base" | "large";

/** The model size the official defaults key on (configure_finetuning.py model_size). */
export function modelSize(cfg: ElectraConfig): ModelSize {
  if (cfg.hidden_size >= 1024 || cfg.num_hidden_layers >= 24) return "large";
  if (cfg.hidden_size <= 256) return "small";
  return "base";
}

export interface DefaultHyperparameters {
  lr: number;
  layerDecay: number;
  epochs: number;
}

/** configure_finetuning.py: lr 1e-4 and decay 0.8 (large: 5e-5 and 0.9); 3 epochs, 10 for RTE and STS-B. */
export function defaultHyperparameters(cfg: ElectraConfig, task: string | GlueTask): DefaultHyperparameters {
  const t = getGlueTask(task);
  const large = modelSize(cfg) === "large";
  return { lr: large ? 5e-5 : 1e-4, layerDecay: large ? 0.9 : 0.8, epochs: t.name === "rte" || t.name === "stsb" ? 10 : 3 };
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

// ---------------------------------------------------------------------------------------------------------
// features and batches

export interface Feature {
  /** [CLS] A [SEP] (B [SEP]) ids, unpadded */
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** class id (position in task.labels), the raw score for regression, NaN when unlabelled */
  label: number;
}

/** Tokenizes examples into features (texts are encoded in parallel batches by the tokenizers package). */
export async function featurize(tokenizer: WordPieceTokenizer, task: GlueTask, examples: readonly GlueExample[], maxSeqLength: number): Promise<Feature[]> {
  if (!Number.isInteger(maxSeqLength) || maxSeqLength < 3) throw new Error(`max_seq_length must be an integer of at least 3, got ${maxSeqLength}`);
  const out: Feature[] = [];
  const CHUNK = 4096;
  for (let s = 0; s < examples.length; s += CHUNK) {
    const part = examples.slice(s, s + CHUNK);
    const texts: string[] = [];
    for (const e of part) {
      texts.push(e.textA);
      if (e.textB) texts.push(e.textB);
    }
    const ids = await tokenizer.encodeBatch(texts);
    let k = 0;
    for (const e of part) {
      const ia = ids[k++];
      const ibRaw = e.textB ? ids[k++] : null;
      const ib = ibRaw && ibRaw.length > 0 ? ibRaw : null; // official: `if tokens_b:`
      const enc = tokenizer.assemblePair(ia, ib, maxSeqLength);
      let label = NaN;
      if (e.label !== undefined) {
        if (task.isRegression) label = Number(e.label);
        else {
          label = task.labels.indexOf(String(e.label));
          if (label < 0) throw new Error(`${task.displayName} ${e.guid}: unknown label ${JSON.stringify(e.label)}`);
        }
      }
      out.push({ inputIds: enc.inputIds.slice(0, enc.length), tokenTypeIds: enc.tokenTypeIds.slice(0, enc.length), label });
    }
  }
  return out;
}

export interface FeatureBatch {
  batch: Batch;
  /** class ids [B] (classification) */
  labels: Int32Array;
  /** raw targets [B] (regression) */
  targets: Float32Array;
  /** real (non-padding) tokens */
  tokens: number;
}

/** Pads the selected features to the longest of them (dynamic padding). */
export function makeBatch(features: readonly Feature[], idx: ArrayLike<number>, padId = 0): FeatureBatch {
  const B = idx.length;
  if (B === 0) throw new Error("makeBatch: empty batch");
  let T = 1, tokens = 0;
  for (let i = 0; i < B; i++) {
    const n = features[idx[i]].inputIds.length;
    T = Math.max(T, n);
    tokens += n;
  }
  const inputIds = new Int32Array(B * T).fill(padId), tokenTypeIds = new Int32Array(B * T), attentionMask = new Int32Array(B * T);
  const labels = new Int32Array(B), targets = new Float32Array(B);
  for (let i = 0; i < B; i++) {
    const f = features[idx[i]];
    inputIds.set(f.inputIds, i * T);
    tokenTypeIds.set(f.tokenTypeIds, i * T);
    attentionMask.fill(1, i * T, i * T + f.inputIds.length);
    labels[i] = Number.isFinite(f.label) ? f.label : 0;
    targets[i] = Number.isFinite(f.label) ? f.label : 0;
  }
  return { batch: { B, T, inputIds, tokenTypeIds, attentionMask }, labels, targets, tokens };
}

/**
 * One epoch's training batches (lists of feature indices): a seeded shuffle, chunks of `chunkBatches` batches
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

/** Evaluation batches: all features sorted by length (least padding), in batches of batchSize. */
export function evalBatches(lengths: ArrayLike<number>, batchSize: number): number[][] {
  const order = Array.from({ length: lengths.length }, (_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const out: number[][] = [];
  for (let s = 0; s < order.length; s += batchSize) out.push(order.slice(s, s + batchSize));
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// the trainer

export interface TrainerOptions {
  weightDecay?: number;
  layerDecay?: number;
  biasCorrection?: boolean;
  clipNorm?: number;
  /** dropout seed */
  seed?: number;
  /** regression targets are divided by this in training and outputs multiplied by it in predict (5 for STS-B) */
  regressionScale?: number;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  tokens: number;
}

/** A classifier with its optimizer: one call per training step, and batched prediction. */
export class Finetuner {
  readonly ctx: RunContext;
  readonly evalCtx: RunContext;
  readonly opt: AdamW;
  readonly regression: boolean;
  readonly regressionScale: number;
  readonly clipNorm: number;

  constructor(readonly model: ElectraForSequenceClassification, o: TrainerOptions = {}) {
    const cfg = model.cfg;
    this.regression = cfg.num_labels === 1;
    this.regressionScale = o.regressionScale ?? 1;
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

  /** forward + loss + backward + clipping + one optimizer update at learning rate lr */
  trainStep(fb: FeatureBatch, lr: number): StepResult {
    const { ctx, model } = this;
    const store = model.store;
    ctx.arena.reset();
    store.zeroGrad();
    const out = model.forward(ctx, fb.batch);
    const B = fb.batch.B;
    let r;
    if (this.regression) {
      const t = new Float32Array(B);
      for (let i = 0; i < B; i++) t[i] = fb.targets[i] / this.regressionScale;
      r = mseLoss(ctx, out.logits, t);
    } else {
      r = crossEntropyLoss(ctx, out.logits, fb.labels, B, model.cfg.num_labels);
    }
    model.backward(ctx, out, r.dlogits);
    const gradNorm = clipGradNorm(store.grad, this.clipNorm, "tf");
    this.opt.update(lr);
    return { loss: r.loss, gradNorm, tokens: fb.tokens };
  }

  /** The head's outputs [n * num_labels] in feature order (dropout off); regression outputs are rescaled. */
  predict(features: readonly Feature[], batchSize = 64, padId = 0): Float32Array {
    const L = this.model.cfg.num_labels;
    const out = new Float32Array(features.length * L);
    const lengths = features.map((f) => f.inputIds.length);
    for (const idx of evalBatches(lengths, batchSize)) {
      this.evalCtx.arena.reset();
      const fb = makeBatch(features, idx, padId);
      const { logits } = this.model.forward(this.evalCtx, fb.batch);
      for (let i = 0; i < idx.length; i++) out.set(logits.subarray(i * L, (i + 1) * L), idx[i] * L);
    }
    if (this.regression && this.regressionScale !== 1) for (let i = 0; i < out.length; i++) out[i] *= this.regressionScale;
    return out;
  }
}

/** Task predictions from head outputs: label names (argmax) or numbers (regression). */
export function outputsToPredictions(task: GlueTask, outputs: Float32Array, numLabels: number, classNames: readonly string[]): (string | number)[] {
  const n = outputs.length / numLabels;
  const preds: (string | number)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    if (task.isRegression) {
      preds[i] = outputs[i];
      continue;
    }
    let best = 0;
    for (let k = 1; k < numLabels; k++) if (outputs[i * numLabels + k] > outputs[i * numLabels + best]) best = k;
    preds[i] = classNames[best];
  }
  return preds;
}

// ---------------------------------------------------------------------------------------------------------
// models: starting points, saving, loading

/** The config of a GLUE classifier built on `base`: labels, head kind, architecture. */
export function classifierConfig(base: ElectraConfig, task: GlueTask, head: ClassifierHead): ElectraConfig {
  const labels = task.isRegression ? ["LABEL_0"] : [...task.labels];
  return {
    ...base,
    num_labels: labels.length,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    classifier_head: head,
    architectures: ["ElectraForSequenceClassification"],
  };
}

/** The head as transformers' _init_weights leaves it: weights ~ N(0, initializer_range), biases 0. */
export function initClassifierHead(store: ParamStore, initializerRange: number, seed: number, prefix = "classifier."): void {
  const rng = new Rng(seed);
  for (const s of store.own()) {
    if (!s.name.startsWith(prefix)) continue;
    const v = store.get(s.name);
    if (s.name.endsWith("bias")) v.fill(0);
    else for (let i = 0; i < v.length; i++) v[i] = rng.normal() * initializerRange;
  }
}

export interface StartingPoint {
  config: ElectraConfig;
  tokenizer: WordPieceTokenizer;
  /** files copied into the saved model folder */
  tokenizerFiles: string[];
  /** checkpoint tensors (classifier.* removed) or null for random weights */
  tensors: Map<string, TensorData> | null;
  source: string;
}

/** A Hugging Face folder (a pretrained discriminator, usually) as the starting point. */
export function pretrainedStart(dir: string, vocab?: string): StartingPoint {
  const folder: HfFolder = readHfFolder(dir);
  const tokFile = vocab ?? folder.tokenizerFile;
  if (!tokFile) throw new Error(`${dir} has no vocab.txt or tokenizer.json: pass --vocab FILE`);
  const tokenizer = WordPieceTokenizer.load(tokFile);
  if (tokenizer.vocabSize > folder.config.vocab_size) {
    throw new Error(`the tokenizer ${tokFile} has ${tokenizer.vocabSize} tokens, more than the model's vocab_size ${folder.config.vocab_size}`);
  }
  const tensors = new Map([...folder.tensors].filter(([k]) => !k.startsWith("classifier.")));
  const tokenizerFiles = vocab ? [resolve(vocab)] : tokenizerFilesIn(dir);
  return { config: folder.config, tokenizer, tokenizerFiles, tensors, source: folder.weightsFile };
}

/** Random weights (the baseline): a preset name (tiny, small, small++, base, large) or a config.json, and a vocabulary. */
export function randomStart(config: string, vocab: string): StartingPoint {
  const tokenizer = WordPieceTokenizer.load(vocab);
  let raw: Record<string, unknown>;
  const preset = PRESETS[config];
  if (preset) raw = { ...preset.model };
  else {
    if (!existsSync(config)) throw new Error(`--config ${config} is neither a preset (${Object.keys(PRESETS).join(", ")}) nor a file`);
    try {
      raw = JSON.parse(readFileSync(config, "utf8"));
    } catch (e) {
      throw new Error(`${config} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const cfg = parseConfig({ ...raw, vocab_size: tokenizer.vocabSize }, config);
  return { config: cfg, tokenizer, tokenizerFiles: [resolve(vocab)], tensors: null, source: `random weights (${config})` };
}

function saveClassifier(dir: string, model: ElectraForSequenceClassification, tokenizerFiles: string[], regressionScale: number): void {
  const store = model.store;
  const w = store.get("classifier.out_proj.weight"), b = store.get("classifier.out_proj.bias");
  const keepW = w.slice(), keepB = b.slice();
  if (model.cfg.num_labels === 1 && regressionScale !== 1) {
    // fold the target scale into the last layer: the saved model outputs the score itself
    for (let i = 0; i < w.length; i++) w[i] *= regressionScale;
    for (let i = 0; i < b.length; i++) b[i] *= regressionScale;
  }
  try {
    saveHfFolder(dir, store, model.cfg, { architecture: "ElectraForSequenceClassification", tokenizerFiles });
  } finally {
    w.set(keepW);
    b.set(keepB);
  }
}

export interface LoadedClassifier {
  model: ElectraForSequenceClassification;
  config: ElectraConfig;
  tokenizer: WordPieceTokenizer;
  /** the task label of each model class (regression: empty) */
  classNames: string[];
  /** set when the model's id2label names are not the task's labels and classes were mapped by position */
  labelNote?: string;
}

/** Loads a fine-tuned sequence classifier for a task (checking its labels against the task's). */
export function loadClassifier(dir: string, task: string | GlueTask, vocab?: string): LoadedClassifier {
  const t = getGlueTask(task);
  const labelTask = getGlueTask(t.predictWith);
  const folder = readHfFolder(dir);
  if (![...folder.tensors.keys()].some((k) => k.startsWith("classifier."))) {
    const arch = folder.config.architectures?.join(", ") ?? "unknown architecture";
    throw new Error(`${dir} is not a sequence classifier (${arch}; no classifier.* weights): fine-tune it first with \`electra finetune\``);
  }
  const config: ElectraConfig = { ...folder.config };
  if (!config.classifier_head) config.classifier_head = folder.tensors.has("classifier.dense.weight") ? "hf" : "official";
  const want = labelTask.isRegression ? 1 : labelTask.labels.length;
  if (config.num_labels !== want) {
    throw new Error(`${dir} has ${config.num_labels} output${config.num_labels > 1 ? "s" : ""}; ${t.displayName} needs ${want}` +
      (labelTask.isRegression ? " (a regression)" : ` (${labelTask.labels.join(", ")})`));
  }
  const model = createModel("classifier", config) as ElectraForSequenceClassification;
  loadIntoStore(model.store, folder.tensors, { source: folder.weightsFile });
  const tokFile = vocab ?? folder.tokenizerFile;
  if (!tokFile) throw new Error(`${dir} has no vocab.txt or tokenizer.json: pass --vocab FILE`);
  const tokenizer = WordPieceTokenizer.load(tokFile);
  if (tokenizer.vocabSize > config.vocab_size) throw new Error(`the tokenizer ${tokFile} has ${tokenizer.vocabSize} tokens, more than the model's vocab_size ${config.vocab_size}`);
  let classNames: string[] = [];
  let labelNote: string | undefined;
  if (!labelTask.isRegression) {
    const names = Array.from({ length: want }, (_, i) => config.id2label?.[String(i)]);
    const known = names.every((n) => n !== undefined && labelTask.labels.includes(n)) && new Set(names).size === want;
    if (known) classNames = names as string[];
    else {
      classNames = [...labelTask.labels];
      labelNote = `${dir}: id2label ${JSON.stringify(config.id2label ?? {})} does not name ${labelTask.displayName}'s labels; class i is taken as ${labelTask.labels.map((l, i) => `${i} = ${l}`).join(", ")}`;
    }
  }
  return { model, config, tokenizer, classNames, labelNote };
}

// ---------------------------------------------------------------------------------------------------------
// fine-tuning runs

export type FinetuneEvent =
  | { kind: "data"; trainExamples: number; devExamples: number; seconds: number }
  | { kind: "seed-start"; seed: number; seedIndex: number; seeds: number; totalSteps: number; stepsPerEpoch: number }
  | { kind: "step"; seed: number; step: number; totalSteps: number; loss: number; lr: number; tokensPerSecond: number }
  | { kind: "eval"; seed: number; record: EpochRecord; best: boolean }
  | { kind: "seed-end"; seed: number; result: SeedResult };

export interface FinetuneOptions {
  task: string;
  /** GLUE data root (CoLA/, SST-2/, ...) */
  dataDir: string;
  /** output folder: metrics.json, dev_predictions.tsv, model/ */
  out: string;
  /** a Hugging Face folder to start from ... */
  model?: string;
  /** ... or random weights: a preset name or config.json, with vocab */
  config?: string;
  vocab?: string;
  seeds?: number[];
  epochs?: number;
  lr?: number;
  batchSize?: number;
  evalBatchSize?: number;
  maxSeqLength?: number;
  layerDecay?: number;
  weightDecay?: number;
  warmupProportion?: number;
  head?: ClassifierHead;
  /** read at most this many training rows (before double_unordered) */
  maxTrainExamples?: number;
  /** read at most this many dev rows */
  maxEvalExamples?: number;
  /** stop after this many optimizer steps (the schedule spans them) */
  maxSteps?: number;
  /** train on both sentence orders (official default: MRPC and STS-B) */
  doubleUnordered?: boolean;
  biasCorrection?: boolean;
  clipNorm?: number;
  /** write OUT/model (default true) */
  saveModel?: boolean;
  onEvent?: (e: FinetuneEvent) => void;
}

export interface EpochRecord {
  epoch: number;
  step: number;
  train_loss: number;
  /** metrics on the dev split: mcc / accuracy / f1 / pearson / spearman / combined, and main */
  dev: Record<string, number>;
}

export interface SeedResult {
  seed: number;
  best_epoch: number;
  best_step: number;
  /** the best epoch's dev metrics (the kept weights); other dev splits with a suffix (MNLI: accuracy_mm) */
  dev: Record<string, number>;
  epochs: EpochRecord[];
  steps: number;
  train_seconds: number;
  eval_seconds: number;
  train_tokens: number;
  tokens_per_second: number;
}

export interface FinetuneReport {
  task: string;
  display_name: string;
  main_metric: string;
  dev_split: string;
  start: string;
  init: "pretrained" | "random";
  hyperparameters: Record<string, unknown>;
  train_examples: number;
  dev_examples: number;
  seeds: SeedResult[];
  /** median over seeds of each dev metric (and main) */
  median: Record<string, number>;
  /** the seed whose model and dev predictions are saved (the best main metric) */
  saved_seed: number;
  train_seconds: number;
  tokens_per_second: number;
  outputs: { metrics: string; dev_predictions: string; model: string | null };
}

/** The median (numpy convention: mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function devMetrics(task: GlueTask, preds: (string | number)[], examples: readonly GlueExample[]): Record<string, number> {
  const sc = scoreTask(task, preds, examples.map((e) => e.label as string | number));
  return { ...sc.metrics, main: sc.main };
}

export async function finetune(o: FinetuneOptions): Promise<FinetuneReport> {
  const task = getGlueTask(o.task);
  if (!task.trainSplit) throw new Error(`${task.displayName} has no training data; predict it with a ${getGlueTask(task.predictWith).displayName} model (electra predict --task ${task.name})`);
  if (!!o.model === !!o.config) throw new Error("give either --model DIR (a Hugging Face folder) or --config NAME with --vocab FILE (random weights)");
  if (o.config && !o.vocab) throw new Error("--config needs --vocab FILE (random weights need a vocabulary)");
  const start = o.model ? pretrainedStart(o.model, o.vocab) : randomStart(o.config!, o.vocab!);
  const head = o.head ?? "hf";
  if (head !== "hf" && head !== "official") throw new Error(`--head must be hf or official, got ${String(head)}`);
  const cfg = classifierConfig(start.config, task, head);
  const defaults = defaultHyperparameters(cfg, task);
  const lr = o.lr ?? defaults.lr;
  const layerDecay = o.layerDecay ?? defaults.layerDecay;
  const epochs = o.epochs ?? defaults.epochs;
  const batchSize = o.batchSize ?? FINETUNE_BATCH_SIZE;
  const evalBatchSize = o.evalBatchSize ?? 64;
  const maxSeqLength = o.maxSeqLength ?? FINETUNE_MAX_SEQ_LENGTH;
  const weightDecay = o.weightDecay ?? FINETUNE_WEIGHT_DECAY;
  const warmupProportion = o.warmupProportion ?? FINETUNE_WARMUP_PROPORTION;
  const seeds = o.seeds && o.seeds.length ? o.seeds : [1];
  const doubleUnordered = o.doubleUnordered ?? (task.name === "mrpc" || task.name === "stsb");
  const regressionScale = task.isRegression ? REGRESSION_SCALE : 1;
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new Error(what);
  };
  check(Number.isFinite(lr) && lr > 0, `--lr must be positive, got ${lr}`);
  check(layerDecay > 0 && layerDecay <= 1, `--layer-decay must be in (0, 1], got ${layerDecay}`);
  check(Number.isFinite(epochs) && epochs > 0, `--epochs must be positive, got ${epochs}`);
  check(Number.isInteger(batchSize) && batchSize > 0, `--batch-size must be a positive integer, got ${batchSize}`);
  check(Number.isInteger(maxSeqLength) && maxSeqLength >= 3, `--max-seq-length must be an integer of at least 3, got ${maxSeqLength}`);
  check(maxSeqLength <= cfg.max_position_embeddings, `--max-seq-length ${maxSeqLength} exceeds the model's max_position_embeddings ${cfg.max_position_embeddings}`);
  check(warmupProportion >= 0 && warmupProportion <= 1, `warmup proportion must be in [0, 1], got ${warmupProportion}`);
  check(seeds.every((s) => Number.isInteger(s)), `seeds must be integers, got ${seeds.join(",")}`);
  check(new Set(seeds).size === seeds.length, `seeds must differ, got ${seeds.join(",")}`);

  // data
  const t0 = performance.now();
  const devSplit = resolveSplit(task, task.devSplits[0]);
  const trainEx = readGlueSplit(o.dataDir, task, task.trainSplit, { maxRows: o.maxTrainExamples, doubleUnordered: doubleUnordered && task.isPair });
  const devEx = readGlueSplit(o.dataDir, task, devSplit, { maxRows: o.maxEvalExamples });
  if (trainEx.length === 0) throw new Error(`${task.displayName}: no training examples`);
  if (devEx.length === 0) throw new Error(`${task.displayName}: no ${devSplit} examples`);
  const trainF = await featurize(start.tokenizer, task, trainEx, maxSeqLength);
  const devF = await featurize(start.tokenizer, task, devEx, maxSeqLength);
  // other dev splits (MNLI dev_mismatched): scored with the kept weights, reported with a suffix (accuracy_mm)
  const extraDev: { split: string; suffix: string; examples: GlueExample[]; features: Feature[] }[] = [];
  for (const split of task.devSplits.slice(1)) {
    const examples = readGlueSplit(o.dataDir, task, split, { maxRows: o.maxEvalExamples });
    const suffix = split === "dev_mismatched" ? "mm" : split;
    extraDev.push({ split, suffix, examples, features: await featurize(start.tokenizer, task, examples, maxSeqLength) });
  }
  o.onEvent?.({ kind: "data", trainExamples: trainF.length, devExamples: devF.length, seconds: (performance.now() - t0) / 1000 });
  const padId = start.tokenizer.padId;

  // model
  const model = createModel("classifier", cfg) as ElectraForSequenceClassification;
  const store = model.store;
  if (start.tensors) loadIntoStore(store, start.tensors, {
    allowMissing: ["classifier."], allowUnexpected: ["discriminator_predictions.", "generator_predictions.", "generator_lm_head."], source: start.source,
  });
  const initial = start.tensors ? store.data.slice() : null;

  const stepsPerEpoch = Math.ceil(trainF.length / batchSize);
  let totalSteps = Math.max(1, Math.round(epochs * stepsPerEpoch));
  if (o.maxSteps !== undefined) {
    check(Number.isInteger(o.maxSteps) && o.maxSteps > 0, `--max-steps must be a positive integer, got ${o.maxSteps}`);
    totalSteps = Math.min(totalSteps, o.maxSteps);
  }
  const warmup = Math.floor(totalSteps * warmupProportion);
  const lengths = trainF.map((f) => f.inputIds.length);

  mkdirSync(o.out, { recursive: true });
  const modelDir = join(o.out, "model");
  const predsFile = join(o.out, "dev_predictions.tsv");
  const results: SeedResult[] = [];
  let savedSeed = seeds[0], savedMain = -Infinity;
  const best = new Float32Array(store.size);

  for (let si = 0; si < seeds.length; si++) {
    const seed = seeds[si];
    if (initial) {
      store.data.set(initial);
      initClassifierHead(store, cfg.initializer_range, seed ^ 0x3c6ef372);
    } else {
      initParams(store, cfg.initializer_range, seed, new Map([["electra.embeddings.word_embeddings.weight", cfg.pad_token_id]]));
    }
    const trainer = new Finetuner(model, { weightDecay, layerDecay, biasCorrection: o.biasCorrection, clipNorm: o.clipNorm, seed, regressionScale });
    const dataRng = new Rng(seed ^ 0x1b873593);
    o.onEvent?.({ kind: "seed-start", seed, seedIndex: si, seeds: seeds.length, totalSteps, stepsPerEpoch });
    const epochsLog: EpochRecord[] = [];
    let step = 0, trainMs = 0, evalMs = 0, trainTokens = 0;
    let winLoss = 0, winN = 0;
    let bestMain = -Infinity, bestRec: EpochRecord | null = null, bestPreds: (string | number)[] = [];
    while (step < totalSteps) {
      const batches = bucketedBatches(lengths, batchSize, dataRng);
      for (const idx of batches) {
        if (step >= totalSteps) break;
        const fb = makeBatch(trainF, idx, padId);
        const rate = learningRate(step, lr, totalSteps, warmup);
        const ts = performance.now();
        const r = trainer.trainStep(fb, rate);
        const dt = performance.now() - ts;
        trainMs += dt;
        trainTokens += r.tokens;
        winLoss += r.loss;
        winN++;
        step++;
        o.onEvent?.({ kind: "step", seed, step, totalSteps, loss: r.loss, lr: rate, tokensPerSecond: trainTokens / (trainMs / 1000) });
        if (step % stepsPerEpoch === 0 || step === totalSteps) {
          const es = performance.now();
          const outputs = trainer.predict(devF, evalBatchSize, padId);
          const preds = outputsToPredictions(task, outputs, cfg.num_labels, task.labels);
          const rec: EpochRecord = { epoch: +(step / stepsPerEpoch).toFixed(4), step, train_loss: winLoss / winN, dev: devMetrics(task, preds, devEx) };
          evalMs += performance.now() - es;
          epochsLog.push(rec);
          const isBest = rec.dev.main > bestMain;
          if (isBest) {
            bestMain = rec.dev.main;
            bestRec = rec;
            bestPreds = preds;
            best.set(store.data);
          }
          o.onEvent?.({ kind: "eval", seed, record: rec, best: isBest });
          winLoss = 0;
          winN = 0;
        }
      }
    }
    store.data.set(best); // the kept weights
    const dev = { ...bestRec!.dev };
    const extraRows: [string, ReturnType<typeof predictionRows>][] = [];
    for (const x of extraDev) {
      const es = performance.now();
      const preds = outputsToPredictions(task, trainer.predict(x.features, evalBatchSize, padId), cfg.num_labels, task.labels);
      for (const [k, v] of Object.entries(devMetrics(task, preds, x.examples))) if (k !== "main") dev[`${k}_${x.suffix}`] = v;
      evalMs += performance.now() - es;
      extraRows.push([`${x.split}_predictions.tsv`, predictionRows(x.examples, preds)]);
    }
    const result: SeedResult = {
      seed, best_epoch: bestRec!.epoch, best_step: bestRec!.step, dev, epochs: epochsLog, steps: step,
      train_seconds: trainMs / 1000, eval_seconds: evalMs / 1000, train_tokens: trainTokens, tokens_per_second: trainTokens / (trainMs / 1000),
    };
    results.push(result);
    const rows = predictionRows(devEx, bestPreds);
    if (seeds.length > 1) {
      writePredictions(join(o.out, "seeds", String(seed), "dev_predictions.tsv"), rows);
      for (const [f, r] of extraRows) writePredictions(join(o.out, "seeds", String(seed), f), r);
    }
    if (bestMain > savedMain) {
      savedMain = bestMain;
      savedSeed = seed;
      writePredictions(predsFile, rows);
      for (const [f, r] of extraRows) writePredictions(join(o.out, f), r);
      if (o.saveModel ?? true) saveClassifier(modelDir, model, start.tokenizerFiles, regressionScale);
    }
    o.onEvent?.({ kind: "seed-end", seed, result });
  }

  const metricNames = Object.keys(results[0].dev);
  const med: Record<string, number> = {};
  for (const m of metricNames) med[m] = median(results.map((r) => r.dev[m]));
  const trainSeconds = results.reduce((a, r) => a + r.train_seconds, 0);
  const tokens = results.reduce((a, r) => a + r.train_tokens, 0);
  const report: FinetuneReport = {
    task: task.name, display_name: task.displayName, main_metric: task.mainMetric, dev_split: devSplit, start: o.model ?? o.config!,
    init: o.model ? "pretrained" : "random",
    hyperparameters: {
      lr, layer_decay: layerDecay, epochs, batch_size: batchSize, max_seq_length: maxSeqLength, weight_decay: weightDecay,
      warmup_proportion: warmupProportion, warmup_steps: warmup, total_steps: totalSteps, steps_per_epoch: stepsPerEpoch,
      clip_norm: o.clipNorm ?? FINETUNE_CLIP_NORM, bias_correction: o.biasCorrection ?? false, head, double_unordered: doubleUnordered && task.isPair,
      regression_target_scale: task.isRegression ? regressionScale : undefined, model_size: modelSize(cfg),
      dropout: cfg.hidden_dropout_prob, max_train_examples: o.maxTrainExamples, max_eval_examples: o.maxEvalExamples, max_steps: o.maxSteps,
    },
    train_examples: trainF.length, dev_examples: devF.length,
    seeds: results, median: med, saved_seed: savedSeed, train_seconds: trainSeconds, tokens_per_second: tokens / trainSeconds,
    outputs: { metrics: join(o.out, "metrics.json"), dev_predictions: predsFile, model: (o.saveModel ?? true) ? modelDir : null },
  };
  writeFileSync(join(o.out, "metrics.json"), JSON.stringify(report, null, 2) + "\n");
  return report;
}

// ---------------------------------------------------------------------------------------------------------
// evaluation and prediction with a saved classifier

export interface EvaluateOptions {
  task: string;
  dataDir: string;
  model: string;
  split?: string;
  vocab?: string;
  batchSize?: number;
  maxSeqLength?: number;
  maxExamples?: number;
}

export interface EvaluateResult {
  task: string;
  split: string;
  examples: number;
  main_metric: string;
  main: number;
  metrics: Record<string, number>;
  seconds: number;
  label_note?: string;
}

async function runClassifier(o: { task: string; dataDir: string; model: string; split: string; vocab?: string; batchSize?: number; maxSeqLength?: number; maxExamples?: number }) {
  const task = getGlueTask(o.task);
  const split = resolveSplit(task, o.split);
  const lc = loadClassifier(o.model, task, o.vocab);
  const maxSeqLength = o.maxSeqLength ?? FINETUNE_MAX_SEQ_LENGTH;
  if (maxSeqLength > lc.config.max_position_embeddings) throw new Error(`--max-seq-length ${maxSeqLength} exceeds the model's max_position_embeddings ${lc.config.max_position_embeddings}`);
  const examples = readGlueSplit(o.dataDir, task, split, { maxRows: o.maxExamples });
  const features = await featurize(lc.tokenizer, task, examples, maxSeqLength);
  const trainer = new Finetuner(lc.model, {});
  const outputs = trainer.predict(features, o.batchSize ?? 64, lc.tokenizer.padId);
  const preds = outputsToPredictions(getGlueTask(task.predictWith), outputs, lc.config.num_labels, lc.classNames);
  return { task, split, examples, preds, lc };
}

/** Scores a saved classifier on a labelled split (default: the task's dev split). */
export async function evaluate(o: EvaluateOptions): Promise<EvaluateResult> {
  const t0 = performance.now();
  const task = getGlueTask(o.task);
  const split = resolveSplit(task, o.split ?? task.devSplits[0] ?? "dev");
  if (task.files[split].label === undefined) throw new Error(`${task.displayName} ${split} has no labels to score against: use \`electra predict\``);
  const r = await runClassifier({ ...o, split });
  const sc = scoreTask(task, r.preds, r.examples.map((e) => e.label as string | number));
  return {
    task: task.name, split, examples: r.examples.length, main_metric: sc.mainMetric, main: sc.main, metrics: sc.metrics,
    seconds: (performance.now() - t0) / 1000, ...(r.lc.labelNote ? { label_note: r.lc.labelNote } : {}),
  };
}

export interface PredictOptions extends EvaluateOptions {
  split: string;
  /** a file, or a folder (the GLUE submission name is used inside it) */
  out: string;
  /** decimals of regression scores (default 3) */
  decimals?: number;
}

export interface PredictResult {
  file: string;
  rows: number;
  split: string;
  label_note?: string;
}

/** The submission file name for a split: CoLA.tsv, MNLI-m.tsv, AX.tsv ...; for dev splits TASK-dev.tsv. */
export function predictionFileName(task: GlueTask, split: string): string {
  return task.submissionFiles[split] ?? `${task.displayName}-${split}.tsv`;
}

/** Writes GLUE-format predictions (`index<TAB>prediction`) of a saved classifier for a split. */
export async function predict(o: PredictOptions): Promise<PredictResult> {
  const task = getGlueTask(o.task);
  const split = resolveSplit(task, o.split);
  const r = await runClassifier({ ...o, split });
  let file = o.out;
  if (o.out.endsWith("/") || (existsSync(o.out) && isDirectory(o.out))) file = join(o.out, predictionFileName(task, split));
  writePredictions(file, predictionRows(r.examples, r.preds), { decimals: o.decimals ?? 3 });
  return { file, rows: r.examples.length, split, ...(r.lc.labelNote ? { label_note: r.lc.labelNote } : {}) };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
