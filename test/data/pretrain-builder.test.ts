import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, readFileSync, rmSync, openSync, closeSync, writeSync, ftruncateSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Rng } from "../../src/core/rng.js";
import {
  ExampleBuilder,
  ExampleWriter,
  ExampleFile,
  PretrainDataLoader,
  buildPretrainingData,
  encodeExampleFileHeader,
  encodeExampleRecord,
  recordBytesFor,
  EXAMPLE_FILE_HEADER_BYTES,
  vocabCoverageWarning,
  type BuiltExample,
} from "../../src/data/pretrain-builder.js";
import { WordPieceTokenizer, SPECIAL_TOKENS } from "../../src/data/tokenizer.js";
import { readCorpusLines } from "../../src/data/corpus.js";
import { skipUnless } from "../helpers/paths.js";

const SHARED = path.resolve(process.cwd(), "../shared");
const VOCAB = path.join(SHARED, "data/models/google-electra-small-discriminator/vocab.txt");
const CORPUS = path.join(SHARED, "data/corpus/nltk-gutenberg");
const CLS = 101;
const SEP = 102;


function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), "builder-test-"));
}

/** An Rng stand-in returning scripted uniforms (randint as in Rng). */
function scripted(values: number[]): Rng {
  const u = (): number => {
    const v = values.shift();
    if (v === undefined) throw new Error("scripted rng: out of values");
    return v;
  };
  return { uniform: u, randint: (lo: number, hi: number) => lo + Math.floor(u() * (hi - lo + 1)) } as unknown as Rng;
}

function seq(n: number, start: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => start + i);
}

test("ExampleBuilder follows the official first-segment rules and draw order", () => {
  // Not single-segment (0.5 ≥ 0.1): first target (128 - 3) // 2 = 62.
  // 30 → A (A empty); 30 → A (60 < 62); 30 → overflow, B empty and A < 62: coin 0.3 < 0.5 → A (90);
  // 40 → B (A ≥ 62). The 4th sentence reaches 130 ≥ 128 and emits. Then the 0.05 draw: 0.9 → target 128.
  const rng = scripted([0.5, 0.3, 0.9]);
  const b = new ExampleBuilder({ maxSeqLength: 128, clsId: CLS, sepId: SEP, rng });
  assert.equal(b.addSentence(seq(30, 1000)), null);
  assert.equal(b.addSentence(seq(30, 2000)), null);
  assert.equal(b.addSentence(seq(30, 3000)), null);
  const ex = b.addSentence(seq(40, 4000))!;
  assert.ok(ex);
  // A = 90 tokens (kept: ≤ 126), B truncated to 128 - 90 - 3 = 35.
  assert.equal(ex.ids.length, 128);
  assert.equal(ex.segmentBoundary, 92);
  assert.deepEqual(Array.from(ex.ids.subarray(0, 1)), [CLS]);
  assert.deepEqual(Array.from(ex.ids.subarray(1, 91)), [...seq(30, 1000), ...seq(30, 2000), ...seq(30, 3000)]);
  assert.equal(ex.ids[91], SEP);
  assert.deepEqual(Array.from(ex.ids.subarray(92, 127)), Array.from(seq(35, 4000)));
  assert.equal(ex.ids[127], SEP);
  assert.equal(b.targetLength, 128);

  // Coin 0.7 ≥ 0.5 sends the overflowing sentence to B; later sentences follow B.
  const b2 = new ExampleBuilder({ maxSeqLength: 128, clsId: CLS, sepId: SEP, rng: scripted([0.5, 0.7, 0.9]) });
  b2.addSentence(seq(30, 1000));
  b2.addSentence(seq(30, 2000));
  b2.addSentence(seq(30, 3000));
  const ex2 = b2.addSentence(seq(40, 4000))!;
  assert.equal(ex2.segmentBoundary, 62);
  assert.equal(ex2.ids.length, 128);
  assert.deepEqual(Array.from(ex2.ids.subarray(62, 92)), Array.from(seq(30, 3000)));

  // Single segment (0.05 < 0.1): everything in A, truncated to 126; no B; then a random target:
  // 0.01 < 0.05 → randint(5, 128) with 0.5 → 5 + floor(0.5 × 124) = 67.
  const b3 = new ExampleBuilder({ maxSeqLength: 128, clsId: CLS, sepId: SEP, rng: scripted([0.05, 0.01, 0.5]) });
  b3.addSentence(seq(100, 1000));
  const ex3 = b3.addSentence(seq(100, 2000))!;
  assert.equal(ex3.ids.length, 128);
  assert.equal(ex3.segmentBoundary, 128);
  assert.equal(ex3.ids[127], SEP);
  assert.equal(b3.targetLength, 67);
  assert.equal(b3.stats.truncatedTokens, 200 - 126);

  // A document end flushes a short example; empty sentences change nothing; a second flush is a no-op.
  const b4 = new ExampleBuilder({ maxSeqLength: 128, clsId: CLS, sepId: SEP, rng: scripted([0.5, 0.9]) });
  assert.equal(b4.endDocument(), null);
  assert.equal(b4.addSentence(new Int32Array(0)), null);
  b4.addSentence(seq(3, 1000));
  const ex4 = b4.endDocument()!;
  assert.deepEqual(Array.from(ex4.ids), [CLS, 1000, 1001, 1002, SEP]);
  assert.equal(ex4.segmentBoundary, 5);
  assert.equal(b4.endDocument(), null);
});

/** Synthetic documents of sentences with ids ≥ 1000 (never CLS/SEP). */
function synthDocs(seed: number, docs: number, sentences: number): Int32Array[][] {
  const r = new Rng(seed);
  const out: Int32Array[][] = [];
  for (let d = 0; d < docs; d++) {
    const doc: Int32Array[] = [];
    for (let s = 0; s < sentences; s++) {
      const n = r.randint(5, 15);
      doc.push(Int32Array.from({ length: n }, () => r.randint(1000, 29999)));
    }
    out.push(doc);
  }
  return out;
}

function runBuilder(docs: Int32Array[][], seed: number, T = 128): { examples: BuiltExample[]; builder: ExampleBuilder } {
  const builder = new ExampleBuilder({ maxSeqLength: T, clsId: CLS, sepId: SEP, rng: new Rng(seed) });
  const examples: BuiltExample[] = [];
  for (const doc of docs) {
    for (const s of doc) {
      const e = builder.addSentence(s);
      if (e) examples.push(e);
    }
    const e = builder.endDocument();
    if (e) examples.push(e);
  }
  return { examples, builder };
}

test("builder statistics: layout, lengths ≤ max, ~10% single segment, ~5% random targets, deterministic", () => {
  const docs = synthDocs(1, 100, 400);
  const T = 128;
  const { examples, builder } = runBuilder(docs, 42, T);
  const n = examples.length;
  assert.ok(n > 3000, `${n} examples`);
  assert.equal(builder.stats.examples, n);
  let tokensIn = 0;
  for (const d of docs) for (const s of d) tokensIn += s.length;
  let tokensOut = 0;
  for (const ex of examples) {
    const L = ex.ids.length;
    const S = ex.segmentBoundary;
    assert.ok(L >= 3 && L <= T);
    assert.equal(ex.ids[0], CLS);
    assert.equal(ex.ids[L - 1], SEP);
    if (S < L) {
      assert.equal(ex.ids[S - 1], SEP, "[SEP] closes A");
      assert.ok(S >= 3 && L - S >= 2, "A and B both non-empty");
    } else assert.equal(S, L);
    let seps = 0;
    for (let t = 0; t < L; t++) {
      if (ex.ids[t] === SEP) seps++;
      if (t > 0) assert.notEqual(ex.ids[t], CLS);
    }
    assert.equal(seps, S < L ? 2 : 1);
    tokensOut += L - (S < L ? 3 : 2);
  }
  assert.equal(tokensOut + builder.stats.truncatedTokens, tokensIn, "every token is either kept or counted as truncated");
  const single = builder.stats.singleSegmentDraws / n;
  const oneSeg = builder.stats.oneSegmentExamples / n;
  const randomTarget = builder.stats.randomTargetExamples / n;
  assert.ok(Math.abs(single - 0.1) < 0.02, `single-segment draws ${single}`);
  assert.ok(oneSeg >= single && oneSeg < 0.14, `one-segment examples ${oneSeg}`);
  assert.ok(Math.abs(randomTarget - 0.05) < 0.015, `random-target examples ${randomTarget}`);
  // Full-target examples inside long documents fill max_seq_len exactly.
  const full = examples.filter((e) => e.ids.length === T).length / n;
  assert.ok(full > 0.9, `full-length fraction ${full}`);
  // Determinism by seed.
  const again = runBuilder(docs, 42, T).examples;
  assert.deepEqual(again, examples);
  const other = runBuilder(docs, 43, T).examples;
  assert.notDeepEqual(other.slice(0, 50), examples.slice(0, 50));
});

const WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "far", "away", "from", "home", "and", "then", "slept", ".", ","];
const inlineTok = (): WordPieceTokenizer => WordPieceTokenizer.fromVocab([...SPECIAL_TOKENS, ...WORDS, "##s"]);

function writeSynthCorpus(dir: string, seed: number): void {
  const r = new Rng(seed);
  for (let f = 0; f < 3; f++) {
    const lines: string[] = [];
    for (let d = 0; d < 20; d++) {
      const ns = r.randint(1, 40);
      for (let s = 0; s < ns; s++) {
        const nw = r.randint(1, 25);
        lines.push(Array.from({ length: nw }, () => WORDS[r.randint(0, WORDS.length - 1)]).join(" "));
      }
      lines.push(r.uniform() < 0.3 ? "   " : "");
    }
    writeFileSync(path.join(dir, `part-${f}.txt`), lines.join(f === 1 ? "\r\n" : "\n"));
  }
}

test("pipeline: corpus → tokenizer → builder → example file round trip, summary, determinism", async () => {
  const dir = tmp();
  try {
    const corpus = path.join(dir, "corpus");
    mkdirSync(corpus);
    writeSynthCorpus(corpus, 5);
    const tok = inlineTok();
    const out = path.join(dir, "ex.bin");
    const progress: number[] = [];
    const s = await buildPretrainingData({ corpus, tokenizer: tok, out, maxSeqLength: 64, seed: 9, onProgress: (p) => progress.push(p.bytesRead) });
    assert.ok(progress.length >= 3 && progress[progress.length - 1] === s.bytes);

    // The same lines through ExampleBuilder by hand (documents end at blank lines and file ends).
    const builder = new ExampleBuilder({ maxSeqLength: 64, clsId: tok.clsId, sepId: tok.sepId, rng: new Rng(9) });
    const expected: BuiltExample[] = [];
    let tokens = 0;
    let documents = 0;
    for (let f = 0; f < 3; f++) {
      const { lines } = await readCorpusLines(path.join(corpus, `part-${f}.txt`));
      const ids = await tok.encodeBatch(lines);
      let docTokens = 0;
      const end = (): void => {
        const e = builder.endDocument();
        if (e) expected.push(e);
        if (docTokens > 0) documents++;
        docTokens = 0;
      };
      for (let i = 0; i < lines.length; i++) {
        if (lines[i] === "") {
          end();
          continue;
        }
        tokens += ids[i].length;
        docTokens += ids[i].length;
        const e = builder.addSentence(ids[i]);
        if (e) expected.push(e);
      }
      end();
    }
    assert.equal(s.examples, expected.length);
    assert.equal(s.tokens, tokens);
    assert.equal(s.documents, documents);
    assert.equal(s.documents, 60);
    assert.equal(s.files, 3);
    assert.deepEqual(s.builder, builder.stats);
    const used = new Set<number>();
    for (const e of expected) for (const id of e.ids) used.add(id);
    assert.equal(s.vocabSize, tok.vocabSize);
    assert.equal(s.vocabUsed, used.size);
    assert.ok(s.vocabUsed > 10 && s.vocabUsed < s.vocabSize, `vocabUsed ${s.vocabUsed} of ${s.vocabSize}`);

    const ef = ExampleFile.open(out);
    assert.equal(ef.count, expected.length);
    assert.equal(ef.maxSeqLength, 64);
    assert.equal(ef.idBytes, 2);
    assert.equal(ef.seed, 9);
    ef.checkTokenizer(tok);
    assert.throws(() => ef.checkTokenizer({ vocabSize: tok.vocabSize, vocabHash: tok.vocabHash ^ 1 }), /another vocabulary/);
    for (let i = 0; i < ef.count; i++) {
      const e = ef.read(i);
      const x = expected[i];
      const L = x.ids.length;
      assert.equal(e.length, L);
      assert.equal(e.segmentBoundary, x.segmentBoundary);
      assert.deepEqual(e.inputIds.subarray(0, L), x.ids);
      assert.ok(e.inputIds.subarray(L).every((v) => v === 0), "padding is 0");
      for (let t = 0; t < 64; t++) {
        assert.equal(e.attentionMask[t], t < L ? 1 : 0);
        assert.equal(e.tokenTypeIds[t], t >= x.segmentBoundary && t < L ? 1 : 0);
      }
    }
    // readBatch equals read(), in any order, with repeats.
    const idx = [5, 0, ef.count - 1, 5, 17];
    const batch = ef.readBatch(idx);
    assert.equal(batch.batchSize, 5);
    idx.forEach((i, k) => {
      const e = ef.read(i);
      assert.deepEqual(batch.inputIds.subarray(k * 64, (k + 1) * 64), e.inputIds);
      assert.deepEqual(batch.tokenTypeIds.subarray(k * 64, (k + 1) * 64), e.tokenTypeIds);
      assert.equal(batch.lengths[k], e.length);
    });
    assert.throws(() => ef.read(ef.count), /outside/);
    ef.close();

    // Determinism: same seed → identical bytes; another seed → different file.
    const out2 = path.join(dir, "ex2.bin");
    await buildPretrainingData({ corpus, tokenizer: tok, out: out2, maxSeqLength: 64, seed: 9 });
    assert.deepEqual(readFileSync(out2), readFileSync(out));
    const out3 = path.join(dir, "ex3.bin");
    await buildPretrainingData({ corpus, tokenizer: tok, out: out3, maxSeqLength: 64, seed: 10 });
    assert.notDeepEqual(readFileSync(out3), readFileSync(out));
    // A failing build leaves no output behind.
    await assert.rejects(buildPretrainingData({ corpus: path.join(dir, "missing"), tokenizer: tok, out: path.join(dir, "bad.bin") }), /does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("example file: corrupt, truncated and incomplete files are refused with clear errors; int32 ids for large vocabularies", () => {
  const dir = tmp();
  try {
    const f = path.join(dir, "big-vocab.bin");
    const w = new ExampleWriter(f, { maxSeqLength: 8, vocabSize: 70000, vocabHash: 123 });
    w.add([CLS, 69999, SEP], 3);
    w.add([CLS, 5, SEP, 66000, SEP], 3);
    // The partial file is not visible under the final name until finish().
    assert.throws(() => ExampleFile.open(f), /cannot open/);
    assert.equal(w.finish(), 2);
    const ef = ExampleFile.open(f);
    assert.equal(ef.idBytes, 4);
    assert.equal(ef.recordBytes, 4 + 8 * 4);
    assert.deepEqual(Array.from(ef.read(0).inputIds), [CLS, 69999, SEP, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(ef.read(1).tokenTypeIds), [0, 0, 0, 1, 1, 0, 0, 0]);
    ef.close();
    const bytes = readFileSync(f);
    const bad = path.join(dir, "bad.bin");
    writeFileSync(bad, bytes.subarray(0, bytes.length - 1));
    assert.throws(() => ExampleFile.open(bad), /truncated/);
    const magic = Buffer.from(bytes);
    magic.write("NOTMAGIC", 0, "latin1");
    writeFileSync(bad, magic);
    assert.throws(() => ExampleFile.open(bad), /not an example file/);
    const inc = Buffer.from(bytes);
    inc.writeUInt32LE(0, 36);
    writeFileSync(bad, inc);
    assert.throws(() => ExampleFile.open(bad), /incomplete/);
    writeFileSync(bad, bytes.subarray(0, 10));
    assert.throws(() => ExampleFile.open(bad), /too short/);
    const w2 = new ExampleWriter(path.join(dir, "small.bin"), { maxSeqLength: 8, vocabSize: 100, vocabHash: 1 });
    assert.throws(() => w2.add([1, 2, 3, 4, 5, 6, 7, 8, 9], 9), /outside/);
    assert.throws(() => w2.add([1, 70000], 2), /uint16/);
    w2.abort();
    assert.equal(existsSync(path.join(dir, "small.bin.partial")), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("random access into a file larger than memory (sparse 4.4 GB file): reads only what it needs", (t) => {
  const dir = tmp();
  const f = path.join(dir, "huge.bin");
  const T = 128;
  const vocabSize = 30522;
  const count = 1 << 24;
  const R = recordBytesFor(T, vocabSize);
  const size = EXAMPLE_FILE_HEADER_BYTES + count * R;
  const fd = openSync(f, "w");
  try {
    try {
      ftruncateSync(fd, size);
    } catch (e) {
      t.skip(`cannot make a ${size}-byte sparse file here (${(e as Error).message})`);
      return;
    }
    writeSync(fd, encodeExampleFileHeader({ maxSeqLength: T, vocabSize, vocabHash: 7, count, seed: 0, complete: true }), 0, EXAMPLE_FILE_HEADER_BYTES, 0);
    const picks = [0, 12345, (1 << 23) + 7, count - 1];
    const rec = Buffer.alloc(R);
    for (const i of picks) {
      const ids = [CLS, ...Array.from({ length: 60 }, (_, k) => 1000 + ((i + k) % 20000)), SEP, 2000 + (i % 1000), SEP];
      encodeExampleRecord(rec, 0, ids, 62, T, 2);
      writeSync(fd, rec, 0, R, EXAMPLE_FILE_HEADER_BYTES + i * R);
    }
    closeSync(fd);
    assert.equal(statSync(f).size, size);
    const before = process.memoryUsage().rss;
    const ef = ExampleFile.open(f);
    assert.equal(ef.count, count);
    const b = ef.readBatch(picks);
    picks.forEach((i, k) => {
      const row = b.inputIds.subarray(k * T, (k + 1) * T);
      assert.equal(b.lengths[k], 64);
      assert.equal(row[0], CLS);
      assert.equal(row[1], 1000 + (i % 20000));
      assert.equal(row[62], 2000 + (i % 1000));
      assert.equal(b.tokenTypeIds[k * T + 62], 1);
    });
    // Never-written records read as zeros and are refused as corrupt (length 0).
    assert.throws(() => ef.read(1), /corrupt record/);
    ef.close();
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 256 * 1024 * 1024, `RSS grew by ${grown} bytes reading a ${size}-byte file`);
  } finally {
    try {
      closeSync(fd);
    } catch {
      /* closed */
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test("loader: every example once per epoch, shuffled, exact resume from a saved position (also across epochs)", () => {
  const dir = tmp();
  try {
    const f = path.join(dir, "ex.bin");
    const w = new ExampleWriter(f, { maxSeqLength: 6, vocabSize: 1000, vocabHash: 1 });
    const N = 103;
    for (let i = 0; i < N; i++) w.add([CLS, 200 + i, SEP], 3);
    w.finish();
    const ef = ExampleFile.open(f);
    const ids = (b: { inputIds: Int32Array; batchSize: number }): number[] => Array.from({ length: b.batchSize }, (_, k) => b.inputIds[k * 6 + 1] - 200);

    // dropLast false: an epoch covers all N examples once.
    const all = new PretrainDataLoader(ef, { batchSize: 10, seed: 1, dropLast: false });
    assert.equal(all.batchesPerEpoch, 11);
    const seen: number[] = [];
    for (let k = 0; k < 11; k++) {
      const b = all.nextBatch();
      assert.equal(b.epoch, 0);
      assert.deepEqual(ids(b), Array.from(b.indices));
      seen.push(...ids(b));
    }
    assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i));
    assert.notDeepEqual(seen, Array.from({ length: N }, (_, i) => i), "shuffled");
    const next = all.nextBatch();
    assert.equal(next.epoch, 1);

    // dropLast true (default): full batches only; resume exactly.
    const a = new PretrainDataLoader(ef, { batchSize: 8, seed: 3 });
    assert.equal(a.batchesPerEpoch, 12);
    for (let k = 0; k < 10; k++) assert.equal(a.nextBatch().batchSize, 8);
    const pos = JSON.parse(JSON.stringify(a.getPosition()));
    const want: number[][] = [];
    for (let k = 0; k < 30; k++) want.push(Array.from(a.nextBatch().indices)); // crosses two epoch boundaries
    const b = new PretrainDataLoader(ef, { batchSize: 8, seed: 999 });
    b.setPosition(pos);
    for (let k = 0; k < 30; k++) assert.deepEqual(Array.from(b.nextBatch().indices), want[k], `batch ${k} after resume`);
    assert.deepEqual(b.getPosition(), a.getPosition());
    // Epochs differ in order.
    const c = new PretrainDataLoader(ef, { batchSize: N, seed: 5, dropLast: true });
    const e0 = Array.from(c.nextBatch().indices);
    const e1b = c.nextBatch();
    assert.equal(e1b.epoch, 1);
    assert.notDeepEqual(Array.from(e1b.indices), e0);
    assert.throws(() => new PretrainDataLoader(ef, { batchSize: N + 1 }), /fewer than one batch/);
    assert.throws(() => b.setPosition({ ...pos, examples: 5 }), /5 examples/);
    ef.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("vocabCoverageWarning: silent up to 10% of the vocabulary unused, names the counts and the fix above", () => {
  assert.equal(vocabCoverageWarning({ vocabSize: 1000, vocabUsed: 900, corpus: "c" }, "v.txt"), null);
  assert.equal(vocabCoverageWarning({ vocabSize: 1000, vocabUsed: 1000, corpus: "c" }, "v.txt"), null);
  const w = vocabCoverageWarning({ vocabSize: 1000, vocabUsed: 899, corpus: "books/" }, "v.txt") ?? "";
  assert.match(w, /^101 of the 1000 entries of v\.txt never occur in books\//);
  assert.match(w, /electra vocab --corpus books\/ --size 8192/);
});

test("real corpus and vocabulary: a Gutenberg book builds into valid examples", { skip: skipUnless(VOCAB, CORPUS) }, async () => {
  const dir = tmp();
  try {
    const tok = WordPieceTokenizer.fromVocabFile(VOCAB);
    const out = path.join(dir, "blake.bin");
    const s = await buildPretrainingData({ corpus: path.join(CORPUS, "blake-poems.txt"), tokenizer: tok, out, seed: 1 });
    assert.ok(s.examples > 20 && s.tokens > 5000, JSON.stringify(s));
    const ef = ExampleFile.open(out);
    ef.checkTokenizer(tok);
    const b = ef.readBatch(Array.from({ length: ef.count }, (_, i) => i));
    for (let r = 0; r < b.batchSize; r++) {
      const L = b.lengths[r];
      assert.equal(b.inputIds[r * 128], tok.clsId);
      assert.equal(b.inputIds[r * 128 + L - 1], tok.sepId);
    }
    assert.match(tok.decode(ef.read(0).inputIds), /[a-z]/);
    // one book uses a small part of BERT's 30522 entries: the builder says so
    assert.equal(s.vocabSize, 30522);
    assert.ok(s.vocabUsed > 1000 && s.vocabUsed < 5000, `vocabUsed ${s.vocabUsed}`);
    assert.match(vocabCoverageWarning(s, "vocab.txt") ?? "", new RegExp(`^${30522 - s.vocabUsed} of the 30522 entries of vocab.txt never occur in .*blake-poems.txt`));
    ef.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
