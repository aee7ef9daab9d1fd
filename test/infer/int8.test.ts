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
