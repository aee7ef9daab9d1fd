import { test } from "node:test";
import assert from "node:assert/strict";
import { splitValidation } from "../../src/data/split.js";

test("splitValidation: seeded, deterministic, disjoint, order kept, bounds", () => {
  const rows = Array.from({ length: 100 }, (_, i) => i);
  const a = splitValidation(rows, 0.2, 42);
  const b = splitValidation(rows, 0.2, 42);
  assert.deepEqual(a, b);
  assert.equal(a.validation.length, 20);
  assert.equal(a.train.length, 80);
  assert.deepEqual([...a.train, ...a.validation].sort((x, y) => x - y), rows);
  assert.deepEqual(a.train, [...a.train].sort((x, y) => x - y));
  assert.deepEqual(a.validation, [...a.validation].sort((x, y) => x - y));
  assert.notDeepEqual(splitValidation(rows, 0.2, 43).validation, a.validation);
  assert.notDeepEqual(a.validation, rows.slice(0, 20));
  // Fixed expectations, so that a change of PRNG is noticed.
  assert.deepEqual(splitValidation([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0.3, 1), {
    train: [1, 2, 3, 4, 5, 6, 7],
    validation: [0, 8, 9],
  });
  // At least one row each side.
  assert.deepEqual(splitValidation(["x", "y"], 0.01, 0).validation.length, 1);
  assert.deepEqual(splitValidation(["x", "y"], 0.99, 0).train.length, 1);
  assert.equal(splitValidation(rows, 0.001, 5).validation.length, 1);
  assert.equal(splitValidation(rows, 0.999, 5).train.length, 1);
  assert.equal(splitValidation(rows, 0.2, -7).validation.length, 20);
  for (const f of [0, 1, -0.1, 1.5, Number.NaN]) assert.throws(() => splitValidation(rows, f, 1), /fraction/);
  assert.throws(() => splitValidation([1], 0.5, 1), /at least 2 rows/);
  assert.throws(() => splitValidation([], 0.5, 1), /at least 2 rows/);
  assert.throws(() => splitValidation(rows, 0.5, 1.5), /seed/);
});
