import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setThreads } from "../../src/core/native.js";
import { Rng } from "../../src/core/rng.js";
import { GLUE_TASKS, readGlueSplit, type GlueTaskName } from "../../src/data/glue.js";
import { WordPieceTokenizer } from "../../src/data/tokenizer.js";
import { saveHfFolder } from "../../src/io/hf-folder.js";
import { parseConfig } from "../../src/model/config.js";
import { createModel, type ElectraForSequenceClassification } from "../../src/model/electra.js";
import { initParams } from "../../src/model/params.js";
import { evaluateCommand, finetuneCommand, predictCommand, runEvaluate, runFinetune, runPredict } from "../../src/cli/finetune.js";
import { bucketedBatches, padBatch } from "../../src/data/batching.js";
import { GlueTaskOnSeam } from "../../src/tasks/glue.js";
import { createTask } from "../../src/tasks/registry.js";
import { layerLearningRate, median, officialLayerDepth } from "../../src/tasks/hyperparameters.js";
import { loadTaskModel } from "../../src/train/model-folder.js";
import { Trainer } from "../../src/train/trainer.js";
import { sharedPath, skipUnless } from "../helpers/paths.js";

const GLUE = sharedPath("data", "glue");
const VOCAB = sharedPath("data", "models", "google-electra-small-discriminator", "vocab.txt");
const noData = skipUnless(GLUE, VOCAB);
if (noData) console.log(`# finetune tests that need GLUE data and the vocabulary are skipped: ${noData}`);

// tiny models gain nothing from a second thread, and OpenMP barriers collapse when other processes share the cores
setThreads(1);

const TINY = {
  vocab_size: 30522, embedding_size: 32, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64,
  max_position_embeddings: 128,
};
const tmp = mkdtempSync(join(tmpdir(), "electra-finetune-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const tinyConfigFile = join(tmp, "tiny.json");
writeFileSync(tinyConfigFile, JSON.stringify(TINY));

let tokenizer: WordPieceTokenizer | null = null;
const tok = () => (tokenizer ??= WordPieceTokenizer.load(VOCAB));

function readTsvRows(file: string): string[][] {
  return readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => l.split("\t"));
}

const QUIET = true;
const baseOptions = {
  config: tinyConfigFile, vocab: VOCAB, seed: 1, batchSize: 16, evalBatchSize: 64, maxSeqLength: 64, weightDecay: 0.01,
  warmupProportion: 0.1, head: "hf" as const, biasCorrection: false, lr: 1e-3,
};

/** A GLUE task on the seam (the data folder is read only when a split is asked for). */
const glue = (name: string) => createTask(name, { dataDir: GLUE }) as GlueTaskOnSeam;

test("layer-wise learning rates follow the official _get_layer_lrs", () => {
  const L = 3;
  const cfg = parseConfig({ ...TINY, vocab_size: 100, num_hidden_layers: L, num_labels: 3 });
  const model = createModel("classifier", cfg) as ElectraForSequenceClassification;
  const decay = 0.8, lr = 1e-4;
  const trainer = new Trainer(model, glue("sst2"), { layerDecay: decay });
  const seg = trainer.opt.segments;
  const scaleAt = (offset: number) => {
    for (let i = 0; i < seg.length; i += 4) if (offset >= seg[i] && offset < seg[i] + seg[i + 1]) return seg[i + 2];
    throw new Error(`offset ${offset} in no segment`);
  };
  let names = 0;
  for (const s of model.store.own()) {
    const depth = officialLayerDepth(s.name, L);
    assert.equal(s.depth, depth, s.name);
    // _get_layer_lrs: lr * decay^(n_layers + 2 - depth)
    assert.ok(Math.abs(lr * scaleAt(s.offset) - lr * decay ** (L + 2 - depth)) < 1e-15, s.name);
    names++;
  }
  assert.ok(names > 20);
  assert.equal(officialLayerDepth("electra.embeddings.word_embeddings.weight", L), 0);
  assert.equal(officialLayerDepth("electra.embeddings_project.weight", L), 0);
  assert.equal(officialLayerDepth("electra.encoder.layer.0.output.dense.weight", L), 1);
  assert.equal(officialLayerDepth("electra.encoder.layer.2.attention.self.query.bias", L), 3);
  assert.equal(officialLayerDepth("classifier.out_proj.weight", L), L + 2);
  // the head gets the full rate, the top layer lr * decay^2 (the quirk of google-research/electra issue 51), embeddings decay^(L+2)
  assert.equal(layerLearningRate(1e-4, 0.8, 14, 12), 1e-4);
  assert.ok(Math.abs(layerLearningRate(1e-4, 0.8, 12, 12) - 1e-4 * 0.64) < 1e-18);
  assert.ok(Math.abs(layerLearningRate(1e-4, 0.8, 0, 12) - 1e-4 * 0.8 ** 14) < 1e-18);
  // official defaults per size and task
  assert.deepEqual(glue("sst2").defaults(parseConfig({})), { lr: 1e-4, layerDecay: 0.8, epochs: 3, maxSeqLength: 128 });
  assert.deepEqual(glue("STS-B").defaults(parseConfig({})), { lr: 1e-4, layerDecay: 0.8, epochs: 10, maxSeqLength: 128 });
  const large = parseConfig({ hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096 });
  assert.deepEqual(glue("rte").defaults(large), { lr: 5e-5, layerDecay: 0.9, epochs: 10, maxSeqLength: 128 });
});

test("length-bucketed batches: every example once, seeded, little padding", () => {
  const rng = new Rng(7);
  const lengths = Array.from({ length: 1000 }, () => rng.randint(3, 128));
  const a = bucketedBatches(lengths, 32, new Rng(1), 5);
  const b = bucketedBatches(lengths, 32, new Rng(1), 5);
  const c = bucketedBatches(lengths, 32, new Rng(2), 5);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const seen = a.flat().sort((x, y) => x - y);
  assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => i));
  assert.equal(a.filter((x) => x.length !== 32).length, 1); // only one short batch
  const padded = (bs: number[][]) => bs.reduce((s, x) => s + x.length * Math.max(...x.map((i) => lengths[i])), 0);
  const unsorted: number[][] = [];
  for (let s = 0; s < 1000; s += 32) unsorted.push(Array.from({ length: Math.min(32, 1000 - s) }, (_, i) => s + i));
  assert.ok(padded(a) < 0.8 * padded(unsorted), `bucketed ${padded(a)} vs ${padded(unsorted)} padded positions`);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
});

test("features: [CLS] A [SEP] B [SEP], official truncation, dynamic padding", { skip: noData }, async () => {
  const t = tok();
  const ex = readGlueSplit(GLUE, "mrpc", "dev", { maxRows: 20 });
  const f = await glue("mrpc").featurize(t, ex, 24);
  for (const x of f) {
    const r = x.rows[0];
    assert.ok(r.ids.length <= 24);
    assert.equal(r.ids[0], t.clsId);
    assert.equal(r.ids[r.ids.length - 1], t.sepId);
    assert.equal(r.types[r.types.length - 1], 1);
    assert.ok(x.label === 0 || x.label === 1);
  }
  const fb = padBatch([0, 1, 2].map((i) => f[i].rows[0]), t.padId);
  assert.equal(fb.batch.T, Math.max(...[0, 1, 2].map((i) => f[i].rows[0].ids.length)));
  assert.equal(fb.tokens, [0, 1, 2].reduce((s, i) => s + f[i].rows[0].ids.length, 0));
  let ones = 0;
  for (const m of fb.batch.attentionMask) ones += m;
  assert.equal(ones, fb.tokens);
  const single = await glue("sst2").featurize(t, readGlueSplit(GLUE, "sst2", "dev", { maxRows: 5 }), 128);
  for (const x of single) assert.ok(x.rows[0].types.every((v) => v === 0));
});

test("loss falls on a repeated tiny batch (classification and regression, both heads)", { skip: noData }, async () => {
  for (const [taskName, head] of [["sst2", "hf"], ["stsb", "official"]] as const) {
    const task = glue(taskName);
    const cfg = task.modelConfig(parseConfig({ ...TINY, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }), head);
    const model = createModel("classifier", cfg) as ElectraForSequenceClassification;
    initParams(model.store, 0.02, 3, new Map([["electra.embeddings.word_embeddings.weight", 0]]));
    const ex = readGlueSplit(GLUE, taskName, "train", { maxRows: 8 });
    const feats = await task.featurize(tok(), ex, 64);
    const trainer = new Trainer(model, task, { layerDecay: 1, seed: 1 });
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) losses.push(trainer.trainStep(feats, 2e-3).loss);
    assert.ok(losses[59] < 0.25 * losses[0], `${taskName}: loss ${losses[0].toFixed(4)} -> ${losses[59].toFixed(4)}`);
  }
});

const TASKS: GlueTaskName[] = ["cola", "sst2", "mrpc", "stsb", "wnli"];
const runs = new Map<GlueTaskName, string>();

test("finetune on slices of CoLA, SST-2, MRPC, STS-B, WNLI writes metrics, dev predictions and a model", { skip: noData }, async () => {
  for (const name of TASKS) {
    const task = GLUE_TASKS[name];
    const out = join(tmp, `run-${name}`);
    const seeds = name === "wnli" ? [1, 2, 3] : undefined;
    const report = await runFinetune({ ...baseOptions, task: task.displayName, dataDir: GLUE, out, epochs: 2, seeds, maxTrainExamples: 48 }, QUIET);
    runs.set(name, out);
    const dev = readGlueSplit(GLUE, task, "dev");
    // metrics.json
    const m = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
    assert.equal(m.task, name);
    assert.equal(m.main_metric, task.mainMetric);
    assert.equal(m.seeds.length, seeds ? 3 : 1);
    assert.equal(m.dev_examples, dev.length);
    assert.equal(m.train_examples, task.name === "mrpc" || task.name === "stsb" ? 96 : 48); // double_unordered
    for (const s of m.seeds) {
      for (const k of [...task.metrics, "main"]) assert.equal(typeof s.dev[k], "number", `${name} ${k}`);
      assert.equal(s.epochs.length, 2);
      assert.ok(s.tokens_per_second > 0 && s.train_seconds > 0);
    }
    for (const k of [...task.metrics, "main"]) assert.equal(m.median[k], median(m.seeds.map((s: { dev: Record<string, number> }) => s.dev[k])));
    assert.equal(m.median.main, m.median[task.mainMetric]);
    assert.deepEqual(report.median, m.median);
    // dev_predictions.tsv
    const rows = readTsvRows(join(out, "dev_predictions.tsv"));
    assert.deepEqual(rows[0], ["index", "prediction"]);
    assert.equal(rows.length - 1, dev.length);
    for (const r of rows.slice(1)) {
      if (task.isRegression) assert.ok(Number.isFinite(Number(r[1])) && /^-?\d+\.\d{3}$/.test(r[1]), r[1]);
      else assert.ok(task.labels.includes(r[1]), r[1]);
    }
    if (seeds) for (const s of seeds) assert.ok(existsSync(join(out, "seeds", String(s), "dev_predictions.tsv")));
    // the model folder
    const cfg = JSON.parse(readFileSync(join(out, "model", "config.json"), "utf8"));
    assert.deepEqual(cfg.architectures, ["ElectraForSequenceClassification"]);
    assert.equal(cfg.num_labels, task.isRegression ? 1 : task.labels.length);
    if (!task.isRegression) {
      assert.deepEqual(cfg.id2label, Object.fromEntries(task.labels.map((l, i) => [String(i), l])));
      assert.deepEqual(cfg.label2id, Object.fromEntries(task.labels.map((l, i) => [l, i])));
    }
    assert.ok(existsSync(join(out, "model", "model.safetensors")));
    assert.ok(existsSync(join(out, "model", "vocab.txt")));
  }
});

test("the saved model reloads and gives the same predictions and metrics", { skip: noData }, async () => {
  for (const name of TASKS) {
    const out = runs.get(name);
    if (!out) continue; // the run above failed
    const task = GLUE_TASKS[name];
    const m = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
    const saved = m.seeds.find((s: { seed: number }) => s.seed === m.saved_seed);
    const file = join(tmp, `reload-${name}.tsv`);
    const r = await runPredict({ task: name, dataDir: GLUE, model: join(out, "model"), split: "dev", out: file, batchSize: 64, maxSeqLength: 64, decimals: 3 });
    assert.equal(r.label_note, undefined);
    const a = readTsvRows(join(out, "dev_predictions.tsv")), b = readTsvRows(file);
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) {
      if (i > 0 && task.isRegression) {
        assert.equal(a[i][0], b[i][0]);
        assert.ok(Math.abs(Number(a[i][1]) - Number(b[i][1])) <= 0.0011, `${name} row ${i}: ${a[i][1]} vs ${b[i][1]}`);
      } else assert.deepEqual(a[i], b[i], `${name} row ${i}`);
    }
    const ev = await runEvaluate({ task: name, dataDir: GLUE, model: join(out, "model"), batchSize: 64, maxSeqLength: 64 });
    // Regression outputs of these barely trained models are near-ties; summation order (AVX2 vs AVX-512 kernels,
    // batch composition) moves them by ~1e-6 and can swap a few ranks, which moves Spearman by ~1e-4.
    const tol = task.isRegression ? 1e-3 : 1e-4;
    for (const k of task.metrics) assert.ok(Math.abs(ev.metrics[k] - saved.dev[k]) < tol, `${name} ${k}: ${ev.metrics[k]} vs ${saved.dev[k]}`);
  }
});

test("predict --split test writes a GLUE submission file for each present task, AX with an MNLI model", { skip: noData }, async () => {
  for (const name of TASKS) {
    const out = runs.get(name);
    if (!out) continue;
    const task = GLUE_TASKS[name];
    const dir = join(tmp, "submission");
    mkdirSync(dir, { recursive: true });
    const r = await runPredict({ task: name, dataDir: GLUE, model: join(out, "model"), split: "test", out: dir, batchSize: 64, maxSeqLength: 64, decimals: 3 });
    assert.equal(r.file, join(dir, task.submissionFiles.test));
    const rows = readTsvRows(r.file);
    const test = readGlueSplit(GLUE, task, "test");
    assert.deepEqual(rows[0], ["index", "prediction"]);
    assert.equal(rows.length - 1, test.length);
    assert.deepEqual(rows.slice(1).map((x) => x[0]), test.map((e) => e.id ?? String(e.index)));
  }
  // AX: the diagnostic set, predicted with a (here untrained) 3-class MNLI classifier
  const cfg = glue("mnli").modelConfig(parseConfig(TINY), "hf");
  const model = createModel("classifier", cfg) as ElectraForSequenceClassification;
  initParams(model.store, 0.02, 5);
  const mnliDir = join(tmp, "mnli-model");
  saveHfFolder(mnliDir, model.store, cfg, { architecture: "ElectraForSequenceClassification", tokenizerFiles: [VOCAB] });
  const ax = join(tmp, "AX.tsv");
  const r = await runPredict({ task: "ax", dataDir: GLUE, model: mnliDir, split: "test", out: ax, batchSize: 64, maxSeqLength: 64, decimals: 3 });
  const rows = readTsvRows(ax);
  assert.equal(r.rows, readGlueSplit(GLUE, "ax", "test").length);
  assert.equal(rows.length - 1, r.rows);
  assert.deepEqual(rows[0], ["index", "prediction"]);
  for (const x of rows.slice(1)) assert.ok(["contradiction", "entailment", "neutral"].includes(x[1]), x[1]);
  // a model with other label names is mapped by position, and says so
  const renamedDir = join(tmp, "mnli-model-renamed");
  const labels = { "0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2" };
  saveHfFolder(renamedDir, model.store, { ...cfg, id2label: labels, label2id: { LABEL_0: 0, LABEL_1: 1, LABEL_2: 2 } },
    { architecture: "ElectraForSequenceClassification", tokenizerFiles: [VOCAB] });
  const axTask = glue("ax");
  const renamed = loadTaskModel(renamedDir, axTask);
  assert.deepEqual(axTask.classNames, ["contradiction", "entailment", "neutral"]);
  assert.match(renamed.labelNote ?? "", /does not name MNLI's labels/);
  assert.equal(loadTaskModel(mnliDir, glue("mnli")).labelNote, undefined);
  // a 2-class model cannot predict AX
  await assert.rejects(runPredict({ task: "ax", dataDir: GLUE, model: join(runs.get("sst2") ?? mnliDir, "model"), split: "test", out: ax, batchSize: 64, maxSeqLength: 64, decimals: 3 }),
    /needs 3 \(contradiction, entailment, neutral\)/);
});

test("fine-tuning starts from a Hugging Face discriminator folder: encoder loaded, heads dropped, classifier new", { skip: noData }, async () => {
  const disc = createModel("discriminator", parseConfig(TINY));
  initParams(disc.store, 0.02, 11);
  const dir = join(tmp, "tiny-discriminator");
  saveHfFolder(dir, disc.store, disc.cfg, { architecture: "ElectraForPreTraining", tokenizerFiles: [VOCAB] });
  const out = join(tmp, "from-pretrained");
  // a learning rate so small that the saved weights are the loaded ones
  await runFinetune({ ...baseOptions, config: undefined, vocab: undefined, model: dir, task: "wnli", dataDir: GLUE, out, epochs: 1, maxTrainExamples: 16, lr: 1e-12 }, QUIET);
  const m = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
  assert.equal(m.init, "pretrained");
  assert.equal(m.hyperparameters.layer_decay, 0.8);
  const lc = loadTaskModel(join(out, "model"), glue("wnli"));
  for (const name of ["electra.embeddings.word_embeddings.weight", "electra.encoder.layer.1.output.dense.weight"]) {
    const a = disc.store.get(name), b = lc.model.store.get(name);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    assert.ok(maxDiff < 1e-6, `${name} moved by ${maxDiff}`);
  }
  const w = lc.model.store.get("classifier.out_proj.weight");
  const sd = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
  assert.ok(sd > 0.01 && sd < 0.04, `classifier init sd ${sd}`);
  assert.ok(lc.model.store.get("classifier.dense.bias").every((x) => Math.abs(x) < 1e-6));
  // a fine-tuned folder can start another fine-tuning (its head is replaced)
  await runFinetune({ ...baseOptions, config: undefined, vocab: undefined, model: join(out, "model"), task: "stsb", dataDir: GLUE, out: join(tmp, "from-finetuned"), epochs: 1, maxTrainExamples: 8, maxSteps: 1 }, QUIET);
  assert.equal(JSON.parse(readFileSync(join(tmp, "from-finetuned", "model", "config.json"), "utf8")).num_labels, 1);
});

test("MNLI (a small synthetic copy): label names, matched and mismatched dev, MNLI-m / MNLI-mm submissions", { skip: noData }, async () => {
  const data = join(tmp, "mnli-glue");
  mkdirSync(join(data, "MNLI"), { recursive: true });
  const labels = ["entailment", "neutral", "contradiction"];
  const subjects = ["a man", "the woman", "two dogs", "a child", "some people", "the cat"];
  const verbs = ["is eating", "runs in the park", "sleeps", "plays music", "reads a book", "is cooking dinner"];
  const rows = (n: number, labelled: boolean, offset: number) => {
    const head = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"];
    const lines = [labelled ? [...head, "label1", "gold_label"].join("\t") : head.join("\t")];
    for (let i = 0; i < n; i++) {
      const k = i + offset, s1 = `${subjects[k % 6]} ${verbs[(k * 5) % 6]} .`, s2 = `${subjects[(k * 7) % 6]} ${verbs[k % 6]} .`;
      const cols = [String(k), "1", `${k}e`, "fiction", "(x)", "(y)", "(X)", "(Y)", s1, s2];
      lines.push((labelled ? [...cols, labels[k % 3], labels[k % 3]] : cols).join("\t"));
    }
    return lines.join("\n") + "\n";
  };
  writeFileSync(join(data, "MNLI", "train.tsv"), rows(48, true, 0));
  writeFileSync(join(data, "MNLI", "dev_matched.tsv"), rows(30, true, 100));
  writeFileSync(join(data, "MNLI", "dev_mismatched.tsv"), rows(20, true, 200));
  writeFileSync(join(data, "MNLI", "test_matched.tsv"), rows(25, false, 300));
  writeFileSync(join(data, "MNLI", "test_mismatched.tsv"), rows(15, false, 400));
  const out = join(tmp, "run-mnli");
  await runFinetune({ ...baseOptions, task: "MNLI", dataDir: data, out, epochs: 1 }, QUIET);
  const m = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
  assert.equal(m.dev_split, "dev_matched");
  assert.equal(typeof m.median.accuracy, "number");
  assert.equal(typeof m.median.accuracy_mm, "number");
  const dev = readTsvRows(join(out, "dev_predictions.tsv")), mm = readTsvRows(join(out, "dev_mismatched_predictions.tsv"));
  assert.equal(dev.length - 1, 30);
  assert.equal(mm.length - 1, 20);
  assert.deepEqual(mm.slice(1).map((r) => r[0]), Array.from({ length: 20 }, (_, i) => String(200 + i)));
  for (const r of [...dev.slice(1), ...mm.slice(1)]) assert.ok(labels.includes(r[1]), r[1]);
  const ev = await runEvaluate({ task: "mnli", dataDir: data, model: join(out, "model"), split: "dev_mismatched", batchSize: 64, maxSeqLength: 64 });
  assert.ok(Math.abs(ev.metrics.accuracy - m.seeds[0].dev.accuracy_mm) < 1e-9);
  const sub = join(tmp, "mnli-submission") + "/";
  for (const [split, file, n] of [["test", "MNLI-m.tsv", 25], ["test_mismatched", "MNLI-mm.tsv", 15]] as const) {
    const r = await runPredict({ task: "mnli", dataDir: data, model: join(out, "model"), split, out: sub, batchSize: 64, maxSeqLength: 64, decimals: 3 });
    assert.equal(r.file, join(sub, file));
    const rows = readTsvRows(r.file);
    assert.deepEqual(rows[0], ["index", "prediction"]);
    assert.equal(rows.length - 1, n);
  }
});

test("a malformed TSV fails with the file and line", { skip: noData }, async () => {
  const data = join(tmp, "bad-glue");
  mkdirSync(join(data, "CoLA"), { recursive: true });
  writeFileSync(join(data, "CoLA", "train.tsv"), "gj04\t1\t\tOur friends won't buy this analysis.\ngj04\t0\t*\tOne more pseudo generalization.\ngj04\t1\tthis row has too few fields\n");
  writeFileSync(join(data, "CoLA", "dev.tsv"), "gj04\t1\t\tFine.\n");
  const trainFile = join(data, "CoLA", "train.tsv");
  await assert.rejects(runFinetune({ ...baseOptions, task: "cola", dataDir: data, out: join(tmp, "bad-run"), epochs: 1 }, QUIET),
    (e: Error) => e.message.startsWith(`${trainFile}:3: `) && /expected 4 tab-separated fields, found 3/.test(e.message));
  writeFileSync(trainFile, "gj04\t1\t\tFine.\ngj04\t7\t\tA bad label.\n");
  await assert.rejects(runFinetune({ ...baseOptions, task: "cola", dataDir: data, out: join(tmp, "bad-run"), epochs: 1 }, QUIET),
    (e: Error) => e.message.startsWith(`${trainFile}:2: `) && /bad label "7"/.test(e.message));
});

test("bad starting points and options give clear errors", { skip: noData }, async () => {
  const o = { ...baseOptions, task: "wnli", dataDir: GLUE, out: join(tmp, "err-run"), epochs: 1, maxTrainExamples: 8 };
  await assert.rejects(runFinetune({ ...o, config: undefined }, QUIET), /give --model DIR/);
  await assert.rejects(runFinetune({ ...o, model: join(tmp, "nowhere") }, QUIET), /--model DIR or --config NAME/);
  await assert.rejects(runFinetune({ ...o, config: undefined, model: join(tmp, "nowhere") }, QUIET), /does not exist/);
  await assert.rejects(runFinetune({ ...o, task: "ax" }, QUIET), /has no training data/);
  await assert.rejects(runFinetune({ ...o, maxSeqLength: 512 }, QUIET), /exceeds the model's max_position_embeddings 128/);
  const wnli = runs.get("wnli");
  if (wnli) await assert.rejects(runEvaluate({ task: "wnli", dataDir: GLUE, model: join(wnli, "model"), split: "test", batchSize: 64, maxSeqLength: 64 }), /has no labels/);
});

test("every flag is in --help with its default", () => {
  const help = finetuneCommand().helpInformation().replace(/\s+/g, " ");
  for (const flag of ["--task", "--data-dir", "--model", "--config", "--vocab", "--out", "--epochs", "--seed", "--seeds", "--lr", "--batch-size",
    "--max-seq-length", "--layer-decay", "--head", "--max-train-examples", "--threads", "--train-file", "--validation-file", "--validation-split",
    "--text-column", "--text-pair-column", "--label-column", "--regression", "--tag-column"]) assert.ok(help.includes(flag), flag);
  for (const d of ["(default: 32)", "(default: the task's, 128)", "(default: 0.01)", "(default: 0.1)", 'default: "hf"', "(default: 1)"]) assert.ok(help.includes(d), d);
  assert.ok(evaluateCommand().helpInformation().replace(/\s+/g, " ").includes("(default: dev, or the file given)"));
  assert.ok(predictCommand().helpInformation().includes("--split"));
});
