/**
 * GLUE metrics, with the conventions of scikit-learn and scipy (what google-research/electra's
 * `finetune/classification/classification_metrics.py` calls), as fractions in [0, 1] or [-1, 1]
 * (the official code multiplies by 100 for its logs; multiply yourself where you need that).
 *
 * Degenerate inputs never produce NaN and never throw:
 * - matthewsCorrelation is 0 when either the labels or the predictions hold a single class
 *   (scikit-learn's `matthews_corrcoef` does the same);
 * - binaryF1 is 0 when undefined (no positive label and no positive prediction), as
 *   scikit-learn's `f1_score(zero_division=0)`;
 * - pearson and spearman are 0 when either input is constant or has fewer than two values
 *   (scipy returns NaN there, with a warning; 0 keeps means and medians over seeds finite:
 *   a constant predictor carries no correlation).
 * Mismatched lengths and empty inputs throw: they are caller bugs, not degenerate data.
 */
import { getGlueTask, type GlueMetricName, type GlueTask, type GlueTaskName } from "../data/glue.js";

type Label = string | number;

function checkLengths(what: string, a: ArrayLike<unknown>, b: ArrayLike<unknown>): number {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} predictions for ${b.length} labels`);
  if (a.length === 0) throw new Error(`${what}: no examples`);
  return a.length;
}

/** Fraction of predictions equal to their label (compared as strings, so 1 equals "1"). */
export function accuracy(preds: ArrayLike<Label>, labels: ArrayLike<Label>): number {
  const n = checkLengths("accuracy", preds, labels);
  let correct = 0;
  for (let i = 0; i < n; i++) if (String(preds[i]) === String(labels[i])) correct++;
  return correct / n;
}

/**
 * Matthews correlation coefficient for any number of classes (the multiclass R_K statistic, as
 * scikit-learn's `matthews_corrcoef`; GLUE's R3 for AX). 0 when undefined.
 */
export function matthewsCorrelation(preds: ArrayLike<Label>, labels: ArrayLike<Label>): number {
  const n = checkLengths("matthewsCorrelation", preds, labels);
  const tSum = new Map<string, number>();
  const pSum = new Map<string, number>();
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const p = String(preds[i]);
    const t = String(labels[i]);
    tSum.set(t, (tSum.get(t) ?? 0) + 1);
    pSum.set(p, (pSum.get(p) ?? 0) + 1);
    if (p === t) correct++;
  }
  let tp = 0; // Σ_k t_k p_k
  for (const [k, t] of tSum) tp += t * (pSum.get(k) ?? 0);
  let pp = 0;
  for (const p of pSum.values()) pp += p * p;
  let tt = 0;
  for (const t of tSum.values()) tt += t * t;
  const covYtYp = correct * n - tp;
  const covYpYp = n * n - pp;
  const covYtYt = n * n - tt;
  if (covYpYp === 0 || covYtYt === 0) return 0;
  return covYtYp / Math.sqrt(covYtYt * covYpYp);
}

export interface BinaryCounts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

function binaryCounts(preds: ArrayLike<Label>, labels: ArrayLike<Label>, positive: string): BinaryCounts {
  const n = checkLengths("binaryF1", preds, labels);
  const c: BinaryCounts = { tp: 0, fp: 0, fn: 0, tn: 0 };
  for (let i = 0; i < n; i++) {
    const p = String(preds[i]) === positive;
    const t = String(labels[i]) === positive;
    if (p && t) c.tp++;
    else if (p) c.fp++;
    else if (t) c.fn++;
    else c.tn++;
  }
  return c;
}

/** Precision of the positive class; 0 when nothing is predicted positive. */
export function binaryPrecision(preds: ArrayLike<Label>, labels: ArrayLike<Label>, positive: Label = "1"): number {
  const { tp, fp } = binaryCounts(preds, labels, String(positive));
  return tp + fp === 0 ? 0 : tp / (tp + fp);
}

/** Recall of the positive class; 0 when no label is positive. */
export function binaryRecall(preds: ArrayLike<Label>, labels: ArrayLike<Label>, positive: Label = "1"): number {
  const { tp, fn } = binaryCounts(preds, labels, String(positive));
  return tp + fn === 0 ? 0 : tp / (tp + fn);
}

/**
 * F1 of the positive class (default "1"; labels compared as strings): 2·TP / (2·TP + FP + FN),
 * 0 when that is 0/0 (scikit-learn's `f1_score(average="binary", zero_division=0)`).
 */
export function binaryF1(preds: ArrayLike<Label>, labels: ArrayLike<Label>, positive: Label = "1"): number {
  const { tp, fp, fn } = binaryCounts(preds, labels, String(positive));
  const d = 2 * tp + fp + fn;
  return d === 0 ? 0 : (2 * tp) / d;
}

function toFloats(what: string, xs: ArrayLike<number>): Float64Array {
  const out = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const v = Number(xs[i]);
    if (!Number.isFinite(v)) throw new Error(`${what}: value ${String(xs[i])} at ${i} is not a finite number`);
    out[i] = v;
  }
  return out;
}

function isConstant(x: Float64Array): boolean {
  for (let i = 1; i < x.length; i++) if (x[i] !== x[0]) return false;
  return true;
}

function pearsonOf(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  if (n < 2 || isConstant(x) || isConstant(y)) return 0;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return 0;
  const r = sxy / (Math.sqrt(sxx) * Math.sqrt(syy));
  return Math.max(-1, Math.min(1, r));
}

/** Pearson's r (scipy.stats.pearsonr's statistic); 0 for constant input or fewer than 2 values. */
export function pearson(preds: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths("pearson", preds, labels);
  return pearsonOf(toFloats("pearson", preds), toFloats("pearson", labels));
}

/** 1-based ranks, ties sharing the average of their ranks (scipy.stats.rankdata(method="average")). */
export function averageRanks(xs: ArrayLike<number>): Float64Array {
  const n = xs.length;
  const v = toFloats("averageRanks", xs);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && v[order[j]] === v[order[i]]) j++;
    const avg = (i + 1 + j) / 2; // mean of ranks i+1 .. j
    for (let k = i; k < j; k++) ranks[order[k]] = avg;
    i = j;
  }
  return ranks;
}

/**
 * Spearman's ρ: Pearson's r of the average ranks (scipy.stats.spearmanr's statistic); 0 for
 * constant input or fewer than 2 values.
 */
export function spearman(preds: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths("spearman", preds, labels);
  return pearsonOf(averageRanks(preds), averageRanks(labels));
}

/** A task's scores: metric name → value, plus the task's single main number. */
export interface GlueScore {
  task: GlueTaskName;
  /** mcc / accuracy / f1 / pearson / spearman as the task reports them, and "combined" where defined. */
  metrics: Record<string, number>;
  /** The task's main metric's name (task.mainMetric) ... */
  mainMetric: GlueMetricName;
  /** ... and its value. */
  main: number;
}

function normalizeLabels(task: GlueTask, xs: ArrayLike<Label>, what: string): string[] {
  const out: string[] = new Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if (typeof x === "number") {
      if (!Number.isInteger(x) || x < 0 || x >= task.labels.length) {
        throw new Error(`scoreTask(${task.displayName}): ${what}[${i}] = ${x} is not a class id in [0, ${task.labels.length})`);
      }
      out[i] = task.labels[x];
    } else {
      if (!task.labels.includes(x)) {
        throw new Error(`scoreTask(${task.displayName}): ${what}[${i}] = "${x}" is not a label (${task.labels.join(", ")})`);
      }
      out[i] = x;
    }
  }
  return out;
}

function normalizeScores(task: GlueTask, xs: ArrayLike<Label>, what: string): Float64Array {
  const out = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const v = typeof x === "number" ? x : x.trim() === "" ? NaN : Number(x);
    if (!Number.isFinite(v)) {
      throw new Error(`scoreTask(${task.displayName}): ${what}[${i}] = ${JSON.stringify(x)} is not a finite number`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * Scores predictions against gold labels for a task.
 *
 * Classification tasks take label names ("entailment", "1", ...) or class ids (a number is an
 * index into task.labels); regression (STS-B) takes numbers (or numeric strings). Metrics:
 * CoLA mcc; SST-2, QNLI, RTE, WNLI, MNLI accuracy; MRPC, QQP f1 (positive label "1") and
 * accuracy; STS-B pearson and spearman; AX mcc (3-class). "combined" (MRPC, QQP, STS-B) is the
 * mean of the two, as the GLUE leaderboard reports a task with two metrics; it is their main
 * score. For MNLI, score each dev split separately or use {@link scoreMnli}.
 */
export function scoreTask(
  task: string | GlueTask,
  preds: ArrayLike<Label>,
  labels: ArrayLike<Label>,
): GlueScore {
  const t = getGlueTask(task);
  checkLengths(`scoreTask(${t.displayName})`, preds, labels);
  const metrics: Record<string, number> = {};
  if (t.isRegression) {
    const p = normalizeScores(t, preds, "preds");
    const y = normalizeScores(t, labels, "labels");
    metrics.pearson = pearsonOf(p, y);
    metrics.spearman = pearsonOf(averageRanks(p), averageRanks(y));
  } else {
    const p = normalizeLabels(t, preds, "preds");
    const y = normalizeLabels(t, labels, "labels");
    for (const m of t.metrics) {
      if (m === "mcc") metrics.mcc = matthewsCorrelation(p, y);
      else if (m === "accuracy") metrics.accuracy = accuracy(p, y);
      else if (m === "f1") metrics.f1 = binaryF1(p, y, "1");
    }
  }
  if (t.metrics.includes("combined")) {
    const parts = t.metrics.filter((m) => m !== "combined").map((m) => metrics[m]);
    metrics.combined = parts.reduce((a, b) => a + b, 0) / parts.length;
  }
  return { task: t.name, metrics, mainMetric: t.mainMetric, main: metrics[t.mainMetric] };
}

export interface MnliScore {
  /** Accuracy on dev_matched. */
  accuracy_m: number;
  /** Accuracy on dev_mismatched, where given. */
  accuracy_mm?: number;
  /** The main MNLI number: matched accuracy (as ELECTRA's tables report "MNLI"). */
  main: number;
}

/** MNLI matched (and, where given, mismatched) accuracy. */
export function scoreMnli(
  matched: { preds: ArrayLike<Label>; labels: ArrayLike<Label> },
  mismatched?: { preds: ArrayLike<Label>; labels: ArrayLike<Label> },
): MnliScore {
  const m = scoreTask("mnli", matched.preds, matched.labels).metrics.accuracy;
  const out: MnliScore = { accuracy_m: m, main: m };
  if (mismatched) out.accuracy_mm = scoreTask("mnli", mismatched.preds, mismatched.labels).metrics.accuracy;
  return out;
}
