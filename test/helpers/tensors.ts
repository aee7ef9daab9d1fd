import assert from "node:assert/strict";
import type { TensorData } from "../../src/io/tensor-data.js";

/** Same names, dtypes, shapes and bytes (exact equality, as the reference loader gives). */
export function assertSameTensors(a: Map<string, TensorData>, b: Map<string, TensorData>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, t] of a) {
    const u = b.get(k) as TensorData;
    assert.equal(u.dtype, t.dtype, k);
    assert.deepEqual(u.shape, t.shape, k);
    assert.ok(Buffer.from(u.bytes).equals(Buffer.from(t.bytes)), `bytes of ${k}`);
  }
}
