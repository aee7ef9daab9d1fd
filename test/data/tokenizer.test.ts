import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { WordPieceTokenizer, truncateSeqPair, trainWordPiece, readVocabFile, SPECIAL_TOKENS } from "../../src/data/tokenizer.js";
import { skipUnless } from "../helpers/paths.js";

const SHARED = path.resolve(process.cwd(), "../shared");
const MODELS = path.join(SHARED, "data/models");
const SMALL_VOCAB = path.join(MODELS, "google-electra-small-discriminator/vocab.txt");
const BASE_JSON = path.join(MODELS, "google-electra-base-discriminator/tokenizer.json");
const RICK_JSON = path.join(MODELS, "rickSomers-electra-small-finetuned-seqcls/tokenizer.json");


const SENTENCES = [
  "The quick brown fox jumps",
  "Héllo WÖRLD, how's it going?",
  "unaffable self-driving cars cost $30,000.",
  "ELECTRA: Pre-training Text Encoders as Discriminators Rather Than Generators.",
  "Café naïve résumé — “quotes” and ‘apostrophes’…",
  "中文字符 and 日本語 mixed with English",
  "tab\tseparated\u00a0nbsp and\u200bzero-width",
  "a" + "b".repeat(120) + " long word",
  "",
  "   ",
];

test("vocab.txt: known BERT uncased ids, special ids, vocab size", { skip: skipUnless(SMALL_VOCAB) }, async () => {
  const tok = WordPieceTokenizer.fromVocabFile(SMALL_VOCAB);
  assert.equal(tok.vocabSize, 30522);
  assert.deepEqual(tok.specials(), { padId: 0, unkId: 100, clsId: 101, sepId: 102, maskId: 103 });
  assert.deepEqual(Array.from(await tok.encode("The quick brown fox jumps")), [1996, 4248, 2829, 4419, 14523]);
  const p = await tok.encodePair("The quick brown fox jumps", undefined, 10);
  assert.deepEqual(Array.from(p.inputIds), [101, 1996, 4248, 2829, 4419, 14523, 102, 0, 0, 0]);
  assert.deepEqual(Array.from(p.tokenTypeIds), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(p.attentionMask), [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
  assert.equal(p.length, 7);
  // Lowercasing and accent stripping, WordPiece continuation, [UNK] for words over 100 characters.
  assert.deepEqual(Array.from(await tok.encode("Héllo WÖRLD")), [7592, 2088]);
  assert.deepEqual(await tok.tokenize("unaffable"), ["una", "##ffa", "##ble"]);
  assert.deepEqual(Array.from(await tok.encode("a" + "b".repeat(120))), [100]);
  // Special tokens in raw text are not matched (official FullTokenizer semantics).
  assert.deepEqual(await tok.tokenize("[MASK]"), ["[", "mask", "]"]);
  assert.equal(tok.idToToken(103), "[MASK]");
  assert.equal(tok.tokenToId("fox"), 4419);
  assert.equal(tok.idToToken(999999), undefined);
  assert.deepEqual(await tok.encode(""), new Int32Array(0));
});

test("encodeBatch equals encode one by one", { skip: skipUnless(SMALL_VOCAB) }, async () => {
  const tok = WordPieceTokenizer.fromVocabFile(SMALL_VOCAB);
  const batch = await tok.encodeBatch(SENTENCES);
  for (let i = 0; i < SENTENCES.length; i++) assert.deepEqual(batch[i], await tok.encode(SENTENCES[i]), SENTENCES[i]);
});

test("encodePair: [CLS] A [SEP] B [SEP], token types, official longest-first truncation", { skip: skipUnless(SMALL_VOCAB) }, async () => {
  const tok = WordPieceTokenizer.fromVocabFile(SMALL_VOCAB);
  const p = await tok.encodePair("the quick brown", "fox jumps", 12);
  assert.deepEqual(Array.from(p.inputIds), [101, 1996, 4248, 2829, 102, 4419, 14523, 102, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(p.tokenTypeIds), [0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(p.attentionMask), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  // A has 6 tokens, B has 2; 8 slots for text: A loses 0..; with maxLen 8 → 5 text tokens: A 3, B 2.
  const a = "one two three four five six";
  const q = await tok.encodePair(a, "seven eight", 8);
  const ids = await tok.encode(a);
  const idsB = await tok.encode("seven eight");
  assert.deepEqual(Array.from(q.inputIds), [101, ids[0], ids[1], ids[2], 102, idsB[0], idsB[1], 102]);
  // Equal lengths: B loses first (official _truncate_seq_pair), so A keeps the extra token.
  assert.deepEqual(truncateSeqPair(10, 10, 5), [3, 2]);
  assert.deepEqual(truncateSeqPair(10, 2, 5), [3, 2]);
  assert.deepEqual(truncateSeqPair(1, 9, 5), [1, 4]);
  assert.deepEqual(truncateSeqPair(2, 2, 5), [2, 2]);
  // Single sequence truncated to maxLen - 2.
  const s = await tok.encodePair(a, null, 5);
  assert.deepEqual(Array.from(s.inputIds), [101, ids[0], ids[1], ids[2], 102]);
  await assert.rejects(tok.encodePair("a", "b", 2), /too small/);
  const batch = await tok.encodePairBatch([["the quick brown", "fox jumps"], ["the quick brown fox jumps"]], 12);
  assert.deepEqual(batch[0], p);
});

test("decode joins WordPiece pieces and drops special tokens", { skip: skipUnless(SMALL_VOCAB) }, async () => {
  const tok = WordPieceTokenizer.fromVocabFile(SMALL_VOCAB);
  const p = await tok.encodePair("The unaffable fox.", "It jumps!", 16);
  assert.equal(tok.decode(p.inputIds), "the unaffable fox. it jumps!");
  assert.match(tok.decode(p.inputIds, false), /^\[CLS\] the unaffable fox\. \[SEP\] it jumps! \[SEP\] \[PAD\]/);
});

test("old-format tokenizer.json (no model.type) gives the same ids as vocab.txt", { skip: skipUnless(SMALL_VOCAB, BASE_JSON, RICK_JSON) }, async () => {
  const raw = JSON.parse(readFileSync(BASE_JSON, "utf8")) as { model: Record<string, unknown> };
  assert.equal(raw.model.type, undefined, "the base tokenizer.json is the old format");
  const fromVocab = WordPieceTokenizer.fromVocabFile(SMALL_VOCAB);
  for (const file of [BASE_JSON, RICK_JSON]) {
    const fromJson = WordPieceTokenizer.fromTokenizerJson(file);
    assert.equal(fromJson.vocabSize, 30522);
    assert.equal(fromJson.vocabHash, fromVocab.vocabHash);
    assert.deepEqual(fromJson.specials(), fromVocab.specials());
    const a = await fromVocab.encodeBatch(SENTENCES);
    const b = await fromJson.encodeBatch(SENTENCES);
    assert.deepEqual(b, a, file);
    assert.deepEqual(await fromJson.encodePair(SENTENCES[0], SENTENCES[1], 20), await fromVocab.encodePair(SENTENCES[0], SENTENCES[1], 20));
  }
  // load() picks tokenizer.json in a folder, vocab.txt otherwise.
  assert.equal(WordPieceTokenizer.load(path.dirname(BASE_JSON)).source, BASE_JSON);
  assert.equal(WordPieceTokenizer.load(path.dirname(SMALL_VOCAB)).source, path.join(path.dirname(SMALL_VOCAB), "vocab.txt"));
});

test("a vocabulary without [MASK] (or [UNK]) is a clear error naming the token", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "tok-test-"));
  try {
    const v = path.join(dir, "vocab.txt");
    writeFileSync(v, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat"].join("\n") + "\n");
    assert.throws(() => WordPieceTokenizer.fromVocabFile(v), (e: Error) => /lacks the special token \[MASK\]/.test(e.message) && e.message.includes(v));
    writeFileSync(v, ["[PAD]", "[CLS]", "[SEP]", "the"].join("\n") + "\n");
    assert.throws(() => WordPieceTokenizer.fromVocabFile(v), /lacks the special tokens \[UNK\], \[MASK\]/);
    // A tokenizer.json whose vocabulary lacks [MASK].
    const j = path.join(dir, "tokenizer.json");
    writeFileSync(
      j,
      JSON.stringify({
        version: "1.0",
        added_tokens: [],
        normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
        pre_tokenizer: { type: "BertPreTokenizer" },
        model: { unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab: { "[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, the: 4 } },
      }),
    );
    assert.throws(() => WordPieceTokenizer.fromTokenizerJson(j), /lacks the special token \[MASK\]/);
    assert.throws(() => WordPieceTokenizer.load(path.join(dir, "nope")), /does not exist/);
    // CRLF vocab files load (trailing "\r" is not part of the token).
    writeFileSync(v, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat"].join("\r\n") + "\r\n");
    assert.deepEqual(readVocabFile(v).slice(4), ["[MASK]", "the", "cat"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an inline vocabulary works (no shared data needed)", async () => {
  const tok = WordPieceTokenizer.fromVocab([...SPECIAL_TOKENS, "the", "cat", "sat", "##s", ".", "on"]);
  assert.deepEqual(Array.from(await tok.encode("The cats sat on the mat.")), [5, 6, 8, 7, 10, 5, 1, 9]);
  assert.equal(tok.decode([2, 5, 6, 8, 3]), "the cats");
});

test("trainWordPiece writes a vocab.txt with the specials at 0..4, skipping binary files", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "tok-train-"));
  try {
    const src = path.join(dir, "corpus");
    mkdirSync(src);
    // Synthetic text: words of 1-4 syllables, Zipf-like word frequencies.
    const syl = ["ty", "ger", "burn", "ing", "bright", "for", "est", "night", "im", "mor", "tal", "hand", "eye", "frame", "fear", "ful", "sym", "me", "try", "dis", "tant", "deep", "skies", "wings"];
    let state = 12345;
    const rand = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % n;
    };
    const words = Array.from({ length: 3000 }, () => Array.from({ length: 1 + rand(4) }, () => syl[rand(syl.length)]).join(""));
    const lines: string[] = [];
    for (let i = 0; i < 4000; i++) lines.push(Array.from({ length: 8 }, () => words[Math.min(rand(3000), rand(3000), rand(3000))]).join(" ") + ".");
    writeFileSync(path.join(src, "a.txt"), lines.join("\n") + "\n");
    writeFileSync(path.join(src, "b.txt"), Buffer.concat([Buffer.from("Tyger tyger burning bright caf"), Buffer.from([0xe9]), Buffer.from(" in the forests\r\n")]));
    writeFileSync(path.join(src, "c.bin"), Buffer.from([0, 1, 2, 3, 0, 255, 254, 0, 7, 8]));
    const out = path.join(dir, "vocab.txt");
    const warnings: string[] = [];
    const r = await trainWordPiece(src, 600, out, { onWarning: (w) => warnings.push(w.message) });
    assert.equal(r.vocabSize, 600);
    assert.equal(r.filesSkipped, 1);
    assert.ok(warnings.some((w) => w.includes("c.bin")), warnings.join("\n"));
    const vocab = readVocabFile(out);
    assert.equal(vocab.length, 600);
    assert.deepEqual(vocab.slice(0, 5), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
    assert.equal(new Set(vocab).size, vocab.length, "no duplicate tokens");
    const tok = WordPieceTokenizer.fromVocabFile(out);
    assert.deepEqual(tok.specials(), { padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4 });
    const ids = await tok.encode("Tyger. Tyger. burning bright");
    assert.ok(ids.length >= 4 && !ids.includes(1), `known characters need no [UNK]: ${Array.from(ids)}`);
    const common = await tok.tokenize(words[0]);
    assert.ok(common.length <= 2, `a frequent word is one or two pieces: ${common.join(" ")}`);
    // Asking for more than the corpus supports writes what there is, with a warning.
    const r2 = await trainWordPiece(path.join(src, "b.txt"), 5000, out);
    assert.ok(r2.vocabSize < 5000 && r2.warnings.some((w) => /fewer than/.test(w)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
