/**
 * The helpers the diagnostic programs in bench/ share (rtd-probe, order-probe, representations): their
 * numbers go into BENCHMARKS.md, so the ROC AUC and row arithmetic are checked on values worked out by hand.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rocAuc, rowCosine, rowNorm } from "./rows.js";

test("rocAuc: pairs ranked right over all pairs, ties counted half", () => {
  // (0.9 > 0.1), (0.9 > 0.85), (0.8 > 0.1), (0.8 < 0.85): 3 of 4 pairs
  assert.equal(rocAuc([0.9, 0.8], [0.1, 0.85]), 0.75);
  assert.equal(rocAuc([1, 2], [3, 4]), 0);
  assert.equal(rocAuc([3, 4], [1, 2]), 1);
  // one tie of the 4 pairs (0.5 vs 0.5) counts half; (0.5 > 0.2) and (0.7 > 0.2, 0.7 > 0.5) count fully
  assert.equal(rocAuc([0.5, 0.7], [0.5, 0.2]), 3.5 / 4);
  assert.equal(rocAuc([1, 1, 1], [1, 1]), 0.5);
});

test("rowNorm and rowCosine read row i of an [N, C] matrix", () => {
  const m = Float32Array.from([3, 4, 0, 0, 2, 0, -1, 0, 0]); // rows (3,4,0), (0,2,0), (-1,0,0)
  assert.equal(rowNorm(m, 0, 3), 5);
  assert.equal(rowNorm(m, 1, 3), 2);
  assert.ok(Math.abs(rowCosine(m, 0, 1, 3) - 0.8) < 1e-12);
  assert.ok(Math.abs(rowCosine(m, 0, 2, 3) + 0.6) < 1e-12);
});
