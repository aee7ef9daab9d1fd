import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeTfStrings, parseTfIndex, readTfCheckpoint, readTfIndex, readTfTensors, tfHasData } from "../../../src/io/tf/bundle.js";
import { crc32c, maskCrc, unmaskCrc } from "../../../src/io/tf/crc32c.js";
import { snappyDecompress } from "../../../src/io/tf/snappy.js";
import { readSSTable } from "../../../src/io/tf/sstable.js";
import { CheckpointError, type TensorData, toFloat32, toInt32 } from "../../../src/io/tensor-data.js";
import { assertSameTensors } from "../../helpers/tensors.js";
import { buildSSTable, encodeTfStrings, writeTfCheckpoint } from "../../helpers/tf-writer.js";

const TF = "../shared/data/tf-checkpoints";
const tfMissing = existsSync(TF) ? false : `${TF} is absent`;

function f32(shape: number[], values: number[]): TensorData {
  return { dtype: "F32", shape, bytes: new Uint8Array(Float32Array.from(values).buffer) };
}
function scalar(t: TensorData | undefined): number {
  assert.ok(t, "tensor present");
  assert.deepEqual(t.shape, []);
  return toFloat32(t)[0];
}
function tmp(): string {
  return mkdtempSync(join(tmpdir(), "electra-tf-"));
}

test("half_plus_two (TF1, snappy-compressed index): a = 0.5, b = 2, c = 3", { skip: tfMissing }, () => {
  const prefix = join(TF, "tfserving-saved_model_half_plus_two_cpu/variables/variables");
  const raw = readFileSync(`${prefix}.index`);
  // the first data block is snappy-compressed: some k has trailer type 1 and a matching CRC over [0, k]
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const k = [...Array(raw.length - 53).keys()].find((i) => raw[i] === 1 && unmaskCrc(dv.getUint32(i + 1, true)) === crc32c(raw.subarray(0, i + 1)));
  assert.ok(k !== undefined, "found the first block's trailer");
  assert.ok(snappyDecompress(raw.subarray(0, k)).length > k, "and it decompresses");
  const m = readTfCheckpoint(prefix);
  assert.deepEqual([...m.keys()], ["a", "a2", "b", "c", "c2"]);
  assert.equal(scalar(m.get("a")), 0.5);
  assert.equal(scalar(m.get("a2")), 0.5);
  assert.equal(scalar(m.get("b")), 2);
  assert.equal(scalar(m.get("c")), 3);
  // the same through the .index path and the SavedModel directory
  assertSameTensors(m, readTfCheckpoint(`${prefix}.index`));
  assertSameTensors(m, readTfCheckpoint(join(TF, "tfserving-saved_model_half_plus_two_cpu")));
});

test("half_plus_two (TF2 object graph): values and the DT_STRING object graph", { skip: tfMissing }, () => {
  const m = readTfCheckpoint(join(TF, "tfserving-saved_model_half_plus_two_tf2_cpu"));
  assert.equal(scalar(m.get("a/.ATTRIBUTES/VARIABLE_VALUE")), 0.5);
  assert.equal(scalar(m.get("b/.ATTRIBUTES/VARIABLE_VALUE")), 2);
  assert.equal(scalar(m.get("c/.ATTRIBUTES/VARIABLE_VALUE")), 3);
  const g = m.get("_CHECKPOINTABLE_OBJECT_GRAPH") as TensorData;
  assert.equal(g.dtype, "STRING");
  assert.deepEqual(g.shape, []);
  const [proto] = decodeTfStrings(g);
  assert.equal(proto.length, 613);
  assert.equal(proto[0], 0x0a, "a TrackableObjectGraph protobuf (field 1, length-delimited)");
});

test("tfrust regression SavedModel variables: int64, floats, strings", { skip: tfMissing }, () => {
  const m = readTfCheckpoint(join(TF, "tfrust-regression_savedmodel"));
  assert.equal(m.size, 7);
  assert.equal((m.get("optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE") as TensorData).dtype, "I64");
  assert.equal(scalar(m.get("optimizer/learning_rate/.ATTRIBUTES/VARIABLE_VALUE")), 0.5);
  const w = m.get("w/.ATTRIBUTES/VARIABLE_VALUE") as TensorData;
  assert.deepEqual(w.shape, [1]);
  assert.ok(Math.abs(toFloat32(w)[0] - 0.20429754) < 1e-7);
  assert.equal(decodeTfStrings(m.get("_CHECKPOINTABLE_OBJECT_GRAPH") as TensorData)[0].length, 531);
});

test("daviesx-mnist fc2: an MLP with Adam slots and an int32 global_step", { skip: tfMissing }, () => {
  const m = readTfCheckpoint(join(TF, "daviesx-mnist/fc2.ckpt"));
  assert.equal(m.size, 21);
  assert.deepEqual([...toInt32(m.get("global_step") as TensorData)], [20000]);
  const w = m.get("h1/w") as TensorData;
  assert.deepEqual(w.shape, [784, 100]);
  const v = toFloat32(w);
  assert.ok(Math.abs(v[0] - 0.0024791572) < 1e-9);
  assert.ok(Math.abs(v.reduce((s, x) => s + x, 0) - -925.6148) < 1e-2);
  assert.deepEqual((m.get("output/w") as TensorData).shape, [25, 10]);
});

test("daviesx-mnist cnn.ckpt has only an index: names, dtypes, shapes; reading data names the missing file", { skip: tfMissing }, () => {
  for (const p of [join(TF, "daviesx-mnist/cnn.ckpt"), join(TF, "daviesx-mnist")]) {
    const idx = readTfIndex(p);
    assert.equal(idx.entries.length, 27);
    assert.equal(tfHasData(idx), false);
    const w = idx.entries.find((e) => e.name === "c1/w");
    assert.deepEqual(w && { dtype: w.dtype, shape: w.shape }, { dtype: "F32", shape: [5, 5, 1, 32] });
  }
  assert.throws(() => readTfCheckpoint(join(TF, "daviesx-mnist/cnn.ckpt")), /cnn\.ckpt\.data-00000-of-00001: no such data file/);
});

test("bert-base-chinese index only: 206 variables with dtypes and shapes", { skip: tfMissing }, () => {
  const idx = readTfIndex(join(TF, "bert-base-chinese-INDEX-ONLY/bert_model.ckpt.index"));
  assert.equal(idx.entries.length, 206);
  assert.equal(tfHasData(idx), false);
  assert.ok(idx.entries.every((e) => e.dtype === "F32" && e.tfDtype === "DT_FLOAT" && e.slices === 0));
  const shape = (n: string): number[] | undefined => idx.entries.find((e) => e.name === n)?.shape;
  assert.deepEqual(shape("bert/embeddings/word_embeddings"), [21128, 768]);
  assert.deepEqual(shape("bert/encoder/layer_11/intermediate/dense/kernel"), [768, 3072]);
  assert.deepEqual(shape("cls/seq_relationship/output_weights"), [2, 768]);
  const total = idx.entries.reduce((s, e) => s + e.size, 0);
  assert.equal(total, 4 * idx.entries.reduce((s, e) => s + e.shape.reduce((a, b) => a * b, 1), 0));
});

test("every checkpoint under ../shared/data/tf-checkpoints reads (data and CRCs where present, else the index)", { skip: tfMissing }, () => {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      if (f.isDirectory()) walk(join(d, f.name));
      else if (f.name.endsWith(".index")) found.push(join(d, f.name));
    }
  };
  walk(TF);
  assert.ok(found.length >= 6, `found ${found.length} indexes`);
  let withData = 0;
  for (const p of found) {
    const idx = readTfIndex(p);
    assert.ok(idx.entries.length > 0, p);
    if (!tfHasData(idx)) continue;
    withData++;
    const m = readTfCheckpoint(p);
    assert.deepEqual([...m.keys()], idx.entries.map((e) => e.name), p);
    for (const e of idx.entries) assert.deepEqual((m.get(e.name) as TensorData).shape, e.shape, `${p} ${e.name}`);
  }
  assert.ok(withData >= 4);
});

function mixedTensors(): Map<string, TensorData> {
  const m = new Map<string, TensorData>();
  m.set("model/dense/kernel", f32([2, 3], [1, 2, 3, 4, 5, 6]));
  m.set("model/dense/bias", f32([3], [0.5, -0.5, 0]));
  m.set("global_step", { dtype: "I64", shape: [], bytes: new Uint8Array(BigInt64Array.from([123456789n]).buffer) });
  m.set("ints", { dtype: "I32", shape: [2], bytes: new Uint8Array(Int32Array.from([-5, 5]).buffer) });
  m.set("halfs", { dtype: "F16", shape: [1], bytes: Uint8Array.from([0x00, 0x3c]) });
  m.set("bfloat", { dtype: "BF16", shape: [1], bytes: Uint8Array.from([0x80, 0x3f]) });
  m.set("doubles", { dtype: "F64", shape: [1], bytes: new Uint8Array(Float64Array.from([Math.PI]).buffer) });
  m.set("flags", { dtype: "BOOL", shape: [2], bytes: Uint8Array.from([1, 0]) });
  m.set("bytes", { dtype: "U8", shape: [2], bytes: Uint8Array.from([1, 200]) });
  m.set("empty", f32([0], []));
  m.set("vocab", encodeTfStrings(["[PAD]", "", "héllo", "x".repeat(300)], [2, 2]));
  m.set("näme/ünicode", f32([1], [42]));
  for (let i = 0; i < 300; i++) m.set(`electra/encoder/layer_${i}/attention/self/query/kernel`, f32([2], [i, -i]));
  return m;
}

test("writer round trip: every dtype, strings, 300+ names over many blocks, none or snappy compression", () => {
  const dir = tmp();
  try {
    const m = mixedTensors();
    for (const compression of ["none", "snappy"] as const) {
      const prefix = join(dir, compression, "model.ckpt");
      writeTfCheckpoint(prefix, m, { compression });
      assert.ok(existsSync(`${prefix}.data-00000-of-00001`));
      const back = readTfCheckpoint(prefix);
      assertSameTensors(m, back);
      const names = [...back.keys()];
      const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.deepEqual(names, sorted, "index order is bytewise");
      assert.deepEqual(decodeTfStrings(back.get("vocab") as TensorData).map((b) => Buffer.from(b).toString()), ["[PAD]", "", "héllo", "x".repeat(300)]);
      const kvs = readSSTable(readFileSync(`${prefix}.index`));
      assert.equal(kvs.length, m.size + 1);
      const raw = readFileSync(`${prefix}.index`);
      if (compression === "snappy") assert.ok(raw.length < 12000, `snappy index is small (${raw.length})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ─── damaged files ───

function entryProto(dtype: number, shape: number[], offset: number, size: number, crc: number, shard = 0): Uint8Array {
  const dims = shape.flatMap((d) => [0x12, 2, 0x08, d]);
  const b = [0x08, dtype, 0x12, dims.length, ...dims];
  if (shard) b.push(0x18, shard);
  if (offset) b.push(0x20, offset);
  b.push(0x28, size, 0x35, crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24);
  return Uint8Array.from(b);
}
const HEADER = Uint8Array.from([0x08, 0x01, 0x1a, 0x02, 0x08, 0x01]);

function expectError(fn: () => unknown, file: RegExp, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `a CheckpointError, got ${String(e)}`);
    assert.match(e.message, file);
    assert.match(e.message, pattern);
    return true;
  });
}

test("damaged indexes give clear errors", () => {
  const dir = tmp();
  try {
    const prefix = join(dir, "ck");
    writeTfCheckpoint(prefix, mixedTensors());
    const index = readFileSync(`${prefix}.index`);
    const at = (b: Uint8Array): () => unknown => () => parseTfIndex(b, "ck.index");
    expectError(at(index.subarray(0, index.length - 1)), /^ck\.index: /, /wrong magic number/);
    expectError(at(index.subarray(0, 20)), /^ck\.index: /, /too short/);
    const magic = Buffer.from(index);
    magic[magic.length - 1] ^= 1;
    expectError(at(magic), /ck\.index/, /wrong magic number/);
    const crc = Buffer.from(index);
    crc[10] ^= 0x40;
    expectError(at(crc), /ck\.index/, /CRC-32C mismatch/);
    // a handle pointing past the end
    const h = Buffer.from(index);
    h.fill(0, h.length - 48, h.length - 8);
    h.set([0, 0, 0xff, 0xff, 0x03, 10], h.length - 48); // metaindex (0, 0); index block at offset 65535, past the end
    expectError(at(h), /ck\.index/, /index block \[65535, 65550\) runs past/);
    // no header entry
    expectError(at(buildSSTable([[Buffer.from("a"), entryProto(1, [1], 0, 4, 0)]])), /ck\.index/, /no header entry/);
    expectError(() => readTfIndex(join(dir, "nothing")), /nothing\.index/, /no such file/);
    // a header claiming 2^32 shards (inspect used to look for each of them on disk)
    const huge = Uint8Array.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x10, 0x1a, 0x02, 0x08, 0x01]);
    expectError(at(buildSSTable([[new Uint8Array(0), huge], [Buffer.from("a"), entryProto(1, [1], 0, 4, 0)]])), /ck\.index/, /header says 4294967296 data shards; shard names have five digits/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("damaged data gives clear errors: CRC, truncation, size/shape mismatch, offsets, shards, dtypes", () => {
  const data = new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer);
  const crc = maskCrc(crc32c(data));
  const read = (entries: [string, Uint8Array][], shard: Uint8Array = data): Map<string, TensorData> => {
    const kvs: [Uint8Array, Uint8Array][] = [[new Uint8Array(0), HEADER], ...entries.map(([k, v]): [Uint8Array, Uint8Array] => [Buffer.from(k), v])];
    return readTfTensors(parseTfIndex(buildSSTable(kvs), "x.index", "x"), { shards: new Map([[0, shard]]) });
  };
  assert.deepEqual([...toFloat32(read([["w", entryProto(1, [2, 2], 0, 16, crc)]]).get("w") as TensorData)], [1, 2, 3, 4]);
  const file = /^x\.data-00000-of-00001: tensor w: /;
  expectError(() => read([["w", entryProto(1, [2, 2], 0, 16, crc ^ 1)]]), file, /CRC-32C mismatch/);
  const flipped = Uint8Array.from(data);
  flipped[5] ^= 0x10;
  expectError(() => read([["w", entryProto(1, [2, 2], 0, 16, crc)]], flipped), file, /CRC-32C mismatch/);
  expectError(() => read([["w", entryProto(1, [2, 2], 0, 16, crc)]], data.subarray(0, 12)), file, /run past the end of the 12-byte data file/);
  expectError(() => read([["w", entryProto(1, [2, 3], 0, 16, crc)]]), file, /16 bytes for F32\[2,3\], which needs 24/);
  expectError(() => read([["w", entryProto(1, [2], 8, 16, crc)]]), file, /bytes \[8, 24\) run past the end/);
  expectError(() => read([["w", entryProto(8, [2], 0, 16, crc)]]), file, /dtype DT_COMPLEX64 is not supported/);
  expectError(() => read([["w", entryProto(1, [4], 0, 16, crc, 3)]]), /x\.index/, /shard 3 of 1/);
  expectError(() => read([["w", Uint8Array.from([0x08, 0x01, 0x12, 0x09, 0x12])]]), /x\.index: entry w: /, /runs past the message|truncated/);
  // unsupported dtypes are listed in the index and can be skipped when reading
  const idx = parseTfIndex(buildSSTable([[new Uint8Array(0), HEADER], [Buffer.from("c"), entryProto(8, [2], 0, 16, crc)]]), "y.index");
  assert.equal(idx.entries[0].tfDtype, "DT_COMPLEX64");
  assert.equal(idx.entries[0].dtype, null);
  assert.equal(readTfTensors(idx, { onUnsupported: "skip", shards: new Map([[0, data]]) }).size, 0);
  // a damaged string tensor
  const s = encodeTfStrings(["ab", "cde"]);
  const bad = Uint8Array.from(s.bytes);
  bad[0] = 3; // the first length no longer matches the length checksum
  expectError(() => read([["w", entryProto(7, [2], 0, bad.length, maskCrc(crc32c(bad)))]], bad), file, /string lengths do not match their checksum/);
});

test("a data shard on disk that is truncated or missing", () => {
  const dir = tmp();
  try {
    const prefix = join(dir, "m");
    writeTfCheckpoint(prefix, new Map([["w", f32([4], [1, 2, 3, 4])]]));
    const shard = `${prefix}.data-00000-of-00001`;
    writeFileSync(shard, readFileSync(shard).subarray(0, 10));
    expectError(() => readTfCheckpoint(prefix), /m\.data-00000-of-00001: tensor w/, /run past the end of the 10-byte data file/);
    rmSync(shard);
    expectError(() => readTfCheckpoint(prefix), /m\.data-00000-of-00001/, /no such data file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
