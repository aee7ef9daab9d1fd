/**
 * The task seam (google-research/electra's finetune/task.py, transformers.js's pipeline registry): a task owns its
 * examples, its featurizer, the head it needs, its loss, how the head's outputs become predictions, its scorer and
 * its prediction files. The trainer (src/train/trainer.ts), `evaluate`, `predict` and the library API drive any
 * task through this interface and know none by name; families register once in registry.ts.
 *
 * Data flows one way: files -> examples -> features (rows of token ids, with the alignment a decoder needs) ->
 * model (encoder + head) -> outputs per feature -> predictions per example -> scores / prediction files.
 */
import { existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { Sequence } from "../data/batching.js";
import { splitValidation } from "../data/split.js";
import type { WordPieceTokenizer } from "../data/tokenizer.js";
import type { ElectraConfig } from "../model/config.js";
import type { Batch, RunContext } from "../model/encoder.js";
import type { LossResult } from "../model/losses.js";
import type { ParamStore } from "../model/params.js";

/** A featurized unit: one row of model input, or several (multiple choice: one per choice), from one example. */
export interface Feature {
  /** index of the example it came from, in the split it was made from */
  example: number;
  rows: readonly Sequence[];
}

/** A split of labelled or unlabelled examples. */
export interface Split<Ex> {
  /** "train", "dev", "dev_mismatched", "test", or the file it came from */
  name: string;
  /** suffix of this split's metrics in metrics.json when it is not the main dev split ("mm": accuracy_mm) */
  suffix: string;
  examples: Ex[];
  /** whether every example has a label (scores can be computed) */
  labelled: boolean;
}

export interface Scores {
  /** every metric of the task, under its name */
  metrics: Record<string, number>;
  /** the task's main metric: the best epoch and the median over seeds are chosen by it */
  main: number;
}

/** The official fine-tuning defaults a task takes for a model (configure_finetuning.py). */
export interface TaskDefaults {
  lr: number;
  layerDecay: number;
  epochs: number;
  maxSeqLength: number;
}

/** How a head's outputs are laid out: one vector per row ([CLS] heads) or one per position (tagging, spans). */
export interface OutputLayout {
  perPosition: boolean;
  /** values per row or per position: num_labels, 2 for spans, 1 for a choice score */
  width: number;
}

export interface Task<Ex = unknown, F extends Feature = Feature, P = unknown> {
  /** the registry name (`--task`) and how logs name it */
  readonly name: string;
  readonly displayName: string;
  /** the Hugging Face head (registry key in src/model/registry.ts) */
  readonly architecture: string;
  readonly mainMetric: string;

  /** The training examples (throws when the task has none: AX, a folder without a train file). */
  trainSplit(): Split<Ex>;
  /** The splits scored after each epoch: the first picks the best epoch, the others are reported with a suffix. */
  devSplits(): Split<Ex>[];
  /** Any split by name (evaluate / predict: "dev", "test", a file). */
  split(name: string): Split<Ex>;

  /** The config of this task's model built on `base` (labels, id2label, head options, architectures). */
  modelConfig(base: ElectraConfig, head?: string): ElectraConfig;
  /**
   * Takes the labels from a fine-tuned model's config (evaluate / predict): throws when the model cannot serve
   * this task; returns a note when classes were mapped by position.
   */
  useModel(cfg: ElectraConfig, dir: string): string | undefined;
  defaults(cfg: ElectraConfig): TaskDefaults;
  /** Examples -> features (texts encoded in parallel batches; alignments kept for decode). */
  featurize(tokenizer: WordPieceTokenizer, examples: readonly Ex[], maxSeqLength: number): Promise<F[]>;
  outputLayout(cfg: ElectraConfig): OutputLayout;
  /** The loss of one training batch: `logits` from the model on padBatch of the features' rows. */
  loss(ctx: RunContext, logits: Float32Array, features: readonly F[], batch: Batch): LossResult;
  /**
   * Predictions per example from the head's outputs: outputs[i] holds feature i's values, its rows back to back,
   * each row's positions (per-position heads: only its real length) times the layout's width.
   */
  decode(outputs: readonly Float32Array[], features: readonly F[], examples: readonly Ex[]): P[];
  score(examples: readonly Ex[], predictions: readonly P[]): Scores;
  /**
   * Writes predictions in the task's file format; returns the file written (`out` may be a folder:
   * predictionsPath). `decimals`: places of numeric predictions, where the format has any (default 3).
   */
  writePredictions(out: string, split: Split<Ex>, predictions: readonly P[], decimals?: number): string;
  /** The default file name of a split's predictions inside a folder. */
  predictionFileName(split: string): string;
  /** the extension of its prediction files (".tsv", ".txt"): fine-tuning writes OUT/dev_predictions + this */
  readonly predictionExtension: string;
  /**
   * Changes the weights just before they are saved (STS-B folds its target scale into the last layer); returns
   * the function that undoes it.
   */
  beforeSave?(store: ParamStore, cfg: ElectraConfig): () => void;
  /**
   * Scores a predictions file as the task's official scorer does (`electra score`): CoNLL text for token tasks,
   * predictions.json against the SQuAD file (`dataFile`) for QA. Absent where the task has no such file.
   */
  scoreFile?(predictionsFile: string, dataFile?: string): Record<string, unknown>;
  /** hyperparameters and options the task reports in metrics.json */
  describe(): Record<string, unknown>;
  /** What the data suggest is a mistake but is not an error (fine-tuning prints each as a warning once the data are read). */
  dataWarnings?(): string[];
}

/** Where a task's data comes from (the `finetune` / `evaluate` / `predict` options). */
export interface DataOptions {
  /** a folder in the task's standard layout (GLUE, CoNLL) */
  dataDir?: string;
  trainFile?: string;
  validationFile?: string;
  testFile?: string;
  /** hold out this fraction of the training file as the dev set when no validation file is given */
  validationSplit?: number;
  /** seed of that split */
  splitSeed?: number;
  /** CSV / TSV / JSONL columns */
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  regression?: boolean;
  /** CoNLL: the tag column (0-based; negative counts from the end; default the last) */
  tagColumn?: number;
  /** read at most this many training / evaluation examples */
  maxTrainExamples?: number;
  maxEvalExamples?: number;
  /** GLUE MRPC / STS-B: also train on the swapped sentence order (official default: on) */
  doubleUnordered?: boolean;
  /** question answering (src/tasks/question-answering.ts): window step, question length, decoding */
  docStride?: number;
  maxQueryLength?: number;
  nBest?: number;
  maxAnswerLength?: number;
  nullScoreThreshold?: number;
}

/**
 * The training and validation splits of a file-based task: the validation file's examples when there is one, else
 * `--validation-split` of the training examples (seeded by `splitSeed`), else an error saying what to give; both
 * capped by maxTrainExamples / maxEvalExamples.
 */
export function trainAndValidation<Ex>(trainFile: string, train: Ex[], devFile: string | undefined, readDev: (f: string) => Ex[], data: DataOptions,
  missing: string): { train: Split<Ex>; dev: Split<Ex> } {
  let trainEx = train, devEx: Ex[], devName: string;
  if (devFile) {
    devEx = readDev(devFile);
    devName = devFile;
  } else if (data.validationSplit !== undefined) {
    if (!(data.validationSplit > 0 && data.validationSplit < 1)) throw new Error(`--validation-split must be between 0 and 1 (exclusive), got ${data.validationSplit}`);
    if (train.length < 2) throw new Error(`${trainFile}: --validation-split needs at least 2 training examples, the file has ${train.length}`);
    const s = splitValidation(train, data.validationSplit, data.splitSeed ?? 0);
    trainEx = s.train;
    devEx = s.validation;
    devName = `${trainFile} (validation split ${data.validationSplit})`;
  } else {
    throw new Error(`${missing}: give --validation-file FILE, or --validation-split 0.1 to hold out part of the training file`);
  }
  return {
    train: capSplit({ name: trainFile, suffix: "", examples: trainEx, labelled: true }, data.maxTrainExamples),
    dev: capSplit({ name: devName, suffix: "", examples: devEx, labelled: true }, data.maxEvalExamples),
  };
}

/** A feature's length for batching: its longest row. */
export function featureLength(f: Feature): number {
  return Math.max(...f.rows.map((r) => r.ids.length));
}

/** The file `out` names: itself, or, for an existing folder or a path ending in "/", `fileName` inside it. */
export function predictionsPath(out: string, fileName: string): string {
  return out.endsWith("/") || (existsSync(out) && statSync(out).isDirectory()) ? join(out, fileName) : out;
}

/** The default prediction file name of a split read from a file: `valid.txt` -> `valid_predictions` + ext. */
export function splitPredictionFileName(split: string, ext: string): string {
  return `${basename(split).replace(/\.[^.]*$/, "")}_predictions${ext}`;
}

/**
 * The file of a split of a file-based task: "dev" / "validation" -> --validation-file, "test" -> --test-file,
 * anything else is a file name itself; throws naming the flag when it was not given.
 */
export function namedSplitFile(name: string, data: DataOptions, example = "FILE"): string {
  const file = name === "dev" || name === "validation" ? data.validationFile : name === "test" ? data.testFile : name;
  if (!file) throw new Error(`no ${name} file: give --${name === "test" ? "test" : "validation"}-file ${example}`);
  return file;
}

/** Applies a row cap (quick runs) to a split. */
export function capSplit<Ex>(s: Split<Ex>, max: number | undefined): Split<Ex> {
  return max === undefined ? s : { ...s, examples: s.examples.slice(0, max) };
}
