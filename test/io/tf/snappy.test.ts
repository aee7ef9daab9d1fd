import { test } from "node:test";
import assert from "node:assert/strict";
import { snappyDecompress } from "../../../src/io/tf/snappy.js";
import { snappyCompress } from "../../helpers/tf-writer.js";

test("snappy: literals, overlapping copies, 1/2/4-byte offsets, and round trips", () => {
  // "abcabcabca": literal "abc" then copy-1 of length 7 at offset 3 (overlapping)
  assert.equal(Buffer.from(snappyDecompress(Uint8Array.from([10, 2 << 2, 97, 98, 99, 1 | (3 << 2), 3]))).toString(), "abcabcabca");
  // copy-2 (offset 2 bytes) and copy-4 (offset 4 bytes)
  assert.equal(Buffer.from(snappyDecompress(Uint8Array.from([6, 1 << 2, 120, 121, 2 | (1 << 2), 2, 0, 3 | (1 << 2), 2, 0, 0, 0]))).toString(), "xyxyxy");
  // a literal longer than 60 bytes uses the 1-byte length form
  const long = Buffer.alloc(100, 0x41);
  assert.ok(Buffer.from(snappyDecompress(Uint8Array.from([100, 60 << 2, 99, ...long]))).equals(long));
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const inputs = [new Uint8Array(0), Buffer.from("a"), Buffer.alloc(70000, 3), Uint8Array.from({ length: 5000 }, rnd), Buffer.from("electra/encoder/layer_0/attention/".repeat(300))];
  for (const x of inputs) {
    const c = snappyCompress(x);
    assert.ok(Buffer.from(snappyDecompress(c)).equals(Buffer.from(x)));
  }
  assert.ok(snappyCompress(Buffer.alloc(70000, 3)).length < 4000, "repetitive input compresses");
  assert.throws(() => snappyDecompress(Uint8Array.from([5, 1 | (3 << 2), 9])), /offset 9 .* out of range/);
  assert.throws(() => snappyDecompress(Uint8Array.from([20, 2 << 2, 97])), /literal runs past the input/);
  assert.throws(() => snappyDecompress(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])), /claims/);
});
