/**
 * Streaming reader for a pretraining corpus, with the line semantics of the official ELECTRA
 * data builder (google-research/electra, build_pretraining_dataset.py):
 *
 * - The corpus is a text file or a folder of text files (walked recursively, names sorted by code
 *   unit order, dot-files skipped). Each file is one or more documents: one sentence per line,
 *   a blank line between documents, and the end of a file always ends a document.
 * - Lines are split on "\n" only (like tf.io.gfile.GFile iteration) and then stripped with
 *   Python's str.strip() whitespace set, so CRLF line endings and whitespace-only lines behave as
 *   in the official builder (a whitespace-only line is blank, i.e. a document boundary).
 * - Files are read in chunks (1 MiB by default), never whole, so a corpus larger than memory works.
 *   A line longer than `maxPieceBytes` (64 KiB by default) is handed over in several pieces, cut
 *   at a space or tab where there is one within the window (so tokenizing the pieces one by one
 *   gives the same tokens as tokenizing the whole line), otherwise at a UTF-8 character boundary.
 * - Invalid UTF-8 is replaced by U+FFFD and counted (a warning per file, not an error).
 * - A file that looks binary (a NUL byte in its first 64 KiB, a UTF-16 byte-order mark, or mostly
 *   control characters / undecodable bytes) is skipped with a warning naming it.
 * - A UTF-8 byte-order mark at the start of a file is dropped.
 * - A corpus without a single non-blank line is an error (thrown at the end of the stream).
 */
import { promises as fsp, statSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { isUtf8 } from "node:buffer";

export const DEFAULT_CHUNK_BYTES = 1 << 20;
export const DEFAULT_MAX_PIECE_BYTES = 1 << 16;
/** Bytes at the start of a file examined by the binary check. */
export const BINARY_SNIFF_BYTES = 1 << 16;
/** A file whose sniffed start has more than this fraction of control characters or U+FFFD is binary. */
export const BINARY_SUSPICIOUS_FRACTION = 0.3;

export type CorpusWarningKind = "binary" | "utf16" | "invalid-utf8" | "unreadable";

export interface CorpusWarning {
  kind: CorpusWarningKind;
  file: string;
  message: string;
  /** For "invalid-utf8": the number of U+FFFD replacements made in the file. */
  count?: number;
}

export interface CorpusReadStats {
  /** Files found under the corpus path. */
  files: number;
  /** Files read to the end (binary or unreadable ones excluded). */
  filesRead: number;
  filesSkipped: number;
  /** Bytes read (of files not skipped). */
  bytes: number;
  /** Complete lines handed over (blank ones included). */
  lines: number;
  /** Lines with something other than whitespace. */
  nonBlankLines: number;
  /** Invalid UTF-8 sequences replaced by U+FFFD, over all files. */
  invalidUtf8Replacements: number;
  warnings: CorpusWarning[];
}

export function newCorpusReadStats(): CorpusReadStats {
  return { files: 0, filesRead: 0, filesSkipped: 0, bytes: 0, lines: 0, nonBlankLines: 0, invalidUtf8Replacements: 0, warnings: [] };
}

/**
 * A block of text from one file. `texts[i]` is a stripped line, or a piece of a long line;
 * `lineEnds[i]` is true when `texts[i]` ends its line (false for all but the last piece of a long
 * line). A line is blank when all its pieces are empty strings. `endOfFile` is set on the file's
 * last block (possibly a block with no texts).
 */
export interface CorpusBlock {
  file: string;
  fileIndex: number;
  texts: string[];
  lineEnds: boolean[];
  endOfFile: boolean;
  /** Set on the (empty, end-of-file) block of a file skipped as binary or unreadable. */
  skipped?: boolean;
  /** Bytes of this file consumed so far. */
  fileBytesRead: number;
  fileBytes: number;
}

export interface CorpusReadOptions {
  chunkBytes?: number;
  maxPieceBytes?: number;
  /** Filled as the stream advances (warnings included). */
  stats?: CorpusReadStats;
  /** Called once per warning as it happens (for example, to print it). */
  onWarning?: (w: CorpusWarning) => void;
  /** Reorder the files (e.g. with a seeded shuffle, as the official builder shuffles its file list). */
  orderFiles?: (files: string[]) => string[];
  /** Throw when the corpus has no non-blank line (default true). */
  requireText?: boolean;
}

// Python's str.isspace() set (str.strip() with no argument strips these).
const PY_WS = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_STRIP = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, "g");

/** Python's str.strip() (no argument): strips the characters for which str.isspace() is true. */
export function pyStrip(s: string): string {
  return s.replace(PY_STRIP, "");
}

/** The files of a corpus: the path itself if it is a file, else the files under it, sorted, dot-files skipped. */
export function listCorpusFiles(corpusPath: string): string[] {
  const root = resolve(corpusPath);
  let st;
  try {
    st = statSync(root);
  } catch {
    throw new Error(`corpus: ${corpusPath} does not exist`);
  }
  if (st.isFile()) return [root];
  if (!st.isDirectory()) throw new Error(`corpus: ${corpusPath} is neither a file nor a folder`);
  const out: string[] = [];
  const walk = (dir: string): void => {
    const names = readdirSync(dir).filter((n) => !n.startsWith(".")).sort();
    for (const n of names) {
      const p = join(dir, n);
      let s;
      try {
        s = statSync(p);
      } catch {
        continue; // dangling link
      }
      if (s.isDirectory()) walk(p);
      else if (s.isFile()) out.push(p);
    }
  };
  walk(root);
  return out;
}

function countFFFD(s: string): number {
  let n = 0;
  let i = s.indexOf("\ufffd");
  while (i !== -1) {
    n++;
    i = s.indexOf("\ufffd", i + 1);
  }
  return n;
}

const FFFD_BYTES = Buffer.from([0xef, 0xbf, 0xbd]);
function countFFFDBytes(b: Uint8Array): number {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  let n = 0;
  let i = buf.indexOf(FFFD_BYTES);
  while (i !== -1) {
    n++;
    i = buf.indexOf(FFFD_BYTES, i + 3);
  }
  return n;
}

/** Decides from the start of a file whether it is text. Returns null for text, else the reason. */
export function sniffBinary(sample: Uint8Array): { kind: "binary" | "utf16"; reason: string } | null {
  if (sample.length >= 2 && ((sample[0] === 0xff && sample[1] === 0xfe) || (sample[0] === 0xfe && sample[1] === 0xff))) {
    return { kind: "utf16", reason: "it starts with a UTF-16 byte-order mark (convert it to UTF-8)" };
  }
  const nul = sample.indexOf(0);
  if (nul !== -1) return { kind: "binary", reason: `it has a NUL byte at offset ${nul}` };
  if (sample.length === 0) return null;
  // Drop a possibly cut multi-byte sequence at the end of the sample.
  let end = sample.length;
  let back = 0;
  while (end > 0 && back < 3 && (sample[end - 1] & 0xc0) === 0x80) {
    end--;
    back++;
  }
  if (end > 0 && sample[end - 1] >= 0xc0) end--;
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(sample.subarray(0, end));
  if (text.length === 0) return null;
  let bad = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13 && c !== 12 && c !== 11 && c !== 0x1b) || c === 0x7f || c === 0xfffd) bad++;
  }
  if (bad > BINARY_SUSPICIOUS_FRACTION * text.length) {
    return { kind: "binary", reason: `${((100 * bad) / text.length).toFixed(0)}% of its first ${sample.length} bytes are control characters or invalid UTF-8` };
  }
  return null;
}

/** Where to cut a too-long line so that the first part has at most `max` bytes (> 0). */
function cutPoint(buf: Buffer, start: number, max: number): number {
  const limit = start + max;
  // Prefer cutting after the last space or tab inside the window (not at its very start).
  for (let i = limit - 1; i > start; i--) {
    const c = buf[i];
    if (c === 0x20 || c === 0x09) return i + 1;
  }
  // Else at a UTF-8 character boundary.
  let i = limit;
  while (i > start + 1 && (buf[i] & 0xc0) === 0x80) i--;
  return i;
}

/**
 * Streams a corpus as blocks of stripped lines (see the file comment). Stops with an error naming
 * the corpus when no file has a non-blank line (unless requireText is false).
 */
export async function* readCorpus(corpusPath: string, opts: CorpusReadOptions = {}): AsyncGenerator<CorpusBlock> {
  const chunkBytes = Math.max(1024, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const maxPiece = Math.max(16, opts.maxPieceBytes ?? DEFAULT_MAX_PIECE_BYTES);
  const stats = opts.stats ?? newCorpusReadStats();
  let files = listCorpusFiles(corpusPath);
  if (opts.orderFiles) files = opts.orderFiles(files.slice());
  stats.files += files.length;
  if (files.length === 0) throw new Error(`corpus: ${corpusPath} has no files`);
  const warn = (w: CorpusWarning): void => {
    stats.warnings.push(w);
    opts.onWarning?.(w);
  };
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

  for (let fileIndex = 0; fileIndex < files.length; fileIndex++) {
    const file = files[fileIndex];
    let fh: fsp.FileHandle;
    let fileBytes: number;
    try {
      fh = await fsp.open(file, "r");
      fileBytes = (await fh.stat()).size;
    } catch (e) {
      stats.filesSkipped++;
      warn({ kind: "unreadable", file, message: `corpus: skipping ${file}: cannot open it (${(e as Error).message})` });
      yield { file, fileIndex, texts: [], lineEnds: [], endOfFile: true, skipped: true, fileBytesRead: 0, fileBytes: 0 };
      continue;
    }
    let invalid = 0;
    let skipped = false;
    try {
      // pending holds bytes read but not yet handed over; [pStart, pEnd) is live.
      let pending = Buffer.allocUnsafe(chunkBytes + maxPiece + 4);
      let pStart = 0;
      let pEnd = 0;
      let filePos = 0;
      let first = true;
      let eof = false;
      let lineHasText = false; // the current (multi-piece) line has a non-empty piece already
      while (!eof) {
        // Make room: move live bytes to the front, grow if needed.
        if (pStart > 0) {
          pending.copy(pending, 0, pStart, pEnd);
          pEnd -= pStart;
          pStart = 0;
        }
        if (pending.length - pEnd < chunkBytes) {
          const bigger = Buffer.allocUnsafe(pEnd + chunkBytes);
          pending.copy(bigger, 0, 0, pEnd);
          pending = bigger;
        }
        const { bytesRead } = await fh.read(pending, pEnd, chunkBytes, filePos);
        filePos += bytesRead;
        pEnd += bytesRead;
        if (bytesRead === 0 || filePos >= fileBytes) eof = true; // (the size at open: a file growing meanwhile is read to that size)
        if (first) {
          first = false;
          const sniff = sniffBinary(pending.subarray(0, Math.min(pEnd, BINARY_SNIFF_BYTES)));
          if (sniff) {
            skipped = true;
            stats.filesSkipped++;
            warn({ kind: sniff.kind, file, message: `corpus: skipping ${file}: it does not look like UTF-8 text: ${sniff.reason}` });
            yield { file, fileIndex, texts: [], lineEnds: [], endOfFile: true, skipped: true, fileBytesRead: fileBytes, fileBytes };
            break;
          }
          if (pEnd >= 3 && pending[0] === 0xef && pending[1] === 0xbb && pending[2] === 0xbf) pStart = 3;
        }
        stats.bytes += bytesRead;

        const texts: string[] = [];
        const lineEnds: boolean[] = [];
        const decode = (s: number, e: number): string => {
          const bytes = pending.subarray(s, e);
          const text = decoder.decode(bytes);
          if (!isUtf8(bytes)) invalid += countFFFD(text) - countFFFDBytes(bytes);
          return text;
        };
        const pushLine = (raw: string, end: boolean): void => {
          const t = pyStrip(raw);
          texts.push(t);
          lineEnds.push(end);
          if (end) stats.lines++;
        };
        // Hand over complete lines; runs of short lines are decoded in one call.
        let runStart = pStart;
        const flushRun = (runEnd: number): void => {
          if (runEnd <= runStart) return;
          // [runStart, runEnd) holds whole lines, each terminated by "\n".
          const text = decode(runStart, runEnd - 1);
          const parts = text.split("\n");
          for (const p of parts) pushLine(p, true);
        };
        const live = pending.subarray(0, pEnd);
        for (;;) {
          const nl = live.indexOf(10, pStart);
          if (nl !== -1 && nl - pStart <= maxPiece) {
            pStart = nl + 1; // a complete line of acceptable length: part of the current run
            continue;
          }
          // Either no newline in what is buffered, or the next line is too long: cut pieces off
          // while more than maxPiece bytes of the line are buffered.
          const avail = (nl === -1 ? pEnd : nl) - pStart;
          if (avail <= maxPiece) break; // wait for more bytes (or the end of the file)
          flushRun(pStart);
          const cut = cutPoint(pending, pStart, maxPiece);
          pushLine(decode(pStart, cut), false);
          pStart = cut;
          runStart = pStart;
        }
        flushRun(pStart);
        runStart = pStart;
        if (eof && pEnd > pStart) {
          // The last line, without a trailing newline.
          pushLine(decode(pStart, pEnd), true);
          pStart = pEnd;
        }
        for (let i = 0; i < texts.length; i++) {
          if (texts[i].length > 0 && !lineHasText) {
            stats.nonBlankLines++;
            lineHasText = true;
          }
          if (lineEnds[i]) lineHasText = false;
        }
        if (texts.length > 0 || eof) {
          yield { file, fileIndex, texts, lineEnds, endOfFile: eof, fileBytesRead: filePos, fileBytes };
        }
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== undefined) {
        skipped = true;
        stats.filesSkipped++;
        warn({ kind: "unreadable", file, message: `corpus: skipping the rest of ${file}: read error (${(e as Error).message})` });
        yield { file, fileIndex, texts: [], lineEnds: [], endOfFile: true, skipped: true, fileBytesRead: fileBytes, fileBytes };
      } else {
        throw e;
      }
    } finally {
      await fh.close();
    }
    if (!skipped) stats.filesRead++;
    if (invalid > 0) {
      stats.invalidUtf8Replacements += invalid;
      warn({ kind: "invalid-utf8", file, count: invalid, message: `corpus: ${file}: replaced ${invalid} invalid UTF-8 sequence(s) with U+FFFD` });
    }
  }
  if ((opts.requireText ?? true) && stats.nonBlankLines === 0) {
    const skipped = stats.filesSkipped > 0 ? `, ${stats.filesSkipped} skipped (${stats.warnings.filter((w) => w.kind !== "invalid-utf8").map((w) => w.file).join(", ")})` : "";
    throw new Error(`corpus: ${corpusPath} has no text: ${files.length} file(s)${skipped}, no non-blank line`);
  }
}

/** Reads a whole (small) corpus into memory as lines, long lines joined back from their pieces. */
export async function readCorpusLines(corpusPath: string, opts: CorpusReadOptions = {}): Promise<{ lines: string[]; stats: CorpusReadStats }> {
  const stats = opts.stats ?? newCorpusReadStats();
  const lines: string[] = [];
  let cur: string[] = [];
  for await (const block of readCorpus(corpusPath, { ...opts, stats })) {
    for (let i = 0; i < block.texts.length; i++) {
      if (block.texts[i].length > 0) cur.push(block.texts[i]);
      if (block.lineEnds[i]) {
        lines.push(cur.join(" "));
        cur = [];
      }
    }
  }
  return { lines, stats };
}

/**
 * Checks a file without keeping it: whether it would be skipped as binary, and whether it is valid
 * UTF-8 throughout (streamed in chunks).
 */
export async function inspectTextFile(file: string, chunkBytes = DEFAULT_CHUNK_BYTES): Promise<{ binary: string | null; validUtf8: boolean; bytes: number }> {
  const fh = await fsp.open(file, "r");
  try {
    const buf = Buffer.allocUnsafe(chunkBytes + 4);
    let pos = 0;
    let carry = 0;
    let valid = true;
    for (;;) {
      const { bytesRead } = await fh.read(buf, carry, chunkBytes, pos);
      if (pos === 0) {
        const sniff = sniffBinary(buf.subarray(0, Math.min(bytesRead, BINARY_SNIFF_BYTES)));
        if (sniff) return { binary: sniff.reason, validUtf8: false, bytes: (await fh.stat()).size };
      }
      pos += bytesRead;
      const end = carry + bytesRead;
      if (bytesRead === 0) {
        if (carry > 0) valid = false; // cut sequence at the end
        break;
      }
      // Keep a possibly incomplete trailing sequence for the next round.
      let cut = end;
      let k = 0;
      while (cut > 0 && k < 3 && (buf[cut - 1] & 0xc0) === 0x80) {
        cut--;
        k++;
      }
      if (cut > 0 && buf[cut - 1] >= 0xc0) cut--;
      else cut = end;
      if (valid && !isUtf8(buf.subarray(0, cut))) valid = false;
      buf.copy(buf, 0, cut, end);
      carry = end - cut;
      if (!valid) break;
    }
    return { binary: null, validUtf8: valid, bytes: pos };
  } finally {
    await fh.close();
  }
}
