/** Pretraining's small pure helpers, against values computed independently (Python's math.log). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { binaryEntropy } from "../../src/train/pretrain.js";

test("binaryEntropy: the loss of knowing only the base rate, in nats", () => {
  const cases: [number, number][] = [[0.5, 0.6931471805599453], [0.12, 0.3669249912727096], [0.879, 0.36891269789966075], [1e-9, 2.172326580816448e-8]];
  for (const [p, want] of cases) assert.ok(Math.abs(binaryEntropy(p) - want) <= 1e-15 + 1e-12 * want, `H(${p}) = ${binaryEntropy(p)}, want ${want}`);
  assert.equal(binaryEntropy(0), 0);
  assert.equal(binaryEntropy(1), 0);
});
