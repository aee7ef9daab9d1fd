import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { throwsAt as throwsAtLine, tmpFiles } from "../helpers/files.js";
import {
  DOCSTART_PREDICTION_LINE,
  TaggedFormatError,
  conllWord,
  labelSet,
  readConll,
  readTagged,
  readTokenJsonl,
  tagScheme,
  writeConllPredictions,
  type TaggedFile,
  type TaggedSentence,
} from "../../src/data/conll.js";

const DATA = path.resolve(process.cwd(), "../shared/data");
const CONLL03 = path.join(DATA, "ner/conll2003");
const CONLL03_IOB1 = path.join(DATA, "ner/conll2003-iob1");
const CONLL00 = path.join(DATA, "chunking/conll2000");
const CONLLEVAL = path.join(DATA, "scorers/conlleval/conlleval");

function missing(...files: string[]): string | false {
  for (const f of files) if (!existsSync(f)) return `shared data absent: ${f} not found`;
  return false;
}

const perlOk = spawnSync("perl", ["-e", "1"]).status === 0;
function noConlleval(): string | false {
  if (!perlOk) return "perl not found";
  return missing(CONLLEVAL);
}

const tmp = tmpFiles("electra-conll-test-");
const tmpRoot = tmp.root;
const tmpFile = tmp.file;
const throwsAt = (fn: () => unknown, file: string, line: number | undefined, includes?: string | RegExp) => throwsAtLine(fn, file, line, includes, TaggedFormatError);

function tokenCount(f: TaggedFile): number {
  return f.sentences.reduce((n, s) => n + s.words.length, 0);
}

/** IOB1 → IOB2: an I-X that starts a chunk becomes B-X. */
function iob1ToIob2(tags: readonly string[]): string[] {
  const out: string[] = [];
  let prev = "O";
  for (const t of tags) {
    if (t.startsWith("I-") && (prev === "O" || prev.slice(2) !== t.slice(2))) out.push(`B-${t.slice(2)}`);
    else out.push(t);
    prev = t;
  }
  return out;
}

/** Number of chunks in IOB2 tags (= number of B- tags). */
function chunkCountIob2(f: TaggedFile): number {
  let n = 0;
  for (const s of f.sentences) for (const t of s.tags) if (t.startsWith("B-")) n++;
  return n;
}

interface ConllevalResult {
  tokens: number;
  phrases: number;
  found: number;
  correct: number;
  accuracy: number;
  fb1: number;
  stdout: string;
}

function conlleval(text: string): ConllevalResult {
  const r = spawnSync("perl", [CONLLEVAL], { input: text, encoding: "utf8", maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `conlleval failed: ${r.stderr}`);
  assert.equal(r.stderr, "", `conlleval complained: ${r.stderr}`);
  const m = /processed (\d+) tokens with (\d+) phrases; found: (\d+) phrases; correct: (\d+)\./.exec(r.stdout);
  assert.ok(m, `unexpected conlleval output: ${r.stdout}`);
  const acc = /accuracy:\s+([\d.]+)%/.exec(r.stdout);
  const fb1 = /FB1:\s+([\d.]+)/.exec(r.stdout);
  return {
    tokens: Number(m[1]),
    phrases: Number(m[2]),
    found: Number(m[3]),
    correct: Number(m[4]),
    accuracy: acc ? Number(acc[1]) : NaN,
    fb1: fb1 ? Number(fb1[1]) : NaN,
    stdout: r.stdout,
  };
}

/** Every non-blank line of `text` has exactly `n` fields on single spaces (as conlleval splits). */
function assertColumns(text: string, n: number): void {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === "") continue;
    assert.equal(l.split(" ").length, n, `line ${i + 1} ${JSON.stringify(l)} should have ${n} fields`);
  }
}

// ---------------------------------------------------------------------------------------------
// Real files
// ---------------------------------------------------------------------------------------------

const NER_LABELS = ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER"];

test("CoNLL-2003 (IOB2) train/valid: sentence counts, DOCSTART, columns, labels, scheme", {
  skip: missing(path.join(CONLL03, "train.txt"), path.join(CONLL03, "valid.txt")),
}, () => {
  const train = readConll(path.join(CONLL03, "train.txt"));
  const valid = readConll(path.join(CONLL03, "valid.txt"));
  // The manifest's counts are sentences without the DOCSTART lines (which are not sentences here).
  assert.equal(train.sentences.length, 14041);
  assert.equal(valid.sentences.length, 3250);
  assert.equal(train.docstarts, 946);
  assert.equal(valid.docstarts, 216);
  assert.equal(tokenCount(train), 203621);
  assert.equal(tokenCount(valid), 51362);
  assert.equal(train.columns, 4);
  assert.equal(train.tagColumn, 3);
  const s0 = train.sentences[0]!;
  assert.deepEqual(s0.words, ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]);
  assert.deepEqual(s0.tags, ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"]);
  assert.equal(s0.line, 3);
  assert.deepEqual(s0.docstartBefore, ["-DOCSTART- -X- -X- O"]);
  assert.equal(train.sentences[1]!.docstartBefore, undefined);
  assert.equal(train.sentences.filter((s) => s.docstartBefore).length, 946);
  assert.equal(train.trailingDocstarts, undefined);
  for (const f of [train, valid]) {
    for (const s of f.sentences) {
      assert.equal(s.words.length, s.tags.length);
      assert.ok(s.words.length > 0);
    }
  }
  // Line numbers point at the first word.
  const lines = readFileSync(path.join(CONLL03, "train.txt"), "utf8").split("\n");
  for (const s of [train.sentences[1]!, train.sentences[5000]!, train.sentences.at(-1)!]) {
    assert.equal(lines[s.line - 1]!.split(" ")[0], s.words[0]);
    assert.equal(lines[s.line - 2], "");
  }
  assert.deepEqual(labelSet([train, valid]), NER_LABELS);
  assert.equal(tagScheme(train.sentences.map((s) => s.tags)), "IOB2");
  assert.equal(tagScheme(valid.sentences.map((s) => s.tags)), "IOB2");
  // Other tag columns: chunk (-2 or 2) and POS (1).
  const chunk = readConll(path.join(CONLL03, "valid.txt"), { tagColumn: -2 });
  assert.equal(chunk.tagColumn, 2);
  assert.deepEqual(chunk.sentences[0]!.tags.slice(0, 3), ["B-NP", "O", "B-NP"]);
  assert.deepEqual(readConll(path.join(CONLL03, "valid.txt"), { tagColumn: 2 }).sentences[0]!.tags, chunk.sentences[0]!.tags);
  assert.deepEqual(valid.sentences[0]!.words.slice(0, 3), ["CRICKET", "-", "LEICESTERSHIRE"]);
  const pos = readConll(path.join(CONLL03, "valid.txt"), { tagColumn: 1 });
  assert.deepEqual(pos.sentences[0]!.tags.slice(0, 3), ["NNP", ":", "NNP"]);
  assert.equal(tagScheme(pos.sentences.map((s) => s.tags)), "unknown");
  assert.equal(readTagged(path.join(CONLL03, "valid.txt")).sentences.length, 3250);
});

test("CoNLL-2003 original release (IOB1): same sentences and words as the IOB2 copy, scheme IOB1", {
  skip: missing(
    path.join(CONLL03_IOB1, "eng.train"),
    path.join(CONLL03_IOB1, "eng.testa"),
    path.join(CONLL03, "train.txt"),
    path.join(CONLL03, "valid.txt"),
  ),
}, () => {
  const pairs: [string, string, number, number][] = [
    ["eng.train", "train.txt", 14041, 946],
    ["eng.testa", "valid.txt", 3250, 216],
  ];
  for (const [iob1Name, iob2Name, n, docs] of pairs) {
    const iob1 = readConll(path.join(CONLL03_IOB1, iob1Name));
    const iob2 = readConll(path.join(CONLL03, iob2Name));
    assert.equal(iob1.sentences.length, n);
    assert.equal(iob1.docstarts, docs);
    assert.deepEqual(iob1.sentences[0]!.docstartBefore, ["-DOCSTART- -X- O O"]);
    assert.equal(tagScheme(iob1.sentences.map((s) => s.tags)), "IOB1");
    // As a label set: B-PER never occurs in the IOB1 training file, so I-PER alone proves IOB1.
    if (iob1Name === "eng.train") {
      assert.deepEqual(labelSet([iob1]), ["O", "B-LOC", "B-MISC", "B-ORG", "I-LOC", "I-MISC", "I-ORG", "I-PER"]);
      assert.equal(tagScheme(new Set(labelSet([iob1]))), "IOB1");
    }
    assert.equal(tagScheme(new Set(labelSet([iob2]))), "unknown"); // a full B-/I- set can be either
    for (let i = 0; i < n; i++) {
      const a = iob1.sentences[i]!;
      const b = iob2.sentences[i]!;
      assert.deepEqual(a.words, b.words, `sentence ${i}`);
      assert.equal(a.line, b.line);
      assert.deepEqual(iob1ToIob2(a.tags), b.tags, `sentence ${i} (line ${a.line})`);
    }
  }
});

test("CoNLL-2000 chunking: 3 columns, no DOCSTART, 8936 sentences, IOB2", {
  skip: missing(path.join(CONLL00, "train.txt")),
}, () => {
  const f = readConll(path.join(CONLL00, "train.txt"));
  assert.equal(f.sentences.length, 8936);
  assert.equal(f.docstarts, 0);
  assert.equal(f.columns, 3);
  assert.equal(tokenCount(f), 211727); // the README's token count
  assert.equal(f.sentences[0]!.line, 1);
  assert.deepEqual(f.sentences[0]!.words.slice(0, 3), ["Confidence", "in", "the"]);
  assert.deepEqual(f.sentences[0]!.tags.slice(0, 3), ["B-NP", "B-PP", "B-NP"]);
  assert.equal(tagScheme(f.sentences.map((s) => s.tags)), "IOB2");
  const labels = labelSet([f]);
  assert.equal(labels[0], "O");
  assert.equal(labels.length, 22);
  assert.ok(labels.includes("B-LST") && labels.includes("I-UCP"));
});

test("conlleval reads written predictions: 100.00 when gold == predicted, token and phrase counts", {
  skip: noConlleval() || missing(path.join(CONLL03, "valid.txt"), path.join(CONLL03_IOB1, "eng.testa")),
}, () => {
  const valid = readConll(path.join(CONLL03, "valid.txt"));
  const gold = valid.sentences.map((s) => s.tags);
  const text = writeConllPredictions(valid.sentences, gold);
  assertColumns(text, 3);
  const r = conlleval(text);
  // conlleval counts each "-DOCSTART- O O" line as a token.
  assert.equal(r.tokens, tokenCount(valid) + valid.docstarts);
  assert.equal(r.tokens, 51578);
  assert.equal(r.phrases, chunkCountIob2(valid));
  assert.equal(r.phrases, 5942);
  assert.equal(r.found, r.phrases);
  assert.equal(r.correct, r.phrases);
  assert.equal(r.accuracy, 100);
  assert.equal(r.fb1, 100);
  assert.match(r.stdout, /FB1: 100\.00/);

  // Without document breaks the token count is the words alone.
  const noDoc = writeConllPredictions(valid.sentences, gold, undefined, { docstart: false });
  assert.ok(!noDoc.includes("-DOCSTART-"));
  const r2 = conlleval(noDoc);
  assert.equal(r2.tokens, 51362);
  assert.equal(r2.fb1, 100);

  // Everything predicted O: no phrase found.
  const allO = writeConllPredictions(valid.sentences, valid.sentences.map((s) => s.tags.map(() => "O")));
  const r3 = conlleval(allO);
  assert.equal(r3.tokens, 51578);
  assert.equal(r3.phrases, 5942);
  assert.equal(r3.found, 0);
  assert.equal(r3.correct, 0);

  // The IOB1 copy scores the same phrases.
  const testa = readConll(path.join(CONLL03_IOB1, "eng.testa"));
  const r4 = conlleval(writeConllPredictions(testa.sentences, testa.sentences.map((s) => s.tags)));
  assert.equal(r4.tokens, 51578);
  assert.equal(r4.phrases, 5942);
  assert.equal(r4.fb1, 100);

  // The written file reads back with readConll: 3 columns, gold in column 1, predicted in 2.
  const p = tmpFile("pred.txt", allO);
  const back = readConll(p);
  assert.equal(back.columns, 3);
  assert.equal(back.sentences.length, 3250);
  assert.equal(back.docstarts, 216);
  assert.deepEqual(back.sentences[0]!.docstartBefore, [DOCSTART_PREDICTION_LINE]);
  assert.deepEqual(readConll(p, { tagColumn: 1 }).sentences.map((s) => s.tags), gold);
  assert.ok(back.sentences.every((s) => s.tags.every((t) => t === "O")));
});

test("conlleval: words with spaces (from JSONL) keep 3 columns", { skip: noConlleval() }, () => {
  const p = tmpFile(
    "spaces.jsonl",
    [
      JSON.stringify({ tokens: ["New York", "is", "big"], tags: ["B-LOC", "O", "O"] }),
      JSON.stringify({ tokens: ["a\tb", " ", "", "x\u00a0y"], tags: ["B-PER", "I-PER", "O", "B-ORG"] }),
    ].join("\n") + "\n",
  );
  const f = readTokenJsonl(p);
  const text = writeConllPredictions(f.sentences, f.sentences.map((s) => s.tags));
  assert.equal(text, "New_York B-LOC B-LOC\nis O O\nbig O O\n\na_b B-PER B-PER\n_ I-PER I-PER\n_ O O\nx_y B-ORG B-ORG\n\n");
  assertColumns(text, 3);
  const r = conlleval(text);
  assert.equal(r.tokens, 7);
  assert.equal(r.phrases, 3);
  assert.equal(r.fb1, 100);
});

// ---------------------------------------------------------------------------------------------
// CoNLL edge cases
// ---------------------------------------------------------------------------------------------

test("readConll: CRLF, BOM, tabs, DOCSTART without blank line, leading/trailing blank lines", () => {
  const p = tmpFile(
    "crlf.conll",
    "\ufeff\r\n-DOCSTART- -X- -X- O\r\nEU\tNNP\tB-NP  B-ORG\r\nrejects VBZ B-VP O\r\n \t \r\n" +
      "-DOCSTART- -X- -X- O\r\n\r\n-DOCSTART- -X- -X- O\r\nPeter NNP B-NP B-PER\r\n\r\n\r\n\r\n",
  );
  const f = readConll(p);
  assert.equal(f.file, p);
  assert.equal(f.columns, 4);
  assert.equal(f.docstarts, 3);
  assert.equal(f.sentences.length, 2);
  assert.deepEqual(f.sentences[0], {
    words: ["EU", "rejects"],
    tags: ["B-ORG", "O"],
    line: 3,
    docstartBefore: ["-DOCSTART- -X- -X- O"],
  });
  assert.deepEqual(f.sentences[1], {
    words: ["Peter"],
    tags: ["B-PER"],
    line: 9,
    docstartBefore: ["-DOCSTART- -X- -X- O", "-DOCSTART- -X- -X- O"],
  });
  for (const w of f.sentences.flatMap((s) => s.words.concat(s.tags))) assert.ok(!/[\r\n\t ]/.test(w));
});

test("readConll: 2 columns, no final newline, DOCSTART directly after a sentence, trailing DOCSTART", () => {
  const p = tmpFile("two.txt", "a O\nb B-X\n-DOCSTART- O\nc I-X\n\n-DOCSTART-");
  const f = readConll(p);
  assert.equal(f.columns, 2);
  assert.equal(f.sentences.length, 2);
  assert.deepEqual(f.sentences[0]!.words, ["a", "b"]);
  assert.deepEqual(f.sentences[1]!.docstartBefore, ["-DOCSTART- O"]);
  assert.equal(f.sentences[1]!.line, 4);
  assert.deepEqual(f.trailingDocstarts, ["-DOCSTART-"]);
  assert.equal(f.docstarts, 2);
  // readTagged picks CoNLL for other extensions.
  assert.equal(readTagged(p).sentences.length, 2);
});

test("readConll: 5 columns and tagColumn choices", () => {
  const p = tmpFile("five.txt", "w1 a b c T1\nw2 a2 b2 c2 T2\n\n\n");
  assert.deepEqual(readConll(p).sentences[0]!.tags, ["T1", "T2"]);
  assert.deepEqual(readConll(p, { tagColumn: 1 }).sentences[0]!.tags, ["a", "a2"]);
  assert.deepEqual(readConll(p, { tagColumn: -4 }).sentences[0]!.tags, ["a", "a2"]);
  assert.equal(readConll(p, { tagColumn: 3 }).tagColumn, 3);
  throwsAt(() => readConll(p, { tagColumn: 5 }), p, 1, "expected at least 6 columns for tag column 5, found 5");
  throwsAt(() => readConll(p, { tagColumn: -6 }), p, 1, "expected at least 7 columns for tag column -6, found 5");
  throwsAt(() => readConll(p, { tagColumn: 0 }), p, 1, "word column");
  throwsAt(() => readConll(p, { tagColumn: -5 }), p, 1, "word column");
  throwsAt(() => readConll(p, { tagColumn: 1.5 }), p, undefined, "integer");
});

test("readConll: column-count errors name the file and the 1-based line", () => {
  const p = tmpFile("train.txt", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ O\n");
  throwsAt(() => readConll(p), p, 4, "expected 4 columns, found 3");
  const q = tmpFile("more.txt", "a B c D\n\nx y\n\nb B c D e\n");
  throwsAt(() => readConll(q), q, 3, "expected 4 columns, found 2");
  const crlf = tmpFile("crlf.txt", "a O\r\nb O\r\n\r\nc d O\r\n");
  throwsAt(() => readConll(crlf), crlf, 4, "expected 2 columns, found 3");
  const one = tmpFile("one.txt", "\n\nword\nother\n");
  throwsAt(() => readConll(one), one, 3, "expected at least 2 columns (word and tag), found 1");
  // A later 1-column line in a 2-column file.
  const later = tmpFile("later.txt", "a O\nb\n");
  throwsAt(() => readConll(later), later, 2, "expected 2 columns, found 1");
});

test("readConll: empty files, files without sentences, invalid UTF-8, missing file", () => {
  const empty = tmpFile("empty.txt", "");
  throwsAt(() => readConll(empty), empty, undefined, "empty file");
  const blanks = tmpFile("blanks.txt", "\n\n  \n\r\n");
  throwsAt(() => readConll(blanks), blanks, undefined, "no sentences");
  const docs = tmpFile("docs.txt", "-DOCSTART- -X- -X- O\n\n-DOCSTART- -X- -X- O\n\n");
  throwsAt(() => readConll(docs), docs, undefined, "no sentences (only 2 -DOCSTART-");
  const bad = tmpFile("latin1.txt", Buffer.concat([Buffer.from("a O\nb O\n\n"), Buffer.from([0x63, 0xe9, 0x20, 0x4f, 0x0a])]));
  throwsAt(() => readConll(bad), bad, 4, "invalid UTF-8");
  const nope = path.join(tmpRoot, "does-not-exist.txt");
  throwsAt(() => readConll(nope), nope, undefined, "cannot read file");
});

// ---------------------------------------------------------------------------------------------
// JSONL
// ---------------------------------------------------------------------------------------------

test("readTokenJsonl: tags and ner_tags keys, blank lines, line numbers, CRLF, BOM", () => {
  const p = tmpFile(
    "ner.jsonl",
    "\ufeff" +
      JSON.stringify({ id: 1, tokens: ["EU", "rejects"], tags: ["B-ORG", "O"] }) +
      "\r\n\r\n   \n" +
      JSON.stringify({ tokens: ["Peter"], ner_tags: ["B-PER"] }) +
      "\n\n",
  );
  const f = readTokenJsonl(p);
  assert.equal(f.columns, 2);
  assert.equal(f.docstarts, 0);
  assert.deepEqual(f.sentences, [
    { words: ["EU", "rejects"], tags: ["B-ORG", "O"], line: 1 },
    { words: ["Peter"], tags: ["B-PER"], line: 4 },
  ]);
  assert.deepEqual(readTagged(p), f);
  const j = tmpFile("ner.JSON", JSON.stringify({ tokens: ["a"], tags: ["O"] }));
  assert.equal(readTagged(j).sentences.length, 1);
  assert.deepEqual(labelSet([f, readTagged(j)]), ["O", "B-ORG", "B-PER"]);
});

test("readTokenJsonl: every malformed line names the file and line", () => {
  const cases: [string, string][] = [
    ["{not json", "not valid JSON"],
    ["[1, 2]", "expected a JSON object, found an array"],
    ['"str"', "expected a JSON object"],
    ['{"tags": ["O"]}', 'missing key "tokens"'],
    ['{"tokens": ["a"]}', 'missing key "tags" or "ner_tags"'],
    ['{"tokens": "a", "tags": ["O"]}', '"tokens" must be an array'],
    ['{"tokens": ["a"], "tags": "O"}', '"tags" must be an array'],
    ['{"tokens": ["a", 3], "tags": ["O", "O"]}', '"tokens"[1] must be a string, found number 3'],
    ['{"tokens": ["a"], "ner_tags": [3]}', "integer tag ids are not accepted"],
    ['{"tokens": ["a"], "tags": [null]}', '"tags"[0] must be a string, found null'],
    ['{"tokens": ["a"], "tags": [""]}', "empty string"],
    ['{"tokens": ["a", "b"], "tags": ["O"]}', '"tokens" has 2 items but "tags" has 1'],
    ['{"tokens": [], "tags": []}', "empty sentence"],
  ];
  for (const [bad, msg] of cases) {
    const p = tmpFile("bad.jsonl", `${JSON.stringify({ tokens: ["ok"], tags: ["O"] })}\n\n${bad}\n`);
    throwsAt(() => readTokenJsonl(p), p, 3, msg);
  }
  const empty = tmpFile("empty.jsonl", "");
  throwsAt(() => readTokenJsonl(empty), empty, undefined, "empty file");
  const blank = tmpFile("blank.jsonl", "\n\n");
  throwsAt(() => readTagged(blank), blank, undefined, "no sentences");
});

// ---------------------------------------------------------------------------------------------
// Tag schemes and label sets
// ---------------------------------------------------------------------------------------------

test("tagScheme: the documented rules", () => {
  assert.equal(tagScheme(["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]), "IOB2");
  assert.equal(tagScheme(["B-PER", "O", "B-LOC"]), "IOB2"); // only B-: every chunk starts with B-
  assert.equal(tagScheme(["I-PER", "I-PER", "B-PER", "O", "I-LOC"]), "IOB1");
  assert.equal(tagScheme(["B-PER", "I-PER", "O", "I-LOC"]), "IOB1"); // I- after O starts a chunk
  assert.equal(tagScheme(["B-PER", "I-LOC"]), "IOB1"); // I- after another type
  assert.equal(tagScheme(["I-PER", "O", "I-LOC", "I-LOC"]), "IO");
  assert.equal(tagScheme(["B-PER", "E-PER", "S-LOC", "O"]), "IOBES");
  assert.equal(tagScheme(["S-LOC", "O"]), "IOBES");
  assert.equal(tagScheme(["B-PER", "I-PER", "E-PER"]), "IOBES");
  assert.equal(tagScheme(["O", "O"]), "unknown");
  assert.equal(tagScheme([]), "unknown");
  assert.equal(tagScheme(["PER", "O"]), "unknown");
  assert.equal(tagScheme(["B-PER", "L-PER", "U-LOC"]), "unknown"); // BILOU is not recognised
  assert.equal(tagScheme(["B_PER"]), "unknown");
  assert.equal(tagScheme(["B-"]), "unknown");
  assert.equal(tagScheme(["B-PER-X", "I-PER-X"]), "IOB2"); // hyphens in types
  // Sentences: adjacency does not cross sentence ends.
  assert.equal(tagScheme([["B-PER", "I-PER"], ["I-PER", "O"]]), "IOB1");
  assert.equal(tagScheme(["B-PER", "I-PER", "I-PER", "O"]), "IOB2");
  // Generators work too.
  function* gen(): Generator<string> {
    yield "B-A";
    yield "I-A";
  }
  assert.equal(tagScheme(gen()), "IOB2");
  // Sets: order carries no meaning.
  assert.equal(tagScheme(new Set(["O", "B-LOC", "B-PER", "I-LOC", "I-PER"])), "unknown");
  assert.equal(tagScheme(new Set(["O", "B-LOC", "I-LOC", "I-PER"])), "IOB1");
  assert.equal(tagScheme(new Set(["O", "I-LOC", "I-PER"])), "IO");
  assert.equal(tagScheme(new Set(["O", "B-LOC", "E-LOC", "S-PER", "I-LOC"])), "IOBES");
  assert.equal(tagScheme(new Set(["O", "B-LOC", "B-PER"])), "IOB2");
});

test("labelSet: sorted, O first, deterministic", () => {
  const mk = (tags: string[][]): TaggedFile => ({
    sentences: tags.map((t, i) => ({ words: t.map(() => "w"), tags: t, line: i + 1 })),
    columns: 2,
    file: "x",
    docstarts: 0,
    tagColumn: 1,
  });
  assert.deepEqual(labelSet([mk([["I-PER", "O", "B-PER"]]), mk([["B-LOC", "a", "Z"]])]), [
    "O",
    "B-LOC",
    "B-PER",
    "I-PER",
    "Z",
    "a",
  ]);
  assert.deepEqual(labelSet([mk([["NN", "DT"]])]), ["DT", "NN"]);
  assert.deepEqual(labelSet([]), []);
});

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

test("writeConllPredictions: layout, DOCSTART lines, stream output, validation", () => {
  const sentences: TaggedSentence[] = [
    { words: ["EU", "rejects"], tags: ["B-ORG", "O"], line: 3, docstartBefore: ["-DOCSTART- -X- -X- O"] },
    { words: ["Peter"], tags: ["B-PER"], line: 6 },
    { words: ["x"], tags: ["O"], line: 9, docstartBefore: ["-DOCSTART- -X- O O", "-DOCSTART- -X- O O"] },
  ];
  const pred = [["B-ORG", "B-MISC"], ["O"], ["O"]];
  const expected =
    "-DOCSTART- O O\n\nEU B-ORG B-ORG\nrejects O B-MISC\n\nPeter B-PER O\n\n" +
    "-DOCSTART- O O\n\n-DOCSTART- O O\n\nx O O\n\n";
  assert.equal(writeConllPredictions(sentences, pred), expected);
  assertColumns(expected, 3);
  const chunks: string[] = [];
  const ret = writeConllPredictions(sentences, pred, { write: (c: string) => chunks.push(c) });
  assert.equal(ret, undefined);
  assert.equal(chunks.join(""), expected);
  assert.equal(chunks.length, 3);
  assert.equal(
    writeConllPredictions(sentences, pred, undefined, { docstart: false }),
    "EU B-ORG B-ORG\nrejects O B-MISC\n\nPeter B-PER O\n\nx O O\n\n",
  );
  assert.equal(writeConllPredictions([], []), "");
  assert.throws(() => writeConllPredictions(sentences, pred.slice(0, 2)), /3 sentences but 2 predicted/);
  assert.throws(() => writeConllPredictions(sentences, [["O"], ["O"], ["O"]]), /sentence 0 \(line 3\) has 2 words/);
  assert.throws(() => writeConllPredictions(sentences, [["O", "B X"], ["O"], ["O"]]), /predicted tag "B X"/);
  assert.throws(() => writeConllPredictions(sentences, [["O", ""], ["O"], ["O"]]), /predicted tag ""/);
  assert.equal(conllWord("a b\t c"), "a_b_c");
  assert.equal(conllWord(""), "_");
  assert.equal(conllWord("plain"), "plain");
});

test("writeConllPredictions: CoNLL round trip through a file", () => {
  const p = tmpFile("in.txt", "-DOCSTART- -X- -X- O\n\nA NN B-NP B-PER\nB NN I-NP I-PER\n\nC NN B-NP O\n");
  const f = readConll(p);
  const out = tmpFile("out.txt", writeConllPredictions(f.sentences, [["B-PER", "O"], ["B-LOC"]]));
  const back = readConll(out);
  assert.equal(back.columns, 3);
  assert.equal(back.docstarts, 1);
  assert.deepEqual(back.sentences.map((s) => s.words), [["A", "B"], ["C"]]);
  assert.deepEqual(back.sentences.map((s) => s.tags), [["B-PER", "O"], ["B-LOC"]]);
  assert.deepEqual(readConll(out, { tagColumn: -2 }).sentences.map((s) => s.tags), f.sentences.map((s) => s.tags));
});
