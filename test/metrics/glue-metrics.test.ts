// Expected values below were computed independently in Python with exact rational arithmetic
// (fractions.Fraction) and 60-digit decimal square roots, from the textbook formulas: binary MCC
// from TP/TN/FP/FN, multiclass MCC from the confusion matrix (Gorodkin's R_K, what scikit-learn's
// matthews_corrcoef computes), F1 = 2PR/(P+R) with zero_division=0, Pearson from centred sums,
// Spearman as Pearson of average ranks (rank = #smaller + (#equal + 1)/2, as scipy's rankdata).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  accuracy,
  averageRanks,
  binaryF1,
  binaryPrecision,
  binaryRecall,
  matthewsCorrelation,
  pearson,
  scoreMnli,
  scoreTask,
  spearman,
} from "../../src/metrics/glue-metrics.js";

const TOL = 1e-12;
function close(actual: number, expected: number, msg?: string): void {
  assert.ok(Number.isFinite(actual), `${msg ?? ""} got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= TOL, `${msg ?? ""} expected ${expected}, got ${actual}`);
}

// Binary vectors (label, prediction).
const Y1 = [1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0];
const P1 = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0];
const Y2 = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];
const P2 = [0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0];
const str = (xs: number[]) => xs.map(String);

test("matthewsCorrelation: mixed, imbalanced, perfect, inverted", () => {
  close(matthewsCorrelation(P1, Y1), 0.3142857142857143);
  close(matthewsCorrelation(str(P1), str(Y1)), 0.3142857142857143, "string labels");
  close(matthewsCorrelation(P2, Y2), 0.4666666666666667);
  close(matthewsCorrelation(Y1, Y1), 1.0);
  close(matthewsCorrelation(Y1.map((v) => 1 - v), Y1), -1.0);
});

test("matthewsCorrelation: one-class labels or predictions give 0, never NaN", () => {
  assert.equal(matthewsCorrelation(Array(12).fill(1), Y1), 0);
  assert.equal(matthewsCorrelation(Array(12).fill("0"), str(Y1)), 0);
  assert.equal(matthewsCorrelation(P1, Array(12).fill(0)), 0);
  assert.equal(matthewsCorrelation([1, 1, 1], [1, 1, 1]), 0); // all one class everywhere
  assert.equal(matthewsCorrelation([0], [1]), 0);
});

test("matthewsCorrelation: three classes (R3, as GLUE scores AX)", () => {
  const y = ["e", "n", "c", "c", "e", "n", "n", "c", "e", "e", "n", "c", "c", "e", "n"];
  const p = ["e", "c", "c", "n", "e", "n", "e", "c", "e", "n", "n", "c", "e", "e", "c"];
  close(matthewsCorrelation(p, y), 0.4026936331284146);
  close(accuracy(p, y), 0.6);
  close(matthewsCorrelation(y, y), 1.0);
});

test("accuracy and binary F1 (positive label 1)", () => {
  close(accuracy(P1, Y1), 0.6666666666666666);
  close(accuracy(P2, Y2), 0.8);
  close(accuracy(["1", "0"], [1, 0]), 1.0); // labels compared as strings
  close(binaryF1(P1, Y1), 0.7142857142857143);
  close(binaryF1(str(P1), str(Y1)), 0.7142857142857143);
  close(binaryF1(P2, Y2), 0.6);
  close(binaryPrecision(P2, Y2), 0.6);
  close(binaryRecall(P2, Y2), 0.6);
  close(binaryF1(Array(12).fill(1), Y1), 0.7368421052631579); // all predicted positive
  close(binaryF1(Y1, Y1), 1.0);
  close(binaryF1(Y1.map((v) => 1 - v), Y1), 0.0);
  // Undefined F1 (no positive label, no positive prediction) is 0, as zero_division=0.
  assert.equal(binaryF1([0, 0, 0], [0, 0, 0]), 0);
  assert.equal(binaryF1(P1, Array(12).fill(0)), 0);
  assert.equal(binaryPrecision([0, 0], [1, 1]), 0);
  assert.equal(binaryRecall([1, 1], [0, 0]), 0);
  // Another positive label.
  close(binaryF1(Y1.map((v) => 1 - v), Y1, 0), 0.0);
  close(binaryF1(P1.map((v) => 1 - v), Y1.map((v) => 1 - v), 0), 0.7142857142857143);
});

test("pearson and spearman: mixed values", () => {
  const x = [0.5, 1.25, 2.0, 3.75, 4.0, 2.5, 0.0, 5.0, 3.2, 1.1];
  const y = [0.2, 1.75, 1.5, 4.0, 3.6, 2.5, 0.8, 4.4, 3.2, 2.9];
  close(pearson(x, y), 0.8967948900450715);
  close(spearman(x, y), 0.8909090909090909);
  close(pearson(y, x), 0.8967948900450715, "symmetric");
});

test("spearman: ties get average ranks", () => {
  assert.deepEqual(
    Array.from(averageRanks([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0])),
    [4.5, 1.5, 6.0, 1.5, 8.0, 11.0, 3.0, 10.0, 8.0, 4.5, 8.0],
  );
  const x = [1, 2, 2, 3, 4, 4, 4, 5];
  const y = [2, 1, 3, 3, 5, 4, 6, 6];
  close(pearson(x, y), 0.8767227853705734);
  close(spearman(x, y), 0.9007775105401477);
});

test("pearson and spearman: perfect, monotone, inverted", () => {
  const x = [1, 2, 3, 4, 5, 6];
  const sq = [1, 4, 9, 16, 25, 36];
  close(pearson(x, sq), 0.9789172636778181);
  close(spearman(x, sq), 1.0);
  close(spearman(x, sq.map((v) => -v)), -1.0);
  close(pearson(x, x.map((v) => 3 * v - 7)), 1.0);
  close(pearson(x, x.map((v) => -0.5 * v + 2)), -1.0);
});

test("pearson and spearman: constant input gives 0 (scipy: NaN), never NaN or a throw", () => {
  assert.equal(pearson([2, 2, 2, 2], [1, 2, 3, 4]), 0);
  assert.equal(spearman([1, 2, 3, 4], [0.1, 0.1, 0.1, 0.1]), 0);
  assert.equal(pearson([0.1, 0.1, 0.1], [0.1, 0.1, 0.1]), 0); // mean 0.1 is not exact in binary
  assert.equal(pearson([1], [2]), 0);
});

test("metrics reject mismatched lengths and empty input", () => {
  assert.throws(() => accuracy([1, 0], [1]), /2 predictions for 1 labels/);
  assert.throws(() => matthewsCorrelation([], []), /no examples/);
  assert.throws(() => pearson([1, 2], [1, 2, 3]), /predictions for/);
  assert.throws(() => spearman([1, NaN], [1, 2]), /not a finite number/);
});

test("scoreTask: CoLA mcc, SST-2 accuracy, MRPC/QQP f1+accuracy+combined", () => {
  const cola = scoreTask("cola", str(P1), str(Y1));
  assert.deepEqual(Object.keys(cola.metrics), ["mcc"]);
  close(cola.metrics.mcc, 0.3142857142857143);
  assert.equal(cola.mainMetric, "mcc");
  close(cola.main, 0.3142857142857143);
  const sst = scoreTask("SST-2", P1, Y1); // class ids are accepted too
  assert.deepEqual(sst.metrics, { accuracy: sst.main });
  close(sst.main, 0.6666666666666666);
  for (const name of ["mrpc", "qqp"]) {
    const s = scoreTask(name, str(P1), str(Y1));
    assert.deepEqual(Object.keys(s.metrics), ["f1", "accuracy", "combined"]);
    close(s.metrics.f1, 0.7142857142857143);
    close(s.metrics.accuracy, 0.6666666666666666);
    close(s.metrics.combined, 0.6904761904761905);
    assert.equal(s.mainMetric, "combined");
    close(s.main, 0.6904761904761905);
  }
  // Degenerate: everything predicted negative.
  const zero = scoreTask("mrpc", Array(12).fill("0"), str(Y1));
  assert.equal(zero.metrics.f1, 0);
  close(zero.metrics.accuracy, 5 / 12);
  assert.equal(scoreTask("cola", Array(12).fill("1"), str(Y1)).main, 0);
});

test("scoreTask: STS-B pearson, spearman and their mean", () => {
  const labels = [5.0, 4.75, 3.8, 0.0, 2.5, 3.8, 1.0, 0.0, 4.2, 3.8];
  const preds = [4.6, 4.9, 3.1, 0.4, 2.2, 3.5, 1.9, 0.1, 4.0, 2.7];
  const s = scoreTask("sts-b", preds, labels);
  assert.deepEqual(Object.keys(s.metrics), ["pearson", "spearman", "combined"]);
  close(s.metrics.pearson, 0.9605089386801738);
  close(s.metrics.spearman, 0.9724227787367286);
  close(s.metrics.combined, 0.9664658587084511);
  close(s.main, 0.9664658587084511);
  const fromStrings = scoreTask("stsb", preds.map(String), labels.map(String));
  close(fromStrings.main, s.main);
  const constant = scoreTask("stsb", Array(10).fill(2.5), labels);
  assert.deepEqual(constant.metrics, { pearson: 0, spearman: 0, combined: 0 });
  assert.throws(() => scoreTask("stsb", ["x", ...preds.slice(1).map(String)], labels), /not a finite number/);
});

test("scoreTask: NLI tasks, label names or class ids; unknown labels throw", () => {
  const y = ["entailment", "neutral", "contradiction", "contradiction", "entailment"];
  const p = ["entailment", "contradiction", "contradiction", "neutral", "entailment"];
  const m = scoreTask("mnli", p, y);
  assert.deepEqual(m.metrics, { accuracy: 0.6 });
  assert.equal(m.main, 0.6);
  // class ids in GLUE order: contradiction 0, entailment 1, neutral 2
  assert.equal(scoreTask("mnli", [1, 0, 0, 2, 1], y).main, 0.6);
  const ax = scoreTask("ax", ["e", "c", "c", "n", "e", "n", "e", "c", "e", "n", "n", "c", "e", "e", "c"].map(full),
    ["e", "n", "c", "c", "e", "n", "n", "c", "e", "e", "n", "c", "c", "e", "n"].map(full));
  close(ax.metrics.mcc, 0.4026936331284146);
  assert.equal(scoreTask("rte", ["entailment", "not_entailment"], [1, 1]).main, 0.5);
  assert.equal(scoreTask("qnli", [0, 0], ["entailment", "entailment"]).main, 1);
  assert.equal(scoreTask("wnli", ["0", "1", "1"], ["0", "0", "1"]).metrics.accuracy, 2 / 3);
  assert.throws(() => scoreTask("rte", ["neutral"], ["entailment"]), /"neutral" is not a label/);
  assert.throws(() => scoreTask("mnli", [3], ["neutral"]), /not a class id/);
  assert.throws(() => scoreTask("cola", ["1"], ["1", "0"]), /1 predictions for 2 labels/);
  assert.throws(() => scoreTask("squad", ["1"], ["1"]), /unknown GLUE task/);
});

function full(s: string): string {
  return s === "e" ? "entailment" : s === "n" ? "neutral" : "contradiction";
}

test("scoreMnli: matched and mismatched accuracy", () => {
  const s = scoreMnli(
    { preds: ["entailment", "neutral", "neutral", "contradiction"], labels: ["entailment", "neutral", "contradiction", "contradiction"] },
    { preds: [0, 1], labels: ["contradiction", "neutral"] },
  );
  assert.deepEqual(s, { accuracy_m: 0.75, accuracy_mm: 0.5, main: 0.75 });
  assert.deepEqual(scoreMnli({ preds: [2], labels: ["neutral"] }), { accuracy_m: 1, main: 1 });
});
