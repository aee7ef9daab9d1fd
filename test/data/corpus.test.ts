import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { readCorpus, readCorpusLines, listCorpusFiles, pyStrip, newCorpusReadStats, sniffBinary, inspectTextFile, type CorpusWarning } from "../../src/data/corpus.js";
import { WordPieceTokenizer, SPECIAL_TOKENS } from "../../src/data/tokenizer.js";
import { buildPretrainingData, ExampleFile } from "../../src/data/pretrain-builder.js";
import { Rng } from "../../src/core/rng.js";

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), "corpus-test-"));
}

const WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "far", "away", "from", "home", "and", "then", "slept", "."];
const inlineTok = (): WordPieceTokenizer => WordPieceTokenizer.fromVocab([...SPECIAL_TOKENS, ...WORDS, "##s"]);

test("CRLF lines, blank lines, whitespace-only lines, Python strip, BOM", async () => {
  const dir = tmp();
  try {
    const f = path.join(dir, "a.txt");
    writeFileSync(f, "\ufeffa b\r\n  c d  \r\n\r\n \t\u00a0\u3000\r\ne f\u2028\r\n\u000bg\u001c");
    const { lines, stats } = await readCorpusLines(f);
    assert.deepEqual(lines, ["a b", "c d", "", "", "e f", "g"]);
    assert.equal(stats.lines, 6);
    assert.equal(stats.nonBlankLines, 4);
    assert.equal(stats.invalidUtf8Replacements, 0);
    assert.equal(pyStrip("\u0085 x \u205f"), "x");
    assert.equal(pyStrip("\ufeffx"), "\ufeffx", "Python's strip keeps U+FEFF");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("folder: sorted, nested, dot-files skipped; empty files are fine; end of file ends the last line", async () => {
  const dir = tmp();
  try {
    mkdirSync(path.join(dir, "sub"));
    writeFileSync(path.join(dir, "b.txt"), "second\n");
    writeFileSync(path.join(dir, "a.txt"), "first");
    writeFileSync(path.join(dir, "sub", "c.txt"), "third\n\n");
    writeFileSync(path.join(dir, "empty.txt"), "");
    writeFileSync(path.join(dir, ".hidden"), "nope\n");
    assert.deepEqual(
      listCorpusFiles(dir).map((f) => path.relative(dir, f)),
      ["a.txt", "b.txt", "empty.txt", path.join("sub", "c.txt")],
    );
    const blocks = [];
    for await (const b of readCorpus(dir)) blocks.push(b);
    assert.deepEqual(
      blocks.map((b) => [path.basename(b.file), b.texts, b.endOfFile]),
      [
        ["a.txt", ["first"], true],
        ["b.txt", ["second"], true],
        ["empty.txt", [], true],
        ["c.txt", ["third", ""], true],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an empty corpus is a clear error; a missing path too", async () => {
  const dir = tmp();
  try {
    await assert.rejects(readCorpusLines(dir), /has no files/);
    writeFileSync(path.join(dir, "empty.txt"), "");
    writeFileSync(path.join(dir, "blank.txt"), "\n\n  \r\n");
    await assert.rejects(readCorpusLines(dir), /has no text: 2 file\(s\)/);
    writeFileSync(path.join(dir, "junk.bin"), Buffer.from([0, 0, 0, 1, 2, 3]));
    await assert.rejects(readCorpusLines(dir), (e: Error) => /has no text/.test(e.message) && e.message.includes("junk.bin"));
    await assert.rejects(readCorpusLines(path.join(dir, "missing")), /does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("binary garbage, NUL bytes and UTF-16 files are skipped with a warning naming them", async () => {
  const dir = tmp();
  try {
    const rng = new Rng(7);
    const garbage = Buffer.alloc(100000);
    for (let i = 0; i < garbage.length; i++) garbage[i] = rng.nextU32() & 0xff;
    writeFileSync(path.join(dir, "a-garbage.bin"), garbage);
    writeFileSync(path.join(dir, "b-nul.txt"), Buffer.concat([Buffer.from("looks like text\n"), Buffer.from([0]), Buffer.from("but is not\n")]));
    writeFileSync(path.join(dir, "c-utf16.txt"), Buffer.from("\ufeffhello\n", "utf16le"));
    // Mostly control characters, no NUL.
    writeFileSync(path.join(dir, "d-controls.dat"), Buffer.from(Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? 65 : 1 + (i % 8)))));
    writeFileSync(path.join(dir, "e-good.txt"), "real text\n");
    const warnings: CorpusWarning[] = [];
    const { lines, stats } = await readCorpusLines(dir, { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(lines, ["real text"]);
    assert.equal(stats.filesSkipped, 4);
    assert.equal(stats.filesRead, 1);
    assert.deepEqual(
      warnings.map((w) => [w.kind, path.basename(w.file)]),
      [
        ["binary", "a-garbage.bin"],
        ["binary", "b-nul.txt"],
        ["utf16", "c-utf16.txt"],
        ["binary", "d-controls.dat"],
      ],
    );
    for (const w of warnings) assert.ok(w.message.includes(w.file), w.message);
    assert.equal(sniffBinary(Buffer.from("plain text with a tab\tand é\n")), null);
    assert.equal((await inspectTextFile(path.join(dir, "e-good.txt"))).validUtf8, true);
    assert.match((await inspectTextFile(path.join(dir, "a-garbage.bin"))).binary ?? "", /NUL/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("invalid UTF-8 is replaced by U+FFFD and counted, not fatal; a real U+FFFD is not counted", async () => {
  const dir = tmp();
  try {
    const f = path.join(dir, "latin1.txt");
    writeFileSync(f, Buffer.concat([Buffer.from("caf"), Buffer.from([0xe9]), Buffer.from(" ok \ufffd\nna"), Buffer.from([0xc3]), Buffer.from("\n"), Buffer.from([0xf0, 0x9f])]));
    const warnings: CorpusWarning[] = [];
    const { lines, stats } = await readCorpusLines(f, { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(lines, ["caf\ufffd ok \ufffd", "na\ufffd", "\ufffd"]);
    assert.equal(stats.invalidUtf8Replacements, 3);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].kind, "invalid-utf8");
    assert.equal(warnings[0].count, 3);
    assert.ok(warnings[0].message.includes(f));
    assert.equal((await inspectTextFile(f)).validUtf8, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("small chunks: multi-byte characters across chunk boundaries decode exactly", async () => {
  const dir = tmp();
  try {
    const rng = new Rng(3);
    const alphabet = ["a", "é", "中", "😀", " ", "ß", "\u0301", "z"];
    const want: string[] = [];
    for (let i = 0; i < 300; i++) {
      let s = "";
      const n = rng.randint(0, 60);
      for (let j = 0; j < n; j++) s += alphabet[rng.randint(0, alphabet.length - 1)];
      want.push(pyStrip(s));
    }
    const f = path.join(dir, "u.txt");
    writeFileSync(f, want.join("\n") + "\n");
    const { lines, stats } = await readCorpusLines(f, { chunkBytes: 1024, maxPieceBytes: 4096 });
    assert.equal(stats.invalidUtf8Replacements, 0);
    assert.deepEqual(lines, want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a 1 MB single line is read in bounded pieces and tokenized exactly like the whole line", async () => {
  const dir = tmp();
  try {
    const rng = new Rng(11);
    const words: string[] = [];
    let bytes = 0;
    while (bytes < 1 << 20) {
      const w = WORDS[rng.randint(0, WORDS.length - 1)] + (rng.uniform() < 0.1 ? "s" : "");
      words.push(w);
      bytes += w.length + 1;
    }
    const f = path.join(dir, "long.txt");
    writeFileSync(f, "short line\n" + words.join(" ") + "\nafter\n");
    // Pieces are bounded and cut at spaces.
    let maxPiece = 0;
    let pieces = 0;
    for await (const b of readCorpus(f, { maxPieceBytes: 1 << 16 })) {
      for (let i = 0; i < b.texts.length; i++) {
        maxPiece = Math.max(maxPiece, Buffer.byteLength(b.texts[i]));
        if (!b.lineEnds[i]) pieces++;
      }
    }
    assert.ok(maxPiece <= 1 << 16, `piece of ${maxPiece} bytes`);
    assert.ok(pieces >= 15, `the long line came in ${pieces + 1} pieces`);
    const { lines } = await readCorpusLines(f);
    assert.equal(lines.length, 3);
    assert.equal(lines[1], words.join(" "));
    // Token ids through the whole pipeline equal the per-word ids.
    const tok = inlineTok();
    const unique = [...new Set(words)];
    const idsOf = new Map(unique.map((w, i) => [w, i]));
    const perUnique = await tok.encodeBatch(unique);
    const expected: number[] = [];
    for (const w of words) expected.push(...perUnique[idsOf.get(w)!]);
    const out = path.join(dir, "ex.bin");
    const s = await buildPretrainingData({ corpus: f, tokenizer: tok, out, maxSeqLength: 64, seed: 1 });
    assert.equal(s.lines, 3);
    assert.equal(s.tokens, expected.length + 3);
    // One example from the first line plus a prefix of the long line (the builder truncates).
    const ef = ExampleFile.open(out);
    const first = ef.read(0);
    const shortIds = await tok.encode("short line");
    const real = Array.from(first.inputIds.subarray(0, first.length)).filter((x) => x !== tok.clsId && x !== tok.sepId);
    assert.deepEqual(real, [...shortIds, ...expected].slice(0, real.length));
    ef.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a line with no space for longer than a piece is cut at a character boundary", async () => {
  const dir = tmp();
  try {
    const f = path.join(dir, "nospace.txt");
    const s = "é".repeat(5000) + "末尾";
    writeFileSync(f, s + "\n");
    const stats = newCorpusReadStats();
    const texts: string[] = [];
    for await (const b of readCorpus(f, { maxPieceBytes: 1001, stats })) texts.push(...b.texts);
    assert.equal(stats.invalidUtf8Replacements, 0);
    assert.equal(texts.join(""), s);
    for (const t of texts) assert.ok(Buffer.byteLength(t) <= 1001);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
