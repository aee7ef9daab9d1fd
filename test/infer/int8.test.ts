/**
 * Dynamic int8 inference end to end (issue 18): `electra quantize` writes a folder that records what it is and
 * loads like any other (Electra.load, the CLI, evaluate's loader), in int8; its logits stay close to float32's;
 * the same bits run to run; `dtype` quantizes a float32 folder as it loads, or dequantizes a quantized one.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Electra } from "../../src/index.js";
import { quantizeFolder } from "../../src/model/quantize.js";
import { syntheticVocabulary } from "../../src/data/synthetic.js";
import { readHfFolder, saveHfFolder } from "../../src/io/hf-folder.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { parseConfig } from "../../src/model/config.js";
import { createModel, RunContext } from "../../src/model/electra.js";
import { initParams } from "../../src/model/params.js";

const dir = mkdtempSync(join(tmpdir(), "electra-int8-"));
const vocab = join(dir, "vocab.txt");
writeFileSync(vocab, syntheticVocabulary().join("\n") + "\n");
const base = {
  vocab_size: syntheticVocabulary().length, embedding_size: 16, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64,
  num_hidden_layers: 2, max_position_embeddings: 40,
};
const arch = { classifier: "ElectraForSequenceClassification", "token-classifier": "ElectraForTokenClassification" } as const;
for (const kind of ["classifier", "token-classifier"] as const) {
  const cfg = parseConfig(kind === "classifier" ? { ...base, num_labels: 3 } : { ...base, num_labels: 5, id2label: { 0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC" } });
  const m = createModel(kind, cfg);
  initParams(m.store, 0.1, 4);
  saveHfFolder(join(dir, kind), m.store, cfg, { architecture: arch[kind], tokenizerFiles: [vocab] });
  quantizeFolder(join(dir, kind), join(dir, `${kind}-int8`));
}
const texts = ["The loyal dog barks at the door.", "A fish swims.", "Some lazy cats sleep by the fire and the grey cat purrs on the chair."];

/** The logits of one padded batch of the texts. */
async function logits(m: Electra): Promise<Float32Array> {
  const enc = await m.tokenizer.encodePairBatch(texts.map((t) => [t, null] as const), 40);
  const T = Math.max(...enc.map((e) => e.length)), B = texts.length;
  const batch = { B, T, inputIds: new Int32Array(B * T), tokenTypeIds: new Int32Array(B * T), attentionMask: new Int32Array(B * T) };
  enc.forEach((e, b) => {
    batch.inputIds.set(e.inputIds.subarray(0, e.length), b * T);
    batch.attentionMask.fill(1, b * T, b * T + e.length);
  });
  return m.model.forward(new RunContext(), batch).logits.slice();
}

test("electra quantize: int8 encoder weights with per-channel scales, float32 head, config.json saying so; the folder loads in int8", async () => {
  const q = join(dir, "classifier-int8");
  const cfg = JSON.parse(readFileSync(join(q, "config.json"), "utf8"));
  assert.equal(cfg.quantization_config.quant_method, "dynamic-int8");
  const t = readSafetensors(join(q, "model.safetensors")).tensors;
  assert.equal(t.get("electra.encoder.layer.1.attention.self.key.weight")!.dtype, "I8");
  assert.deepEqual(t.get("electra.encoder.layer.1.attention.self.key.weight_scale")!.shape, [32]);
  assert.equal(t.get("electra.embeddings_project.weight")!.dtype, "I8");
  for (const n of ["electra.embeddings.word_embeddings.weight", "electra.encoder.layer.1.output.LayerNorm.weight", "electra.encoder.layer.1.output.dense.bias", "classifier.dense.weight", "classifier.out_proj.weight"]) {
    assert.equal(t.get(n)!.dtype, "F32", n);
  }
  assert.ok(statSync(join(q, "model.safetensors")).size < statSync(join(dir, "classifier", "model.safetensors")).size);
  const m = await Electra.load(q, { threads: 1 });
  assert.equal(m.dtype, "int8");
  assert.equal((await Electra.load(join(dir, "classifier"), { threads: 1 })).dtype, "fp32");
  // the default read (convert, inspect, fine-tuning from it) sees float32 weights and no quantization_config
  const f = readHfFolder(q);
  assert.equal(f.tensors.get("electra.encoder.layer.1.attention.self.key.weight")!.dtype, "F32");
  assert.equal(f.rawConfig.quantization_config, undefined);
  assert.throws(() => quantizeFolder(q, join(dir, "again")), /is quantized already/);
  assert.throws(() => quantizeFolder(join(dir, "classifier"), join(dir, "classifier")), /is the model folder itself/);
});

test("int8 logits stay close to float32's; dtype int8 on a float32 folder = the quantized folder, bit for bit; the same bits run to run", async () => {
  const fp32 = await logits(await Electra.load(join(dir, "classifier"), { threads: 1 }));
  const int8 = await Electra.load(join(dir, "classifier-int8"), { threads: 1 });
  const a = await logits(int8);
  let spread = 0, worst = 0;
  for (let i = 0; i < fp32.length; i++) {
    spread = Math.max(spread, Math.abs(fp32[i]));
    worst = Math.max(worst, Math.abs(a[i] - fp32[i]));
  }
  // tolerance: 5% of the largest logit (measured here: about 1%)
  assert.ok(worst <= 0.05 * spread, `int8 logits differ from float32 by ${worst} (largest logit ${spread})`);
  assert.ok(worst > 0, "int8 ran (not float32)");
  assert.deepEqual(Array.from(await logits(int8)), Array.from(a), "the same bits twice");
  const onTheFly = await Electra.load(join(dir, "classifier"), { threads: 1, dtype: "int8" });
  assert.equal(onTheFly.dtype, "int8");
  assert.deepEqual(Array.from(await logits(onTheFly)), Array.from(a));
  // dequantized: float32 arithmetic on the int8 weights, between the two
  const deq = await logits(await Electra.load(join(dir, "classifier-int8"), { threads: 1, dtype: "fp32" }));
  for (let i = 0; i < fp32.length; i++) assert.ok(Math.abs(deq[i] - fp32[i]) <= 0.05 * spread);
  // a fresh process (another load, other threads) computes the same bits
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", `
    import { Electra } from "./dist/src/index.js";
    const m = await Electra.load(${JSON.stringify(join(dir, "classifier-int8"))}, { threads: 2 });
    console.log(JSON.stringify(await m.classify(${JSON.stringify(texts)})));`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), await int8.classify(texts));
  assert.throws(() => int8.model.backward(new RunContext(), int8.model.forward(new RunContext(), { B: 1, T: 2, inputIds: Int32Array.of(2, 3), tokenTypeIds: new Int32Array(2), attentionMask: Int32Array.of(1, 1) }), new Float32Array(3)),
    /an int8 model runs inference only/);
});

test("the CLI: quantize, then classify and ner on the int8 folder; --dtype int8 on a float32 folder gives the same", () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ["dist/src/cli/main.js", ...args], { encoding: "utf8" });
  const out = join(dir, "cli-int8");
  const q = cli("quantize", join(dir, "token-classifier"), out);
  assert.equal(q.status, 0, q.stderr);
  assert.equal(JSON.parse(q.stdout).quantized, 13); // embeddings_project, and query, key, value, attention output, intermediate, output x 2 layers
  const ner = cli("ner", "--model", out, "--aggregation", "none", "--threads", "1", ...texts);
  assert.equal(ner.status, 0, ner.stderr);
  const onTheFly = cli("ner", "--model", join(dir, "token-classifier"), "--dtype", "int8", "--aggregation", "none", "--threads", "1", ...texts);
  assert.equal(onTheFly.stdout, ner.stdout);
  assert.equal(ner.stdout.trim().split("\n").length, 3);
  const c = cli("classify", "--model", join(dir, "classifier-int8"), "--format", "tsv", "--threads", "1", ...texts);
  assert.equal(c.status, 0, c.stderr);
  assert.equal(c.stdout.trim().split("\n").length, 3);
  const bad = cli("quantize", join(dir, "nowhere"), join(dir, "x"));
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /nowhere/);
  assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
});

test("a folder quantized by another method is refused, not read as float32", () => {
  const d = join(dir, "other");
  saveHfFolder(d, createModel("classifier", parseConfig({ ...base, num_labels: 3 })).store, parseConfig({ ...base, num_labels: 3 }), { architecture: arch.classifier, tokenizerFiles: [vocab] });
  const cfg = JSON.parse(readFileSync(join(d, "config.json"), "utf8"));
  writeFileSync(join(d, "config.json"), JSON.stringify({ ...cfg, quantization_config: { quant_method: "gptq", bits: 4 } }));
  assert.throws(() => readHfFolder(d), /quantization_config\.quant_method is "gptq"; electra-ts reads only its own "dynamic-int8" folders/);
});

test("a damaged quantized folder is refused where it is read: an int8 value of -128, a NaN, negative or huge scale", async () => {
  const { cpSync } = await import("node:fs");
  const { writeSafetensors } = await import("../../src/io/safetensors.js");
  const W = "electra.encoder.layer.0.attention.self.query.weight";
  const damaged = (name: string, edit: (t: Map<string, import("../../src/io/tensor-data.js").TensorData>) => void): string => {
    const d = join(dir, `damaged-${name}`);
    cpSync(join(dir, "classifier-int8"), d, { recursive: true });
    const t = new Map(readSafetensors(join(d, "model.safetensors")).tensors);
    edit(t);
    writeSafetensors(join(d, "model.safetensors"), t);
    return d;
  };
  const setByte = (t: Map<string, import("../../src/io/tensor-data.js").TensorData>, name: string, at: number, v: number) => {
    const x = t.get(name)!;
    const b = new Uint8Array(x.bytes);
    b[at] = v;
    t.set(name, { ...x, bytes: b });
  };
  const setScale = (t: Map<string, import("../../src/io/tensor-data.js").TensorData>, v: number) => {
    const x = t.get(W + "_scale")!;
    const f = new Float32Array(new Uint8Array(x.bytes).buffer);
    f[3] = v;
    t.set(W + "_scale", { ...x, bytes: new Uint8Array(f.buffer) });
  };
  const m128 = damaged("m128", (t) => setByte(t, W, 32 + 7, 0x80));
  for (const dtype of ["int8", "fp32"] as const) {
    await assert.rejects(Electra.load(m128, { threads: 1, dtype }), (e: Error) => {
      assert.equal(e.message, `${join(m128, "model.safetensors")}: ${W} holds -128 at [1, 7]; int8 weights are in [-127, 127] (the file is damaged or not written by electra quantize)`);
      return true;
    });
  }
  for (const [name, v, shown] of [["nan", NaN, "NaN"], ["negative", -1, "-1"], ["huge", 3e38, "3.0000000054977558e+38"]] as const) {
    const d = damaged(name, (t) => setScale(t, v));
    await assert.rejects(Electra.load(d, { threads: 1 }), new RegExp(`model\\.safetensors: ${W.replace(/\./g, "\\.")}_scale\\[3\\] = ${shown.replace(/[.+]/g, "\\$&")}: a scale is a number from 0 to 1e30`));
  }
});

test("a float folder: NaN or infinite weights, a config.json that is null, weights that are a directory: one line naming the file", async () => {
  const { cpSync, mkdirSync, rmSync } = await import("node:fs");
  const { writeSafetensors } = await import("../../src/io/safetensors.js");
  const d = join(dir, "float-damaged");
  cpSync(join(dir, "classifier"), d, { recursive: true });
  const file = join(d, "model.safetensors");
  const good = readSafetensors(file).tensors;
  for (const v of [NaN, Infinity]) {
    const t = new Map(good);
    const x = t.get("classifier.dense.weight")!;
    const f = new Float32Array(new Uint8Array(x.bytes).buffer);
    f[5] = v;
    t.set("classifier.dense.weight", { ...x, bytes: new Uint8Array(f.buffer) });
    writeSafetensors(file, t);
    await assert.rejects(Electra.load(d, { threads: 1 }), (e: Error) => {
      assert.equal(e.message, `${file}: tensor classifier.dense.weight holds ${v} at element 5 (of [32,32]): the weights are damaged, or saved from a run that diverged`);
      return true;
    });
  }
  writeSafetensors(file, good);
  const cfg = readFileSync(join(d, "config.json"), "utf8");
  writeFileSync(join(d, "config.json"), "null");
  assert.throws(() => readHfFolder(d), (e: Error) => e.message === `${join(d, "config.json")}: expected a JSON object of the model's settings, got null`);
  writeFileSync(join(d, "config.json"), cfg);
  rmSync(file);
  mkdirSync(file);
  assert.throws(() => readHfFolder(d), (e: Error) => e.message === `${file} is not a file`);
});
