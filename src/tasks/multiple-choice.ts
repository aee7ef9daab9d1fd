/**
 * Multiple choice (ElectraForMultipleChoice): `--task copa`, `--task openbookqa`, `--task swag`, or
 * `--task multiple-choice` for JSONL `{"context": ..., "choices": [...], "label": k}` (src/data/multiple-choice.ts
 * reads them all). Every choice is paired with its context as `[CLS] context [SEP] choice [SEP]` (the official
 * truncation of a pair), the example's choices are consecutive rows of the batch, and the head scores each row;
 * the loss is the cross-entropy over an example's choices, the metric accuracy. Predictions:
 * `index<TAB>prediction` (the chosen choice's index; index = the example's position in its file).
 */
import { predictionRows, writePredictions } from "../data/glue.js";
import { readChoices, type ChoiceExample } from "../data/multiple-choice.js";
import type { WordPieceTokenizer } from "../data/tokenizer.js";
import { accuracy } from "../metrics/glue-metrics.js";
import type { ElectraConfig } from "../model/config.js";
import type { Batch, RunContext } from "../model/encoder.js";
import { choiceLoss, type LossResult } from "../model/losses.js";
import { FINETUNE_MAX_SEQ_LENGTH, officialLrAndDecay } from "./hyperparameters.js";
import { namedSplitFile, predictionsPath, splitPredictionFileName, trainAndValidation, type DataOptions, type Feature, type Scores, type Split, type Task, type TaskDefaults } from "./task.js";

export interface ChoiceFeature extends Feature {
  /** the right choice, -100 when unlabelled */
  label: number;
}

const FORMATS: Record<string, "copa" | "openbookqa" | "swag" | "jsonl"> = { copa: "copa", openbookqa: "openbookqa", swag: "swag", "multiple-choice": "jsonl" };

/** Pairs each example's context with each of its choices (shared by the task and `Electra.choose`). */
export async function featurizeChoices(tokenizer: WordPieceTokenizer, examples: readonly { context: string; choices: readonly string[]; label?: number }[],
  maxSeqLength: number): Promise<ChoiceFeature[]> {
  const out: ChoiceFeature[] = [];
  for (let s0 = 0; s0 < examples.length; s0 += 1024) {
    const part = examples.slice(s0, s0 + 1024);
    const enc = await tokenizer.encodePairBatch(part.flatMap((e) => e.choices.map((c) => [e.context, c] as const)), maxSeqLength);
    let k = 0;
    part.forEach((e, j) => {
      const rows = e.choices.map(() => {
        const x = enc[k++];
        return { ids: x.inputIds.slice(0, x.length), types: x.tokenTypeIds.slice(0, x.length) };
      });
      out.push({ example: s0 + j, rows, label: e.label ?? -100 });
    });
  }
  return out;
}

export class MultipleChoiceTask implements Task<ChoiceExample, ChoiceFeature, number> {
  readonly displayName: string;
  readonly architecture = "ElectraForMultipleChoice";
  readonly mainMetric = "accuracy";
  readonly predictionExtension = ".tsv";
  private readonly format: "copa" | "openbookqa" | "swag" | "jsonl";
  private train: Split<ChoiceExample> | null = null;
  private dev: Split<ChoiceExample> | null = null;

  constructor(readonly name: string, private readonly data: DataOptions) {
    this.format = FORMATS[name];
    this.displayName = { copa: "COPA", openbookqa: "OpenBookQA", swag: "SWAG", jsonl: "multiple choice" }[this.format];
    if (data.dataDir) throw new Error(`${name} reads files: give --train-file and --validation-file (or --validation-split), not --data-dir`);
  }

  private read(file: string): ChoiceExample[] {
    return readChoices(file, this.format);
  }

  private load(): void {
    if (this.train) return;
    if (!this.data.trainFile) throw new Error(`${this.name} needs --train-file FILE`);
    const s = trainAndValidation(this.data.trainFile, this.read(this.data.trainFile), this.data.validationFile, (f) => this.read(f), this.data, "no validation data");
    const n = s.train.examples[0].choices.length;
    for (const sp of [s.train, s.dev]) {
      // a file is labelled throughout or not at all (readChoices), so its first example tells
      const first = sp.examples[0];
      if (first && first.label === undefined) throw new Error(`${sp.name}:${first.line}: no label: a ${sp === s.train ? "training" : "validation"} file must be labelled`);
      const bad = sp.examples.find((e) => e.choices.length !== n);
      if (bad) throw new Error(`${sp.name}:${bad.line}: ${bad.choices.length} choices where the training file has ${n}`);
    }
    this.train = s.train;
    this.dev = s.dev;
  }

  trainSplit(): Split<ChoiceExample> {
    this.load();
    return this.train!;
  }

  devSplits(): Split<ChoiceExample>[] {
    this.load();
    return [this.dev!];
  }

  split(name: string): Split<ChoiceExample> {
    const file = namedSplitFile(name, this.data);
    const examples = this.read(file).slice(0, this.data.maxEvalExamples);
    return { name: file, suffix: "", examples, labelled: examples.every((e) => e.label !== undefined) };
  }

  modelConfig(base: ElectraConfig): ElectraConfig {
    return { ...base, num_labels: 1, id2label: undefined, label2id: undefined, architectures: ["ElectraForMultipleChoice"] };
  }

  useModel(): string | undefined {
    return undefined;
  }

  defaults(cfg: ElectraConfig): TaskDefaults {
    return { ...officialLrAndDecay(cfg), epochs: 3, maxSeqLength: FINETUNE_MAX_SEQ_LENGTH };
  }

  featurize(tokenizer: WordPieceTokenizer, examples: readonly ChoiceExample[], maxSeqLength: number): Promise<ChoiceFeature[]> {
    return featurizeChoices(tokenizer, examples, maxSeqLength);
  }

  outputLayout() {
    return { perPosition: false, width: 1 };
  }

  loss(ctx: RunContext, logits: Float32Array, features: readonly ChoiceFeature[], batch: Batch): LossResult {
    const n = features[0].rows.length;
    if (batch.B !== features.length * n) throw new Error(`multiple choice: ${batch.B} rows for ${features.length} examples of ${n} choices`);
    return choiceLoss(ctx, logits, Int32Array.from(features, (f) => f.label), n);
  }

  /** The index of the highest-scoring choice of each example. */
  decode(outputs: readonly Float32Array[]): number[] {
    return outputs.map((o) => {
      let best = 0;
      for (let k = 1; k < o.length; k++) if (o[k] > o[best]) best = k;
      return best;
    });
  }

  score(examples: readonly ChoiceExample[], predictions: readonly number[]): Scores {
    const un = examples.find((e) => e.label === undefined);
    if (un) throw new Error(`line ${un.line} (${un.id}) has no label: nothing to score against`);
    const a = accuracy(predictions.map(String), examples.map((e) => String(e.label)));
    return { metrics: { accuracy: a }, main: a };
  }

  predictionFileName(split: string): string {
    return splitPredictionFileName(split, this.predictionExtension);
  }

  writePredictions(out: string, split: Split<ChoiceExample>, predictions: readonly number[]): string {
    const file = predictionsPath(out, this.predictionFileName(split.name));
    writePredictions(file, predictionRows(split.examples.map((e, i) => ({ guid: e.id, index: i, textA: e.context })), [...predictions]), { decimals: 0 });
    return file;
  }

  describe(): Record<string, unknown> {
    return { format: this.format, train_file: this.data.trainFile, validation_file: this.data.validationFile, choices: this.train?.examples[0]?.choices.length };
  }
}
