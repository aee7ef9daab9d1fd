/**
 * The token-classification family (ElectraForTokenClassification): `--task ner`, `--task chunking`, or
 * `--task token-classification` for any tag set. Data: CoNLL column files (src/data/conll.ts: 2 to 4+ columns,
 * `-DOCSTART-` lines, IOB1 / IOB2 / IOBES tags, `--tag-column`) or JSONL `{"tokens": [...], "tags": [...]}`, from
 * `--data-dir` (train.txt / valid.txt / test.txt, or eng.train / eng.testa / eng.testb) or `--train-file`,
 * `--validation-file` (or `--validation-split`), `--test-file`.
 *
 * Features (as transformers' run_ner and the official tagging code): each word is tokenized on its own; its label
 * sits on its first sub-token, -100 (no loss) on the others and on [CLS]/[SEP]; a word with no sub-token (a
 * control character) becomes [UNK], so every word gets a prediction. A sentence longer than the window
 * (max_seq_length - 2 sub-tokens) is cut into several windows at word boundaries; a single word longer than a
 * window is split across windows (its first sub-token, which carries its label, in the first). Nothing is
 * dropped. Each word's prediction is the argmax at its first sub-token.
 *
 * Scores: conlleval's (src/metrics/conll.ts), counted over the file predict writes (DOCSTART lines included, as
 * conlleval counts them), so the dev metrics equal `electra score` on `electra predict`'s output: entity
 * precision / recall / F1 overall and per type, and token accuracy. The label set is the training file's.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { labelSet, readTagged, tagScheme, writeConllPredictions, type TaggedFile, type TaggedSentence } from "../data/conll.js";
import type { WordPieceTokenizer } from "../data/tokenizer.js";
import { ConllEvaluator, scoreConllText, type ConllScore } from "../metrics/conll.js";
import type { ElectraConfig } from "../model/config.js";
import type { Batch, RunContext } from "../model/encoder.js";
import { crossEntropyLoss, type LossResult } from "../model/losses.js";
import { FINETUNE_MAX_SEQ_LENGTH, officialLrAndDecay } from "./hyperparameters.js";
import { capSplit, predictionsPath, splitPredictionFileName, trainAndValidation, type DataOptions, type Feature, type Scores, type Split, type Task, type TaskDefaults } from "./task.js";
import { writeFileDurable } from "../io/durable.js";

export interface TokenFeature extends Feature {
  /** row position of each labelled word's first sub-token, and that word's index in the sentence */
  firstPos: Int32Array;
  words: Int32Array;
  /** [row length] label ids, -100 where no loss is taken */
  labels: Int32Array;
}

/** The predicted tag of every word of a sentence. */
export type TagPrediction = string[];

/** Standard file names of a folder, per split (CoNLL-2003 as most tools lay it out, the original release, generic). */
const LAYOUT: Record<string, string[]> = {
  train: ["train.txt", "eng.train", "train.conll", "train.jsonl"],
  dev: ["valid.txt", "dev.txt", "eng.testa", "validation.txt", "dev.conll", "valid.jsonl", "dev.jsonl", "validation.jsonl"],
  test: ["test.txt", "eng.testb", "test.conll", "test.jsonl"],
};

export class TokenClassificationTask implements Task<TaggedSentence, TokenFeature, TagPrediction> {
  readonly displayName: string;
  readonly architecture = "ElectraForTokenClassification";
  readonly predictionExtension = ".txt";
  readonly mainMetric = "f1";
  private labels: string[] | null = null;
  private train: (Split<TaggedSentence> & { file: TaggedFile }) | null = null;
  private dev: Split<TaggedSentence> | null = null;

  constructor(readonly name: string, private readonly data: DataOptions) {
    this.displayName = name === "ner" ? "NER" : name;
    if (data.dataDir && data.trainFile) throw new Error("give --data-dir or --train-file, not both");
  }

  /** The file of a split: named by option, else the folder's standard name. */
  private fileOf(split: "train" | "dev" | "test"): string | undefined {
    const named = split === "train" ? this.data.trainFile : split === "dev" ? this.data.validationFile : this.data.testFile;
    if (named) return named;
    if (!this.data.dataDir) return undefined;
    for (const n of LAYOUT[split]) if (existsSync(join(this.data.dataDir, n))) return join(this.data.dataDir, n);
    return undefined;
  }

  private readFile(file: string): TaggedFile {
    return readTagged(file, { tagColumn: this.data.tagColumn });
  }

  private load(): void {
    if (this.train) return;
    const trainFile = this.fileOf("train");
    if (!trainFile) {
      throw new Error(this.data.dataDir ? `${this.data.dataDir} has no training file (${LAYOUT.train.join(", ")}): give --train-file` : `${this.name} needs --data-dir DIR or --train-file FILE`);
    }
    const f = this.readFile(trainFile);
    const s = trainAndValidation(trainFile, f.sentences, this.fileOf("dev"), (d) => this.readFile(d).sentences, this.data,
      `no validation file${this.data.dataDir ? ` in ${this.data.dataDir} (${LAYOUT.dev.join(", ")})` : ""}`);
    this.labels = labelSet([f]);
    if (this.labels.length < 2) throw new Error(`${trainFile}: the tag column holds ${this.labels.length} distinct tag(s); a tagger needs at least 2`);
    this.train = { ...s.train, file: f };
    this.dev = s.dev;
  }

  private labelList(): string[] {
    if (!this.labels) this.load();
    return this.labels!;
  }

  trainSplit(): Split<TaggedSentence> {
    this.load();
    return this.train!;
  }

  devSplits(): Split<TaggedSentence>[] {
    this.load();
    return [this.dev!];
  }

  split(name: string): Split<TaggedSentence> {
    const file = name === "train" || name === "dev" || name === "test" ? this.fileOf(name) : name;
    if (!file) throw new Error(`no ${name} file${this.data.dataDir ? ` in ${this.data.dataDir}` : ""}: give --${name === "test" ? "test" : "validation"}-file FILE`);
    const f = this.readFile(file);
    return capSplit({ name: file, suffix: "", examples: f.sentences, labelled: true }, this.data.maxEvalExamples);
  }

  modelConfig(base: ElectraConfig): ElectraConfig {
    const labels = this.labelList();
    return {
      ...base, num_labels: labels.length, id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
      label2id: Object.fromEntries(labels.map((l, i) => [l, i])), architectures: ["ElectraForTokenClassification"],
    };
  }

  useModel(cfg: ElectraConfig, dir: string): string | undefined {
    const names = Array.from({ length: cfg.num_labels }, (_, i) => cfg.id2label?.[String(i)]);
    if (names.some((n) => n === undefined)) throw new Error(`${dir}: config.json's id2label does not name all ${cfg.num_labels} tags`);
    this.labels = names as string[];
    return undefined;
  }

  defaults(cfg: ElectraConfig): TaskDefaults {
    return { ...officialLrAndDecay(cfg), epochs: 3, maxSeqLength: FINETUNE_MAX_SEQ_LENGTH };
  }

  async featurize(tokenizer: WordPieceTokenizer, examples: readonly TaggedSentence[], maxSeqLength: number): Promise<TokenFeature[]> {
    if (!Number.isInteger(maxSeqLength) || maxSeqLength < 3) throw new Error(`max_seq_length must be an integer of at least 3, got ${maxSeqLength}`);
    const labels = this.labelList();
    const labelId = new Map(labels.map((l, i) => [l, i]));
    const budget = maxSeqLength - 2;
    const out: TokenFeature[] = [];
    const CHUNK = 2048; // sentences per tokenizer call
    for (let s0 = 0; s0 < examples.length; s0 += CHUNK) {
      const part = examples.slice(s0, s0 + CHUNK);
      const pieces = await tokenizer.encodeBatch(part.flatMap((e) => e.words));
      let k = 0;
      part.forEach((e, j) => {
        const ex = s0 + j;
        let ids: number[] = [], firstPos: number[] = [], words: number[] = [], labs: number[] = [];
        const flush = () => {
          if (ids.length === 0) return;
          const n = ids.length + 2;
          const row = new Int32Array(n), lab = new Int32Array(n).fill(-100);
          row[0] = tokenizer.clsId;
          row.set(ids, 1);
          row[n - 1] = tokenizer.sepId;
          firstPos.forEach((p, i) => (lab[p] = labs[i]));
          out.push({ example: ex, rows: [{ ids: row, types: new Int32Array(n) }], firstPos: Int32Array.from(firstPos), words: Int32Array.from(words), labels: lab });
          ids = [];
          firstPos = [];
          words = [];
          labs = [];
        };
        e.words.forEach((_, w) => {
          let p: ArrayLike<number> = pieces[k++];
          if (p.length === 0) p = [tokenizer.unkId];
          // a word that does not fit starts a new window; one longer than a window starts one too when this is full
          if (ids.length > 0 && (ids.length === budget || (ids.length + p.length > budget && p.length <= budget))) flush();
          firstPos.push(ids.length + 1);
          words.push(w);
          labs.push(labelId.get(e.tags[w]) ?? -100);
          for (let i = 0; i < p.length; i++) {
            if (ids.length === budget) flush(); // a word longer than the window continues in the next one
            ids.push(p[i]);
          }
        });
        flush();
      });
    }
    return out;
  }

  outputLayout(cfg: ElectraConfig) {
    return { perPosition: true, width: cfg.num_labels };
  }

  loss(ctx: RunContext, logits: Float32Array, features: readonly TokenFeature[], batch: Batch): LossResult {
    const { B, T } = batch;
    const labels = new Int32Array(B * T).fill(-100);
    features.forEach((f, b) => labels.set(f.labels, b * T));
    return crossEntropyLoss(ctx, logits, labels, B * T, this.labelList().length);
  }

  decode(outputs: readonly Float32Array[], features: readonly TokenFeature[], examples: readonly TaggedSentence[]): TagPrediction[] {
    const labels = this.labelList(), L = labels.length;
    const preds: TagPrediction[] = examples.map((e) => new Array<string>(e.words.length).fill(""));
    features.forEach((f, i) => {
      const o = outputs[i];
      for (let j = 0; j < f.firstPos.length; j++) {
        const base = f.firstPos[j] * L;
        let best = 0;
        for (let c = 1; c < L; c++) if (o[base + c] > o[base + best]) best = c;
        preds[f.example][f.words[j]] = labels[best];
      }
    });
    preds.forEach((p, e) => {
      const w = p.indexOf("");
      if (w >= 0) throw new Error(`internal: word ${w} of sentence ${e} got no prediction`);
    });
    return preds;
  }

  /** conlleval over the file writePredictions writes: DOCSTART lines count as (always right) O tokens. */
  conll(examples: readonly TaggedSentence[], predictions: readonly TagPrediction[]): ConllScore {
    const ev = new ConllEvaluator();
    examples.forEach((e, i) => {
      for (const _ of e.docstartBefore ?? []) {
        ev.addToken("O", "O");
        ev.addBoundary();
      }
      ev.addSentence(e.tags, predictions[i]);
    });
    return ev.score();
  }

  score(examples: readonly TaggedSentence[], predictions: readonly TagPrediction[]): Scores {
    return conllMetrics(this.conll(examples, predictions));
  }

  predictionFileName(split: string): string {
    return splitPredictionFileName(split, this.predictionExtension);
  }

  writePredictions(out: string, split: Split<TaggedSentence>, predictions: readonly TagPrediction[]): string {
    const file = predictionsPath(out, this.predictionFileName(split.name));
    mkdirSync(dirname(file), { recursive: true });
    writeFileDurable(file, writeConllPredictions(split.examples, predictions));
    return file;
  }

  /** conlleval's metrics of a `word ... gold predicted` file (any tagger's output), as fractions. */
  scoreFile(predictionsFile: string): Record<string, unknown> {
    const s = scoreConllText(readFileSync(predictionsFile, "utf8"), predictionsFile);
    const { metrics } = conllMetrics(s);
    return {
      precision: metrics.precision, recall: metrics.recall, f1: metrics.f1, accuracy: metrics.accuracy, tokens: s.tokens, phrases: s.phrases,
      found: s.found, correct: s.correct, per_type: s.per_type,
    };
  }

  describe(): Record<string, unknown> {
    this.load();
    return {
      train_file: this.train!.name, validation: this.dev!.name, labels: this.labels, tag_scheme: tagScheme(this.train!.file.sentences.map((s) => s.tags)),
      max_train_examples: this.data.maxTrainExamples, max_eval_examples: this.data.maxEvalExamples,
    };
  }
}

/** A conlleval score as flat metrics: precision, recall, f1, accuracy, and `TYPE_precision` / `_recall` / `_f1`. */
export function conllMetrics(s: ConllScore): Scores {
  const metrics: Record<string, number> = { precision: s.precision, recall: s.recall, f1: s.f1, accuracy: s.accuracy };
  for (const [t, v] of Object.entries(s.per_type)) {
    metrics[`${t}_precision`] = v.precision;
    metrics[`${t}_recall`] = v.recall;
    metrics[`${t}_f1`] = v.f1;
  }
  return { metrics, main: s.f1 };
}
