/**
 * Sequence classification / regression rows from the user's own CSV, TSV or JSONL files.
 *
 * Formats (chosen by `opts.format`, else by the extension: `.csv` → csv, `.tsv`/`.tab` → tsv,
 * `.jsonl`/`.json` → jsonl, any case):
 *
 *   - csv: RFC 4180 (comma separated; fields may be quoted with `"`, and a quoted field may
 *     contain commas, newlines and doubled quotes `""`; a quote inside an unquoted field or text
 *     after a closing quote is an error), parsed by csv-parse (`csv-parse/sync`). The first record
 *     is the header.
 *   - tsv: tab separated with a header, quotes are ordinary characters (as GLUE files and
 *     Python's `csv.reader(..., quotechar=None)` treat them), so a field never spans lines.
 *   - jsonl: one JSON object per line; the columns are the keys (in the order first seen); blank
 *     lines are skipped.
 *
 * Common to all: UTF-8 (invalid UTF-8 is an error), an optional byte-order mark, LF or CRLF line
 * endings (mixed too), empty lines skipped (csv/tsv: only truly empty lines; a line of spaces is
 * a record), no newline needed at the end. Header names are trimmed of surrounding whitespace and
 * must be distinct.
 *
 * Columns (a name given in `opts` or a default) are matched exactly, then case-insensitively
 * (an ambiguous case-insensitive match is an error). Defaults:
 *   - label: `label`, else `labels`, else none (rows without labels);
 *   - text: `text`, else `sentence`, else `sentence1`, else the only "string column" left after
 *     the label and pair columns: in jsonl a column whose values are all strings (or null); in
 *     csv/tsv a column whose non-empty values are not all numbers (so an `id` column is passed
 *     over). When none or several remain, the error lists the columns and asks for `textColumn`;
 *   - pair: `text_pair`, else `sentence2`, else none.
 * A named column that is absent throws an error listing the columns the file has.
 *
 * Values: texts are kept exactly as written (csv: after unquoting); labels are kept as strings,
 * trimmed of surrounding whitespace (JSON numbers and booleans through `String()`; `1.0` stays
 * `"1.0"`). An empty (or whitespace-only) label, a JSON `null` or a missing key means "no label".
 *
 * Errors are thrown as {@link TableFormatError}, one line, `file:line: message` with the path as
 * passed in and the 1-based line where the offending row starts: an empty text or text pair, a
 * missing label when `requireLabel`, a wrong field count, a quoting error, a JSON line that is not
 * an object, a text that is not a string. An empty file or a header without rows names the file.
 *
 * This module depends on node built-ins and csv-parse (through delimited.ts) only.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { FileFormatError } from "./format-error.js";
import { describeJson, jsonObjectLine } from "./jsonl.js";
import { checkUtf8, readDelimitedRecords } from "./delimited.js";

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export type TableFormat = "csv" | "tsv" | "jsonl";

/** One example. */
export interface TableRow {
  textA: string;
  textB?: string;
  /** The label as written (trimmed); absent when the row has none. */
  label?: string;
  /** 1-based line in the file where the row starts. */
  line: number;
}

export interface ReadTableOptions {
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  /** Default: from the extension (`.csv`; `.tsv`, `.tab`; `.jsonl`, `.json`). */
  format?: TableFormat;
  /** Every row must have a label (and the file a label column). Default false. */
  requireLabel?: boolean;
}

export interface Table {
  rows: TableRow[];
  /** The file's columns: the header (csv/tsv) or the keys seen (jsonl), in order. */
  columns: string[];
  file: string;
  format: TableFormat;
  /** The column names actually used, as the file spells them. */
  textColumn: string;
  textPairColumn?: string;
  labelColumn?: string;
}

/** A malformed or unusable table file (see FileFormatError). */
export class TableFormatError extends FileFormatError {}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/** The format implied by a file name's extension, or undefined. */
export function tableFormatOf(file: string): TableFormat | undefined {
  switch (extname(file).toLowerCase()) {
    case ".csv":
      return "csv";
    case ".tsv":
    case ".tab":
      return "tsv";
    case ".jsonl":
    case ".json":
      return "jsonl";
    default:
      return undefined;
  }
}

function readBuffer(file: string): Buffer {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new TableFormatError(file, undefined, `cannot read file (${(e as Error).message})`);
  }
  checkUtf8(buf, (line, message) => new TableFormatError(file, line, message));
  return buf;
}

/** A raw record before column resolution: the value per column, and its start line. */
interface RawRecord {
  values: Map<string, unknown>;
  line: number;
}

interface RawTable {
  columns: string[];
  records: RawRecord[];
}

function readDelimited(file: string, buf: Buffer, format: "csv" | "tsv"): RawTable {
  const parsed = readDelimitedRecords(buf, {
    delimiter: format === "csv" ? "," : "\t",
    quote: format === "csv",
    relaxColumnCount: false, // a row of another width is an error at its line
    makeError: (line, message) => new TableFormatError(file, line, message),
  });
  const head = parsed[0];
  if (head === undefined) throw new TableFormatError(file, undefined, "empty file");
  const columns = head.fields.map((c) => c.trim());
  checkDistinct(file, head.line, columns);
  if (parsed.length === 1) throw new TableFormatError(file, undefined, "no data rows (header only)");
  const records: RawRecord[] = [];
  for (let r = 1; r < parsed.length; r++) {
    const values = new Map<string, unknown>();
    const rec = parsed[r]!;
    for (let c = 0; c < columns.length; c++) values.set(columns[c]!, rec.fields[c]);
    records.push({ values, line: rec.line });
  }
  return { columns, records };
}

function checkDistinct(file: string, line: number, columns: readonly string[]): void {
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) throw new TableFormatError(file, line, `duplicate column name ${JSON.stringify(c)} in the header`);
    seen.add(c);
  }
}


function readJsonl(file: string, buf: Buffer): RawTable {
  let text = buf.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split("\n");
  const columns: string[] = [];
  const known = new Set<string>();
  const records: RawRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === "") continue;
    const obj = jsonObjectLine(raw, (m) => new TableFormatError(file, i + 1, m));
    const values = new Map<string, unknown>();
    for (const [k, v] of Object.entries(obj)) {
      if (!known.has(k)) {
        known.add(k);
        columns.push(k);
      }
      values.set(k, v);
    }
    records.push({ values, line: i + 1 });
  }
  if (records.length === 0) throw new TableFormatError(file, undefined, "empty file (no JSON objects)");
  return { columns, records };
}

/** Resolves a column name: exact match, else a unique case-insensitive match, else undefined. */
function findColumn(file: string, columns: readonly string[], name: string): string | undefined {
  if (columns.includes(name)) return name;
  const lower = name.toLowerCase();
  const hits = columns.filter((c) => c.toLowerCase() === lower);
  if (hits.length > 1) {
    throw new TableFormatError(
      file,
      undefined,
      `column ${JSON.stringify(name)} is ambiguous: ${hits.map((h) => JSON.stringify(h)).join(", ")} differ only in case`,
    );
  }
  return hits[0];
}

function listColumns(columns: readonly string[]): string {
  return columns.length === 0 ? "(none)" : columns.map((c) => JSON.stringify(c)).join(", ");
}

function requireColumn(file: string, columns: readonly string[], name: string, role: string): string {
  const c = findColumn(file, columns, name);
  if (c === undefined) {
    throw new TableFormatError(
      file,
      undefined,
      `${role} column ${JSON.stringify(name)} not found; the file has columns ${listColumns(columns)}`,
    );
  }
  return c;
}

function firstPresent(file: string, columns: readonly string[], names: readonly string[]): string | undefined {
  for (const n of names) {
    const c = findColumn(file, columns, n);
    if (c !== undefined) return c;
  }
  return undefined;
}

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function isNumberString(s: string): boolean {
  const t = s.trim();
  return NUMBER_RE.test(t) && Number.isFinite(Number(t));
}

/** Whether a column can hold the text, for the "only string column" default. */
function isStringColumn(raw: RawTable, column: string, format: TableFormat): boolean {
  let anyValue = false;
  let allNumeric = true;
  for (const r of raw.records) {
    const v = r.values.get(column);
    if (v === undefined || v === null) continue;
    if (format === "jsonl") {
      if (typeof v !== "string") return false;
      anyValue = true;
    } else {
      const s = v as string;
      if (s.trim() === "") continue;
      anyValue = true;
      if (!isNumberString(s)) allNumeric = false;
    }
  }
  return format === "jsonl" ? anyValue : anyValue && !allNumeric;
}

function textValue(file: string, rec: RawRecord, column: string, role: string): string {
  const v = rec.values.get(column);
  if (v === undefined || v === null) throw new TableFormatError(file, rec.line, `missing ${role} (column ${JSON.stringify(column)})`);
  if (typeof v !== "string") {
    throw new TableFormatError(file, rec.line, `${role} (column ${JSON.stringify(column)}) must be a string, found ${describeJson(v)}`);
  }
  if (v.trim() === "") throw new TableFormatError(file, rec.line, `empty ${role} (column ${JSON.stringify(column)})`);
  return v;
}

function labelValue(file: string, rec: RawRecord, column: string): string | undefined {
  const v = rec.values.get(column);
  if (v === undefined || v === null) return undefined;
  let s: string;
  if (typeof v === "string") s = v;
  else if (typeof v === "number" || typeof v === "boolean") s = String(v);
  else {
    throw new TableFormatError(
      file,
      rec.line,
      `label (column ${JSON.stringify(column)}) must be a string, number or boolean, found ${describeJson(v)}`,
    );
  }
  s = s.trim();
  // the prediction files write a label between tabs, one row a line
  if (/[\t\r\n]/.test(s)) throw new TableFormatError(file, rec.line, `label (column ${JSON.stringify(column)}) ${JSON.stringify(s)} contains a tab or a line break`);
  return s === "" ? undefined : s;
}

/** Reads a CSV, TSV or JSONL file of examples (see the module comment). */
export function readTable(file: string, opts: ReadTableOptions = {}): Table {
  const format = opts.format ?? tableFormatOf(file);
  if (format === undefined) {
    throw new TableFormatError(
      file,
      undefined,
      `cannot tell the format from the extension ${JSON.stringify(extname(file))}: use .csv, .tsv, .tab, .jsonl or .json, or pass format`,
    );
  }
  const buf = readBuffer(file);
  if (buf.length === 0) throw new TableFormatError(file, undefined, "empty file");
  const raw = format === "jsonl" ? readJsonl(file, buf) : readDelimited(file, buf, format);
  const { columns } = raw;

  const labelColumn =
    opts.labelColumn !== undefined
      ? requireColumn(file, columns, opts.labelColumn, "label")
      : firstPresent(file, columns, ["label", "labels"]);
  if (opts.requireLabel && labelColumn === undefined) {
    throw new TableFormatError(
      file,
      undefined,
      `no label column ("label" or "labels"; pass labelColumn); the file has columns ${listColumns(columns)}`,
    );
  }
  const textPairColumn =
    opts.textPairColumn !== undefined
      ? requireColumn(file, columns, opts.textPairColumn, "text pair")
      : firstPresent(file, columns, ["text_pair", "sentence2"]);
  let textColumn: string;
  if (opts.textColumn !== undefined) {
    textColumn = requireColumn(file, columns, opts.textColumn, "text");
  } else {
    const named = firstPresent(file, columns, ["text", "sentence", "sentence1"]);
    if (named !== undefined) {
      textColumn = named;
    } else {
      const candidates = columns.filter(
        (c) => c !== labelColumn && c !== textPairColumn && isStringColumn(raw, c, format),
      );
      if (candidates.length !== 1) {
        throw new TableFormatError(
          file,
          undefined,
          `cannot choose the text column (no "text", "sentence" or "sentence1"; ` +
            `${candidates.length === 0 ? "no" : candidates.length} text-like columns besides the label): ` +
            `pass textColumn; the file has columns ${listColumns(columns)}`,
        );
      }
      textColumn = candidates[0]!;
    }
  }
  for (const [role, c] of [["text pair", textPairColumn], ["label", labelColumn]] as const) {
    if (c !== undefined && c === textColumn) {
      throw new TableFormatError(file, undefined, `the ${role} column ${JSON.stringify(c)} is also the text column`);
    }
  }
  if (labelColumn !== undefined && labelColumn === textPairColumn) {
    throw new TableFormatError(file, undefined, `the label column ${JSON.stringify(labelColumn)} is also the text pair column`);
  }

  const rows: TableRow[] = [];
  for (const rec of raw.records) {
    const row: TableRow = { textA: textValue(file, rec, textColumn, "text"), line: rec.line };
    if (textPairColumn !== undefined) row.textB = textValue(file, rec, textPairColumn, "text pair");
    if (labelColumn !== undefined) {
      const label = labelValue(file, rec, labelColumn);
      if (label !== undefined) row.label = label;
    }
    if (opts.requireLabel && row.label === undefined) {
      throw new TableFormatError(file, rec.line, `missing label (column ${JSON.stringify(labelColumn)})`);
    }
    rows.push(row);
  }
  const out: Table = { rows, columns, file, format, textColumn };
  if (textPairColumn !== undefined) out.textPairColumn = textPairColumn;
  if (labelColumn !== undefined) out.labelColumn = labelColumn;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Labels and splits
// ---------------------------------------------------------------------------------------------

const INTEGER_RE = /^[+-]?\d+$/;

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The distinct labels (rows without a label are ignored), in a deterministic order: numeric
 * order when every label is an integer (`"2" < "10"`; ties such as `"1"`/`"01"` by string),
 * else code-unit string order.
 */
export function labelsOf(rows: readonly { label?: string }[]): string[] {
  const set = new Set<string>();
  for (const r of rows) if (r.label !== undefined) set.add(r.label);
  const labels = [...set];
  if (labels.length > 0 && labels.every((l) => INTEGER_RE.test(l))) {
    return labels.sort((a, b) => {
      const d = Number(a) - Number(b);
      return d !== 0 ? d : byCodeUnit(a, b);
    });
  }
  return labels.sort(byCodeUnit);
}

/**
 * True when at least one row has a label and every label is a finite decimal number
 * (`3`, `-0.5`, `4.2e1`; not `nan`, `inf`, `0x10`): a regression target. Unlabelled rows are
 * ignored.
 */
export function isNumericColumn(rows: readonly { label?: string }[]): boolean {
  let any = false;
  for (const r of rows) {
    if (r.label === undefined) continue;
    if (!isNumberString(r.label)) return false;
    any = true;
  }
  return any;
}
