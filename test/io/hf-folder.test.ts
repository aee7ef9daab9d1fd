/** Hugging Face folders: save and load, strict key checking, tied lm head, bare encoder keys, .bin weights. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportTensors, loadIntoStore, readHfFolder, saveHfFolder, tokenizerFileNames, writeHfFolder } from "../../src/io/hf-folder.js";
import { writePytorchLegacy } from "../../src/io/pytorch.js";
import type { TensorData } from "../../src/io/tensor-data.js";
import { parseConfig } from "../../src/model/config.js";
import { createModel } from "../../src/model/electra.js";
import { initParams } from "../../src/model/params.js";

const cfg = parseConfig({ vocab_size: 40, embedding_size: 8, hidden_size: 16, num_attention_heads: 2, intermediate_size: 32, num_hidden_layers: 2, max_position_embeddings: 16 });

test("save -> load round trip is exact; the tied lm head is written once and may be absent or present", () => {
  const dir = mkdtempSync(join(tmpdir(), "electra-hf-"));
  const gen = createModel("generator", cfg);
  initParams(gen.store, 0.02, 3);
  saveHfFolder(join(dir, "g"), gen.store, cfg, { architecture: "ElectraForMaskedLM" });
  const f = readHfFolder(join(dir, "g"));
  assert.equal(f.tensors.has("generator_lm_head.weight"), false, "tied weight not duplicated");
  assert.deepEqual(f.rawConfig.architectures, ["ElectraForMaskedLM"]);
  const again = createModel("generator", f.config);
  loadIntoStore(again.store, f.tensors);
  assert.deepEqual(again.store.data, gen.store.data);
  // present as well (as older transformers save it): loads the same storage
  const withTied = new Map(f.tensors);
  withTied.set("generator_lm_head.weight", f.tensors.get("electra.embeddings.word_embeddings.weight")!);
  const third = createModel("generator", f.config);
  loadIntoStore(third.store, withTied);
  assert.deepEqual(third.store.data, gen.store.data);
  rmSync(dir, { recursive: true });
});

test("a vocabulary under another name is saved as vocab.txt (a .json one as tokenizer.json), so the folder loads by itself", () => {
  const dir = mkdtempSync(join(tmpdir(), "electra-hf-"));
  try {
    const vocab = join(dir, "vocab-gutenberg-8k.txt");
    writeFileSync(vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n");
    const disc = createModel("discriminator", cfg);
    initParams(disc.store, 0.02, 4);
    saveHfFolder(join(dir, "d"), disc.store, cfg, { architecture: "ElectraForPreTraining", tokenizerFiles: [vocab] });
    assert.deepEqual(readdirSync(join(dir, "d")).sort(), ["config.json", "model.safetensors", "vocab.txt"]);
    assert.equal(readFileSync(join(dir, "d", "vocab.txt"), "utf8"), readFileSync(vocab, "utf8"));
    assert.equal(readHfFolder(join(dir, "d")).tokenizerFile, join(dir, "d", "vocab.txt"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(tokenizerFileNames(["/a/tokenizer.json", "/a/vocab.txt", "/a/special_tokens_map.json"]).map((x) => x[1]),
    ["tokenizer.json", "vocab.txt", "special_tokens_map.json"]);
  assert.deepEqual(tokenizerFileNames(["/b/my-tok.json", "/b/words"]).map((x) => x[1]), ["tokenizer.json", "vocab.txt"]);
  assert.throws(() => tokenizerFileNames(["/a/vocab.txt", "/b/other.txt"]), /\/a\/vocab\.txt and \/b\/other\.txt would both be saved as vocab\.txt/);
});

test("strict loading names missing and unexpected keys and shape mismatches", () => {
  const disc = createModel("discriminator", cfg);
  const t = exportTensors(disc.store);
  const cls = createModel("classifier", cfg);
  assert.throws(() => loadIntoStore(cls.store, t, { source: "disc.safetensors" }), (e: Error) =>
    /missing from disc\.safetensors: classifier\.dense\.weight/.test(e.message) && /unexpected in disc\.safetensors.*discriminator_predictions\.dense\.weight/.test(e.message));
  // the position_ids buffer older transformers saved beside the weights is no parameter: skipped
  const withIds = new Map(t);
  withIds.set("electra.embeddings.position_ids", { dtype: "I64", shape: [1, 16], bytes: new Uint8Array(new BigInt64Array(16).map((_, i) => BigInt(i)).buffer) });
  assert.doesNotThrow(() => loadIntoStore(disc.store, withIds));
  // fine-tuning from a discriminator: the new head may be missing, the old head ignored
  const r = loadIntoStore(cls.store, t, { allowMissing: ["classifier."], allowUnexpected: ["discriminator_predictions."] });
  assert.ok(r.missing.includes("classifier.out_proj.weight"));
  const bad = new Map(t);
  bad.set("electra.embeddings.word_embeddings.weight", { dtype: "F32", shape: [41, 8], bytes: new Uint8Array(41 * 8 * 4) });
  assert.throws(() => loadIntoStore(disc.store, bad), /cannot load checkpoint: the model's config says vocab_size 40; the weights have vocab_size 41; 1 tensor\(s\) of another shape \(electra\.embeddings\.word_embeddings\.weight \[41,8\] in the file, \[40,8\] in the model\)$/);
});

test("a config that does not fit the weights is one line naming the sizes that differ", () => {
  const small = createModel("discriminator", cfg);
  const weights = exportTensors(small.store);
  const oneLine = (other: Record<string, number>, want: RegExp) => {
    const model = createModel("discriminator", parseConfig({ ...cfg, ...other }));
    assert.throws(() => loadIntoStore(model.store, weights, { source: "w.safetensors" }), (e: Error) => {
      assert.ok(!e.message.includes("\n"), e.message);
      assert.match(e.message, want);
      return true;
    });
  };
  oneLine({ hidden_size: 32 }, /^cannot load w\.safetensors: the model's config says hidden_size 32; the weights have hidden_size 16; \d+ tensor\(s\) of another shape \(.* and \d+ more\)$/);
  oneLine({ intermediate_size: 48, embedding_size: 4 }, /config says embedding_size 4, intermediate_size 48; the weights have embedding_size 8, intermediate_size 32;/);
  oneLine({ num_hidden_layers: 3 }, /config says num_hidden_layers 3; the weights have num_hidden_layers 2; missing from w\.safetensors: electra\.encoder\.layer\.2\..* and \d+ more$/);
  oneLine({ num_hidden_layers: 1 }, /config says num_hidden_layers 1; the weights have num_hidden_layers 2; unexpected in w\.safetensors \(not part of this model\): electra\.encoder\.layer\.1\./);
  // one tensor gone from the top layer: named, and no layer count is made up (both sides have layers 0 and 1)
  const holed = new Map(weights);
  holed.delete("electra.encoder.layer.1.attention.self.query.weight");
  const same = createModel("discriminator", cfg);
  assert.throws(() => loadIntoStore(same.store, holed, { source: "w.safetensors" }), (e: Error) => {
    assert.equal(e.message, "cannot load w.safetensors: missing from w.safetensors: electra.encoder.layer.1.attention.self.query.weight");
    return true;
  });
});

test("bare ElectraModel keys (no electra. prefix), F16 weights and pytorch_model.bin load", () => {
  const dir = mkdtempSync(join(tmpdir(), "electra-hf-"));
  const disc = createModel("discriminator", cfg);
  initParams(disc.store, 0.02, 4);
  const bare = new Map<string, TensorData>();
  for (const [k, v] of exportTensors(disc.store)) {
    if (!k.startsWith("electra.")) continue;
    // store as F16 to exercise the upcast
    const f32 = new Float32Array(v.bytes.buffer.slice(v.bytes.byteOffset, v.bytes.byteOffset + v.bytes.byteLength));
    const h = new Uint16Array(f32.length);
    const dv = new DataView(new ArrayBuffer(4));
    for (let i = 0; i < f32.length; i++) {
      dv.setFloat32(0, f32[i]);
      const x = dv.getUint32(0), sign = (x >>> 16) & 0x8000, exp = ((x >>> 23) & 0xff) - 127 + 15, mant = (x >>> 13) & 0x3ff;
      h[i] = exp <= 0 ? sign : sign | (exp << 10) | mant;
    }
    bare.set(k.slice("electra.".length), { dtype: "F16", shape: v.shape, bytes: new Uint8Array(h.buffer) });
  }
  mkdirSync(join(dir, "m"), { recursive: true });
  writeFileSync(join(dir, "m", "config.json"), JSON.stringify({ ...cfg, architectures: ["ElectraModel"] }));
  writePytorchLegacy(bare, join(dir, "m", "pytorch_model.bin"));
  const f = readHfFolder(join(dir, "m"));
  assert.match(f.weightsFile, /pytorch_model\.bin$/);
  const m = createModel("discriminator", f.config);
  const r = loadIntoStore(m.store, f.tensors, { allowMissing: ["discriminator_predictions."] });
  assert.equal(r.unexpected.length, 0);
  const a = m.store.get("electra.encoder.layer.1.output.dense.weight"), b = disc.store.get("electra.encoder.layer.1.output.dense.weight");
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-3 * Math.abs(b[i]) + 1e-4, `F16 value ${i}: ${a[i]} vs ${b[i]}`);
  rmSync(dir, { recursive: true });
});

test("missing folders, configs and weights give clear errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "electra-hf-"));
  assert.throws(() => readHfFolder(join(dir, "nope")), /does not exist/);
  assert.throws(() => readHfFolder(dir), /has no config\.json/);
  writeFileSync(join(dir, "config.json"), "{ not json");
  assert.throws(() => readHfFolder(dir), /config\.json is not valid JSON/);
  writeHfFolder(join(dir, "w"), new Map(), { hidden_size: 16, num_attention_heads: 2 });
  rmSync(join(dir, "w", "model.safetensors"));
  assert.throws(() => readHfFolder(join(dir, "w")), /neither model\.safetensors nor pytorch_model\.bin/);
  rmSync(dir, { recursive: true });
});

