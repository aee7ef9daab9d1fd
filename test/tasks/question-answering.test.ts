/**
 * Extractive QA and multiple choice on the task seam: SQuAD features (windows, targets, offsets), decoding over
 * windows (an answer past the first window), fine-tuning on slices of the real SQuAD files, predict's
 * predictions.json scored by `electra score` and by the official script, and inference (answer, choose, the
 * qa command's library call, POST /qa and /multiple-choice).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setThreads } from "../../src/core/native.js";
import { readSquad, type SquadExample } from "../../src/data/squad.js";
import { WordPieceTokenizer } from "../../src/data/tokenizer.js";
import { Electra } from "../../src/infer/electra.js";
import { ElectraServer } from "../../src/infer/server.js";
import { runEvaluate, runFinetune, runPredict, runScore } from "../../src/cli/finetune.js";
import { decodeSpans, featurizeSpans, windowStarts } from "../../src/tasks/question-answering.js";
import { sharedPath, skipUnless } from "../helpers/paths.js";

setThreads(1);
const SQUAD1 = sharedPath("data", "qa", "squad-v1.1", "dev-v1.1.json");
const SQUAD2 = sharedPath("data", "qa", "squad-v2.0-normans", "dev-v2.0.json");
const COPA = sharedPath("data", "multiple-choice", "copa", "datasets", "copa-dev.xml");
const VOCAB = sharedPath("data", "models", "google-electra-small-discriminator", "vocab.txt");
const SCRIPTS = sharedPath("data", "scorers", "squad");
const noData = skipUnless(SQUAD1, SQUAD2, VOCAB, COPA);
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : null;
/**
 * evaluate-v2.0.py imports numpy, which it uses only for na_prob plots: where numpy is not installed, a stand-in
 * module on PYTHONPATH lets the script run as it would (as test/metrics/squad.test.ts does).
 */
function scriptEnv(): NodeJS.ProcessEnv {
  if (!python || spawnSync(python, ["-c", "import numpy"]).status === 0) return process.env;
  const stub = join(tmp, "numpy-stub");
  mkdirSync(stub, { recursive: true });
  writeFileSync(join(stub, "numpy.py"), "# stand-in: evaluate-v2.0.py uses numpy only for na_prob plots\n");
  return { ...process.env, PYTHONPATH: stub };
}

const tmp = mkdtempSync(join(tmpdir(), "electra-qa-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const TINY = { embedding_size: 32, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 128 };
const tinyConfig = join(tmp, "tiny.json");
writeFileSync(tinyConfig, JSON.stringify(TINY));
const base = {
  config: tinyConfig, vocab: VOCAB, seed: 1, batchSize: 16, evalBatchSize: 64, weightDecay: 0.01, warmupProportion: 0.1,
  head: "hf" as const, biasCorrection: false, lr: 3e-3, maxSeqLength: 128, layerDecay: 1,
};
let tk: WordPieceTokenizer | null = null;
const tok = () => (tk ??= WordPieceTokenizer.load(VOCAB));

test("windows start every doc_stride tokens until one reaches the end (run_squad's doc spans)", () => {
  assert.deepEqual(windowStarts(10, 20, 4), [[0, 10]]);
  assert.deepEqual(windowStarts(10, 4, 3), [[0, 4], [3, 7], [6, 10]]);
  assert.deepEqual(windowStarts(10, 4, 4), [[0, 4], [4, 8], [8, 10]]);
  assert.deepEqual(windowStarts(0, 4, 4), [[0, 0]]);
});

test("features: targets at the answer's tokens in the windows that hold it, [CLS] elsewhere; offsets map back to the text", { skip: noData }, async () => {
  const filler = Array.from({ length: 60 }, (_, i) => `word${i % 7}`).join(" ");
  const context = `${filler} The capital of Kazakhstan is Astana, a city on the Ishim. ${filler}`;
  const start = context.indexOf("Astana");
  const ex = { question: "What is the capital of Kazakhstan?", context, answers: [{ text: "Astana", start }], isImpossible: false };
  const fs = await featurizeSpans(tok(), [ex], 48, { docStride: 16 });
  assert.ok(fs.length > 4, `${fs.length} windows`);
  const holding = fs.filter((f) => f.startPosition > 0);
  assert.ok(holding.length >= 1 && holding.length < fs.length);
  for (const f of fs) {
    assert.ok(f.rows[0].ids.length <= 48);
    if (f.startPosition === 0) continue;
    const o = f.offsets, s = f.startPosition - f.ctxStart, e = f.endPosition - f.ctxStart;
    assert.equal(context.slice(o[2 * s], o[2 * e + 1]), "Astana");
    assert.equal(f.rows[0].types[f.startPosition], 1, "the answer is in the second segment");
  }
  // decoding: logits that point at the answer in one later window only
  const outputs = fs.map((f) => {
    const n = f.rows[0].ids.length, o = new Float32Array(n * 2);
    if (f === holding[holding.length - 1]) {
      o[2 * f.startPosition] = 8;
      o[2 * f.endPosition + 1] = 8;
    }
    return o;
  });
  const [p] = decodeSpans(outputs, fs, [context], false);
  assert.equal(p.text, "Astana");
  assert.equal(context.slice(p.start, p.end), "Astana");
  assert.ok(fs.indexOf(holding[holding.length - 1]) > 0, "the answer came from a window past the first");
  // unanswerable: every target at [CLS]; v2 decoding answers "" when the null score wins
  const [u] = await featurizeSpans(tok(), [{ ...ex, answers: [], isImpossible: true }], 48, { docStride: 16 });
  assert.equal(u.startPosition, 0);
  const nul = fs.map((f) => {
    const o = new Float32Array(f.rows[0].ids.length * 2);
    o[0] = 5;
    o[1] = 5;
    return o;
  });
  assert.equal(decodeSpans(nul, fs, [context], true)[0].text, "");
  assert.notEqual(decodeSpans(nul, fs, [context], false)[0].text, "");
});

/** The first n articles of a SQuAD file as a file of its own, and the rest. */
function splitArticles(file: string, n: number, outA: string, outB: string): void {
  const j = JSON.parse(readFileSync(file, "utf8"));
  writeFileSync(outA, JSON.stringify({ version: j.version, data: j.data.slice(0, n) }));
  writeFileSync(outB, JSON.stringify({ version: j.version, data: j.data.slice(n) }));
}

let qaOut = "";
test("fine-tuning on SQuAD 1.1 articles, predict's predictions.json scored by electra score and by the official script", { skip: noData }, async () => {
  const train = join(tmp, "sq-train.json"), dev = join(tmp, "sq-dev.json");
  splitArticles(SQUAD1, 1, train, dev);
  qaOut = join(tmp, "squad");
  const r = await runFinetune({ ...base, task: "squad", trainFile: train, validationFile: dev, out: qaOut, epochs: 1, maxTrainExamples: 300, maxEvalExamples: 60, docStride: 64 }, true);
  assert.equal(r.architecture, "ElectraForQuestionAnswering");
  assert.ok(r.train_features > r.train_examples, "long contexts give several windows");
  assert.ok("exact_match" in r.median && "f1" in r.median);
  const preds = JSON.parse(readFileSync(join(qaOut, "dev_predictions.json"), "utf8"));
  assert.equal(Object.keys(preds).length, 60);
  assert.ok(existsSync(join(qaOut, "dev_nbest_predictions.json")));
  const out = join(tmp, "pred") + "/";
  const p = await runPredict({ task: "squad", model: qaOut, validationFile: dev, split: "dev", out, batchSize: 64, decimals: 3, maxSeqLength: 128, docStride: 64 });
  assert.equal(p.file, join(tmp, "pred", "predictions.json"));
  const nbest = JSON.parse(readFileSync(join(tmp, "pred", "nbest_predictions.json"), "utf8"));
  const first = Object.values(nbest)[0] as { text: string; probability: number }[];
  assert.ok(first.length >= 1 && Math.abs(first.reduce((s, x) => s + x.probability, 0) - 1) < 1e-6);
  const sc = runScore({ task: "squad", data: dev, predictions: p.file });
  assert.ok(typeof sc.exact_match === "number" && typeof sc.f1 === "number");
  if (python) {
    // all of the dev file: questions past --max-eval-examples count as wrong, as the official script counts them
    const off = spawnSync(python, [join(SCRIPTS, "evaluate-v1.1.py"), dev, p.file], { encoding: "utf8" });
    assert.equal(off.status, 0, off.stderr);
    assert.equal(sc.printed, off.stdout.trim());
  }
  const ev = await runEvaluate({ task: "squad", model: qaOut, validationFile: dev, batchSize: 64, maxSeqLength: 128, docStride: 64 });
  assert.equal(ev.examples, readSquad(dev).length);
});

test("SQuAD 2.0 (unanswerable questions) on the Normans article: HasAns / NoAns scores", { skip: noData }, async () => {
  const all = JSON.parse(readFileSync(SQUAD2, "utf8"));
  const paras = all.data[0].paragraphs;
  const train = join(tmp, "v2-train.json"), dev = join(tmp, "v2-dev.json");
  writeFileSync(train, JSON.stringify({ version: "v2.0", data: [{ title: "Normans", paragraphs: paras.slice(0, 30) }] }));
  writeFileSync(dev, JSON.stringify({ version: "v2.0", data: [{ title: "Normans", paragraphs: paras.slice(30) }] }));
  const r = await runFinetune({ ...base, task: "squad_v2", trainFile: train, validationFile: dev, out: join(tmp, "squad2"), epochs: 1 }, true);
  for (const k of ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact", "NoAns_f1", "NoAns_total"]) assert.ok(k in r.median, k);
  const preds = join(tmp, "squad2", "dev_predictions.json");
  const sc = runScore({ task: "squad_v2", data: dev, predictions: preds });
  assert.equal(sc.total, readSquad(dev).length);
  if (python) {
    const off = spawnSync(python, [join(SCRIPTS, "evaluate-v2.0.py"), dev, preds], { encoding: "utf8", env: scriptEnv() });
    assert.equal(off.status, 0, off.stderr);
    assert.equal(sc.printed, off.stdout.trim());
  }
});

test("a malformed SQuAD file names the question id", { skip: noData }, async () => {
  const bad = join(tmp, "bad.json");
  writeFileSync(bad, JSON.stringify({ data: [{ title: "t", paragraphs: [{ context: "abc", qas: [{ id: "q-7", question: "?", answers: [{ text: "a", answer_start: 99 }] }] }] }] }));
  await assert.rejects(runFinetune({ ...base, task: "squad", trainFile: bad, validationSplit: 0.5, out: join(tmp, "x") }, true), /bad\.json: question q-7: answer 0: "answer_start" 99/);
});

test("QA inference: answer() from all windows with character offsets, the qa pipeline over HTTP", { skip: noData }, async () => {
  if (!qaOut) return;
  const m = await Electra.load(qaOut, { threads: 1, maxLength: 64 });
  const ex: SquadExample = readSquad(SQUAD1)[0];
  const [answers] = await m.answer([{ question: ex.question, context: ex.context }], { topK: 3, docStride: 32 });
  assert.equal(answers.length, 3);
  for (const a of answers) {
    assert.equal(ex.context.slice(a.start, a.end), a.answer);
    assert.ok(a.score > 0 && a.score <= 1);
  }
  assert.ok(answers[0].score >= answers[1].score);
  const server = new ElectraServer(m, { port: 0, maxWaitMs: 1 });
  const port = await server.listen();
  try {
    const r = await fetch(`http://127.0.0.1:${port}/qa`, { method: "POST", body: JSON.stringify({ inputs: [{ question: ex.question, context: ex.context }], top_k: 3 }) });
    assert.equal(r.status, 200);
    assert.deepEqual(((await r.json()) as { results: unknown[] }).results[0], (await m.answer([{ question: ex.question, context: ex.context }], { topK: 3 }))[0]);
    const bad = await fetch(`http://127.0.0.1:${port}/qa`, { method: "POST", body: JSON.stringify({ inputs: [{ question: "q" }] }) });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /inputs\[0\]\.context/);
  } finally {
    await server.close();
  }
});

test("multiple choice on COPA: fine-tune, predict index<TAB>prediction, choose() and POST /multiple-choice", { skip: noData }, async () => {
  const out = join(tmp, "copa");
  const r = await runFinetune({ ...base, task: "copa", trainFile: COPA, validationSplit: 0.2, out, epochs: 1, maxTrainExamples: 200 }, true);
  assert.equal(r.architecture, "ElectraForMultipleChoice");
  assert.ok(r.median.accuracy >= 0 && r.median.accuracy <= 1);
  const p = await runPredict({ task: "copa", model: out, testFile: COPA, out: join(tmp, "copa-preds.tsv"), batchSize: 64, decimals: 0 });
  const rows = readFileSync(p.file, "utf8").trim().split("\n");
  assert.equal(rows[0], "index\tprediction");
  assert.equal(rows.length, 501);
  assert.ok(rows.slice(1).every((l) => /^\d+\t[01]$/.test(l)));
  const m = await Electra.load(out, { threads: 1 });
  const [c] = await m.choose([{ context: "The man broke his toe. What was the cause of this?", choices: ["He dropped a hammer on his foot.", "He got a hole in his sock."] }]);
  assert.equal(c.scores.length, 2);
  assert.ok(Math.abs(c.scores[0] + c.scores[1] - 1) < 1e-9);
  const server = new ElectraServer(m, { port: 0, maxWaitMs: 1 });
  const port = await server.listen();
  try {
    const res = await fetch(`http://127.0.0.1:${port}/multiple-choice`, { method: "POST", body: JSON.stringify({ inputs: [{ context: "x", choices: ["a", "b"] }] }) });
    assert.equal(res.status, 200);
    const one = await fetch(`http://127.0.0.1:${port}/multiple-choice`, { method: "POST", body: JSON.stringify({ inputs: [{ context: "x", choices: ["a"] }] }) });
    assert.equal(one.status, 400);
  } finally {
    await server.close();
  }
});
