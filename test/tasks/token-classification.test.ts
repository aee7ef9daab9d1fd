/**
 * Token classification on the task seam: features (labels on first sub-tokens, windows for long sentences and
 * words), fine-tuning on slices of CoNLL-2003 and CoNLL-2000, predict's CoNLL output through the Perl conlleval
 * and `electra score`, evaluate, and NER inference (offsets, aggregation) in the library, the CLI and serve.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setThreads } from "../../src/core/native.js";
import type { TaggedSentence } from "../../src/data/conll.js";
import { WordPieceTokenizer } from "../../src/data/tokenizer.js";
import { Electra } from "../../src/infer/electra.js";
import { ElectraServer } from "../../src/infer/server.js";
import { runEvaluate, runFinetune, runPredict, runScore } from "../../src/cli/finetune.js";
import { createTask } from "../../src/tasks/registry.js";
import type { TokenClassificationTask } from "../../src/tasks/token-classification.js";
import { sharedPath, skipUnless } from "../helpers/paths.js";

setThreads(1);
const NER = sharedPath("data", "ner", "conll2003");
const CHUNK = sharedPath("data", "chunking", "conll2000", "train.txt");
const VOCAB = sharedPath("data", "models", "google-electra-small-discriminator", "vocab.txt");
const CONLLEVAL = sharedPath("data", "scorers", "conlleval", "conlleval");
const noData = skipUnless(NER, CHUNK, VOCAB);
const hasPerl = spawnSync("perl", ["-v"]).status === 0;

const tmp = mkdtempSync(join(tmpdir(), "electra-token-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const TINY = { embedding_size: 32, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 128 };
const tinyConfig = join(tmp, "tiny.json");
writeFileSync(tinyConfig, JSON.stringify(TINY));
const base = {
  config: tinyConfig, vocab: VOCAB, seed: 1, batchSize: 16, evalBatchSize: 64, weightDecay: 0.01, warmupProportion: 0.1,
  head: "hf" as const, biasCorrection: false, lr: 3e-3,
};

let tk: WordPieceTokenizer | null = null;
const tok = () => (tk ??= WordPieceTokenizer.load(VOCAB));

/** A token task whose label set is given (no training file read). */
function taskWith(labels: string[]): TokenClassificationTask {
  const t = createTask("ner", { trainFile: "unused" }) as TokenClassificationTask;
  t.useModel({ num_labels: labels.length, id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])) } as never, "test");
  return t;
}

test("features: the label on each word's first sub-token, -100 elsewhere; every word decoded", { skip: noData }, async () => {
  const t = taskWith(["O", "B-PER", "I-PER", "B-LOC"]);
  const s: TaggedSentence = { words: ["Johanson", "visited", "Kazakhstani", "\u0007"], tags: ["B-PER", "O", "B-LOC", "O"], line: 1 };
  const [f] = await t.featurize(tok(), [s], 128);
  const ids = f.rows[0].ids;
  const pieces = await Promise.all(s.words.map((w) => tok().encode(w)));
  assert.equal(pieces[3].length, 0, "a control character has no sub-token");
  assert.equal(ids.length, 2 + pieces[0].length + pieces[1].length + pieces[2].length + 1, "[CLS] pieces [SEP], the empty word as [UNK]");
  assert.ok(pieces[0].length > 1 && pieces[2].length > 1, "words split into several pieces");
  assert.deepEqual(Array.from(f.firstPos), [1, 1 + pieces[0].length, 1 + pieces[0].length + pieces[1].length, ids.length - 2]);
  assert.equal(ids[ids.length - 2], tok().unkId);
  const want = new Array(ids.length).fill(-100);
  [1, 0, 3, 0].forEach((l, w) => (want[f.firstPos[w]] = l));
  assert.deepEqual(Array.from(f.labels), want);
  // decode: the argmax at each first sub-token, whatever the other positions say
  const L = 4, out = new Float32Array(ids.length * L);
  for (let p = 0; p < ids.length; p++) out[p * L + 2] = 5; // I-PER everywhere ...
  f.firstPos.forEach((p, w) => (out[p * L + [1, 0, 3, 0][w]] = 9)); // ... but the first pieces
  assert.deepEqual(t.decode([out], [f], [s]), [["B-PER", "O", "B-LOC", "O"]]);
});

test("a sentence longer than the window is cut at word boundaries; a word longer than a window is split, nothing dropped", { skip: noData }, async () => {
  const t = taskWith(["O", "B-X"]);
  const words = Array.from({ length: 30 }, (_, i) => (i === 7 ? "antidisestablishmentarianism".repeat(3) : `w${i}`));
  const s: TaggedSentence = { words, tags: words.map((_, i) => (i % 5 ? "O" : "B-X")), line: 1 };
  const fs = await t.featurize(tok(), [s], 10);
  assert.ok(fs.length > 3, `${fs.length} windows`);
  for (const f of fs) assert.ok(f.rows[0].ids.length <= 10);
  const seen = fs.flatMap((f) => Array.from(f.words));
  assert.deepEqual(seen, words.map((_, i) => i), "each word's first piece in exactly one window, in order");
  const pieces = await tok().encodeBatch(words);
  const total = fs.reduce((a, f) => a + f.rows[0].ids.length - 2, 0);
  assert.equal(total, pieces.reduce((a, p) => a + p.length, 0), "every sub-token is in some window");
  const long = pieces[7].length;
  assert.ok(long > 8, "the long word needs more than one window");
  const preds = t.decode(fs.map((f) => {
    const o = new Float32Array(f.rows[0].ids.length * 2);
    f.firstPos.forEach((p, j) => (o[p * 2 + (f.words[j] % 5 ? 0 : 1)] = 1));
    return o;
  }), fs, [s]);
  assert.deepEqual(preds[0], s.tags);
});

test("a word longer than the window right after a full window: its label on its own first piece, not on [SEP]", { skip: noData }, async () => {
  const t = taskWith(["O", "B-X"]);
  const s: TaggedSentence = { words: ["a", "b", "c", "antidisestablishmentarianism"], tags: ["O", "O", "O", "B-X"], line: 1 };
  const fs = await t.featurize(tok(), [s], 5);
  for (const f of fs) {
    for (const p of f.firstPos) assert.ok(p >= 1 && p <= f.rows[0].ids.length - 2, `first piece at ${p} of ${f.rows[0].ids.length}`);
    const sep = f.rows[0].ids.length - 1;
    assert.equal(f.labels[sep], -100, "no label on [SEP]");
  }
  assert.deepEqual(fs.flatMap((f) => Array.from(f.words)), [0, 1, 2, 3]);
  const w3 = fs.find((f) => f.words.includes(3))!;
  assert.equal(w3.labels[w3.firstPos[w3.words.indexOf(3)]], 1);
});

let nerOut = "";
test("fine-tuning NER on a slice of CoNLL-2003: metrics.json, dev predictions conlleval reads, a Hugging Face token classifier", { skip: noData }, async () => {
  nerOut = join(tmp, "ner");
  const r = await runFinetune({ ...base, task: "ner", dataDir: NER, out: nerOut, epochs: 2, maxTrainExamples: 600, maxEvalExamples: 200, maxSeqLength: 64 }, true);
  assert.equal(r.architecture, "ElectraForTokenClassification");
  assert.equal(r.main_metric, "f1");
  assert.equal(r.train_examples, 600);
  const m = JSON.parse(readFileSync(join(nerOut, "metrics.json"), "utf8"));
  assert.deepEqual(m.task_options.labels, ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER"]);
  assert.equal(m.task_options.tag_scheme, "IOB2");
  const cfg = JSON.parse(readFileSync(join(nerOut, "model", "config.json"), "utf8"));
  assert.deepEqual(cfg.architectures, ["ElectraForTokenClassification"]);
  assert.equal(cfg.id2label["4"], "B-PER");
  assert.ok(r.seeds[0].epochs[1].train_loss < r.seeds[0].epochs[0].train_loss, "the loss falls");
  // the dev predictions file: conlleval's numbers are the run's dev metrics
  const preds = join(nerOut, "dev_predictions.txt");
  const score = runScore({ task: "ner", predictions: preds });
  for (const k of ["precision", "recall", "f1", "accuracy"] as const) assert.equal(score[k], m.seeds[0].dev[k], k);
  if (hasPerl) {
    const pl = spawnSync("perl", [CONLLEVAL], { input: readFileSync(preds) });
    assert.equal(pl.status, 0, pl.stderr.toString());
    const line = pl.stdout.toString().split("\n")[1];
    const want = `accuracy: ${(100 * (score.accuracy as number)).toFixed(2).padStart(6)}%`;
    assert.ok(line.includes(want), `${line} vs ${want}`);
  }
});

test("predict writes CoNLL text that conlleval reads as it is; evaluate and score agree with it", { skip: noData }, async () => {
  if (!nerOut) return;
  const out = join(tmp, "valid-pred.txt");
  const p = await runPredict({ task: "ner", model: nerOut, dataDir: NER, split: "dev", out, batchSize: 64, maxSeqLength: 64, decimals: 3 });
  assert.equal(p.rows, 3250);
  const text = readFileSync(out, "utf8");
  const lines = text.split("\n");
  assert.equal(lines[0], "-DOCSTART- O O");
  assert.ok(lines.filter((l) => l !== "").every((l) => l.split(" ").length === 3), "every line: word gold predicted");
  const ev = await runEvaluate({ task: "ner", model: nerOut, dataDir: NER, batchSize: 64, maxSeqLength: 64 });
  const sc = runScore({ task: "ner", predictions: out });
  assert.equal(ev.examples, 3250);
  for (const k of ["precision", "recall", "f1", "accuracy"] as const) assert.equal(ev.metrics[k], sc[k], k);
  if (hasPerl) {
    const pl = spawnSync("perl", [CONLLEVAL], { input: text });
    const got = /accuracy:\s+([\d.]+)%; precision:\s+([\d.]+)%; recall:\s+([\d.]+)%; FB1:\s+([\d.]+)/.exec(pl.stdout.toString());
    assert.ok(got, pl.stdout.toString());
    const ours = [sc.accuracy, sc.precision, sc.recall, sc.f1].map((x) => (100 * (x as number)).toFixed(2));
    assert.deepEqual(got.slice(1), ours);
  }
  await assert.rejects(runEvaluate({ task: "text-classification", model: nerOut, validationFile: out, batchSize: 64 }), /needs a fine-tuned ElectraForSequenceClassification/);
});

test("chunking on CoNLL-2000 (3 columns, no DOCSTART) with --validation-split", { skip: noData }, async () => {
  const out = join(tmp, "chunk");
  const r = await runFinetune({ ...base, task: "chunking", trainFile: CHUNK, validationSplit: 0.2, out, epochs: 1, maxTrainExamples: 300, maxEvalExamples: 100, maxSeqLength: 64 }, true);
  assert.ok(r.dev_examples <= 100 && r.dev_examples > 0);
  const m = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
  assert.ok(m.task_options.labels.includes("B-NP") && m.task_options.labels.includes("I-VP"));
  assert.ok(Number.isFinite(r.median.f1));
});

test("JSONL token data, a bad tag column and malformed files give one-line errors naming the file and line", { skip: noData }, async () => {
  const train = join(tmp, "tok.jsonl"), dev = join(tmp, "tok-dev.jsonl");
  const rows = ["Alice met Bob in Rome", "Carol lives in Paris", "Dave saw Erin"].map((s) => {
    const tokens = s.split(" ");
    return JSON.stringify({ tokens, tags: tokens.map((w) => (/^[A-Z]/.test(w) ? (["Rome", "Paris"].includes(w) ? "B-LOC" : "B-PER") : "O")) });
  });
  writeFileSync(train, rows.join("\n") + "\n");
  writeFileSync(dev, rows.slice(0, 2).join("\n") + "\n");
  const out = join(tmp, "tok-jsonl");
  const r = await runFinetune({ ...base, task: "token-classification", trainFile: train, validationFile: dev, out, epochs: 1, maxSeqLength: 32 }, true);
  assert.equal(r.train_examples, 3);
  // a second run into the same --out is refused before anything is read, unless --overwrite
  const again = { ...base, task: "token-classification", trainFile: train, validationFile: dev, out, epochs: 1, maxSeqLength: 32 };
  const before = readFileSync(join(out, "metrics.json"), "utf8");
  await assert.rejects(runFinetune(again, true), (e: Error) => e.message === `${out} already holds a fine-tuning run (metrics.json, model): give --overwrite to replace it, or another --out`);
  assert.equal(readFileSync(join(out, "metrics.json"), "utf8"), before);
  assert.equal((await runFinetune({ ...again, overwrite: true }, true)).train_examples, 3);
  const bad = join(tmp, "bad.jsonl");
  writeFileSync(bad, rows[0] + "\n" + '{"tokens": ["a", "b"], "tags": ["O"]}\n');
  await assert.rejects(runFinetune({ ...base, task: "ner", trainFile: bad, validationFile: dev, out: join(tmp, "tok-bad"), epochs: 1 }, true), /bad\.jsonl:2: /);
  const badConll = join(tmp, "bad.txt");
  writeFileSync(badConll, "EU NNP B-ORG\nrejects VBZ O\ncalls O\n");
  await assert.rejects(runFinetune({ ...base, task: "ner", trainFile: badConll, validationSplit: 0.5, out: join(tmp, "tok-bad"), epochs: 1 }, true), /bad\.txt:3: /);
});

test("NER inference: entities with character offsets, every aggregation, the ner command's data, and POST /ner", { skip: noData }, async () => {
  if (!nerOut) return;
  const m = await Electra.load(nerOut, { threads: 1 });
  assert.equal(m.kind, "token-classifier");
  const text = "Japan began the defence of their Asian Cup title with a lucky 2-1 win against Syria in Group C.";
  const none = (await m.ner([text], { aggregation: "none" }))[0];
  // every token entity's offsets point at its text (the vocabulary is uncased: compare lowercased)
  for (const e of none) {
    assert.ok("entity" in e && e.start !== null && e.end !== null);
    assert.equal(text.slice(e.start, e.end).toLowerCase(), e.word.replace(/^##/, ""));
  }
  for (const aggregation of ["simple", "first", "average", "max"] as const) {
    const ents = (await m.ner([text, "no entities here"], { aggregation }));
    assert.equal(ents.length, 2);
    for (const e of ents[0]) {
      assert.ok("entity_group" in e && !e.entity_group.includes("-"), JSON.stringify(e));
      assert.ok(e.score > 0 && e.score <= 1);
      assert.equal(text.slice(e.start!, e.end!).toLowerCase().replace(/\s+/g, " "), e.word.replace(/ ?- ?/g, "-").replace(/\s+/g, " "), JSON.stringify(e));
    }
  }
  // a text longer than the model's window is tagged in windows, nothing dropped
  const long = Array.from({ length: 80 }, () => "Paris").join(" ");
  const short = await Electra.load(nerOut, { threads: 1, maxLength: 16 });
  const toks = (await short.ner([long], { aggregation: "none", ignoreLabels: [] }))[0];
  assert.equal(toks.length, 80, "every token of the long text gets a label");
  assert.equal((toks[79] as { start: number }).start, long.length - 5);
  // windows are cut between words: a word split into pieces stays one word under "first"
  const words = Array.from({ length: 12 }, () => "Kazakhstani").join(" ");
  const ents = (await short.ner([words], { aggregation: "first", ignoreLabels: [] }))[0];
  assert.equal(ents.length > 0 ? ents.map((e) => words.slice(e.start!, e.end!)).join(" ").split(/\s+/).filter((w) => w !== "Kazakhstani").length : 0, 0,
    JSON.stringify(ents.map((e) => [e.start, e.end])));
  // serve
  const server = new ElectraServer(m, { port: 0, maxWaitMs: 1 });
  const port = await server.listen();
  try {
    const r = await fetch(`http://127.0.0.1:${port}/ner`, { method: "POST", body: JSON.stringify({ inputs: [text], aggregation: "first" }) });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { results: unknown[][] };
    assert.deepEqual(body.results[0], (await m.ner([text], { aggregation: "first" }))[0]);
    const bad = await fetch(`http://127.0.0.1:${port}/ner`, { method: "POST", body: JSON.stringify({ inputs: [text], aggregation: "loud" }) });
    assert.equal(bad.status, 400);
    const wrong = await fetch(`http://127.0.0.1:${port}/classify`, { method: "POST", body: JSON.stringify({ inputs: [text] }) });
    assert.equal(wrong.status, 400);
  } finally {
    await server.close();
  }
});
