import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectFormat, inspectTensors, inspectTensorsJsonl } from "../../src/io/inspect.js";
import { writePytorchLegacy, writePytorchZip } from "../../src/io/pytorch.js";
import { writeSafetensors } from "../../src/io/safetensors.js";
import { encodeTfStrings, writeTfCheckpoint } from "../helpers/tf-writer.js";
import { CheckpointError, type TensorData } from "../../src/io/tensor-data.js";

const FIXTURES = "../shared/reference/fixtures";
const TF = "../shared/data/tf-checkpoints";

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

function sample(): Map<string, TensorData> {
  return new Map<string, TensorData>([
    ["b.weight", { dtype: "F32", shape: [2, 2], bytes: new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer) }],
    ["a.ids", { dtype: "I64", shape: [3], bytes: new Uint8Array(BigInt64Array.from([1n, 2n, 3n]).buffer) }],
    ["c.half", { dtype: "F16", shape: [], bytes: Uint8Array.from([0x00, 0x3c]) }],
  ]);
}

test("every format lists the same names, dtypes, shapes and SHA-256 of the stored bytes; detection is by content", () => {
  const dir = mkdtempSync(join(tmpdir(), "electra-inspect-"));
  try {
    const m = sample();
    // misleading extensions on purpose
    writeSafetensors(join(dir, "weights.bin"), m);
    writePytorchZip(m, join(dir, "model.safetensors"));
    writePytorchLegacy(m, join(dir, "model.dat"));
    writeTfCheckpoint(join(dir, "tf", "ckpt"), m);
    assert.equal(detectFormat(join(dir, "weights.bin")), "safetensors");
    assert.equal(detectFormat(join(dir, "model.safetensors")), "pytorch-zip");
    assert.equal(detectFormat(join(dir, "model.dat")), "pytorch-legacy");
    assert.equal(detectFormat(join(dir, "tf", "ckpt")), "tf-checkpoint");
    assert.equal(detectFormat(join(dir, "tf", "ckpt.index")), "tf-checkpoint");
    const want = [...m].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, sha256: sha(t.bytes) }));
    const byName = (xs: { name: string }[]): unknown[] => [...xs].sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const p of ["weights.bin", "model.safetensors", "model.dat", "tf/ckpt", "tf/ckpt.index", "tf"]) {
      assert.deepEqual(byName(inspectTensors(join(dir, p))), byName(want), p);
    }
    const lines = inspectTensorsJsonl(join(dir, "model.dat")).trimEnd().split("\n");
    assert.equal(lines.length, 3);
    assert.deepEqual(JSON.parse(lines[0]), want[0]);
    // strings: name, dtype, shape, no checksum
    writeTfCheckpoint(join(dir, "s", "ckpt"), new Map([["vocab", encodeTfStrings(["a", "b"])]]));
    assert.deepEqual(inspectTensors(join(dir, "s", "ckpt")), [{ name: "vocab", dtype: "STRING", shape: [2] }]);
    // unknown content, whatever the name
    writeFileSync(join(dir, "fake.safetensors"), "this is not a checkpoint at all");
    assert.throws(() => inspectTensors(join(dir, "fake.safetensors")), (e: unknown) => e instanceof CheckpointError && /fake\.safetensors: unknown checkpoint format/.test(e.message));
    assert.throws(() => inspectTensors(join(dir, "missing")), /missing: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fixtures: the three weight files give identical listings", { skip: existsSync(join(FIXTURES, "weights.safetensors")) ? false : `${FIXTURES} is absent` }, () => {
  const sorted = (p: string): unknown[] => inspectTensors(join(FIXTURES, p)).sort((a, b) => (a.name < b.name ? -1 : 1));
  const st = sorted("weights.safetensors");
  assert.equal(st.length, 43);
  assert.deepEqual(sorted("weights-zip.bin"), st);
  assert.deepEqual(sorted("weights-legacy.bin"), st);
  const dir = mkdtempSync(join(tmpdir(), "electra-inspect-"));
  try {
    copyFileSync(join(FIXTURES, "weights-zip.bin"), join(dir, "noext"));
    assert.deepEqual(inspectTensors(join(dir, "noext")).sort((a, b) => (a.name < b.name ? -1 : 1)), st);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("TensorFlow checkpoints: values hashed, index-only ones listed without checksums", { skip: existsSync(TF) ? false : `${TF} is absent` }, () => {
  const h = inspectTensors(join(TF, "tfserving-saved_model_half_plus_two_cpu/variables/variables.index"));
  assert.deepEqual(h.find((t) => t.name === "a"), { name: "a", dtype: "F32", shape: [], sha256: sha(Uint8Array.from([0, 0, 0, 0x3f])) });
  assert.deepEqual(h.find((t) => t.name === "b"), { name: "b", dtype: "F32", shape: [], sha256: sha(Uint8Array.from([0, 0, 0, 0x40])) });
  const g = inspectTensors(join(TF, "tfserving-saved_model_half_plus_two_tf2_cpu"));
  assert.deepEqual(g.find((t) => t.name === "_CHECKPOINTABLE_OBJECT_GRAPH"), { name: "_CHECKPOINTABLE_OBJECT_GRAPH", dtype: "STRING", shape: [] });
  const bert = inspectTensors(join(TF, "bert-base-chinese-INDEX-ONLY/bert_model.ckpt"));
  assert.equal(bert.length, 206);
  assert.deepEqual(bert[4], { name: "bert/embeddings/word_embeddings", dtype: "F32", shape: [21128, 768] });
  const cnn = inspectTensors(join(TF, "daviesx-mnist/cnn.ckpt.index"));
  assert.equal(cnn.length, 27);
  assert.ok(cnn.every((t) => t.sha256 === undefined));
  const fc2 = inspectTensors(join(TF, "daviesx-mnist/fc2.ckpt"));
  assert.equal(fc2.length, 21);
  assert.ok(fc2.every((t) => typeof t.sha256 === "string" && t.sha256.length === 64));
  assert.deepEqual(fc2.find((t) => t.name === "global_step"), { name: "global_step", dtype: "I32", shape: [], sha256: sha(new Uint8Array(Int32Array.from([20000]).buffer)) });
});
