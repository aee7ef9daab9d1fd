/**
 * Token-classification data: CoNLL column files and token JSONL files, tag-scheme detection,
 * a deterministic label list, and a predictions writer that the Perl `conlleval` script reads
 * as it is.
 *
 * CoNLL files (`readConll`), as the CoNLL-2000 chunking and CoNLL-2003 NER releases lay them out:
 *
 *   - one token per line, columns separated by spaces and/or tabs (any run of them), the word in
 *     the first column and (by default) the tag in the last; 2, 3, 4 or more columns;
 *   - sentences separated by one or more blank lines (a line of only spaces/tabs is blank);
 *   - `-DOCSTART-` lines (first column exactly `-DOCSTART-`) between documents, followed by a
 *     blank line or not; they are not sentences and not tokens: each is kept verbatim in the
 *     `docstartBefore` of the sentence that follows it, and counted in `TaggedFile.docstarts`.
 *     They are not checked against the file's column count (releases differ: `-DOCSTART- -X- -X- O`,
 *     `-DOCSTART- -X- O O`, a bare `-DOCSTART-`);
 *   - LF or CRLF line endings, an optional UTF-8 byte-order mark, any number of blank lines at
 *     the start or end, a last line with or without a newline.
 *
 * The column count of a file is that of its first token line (the first non-blank,
 * non-DOCSTART line); every other token line must have the same count. A malformed line throws a
 * {@link TaggedFormatError} whose one-line message starts `file:line: ` (the path as passed in,
 * the 1-based line number), e.g. `train.txt:1234: expected 4 columns, found 3`. An empty file, a
 * file with no sentences and a file that is not valid UTF-8 are errors naming the file.
 *
 * Token JSONL files (`readTokenJsonl`): one JSON object per line, `{"tokens": [...], "tags":
 * [...]}` (or `ner_tags` for the tag key), all items strings, both lists of one non-zero length.
 * Blank lines are skipped. Integer tag ids (as in Hugging Face datasets' `ner_tags`) are refused:
 * map them to their names first.
 *
 * This module depends on node built-ins only.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { checkUtf8 } from "./delimited.js";
import { FileFormatError } from "./format-error.js";
import { describeJson, jsonObjectLine } from "./jsonl.js";

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** One sentence of a token-classification file. `words` and `tags` have the same length (≥ 1). */
export interface TaggedSentence {
  words: string[];
  tags: string[];
  /** 1-based line number of the sentence's first word in its file (the object's line in JSONL). */
  line: number;
  /**
   * The `-DOCSTART-` line(s) found since the previous sentence (CoNLL only), verbatim apart from
   * the line ending and surrounding spaces/tabs, so that a writer can re-emit document breaks.
   * Absent when there were none.
   */
  docstartBefore?: string[];
}

/** A whole file read by {@link readConll} or {@link readTokenJsonl}. */
export interface TaggedFile {
  sentences: TaggedSentence[];
  /** Columns per token line (CoNLL); 2 for JSONL (tokens, tags). */
  columns: number;
  /** The path as passed to the reader. */
  file: string;
  /** Number of `-DOCSTART-` lines in the file (0 for JSONL). Not counted as sentences. */
  docstarts: number;
  /** 0-based column the tags were read from (CoNLL; 1 for JSONL). */
  tagColumn: number;
  /**
   * `-DOCSTART-` lines after the last sentence (no sentence follows them to carry them); absent
   * when there are none.
   */
  trailingDocstarts?: string[];
}

export interface ReadConllOptions {
  /**
   * 0-based column holding the tags; negative counts from the end (-1 is the last column).
   * Default: the last column. Column 0 is the word and cannot be the tag column.
   */
  tagColumn?: number;
}

/** Tag schemes {@link tagScheme} tells apart. */
export type TagScheme = "IOB1" | "IOB2" | "IOBES" | "IO" | "unknown";

/** A malformed or unusable token-classification file (see FileFormatError). */
export class TaggedFormatError extends FileFormatError {}

/** The first column value that marks a document break in CoNLL files. */
export const DOCSTART = "-DOCSTART-";

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/** Reads a file as UTF-8 text without its BOM, and splits it into lines (LF or CRLF). */
function readLines(file: string): string[] {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new TaggedFormatError(file, undefined, `cannot read file (${(e as Error).message})`);
  }
  if (buf.length === 0) throw new TaggedFormatError(file, undefined, "empty file");
  checkUtf8(buf, (line, message) => new TaggedFormatError(file, line, message));
  let text = buf.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.endsWith("\r")) lines[i] = l.slice(0, -1);
  }
  return lines;
}

const FIELD_SEP = /[ \t]+/;

/** Splits a CoNLL line on runs of spaces/tabs, ignoring leading and trailing ones. */
function splitFields(line: string): string[] {
  const t = line.replace(/^[ \t]+|[ \t]+$/g, "");
  return t === "" ? [] : t.split(FIELD_SEP);
}

/**
 * Reads a CoNLL column file (see the module comment for the accepted layout). Sentences come
 * in file order; `-DOCSTART-` lines are not sentences.
 */
export function readConll(file: string, opts: ReadConllOptions = {}): TaggedFile {
  const lines = readLines(file);
  const requested = opts.tagColumn ?? -1;
  if (!Number.isInteger(requested)) {
    throw new TaggedFormatError(file, undefined, `tagColumn must be an integer, got ${requested}`);
  }
  const sentences: TaggedSentence[] = [];
  let columns = 0; // set by the first token line
  let tagColumn = -1;
  let docstarts = 0;
  let pendingDocstarts: string[] = [];
  let words: string[] = [];
  let tags: string[] = [];
  let startLine = 0;

  const flush = (): void => {
    if (words.length === 0) return;
    const s: TaggedSentence = { words, tags, line: startLine };
    if (pendingDocstarts.length > 0) {
      s.docstartBefore = pendingDocstarts;
      pendingDocstarts = [];
    }
    sentences.push(s);
    words = [];
    tags = [];
  };

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const fields = splitFields(lines[i]!);
    if (fields.length === 0) {
      flush();
      continue;
    }
    if (fields[0] === DOCSTART) {
      flush();
      docstarts++;
      pendingDocstarts.push(lines[i]!.replace(/^[ \t]+|[ \t]+$/g, ""));
      continue;
    }
    if (columns === 0) {
      // The first token line fixes the file's layout.
      if (fields.length < 2) {
        throw new TaggedFormatError(
          file,
          lineNo,
          `expected at least 2 columns (word and tag), found ${fields.length}`,
        );
      }
      const resolved = requested < 0 ? fields.length + requested : requested;
      if (resolved >= fields.length || resolved < 0) {
        const need = requested < 0 ? -requested + 1 : requested + 1;
        throw new TaggedFormatError(
          file,
          lineNo,
          `expected at least ${Math.max(need, 2)} columns for tag column ${requested}, found ${fields.length}`,
        );
      }
      if (resolved === 0) {
        throw new TaggedFormatError(
          file,
          lineNo,
          `tag column ${requested} is the word column (0); the tag must be in column 1 or later`,
        );
      }
      columns = fields.length;
      tagColumn = resolved;
    } else if (fields.length !== columns) {
      throw new TaggedFormatError(file, lineNo, `expected ${columns} columns, found ${fields.length}`);
    }
    if (words.length === 0) startLine = lineNo;
    words.push(fields[0]!);
    tags.push(fields[tagColumn]!);
  }
  flush();

  if (sentences.length === 0) {
    throw new TaggedFormatError(
      file,
      undefined,
      docstarts > 0 ? `no sentences (only ${docstarts} -DOCSTART- line(s) and blank lines)` : "no sentences (only blank lines)",
    );
  }
  const out: TaggedFile = { sentences, columns, file, docstarts, tagColumn };
  if (pendingDocstarts.length > 0) out.trailingDocstarts = pendingDocstarts;
  return out;
}


/**
 * Reads token JSONL: `{"tokens": [...], "tags": [...]}` per line (`ner_tags` accepted for
 * `tags`; when both are present `tags` is used). Other keys are ignored. Blank lines are skipped.
 */
export function readTokenJsonl(file: string): TaggedFile {
  const lines = readLines(file);
  const sentences: TaggedSentence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!;
    if (raw.trim() === "") continue;
    const rec = jsonObjectLine(raw, (m) => new TaggedFormatError(file, lineNo, m));
    const tokens = rec["tokens"];
    const tagKey = "tags" in rec ? "tags" : "ner_tags" in rec ? "ner_tags" : undefined;
    if (tokens === undefined) {
      throw new TaggedFormatError(file, lineNo, `missing key "tokens" (keys: ${Object.keys(rec).join(", ") || "none"})`);
    }
    if (tagKey === undefined) {
      throw new TaggedFormatError(
        file,
        lineNo,
        `missing key "tags" or "ner_tags" (keys: ${Object.keys(rec).join(", ") || "none"})`,
      );
    }
    const tagsV = rec[tagKey];
    if (!Array.isArray(tokens)) throw new TaggedFormatError(file, lineNo, `"tokens" must be an array, found ${describeJson(tokens)}`);
    if (!Array.isArray(tagsV)) throw new TaggedFormatError(file, lineNo, `"${tagKey}" must be an array, found ${describeJson(tagsV)}`);
    for (let k = 0; k < tokens.length; k++) {
      if (typeof tokens[k] !== "string") {
        throw new TaggedFormatError(file, lineNo, `"tokens"[${k}] must be a string, found ${describeJson(tokens[k])}`);
      }
    }
    for (let k = 0; k < tagsV.length; k++) {
      if (typeof tagsV[k] !== "string") {
        const hint = typeof tagsV[k] === "number" ? " (integer tag ids are not accepted: map them to tag names first)" : "";
        throw new TaggedFormatError(file, lineNo, `"${tagKey}"[${k}] must be a string, found ${describeJson(tagsV[k])}${hint}`);
      }
      if (tagsV[k] === "") throw new TaggedFormatError(file, lineNo, `"${tagKey}"[${k}] is an empty string`);
      // as a CoNLL file's tag column, which cannot hold one (and the prediction files write tags between spaces)
      if (/\s/.test(tagsV[k])) throw new TaggedFormatError(file, lineNo, `"${tagKey}"[${k}] ${JSON.stringify(tagsV[k])} contains whitespace`);
    }
    if (tokens.length !== tagsV.length) {
      throw new TaggedFormatError(
        file,
        lineNo,
        `"tokens" has ${tokens.length} items but "${tagKey}" has ${tagsV.length}`,
      );
    }
    if (tokens.length === 0) throw new TaggedFormatError(file, lineNo, `empty sentence ("tokens" is [])`);
    sentences.push({ words: tokens as string[], tags: tagsV as string[], line: lineNo });
  }
  if (sentences.length === 0) throw new TaggedFormatError(file, undefined, "no sentences (only blank lines)");
  return { sentences, columns: 2, file, docstarts: 0, tagColumn: 1 };
}

/** Reads `file` as token JSONL when it ends in `.jsonl` or `.json` (any case), else as CoNLL. */
export function readTagged(file: string, opts: ReadConllOptions = {}): TaggedFile {
  const ext = extname(file).toLowerCase();
  return ext === ".jsonl" || ext === ".json" ? readTokenJsonl(file) : readConll(file, opts);
}

// ---------------------------------------------------------------------------------------------
// Tag sets and schemes
// ---------------------------------------------------------------------------------------------

/** Plain code-unit order (locale independent, so that saved label lists are reproducible). */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The distinct tags of the given files, sorted in code-unit order with `"O"` first when present,
 * e.g. `["O", "B-LOC", "B-MISC", ..., "I-PER"]`: a stable order for id2label.
 */
export function labelSet(files: readonly TaggedFile[]): string[] {
  const set = new Set<string>();
  for (const f of files) for (const s of f.sentences) for (const t of s.tags) set.add(t);
  const hasO = set.delete("O");
  const rest = [...set].sort(byCodeUnit);
  return hasO ? ["O", ...rest] : rest;
}

interface ParsedTag {
  prefix: "O" | "B" | "I" | "E" | "S" | "?";
  type: string;
}

function parseTag(t: string): ParsedTag {
  if (t === "O") return { prefix: "O", type: "" };
  const m = /^([BIES])-(.+)$/.exec(t);
  if (m === null) return { prefix: "?", type: t };
  return { prefix: m[1] as ParsedTag["prefix"], type: m[2]! };
}

/**
 * Detects the tagging scheme.
 *
 * Input: a sequence of tags (one sentence or several concatenated), or an iterable of sentences
 * (`string[]` each; adjacency is then not carried across sentences, e.g.
 * `tagScheme(file.sentences.map((s) => s.tags))`), or a `Set` of tags (a label set, where
 * order means nothing).
 *
 * Rules for sequences, in order:
 *   1. "unknown" when a tag other than `O` lacks a `B-`/`I-`/`E-`/`S-` prefix followed by a type
 *      (bare `PER`, BILOU's `L-`/`U-`, `B_PER`, ...), or when there is no tag besides `O`;
 *   2. "IOBES" when any `E-` or `S-` tag occurs;
 *   3. "IO" when there are `I-` tags but no `B-` tag at all (also what IOB1 looks like when no
 *      two entities of one type touch; both decode the same way);
 *   4. "IOB2" when every chunk starts with `B-`: no `I-X` at a sentence start, after `O`, or after
 *      a tag of another type;
 *   5. "IOB1" otherwise (an `I-X` starts a chunk somewhere and `B-` occurs).
 * For a `Set`, rules 1–3 apply as they are; then "IOB2" when there are `B-` tags but no `I-`
 * tag; then "IOB1" when some type has `I-` tags but no `B-` tag (as in CoNLL-2003's original
 * training file, where `B-PER` never occurs); otherwise "unknown" (a set with `B-X` and `I-X`
 * for every type can be either IOB1 or IOB2).
 */
export function tagScheme(tags: Iterable<string> | Iterable<readonly string[]>): TagScheme {
  let any = false;
  let hasB = false;
  let hasI = false;
  let hasES = false;
  let iStartsChunk = false;
  const isSet = tags instanceof Set;
  const bTypes = new Set<string>();
  const iTypes = new Set<string>();

  const visit = (seq: Iterable<string>): boolean => {
    let prev: ParsedTag = { prefix: "O", type: "" };
    for (const t of seq) {
      const p = parseTag(t);
      if (p.prefix === "?") return false;
      if (p.prefix !== "O") any = true;
      if (p.prefix === "B") {
        hasB = true;
        bTypes.add(p.type);
      } else if (p.prefix === "I") {
        hasI = true;
        iTypes.add(p.type);
        if (!isSet && (prev.prefix === "O" || prev.type !== p.type)) iStartsChunk = true;
      } else if (p.prefix === "E" || p.prefix === "S") {
        hasES = true;
      }
      prev = p;
    }
    return true;
  };

  let flat: string[] | null = null;
  for (const item of tags as Iterable<string | readonly string[]>) {
    if (typeof item === "string") {
      (flat ??= []).push(item);
    } else if (!visit(item)) {
      return "unknown";
    }
  }
  if (flat !== null && !visit(flat)) return "unknown";
  if (!any) return "unknown";
  if (hasES) return "IOBES";
  if (!hasB) return "IO"; // only I- (and O) tags
  if (isSet) {
    if (!hasI) return "IOB2"; // only B- tags: every chunk starts with B-
    for (const t of iTypes) if (!bTypes.has(t)) return "IOB1";
    return "unknown";
  }
  return iStartsChunk ? "IOB1" : "IOB2";
}

// ---------------------------------------------------------------------------------------------
// Writing predictions for conlleval
// ---------------------------------------------------------------------------------------------

/** Anything with a synchronous `write(string)`: a `fs.WriteStream`, `process.stdout`, ... */
export interface TextSink {
  write(chunk: string): unknown;
}

export interface WritePredictionsOptions {
  /**
   * Write each sentence's `docstartBefore` lines (as `-DOCSTART- O O` followed by a blank line).
   * Default true. Note that conlleval counts such a line as one token (tagged O, always right).
   */
  docstart?: boolean;
}

/** The document-break line written by {@link writeConllPredictions}: 3 columns, like every line. */
export const DOCSTART_PREDICTION_LINE = `${DOCSTART} O O`;

/**
 * A word as written in a 3-column prediction file: each run of whitespace (any Unicode
 * whitespace, as JavaScript's `\s`) becomes one `_`, and an empty word becomes `_`, so that
 * every line splits into exactly 3 fields on single spaces (as conlleval does).
 */
export function conllWord(word: string): string {
  const w = word.replace(/\s+/g, "_");
  return w === "" ? "_" : w;
}

function checkTag(tag: string, what: string): string {
  if (tag === "" || /\s/.test(tag)) {
    throw new Error(`writeConllPredictions: ${what} tag ${JSON.stringify(tag)} is empty or contains whitespace`);
  }
  return tag;
}

/**
 * Writes `word gold predicted` per token (single spaces), a blank line after every sentence, and
 * the input's document breaks as `-DOCSTART- O O` lines (each followed by a blank line) before
 * the sentence that followed them in the input. Every non-blank line has exactly 3 columns, so
 * `perl conlleval < file` reads the output as it is. Words are written through
 * {@link conllWord} (inner whitespace → `_`). Tags must be non-empty and free of whitespace.
 *
 * Returns the text, or writes it to `out` sentence by sentence (synchronous `write` calls, no
 * waiting for `drain`) and returns `undefined`.
 */
export function writeConllPredictions(
  sentences: readonly TaggedSentence[],
  predicted: readonly (readonly string[])[],
): string;
export function writeConllPredictions(
  sentences: readonly TaggedSentence[],
  predicted: readonly (readonly string[])[],
  out: TextSink,
  opts?: WritePredictionsOptions,
): undefined;
export function writeConllPredictions(
  sentences: readonly TaggedSentence[],
  predicted: readonly (readonly string[])[],
  out: undefined,
  opts?: WritePredictionsOptions,
): string;
export function writeConllPredictions(
  sentences: readonly TaggedSentence[],
  predicted: readonly (readonly string[])[],
  out?: TextSink,
  opts: WritePredictionsOptions = {},
): string | undefined {
  if (predicted.length !== sentences.length) {
    throw new Error(
      `writeConllPredictions: ${sentences.length} sentences but ${predicted.length} predicted tag sequences`,
    );
  }
  const keepDocstart = opts.docstart ?? true;
  const parts: string[] = [];
  const emit = (s: string): void => {
    if (out) out.write(s);
    else parts.push(s);
  };
  for (let i = 0; i < sentences.length; i++) {
    const s = sentences[i]!;
    const p = predicted[i]!;
    if (p.length !== s.words.length || s.tags.length !== s.words.length) {
      throw new Error(
        `writeConllPredictions: sentence ${i} (line ${s.line}) has ${s.words.length} words, ` +
          `${s.tags.length} gold tags and ${p.length} predicted tags`,
      );
    }
    let chunk = "";
    if (keepDocstart && s.docstartBefore) {
      for (let k = 0; k < s.docstartBefore.length; k++) chunk += `${DOCSTART_PREDICTION_LINE}\n\n`;
    }
    for (let k = 0; k < s.words.length; k++) {
      chunk += `${conllWord(s.words[k]!)} ${checkTag(s.tags[k]!, "gold")} ${checkTag(p[k]!, "predicted")}\n`;
    }
    chunk += "\n";
    emit(chunk);
  }
  return out ? undefined : parts.join("");
}
