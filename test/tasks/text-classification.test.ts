/**
 * Sequence classification and regression on the user's own files, as a new user would try it: string labels
 * become id2label (classify answers "pos"), --validation-split, JSONL, TSV, --regression, a malformed row, a
 * bare ElectraModel folder as the start (and for embed), a vocabulary that does not fit, a text that comes out
 * mostly [UNK].
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setThreads } from "../../src/core/native.js";
import { Electra } from "../../src/infer/electra.js";
import { saveHfFolder } from "../../src/io/hf-folder.js";
import { parseConfig } from "../../src/model/config.js";
import { createModel } from "../../src/model/electra.js";
import { initParams } from "../../src/model/params.js";
import { runEvaluate, runFinetune, runPredict } from "../../src/cli/finetune.js";
import { macroF1 } from "../../src/tasks/text-classification.js";
import type { FinetuneEvent } from "../../src/train/finetune.js";
import { finetune } from "../../src/train/finetune.js";
import { sharedPath, skipUnless } from "../helpers/paths.js";
import { readEventFile } from "../helpers/tfevents.js";

setThreads(1);
const VOCAB = sharedPath("data", "models", "google-electra-small-discriminator", "vocab.txt");
const noData = skipUnless(VOCAB);
const tmp = mkdtempSync(join(tmpdir(), "electra-text-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const TINY = { embedding_size: 32, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 };
const tinyConfig = join(tmp, "tiny.json");
writeFileSync(tinyConfig, JSON.stringify(TINY));
const base = {
  config: tinyConfig, vocab: VOCAB, seed: 1, batchSize: 4, evalBatchSize: 64, weightDecay: 0.01, warmupProportion: 0.1,
  head: "hf" as const, biasCorrection: false, lr: 1e-3, maxSeqLength: 32, layerDecay: 1,
};

const GOOD = ["a wonderful film", "great acting, great story", "i loved it", "superb and moving", "a delight", "brilliant, funny, warm"];
const BAD = ["a dreadful film", "terrible acting", "i hated it", "boring and slow", "a mess", "awful, dull, cold"];
/** A CSV with quoting (commas and quotes inside fields) and string labels. */
function csv(n: number): string {
  const rows = ["id,text,label"];
  for (let i = 0; i < n; i++) {
    const good = i % 2 === 0;
    const t = (good ? GOOD : BAD)[i % 6];
    rows.push(`${i},"${t}${i % 3 === 0 ? ', "really"' : ""}",${good ? "pos" : "neg"}`.replace(/"really"/, '""really""'));
  }
  return rows.join("\n") + "\n";
}

test("a CSV with string labels: pos / neg become id2label; classify answers pos; evaluate and predict on files", { skip: noData }, async () => {
  const train = join(tmp, "train.csv"), dev = join(tmp, "dev.csv");
  writeFileSync(train, csv(48));
  writeFileSync(dev, csv(12));
  const out = join(tmp, "csv-run");
  const r = await runFinetune({ ...base, task: "text-classification", trainFile: train, validationFile: dev, out, epochs: 10 }, true);
  assert.equal(r.main_metric, "accuracy");
  assert.ok(r.median.accuracy >= 0.9, `accuracy ${r.median.accuracy}`);
  const cfg = JSON.parse(readFileSync(join(out, "model", "config.json"), "utf8"));
  assert.deepEqual(cfg.id2label, { 0: "neg", 1: "pos" });
  const m = await Electra.load(out, { threads: 1 }); // the finetune --out folder itself
  // the fine-tuning length is saved (tokenizer_config.json's model_max_length) and is inference's default
  assert.equal(JSON.parse(readFileSync(join(out, "model", "tokenizer_config.json"), "utf8")).model_max_length, 32);
  assert.equal(m.maxLength, 32);
  assert.equal((await Electra.load(out, { threads: 1, maxLength: 20 })).maxLength, 20);
  const [a, b] = await m.classify(["i loved it", "boring and slow"]);
  assert.equal(a.label, "pos");
  assert.equal(b.label, "neg");
  const ev = await runEvaluate({ task: "text-classification", model: out, validationFile: dev, batchSize: 64 });
  assert.equal(ev.metrics.accuracy, r.median.accuracy);
  assert.equal(ev.dtype, "fp32");
  // --dtype int8 scores the float32 folder quantized as it loads: at most one of the 12 answers may move
  const ev8 = await runEvaluate({ task: "text-classification", model: out, validationFile: dev, batchSize: 64, dtype: "int8" });
  assert.equal(ev8.dtype, "int8");
  assert.ok(Math.abs(ev8.metrics.accuracy - ev.metrics.accuracy) <= 1 / 12 + 1e-9, `int8 accuracy ${ev8.metrics.accuracy} vs ${ev.metrics.accuracy}`);
  const p = await runPredict({ task: "text-classification", model: out, testFile: dev, out: join(tmp, "preds") + "/", batchSize: 64, decimals: 3 });
  const rows = readFileSync(p.file, "utf8").trim().split("\n");
  assert.equal(rows[0], "index\tprediction");
  assert.equal(rows.length, 13);
  assert.ok(rows.slice(1).every((l) => /^\d+\t(pos|neg)$/.test(l)));
});

test("JSONL with --validation-split, TSV with named columns, and a regression", { skip: noData }, async () => {
  const jl = join(tmp, "data.jsonl");
  writeFileSync(jl, Array.from({ length: 40 }, (_, i) => JSON.stringify({ sentence: (i % 2 ? GOOD : BAD)[i % 6], label: i % 2 ? "yes" : "no" })).join("\n") + "\n");
  const tb = join(tmp, "jsonl-tb");
  const r = await runFinetune({ ...base, task: "text-classification", trainFile: jl, validationSplit: 0.25, out: join(tmp, "jsonl-run"), epochs: 1, tensorboard: tb }, true);
  assert.equal(r.train_examples, 30);
  assert.equal(r.dev_examples, 10);
  // --tensorboard: a scalar per step, the dev metrics at the evaluation
  const events = readEventFile(join(tb, readdirSync(tb)[0]));
  const tags = (tag: string) => events.filter((e) => e.values.some((v) => v.tag === tag));
  assert.equal(tags("train/loss").length, r.seeds[0].steps);
  assert.deepEqual(tags("dev/accuracy").map((e) => [e.step, e.values.find((v) => v.tag === "dev/accuracy")!.value]), [[r.seeds[0].steps, Math.fround(r.median.accuracy)]]);
  const tsv = join(tmp, "pairs.tsv");
  writeFileSync(tsv, "q\ta\tscore\n" + Array.from({ length: 24 }, (_, i) => `question ${i}\t${(i % 2 ? GOOD : BAD)[i % 6]}\t${(i % 5) / 2}`).join("\n") + "\n");
  const reg = await runFinetune({ ...base, task: "text-classification", trainFile: tsv, validationFile: tsv, textColumn: "q", textPairColumn: "a", labelColumn: "score", regression: true, out: join(tmp, "reg-run"), epochs: 1 }, true);
  assert.equal(reg.main_metric, "pearson");
  assert.ok("spearman" in reg.median && "mse" in reg.median);
  const cfg = JSON.parse(readFileSync(join(tmp, "reg-run", "model", "config.json"), "utf8"));
  assert.equal(cfg.num_labels, 1);
  // evaluate without --regression: the loaded one-output model is a regression, and its main metric says so
  const ev = await runEvaluate({ task: "text-classification", model: join(tmp, "reg-run"), validationFile: tsv, textColumn: "q", textPairColumn: "a", labelColumn: "score", batchSize: 64, maxSeqLength: 32 });
  assert.equal(ev.main_metric, "pearson");
  assert.equal(ev.main, ev.metrics.pearson);
  await assert.rejects(runFinetune({ ...base, task: "text-classification", trainFile: jl, validationSplit: 0.25, regression: true, out: join(tmp, "x"), epochs: 1 }, true),
    /--regression needs numeric labels/);
  await assert.rejects(runFinetune({ ...base, task: "text-classification", trainFile: jl, out: join(tmp, "x"), epochs: 1 }, true), /--validation-split 0\.1/);
});

test("a malformed CSV row, a missing column: one line naming the file and line or the columns", { skip: noData }, async () => {
  const bad = join(tmp, "bad.csv");
  writeFileSync(bad, "text,label\nfine,pos\n\"unclosed,neg\nok,neg\n");
  await assert.rejects(runFinetune({ ...base, task: "text-classification", trainFile: bad, validationSplit: 0.5, out: join(tmp, "x") }, true), /bad\.csv:3: /);
  const ok = join(tmp, "ok.csv");
  writeFileSync(ok, csv(8));
  await assert.rejects(runFinetune({ ...base, task: "text-classification", trainFile: ok, validationSplit: 0.5, labelColumn: "sentiment", out: join(tmp, "x") }, true),
    /ok\.csv: label column "sentiment" not found; the file has columns "id", "text", "label"/);
});

test("a bare ElectraModel folder (no architectures, or ElectraModel) loads for embed and starts fine-tuning", { skip: noData }, async () => {
  const cfg = parseConfig({ ...TINY, vocab_size: 30522 });
  const enc = createModel("encoder", cfg);
  initParams(enc.store, 0.02, 4);
  for (const archs of [["ElectraModel"], null]) {
    const dir = join(tmp, `bare-${archs ? "named" : "none"}`);
    saveHfFolder(dir, enc.store, cfg, { architecture: "ElectraModel", tokenizerFiles: [VOCAB] });
    if (!archs) {
      const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
      delete c.architectures;
      writeFileSync(join(dir, "config.json"), JSON.stringify(c));
    }
    const m = await Electra.load(dir, { threads: 1 });
    assert.equal(m.kind, "encoder");
    const [v] = await m.embed(["hello world"]);
    assert.equal(v.length, 32);
    await assert.rejects(m.classify(["x"]), /needs a classifier/);
    const ft = await runFinetune({ ...base, config: undefined, vocab: undefined, model: dir, task: "text-classification", trainFile: join(tmp, "train.csv"), validationFile: join(tmp, "dev.csv"), out: join(tmp, `from-bare-${archs ? 1 : 0}`), epochs: 1, maxSteps: 2 }, true);
    assert.equal(ft.init, "pretrained");
  }
});

test("a vocabulary that does not fit the model is an error; a text that is mostly [UNK] is a warning with the figure", { skip: noData }, async () => {
  const cfg = parseConfig({ ...TINY, vocab_size: 30522 });
  const enc = createModel("discriminator", cfg);
  initParams(enc.store, 0.02, 4);
  const dir = join(tmp, "disc");
  const small = join(tmp, "small-vocab.txt");
  writeFileSync(small, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...Array.from({ length: 123 }, (_, i) => `w${i}`)].join("\n") + "\n");
  saveHfFolder(dir, enc.store, cfg, { architecture: "ElectraForPreTraining", tokenizerFiles: [small] });
  await assert.rejects(Electra.load(dir), /128 tokens but the model's vocab_size is 30522/);
  await assert.rejects(runFinetune({ ...base, config: undefined, vocab: undefined, model: dir, task: "text-classification", trainFile: join(tmp, "train.csv"), validationFile: join(tmp, "dev.csv"), out: join(tmp, "y") }, true),
    /128 tokens but the model's vocab_size is 30522/);
  const events: FinetuneEvent[] = [];
  await finetune({ task: "text-classification", trainFile: join(tmp, "train.csv"), validationFile: join(tmp, "dev.csv"), config: tinyConfig, vocab: small, out: join(tmp, "unk"), maxSteps: 1, maxSeqLength: 32, onEvent: (e) => events.push(e) });
  const w = events.find((e) => e.kind === "warning");
  assert.ok(w && w.kind === "warning" && /^\d+\.\d% of the training tokens are \[UNK\]/.test(w.message), JSON.stringify(w));
});

test("validation labels the training file never has: a warning with the count and the labels, no error", { skip: noData }, async () => {
  const dev = join(tmp, "dev-unseen.csv");
  writeFileSync(dev, csv(6) + "100,so-so,meh\n101,fine i guess,meh\n102,what,huh\n");
  const events: FinetuneEvent[] = [];
  await finetune({ task: "text-classification", trainFile: join(tmp, "train.csv"), validationFile: dev, config: tinyConfig, vocab: VOCAB, out: join(tmp, "unseen"), maxSteps: 1, maxSeqLength: 32, onEvent: (e) => events.push(e) });
  const w = events.filter((e) => e.kind === "warning").map((e) => (e as { message: string }).message);
  assert.deepEqual(w, [`${dev}: 3 of 9 validation row(s) have a label the training data never has ("meh", "huh"): the model cannot predict it, so they are scored as wrong`]);
});

test("macro F1 as sklearn computes it", () => {
  // sklearn.metrics.f1_score(["a","a","b","c"], ["a","b","b","a"], average="macro") = (0.5 + 0.6667 + 0) / 3
  assert.ok(Math.abs(macroF1(["a", "b", "b", "a"], ["a", "a", "b", "c"]) - (0.5 + 2 / 3 + 0) / 3) < 1e-12);
  assert.equal(macroF1(["x", "y"], ["x", "y"]), 1);
});
