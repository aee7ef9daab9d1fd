/**
 * Delimited files (CSV, TSV): the layer over csv-parse (`csv-parse/sync`) that gives every record
 * the 1-based line where it starts and turns csv-parse's errors into one-line `file:line:` errors.
 *
 * The data readers (tabular.ts, multiple-choice.ts) share it, so they agree on what a record is:
 * UTF-8 bytes with an optional byte-order mark, LF or CRLF record delimiters (mixed too), truly
 * empty lines skipped (a line of spaces is a record), `"` quoting (RFC 4180) or none, no newline
 * needed at the end. A record's line is where it starts, after any empty lines before it; a
 * quoted field spanning lines does not shift the lines of the records after it (csv-parse's own
 * line count is where it stopped reading, and counts a CRLF inside quotes twice, so it is not used).
 *
 * The caller chooses the error class through `makeError(line, message)`; `line` is undefined for
 * whole-file errors. What the messages say:
 *   - a quoted field never closed: "a quoted field opened in this row is never closed";
 *   - a record with another field count than the first one (only when `relaxColumnCount` is
 *     false): "expected N fields (as in the header), found M";
 *   - any other csv-parse error: csv-parse's wording on one line, without its line count.
 *
 * This module depends on node built-ins and csv-parse only.
 */
import { isUtf8 } from "node:buffer";
import { parse as parseCsv } from "csv-parse/sync";

/** Builds the caller's error: `line` is 1-based, undefined for an error about the whole file. */
export type MakeError = (line: number | undefined, message: string) => Error;

export interface DelimitedOptions {
  delimiter: "," | "\t";
  /** `"` quotes fields (RFC 4180); false: a `"` is an ordinary character and a record is one line. */
  quote: boolean;
  /**
   * false: a record whose field count differs from the first record's is an error (at that
   * record's line, before anything later is parsed); true: any count, for the caller to check.
   */
  relaxColumnCount: boolean;
  makeError: MakeError;
}

/** One record: its fields (unquoted), and the 1-based line where it starts. */
export interface DelimitedRecord {
  fields: string[];
  line: number;
}

/** Whether `buf` starts with a UTF-8 byte-order mark. */
export function hasBom(buf: Buffer): boolean {
  return buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
}

/** Offsets of every "\n" in a string or buffer, ascending: for turning offsets into line numbers. */
export function newlineOffsets(data: string | Buffer): number[] {
  const out: number[] = [];
  if (typeof data === "string") {
    for (let i = data.indexOf("\n"); i !== -1; i = data.indexOf("\n", i + 1)) out.push(i);
  } else {
    for (let i = data.indexOf(0x0a); i !== -1; i = data.indexOf(0x0a, i + 1)) out.push(i);
  }
  return out;
}

/** 1-based line of the character (or byte) at `offset`, given the newline offsets. */
export function lineAt(nl: readonly number[], offset: number): number {
  let lo = 0;
  let hi = nl.length; // count of newlines strictly before offset
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (nl[mid]! < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}

/**
 * Throws `makeError(line, "invalid UTF-8")` naming the first line (LF separated) that is not
 * valid UTF-8 when `buf` is not; returns otherwise.
 */
export function checkUtf8(buf: Buffer, makeError: MakeError): void {
  if (isUtf8(buf)) return;
  let start = 0;
  for (let line = 1; ; line++) {
    const nlAt = buf.indexOf(0x0a, start);
    const end = nlAt === -1 ? buf.length : nlAt;
    if (!isUtf8(buf.subarray(start, end))) throw makeError(line, "invalid UTF-8");
    if (nlAt === -1) break;
    start = nlAt + 1;
  }
  throw makeError(undefined, "invalid UTF-8");
}

/** First byte at or after `offset` that does not begin an empty line (LF or CRLF). */
function skipEmptyLines(buf: Buffer, offset: number): number {
  let i = offset;
  for (;;) {
    if (buf[i] === 0x0a) i += 1;
    else if (buf[i] === 0x0d && buf[i + 1] === 0x0a) i += 2;
    else return i;
  }
}

interface CsvRecordInfo {
  record: string[];
  info: { bytes: number };
}

/** The one-line message for a csv-parse error (see the module comment). */
function csvErrorMessage(err: Error & { code: string }): string {
  const m = /expect (\d+), got (\d+)/.exec(err.message);
  if (err.code === "CSV_RECORD_INCONSISTENT_FIELDS_LENGTH" && m) {
    return `expected ${m[1]} fields (as in the header), found ${m[2]}`;
  }
  if (err.code === "CSV_QUOTE_NOT_CLOSED") return "a quoted field opened in this row is never closed";
  // csv-parse's own wording, without its line count (which points at the row's last line).
  return err.message.replace(/\s+(at|on) line \d+/g, "").replace(/\s*[\r\n]+\s*/g, " ");
}

/**
 * All records of a CSV or TSV buffer (already checked as UTF-8; the header, if any, is the first
 * record), each with the line where it starts. An empty file (or one of empty lines) gives no
 * records. A csv-parse error is thrown as `makeError(line, message)` with the line where the
 * failing record starts (`makeError` names the file); any other error is rethrown as is.
 */
export function readDelimitedRecords(buf: Buffer, opts: DelimitedOptions): DelimitedRecord[] {
  const nl = newlineOffsets(buf);
  const begin = hasBom(buf) ? 3 : 0;
  let lastEnd = begin; // byte offset just past the last record parsed without error
  let parsed: CsvRecordInfo[];
  try {
    parsed = parseCsv(buf, {
      bom: true,
      delimiter: opts.delimiter,
      quote: opts.quote ? '"' : false,
      record_delimiter: ["\r\n", "\n"],
      skip_empty_lines: true,
      relax_column_count: opts.relaxColumnCount,
      info: true,
      on_record: (record, context) => {
        lastEnd = context.bytes;
        return record;
      },
    }) as unknown as CsvRecordInfo[];
  } catch (e) {
    const err = e as Error & { code?: string };
    if (typeof err.code !== "string" || (!err.code.startsWith("CSV_") && err.code !== "INVALID_OPENING_QUOTE")) throw e;
    // The failing record starts after the last good one and any empty lines.
    throw opts.makeError(lineAt(nl, skipEmptyLines(buf, lastEnd)), csvErrorMessage(err as Error & { code: string }));
  }
  const out: DelimitedRecord[] = [];
  let prevEnd = begin;
  for (const r of parsed) {
    out.push({ fields: r.record, line: lineAt(nl, skipEmptyLines(buf, prevEnd)) });
    prevEnd = r.info.bytes;
  }
  return out;
}
