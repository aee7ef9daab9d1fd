/**
 * Fine-tuning, evaluation and prediction for any task of the registry (src/tasks/registry.ts), as
 * google-research/electra's run_finetuning.py does it:
 *
 *  - training batches: features shuffled (seeded), cut into chunks of 100 batches, each chunk sorted by length and
 *    cut into batches, the batches shuffled; each batch padded to its longest row only (dynamic padding; the
 *    official code pads to max_seq_length: the same computation on fewer positions);
 *  - the optimizer, layer-wise decay, clipping and dropout of src/train/trainer.ts; lr = peak * (1 - step / total)
 *    * min(1, step / warmup) with warmup = 10% of the steps;
 *  - defaults (configure_finetuning.py, per task: Task.defaults): lr 1e-4 (5e-5 for large; the paper's Table 7
 *    says 3e-4 for small: pass --lr), layer decay 0.8 (0.9 for large), batch 32, weight decay 0.01;
 *  - beyond the official loop: the dev set is scored after every epoch and the best epoch's weights (by the task's
 *    main metric) are kept; several seeds run one after another and the median of each metric is reported.
 *
 * This module knows no task by name: the task reads, featurizes, computes the loss, decodes and scores.
 *
 * Under mpirun (src/core/mpi.ts) each of N ranks takes rows [r·b, (r+1)·b) of every batch of N·b (--batch-size b
 * per rank) of the shuffled epoch, as one process with batch N·b would cut it; rank 0's initial weights are
 * broadcast; the dev set is predicted in shards and gathered, so every rank scores and keeps the same best epoch;
 * rank 0 alone writes OUT.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { getWorld } from "../core/mpi.js";
import { Rng } from "../core/rng.js";
import { bucketedBatches } from "../data/batching.js";
import type { WordPieceTokenizer } from "../data/tokenizer.js";
import { initParams } from "../model/params.js";
import { getArchitecture } from "../model/registry.js";
import { createTask } from "../tasks/registry.js";
import { featureLength, type DataOptions, type Feature, type Split, type Task } from "../tasks/task.js";
import {
  FINETUNE_BATCH_SIZE, FINETUNE_CLIP_NORM, FINETUNE_WARMUP_PROPORTION, FINETUNE_WEIGHT_DECAY, median, modelSize,
} from "../tasks/hyperparameters.js";
import { initHead, loadTaskModel, modelForStart, pretrainedStart, randomStart, saveTaskModel } from "./model-folder.js";
import type { Dtype } from "../model/quantize.js";
import { learningRate } from "./pretrain.js";
import { Trainer } from "./trainer.js";
import { writeFileDurable } from "../io/durable.js";

/** A warning is printed when more than this fraction of the training tokens are [UNK]. */
export const UNK_WARNING_FRACTION = 0.05;

export type FinetuneEvent =
  | { kind: "data"; trainExamples: number; devExamples: number; trainFeatures: number; seconds: number }
  | { kind: "warning"; message: string }
  | { kind: "seed-start"; seed: number; seedIndex: number; seeds: number; totalSteps: number; stepsPerEpoch: number }
  | { kind: "step"; seed: number; step: number; totalSteps: number; loss: number; lr: number; tokensPerSecond: number }
  | { kind: "eval"; seed: number; record: EpochRecord; best: boolean }
  | { kind: "seed-end"; seed: number; result: SeedResult };

export interface FinetuneOptions extends DataOptions {
  task: string;
  /** output folder: metrics.json, dev predictions, model/ */
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
  /** sequence classification: "hf" (transformers' two-layer head) or "official" (one layer) */
  head?: string;
  /** stop after this many optimizer steps (the schedule spans them) */
  maxSteps?: number;
  biasCorrection?: boolean;
  clipNorm?: number;
  /** write OUT/model (default true) */
  saveModel?: boolean;
  /** replace what a previous run left in `out` (metrics.json, model/); without it such a folder is an error */
  overwrite?: boolean;
  onEvent?: (e: FinetuneEvent) => void;
}

export interface EpochRecord {
  epoch: number;
  step: number;
  train_loss: number;
  /** the task's metrics on the dev split, and main */
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
  architecture: string;
  main_metric: string;
  dev_split: string;
  start: string;
  init: "pretrained" | "random";
  /** batch_size is per rank; global_batch_size = ranks x batch_size */
  hyperparameters: Record<string, unknown>;
  task_options: Record<string, unknown>;
  train_examples: number;
  train_features: number;
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

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

/** The fraction of [UNK] among the features' tokens ([CLS]/[SEP] included). */
export function unkFraction(features: readonly Feature[], unkId: number): number {
  let unk = 0, all = 0;
  for (const f of features) for (const r of f.rows) {
    all += r.ids.length;
    for (let i = 0; i < r.ids.length; i++) if (r.ids[i] === unkId) unk++;
  }
  return all ? unk / all : 0;
}

interface Scored<Ex> {
  split: Split<Ex>;
  features: Feature[];
}

async function featurized<Ex>(task: Task<Ex>, tokenizer: WordPieceTokenizer, split: Split<Ex>, maxSeqLength: number): Promise<Scored<Ex>> {
  return { split, features: await task.featurize(tokenizer, split.examples, maxSeqLength) };
}

/** Predictions of a trainer for a split's features. */
function predictionsOf<Ex>(trainer: Trainer<Feature>, task: Task<Ex>, s: Scored<Ex>, batchSize: number, padId: number): unknown[] {
  return task.decode(trainer.outputs(s.features, batchSize, padId), s.features, s.split.examples);
}

export async function finetune(o: FinetuneOptions): Promise<FinetuneReport> {
  const task = createTask(o.task, o) as Task<unknown>;
  check(!!o.model !== !!o.config, "give either --model DIR (a Hugging Face folder) or --config NAME with --vocab FILE (random weights)");
  check(!(o.config && !o.vocab), "--config needs --vocab FILE (random weights need a vocabulary)");
  const start = o.model ? pretrainedStart(o.model, o.vocab) : randomStart(o.config!, o.vocab!);
  const previous = ["metrics.json", "model", "seeds"].filter((f) => existsSync(join(o.out, f)));
  check(!previous.length || !!o.overwrite, `${o.out} already holds a fine-tuning run (${previous.join(", ")}): give --overwrite to replace it, or another --out`);

  // data first: a bad file fails before anything is built
  const t0 = performance.now();
  const trainSplit = task.trainSplit();
  const devSplits = task.devSplits();
  check(trainSplit.examples.length > 0, `${task.displayName}: no training examples`);
  check(devSplits[0].examples.length > 0, `${task.displayName}: no examples in ${devSplits[0].name}`);
  const cfg = task.modelConfig(start.config, o.head);
  const defaults = task.defaults(cfg);
  const lr = o.lr ?? defaults.lr;
  const layerDecay = o.layerDecay ?? defaults.layerDecay;
  const epochs = o.epochs ?? defaults.epochs;
  const batchSize = o.batchSize ?? FINETUNE_BATCH_SIZE;
  const evalBatchSize = o.evalBatchSize ?? 64;
  // the task's default, or the model's longest input when that is shorter; a length given explicitly is checked
  const maxSeqLength = o.maxSeqLength ?? Math.min(defaults.maxSeqLength, cfg.max_position_embeddings);
  const weightDecay = o.weightDecay ?? FINETUNE_WEIGHT_DECAY;
  const warmupProportion = o.warmupProportion ?? FINETUNE_WARMUP_PROPORTION;
  const seeds = o.seeds && o.seeds.length ? o.seeds : [1];
  check(Number.isFinite(lr) && lr > 0, `--lr must be positive, got ${lr}`);
  check(layerDecay > 0 && layerDecay <= 1, `--layer-decay must be in (0, 1], got ${layerDecay}`);
  check(Number.isFinite(epochs) && epochs > 0, `--epochs must be positive, got ${epochs}`);
  check(Number.isInteger(batchSize) && batchSize > 0, `--batch-size must be a positive integer, got ${batchSize}`);
  check(Number.isInteger(maxSeqLength) && maxSeqLength >= 3, `--max-seq-length must be an integer of at least 3, got ${maxSeqLength}`);
  check(maxSeqLength <= cfg.max_position_embeddings, `--max-seq-length ${maxSeqLength} exceeds the model's max_position_embeddings ${cfg.max_position_embeddings}`);
  check(warmupProportion >= 0 && warmupProportion <= 1, `warmup proportion must be in [0, 1], got ${warmupProportion}`);
  check(seeds.every((s) => Number.isInteger(s)), `seeds must be integers, got ${seeds.join(",")}`);
  check(new Set(seeds).size === seeds.length, `seeds must differ, got ${seeds.join(",")}`);

  const tokenizer = start.tokenizer;
  const train = await featurized(task, tokenizer, trainSplit, maxSeqLength);
  const devs = await Promise.all(devSplits.map((s) => featurized(task, tokenizer, s, maxSeqLength)));
  o.onEvent?.({ kind: "data", trainExamples: trainSplit.examples.length, devExamples: devSplits[0].examples.length, trainFeatures: train.features.length, seconds: (performance.now() - t0) / 1000 });
  const unk = unkFraction(train.features, tokenizer.unkId);
  if (unk > UNK_WARNING_FRACTION) {
    o.onEvent?.({ kind: "warning", message: `${(100 * unk).toFixed(1)}% of the training tokens are [UNK]: the vocabulary ${tokenizer.source} does not fit this text (lowercasing, language?)` });
  }
  for (const message of task.dataWarnings?.() ?? []) o.onEvent?.({ kind: "warning", message });
  const padId = tokenizer.padId;

  // model: the starting point's encoder, a fresh head
  const arch = getArchitecture(task.architecture);
  const model = modelForStart(start, cfg, arch.name);
  const store = model.store;
  const initial = start.tensors ? store.data.slice() : null;

  const world = getWorld();
  const lead = world.rank === 0;
  const globalBatch = world.size * batchSize;
  const F = train.features;
  const stepsPerEpoch = Math.ceil(F.length / globalBatch);
  let totalSteps = Math.max(1, Math.round(epochs * stepsPerEpoch));
  if (o.maxSteps !== undefined) {
    check(Number.isInteger(o.maxSteps) && o.maxSteps > 0, `--max-steps must be a positive integer, got ${o.maxSteps}`);
    totalSteps = Math.min(totalSteps, o.maxSteps);
  }
  const warmup = Math.floor(totalSteps * warmupProportion);
  const lengths = F.map(featureLength);

  if (lead) mkdirSync(o.out, { recursive: true });
  const modelDir = join(o.out, "model");
  const predsFile = join(o.out, `dev_predictions${task.predictionExtension}`);
  const results: SeedResult[] = [];
  let savedSeed = seeds[0], savedMain = -Infinity;
  const best = new Float32Array(store.size);

  for (let si = 0; si < seeds.length; si++) {
    const seed = seeds[si];
    if (initial) {
      store.data.set(initial);
      initHead(store, arch.headPrefixes, cfg.initializer_range, seed ^ 0x3c6ef372);
    } else {
      initParams(store, cfg.initializer_range, seed, new Map([["electra.embeddings.word_embeddings.weight", cfg.pad_token_id]]));
    }
    world.broadcast([store.data]); // rank 0's weights on every rank
    const trainer = new Trainer(model, task, { weightDecay, layerDecay, biasCorrection: o.biasCorrection, clipNorm: o.clipNorm, seed, world });
    const dataRng = new Rng(seed ^ 0x1b873593);
    o.onEvent?.({ kind: "seed-start", seed, seedIndex: si, seeds: seeds.length, totalSteps, stepsPerEpoch });
    const epochsLog: EpochRecord[] = [];
    let step = 0, trainMs = 0, evalMs = 0, trainTokens = 0;
    let winLoss = 0, winN = 0;
    let bestMain = -Infinity, bestRec: EpochRecord | null = null, bestPreds: unknown[] = [];
    while (step < totalSteps) {
      for (const idx of bucketedBatches(lengths, globalBatch, dataRng)) {
        if (step >= totalSteps) break;
        const rate = learningRate(step, lr, totalSteps, warmup);
        const ts = performance.now();
        const mine = idx.slice(world.rank * batchSize, (world.rank + 1) * batchSize);
        const r = trainer.trainStep(mine.map((i) => F[i]), rate, padId);
        trainMs += performance.now() - ts;
        trainTokens += r.tokens;
        winLoss += r.loss;
        winN++;
        step++;
        o.onEvent?.({ kind: "step", seed, step, totalSteps, loss: r.loss, lr: rate, tokensPerSecond: trainTokens / (trainMs / 1000) });
        if (step % stepsPerEpoch === 0 || step === totalSteps) {
          const es = performance.now();
          const preds = predictionsOf(trainer, task, devs[0], evalBatchSize, padId);
          const sc = task.score(devs[0].split.examples, preds);
          const rec: EpochRecord = { epoch: +(step / stepsPerEpoch).toFixed(4), step, train_loss: winLoss / winN, dev: { ...sc.metrics, main: sc.main } };
          evalMs += performance.now() - es;
          epochsLog.push(rec);
          const isBest = rec.dev.main > bestMain || bestRec === null;
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
    const extra: { split: Split<unknown>; preds: unknown[] }[] = [];
    for (const x of devs.slice(1)) {
      const es = performance.now();
      const preds = predictionsOf(trainer, task, x, evalBatchSize, padId);
      for (const [k, v] of Object.entries(task.score(x.split.examples, preds).metrics)) dev[`${k}_${x.split.suffix}`] = v;
      evalMs += performance.now() - es;
      extra.push({ split: x.split, preds });
    }
    const result: SeedResult = {
      seed, best_epoch: bestRec!.epoch, best_step: bestRec!.step, dev, epochs: epochsLog, steps: step,
      train_seconds: trainMs / 1000, eval_seconds: evalMs / 1000, train_tokens: trainTokens, tokens_per_second: trainTokens / (trainMs / 1000),
    };
    results.push(result);
    const write = (dir: string) => {
      if (!lead) return;
      task.writePredictions(join(dir, `dev_predictions${task.predictionExtension}`), devs[0].split, bestPreds);
      for (const x of extra) task.writePredictions(join(dir, `${x.split.name}_predictions${task.predictionExtension}`), x.split, x.preds);
    };
    if (seeds.length > 1) write(join(o.out, "seeds", String(seed)));
    if (bestMain > savedMain || si === 0) {
      savedMain = bestMain;
      savedSeed = seed;
      write(o.out);
      if ((o.saveModel ?? true) && lead) saveTaskModel(modelDir, model, task, start.tokenizerFiles, maxSeqLength);
    }
    o.onEvent?.({ kind: "seed-end", seed, result });
  }

  const med: Record<string, number> = {};
  for (const m of Object.keys(results[0].dev)) med[m] = median(results.map((r) => r.dev[m]));
  const trainSeconds = results.reduce((a, r) => a + r.train_seconds, 0);
  const tokens = results.reduce((a, r) => a + r.train_tokens, 0);
  const report: FinetuneReport = {
    task: task.name, display_name: task.displayName, architecture: arch.name, main_metric: task.mainMetric, dev_split: devSplits[0].name,
    start: o.model ?? o.config!, init: o.model ? "pretrained" : "random",
    hyperparameters: {
      lr, layer_decay: layerDecay, epochs, batch_size: batchSize, ranks: world.size, global_batch_size: globalBatch, max_seq_length: maxSeqLength, weight_decay: weightDecay,
      warmup_proportion: warmupProportion, warmup_steps: warmup, total_steps: totalSteps, steps_per_epoch: stepsPerEpoch,
      clip_norm: o.clipNorm ?? FINETUNE_CLIP_NORM, bias_correction: o.biasCorrection ?? false, head: cfg.classifier_head,
      model_size: modelSize(cfg), dropout: cfg.hidden_dropout_prob, max_steps: o.maxSteps,
    },
    task_options: task.describe(),
    train_examples: trainSplit.examples.length, train_features: F.length, dev_examples: devSplits[0].examples.length,
    seeds: results, median: med, saved_seed: savedSeed, train_seconds: trainSeconds, tokens_per_second: tokens / trainSeconds,
    outputs: { metrics: join(o.out, "metrics.json"), dev_predictions: predsFile, model: (o.saveModel ?? true) ? modelDir : null },
  };
  if (lead) writeFileDurable(join(o.out, "metrics.json"), JSON.stringify(report, null, 2) + "\n");
  return report;
}

// ---------------------------------------------------------------------------------------------------------
// evaluation and prediction with a saved model

export interface EvaluateOptions extends DataOptions {
  task: string;
  model: string;
  /** a split name (dev, test, GLUE's dev_mismatched, ...) or a file; default: the task's dev split */
  split?: string;
  vocab?: string;
  batchSize?: number;
  maxSeqLength?: number;
  /** read at most this many examples */
  maxExamples?: number;
  /** fp32 or int8 (default: what the folder holds; int8 quantizes a float32 folder as it loads) */
  dtype?: Dtype;
}

export interface EvaluateResult {
  task: string;
  split: string;
  dtype: Dtype;
  examples: number;
  main_metric: string;
  main: number;
  metrics: Record<string, number>;
  seconds: number;
  label_note?: string;
}

async function runModel(o: EvaluateOptions & { split: string }) {
  const task = createTask(o.task, { ...o, maxEvalExamples: o.maxExamples ?? o.maxEvalExamples }) as Task<unknown>;
  const lm = loadTaskModel(o.model, task, o.vocab, o.dtype);
  if (lm.dtype === "fp32") lm.model.encoder.packForInference(); // scoring never trains: the inference kernels
  const maxSeqLength = o.maxSeqLength ?? Math.min(task.defaults(lm.config).maxSeqLength, lm.config.max_position_embeddings);
  check(maxSeqLength <= lm.config.max_position_embeddings, `--max-seq-length ${maxSeqLength} exceeds the model's max_position_embeddings ${lm.config.max_position_embeddings}`);
  const split = task.split(o.split);
  if (split.examples.length === 0) throw new Error(`${split.name}: no examples`);
  const s = await featurized(task, lm.tokenizer, split, maxSeqLength);
  const trainer = new Trainer(lm.model, task);
  const preds = predictionsOf(trainer, task, s, o.batchSize ?? 64, lm.tokenizer.padId);
  return { task, split, preds, lm };
}

/** Scores a saved model on a labelled split (default: the task's dev split). */
export async function evaluate(o: EvaluateOptions): Promise<EvaluateResult> {
  const t0 = performance.now();
  const r = await runModel({ ...o, split: o.split ?? "dev" });
  if (!r.split.labelled) throw new Error(`${r.task.displayName} ${r.split.name} has no labels to score against: use \`electra predict\``);
  const sc = r.task.score(r.split.examples, r.preds);
  return {
    task: r.task.name, split: r.split.name, dtype: r.lm.dtype, examples: r.split.examples.length, main_metric: r.task.mainMetric, main: sc.main, metrics: sc.metrics,
    seconds: (performance.now() - t0) / 1000, ...(r.lm.labelNote ? { label_note: r.lm.labelNote } : {}),
  };
}

export interface PredictOptions extends EvaluateOptions {
  split: string;
  /** a file, or a folder (the task's file name is used inside it) */
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

/** Writes a saved model's predictions for a split in the task's format (GLUE submission TSV, CoNLL text, ...). */
export async function predict(o: PredictOptions): Promise<PredictResult> {
  const r = await runModel(o);
  const file = r.task.writePredictions(o.out, r.split, r.preds, o.decimals ?? 3);
  return { file, rows: r.split.examples.length, split: r.split.name, ...(r.lm.labelNote ? { label_note: r.lm.labelNote } : {}) };
}
