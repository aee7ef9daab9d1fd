import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/core/rng.js";
import {
  maskBatch,
  maxPredictionsPerSeq,
  numToPredict,
  roundHalfEven,
  toPredictionSlots,
  DEFAULT_MASK_PROB,
  MASK_TOKEN_PROB,
  MAX_PREDICTIONS_SLACK,
  type MaskableBatch,
} from "../../src/data/masking.js";

const IDS = { padId: 0, clsId: 101, sepId: 102, maskId: 103 };
const SPECIAL = new Set([0, 101, 102, 103]);

/** B rows of length T: [CLS] A [SEP] B [SEP] with random real lengths, padding 0; some existing [MASK]s. */
function synthBatch(B: number, T: number, seed: number): MaskableBatch & { lengths: number[] } {
  const r = new Rng(seed);
  const inputIds = new Int32Array(B * T);
  const attentionMask = new Int32Array(B * T);
  const lengths: number[] = [];
  for (let b = 0; b < B; b++) {
    const L = r.uniform() < 0.7 ? T : r.randint(3, T);
    lengths.push(L);
    const base = b * T;
    inputIds[base] = IDS.clsId;
    for (let t = 1; t < L - 1; t++) inputIds[base + t] = r.uniform() < 0.01 ? IDS.maskId : r.randint(1000, 30000);
    inputIds[base + L - 1] = IDS.sepId;
    if (L > 6) inputIds[base + (L >> 1)] = IDS.sepId;
    attentionMask.fill(1, base, base + L);
  }
  return { batchSize: B, seqLen: T, inputIds, attentionMask, lengths };
}

test("constants and counts match the official code (float32 product, tf.round half to even)", () => {
  assert.equal(DEFAULT_MASK_PROB, 0.15);
  assert.equal(MAX_PREDICTIONS_SLACK, 0.005);
  assert.equal(MASK_TOKEN_PROB, 0.85);
  assert.equal(maxPredictionsPerSeq(0.15, 128), 19);
  assert.equal(maxPredictionsPerSeq(0.15, 512), 79);
  assert.equal(maxPredictionsPerSeq(0.25, 512), 130);
  // np.round(np.float32(n) * np.float32(0.15)) for these n: 0 0 0 1 1 2 3 4 8 10 14 16 19.
  const table: [number, number][] = [
    [1, 1], // max(1, 0)
    [2, 1],
    [3, 1],
    [4, 1],
    [5, 1],
    [10, 2], // 1.5 → 2
    [23, 3],
    [30, 4], // 4.5 → 4 (half to even)
    [50, 8], // 7.5000005 → 8
    [70, 10], // 10.5 → 10 (JS Math.round would give 11)
    [90, 14],
    [110, 16], // 16.5 → 16
    [128, 19], // 19.2 → 19 = N
  ];
  for (const [n, k] of table) assert.equal(numToPredict(n, 0.15, 19), k, `n=${n}`);
  assert.equal(numToPredict(512, 0.15, 79), 77);
  assert.equal(numToPredict(128, 0.5, 19), 19, "capped at N");
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
});

test("masking statistics: counts as specified, never special tokens or padding, ~85% [MASK], uniform with replacement", () => {
  const B = 3000;
  const T = 128;
  const batch = synthBatch(B, T, 1);
  const m = maskBatch(batch, IDS, new Rng(2));
  assert.equal(m.maxPredictions, 19);
  let drawsExpectedUnique = 0;
  let replaced = 0;
  let sumMasked = 0;
  for (let b = 0; b < B; b++) {
    const base = b * T;
    const L = batch.lengths[b];
    let C = 0;
    for (let t = 0; t < L; t++) if (!SPECIAL.has(batch.inputIds[base + t])) C++;
    const k = numToPredict(L, 0.15, 19);
    assert.equal(m.numDrawn[b], C > 0 ? k : 0, `row ${b}`);
    assert.ok(m.numMasked[b] <= m.numDrawn[b] && (C === 0 || m.numMasked[b] >= 1));
    let rowMasked = 0;
    for (let t = 0; t < T; t++) rowMasked += m.isMasked[base + t];
    assert.equal(rowMasked, m.numMasked[b]);
    sumMasked += rowMasked;
    if (C > 0) drawsExpectedUnique += C * (1 - Math.pow(1 - 1 / C, k));
  }
  assert.equal(m.positions.length, sumMasked);
  for (let j = 0; j < m.positions.length; j++) {
    const p = m.positions[j];
    if (j > 0) assert.ok(p > m.positions[j - 1], "ascending, unique");
    assert.equal(m.isMasked[p], 1);
    assert.equal(m.originalIds[j], batch.inputIds[p]);
    assert.ok(!SPECIAL.has(batch.inputIds[p]), "never [CLS]/[SEP]/[MASK]/[PAD]");
    assert.equal(batch.attentionMask[p], 1, "never padding");
    if (m.replacedWithMask[j]) {
      replaced++;
      assert.equal(m.maskedInput[p], IDS.maskId);
    } else assert.equal(m.maskedInput[p], batch.inputIds[p], "kept its token (no random replacement)");
  }
  // Outside the masked positions the input is unchanged.
  for (let p = 0; p < B * T; p++) if (!m.isMasked[p]) assert.equal(m.maskedInput[p], batch.inputIds[p]);
  const frac = replaced / m.positions.length;
  assert.ok(Math.abs(frac - 0.85) < 0.01, `[MASK] fraction ${frac}`);
  // With replacement: the number of distinct positions matches C(1 - (1 - 1/C)^k) in expectation.
  const ratio = sumMasked / drawsExpectedUnique;
  assert.ok(Math.abs(ratio - 1) < 0.01, `distinct/expected ${ratio}`);
  let totalDrawn = 0;
  for (let b = 0; b < B; b++) totalDrawn += m.numDrawn[b];
  assert.ok(sumMasked < totalDrawn, "some draws collide (sampling with replacement)");
});

test("positions are uniform over the candidates", () => {
  const T = 32;
  const B = 4000;
  const inputIds = new Int32Array(B * T);
  const attentionMask = new Int32Array(B * T).fill(1);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) inputIds[b * T + t] = 1000 + t;
    inputIds[b * T] = IDS.clsId;
    inputIds[b * T + T - 1] = IDS.sepId;
  }
  const m = maskBatch({ batchSize: B, seqLen: T, inputIds, attentionMask }, IDS, new Rng(9));
  const counts = new Array(T).fill(0);
  for (const p of m.positions) counts[p % T]++;
  assert.equal(counts[0], 0);
  assert.equal(counts[T - 1], 0);
  const mean = counts.slice(1, T - 1).reduce((a, b) => a + b, 0) / (T - 2);
  for (let t = 1; t < T - 1; t++) assert.ok(Math.abs(counts[t] / mean - 1) < 0.15, `position ${t}: ${counts[t]} vs ${mean}`);
});

test("deterministic given the Rng; rows without candidates get nothing; fixed-slot layout", () => {
  const batch = synthBatch(64, 128, 5);
  const a = maskBatch(batch, IDS, new Rng(77));
  const b = maskBatch(batch, IDS, new Rng(77));
  assert.deepEqual(a, b);
  const r1 = new Rng(77);
  const r2 = Rng.fromState(r1.getState());
  maskBatch(batch, IDS, r1);
  maskBatch(batch, IDS, r2);
  assert.deepEqual(r1.getState(), r2.getState(), "same draws consumed");
  const c = maskBatch(batch, IDS, new Rng(78));
  assert.notDeepEqual(c.positions, a.positions);

  // [CLS] [SEP] only, and [CLS] [MASK] [SEP]: no candidates.
  const T = 4;
  const inputIds = Int32Array.from([101, 102, 0, 0, 101, 103, 102, 0, 101, 7, 102, 0]);
  const attentionMask = Int32Array.from([1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0]);
  const m = maskBatch({ batchSize: 3, seqLen: T, inputIds, attentionMask }, IDS, new Rng(1), { maxPredictions: 2 });
  assert.deepEqual(Array.from(m.numDrawn), [0, 0, 1]);
  assert.deepEqual(Array.from(m.positions), [9]);
  assert.deepEqual(Array.from(m.originalIds), [7]);

  const slots = toPredictionSlots(a);
  const N = a.maxPredictions;
  let used = 0;
  for (let row = 0; row < 64; row++) {
    for (let j = 0; j < N; j++) {
      const w = slots.weights[row * N + j];
      if (w === 1) {
        used++;
        const t = slots.positions[row * N + j];
        assert.equal(a.isMasked[row * 128 + t], 1);
        assert.equal(slots.ids[row * N + j], batch.inputIds[row * 128 + t]);
      } else {
        assert.equal(slots.positions[row * N + j], 0);
        assert.equal(slots.ids[row * N + j], 0);
      }
    }
  }
  assert.equal(used, a.positions.length);
  assert.throws(() => maskBatch({ batchSize: 2, seqLen: 4, inputIds: new Int32Array(7), attentionMask: new Int32Array(8) }, IDS, new Rng(0)), /expected 2×4/);
});
