/**
 * Sequence classification and regression on the user's own files (`--task text-classification`):
 * `--train-file`, `--validation-file` (or `--validation-split 0.1` of the training file), `--test-file`, each a CSV
 * (RFC 4180, header), TSV (header) or JSONL file read by src/data/tabular.ts, with `--text-column`,
 * `--text-pair-column`, `--label-column`. Labels are strings as written (`pos`, `neg`, `3`) and become the model's
 * id2label; with `--regression` a numeric label column is a regression target. Metrics: accuracy (main) and macro
 * F1; regression: Pearson (main), Spearman and mean squared error. Predictions: a TSV `index<TAB>prediction`
 * (index = the row's position in its file).
 */
import { basename } from "node:path";
import { predictionRows, writePredictions } from "../data/glue.js";
import { isNumericColumn, labelsOf, readTable, type Table, type TableRow } from "../data/tabular.js";
import type { WordPieceTokenizer } from "../data/tokenizer.js";
import { accuracy, pearson, spearman } from "../metrics/glue-metrics.js";
import type { ClassifierHead, ElectraConfig } from "../model/config.js";
import type { Batch, RunContext } from "../model/encoder.js";
import { FINETUNE_MAX_SEQ_LENGTH, officialLrAndDecay } from "./hyperparameters.js";
import {
  classifierConfig, classNamesOf, decodeSentences, featurizeSentences, sentenceLabelId, sentenceLayout, sentenceLoss,
  type SentenceFeature, type SentenceLabels, type SentencePrediction,
} from "./sequence-classification.js";
import { capSplit, namedSplitFile, predictionsPath, splitPredictionFileName, trainAndValidation, type DataOptions, type Scores, type Split, type Task, type TaskDefaults } from "./task.js";

/** Macro-averaged F1 over the gold and predicted classes (sklearn's f1_score(average="macro")). */
export function macroF1(preds: readonly string[], gold: readonly string[]): number {
  const classes = [...new Set([...gold, ...preds])];
  let sum = 0;
  for (const c of classes) {
    let tp = 0, fp = 0, fn = 0;
    for (let i = 0; i < gold.length; i++) {
      if (preds[i] === c && gold[i] === c) tp++;
      else if (preds[i] === c) fp++;
      else if (gold[i] === c) fn++;
    }
    sum += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  }
  return classes.length ? sum / classes.length : 0;
}

/** A row with the file it came from (errors name it). */
export type FileRow = TableRow & { file: string };

export class TextClassificationTask implements Task<FileRow, SentenceFeature, SentencePrediction> {
  readonly name = "text-classification";
  readonly displayName: string;
  readonly architecture = "ElectraForSequenceClassification";
  readonly predictionExtension = ".tsv";
  private l: SentenceLabels | null = null;
  private train: Split<FileRow> | null = null;
  private dev: Split<FileRow> | null = null;

  constructor(private readonly data: DataOptions) {
    if (data.dataDir) throw new Error("text-classification reads files: give --train-file (and --validation-file or --validation-split), not --data-dir");
    this.displayName = data.trainFile ? basename(data.trainFile) : "text-classification";
  }

  /** Pearson for a regression (asked for, or a loaded one-output model), else accuracy */
  get mainMetric(): string {
    return (this.l?.regression ?? this.data.regression) ? "pearson" : "accuracy";
  }

  private read(file: string, requireLabel: boolean): Table & { rows: FileRow[] } {
    const t = readTable(file, { textColumn: this.data.textColumn, textPairColumn: this.data.textPairColumn, labelColumn: this.data.labelColumn, requireLabel });
    return { ...t, rows: t.rows.map((r) => ({ ...r, file })) };
  }

  /** Reads the training file (and the validation file or split) once; the label set comes from the training rows. */
  private load(): void {
    if (this.train) return;
    if (!this.data.trainFile) throw new Error("text-classification needs --train-file FILE (CSV, TSV or JSONL)");
    const t = this.read(this.data.trainFile, true);
    const s = trainAndValidation(this.data.trainFile, t.rows, this.data.validationFile, (f) => this.read(f, true).rows, this.data, "no validation data");
    if (this.data.regression && !isNumericColumn(t.rows)) {
      const bad = t.rows.find((r) => !isNumericColumn([r])); // by the same rule: "0x10" is a number to Number()
      throw new Error(`${this.data.trainFile}:${bad?.line}: --regression needs numeric labels, found ${JSON.stringify(bad?.label)}`);
    }
    const labels = this.data.regression ? [] : labelsOf(t.rows);
    if (!this.data.regression && labels.length < 2) throw new Error(`${this.data.trainFile}: the label column ${t.labelColumn} has ${labels.length} distinct value(s); a classifier needs at least 2`);
    this.l = { labels, regression: !!this.data.regression, regressionScale: 1 };
    this.train = s.train;
    this.dev = s.dev;
  }

  private labels(): SentenceLabels {
    if (!this.l) this.load();
    return this.l!;
  }

  trainSplit(): Split<FileRow> {
    this.load();
    return this.train!;
  }

  devSplits(): Split<FileRow>[] {
    this.load();
    return [this.dev!];
  }

  split(name: string): Split<FileRow> {
    const file = namedSplitFile(name, this.data);
    const t = this.read(file, false);
    const examples = capSplit({ name: file, suffix: "", examples: t.rows, labelled: false }, this.data.maxEvalExamples).examples;
    return { name: file, suffix: "", examples, labelled: examples.length > 0 && examples.every((r) => r.label !== undefined) };
  }

  dataWarnings(): string[] {
    const l = this.labels();
    if (l.regression || !this.dev) return [];
    const unseen = new Map<string, number>();
    for (const r of this.dev.examples) if (r.label !== undefined && !l.labels.includes(r.label)) unseen.set(r.label, (unseen.get(r.label) ?? 0) + 1);
    if (!unseen.size) return [];
    const n = [...unseen.values()].reduce((a, b) => a + b, 0);
    const names = [...unseen.keys()].slice(0, 5).map((x) => JSON.stringify(x)).join(", ") + (unseen.size > 5 ? ` and ${unseen.size - 5} more` : "");
    return [`${this.dev.name}: ${n} of ${this.dev.examples.length} validation row(s) have a label the training data never has (${names}): the model cannot predict it, so they are scored as wrong`];
  }

  modelConfig(base: ElectraConfig, head?: string): ElectraConfig {
    return classifierConfig(base, this.labels(), (head ?? "hf") as ClassifierHead);
  }

  useModel(cfg: ElectraConfig, dir: string): string | undefined {
    if (this.data.regression || cfg.num_labels === 1) {
      this.l = { labels: [], regression: true, regressionScale: 1 };
      if (cfg.num_labels !== 1) throw new Error(`${dir} has ${cfg.num_labels} outputs; a regression needs 1`);
      return undefined;
    }
    const names = Array.from({ length: cfg.num_labels }, (_, i) => cfg.id2label?.[String(i)] ?? `LABEL_${i}`);
    this.l = { labels: names, regression: false, regressionScale: 1 };
    return classNamesOf(cfg, this.l, dir, this.displayName).note;
  }

  defaults(cfg: ElectraConfig): TaskDefaults {
    return { ...officialLrAndDecay(cfg), epochs: 3, maxSeqLength: FINETUNE_MAX_SEQ_LENGTH };
  }

  featurize(tokenizer: WordPieceTokenizer, examples: readonly FileRow[], maxSeqLength: number): Promise<SentenceFeature[]> {
    const l = this.labels();
    return featurizeSentences(tokenizer, examples, maxSeqLength, (e) => {
      const r = e as FileRow;
      // unlabelled rows (prediction), and labels the model does not know (scored as wrong), get no class id
      if (r.label === undefined || (!l.regression && !l.labels.includes(r.label))) return NaN;
      return sentenceLabelId(l, r.label, `${r.file}:${r.line}`);
    });
  }

  outputLayout(cfg: ElectraConfig) {
    return sentenceLayout(cfg);
  }

  loss(ctx: RunContext, logits: Float32Array, features: readonly SentenceFeature[], batch: Batch) {
    return sentenceLoss(ctx, logits, features, batch, this.labels());
  }

  decode(outputs: readonly Float32Array[]): SentencePrediction[] {
    return decodeSentences(outputs, this.labels());
  }

  score(examples: readonly FileRow[], predictions: readonly SentencePrediction[]): Scores {
    const unlabelled = examples.findIndex((e) => e.label === undefined);
    if (unlabelled >= 0) throw new Error(`${examples[unlabelled].file}:${examples[unlabelled].line}: no label: nothing to score against`);
    if (this.labels().regression) {
      const p = predictions.map(Number), y = examples.map((e) => Number(e.label));
      let mse = 0;
      for (let i = 0; i < p.length; i++) mse += (p[i] - y[i]) ** 2 / p.length;
      const metrics = { pearson: pearson(p, y), spearman: spearman(p, y), mse };
      return { metrics, main: metrics.pearson };
    }
    const p = predictions.map(String), y = examples.map((e) => String(e.label));
    const metrics = { accuracy: accuracy(p, y), macro_f1: macroF1(p, y) };
    return { metrics, main: metrics.accuracy };
  }

  predictionFileName(split: string): string {
    return splitPredictionFileName(split, this.predictionExtension);
  }

  writePredictions(out: string, split: Split<FileRow>, predictions: readonly SentencePrediction[], decimals = 3): string {
    const file = predictionsPath(out, this.predictionFileName(split.name));
    writePredictions(file, predictionRows(split.examples.map((e, i) => ({ guid: String(i), index: i, textA: e.textA })), predictions as (string | number)[]), { decimals });
    return file;
  }

  describe(): Record<string, unknown> {
    return {
      train_file: this.data.trainFile, validation_file: this.data.validationFile, validation_split: this.data.validationSplit,
      regression: !!this.data.regression, labels: this.l?.labels, max_train_examples: this.data.maxTrainExamples, max_eval_examples: this.data.maxEvalExamples,
    };
  }
}
