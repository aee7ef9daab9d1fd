/**
 * GLUE on the task seam: the nine tasks and AX, read from a GLUE data root (src/data/glue.ts), scored with the
 * official metrics (src/metrics/glue-metrics.ts), predictions in the GLUE submission format. The official
 * per-task settings: 10 epochs for RTE and STS-B (3 otherwise); MRPC and STS-B train on both sentence orders
 * (double_unordered); STS-B is a regression on score / 5; AX is predicted with an MNLI model.
 */
import {
  getGlueTask, predictionRows, readGlueSplit, resolveSplit, writePredictions, type GlueExample, type GlueTask,
} from "../data/glue.js";
import type { WordPieceTokenizer } from "../data/tokenizer.js";
import type { ClassifierHead, ElectraConfig } from "../model/config.js";
import type { Batch, RunContext } from "../model/encoder.js";
import type { ParamStore } from "../model/params.js";
import { scoreTask } from "../metrics/glue-metrics.js";
import { FINETUNE_MAX_SEQ_LENGTH, officialLrAndDecay } from "./hyperparameters.js";
import {
  classifierConfig, classNamesOf, decodeSentences, featurizeSentences, foldRegressionScale, sentenceLabelId, sentenceLayout, sentenceLoss,
  type SentenceFeature, type SentenceLabels, type SentencePrediction,
} from "./sequence-classification.js";
import { predictionsPath, type DataOptions, type Scores, type Split, type Task, type TaskDefaults } from "./task.js";

/** STS-B targets are score / REGRESSION_SCALE in training (official RegressionTask: (label - 0) / 5). */
export const REGRESSION_SCALE = 5;

export class GlueTaskOnSeam implements Task<GlueExample, SentenceFeature, SentencePrediction> {
  readonly name: string;
  readonly displayName: string;
  readonly architecture = "ElectraForSequenceClassification";
  readonly predictionExtension = ".tsv";
  readonly mainMetric: string;
  readonly glue: GlueTask;
  /** the task whose labels the model has (AX: MNLI) */
  readonly labelTask: GlueTask;
  private l: SentenceLabels;
  private readonly doubleUnordered: boolean;

  constructor(name: string, private readonly data: DataOptions) {
    this.glue = getGlueTask(name);
    this.labelTask = getGlueTask(this.glue.predictWith);
    this.name = this.glue.name;
    this.displayName = this.glue.displayName;
    this.mainMetric = this.glue.mainMetric;
    if (!data.dataDir) throw new Error(`${this.displayName}: give --data-dir (the GLUE data root holding ${this.glue.dir}/)`);
    // the GLUE folder's own train / dev files are the task's; a flag naming other data would be ignored
    const other = data.trainFile !== undefined ? "--train-file" : data.validationFile !== undefined ? "--validation-file" : data.validationSplit !== undefined ? "--validation-split" : undefined;
    if (other) throw new Error(`${this.displayName} reads ${this.glue.dir}/ under --data-dir, not ${other}: for your own files use --task text-classification (or give only --data-dir)`);
    const lt = this.labelTask;
    this.l = { labels: [...lt.labels], regression: lt.isRegression, regressionScale: lt.isRegression ? REGRESSION_SCALE : 1 };
    this.doubleUnordered = (data.doubleUnordered ?? (this.name === "mrpc" || this.name === "stsb")) && this.glue.isPair;
  }

  private read(split: string, train = false): Split<GlueExample> {
    const s = resolveSplit(this.glue, split);
    const examples = readGlueSplit(this.data.dataDir!, this.glue, s, {
      maxRows: train ? this.data.maxTrainExamples : this.data.maxEvalExamples, doubleUnordered: train && this.doubleUnordered,
    });
    return { name: s, suffix: s === "dev_mismatched" ? "mm" : s, examples, labelled: this.glue.files[s].label !== undefined };
  }

  trainSplit(): Split<GlueExample> {
    if (!this.glue.trainSplit) throw new Error(`${this.displayName} has no training data; predict it with a ${this.labelTask.displayName} model (electra predict --task ${this.name})`);
    return this.read(this.glue.trainSplit, true);
  }

  devSplits(): Split<GlueExample>[] {
    return this.glue.devSplits.map((s, i) => ({ ...this.read(s), suffix: i === 0 ? "" : s === "dev_mismatched" ? "mm" : s }));
  }

  split(name: string): Split<GlueExample> {
    return this.read(name);
  }

  modelConfig(base: ElectraConfig, head?: string): ElectraConfig {
    return classifierConfig(base, this.l, (head ?? "hf") as ClassifierHead);
  }

  useModel(cfg: ElectraConfig, dir: string): string | undefined {
    const { classNames, note } = classNamesOf(cfg, this.l, dir, this.labelTask.displayName);
    // a saved regression model outputs the target itself (its scale was folded in by beforeSave)
    this.l = this.l.regression ? { ...this.l, regressionScale: 1 } : { ...this.l, labels: classNames };
    return note;
  }

  /** configure_finetuning.py: lr 1e-4 and decay 0.8 (large: 5e-5 and 0.9); 3 epochs, 10 for RTE and STS-B. */
  defaults(cfg: ElectraConfig): TaskDefaults {
    return { ...officialLrAndDecay(cfg), epochs: this.name === "rte" || this.name === "stsb" ? 10 : 3, maxSeqLength: FINETUNE_MAX_SEQ_LENGTH };
  }

  featurize(tokenizer: WordPieceTokenizer, examples: readonly GlueExample[], maxSeqLength: number): Promise<SentenceFeature[]> {
    // labels are checked against the task's own list (the model's class order is applied in decode)
    const own: SentenceLabels = { ...this.l, labels: [...this.labelTask.labels] };
    return featurizeSentences(tokenizer, examples, maxSeqLength, (e, i) => {
      const id = sentenceLabelId(own, e.label, `${this.displayName} ${(e as GlueExample).guid ?? i}`);
      return this.l.regression || Number.isNaN(id) ? id : this.l.labels.indexOf(own.labels[id]);
    });
  }

  outputLayout(cfg: ElectraConfig) {
    return sentenceLayout(cfg);
  }

  loss(ctx: RunContext, logits: Float32Array, features: readonly SentenceFeature[], batch: Batch) {
    return sentenceLoss(ctx, logits, features, batch, this.l);
  }

  decode(outputs: readonly Float32Array[]): SentencePrediction[] {
    return decodeSentences(outputs, this.l);
  }

  score(examples: readonly GlueExample[], predictions: readonly SentencePrediction[]): Scores {
    const sc = scoreTask(this.glue, predictions as (string | number)[], examples.map((e) => e.label as string | number));
    return { metrics: sc.metrics, main: sc.main };
  }

  predictionFileName(split: string): string {
    return this.glue.submissionFiles[split] ?? `${this.displayName}-${split}.tsv`;
  }

  writePredictions(out: string, split: Split<GlueExample>, predictions: readonly SentencePrediction[], decimals = 3): string {
    const file = predictionsPath(out, this.predictionFileName(split.name));
    writePredictions(file, predictionRows(split.examples, predictions as (string | number)[]), { decimals });
    return file;
  }

  beforeSave(store: ParamStore, cfg: ElectraConfig): () => void {
    if (cfg.num_labels === 1 && this.l.regressionScale !== 1) return foldRegressionScale(store, this.l.regressionScale);
    return () => {};
  }

  /** the model's class names in class order (after useModel: the fine-tuned model's) */
  get classNames(): readonly string[] {
    return this.l.labels;
  }

  describe(): Record<string, unknown> {
    return {
      double_unordered: this.doubleUnordered, regression_target_scale: this.l.regression ? REGRESSION_SCALE : undefined,
      max_train_examples: this.data.maxTrainExamples, max_eval_examples: this.data.maxEvalExamples,
    };
  }
}
