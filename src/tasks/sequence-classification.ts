/**
 * The sequence-classification family (ElectraForSequenceClassification): one text or a text pair in, a label or a
 * number out. GLUE (glue.ts) and the user's own CSV / TSV / JSONL files (text-classification.ts) are its data
 * sources; this module is what they share, as the official classification_tasks.py does it:
 *
 *  - features: `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, truncated to max_seq_length with the official
 *    _truncate_seq_pair (pop from the longer side, from B on ties); token type 0 for the first part, 1 for
 *    B [SEP]; B counts only when it is non-empty (the official `if tokens_b:`);
 *  - head: transformers' two-layer ElectraClassificationHead by default ("hf"), or the official one
 *    (dropout -> dense(num_labels) on the first token; "official");
 *  - loss: softmax cross-entropy, or for a regression (num_labels 1) the squared error on target / scale
 *    (STS-B: score / 5, the official RegressionTask); the saved model has the scale folded into its last layer,
 *    so that it outputs the target itself, as Hugging Face regression models do.
 */
import type { WordPieceTokenizer } from "../data/tokenizer.js";
import type { ClassifierHead, ElectraConfig } from "../model/config.js";
import type { Batch, RunContext } from "../model/encoder.js";
import { crossEntropyLoss, mseLoss, type LossResult } from "../model/losses.js";
import type { ParamStore } from "../model/params.js";
import type { Feature, OutputLayout } from "./task.js";

/** What every sentence(-pair) example has. */
export interface SentenceExample {
  textA: string;
  textB?: string;
  /** a label name, or a number (regression); absent when unlabelled */
  label?: string | number;
}

export interface SentenceFeature extends Feature {
  /** class id (position in the label list), the raw target for regression, NaN when unlabelled */
  label: number;
}

export type SentencePrediction = string | number;

/** The labels of a sequence classifier: class names in model order, or a regression with its target scale. */
export interface SentenceLabels {
  /** class names in model order (empty for a regression) */
  labels: readonly string[];
  regression: boolean;
  /** regression targets are divided by this in training, outputs multiplied by it (STS-B: 5) */
  regressionScale: number;
}

/** Tokenizes examples into features (texts encoded in parallel batches by the tokenizers package). */
export async function featurizeSentences(tokenizer: WordPieceTokenizer, examples: readonly SentenceExample[], maxSeqLength: number,
  labelOf: (e: SentenceExample, i: number) => number): Promise<SentenceFeature[]> {
  if (!Number.isInteger(maxSeqLength) || maxSeqLength < 3) throw new Error(`max_seq_length must be an integer of at least 3, got ${maxSeqLength}`);
  const out: SentenceFeature[] = [];
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
    part.forEach((e, j) => {
      const ia = ids[k++];
      const ibRaw = e.textB ? ids[k++] : null;
      const ib = ibRaw && ibRaw.length > 0 ? ibRaw : null; // official: `if tokens_b:`
      const enc = tokenizer.assemblePair(ia, ib, maxSeqLength);
      out.push({
        example: s + j,
        rows: [{ ids: enc.inputIds.slice(0, enc.length), types: enc.tokenTypeIds.slice(0, enc.length) }],
        label: labelOf(e, s + j),
      });
    });
  }
  return out;
}

/** The class id of a label name (throws naming the example), the number for regression, NaN when absent. */
export function sentenceLabelId(l: SentenceLabels, label: string | number | undefined, where: string): number {
  if (label === undefined) return NaN;
  if (l.regression) {
    const v = Number(label);
    if (!Number.isFinite(v)) throw new Error(`${where}: label ${JSON.stringify(label)} is not a number`);
    return v;
  }
  const id = l.labels.indexOf(String(label));
  if (id < 0) throw new Error(`${where}: unknown label ${JSON.stringify(label)} (the labels: ${l.labels.join(", ")})`);
  return id;
}

/** The config of a sequence classifier built on `base`: labels, head kind, architecture. */
export function classifierConfig(base: ElectraConfig, l: SentenceLabels, head: ClassifierHead = "hf"): ElectraConfig {
  if (head !== "hf" && head !== "official") throw new Error(`--head must be hf or official, got ${String(head)}`);
  const labels = l.regression ? ["LABEL_0"] : [...l.labels];
  return {
    ...base,
    num_labels: labels.length,
    id2label: Object.fromEntries(labels.map((x, i) => [String(i), x])),
    label2id: Object.fromEntries(labels.map((x, i) => [x, i])),
    classifier_head: head,
    architectures: ["ElectraForSequenceClassification"],
  };
}

export function sentenceLayout(cfg: ElectraConfig): OutputLayout {
  return { perPosition: false, width: cfg.num_labels };
}

/** Cross-entropy over the classes, or the squared error on target / scale. */
export function sentenceLoss(ctx: RunContext, logits: Float32Array, features: readonly SentenceFeature[], batch: Batch, l: SentenceLabels): LossResult {
  const B = batch.B;
  if (l.regression) {
    const t = new Float32Array(B);
    for (let i = 0; i < B; i++) t[i] = features[i].label / l.regressionScale;
    return mseLoss(ctx, logits, t);
  }
  const labels = Int32Array.from(features, (f) => f.label);
  return crossEntropyLoss(ctx, logits, labels, B, l.labels.length);
}

/** Label names (argmax) or numbers (regression, rescaled), one per feature (= example). */
export function decodeSentences(outputs: readonly Float32Array[], l: SentenceLabels): SentencePrediction[] {
  return outputs.map((o) => {
    if (l.regression) return o[0] * l.regressionScale;
    let best = 0;
    for (let k = 1; k < o.length; k++) if (o[k] > o[best]) best = k;
    return l.labels[best];
  });
}

/** Folds a regression scale into the last layer (classifier.out_proj) so the saved model outputs the target. */
export function foldRegressionScale(store: ParamStore, scale: number): () => void {
  const w = store.get("classifier.out_proj.weight"), b = store.get("classifier.out_proj.bias");
  const keepW = w.slice(), keepB = b.slice();
  for (let i = 0; i < w.length; i++) w[i] *= scale;
  for (let i = 0; i < b.length; i++) b[i] *= scale;
  return () => {
    w.set(keepW);
    b.set(keepB);
  };
}

/**
 * The class names of a fine-tuned classifier for a label list: its id2label when that names exactly these labels
 * (in any order), else the list by position with a note. Throws when the number of outputs does not fit.
 */
export function classNamesOf(cfg: ElectraConfig, l: SentenceLabels, dir: string, taskName: string): { classNames: string[]; note?: string } {
  const want = l.regression ? 1 : l.labels.length;
  if (cfg.num_labels !== want) {
    throw new Error(`${dir} has ${cfg.num_labels} output${cfg.num_labels > 1 ? "s" : ""}; ${taskName} needs ${want}` +
      (l.regression ? " (a regression)" : ` (${l.labels.join(", ")})`));
  }
  if (l.regression) return { classNames: [] };
  const names = Array.from({ length: want }, (_, i) => cfg.id2label?.[String(i)]);
  if (names.every((n) => n !== undefined && l.labels.includes(n)) && new Set(names).size === want) return { classNames: names as string[] };
  return {
    classNames: [...l.labels],
    note: `${dir}: id2label ${JSON.stringify(cfg.id2label ?? {})} does not name ${taskName}'s labels; class i is taken as ${l.labels.map((x, i) => `${i} = ${x}`).join(", ")}`,
  };
}
