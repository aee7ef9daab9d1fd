import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ConfigError, MAX_PARAMETERS, parameterCount, parseConfig } from "../../src/model/config.js";
import { createModel, RunContext } from "../../src/model/electra.js";
import { crossEntropyLoss } from "../../src/model/losses.js";
import { initParams } from "../../src/model/params.js";
import { sharedPath, skipUnless } from "../helpers/paths.js";

const models = sharedPath("data", "models");

test("released Hugging Face configs parse", { skip: skipUnless(models) }, () => {
  const small = parseConfig(JSON.parse(readFileSync(`${models}/google-electra-small-discriminator/config.json`, "utf8")));
  assert.equal(small.hidden_size, 256);
  assert.equal(small.embedding_size, 128);
  const base = parseConfig(JSON.parse(readFileSync(`${models}/google-electra-base-discriminator/config.json`, "utf8")));
  assert.equal(base.num_attention_heads, 12);
  const cls = parseConfig(JSON.parse(readFileSync(`${models}/rickSomers-electra-small-finetuned-seqcls/config.json`, "utf8")));
  assert.equal(cls.num_labels, 2);
  assert.deepEqual(cls.id2label, { 0: "Acceptable", 1: "Unacceptable" });
  // parameter shapes as Hugging Face has them
  const m = createModel("discriminator", small);
  assert.deepEqual(m.store.spec("electra.embeddings_project.weight").shape, [256, 128]);
  assert.deepEqual(m.store.spec("electra.encoder.layer.11.intermediate.dense.weight").shape, [1024, 256]);
  assert.deepEqual(m.store.spec("discriminator_predictions.dense_prediction.weight").shape, [1, 256]);
  // 3972864 embeddings + 33024 projection + 12 x 789760 layers + 66049 head, counted by hand
  assert.equal(m.store.size, 13549057);
});

test("unknown config keys are rejected, known Hugging Face ones are not", () => {
  assert.throws(() => parseConfig({ hidden_size: 64, num_attention_heads: 4, hiden_size: 3 }), (e: Error) =>
    e instanceof ConfigError && /unknown key "hiden_size"/.test(e.message));
  assert.doesNotThrow(() => parseConfig({ transformers_version: "4.6.0", summary_type: "first", use_cache: true }));
  assert.throws(() => parseConfig({ hidden_act: "gelu_new" }), /hidden_act "gelu_new" is not supported/);
  assert.throws(() => parseConfig({ hidden_size: 100, num_attention_heads: 3 }), /not a multiple/);
  assert.throws(() => parseConfig({ vocab_size: -1 }), /vocab_size must be a positive integer/);
  assert.throws(() => parseConfig({ model_type: "bert" }), /expected "electra"/);
  assert.throws(() => parseConfig([]), /not a JSON object/);
});

test("sizes past what a model can hold are refused before any allocation, naming the sizes; messages say what is wrong", () => {
  // the count bounds every head's model from above, closely
  for (const raw of [{}, { embedding_size: 64, hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2 }, { position_embedding_type: "relative_key", num_labels: 9 }]) {
    const c = parseConfig(raw);
    for (const kind of ["discriminator", "generator", "classifier"] as const) {
      const size = createModel(kind, c).store.size;
      assert.ok(parameterCount(c) >= size && parameterCount(c) < 1.05 * size, `${kind} ${JSON.stringify(raw)}: ${parameterCount(c)} vs ${size}`);
    }
  }
  assert.throws(() => parseConfig({ num_hidden_layers: 1000000 }, "c.json"), (e: Error) =>
    e instanceof ConfigError && /^c\.json: these sizes make a model of \d+\.\d\d billion parameters \(num_hidden_layers 1000000, .*\), more than electra-ts holds/.test(e.message));
  assert.throws(() => parseConfig({ intermediate_size: 2000000000 }), /billion parameters .*intermediate_size 2000000000/);
  assert.throws(() => parseConfig({ num_labels: 2 ** 40 }), /billion parameters .*num_labels 1099511627776/);
  assert.ok(parameterCount(parseConfig({ hidden_size: 1024, num_attention_heads: 16, intermediate_size: 4096, num_hidden_layers: 24, embedding_size: 1024 })) < MAX_PARAMETERS, "ELECTRA-Large fits");
  assert.throws(() => parseConfig({ hidden_size: -128 }), (e: Error) => e.message === "config: hidden_size must be a positive integer, got -128");
  assert.throws(() => parseConfig({ hidden_size: 2 ** 60 }), /got 1152921504606847000 \(too large\)$/);
  assert.throws(() => parseConfig({ id2label: { 5: "neg", 7: "pos" } }), /id2label's keys must be the class ids 0 to 1, got "5"/);
});

test("position_embedding_type: absolute (default) and relative_key, which declares a distance table per layer", () => {
  assert.equal(parseConfig({}).position_embedding_type, "absolute");
  const rel = parseConfig({ position_embedding_type: "relative_key", hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, max_position_embeddings: 40 });
  assert.equal(rel.position_embedding_type, "relative_key");
  assert.throws(() => parseConfig({ position_embedding_type: "relative_key_query" }), /position_embedding_type "relative_key_query" is not supported/);
  const m = createModel("discriminator", rel);
  initParams(m.store, 0.02, 1);
  // transformers: nn.Embedding(2 * max_position_embeddings - 1, attention_head_size) in every layer
  assert.deepEqual(m.store.spec("electra.encoder.layer.1.attention.self.distance_embedding.weight").shape, [79, 16]);
  assert.throws(() => createModel("discriminator", parseConfig({ hidden_size: 64, num_attention_heads: 4 })).store.spec("electra.encoder.layer.0.attention.self.distance_embedding.weight"));
  // the position table stays (transformers keeps it) but adds nothing: overwriting it changes no output
  const batch = { B: 1, T: 5, inputIds: Int32Array.from([2, 7, 9, 11, 3]), tokenTypeIds: new Int32Array(5), attentionMask: Int32Array.from([1, 1, 1, 1, 1]) };
  const first = Float32Array.from(m.forward(new RunContext({ train: false }), batch).logits);
  m.store.get("electra.embeddings.position_embeddings.weight").fill(3);
  assert.deepEqual(Float32Array.from(m.forward(new RunContext({ train: false }), batch).logits), first);
  // and gets no gradient, while every layer's distance table does
  const ctx = new RunContext({ train: false });
  const out = m.forward(ctx, batch);
  m.store.zeroGrad();
  m.backward(ctx, out, Float32Array.from({ length: 5 }, (_, i) => i - 2));
  const norm = (g: Float32Array) => Math.sqrt(g.reduce((a, x) => a + x * x, 0));
  assert.equal(norm(m.store.g("electra.embeddings.position_embeddings.weight")), 0);
  for (const l of [0, 1]) assert.ok(norm(m.store.g(`electra.encoder.layer.${l}.attention.self.distance_embedding.weight`)) > 0, `layer ${l}`);
  m.store.get("electra.encoder.layer.0.attention.self.distance_embedding.weight").fill(0.5);
  assert.notDeepEqual(Float32Array.from(m.forward(new RunContext({ train: false }), batch).logits), first);
});

test("a config without embedding_size means embedding_size = hidden_size", () => {
  assert.equal(parseConfig({ hidden_size: 64, num_attention_heads: 4 }).embedding_size, 64);
});

test("bad batches throw errors that name the problem", () => {
  const cfg = parseConfig({ vocab_size: 50, hidden_size: 16, embedding_size: 8, num_attention_heads: 2, intermediate_size: 32, num_hidden_layers: 1, max_position_embeddings: 8 });
  const m = createModel("discriminator", cfg);
  const ctx = new RunContext();
  const ok = { B: 1, T: 4, inputIds: Int32Array.from([2, 7, 9, 3]), tokenTypeIds: new Int32Array(4), attentionMask: new Int32Array(4).fill(1) };
  assert.doesNotThrow(() => m.forward(ctx, ok));
  assert.throws(() => m.forward(ctx, { ...ok, inputIds: Int32Array.from([2, 7, 50, 3]) }), /token id 50 at position 2 is outside the vocabulary \[0, 50\)/);
  assert.throws(() => m.forward(ctx, { ...ok, tokenTypeIds: Int32Array.from([0, 0, 2, 0]) }), /token type id 2/);
  assert.throws(() => m.forward(ctx, { ...ok, attentionMask: new Int32Array(3) }), /attentionMask has 3 elements, expected B\*T/);
  assert.throws(() => m.forward(ctx, { ...ok, T: 9, B: 1, inputIds: new Int32Array(9), tokenTypeIds: new Int32Array(9), attentionMask: new Int32Array(9) }),
    /exceeds max_position_embeddings 8/);
  // a NaN in the weights surfaces as a clear error at the loss, not as silent NaN training
  m.store.get("electra.embeddings.LayerNorm.weight")[0] = NaN;
  const out = m.forward(ctx, ok);
  assert.throws(() => crossEntropyLoss(ctx, out.logits, Int32Array.from([0, 0, 0, 0]), 4, 1), /loss is NaN/);
});
