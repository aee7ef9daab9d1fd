/** The library API (src/infer/electra.ts) and the inference commands, on small random models saved as HF folders. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Electra } from "../../src/index.js";
import { topIndices } from "../../src/infer/electra.js";
import { syntheticVocabulary } from "../../src/data/synthetic.js";
import { saveHfFolder } from "../../src/io/hf-folder.js";
import { parseConfig } from "../../src/model/config.js";
import { createModel } from "../../src/model/electra.js";
import { initParams } from "../../src/model/params.js";

const dir = mkdtempSync(join(tmpdir(), "electra-infer-"));
const vocab = join(dir, "vocab.txt");
writeFileSync(vocab, syntheticVocabulary().join("\n") + "\n");
const V = syntheticVocabulary().length;
const base = { vocab_size: V, embedding_size: 16, hidden_size: 24, num_attention_heads: 2, intermediate_size: 48, num_hidden_layers: 2, max_position_embeddings: 40 };
const arch = { classifier: "ElectraForSequenceClassification", discriminator: "ElectraForPreTraining", generator: "ElectraForMaskedLM" } as const;
for (const kind of ["classifier", "discriminator", "generator"] as const) {
  const cfg = parseConfig(kind === "classifier" ? { ...base, id2label: { 0: "negative", 1: "neutral", 2: "positive" } } : base);
  const m = createModel(kind, cfg);
  initParams(m.store, 0.5, kind.length);
  saveHfFolder(join(dir, kind), m.store, cfg, { architecture: arch[kind], tokenizerFiles: [vocab] });
}
const texts = ["The loyal dog barks at the door.", "A fish swims.", "Some lazy cats sleep by the fire and the grey cat purrs on the chair."];

test("classify: labels from id2label, probabilities that sum to 1, independent of batching", async () => {
  const one = await Electra.load(join(dir, "classifier"), { batchSize: 1, threads: 1 });
  const all = await Electra.load(join(dir, "classifier"), { batchSize: 8, threads: 1 });
  const a = await one.classify(texts), b = await all.classify(texts);
  assert.equal(b.length, 3);
  for (let i = 0; i < 3; i++) {
    assert.ok(["negative", "neutral", "positive"].includes(b[i].label));
    const s = Object.values(b[i].scores).reduce((x, y) => x + y, 0);
    assert.ok(Math.abs(s - 1) < 1e-9);
    // padding to a longer batch must not change a result
    for (const k of Object.keys(a[i].scores)) assert.ok(Math.abs(a[i].scores[k] - b[i].scores[k]) < 1e-5, `${i} ${k}`);
  }
  const pairs = await all.classify([["A fish swims.", "The fish hides."]]);
  assert.equal(pairs.length, 1);
});

test("detect: one probability per word piece, [CLS]/[SEP] left out; fill-mask: top-k per [MASK]; embed: one vector each", async () => {
  const d = await Electra.load(join(dir, "discriminator"), { threads: 1 });
  const det = await d.detect(texts);
  assert.deepEqual(det[0].map((t) => t.token), ["the", "loyal", "dog", "barks", "at", "the", "door", "."]);
  for (const t of det[0]) assert.equal(t.replaced, t.probability > 0.5);
  const g = await Electra.load(join(dir, "generator"), { threads: 1 });
  const fm = await g.fillMask(["The loyal dog [MASK] at the [MASK].", "no mask here"], 4);
  assert.equal(fm[0].length, 2);
  assert.equal(fm[1].length, 0);
  assert.equal(fm[0][0].length, 4);
  assert.ok(fm[0][0][0].probability >= fm[0][0][1].probability);
  const e = await d.embed(texts);
  assert.equal(e.length, 3);
  assert.equal(e[0].length, 24);
  const e1 = await (await Electra.load(join(dir, "discriminator"), { threads: 1, batchSize: 1 })).embed(texts);
  for (let i = 0; i < 24; i++) assert.ok(Math.abs(e[2][i] - e1[2][i]) < 1e-5);
});

test("fill-mask's top-k selection is a stable sort of all the indices by value, cut to k", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 50; trial++) {
    const n = 1 + Math.floor(rand() * 200), k = Math.floor(rand() * 12);
    // few distinct values, so that ties are common
    const v = Float64Array.from({ length: n }, () => Math.floor(rand() * 9) / 8);
    const want = Array.from(v.keys()).sort((a, b) => v[b] - v[a]).slice(0, k);
    assert.deepEqual(topIndices(v, k), want, `n ${n} k ${k}`);
  }
});

test("the wrong kind of model, or a folder without a vocabulary, is a clear error", async () => {
  const d = await Electra.load(join(dir, "discriminator"), { threads: 1 });
  await assert.rejects(d.classify(["x"]), /classify needs a classifier model; .* holds a discriminator/);
  rmSync(join(dir, "generator", "vocab.txt"));
  await assert.rejects(Electra.load(join(dir, "generator")), /has neither vocab\.txt nor tokenizer\.json/);
});

test("the inference commands read arguments, files and stdin and print JSON or TSV", () => {
  const cli = join(process.cwd(), "dist", "src", "cli", "main.js");
  const run = (args: string[], input?: string) => spawnSync(process.execPath, [cli, ...args, "--threads", "1"], { encoding: "utf8", input });
  const r = run(["classify", "--model", join(dir, "classifier"), ...texts.slice(0, 2)]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.equal(lines[0].text, texts[0]);
  const s = run(["classify", "--model", join(dir, "classifier"), "--pairs", "--format", "tsv"], "A fish swims.\tThe fish hides.\n");
  assert.equal(s.status, 0, s.stderr);
  assert.equal(s.stdout.trim().split("\t").length, 4);
  const bad = run(["classify", "--model", join(dir, "classifier"), "--pairs"], "no tab here\n");
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^electra: standard input:1: --pairs expects/);
  // a file's line is counted with its blank lines; an argument is named by its position
  const pairsFile = join(dir, "pairs.txt");
  writeFileSync(pairsFile, "a\tb\n\n\nc\td\ne only\n");
  const badFile = run(["classify", "--model", join(dir, "classifier"), "--pairs", "--file", pairsFile]);
  assert.equal(badFile.status, 1);
  assert.equal(badFile.stderr, `electra: ${pairsFile}:5: --pairs expects "sentence A<TAB>sentence B", found 1 field(s)\n`);
  assert.match(run(["classify", "--model", join(dir, "classifier"), "--pairs", "a\tb", "c"]).stderr, /^electra: input 2: --pairs expects/);
  // a tab or newline inside a text is escaped in TSV output: the columns stay put
  const tab = run(["classify", "--model", join(dir, "classifier"), "--format", "tsv"], "A fish\tswims \\ hides.\n");
  assert.equal(tab.status, 0, tab.stderr);
  assert.deepEqual(tab.stdout.trim().split("\t").slice(0, 1), ["A fish\\tswims \\\\ hides."]);
  assert.equal(tab.stdout.trim().split("\t").length, 3);
  // counts are checked where they are given, naming the flag
  const zero = run(["classify", "--model", join(dir, "classifier"), "--batch-size", "0", "A fish swims."]);
  assert.equal(zero.status, 1);
  assert.match(zero.stderr, /^error: option '--batch-size <n>' argument '0' is invalid\. expected a positive integer, got 0/);
  // --max-seq-length cuts inputs: two texts that differ only after their first 4 pieces get the same scores
  const long = run(["classify", "--model", join(dir, "classifier"), "--max-seq-length", "6", texts[2], `${texts[2]} And the dog barks.`]);
  assert.equal(long.status, 0, long.stderr);
  // (the same tokens in two rows of a batch: equal up to the BLAS kernel's row blocking)
  const gap = (a: Record<string, number>, b: Record<string, number>) => Math.max(...Object.keys(a).map((k) => Math.abs(a[k] - b[k])));
  const [l1, l2] = long.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(gap(l1.scores, l2.scores) < 1e-6, `cut to 6 tokens: ${gap(l1.scores, l2.scores)}`);
  const full = run(["classify", "--model", join(dir, "classifier"), texts[2], `${texts[2]} And the dog barks.`]);
  const [f1, f2] = full.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(gap(f1.scores, f2.scores) > 1e-4, `without the cut the two differ: ${gap(f1.scores, f2.scores)}`);
  const det = run(["detect", "--model", join(dir, "discriminator"), "--format", "tsv", "The fish swims."]);
  assert.equal(det.status, 0, det.stderr);
  assert.match(det.stdout, /^the\*? fish\*? swims\*? \.\*?\n$/);
});
