import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSafetensors, serializeSafetensors } from "../../src/io/safetensors.js";
import { toFloat32 } from "../../src/io/tensor-data.js";

/** A file of one header object and the given data bytes. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

test("round trip: tensors, dtypes and metadata", () => {
  const t = new Map([
    ["a", { dtype: "F32" as const, shape: [2, 2], bytes: new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer) }],
    ["b", { dtype: "I64" as const, shape: [1], bytes: new Uint8Array(8).fill(1) }],
  ]);
  const back = parseSafetensors(serializeSafetensors(t, { format: "pt" }), "x.safetensors");
  assert.deepEqual(back.metadata, { format: "pt" });
  assert.deepEqual([...toFloat32(back.tensors.get("a")!)], [1, 2, 3, 4]);
  assert.deepEqual(back.tensors.get("b")!.shape, [1]);
});

test("damaged headers give one line naming the file and the tensor", () => {
  const bad = (buf: Uint8Array, want: RegExp) => assert.throws(() => parseSafetensors(buf, "x.safetensors"), (e: Error) => {
    assert.match(e.message, /^safetensors x\.safetensors: /);
    assert.match(e.message, want);
    return true;
  });
  // a dtype that names an Object property is no dtype (it was read as one: "needs NaN" bytes)
  for (const dtype of ["constructor", "toString", "__proto__", "STRING"]) {
    bad(file({ w: { dtype, shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), new RegExp(`tensor w: unsupported dtype "${dtype}"`));
  }
  bad(file({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)), /tensor w: data_offsets \[0, 8\] run past the 4-byte data section/);
  bad(file({ w: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor w: 4 bytes for F32\[2\], which needs 8/);
  bad(file({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, b: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /overlaps the tensor before it/);
  bad(file({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /shape \[-1\] is not a list of non-negative integers/);
  bad(file([]), /header is not a JSON object/);
  bad(new Uint8Array(4), /too short/);
});
