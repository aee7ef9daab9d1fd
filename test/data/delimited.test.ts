import { test } from "node:test";
import assert from "node:assert/strict";
import { FileFormatError } from "../../src/data/format-error.js";
import {
  checkUtf8,
  hasBom,
  lineAt,
  newlineOffsets,
  readDelimitedRecords,
  type DelimitedOptions,
} from "../../src/data/delimited.js";

const makeError = (line: number | undefined, message: string) => new FileFormatError("f.csv", line, message);
const CSV: DelimitedOptions = { delimiter: ",", quote: true, relaxColumnCount: true, makeError };
const TSV: DelimitedOptions = { delimiter: "\t", quote: false, relaxColumnCount: true, makeError };

function read(text: string, opts: DelimitedOptions = CSV) {
  return readDelimitedRecords(Buffer.from(text, "utf8"), opts);
}

function throwsAt(fn: () => unknown, line: number | undefined, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FileFormatError);
    assert.equal(e.line, line);
    assert.equal(e.message, line === undefined ? `f.csv: ${message}` : `f.csv:${line}: ${message}`);
    return true;
  });
}

test("lines: BOM, empty lines (LF and CRLF) skipped, quoted CRLF inside a field", () => {
  const recs = read('\ufeff\r\n\nh1,h2\r\n"a\r\nb",1\r\n\r\n\r\nc,2\n \n');
  assert.deepEqual(recs, [
    { fields: ["h1", "h2"], line: 3 },
    { fields: ["a\r\nb", "1"], line: 4 },
    { fields: ["c", "2"], line: 8 },
    { fields: [" "], line: 9 }, // a line of spaces is a record
  ]);
});

test("empty input and only empty lines give no records", () => {
  assert.deepEqual(read(""), []);
  assert.deepEqual(read("\ufeff"), []);
  assert.deepEqual(read("\n\r\n\n"), []);
});

test("TSV without quoting: quotes are ordinary characters", () => {
  assert.deepEqual(read('a\t"b\n"c\td"\n', TSV), [
    { fields: ["a", '"b'], line: 1 },
    { fields: ['"c', 'd"'], line: 2 },
  ]);
});

test("relaxColumnCount true: any field count; false: the field-count message at the row's line", () => {
  const text = 'a,b\n"x\r\ny",1\n\nc\n';
  assert.deepEqual(read(text).map((r) => r.fields.length), [2, 2, 1]);
  throwsAt(() => read(text, { ...CSV, relaxColumnCount: false }), 5, "expected 2 fields (as in the header), found 1");
  throwsAt(() => read("a\tb\nc\td\te\n", { ...TSV, relaxColumnCount: false }), 2, "expected 2 fields (as in the header), found 3");
});

test("quoting errors: one line, at the line where the failing record starts", () => {
  throwsAt(() => read('a,b\n\n"x\ny,1\nz,2\n'), 3, "a quoted field opened in this row is never closed");
  throwsAt(() => read('\ufeff"x,1\n'), 1, "a quoted field opened in this row is never closed");
  throwsAt(
    () => read('a,b\n"x"\ry,1\n'),
    2,
    'Invalid Closing Quote: got " " instead of delimiter, record delimiter, trimable character (if activated) or comment',
  );
  throwsAt(() => read('a,b\n\r\nx"y,1\n'), 3, 'Invalid Opening Quote: a quote is found on field 0, value is "x"');
});

test("checkUtf8 names the first bad line", () => {
  checkUtf8(Buffer.from("ok\nfine\n"), makeError);
  throwsAt(() => checkUtf8(Buffer.from([0x61, 0x0a, 0x62, 0x0a, 0xc3, 0x28, 0x0a]), makeError), 3, "invalid UTF-8");
});

test("hasBom, newlineOffsets, lineAt", () => {
  assert.equal(hasBom(Buffer.from("\ufeffx")), true);
  assert.equal(hasBom(Buffer.from("x")), false);
  const nl = newlineOffsets("a\nbc\n\nd");
  assert.deepEqual(nl, [1, 4, 5]);
  assert.deepEqual(newlineOffsets(Buffer.from("a\nbc\n\nd")), nl);
  assert.deepEqual([0, 1, 2, 4, 5, 6].map((o) => lineAt(nl, o)), [1, 1, 2, 2, 3, 4]);
});
