/**
 * Feeds thousands of mutated files (bit flips, truncations, insertions, deletions, overwrites; fixed
 * seed) to every reader. Each outcome must be a result or an Error that names the file; never a
 * crash, a hang, or a low-level RangeError/TypeError leaking out of a typed array or DataView.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readPytorchBin, serializePytorchLegacy, serializePytorchZip } from "../../src/io/pytorch.js";
import { buildZip } from "../../src/io/zip.js";
import { parseSafetensors, serializeSafetensors } from "../../src/io/safetensors.js";
import { parseTfIndex, readTfTensors } from "../../src/io/tf/bundle.js";
import { snappyDecompress } from "../../src/io/tf/snappy.js";
import { readSSTable } from "../../src/io/tf/sstable.js";
import { buildSSTable, encodeTfStrings, snappyCompress, writeTfCheckpoint } from "../helpers/tf-writer.js";
import type { TensorData } from "../../src/io/tensor-data.js";
import { assertCleanError, fuzz, mutate, rng, SCALE, type Tally } from "../helpers/fuzz.js";

const FIXTURES = "../shared/reference/fixtures";
const TF = "../shared/data/tf-checkpoints";

function tensors(): Map<string, TensorData> {
  const m = new Map<string, TensorData>();
  m.set("electra.embeddings.word_embeddings.weight", { dtype: "F32", shape: [4, 3], bytes: new Uint8Array(Float32Array.from({ length: 12 }, (_, i) => i / 7).buffer) });
  m.set("electra.encoder.layer.0.attention.self.query.bias", { dtype: "F16", shape: [3], bytes: Uint8Array.from([0, 0x3c, 0, 0x40, 0, 0x42]) });
  m.set("ids", { dtype: "I64", shape: [2], bytes: new Uint8Array(BigInt64Array.from([5n, -6n]).buffer) });
  m.set("scalar", { dtype: "F32", shape: [], bytes: new Uint8Array(Float32Array.from([0.5]).buffer) });
  return m;
}

const started = Date.now();
const counts: Record<string, Tally> = {};

test("fuzz: safetensors", () => {
  counts.safetensors = fuzz("safetensors", serializeSafetensors(tensors()), 3000, 1, "fuzz.safetensors", (b) => parseSafetensors(b, "fuzz.safetensors"));
});

test("fuzz: PyTorch zip archive (raw bytes)", () => {
  counts.zip = fuzz("zip", serializePytorchZip(tensors()), 2500, 2, "fuzz.bin", (b) => readPytorchBin(b, "fuzz.bin"));
});

test("fuzz: PyTorch pickles inside a valid zip (mutated data.pkl, correct CRCs)", () => {
  const zip = serializePytorchZip(tensors());
  // take the archive apart with the reader's own layout knowledge: rebuild from records
  const pkl = extractStored(zip, "archive/data.pkl");
  const records = [...tensors().values()].map((t, i) => ({ name: `archive/data/${i}`, data: t.bytes }));
  counts.pickle = fuzz("pickle", pkl, 8000, 3, "fuzz.bin", (p) => readPytorchBin(buildZip([{ name: "archive/data.pkl", data: p }, ...records]), "fuzz.bin"));
});

test("fuzz: PyTorch legacy stream", () => {
  counts.legacy = fuzz("legacy", serializePytorchLegacy(tensors()), 8000, 4, "fuzz.bin", (b) => readPytorchBin(b, "fuzz.bin"));
});

test("fuzz: torch-written fixtures (zip and legacy)", { skip: existsSync(join(FIXTURES, "weights-legacy.bin")) ? false : `${FIXTURES} is absent` }, () => {
  counts.fixtureLegacy = fuzz("fixture legacy", readFileSync(join(FIXTURES, "weights-legacy.bin")), 300, 5, "w.bin", (b) => readPytorchBin(b, "w.bin"));
  counts.fixtureZip = fuzz("fixture zip", readFileSync(join(FIXTURES, "weights-zip.bin")), 300, 6, "w.bin", (b) => readPytorchBin(b, "w.bin"));
});

function tfFiles(compression: "none" | "snappy"): { index: Uint8Array; data: Uint8Array } {
  const dir = mkdtempSync(join(tmpdir(), "electra-fuzz-"));
  try {
    const m = tensors();
    m.set("vocab", encodeTfStrings(["[CLS]", "électra", ""]));
    for (let i = 0; i < 40; i++) m.set(`generator/encoder/layer_${i}/output/dense/bias`, { dtype: "F32", shape: [1], bytes: new Uint8Array(Float32Array.from([i]).buffer) });
    writeTfCheckpoint(join(dir, "c"), m, { compression, blockSize: 256 });
    return { index: readFileSync(join(dir, "c.index")), data: readFileSync(join(dir, "c.data-00000-of-00001")) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readTf(index: Uint8Array, data: Uint8Array): Map<string, TensorData> {
  return readTfTensors(parseTfIndex(index, "fuzz.index", "fuzz"), { shards: new Map([[0, data]]) });
}

test("fuzz: TensorFlow index (SSTable, plain and snappy blocks)", () => {
  for (const [i, compression] of (["none", "snappy"] as const).entries()) {
    const { index, data } = tfFiles(compression);
    counts[`tfIndex-${compression}`] = fuzz(`tf index ${compression}`, index, 2000, 10 + i, /fuzz\.(index|data-\d{5}-of-\d{5})/, (b) => readTf(b, data));
  }
});

test("fuzz: TensorFlow entries (mutated protobufs and keys in a valid table)", () => {
  const { index, data } = tfFiles("none");
  const kvs = readSSTable(index);
  const r = rng(12);
  let built = 0;
  const tally: Tally = { ok: 0, rejected: 0 };
  for (let i = 0; i < 4000 * SCALE; i++) {
    const j = Math.floor(r() * kvs.length);
    const copy = kvs.map(([k, v]): [Uint8Array, Uint8Array] => [k, v]);
    if (r() < 0.8) copy[j] = [copy[j][0], mutate(copy[j][1], r)];
    else copy[j] = [mutate(copy[j][0], r), copy[j][1]];
    copy.sort((a, b) => Buffer.compare(a[0], b[0]));
    if (copy.some((kv, n) => n > 0 && Buffer.compare(copy[n - 1][0], kv[0]) === 0)) continue;
    const table = buildSSTable(copy);
    built++;
    try {
      readTf(table, data);
      tally.ok++;
    } catch (e) {
      tally.rejected++;
      assertCleanError(e, `entries mutant ${i}`, /fuzz\.(index|data-\d{5}-of-\d{5})/);
    }
  }
  assert.ok(built > 3000 * SCALE);
  counts.tfEntries = tally;
});

test("fuzz: TensorFlow data shard", () => {
  const { index, data } = tfFiles("none");
  counts.tfData = fuzz("tf data", data, 2000, 13, "fuzz.data-00000-of-00001", (b) => readTf(index, b));
});

test("fuzz: real snappy-compressed TensorFlow index", { skip: existsSync(TF) ? false : `${TF} is absent` }, () => {
  const prefix = join(TF, "tfserving-saved_model_half_plus_two_cpu/variables/variables");
  const data = readFileSync(`${prefix}.data-00000-of-00001`);
  counts.tfReal = fuzz("half_plus_two", readFileSync(`${prefix}.index`), 2000, 14, /fuzz\.(index|data)/, (b) => readTf(b, data));
});

test("fuzz: snappy decompressor", () => {
  const text = Buffer.from("the quick brown fox jumps over the lazy dog; ".repeat(40) + "0123456789abcdef".repeat(20));
  counts.snappy = fuzz("snappy", snappyCompress(text), 4000, 15, "snappy:", (b) => snappyDecompress(b));
});

test("fuzz: summary and time budget", () => {
  const seconds = (Date.now() - started) / 1000;
  console.log(`# fuzz outcomes (read / rejected): ${Object.entries(counts).map(([k, t]) => `${k} ${t.ok}/${t.rejected}`).join(", ")}; ${seconds.toFixed(1)} s`);
  if (SCALE === 1) assert.ok(seconds < 20, `fuzzing took ${seconds} s`);
});

/** The bytes of a stored zip entry, found through its local header (test helper). */
function extractStored(zip: Uint8Array, name: string): Uint8Array {
  const b = Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength);
  let p = 0;
  while (b.readUInt32LE(p) === 0x04034b50) {
    const n = b.readUInt16LE(p + 26);
    const start = p + 30 + n + b.readUInt16LE(p + 28);
    const size = b.readUInt32LE(p + 18);
    if (b.toString("utf8", p + 30, p + 30 + n) === name) return zip.slice(start, start + size);
    p = start + size;
  }
  throw new Error(`no entry ${name}`);
}
