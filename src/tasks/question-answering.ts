/**
 * Extractive question answering (ElectraForQuestionAnswering): `--task squad` (v1.1) and `--task squad_v2` (v2.0,
 * unanswerable questions), as google-research/electra's finetune/qa/qa_tasks.py and BERT's run_squad.py do it:
 *
 *  - features: `[CLS] question [SEP] context window [SEP]`, the question cut to --max-query-length (64) tokens;
 *    a context longer than the window (max_seq_length - question - 3 tokens) is covered by sliding windows that
 *    start every --doc-stride (128) tokens (the official meaning of doc_stride: the step between windows, not
 *    transformers' overlap); each window keeps its tokens' character offsets into the context;
 *  - targets: the first answer's first and last tokens when the window holds the whole answer, else [CLS]
 *    (position 0), as for unanswerable questions; loss (CE(start) + CE(end)) / 2 (transformers' head);
 *  - decoding: over every window of a question, the --n-best (20) highest start and end logits of context tokens;
 *    pairs with start <= end, at most --max-answer-length (30) tokens, and a start token whose window is the one
 *    where it has the most context (the official token_is_max_context) are scored start + end; the best is
 *    mapped back to the context by character offsets. v2.0: the null score is the smallest [CLS] start + end over
 *    the windows, and the answer is "" when null - best > --null-score-threshold (default 0), as run_squad;
 *  - scores: the official scripts' (src/metrics/squad.ts), exact match and F1 (v2.0: also HasAns_ / NoAns_);
 *  - predictions: predictions.json ({id: answer text}, "" for no answer) and nbest_predictions.json.
 *
 * Offsets are code-point indices (the tokenizers package's and SQuAD's `answer_start`).
 */
import { mkdirSync } from "node:fs";
import { basename, dirname } from "node:path";
import { codePoints, readSquad, squadDataset, type SquadExample } from "../data/squad.js";
import type { WordPieceTokenizer } from "../data/tokenizer.js";
import { evaluateV1, evaluateV2 } from "../metrics/squad.js";
import { scoreSquadFiles } from "../metrics/squad-files.js";
import type { ElectraConfig } from "../model/config.js";
import type { Batch, RunContext } from "../model/encoder.js";
import { spanLoss, type LossResult } from "../model/losses.js";
import { officialLrAndDecay } from "./hyperparameters.js";
import { predictionsPath, namedSplitFile, trainAndValidation, type DataOptions, type Feature, type Scores, type Split, type Task, type TaskDefaults } from "./task.js";
import { writeFileDurable } from "../io/durable.js";

export const QA_MAX_SEQ_LENGTH = 384;
export const QA_DOC_STRIDE = 128;
export const QA_MAX_QUERY_LENGTH = 64;
export const QA_N_BEST = 20;
export const QA_MAX_ANSWER_LENGTH = 30;

/** The QA flags of DataOptions (window step, question length, decoding), as featurizeSpans / decodeSpans take them. */
export type QaOptions = Pick<DataOptions, "docStride" | "maxQueryLength" | "nBest" | "maxAnswerLength" | "nullScoreThreshold">;

export interface SpanFeature extends Feature {
  /** row position of the window's first context token */
  ctxStart: number;
  /** the window's first and end context token (indices into the example's context tokens) */
  tokStart: number;
  tokEnd: number;
  /** targets (row positions; 0 = [CLS]) */
  startPosition: number;
  endPosition: number;
  /** [window tokens * 2] character offsets [start, end) of each context token of the window */
  offsets: Int32Array;
  /** per window token: whether this window is where the token has the most context */
  maxContext: Uint8Array;
}

export interface NBestEntry {
  text: string;
  probability: number;
  start_logit: number;
  end_logit: number;
  /** code-point offsets of the answer in the context (-1 for the null answer) */
  start: number;
  end: number;
}

export interface SpanPrediction {
  /** the answer ("" when the question is judged unanswerable) */
  text: string;
  /** code-point offsets into the context of the chosen answer (-1 for "") */
  start: number;
  end: number;
  /** start + end logit of the chosen answer, and of [CLS] (the null answer) */
  score: number;
  nullScore: number;
  nbest: NBestEntry[];
}

/** Window starts over n context tokens: every `stride` tokens until one reaches the end (run_squad's doc spans). */
export function windowStarts(n: number, maxDoc: number, stride: number): [number, number][] {
  const spans: [number, number][] = [];
  let start = 0;
  for (;;) {
    const length = Math.min(n - start, maxDoc);
    spans.push([start, start + length]);
    if (start + length >= n) break;
    start += Math.min(length, stride);
  }
  return spans;
}

/** Featurizes question / context pairs (shared by the task and `Electra.answer`). */
export async function featurizeSpans(tokenizer: WordPieceTokenizer, examples: readonly { question: string; context: string; answers?: { text: string; start: number }[]; isImpossible?: boolean }[],
  maxSeqLength: number, o: QaOptions = {}): Promise<SpanFeature[]> {
  const stride = o.docStride ?? QA_DOC_STRIDE, maxQuery = o.maxQueryLength ?? QA_MAX_QUERY_LENGTH;
  if (!Number.isInteger(stride) || stride < 1) throw new Error(`--doc-stride must be a positive integer, got ${stride}`);
  if (!Number.isInteger(maxQuery) || maxQuery < 1) throw new Error(`--max-query-length must be a positive integer, got ${maxQuery}`);
  const out: SpanFeature[] = [];
  const CHUNK = 512;
  for (let s0 = 0; s0 < examples.length; s0 += CHUNK) {
    const part = examples.slice(s0, s0 + CHUNK);
    const qs = await tokenizer.encodeBatch(part.map((e) => e.question));
    const cs = await tokenizer.encodeWithOffsets(part.map((e) => e.context));
    part.forEach((e, j) => {
      const q = qs[j].subarray(0, maxQuery);
      const c = cs[j];
      const maxDoc = maxSeqLength - q.length - 3;
      if (maxDoc < 1) throw new Error(`--max-seq-length ${maxSeqLength} leaves no room for the context after a ${q.length}-token question`);
      const spans = windowStarts(c.ids.length, maxDoc, stride);
      // the official token_is_max_context: a token's best window is where min(left, right) context is largest
      const best = new Int32Array(c.ids.length).fill(-1), bestScore = new Float64Array(c.ids.length).fill(-Infinity);
      spans.forEach(([a, b], w) => {
        for (let t = a; t < b; t++) {
          const score = Math.min(t - a, b - 1 - t) + 0.01 * (b - a);
          if (score > bestScore[t]) {
            bestScore[t] = score;
            best[t] = w;
          }
        }
      });
      // the answer's tokens (the first answer's: the training target)
      let aStart = -1, aEnd = -1;
      const ans = e.isImpossible ? undefined : e.answers?.[0];
      if (ans) {
        const cStart = ans.start, cEnd = ans.start + codePoints(ans.text).length;
        for (let t = 0; t < c.ids.length; t++) {
          if (aStart < 0 && c.offsets[t][1] > cStart) aStart = t;
          if (c.offsets[t][0] < cEnd) aEnd = t;
        }
        if (aStart > aEnd) aStart = aEnd = -1;
      }
      spans.forEach(([a, b], w) => {
        const n = q.length + (b - a) + 3;
        const ids = new Int32Array(n), types = new Int32Array(n);
        ids[0] = tokenizer.clsId;
        ids.set(q, 1);
        ids[q.length + 1] = tokenizer.sepId;
        const ctxStart = q.length + 2;
        ids.set(c.ids.subarray(a, b), ctxStart);
        ids[n - 1] = tokenizer.sepId;
        types.fill(1, ctxStart);
        const offsets = new Int32Array((b - a) * 2), maxContext = new Uint8Array(b - a);
        for (let t = a; t < b; t++) {
          offsets[(t - a) * 2] = c.offsets[t][0];
          offsets[(t - a) * 2 + 1] = c.offsets[t][1];
          maxContext[t - a] = best[t] === w ? 1 : 0;
        }
        const inside = aStart >= a && aEnd < b && aStart >= 0;
        out.push({
          example: s0 + j, rows: [{ ids, types }], ctxStart, tokStart: a, tokEnd: b,
          startPosition: inside ? ctxStart + aStart - a : 0, endPosition: inside ? ctxStart + aEnd - a : 0, offsets, maxContext,
        });
      });
    });
  }
  return out;
}

function topIndices(x: Float32Array, from: number, to: number, k: number): number[] {
  const idx: number[] = [];
  for (let i = from; i < to; i++) idx.push(i);
  idx.sort((a, b) => x[b] - x[a] || a - b);
  return idx.slice(0, k);
}

/** The answers of examples from their features' [row length * 2] logits (start at [p, 0], end at [p, 1]). */
export function decodeSpans(outputs: readonly Float32Array[], features: readonly SpanFeature[], contexts: readonly string[], withNull: boolean, o: QaOptions = {}): SpanPrediction[] {
  const nBest = o.nBest ?? QA_N_BEST, maxLen = o.maxAnswerLength ?? QA_MAX_ANSWER_LENGTH, threshold = o.nullScoreThreshold ?? 0;
  const byExample: number[][] = contexts.map(() => []);
  features.forEach((f, i) => byExample[f.example].push(i));
  return byExample.map((fis, e) => {
    const chars = codePoints(contexts[e]);
    const cands: { score: number; s: number; en: number; cs: number; ce: number }[] = [];
    let nullScore = Infinity, nullS = 0, nullE = 0;
    for (const fi of fis) {
      const f = features[fi], o2 = outputs[fi];
      const n = o2.length / 2;
      const start = new Float32Array(n), end = new Float32Array(n);
      for (let p = 0; p < n; p++) {
        start[p] = o2[2 * p];
        end[p] = o2[2 * p + 1];
      }
      if (start[0] + end[0] < nullScore) {
        nullScore = start[0] + end[0];
        nullS = start[0];
        nullE = end[0];
      }
      const ctxEnd = f.ctxStart + (f.tokEnd - f.tokStart);
      const starts = topIndices(start, f.ctxStart, ctxEnd, nBest), ends = topIndices(end, f.ctxStart, ctxEnd, nBest);
      for (const s of starts) {
        if (!f.maxContext[s - f.ctxStart]) continue;
        for (const en of ends) {
          if (en < s || en - s + 1 > maxLen) continue;
          cands.push({ score: start[s] + end[en], s: start[s], en: end[en], cs: f.offsets[(s - f.ctxStart) * 2], ce: f.offsets[(en - f.ctxStart) * 2 + 1] });
        }
      }
    }
    cands.sort((a, b) => b.score - a.score);
    // n-best distinct answer texts (run_squad keeps the first of equal texts)
    const nbest: NBestEntry[] = [];
    const seenText = new Set<string>();
    for (const c of cands) {
      if (nbest.length >= nBest) break;
      const text = chars.slice(c.cs, c.ce).join("");
      if (seenText.has(text)) continue;
      seenText.add(text);
      nbest.push({ text, probability: 0, start_logit: c.s, end_logit: c.en, start: c.cs, end: c.ce });
    }
    const best = nbest[0];
    if (withNull && !seenText.has("")) nbest.push({ text: "", probability: 0, start_logit: nullS, end_logit: nullE, start: -1, end: -1 });
    if (nbest.length === 0) nbest.push({ text: "", probability: 0, start_logit: 0, end_logit: 0, start: -1, end: -1 }); // no valid span at all
    nbest.sort((a, b) => b.start_logit + b.end_logit - (a.start_logit + a.end_logit));
    const mx = Math.max(...nbest.map((x) => x.start_logit + x.end_logit));
    const z = nbest.reduce((s, x) => s + Math.exp(x.start_logit + x.end_logit - mx), 0);
    for (const x of nbest) x.probability = Math.exp(x.start_logit + x.end_logit - mx) / z;
    const useNull = !best || (withNull && nullScore - (best.start_logit + best.end_logit) > threshold);
    return {
      text: useNull ? "" : best.text, start: useNull ? -1 : best.start, end: useNull ? -1 : best.end,
      score: best ? best.start_logit + best.end_logit : -Infinity, nullScore, nbest,
    };
  });
}

/** SQuAD v1.1 (`squad`) or v2.0 (`squad_v2`) on the task seam. */
export class SquadTask implements Task<SquadExample, SpanFeature, SpanPrediction> {
  readonly displayName: string;
  readonly architecture = "ElectraForQuestionAnswering";
  readonly mainMetric = "f1";
  readonly predictionExtension = ".json";
  readonly v2: boolean;
  private train: Split<SquadExample> | null = null;
  private dev: Split<SquadExample> | null = null;

  constructor(readonly name: string, private readonly data: DataOptions) {
    this.v2 = name === "squad_v2";
    this.displayName = this.v2 ? "SQuAD 2.0" : "SQuAD 1.1";
    if (data.dataDir) throw new Error(`${name} reads the official JSON files: give --train-file train-v1.1.json --validation-file dev-v1.1.json (or --validation-split), not --data-dir`);
  }

  private load(): void {
    if (this.train) return;
    if (!this.data.trainFile) throw new Error(`${this.name} needs --train-file FILE.json (the official SQuAD JSON)`);
    const read = (file: string) => readSquad(file, this.v2 ? "2.0" : "1.1");
    const s = trainAndValidation(this.data.trainFile, read(this.data.trainFile), this.data.validationFile, read, this.data, "no validation data");
    this.train = s.train;
    this.dev = s.dev;
  }

  trainSplit(): Split<SquadExample> {
    this.load();
    return this.train!;
  }

  devSplits(): Split<SquadExample>[] {
    this.load();
    return [this.dev!];
  }

  split(name: string): Split<SquadExample> {
    const file = namedSplitFile(name, this.data, "FILE.json");
    const examples = readSquad(file, this.v2 ? "2.0" : "1.1").slice(0, this.data.maxEvalExamples);
    return { name: file, suffix: "", examples, labelled: true };
  }

  modelConfig(base: ElectraConfig): ElectraConfig {
    return { ...base, num_labels: 2, id2label: undefined, label2id: undefined, architectures: ["ElectraForQuestionAnswering"] };
  }

  useModel(): string | undefined {
    return undefined;
  }

  /** configure_finetuning.py: 2 epochs for SQuAD, max_seq_length 384 (lr and layer decay per size). */
  defaults(cfg: ElectraConfig): TaskDefaults {
    return { ...officialLrAndDecay(cfg), epochs: 2, maxSeqLength: QA_MAX_SEQ_LENGTH };
  }

  featurize(tokenizer: WordPieceTokenizer, examples: readonly SquadExample[], maxSeqLength: number): Promise<SpanFeature[]> {
    return featurizeSpans(tokenizer, examples, maxSeqLength, this.data);
  }

  outputLayout() {
    return { perPosition: true, width: 2 };
  }

  loss(ctx: RunContext, logits: Float32Array, features: readonly SpanFeature[], batch: Batch): LossResult {
    return spanLoss(ctx, logits, Int32Array.from(features, (f) => f.startPosition), Int32Array.from(features, (f) => f.endPosition), batch.B, batch.T);
  }

  decode(outputs: readonly Float32Array[], features: readonly SpanFeature[], examples: readonly SquadExample[]): SpanPrediction[] {
    return decodeSpans(outputs, features, examples.map((e) => e.context), this.v2, this.data);
  }

  score(examples: readonly SquadExample[], predictions: readonly SpanPrediction[]): Scores {
    const preds: Record<string, string> = {};
    examples.forEach((e, i) => (preds[e.id] = predictions[i].text));
    if (this.v2) {
      const m = evaluateV2(squadDataset(examples, "v2.0"), preds);
      return { metrics: m, main: m.f1 };
    }
    const m = evaluateV1(squadDataset(examples, "1.1"), preds);
    return { metrics: { exact_match: m.exact_match, f1: m.f1 }, main: m.f1 };
  }

  predictionFileName(): string {
    return "predictions.json";
  }

  /** predictions.json ({id: text}) at `out` (a folder: out/predictions.json), and nbest_predictions.json beside it. */
  writePredictions(out: string, split: Split<SquadExample>, predictions: readonly SpanPrediction[]): string {
    const file = predictionsPath(out, this.predictionFileName());
    mkdirSync(dirname(file), { recursive: true });
    const preds: Record<string, string> = {}, nbest: Record<string, unknown[]> = {};
    split.examples.forEach((e, i) => {
      preds[e.id] = predictions[i].text;
      nbest[e.id] = predictions[i].nbest.map((x) => ({ text: x.text, probability: x.probability, start_logit: x.start_logit, end_logit: x.end_logit }));
    });
    writeFileDurable(file, JSON.stringify(preds, null, 2) + "\n");
    // predictions.json -> nbest_predictions.json (dev_predictions.json -> dev_nbest_predictions.json), else X.nbest.json
    const nb = basename(file).endsWith("predictions.json") ? file.replace(/predictions\.json$/, "nbest_predictions.json") : file.replace(/(\.json)?$/, ".nbest.json");
    writeFileDurable(nb, JSON.stringify(nbest, null, 2) + "\n");
    return file;
  }

  /** The official script's scores of a predictions.json against the SQuAD file it answers; `printed` is its output. */
  scoreFile(predictionsFile: string, dataFile?: string): Record<string, unknown> {
    if (!dataFile) throw new Error(`score --task ${this.name} needs --data FILE.json (the official SQuAD file the predictions answer)`);
    return scoreSquadFiles(dataFile, predictionsFile, this.v2);
  }

  describe(): Record<string, unknown> {
    return {
      version: this.v2 ? "2.0" : "1.1", doc_stride: this.data.docStride ?? QA_DOC_STRIDE, max_query_length: this.data.maxQueryLength ?? QA_MAX_QUERY_LENGTH,
      n_best: this.data.nBest ?? QA_N_BEST, max_answer_length: this.data.maxAnswerLength ?? QA_MAX_ANSWER_LENGTH,
      null_score_threshold: this.v2 ? this.data.nullScoreThreshold ?? 0 : undefined, train_file: this.data.trainFile, validation_file: this.data.validationFile,
    };
  }
}
