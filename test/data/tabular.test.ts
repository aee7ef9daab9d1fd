import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { throwsAt as throwsAtLine, tmpFiles } from "../helpers/files.js";
import {
  TableFormatError,
  isNumericColumn,
  labelsOf,
  readTable,
  tableFormatOf,
  type TableRow,
} from "../../src/data/tabular.js";

const GLUE = path.resolve(process.cwd(), "../shared/data/glue");

function missing(...files: string[]): string | false {
  for (const f of files) if (!existsSync(f)) return `shared data absent: ${f} not found`;
  return false;
}

const tmp = tmpFiles("electra-tabular-test-");
const tmpRoot = tmp.root;
const tmpFile = tmp.file;
const throwsAt = (fn: () => unknown, file: string, line: number | undefined, includes?: string | RegExp) => throwsAtLine(fn, file, line, includes, TableFormatError);

// ---------------------------------------------------------------------------------------------
// Real files (GLUE TSVs: quotes are literal characters there)
// ---------------------------------------------------------------------------------------------

test("GLUE SST-2 dev.tsv: default columns sentence/label", { skip: missing(path.join(GLUE, "SST-2/dev.tsv")) }, () => {
  const t = readTable(path.join(GLUE, "SST-2/dev.tsv"), { requireLabel: true });
  assert.equal(t.format, "tsv");
  assert.deepEqual(t.columns, ["sentence", "label"]);
  assert.equal(t.textColumn, "sentence");
  assert.equal(t.labelColumn, "label");
  assert.equal(t.textPairColumn, undefined);
  assert.equal(t.rows.length, 872);
  assert.deepEqual(t.rows[0], { textA: "it 's a charming and often affecting journey . ", label: "1", line: 2 });
  assert.equal(t.rows.at(-1)!.line, 873);
  assert.deepEqual(labelsOf(t.rows), ["0", "1"]);
  assert.equal(isNumericColumn(t.rows), true); // 0/1 parse as numbers; the caller decides classification
});

test("GLUE STS-B dev.tsv: sentence1/sentence2 pair, score as a regression label", {
  skip: missing(path.join(GLUE, "STS-B/dev.tsv")),
}, () => {
  const t = readTable(path.join(GLUE, "STS-B/dev.tsv"), { labelColumn: "SCORE" });
  assert.equal(t.textColumn, "sentence1");
  assert.equal(t.textPairColumn, "sentence2");
  assert.equal(t.labelColumn, "score");
  assert.equal(t.rows.length, 1500);
  assert.deepEqual(t.rows[0], {
    textA: "A man with a hard hat is dancing.",
    textB: "A man wearing a hard hat is dancing.",
    label: "5.000",
    line: 2,
  });
  assert.equal(isNumericColumn(t.rows), true);
  // Without labelColumn there is no label column ("label"/"labels" absent).
  const u = readTable(path.join(GLUE, "STS-B/dev.tsv"));
  assert.equal(u.labelColumn, undefined);
  assert.ok(u.rows.every((r) => r.label === undefined));
  throwsAt(() => readTable(path.join(GLUE, "STS-B/dev.tsv"), { requireLabel: true }), path.join(GLUE, "STS-B/dev.tsv"), undefined, '"score"');
});

test("GLUE MRPC dev.tsv: BOM, named columns, literal quotes", { skip: missing(path.join(GLUE, "MRPC/dev.tsv")) }, () => {
  const f = path.join(GLUE, "MRPC/dev.tsv");
  const t = readTable(f, { textColumn: "#1 String", textPairColumn: "#2 string", labelColumn: "quality", requireLabel: true });
  assert.deepEqual(t.columns, ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]);
  assert.equal(t.textPairColumn, "#2 String");
  assert.equal(t.rows.length, 408);
  assert.equal(t.rows[0]!.textB, '" The foodservice pie business does not fit our long-term growth strategy .');
  assert.deepEqual(labelsOf(t.rows), ["0", "1"]);
  throwsAt(() => readTable(f), f, undefined, 'cannot choose the text column');
  throwsAt(() => readTable(f, { textColumn: "sentence" }), f, undefined, '"Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"');
});

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

test("CSV: RFC 4180 quoting (commas, doubled quotes, newlines), row start lines, empty lines", () => {
  const p = tmpFile(
    "data.csv",
    'text,label\n' +
      '"hello, world",pos\n' +
      '"she said ""hi""",neg\n' +
      '"two\nlines\n\nand a blank",pos\n' +
      '\n' +
      'plain, 3 \n' +
      '"last ""one""\r\nwith crlf",neg',
  );
  const t = readTable(p);
  assert.equal(t.format, "csv");
  assert.deepEqual(t.columns, ["text", "label"]);
  assert.deepEqual(t.rows, [
    { textA: "hello, world", label: "pos", line: 2 },
    { textA: 'she said "hi"', label: "neg", line: 3 },
    { textA: "two\nlines\n\nand a blank", label: "pos", line: 4 },
    { textA: "plain", label: "3", line: 9 },
    { textA: 'last "one"\r\nwith crlf', label: "neg", line: 10 },
  ]);
  assert.deepEqual(labelsOf(t.rows), ["3", "neg", "pos"]);
  assert.equal(isNumericColumn(t.rows), false);
});

test("CSV: CRLF, BOM, blank lines before the header, trimmed and case-insensitive header names", () => {
  const p = tmpFile("crlf.CSV", "\ufeff\r\n\r\n Sentence ,LABELS\r\n\"a,b\",1\r\n\r\nc,0\r\n\r\n");
  const t = readTable(p, { requireLabel: true });
  assert.deepEqual(t.columns, ["Sentence", "LABELS"]);
  assert.equal(t.textColumn, "Sentence");
  assert.equal(t.labelColumn, "LABELS");
  assert.deepEqual(t.rows, [
    { textA: "a,b", label: "1", line: 4 },
    { textA: "c", label: "0", line: 6 },
  ]);
});

test("CSV: column defaults (sentence1/sentence2, text_pair, the only string column) and explicit names", () => {
  const pair = tmpFile("pair.csv", "id,sentence1,sentence2,label\n1,a,b,entailment\n2,c,d,neutral\n");
  const t = readTable(pair);
  assert.equal(t.textColumn, "sentence1");
  assert.equal(t.textPairColumn, "sentence2");
  assert.deepEqual(t.rows[1], { textA: "c", textB: "d", label: "neutral", line: 3 });

  const tp = tmpFile("tp.csv", "Text,Text_Pair,label\nx,y,1\n");
  const u = readTable(tp);
  assert.equal(u.textColumn, "Text");
  assert.equal(u.textPairColumn, "Text_Pair");

  // An exact match wins over a case-insensitive one.
  const both = tmpFile("both.csv", "TEXT,text,label\nA,a,1\n");
  assert.equal(readTable(both).rows[0]!.textA, "a");
  // Two case-insensitive matches are ambiguous.
  const amb = tmpFile("amb.csv", "TEXT,Text,label\nA,a,1\n");
  throwsAt(() => readTable(amb), amb, undefined, "ambiguous");

  // The only non-numeric column besides the label: "review" (id is numeric).
  const only = tmpFile("only.csv", "id,review,label\n1,good,1\n2,bad,0\n3,fine,1\n");
  const o = readTable(only);
  assert.equal(o.textColumn, "review");
  assert.equal(o.labelColumn, "label");
  // Two text-like columns: ask for textColumn, listing the columns.
  const two = tmpFile("two.csv", "title,body,label\na,b,1\n");
  throwsAt(() => readTable(two), two, undefined, 'pass textColumn; the file has columns "title", "body", "label"');
  assert.equal(readTable(two, { textColumn: "body" }).rows[0]!.textA, "b");
  assert.equal(readTable(two, { textColumn: "title", textPairColumn: "BODY" }).rows[0]!.textB, "b");

  // Named columns that are absent.
  throwsAt(() => readTable(pair, { textColumn: "question" }), pair, undefined, 'text column "question" not found; the file has columns "id", "sentence1", "sentence2", "label"');
  throwsAt(() => readTable(pair, { labelColumn: "gold" }), pair, undefined, 'label column "gold" not found');
  throwsAt(() => readTable(pair, { textPairColumn: "s2" }), pair, undefined, 'text pair column "s2" not found');
  throwsAt(() => readTable(pair, { textColumn: "label" }), pair, undefined, "also the text column");

  // No label column: rows without labels, unless requireLabel.
  const nolab = tmpFile("nolab.csv", "text\nhello\n");
  assert.deepEqual(readTable(nolab).rows, [{ textA: "hello", line: 2 }]);
  assert.equal(readTable(nolab).labelColumn, undefined);
  throwsAt(() => readTable(nolab, { requireLabel: true }), nolab, undefined, 'no label column ("label" or "labels"; pass labelColumn); the file has columns "text"');
});

test("CSV: row errors name the file and the line where the row starts", () => {
  const fields = tmpFile("fields.csv", 'text,label\na,1\n"multi\nline",2,extra\n');
  throwsAt(() => readTable(fields), fields, 3, "expected 2 fields (as in the header), found 3");
  const fewer = tmpFile("fewer.csv", "text,label\na,1\n\n\nb\n");
  throwsAt(() => readTable(fewer), fewer, 5, "expected 2 fields (as in the header), found 1");
  const crlf = tmpFile("crlf.csv", 'text,label\r\n"x\r\ny",1\r\n\r\nb,2,3\r\n');
  throwsAt(() => readTable(crlf), crlf, 5, "expected 2 fields");
  const unclosed = tmpFile("unclosed.csv", 'text,label\na,1\n"never closed,1\nb,2\n');
  throwsAt(() => readTable(unclosed), unclosed, 3, "never closed");
  const badClose = tmpFile("badclose.csv", 'text,label\na,1\n"x"y,1\n');
  throwsAt(() => readTable(badClose), badClose, 3, "Invalid Closing Quote");
  const badOpen = tmpFile("badopen.csv", 'text,label\na,1\nx"y,1\n');
  throwsAt(() => readTable(badOpen), badOpen, 3, "Invalid Opening Quote");
  const emptyText = tmpFile("emptytext.csv", 'text,label\na,1\n"  ",1\n');
  throwsAt(() => readTable(emptyText), emptyText, 3, 'empty text (column "text")');
  const emptyPair = tmpFile("emptypair.csv", "sentence1,sentence2,label\na,b,1\n\nc,,1\n");
  throwsAt(() => readTable(emptyPair), emptyPair, 4, 'empty text pair (column "sentence2")');
  const noLabel = tmpFile("nolabel.csv", "text,label\na,1\nb, \n");
  assert.deepEqual(readTable(noLabel).rows[1], { textA: "b", line: 3 });
  throwsAt(() => readTable(noLabel, { requireLabel: true }), noLabel, 3, 'missing label (column "label")');
  const dup = tmpFile("dup.csv", "\ntext,label,text\na,1,b\n");
  throwsAt(() => readTable(dup), dup, 2, 'duplicate column name "text"');
  const empty = tmpFile("empty.csv", "");
  throwsAt(() => readTable(empty), empty, undefined, "empty file");
  const blank = tmpFile("blank.csv", "\n\r\n\n");
  throwsAt(() => readTable(blank), blank, undefined, "empty file");
  const header = tmpFile("header.csv", "text,label\n\n");
  throwsAt(() => readTable(header), header, undefined, "no data rows (header only)");
  const latin1 = tmpFile("latin1.csv", Buffer.concat([Buffer.from("text,label\na,1\n"), Buffer.from([0x63, 0xe9, 0x2c, 0x31, 0x0a])]));
  throwsAt(() => readTable(latin1), latin1, 3, "invalid UTF-8");
  const nope = path.join(tmpRoot, "nope.csv");
  throwsAt(() => readTable(nope), nope, undefined, "cannot read file");
  const ext = tmpFile("data.txt", "text\tlabel\na\t1\n");
  throwsAt(() => readTable(ext), ext, undefined, "cannot tell the format");
  assert.equal(readTable(ext, { format: "tsv" }).rows[0]!.label, "1");
});

// ---------------------------------------------------------------------------------------------
// TSV
// ---------------------------------------------------------------------------------------------

test("TSV: quotes are literal, commas are text, CRLF, .tab extension", () => {
  const p = tmpFile("data.tab", 'text\tlabel\r\n"quoted start\t1\r\nsay "hi", ok\t0\r\n""\t1\r\n');
  const t = readTable(p);
  assert.equal(t.format, "tsv");
  assert.deepEqual(t.rows, [
    { textA: '"quoted start', label: "1", line: 2 },
    { textA: 'say "hi", ok', label: "0", line: 3 },
    { textA: '""', label: "1", line: 4 },
  ]);
  const bad = tmpFile("bad.tsv", 'text\tlabel\na\t1\n"b\n');
  throwsAt(() => readTable(bad), bad, 3, "expected 2 fields (as in the header), found 1");
  // A CSV read as TSV is one column: the error lists it.
  const csv = tmpFile("x.tsv", "text,label\na,1\n");
  throwsAt(() => readTable(csv, { labelColumn: "label" }), csv, undefined, 'label column "label" not found; the file has columns "text,label"');
  assert.equal(tableFormatOf("a.TSV"), "tsv");
  assert.equal(tableFormatOf("a.json"), "jsonl");
  assert.equal(tableFormatOf("a.txt"), undefined);
});

// ---------------------------------------------------------------------------------------------
// JSONL
// ---------------------------------------------------------------------------------------------

test("JSONL: keys as columns, labels through String(), null and missing labels, blank lines", () => {
  const lines = [
    JSON.stringify({ text: "a", label: 1 }),
    "",
    JSON.stringify({ label: 2.5, text: "b", extra: [1] }),
    "   ",
    JSON.stringify({ text: "c", label: true }),
    JSON.stringify({ text: "d", label: null }),
    JSON.stringify({ text: "e" }),
    JSON.stringify({ text: "f", label: " x " }),
  ];
  const p = tmpFile("data.jsonl", "\ufeff" + lines.join("\r\n") + "\n");
  const t = readTable(p);
  assert.equal(t.format, "jsonl");
  assert.deepEqual(t.columns, ["text", "label", "extra"]);
  assert.deepEqual(t.rows, [
    { textA: "a", label: "1", line: 1 },
    { textA: "b", label: "2.5", line: 3 },
    { textA: "c", label: "true", line: 5 },
    { textA: "d", line: 6 },
    { textA: "e", line: 7 },
    { textA: "f", label: "x", line: 8 },
  ]);
  throwsAt(() => readTable(p, { requireLabel: true }), p, 6, "missing label");
});

test("JSONL: the only string column, pairs, and errors naming file and line", () => {
  const p = tmpFile("q.json", [JSON.stringify({ id: 7, question: "why?", labels: 0 }), JSON.stringify({ id: 8, question: "how?", labels: 1 })].join("\n"));
  const t = readTable(p);
  assert.equal(t.textColumn, "question");
  assert.equal(t.labelColumn, "labels");
  assert.deepEqual(labelsOf(t.rows), ["0", "1"]);

  const pair = tmpFile("pair.jsonl", JSON.stringify({ text: "a", text_pair: "b", label: "y" }) + "\n");
  assert.deepEqual(readTable(pair).rows, [{ textA: "a", textB: "b", label: "y", line: 1 }]);

  const head = JSON.stringify({ text: "ok", label: 1 });
  const cases: [string, string][] = [
    ["{oops", "not valid JSON"],
    ["[1]", "expected a JSON object, found an array"],
    ["42", "expected a JSON object, found number 42"],
    [JSON.stringify({ label: 1 }), 'missing text (column "text")'],
    [JSON.stringify({ text: 5, label: 1 }), 'text (column "text") must be a string, found number 5'],
    [JSON.stringify({ text: " ", label: 1 }), "empty text"],
    [JSON.stringify({ text: "x", label: [1] }), "must be a string, number or boolean, found an array"],
  ];
  for (const [bad, msg] of cases) {
    const f = tmpFile("bad.jsonl", `${head}\n\n${bad}\n`);
    throwsAt(() => readTable(f), f, 3, msg);
  }
  const empty = tmpFile("empty.jsonl", "\n\n");
  throwsAt(() => readTable(empty), empty, undefined, "empty file");
  const zero = tmpFile("zero.jsonl", "");
  throwsAt(() => readTable(zero), zero, undefined, "empty file");
  const none = tmpFile("none.jsonl", JSON.stringify({ a: 1, b: 2 }) + "\n");
  throwsAt(() => readTable(none), none, undefined, 'cannot choose the text column (no "text", "sentence" or "sentence1"; no text-like columns');
});

// ---------------------------------------------------------------------------------------------
// Labels and splits
// ---------------------------------------------------------------------------------------------

const L = (...labels: (string | undefined)[]): TableRow[] =>
  labels.map((label, i) => (label === undefined ? { textA: "t", line: i + 1 } : { textA: "t", label, line: i + 1 }));

test("labelsOf: numeric order for integers, string order otherwise", () => {
  assert.deepEqual(labelsOf(L("10", "2", "-1", "2", undefined, "0")), ["-1", "0", "2", "10"]);
  assert.deepEqual(labelsOf(L("01", "1", "+1")), ["+1", "01", "1"]);
  assert.deepEqual(labelsOf(L("b", "a", "B", "10", "9")), ["10", "9", "B", "a", "b"]);
  assert.deepEqual(labelsOf(L("1.5", "1")), ["1", "1.5"]);
  assert.deepEqual(labelsOf(L("neutral", "entailment", "contradiction")), ["contradiction", "entailment", "neutral"]);
  assert.deepEqual(labelsOf([]), []);
});

test("isNumericColumn: finite decimal numbers only", () => {
  assert.equal(isNumericColumn(L("0.5", "3", "-2e-3", ".5", "4.")), true);
  assert.equal(isNumericColumn(L("1", undefined, "2")), true);
  assert.equal(isNumericColumn(L("1", "a")), false);
  assert.equal(isNumericColumn(L("nan")), false);
  assert.equal(isNumericColumn(L("Infinity")), false);
  assert.equal(isNumericColumn(L("0x10")), false);
  assert.equal(isNumericColumn(L("1e999")), false);
  assert.equal(isNumericColumn(L(undefined)), false);
  assert.equal(isNumericColumn([]), false);
});

