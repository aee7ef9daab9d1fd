import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSafetensors } from "../../../src/io/safetensors.js";
import { readTfCheckpoint, readTfIndex } from "../../../src/io/tf/bundle.js";
import { writeTfCheckpoint } from "../../helpers/tf-writer.js";
import { describeTfName, hfToTf, mapHfName, mapTfName, tfToHf, transpose2d, type ElectraPart } from "../../../src/io/tf/names.js";
import type { TensorData } from "../../../src/io/tensor-data.js";

const FIXTURE = "../shared/reference/fixtures/pretraining-step.safetensors";
const BERT = "../shared/data/tf-checkpoints/bert-base-chinese-INDEX-ONLY/bert_model.ckpt";

function f32(shape: number[], values: number[]): TensorData {
  return { dtype: "F32", shape, bytes: new Uint8Array(Float32Array.from(values).buffer) };
}
function same(a: TensorData, b: TensorData, what: string): void {
  assert.equal(a.dtype, b.dtype, what);
  assert.deepEqual(a.shape, b.shape, what);
  assert.ok(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), `bytes of ${what}`);
}

/**
 * The official TF name of an HF key, written out independently of tf-names.ts (the way
 * google-research/electra names variables), with whether the tensor is stored transposed.
 */
function officialName(hf: string, part: ElectraPart): { tf: string; transpose: boolean } | null {
  if (hf === "generator_lm_head.weight") return null; // tied to the word embeddings
  if (hf === "generator_lm_head.bias") return { tf: "generator_predictions/output_bias", transpose: false };
  const transpose = hf.endsWith(".weight") && !hf.includes("LayerNorm") && !hf.includes("_embeddings.");
  let n = hf
    .replace(/\.layer\.(\d+)\./, ".layer_$1.")
    .replace("dense_prediction", "dense_1")
    .replace(/LayerNorm\.weight$/, "LayerNorm.gamma")
    .replace(/LayerNorm\.bias$/, "LayerNorm.beta")
    .replace(/_embeddings\.weight$/, "_embeddings")
    .replace(/\.weight$/, ".kernel")
    .replaceAll(".", "/");
  if (part === "generator" && !n.startsWith("electra/embeddings/")) n = n.replace(/^electra\//, "generator/");
  return { tf: n, transpose };
}

function transposeF32(t: TensorData): TensorData {
  const [r, c] = t.shape;
  const src = new Float32Array(new Uint8Array(t.bytes).buffer);
  const dst = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) dst[j * r + i] = src[i * c + j];
  return { dtype: "F32", shape: [c, r], bytes: new Uint8Array(dst.buffer) };
}

test("a TF-named ELECTRA pretraining checkpoint converts back to both HF models exactly", { skip: existsSync(FIXTURE) ? false : `${FIXTURE} is absent` }, () => {
  const fx = readSafetensors(FIXTURE).tensors;
  const parts: Record<ElectraPart, Map<string, TensorData>> = { discriminator: new Map(), generator: new Map() };
  for (const [k, t] of fx) {
    const m = /^param\/(discriminator|generator)\/(.*)$/.exec(k);
    if (m) parts[m[1] as ElectraPart].set(m[2], t);
  }
  assert.ok(parts.discriminator.size > 40 && parts.generator.size > 40);

  // the checkpoint: both models under their TF names, shared embeddings once, plus optimizer state
  const tf = new Map<string, TensorData>();
  for (const part of ["discriminator", "generator"] as const) {
    for (const [hf, t] of parts[part]) {
      const o = officialName(hf, part);
      if (!o) continue;
      const value = o.transpose ? transposeF32(t) : t;
      const prev = tf.get(o.tf);
      if (prev) {
        same(prev, value, `shared ${o.tf}`); // the generator starts from the discriminator's embeddings
        continue;
      }
      tf.set(o.tf, value);
      if (tf.size % 3 === 0) {
        tf.set(`${o.tf}/adam_m`, f32(value.shape, new Array(value.shape.reduce((a, b) => a * b, 1)).fill(0.25)));
        tf.set(`${o.tf}/adam_v`, f32(value.shape, new Array(value.shape.reduce((a, b) => a * b, 1)).fill(0.5)));
      }
    }
  }
  assert.ok(tf.has("electra/embeddings/word_embeddings"));
  assert.ok(tf.has("generator/encoder/layer_1/output/dense/kernel"));
  assert.ok(tf.has("discriminator_predictions/dense_1/kernel"));
  assert.ok(!tf.has("generator/embeddings/word_embeddings"));
  tf.set("global_step", { dtype: "I64", shape: [], bytes: new Uint8Array(BigInt64Array.from([1000n]).buffer) });
  tf.set("temperature", f32([], [1]));

  const dir = mkdtempSync(join(tmpdir(), "electra-tfnames-"));
  try {
    const prefix = join(dir, "model.ckpt-1000");
    writeTfCheckpoint(prefix, tf);
    const read = readTfCheckpoint(prefix);
    for (const part of ["discriminator", "generator"] as const) {
      const hf = tfToHf(read, part);
      assert.deepEqual([...hf.keys()].sort(), [...parts[part].keys()].sort(), `${part} keys`);
      for (const [k, t] of parts[part]) same(hf.get(k) as TensorData, t, `${part} ${k}`);
      // name-only mapping on the index gives the same names (tied lm head aside)
      const names = readTfIndex(prefix).entries.map((e) => mapTfName(e.name, part)).filter((n): n is string => n !== null);
      assert.deepEqual(names.sort(), [...parts[part].keys()].filter((k) => k !== "generator_lm_head.weight").sort());
      // and back: hfToTf gives the checkpoint's variables of this part
      for (const [name, t] of hfToTf(parts[part], part)) same(t, read.get(name) as TensorData, `hfToTf ${name}`);
    }
    assert.equal(tfToHf(read, "generator", { tiedLmHead: false }).has("generator_lm_head.weight"), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("name rules: skips, parts, special names, inverse", () => {
  assert.deepEqual(describeTfName("electra/encoder/layer_3/attention/self/query/kernel/adam_m", "discriminator"), { kind: "skip", reason: "optimizer state" });
  assert.deepEqual(describeTfName("global_step", "generator"), { kind: "skip", reason: "bookkeeping" });
  assert.deepEqual(describeTfName("generator/encoder/layer_0/output/dense/bias", "discriminator"), { kind: "skip", reason: "other part" });
  assert.deepEqual(describeTfName("discriminator_predictions/dense/kernel", "generator"), { kind: "skip", reason: "other part" });
  assert.deepEqual(describeTfName("generator_predictions/output_bias", "discriminator"), { kind: "skip", reason: "other part" });
  assert.deepEqual(describeTfName("foo/bar", "generator"), { kind: "unknown" });
  const cases: [string, ElectraPart, string, boolean][] = [
    ["electra/embeddings/word_embeddings", "discriminator", "electra.embeddings.word_embeddings.weight", false],
    ["electra/embeddings/LayerNorm/gamma", "generator", "electra.embeddings.LayerNorm.weight", false],
    ["electra/embeddings_project/kernel", "discriminator", "electra.embeddings_project.weight", true],
    ["generator/embeddings_project/bias", "generator", "electra.embeddings_project.bias", false],
    ["electra/encoder/layer_11/attention/output/LayerNorm/beta", "discriminator", "electra.encoder.layer.11.attention.output.LayerNorm.bias", false],
    ["generator/encoder/layer_0/intermediate/dense/kernel", "generator", "electra.encoder.layer.0.intermediate.dense.weight", true],
    ["discriminator_predictions/dense_1/kernel", "discriminator", "discriminator_predictions.dense_prediction.weight", true],
    ["generator_predictions/LayerNorm/beta", "generator", "generator_predictions.LayerNorm.bias", false],
    ["generator_predictions/output_bias", "generator", "generator_lm_head.bias", false],
  ];
  for (const [tf, part, hf, transpose] of cases) {
    assert.deepEqual(describeTfName(tf, part), { kind: "param", hf, transpose, shared: tf.startsWith("electra/embeddings/") }, tf);
    assert.deepEqual(mapHfName(hf, part), { tf, transpose }, hf);
  }
  assert.equal(mapHfName("generator_lm_head.weight", "generator"), null);
  assert.throws(() => tfToHf(new Map([["mystery/kernel", f32([1, 1], [1])]]), "discriminator"), /match no ELECTRA\/BERT name rule \(first: mystery\/kernel\)/);
  assert.equal(tfToHf(new Map([["mystery/kernel", f32([1, 1], [1])]]), "discriminator", { strict: false }).size, 0);
  // a generator's own embeddings win over the shared ones
  const own = tfToHf(new Map([["generator/embeddings/word_embeddings", f32([1], [2])], ["electra/embeddings/word_embeddings", f32([1], [1])]]), "generator");
  assert.deepEqual([...new Float32Array(new Uint8Array((own.get("electra.embeddings.word_embeddings.weight") as TensorData).bytes).buffer)], [2]);
  const t = transpose2d({ dtype: "F16", shape: [2, 3], bytes: Uint8Array.from([1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0]) });
  assert.deepEqual(t.shape, [3, 2]);
  assert.deepEqual([...t.bytes], [1, 0, 4, 0, 2, 0, 5, 0, 3, 0, 6, 0]);
});

test("all 206 variables of the BERT index map to Hugging Face BERT names", { skip: existsSync(`${BERT}.index`) ? false : `${BERT}.index is absent` }, () => {
  const idx = readTfIndex(BERT);
  assert.equal(idx.entries.length, 206);
  const mapped = new Map<string, string>();
  for (const e of idx.entries) {
    const hf = mapTfName(e.name, "discriminator");
    assert.ok(hf, `${e.name} maps`);
    assert.equal(mapTfName(e.name, "generator"), hf, "BERT names do not depend on the part");
    mapped.set(e.name, hf);
  }
  assert.equal(new Set(mapped.values()).size, 206, "no two variables share a name");
  const expect: [string, string][] = [
    ["bert/embeddings/word_embeddings", "embeddings.word_embeddings.weight"],
    ["bert/embeddings/LayerNorm/gamma", "embeddings.LayerNorm.weight"],
    ["bert/encoder/layer_0/attention/self/query/kernel", "encoder.layer.0.attention.self.query.weight"],
    ["bert/encoder/layer_11/output/LayerNorm/beta", "encoder.layer.11.output.LayerNorm.bias"],
    ["bert/pooler/dense/kernel", "pooler.dense.weight"],
    ["cls/predictions/output_bias", "cls.predictions.bias"],
    ["cls/predictions/transform/dense/kernel", "cls.predictions.transform.dense.weight"],
    ["cls/predictions/transform/LayerNorm/gamma", "cls.predictions.transform.LayerNorm.weight"],
    ["cls/seq_relationship/output_weights", "cls.seq_relationship.weight"],
    ["cls/seq_relationship/output_bias", "cls.seq_relationship.bias"],
  ];
  for (const [tf, hf] of expect) assert.equal(mapped.get(tf), hf, tf);
  assert.equal(mapTfName("bert/pooler/dense/kernel", "discriminator", { bertPrefix: "bert." }), "bert.pooler.dense.weight");
  // kernels are the transposed ones: torch shapes come out [out, in]
  const k = describeTfName("bert/encoder/layer_0/intermediate/dense/kernel", "discriminator");
  assert.deepEqual(k, { kind: "param", hf: "encoder.layer.0.intermediate.dense.weight", transpose: true, shared: false });
  assert.equal(describeTfName("cls/seq_relationship/output_weights", "discriminator").kind === "param" && (describeTfName("cls/seq_relationship/output_weights", "discriminator") as { transpose: boolean }).transpose, false);
});
