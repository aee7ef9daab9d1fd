/**
 * Multiple-choice examples (one context, several candidate second segments, one right answer)
 * from COPA's XML, OpenBookQA's TSV, SWAG's CSV, or the user's own JSONL.
 *
 * Every reader returns {@link ChoiceExample}s: the model pairs `context` with each of `choices`
 * and scores them as a batch `[examples, num_choices, T]`, so within one file every example has
 * the same number of choices, and a file is either labelled throughout or not at all.
 *
 * Formats (chosen by `format`, else by the extension, any case: `.xml` → copa, `.tsv` →
 * openbookqa, `.csv` → swag, `.jsonl`/`.json` → jsonl):
 *
 *   - copa: the XML of the original COPA release (copa-dev.xml, copa-test.xml, copa-all.xml; see
 *     copa.dtd): `<copa-corpus><item id asks-for="cause|effect" most-plausible-alternative="1|2">
 *     <p>premise</p><a1>…</a1><a2>…</a2></item>…</copa-corpus>`, parsed by fast-xml-parser after
 *     its well-formedness check. The context is the premise, a space and the question jiant uses
 *     for SuperGLUE's COPA (nyu-mll/jiant, jiant/tasks/lib/copa.py: `_QUESTION_DICT` and
 *     `prompt=line["premise"] + " " + question`): "What was the cause of this?" for `cause`,
 *     "What happened as a result?" for `effect` (see {@link COPA_QUESTIONS}); the choices are a1,
 *     a2; label = most-plausible-alternative − 1. An item without most-plausible-alternative is
 *     unlabelled (for blind test files; copa.dtd itself makes it required). `id` is the item's id
 *     attribute, which must be unique. `line` is where the item's `<item` tag starts. Texts are
 *     the element contents with entities decoded and surrounding whitespace trimmed; an element
 *     other than p/a1/a2 inside an item, a repeated or missing one, markup inside one, or text
 *     directly inside `<item>` is an error.
 *   - openbookqa: the TSV of OpenBookQA's "Main" release as distributed with a header
 *     `ID, Question Stem, Choices, Complete Question, Answer Key` (tab separated, no quoting: a
 *     `"` is an ordinary character, so a row never spans lines; columns found by name, so their
 *     order does not matter and Complete Question is ignored). context = the stem; the Choices
 *     string `(A) … (B) … (C) … (D) …` is split at the first " (B) " after "(A) ", then the first
 *     " (C) " after that, then the first " (D) " after that, so a later "(D)" stays inside the
 *     last choice (train.tsv line 3334, id 12-1145, has one: its choice D reads
 *     "baby birds chewing worms (D) mother dogs nursing their pups"); each choice is trimmed and
 *     must not be empty. label = "ABCD".indexOf(Answer Key); without an Answer Key column the file
 *     is unlabelled. `id` = ID (unique).
 *   - swag: the CSV of rowanz/swagaf's data/{train,val,test}.csv, header
 *     `,video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0,ending1,ending2,ending3,label`
 *     (test.csv has no label column), RFC 4180 quoting, parsed by csv-parse. Following
 *     transformers' examples/pytorch/multiple-choice/run_swag.py (`context_name = "sent1"`,
 *     `question_header_name = "sent2"`, second sentences `f"{header} {end}"` for ending0..3):
 *     context = sent1 and choice k = sent2 + " " + ending k, exactly (no trimming). The ending
 *     columns are `ending0`, `ending1`, … (at least two, numbered without gaps). label is an
 *     integer in range; without a label column the file is unlabelled. `id` = the unnamed first
 *     column (the row index in swagaf's files) when the file has one and it is non-empty, else
 *     `video-id` + "/" + `fold-ind` when both columns exist, else the line number.
 *   - jsonl: one JSON object per line, exactly the keys `context` (a string), `choices` (an
 *     array of at least 2 non-empty strings) and optionally `label` (an integer index into
 *     `choices`); any other key is an error (strict on purpose: an `"answer"` or `"lable"` key
 *     is not silently ignored, leaving the example unlabelled). Blank lines are skipped. `id` =
 *     the 1-based line number as a string.
 *
 * Common to all: UTF-8 (invalid UTF-8 is an error naming the line), an optional byte-order mark,
 * LF or CRLF line endings. `line` is 1-based and is where the example starts in the file.
 *
 * Errors are {@link ChoiceFormatError}s with a one-line message `file:line: what` (the item id
 * follows where there is one, e.g. `copa-dev.xml:41: item 7: …`), or `file: what` for whole-file
 * errors (empty file, no examples, no header, unknown extension).
 *
 * This module depends on node built-ins, fast-xml-parser and csv-parse (through delimited.ts) only.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { FileFormatError } from "./format-error.js";
import { describeJson, jsonErrorMessage } from "./jsonl.js";
import { checkUtf8, hasBom, lineAt, newlineOffsets, readDelimitedRecords, type DelimitedRecord } from "./delimited.js";

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export type ChoiceFormat = "copa" | "openbookqa" | "swag" | "jsonl";

export const CHOICE_FORMATS: readonly ChoiceFormat[] = Object.freeze(["copa", "openbookqa", "swag", "jsonl"]);

export interface ChoiceExample {
  /** The dataset's id: COPA item id, OpenBookQA ID, SWAG row index (or video-id/fold-ind), JSONL line number. */
  id: string;
  /** The first segment. */
  context: string;
  /** The second segments, in order. */
  choices: string[];
  /** Index into `choices` of the right one; absent when unlabelled. */
  label?: number;
  /** 1-based line where the example starts in the file. */
  line: number;
}

/** A malformed multiple-choice file: one line, `file:line: message` (or `file: message`). */
export class ChoiceFormatError extends FileFormatError {}

/**
 * The question appended to a COPA premise, as jiant phrases it for SuperGLUE
 * (nyu-mll/jiant, jiant/tasks/lib/copa.py, `CopaTask._QUESTION_DICT`).
 */
export const COPA_QUESTIONS: Readonly<Record<"cause" | "effect", string>> = Object.freeze({
  cause: "What was the cause of this?",
  effect: "What happened as a result?",
});

/** COPA's first segment: the premise, a space, the question (jiant: `premise + " " + question`). */
export function copaContext(premise: string, asksFor: "cause" | "effect"): string {
  return `${premise} ${COPA_QUESTIONS[asksFor]}`;
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/** The format implied by a file name's extension (any case); throws when there is none. */
export function choiceFormatOf(file: string): ChoiceFormat {
  const ext = extname(file).toLowerCase();
  switch (ext) {
    case ".xml":
      return "copa";
    case ".tsv":
      return "openbookqa";
    case ".csv":
      return "swag";
    case ".jsonl":
    case ".json":
      return "jsonl";
    default:
      throw new ChoiceFormatError(
        file,
        undefined,
        `cannot tell the multiple-choice format from the extension ${ext === "" ? "(none)" : JSON.stringify(ext)}` +
          ` (.xml → copa, .tsv → openbookqa, .csv → swag, .jsonl/.json → jsonl); give the format (${CHOICE_FORMATS.join(", ")})`,
      );
  }
}

/** Reads a multiple-choice file in `format`, else in the format its extension implies. */
export function readChoices(file: string, format?: ChoiceFormat): ChoiceExample[] {
  const fmt = format ?? choiceFormatOf(file);
  switch (fmt) {
    case "copa":
      return readCopa(file);
    case "openbookqa":
      return readOpenBookQa(file);
    case "swag":
      return readSwag(file);
    case "jsonl":
      return readChoicesJsonl(file);
    default:
      throw new ChoiceFormatError(
        file,
        undefined,
        `unknown multiple-choice format ${JSON.stringify(fmt)} (expected one of ${CHOICE_FORMATS.join(", ")})`,
      );
  }
}

/** The number of choices every example has (the readers guarantee it is the same for all). */
export function numChoices(examples: readonly ChoiceExample[]): number {
  if (examples.length === 0) throw new RangeError("numChoices: no examples");
  const n = examples[0]!.choices.length;
  for (const e of examples) {
    if (e.choices.length !== n) {
      throw new RangeError(`numChoices: example ${e.id} (line ${e.line}) has ${e.choices.length} choices, the first has ${n}`);
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/** Reads a file as bytes, checks it is UTF-8 (naming the first bad line) and not empty. */
function readBytes(file: string): Buffer {
  const buf = readFileSync(file);
  checkUtf8(buf, (line, message) => new ChoiceFormatError(file, line, message));
  const body = hasBom(buf) ? buf.subarray(3) : buf;
  if (body.toString("utf8").trim() === "") throw new ChoiceFormatError(file, undefined, "empty file");
  return buf;
}

function readText(file: string): string {
  const text = readBytes(file).toString("utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}


/** Labelled throughout or not at all: throws at the first example that breaks the pattern. */
function checkLabelledness(file: string, examples: readonly ChoiceExample[], what: (e: ChoiceExample) => string): void {
  const first = examples[0];
  if (first === undefined) return;
  const labelled = first.label !== undefined;
  for (const e of examples) {
    if ((e.label !== undefined) !== labelled) {
      throw new ChoiceFormatError(
        file,
        e.line,
        `${what(e)}${labelled ? "has no label" : "has a label"}, but the first example (line ${first.line}) ` +
          `${labelled ? "has one" : "has none"}: a file is labelled throughout or not at all`,
      );
    }
  }
}

function checkUniqueIds(file: string, examples: readonly ChoiceExample[], noun: string): void {
  const seen = new Map<string, number>();
  for (const e of examples) {
    const prev = seen.get(e.id);
    if (prev !== undefined) {
      throw new ChoiceFormatError(file, e.line, `${noun} ${e.id}: duplicate id (first on line ${prev})`);
    }
    seen.set(e.id, e.line);
  }
}

// ---------------------------------------------------------------------------------------------
// COPA (XML)
// ---------------------------------------------------------------------------------------------

const COPA_ROOT = "copa-corpus";
const COPA_PARTS = ["p", "a1", "a2"] as const;

/** Blanks comments, CDATA sections, processing instructions and the DOCTYPE (keeping newlines). */
function maskNonMarkup(xml: string): string {
  const blank = (m: string) => m.replace(/[^\n]/g, " ");
  return xml
    .replace(/<!--[\s\S]*?(-->|$)/g, blank)
    .replace(/<!\[CDATA\[[\s\S]*?(\]\]>|$)/g, blank)
    .replace(/<\?[\s\S]*?(\?>|$)/g, blank)
    .replace(/<!DOCTYPE(\s[^[>]*)?(\[[\s\S]*?\])?\s*>/g, blank);
}

/** Reads COPA's XML (see the module comment). */
export function readCopa(file: string): ChoiceExample[] {
  const xml = readText(file);
  const notWellFormed = (msg: string, line?: number): ChoiceFormatError =>
    new ChoiceFormatError(file, line, `not well-formed XML: ${msg.replace(/\s*[\r\n]+\s*/g, " ")}`);
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw notWellFormed(valid.err.msg, valid.err.line);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@_",
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    processEntities: true,
    htmlEntities: true, // also decodes numeric character references (&#65; &#x41;)
    captureMetaData: true,
    jPath: true,
    isArray: (_name, jpath) => {
      const p = String(jpath);
      return p === `${COPA_ROOT}.item` || COPA_PARTS.some((part) => p === `${COPA_ROOT}.item.${part}`);
    },
  });
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml) as Record<string, unknown>;
  } catch (e) {
    // what the validator lets through and the parser refuses (e.g. an unclosed <?xml ... ?> declaration)
    throw notWellFormed((e as Error).message);
  }
  const roots = Object.keys(doc).filter((k) => !k.startsWith("?"));
  const root = doc[COPA_ROOT];
  if (root === undefined) {
    throw new ChoiceFormatError(
      file,
      undefined,
      `expected a <${COPA_ROOT}> root element (COPA XML), found ${roots.length === 0 ? "none" : roots.map((r) => `<${r}>`).join(", ")}`,
    );
  }
  const rawItems: unknown[] =
    root !== null && typeof root === "object" && Array.isArray((root as Record<string, unknown>)["item"])
      ? ((root as Record<string, unknown>)["item"] as unknown[])
      : [];
  if (rawItems.length === 0) throw new ChoiceFormatError(file, undefined, `no <item> elements in <${COPA_ROOT}>`);

  // Lines: the parser's own start offset of each item (captureMetaData); an item the parser
  // turned into a plain string (no attributes, no children) has none, so it gets the next
  // `<item` tag in the raw text (comments, CDATA and the DOCTYPE blanked) after the previous one.
  const nl = newlineOffsets(xml);
  const masked = maskNonMarkup(xml);
  const meta = XMLParser.getMetaDataSymbol() as unknown as symbol;
  const tagRe = /<item(?=[\s/>])/g;
  let searchFrom = 0;
  const itemLine = (raw: unknown): number => {
    const m =
      raw !== null && typeof raw === "object"
        ? ((raw as Record<symbol, { startIndex?: number; endIndex?: number } | undefined>)[meta] ?? undefined)
        : undefined;
    if (m?.startIndex !== undefined) {
      searchFrom = m.endIndex ?? m.startIndex + 1;
      return lineAt(nl, m.startIndex);
    }
    tagRe.lastIndex = searchFrom;
    const hit = tagRe.exec(masked);
    if (hit === null) return lineAt(nl, searchFrom);
    searchFrom = hit.index + 1;
    return lineAt(nl, hit.index);
  };

  const examples: ChoiceExample[] = [];
  for (const raw of rawItems) {
    const line = itemLine(raw);
    examples.push(copaItem(file, line, raw));
  }
  checkUniqueIds(file, examples, "item");
  checkLabelledness(file, examples, (e) => `item ${e.id}: `);
  return examples;
}

function copaItem(file: string, line: number, raw: unknown): ChoiceExample {
  const fail = (msg: string): never => {
    throw new ChoiceFormatError(file, line, msg);
  };
  if (raw === null || typeof raw !== "object") {
    const text = typeof raw === "string" ? raw.trim() : "";
    return fail(`<item> has no attributes and ${text === "" ? "no content" : "only text"} (expected id, asks-for, most-plausible-alternative and <p>, <a1>, <a2>)`);
  }
  const item = raw as Record<string, unknown>;
  const attr = (name: string): string | undefined => {
    const v = item[`@_${name}`];
    return v === undefined ? undefined : String(v).trim();
  };
  const id = attr("id");
  if (id === undefined || id === "") return fail("<item> without an id attribute");
  const where = `item ${id}: `;
  for (const key of Object.keys(item)) {
    if (key.startsWith("@_")) continue;
    if (key === "#text") {
      const text = String(item[key]).trim();
      if (text !== "") fail(`${where}unexpected text ${JSON.stringify(text.slice(0, 40))} directly inside <item>`);
      continue;
    }
    if (!(COPA_PARTS as readonly string[]).includes(key)) fail(`${where}unexpected element <${key}> (an item holds <p>, <a1>, <a2>)`);
  }
  const asksFor = attr("asks-for");
  if (asksFor !== "cause" && asksFor !== "effect") {
    return fail(`${where}asks-for must be "cause" or "effect", found ${asksFor === undefined ? "none" : JSON.stringify(asksFor)}`);
  }
  const part = (name: (typeof COPA_PARTS)[number]): string => {
    const v = item[name];
    const list = v === undefined ? [] : Array.isArray(v) ? v : [v];
    if (list.length !== 1) return fail(`${where}expected exactly one <${name}>, found ${list.length}`);
    const x = list[0];
    if (x !== null && typeof x === "object") return fail(`${where}<${name}> must hold plain text, found markup or attributes inside it`);
    const text = String(x ?? "").trim();
    if (text === "") return fail(`${where}<${name}> is empty`);
    return text;
  };
  const premise = part("p");
  const a1 = part("a1");
  const a2 = part("a2");
  const mpa = attr("most-plausible-alternative");
  let label: number | undefined;
  if (mpa !== undefined) {
    if (mpa !== "1" && mpa !== "2") fail(`${where}most-plausible-alternative must be 1 or 2, found ${JSON.stringify(mpa)}`);
    label = Number(mpa) - 1;
  }
  const ex: ChoiceExample = { id, context: copaContext(premise, asksFor), choices: [a1, a2], line };
  if (label !== undefined) ex.label = label;
  return ex;
}

// ---------------------------------------------------------------------------------------------
// CSV / TSV records (delimited.ts) with start lines
// ---------------------------------------------------------------------------------------------

/** All records (header first) with their start lines; quoting errors name the record's line. */
function readDelimited(file: string, buf: Buffer, delimiter: "," | "\t"): DelimitedRecord[] {
  return readDelimitedRecords(buf, {
    delimiter,
    quote: delimiter === ",",
    relaxColumnCount: true, // field counts are checked in headerAndRows, with the row's line
    makeError: (line, message) => new ChoiceFormatError(file, line, message),
  });
}

/** Splits off the header: column name → index (names trimmed, distinct); rows checked for width. */
function headerAndRows(file: string, records: DelimitedRecord[]): { columns: Map<string, number>; header: string[]; rows: DelimitedRecord[] } {
  const head = records[0];
  if (head === undefined) throw new ChoiceFormatError(file, undefined, "empty file");
  const header = head.fields.map((c) => c.trim());
  const columns = new Map<string, number>();
  header.forEach((c, i) => {
    if (columns.has(c)) throw new ChoiceFormatError(file, head.line, `duplicate column name ${JSON.stringify(c)} in the header`);
    columns.set(c, i);
  });
  const rows = records.slice(1);
  if (rows.length === 0) throw new ChoiceFormatError(file, undefined, "no examples (header only)");
  for (const r of rows) {
    if (r.fields.length !== header.length) {
      throw new ChoiceFormatError(file, r.line, `expected ${header.length} fields (as in the header), found ${r.fields.length}`);
    }
  }
  return { columns, header, rows };
}

function listColumns(header: readonly string[]): string {
  return header.map((c) => JSON.stringify(c)).join(", ");
}

// ---------------------------------------------------------------------------------------------
// OpenBookQA (TSV)
// ---------------------------------------------------------------------------------------------

const OBQA_LETTERS = "ABCD";

/**
 * Splits OpenBookQA's `(A) … (B) … (C) … (D) …` string into its 4 texts (trimmed), or returns
 * undefined when it does not start with "(A) " or lacks " (B) ", " (C) ", " (D) " in that order.
 * Each marker is the first one after the previous marker, so a later "(D)" stays in choice D.
 */
export function splitOpenBookQaChoices(s: string): string[] | undefined {
  const text = s.trim();
  if (!text.startsWith("(A) ")) return undefined;
  const out: string[] = [];
  let from = 3; // just past "(A)"
  for (const letter of ["B", "C", "D"]) {
    const at = text.indexOf(` (${letter}) `, from);
    if (at === -1) return undefined;
    out.push(text.slice(from, at).trim());
    from = at + 4; // just past " (X)"
  }
  out.push(text.slice(from).trim());
  return out;
}

/** A lookup of a header's column by name that throws, naming the format's columns and the file's, when it is absent. */
function requiredColumn(file: string, columns: ReadonlyMap<string, number>, header: readonly string[], layout: string): (name: string) => number {
  return (name) => {
    const i = columns.get(name);
    if (i === undefined) throw new ChoiceFormatError(file, undefined, `no ${JSON.stringify(name)} column (${layout}; found ${listColumns(header)})`);
    return i;
  };
}

/** Reads OpenBookQA's TSV (see the module comment). */
export function readOpenBookQa(file: string): ChoiceExample[] {
  const { columns, header, rows } = headerAndRows(file, readDelimited(file, readBytes(file), "\t"));
  const need = requiredColumn(file, columns, header, "OpenBookQA TSV: ID, Question Stem, Choices, Complete Question, Answer Key");
  const idCol = need("ID");
  const stemCol = need("Question Stem");
  const choicesCol = need("Choices");
  const keyCol = columns.get("Answer Key");
  const examples: ChoiceExample[] = [];
  for (const r of rows) {
    const id = r.fields[idCol]!.trim();
    if (id === "") throw new ChoiceFormatError(file, r.line, "empty ID");
    const where = `question ${id}: `;
    const context = r.fields[stemCol]!.trim();
    if (context === "") throw new ChoiceFormatError(file, r.line, `${where}empty Question Stem`);
    const raw = r.fields[choicesCol]!;
    const choices = splitOpenBookQaChoices(raw);
    if (choices === undefined) {
      throw new ChoiceFormatError(
        file,
        r.line,
        `${where}Choices ${JSON.stringify(raw.length > 60 ? raw.slice(0, 60) + "…" : raw)} is not "(A) … (B) … (C) … (D) …" in that order`,
      );
    }
    const empty = choices.findIndex((c) => c === "");
    if (empty !== -1) throw new ChoiceFormatError(file, r.line, `${where}choice (${OBQA_LETTERS[empty]}) is empty`);
    const ex: ChoiceExample = { id, context, choices, line: r.line };
    if (keyCol !== undefined) {
      const key = r.fields[keyCol]!.trim();
      const label = key.length === 1 ? OBQA_LETTERS.indexOf(key) : -1;
      if (label === -1) throw new ChoiceFormatError(file, r.line, `${where}Answer Key must be one of A, B, C, D, found ${JSON.stringify(key)}`);
      ex.label = label;
    }
    examples.push(ex);
  }
  checkUniqueIds(file, examples, "question");
  return examples;
}

// ---------------------------------------------------------------------------------------------
// SWAG (CSV)
// ---------------------------------------------------------------------------------------------

/** Reads SWAG's CSV (see the module comment). */
export function readSwag(file: string): ChoiceExample[] {
  const { columns, header, rows } = headerAndRows(file, readDelimited(file, readBytes(file), ","));
  const need = requiredColumn(file, columns, header, "SWAG CSV: ,video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0,…,label");
  const sent1 = need("sent1");
  const sent2 = need("sent2");
  const endingNumbers = header
    .map((c) => /^ending(0|[1-9]\d*)$/.exec(c)) // "ending01" is another column, not a second ending1
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  endingNumbers.forEach((n, i) => {
    if (n !== i) throw new ChoiceFormatError(file, undefined, `ending columns must be ending0, ending1, … without gaps; found ${endingNumbers.map((k) => `ending${k}`).join(", ")}`);
  });
  if (endingNumbers.length < 2) need(endingNumbers.length === 0 ? "ending0" : "ending1");
  const endings = endingNumbers.map((n) => columns.get(`ending${n}`)!);
  const labelCol = columns.get("label");
  const indexCol = columns.get("");
  const videoCol = columns.get("video-id");
  const foldCol = columns.get("fold-ind");
  const examples: ChoiceExample[] = [];
  for (const r of rows) {
    const f = r.fields;
    let id: string;
    if (indexCol !== undefined && f[indexCol]!.trim() !== "") id = f[indexCol]!.trim();
    else if (videoCol !== undefined && foldCol !== undefined) id = `${f[videoCol]!.trim()}/${f[foldCol]!.trim()}`;
    else id = String(r.line);
    const where = `row ${id}: `;
    const context = f[sent1]!;
    const headerText = f[sent2]!;
    const choices = endings.map((c) => `${headerText} ${f[c]!}`);
    const emptyAt = endings.findIndex((c) => f[c]!.trim() === "");
    if (emptyAt !== -1) throw new ChoiceFormatError(file, r.line, `${where}ending${emptyAt} is empty`);
    const ex: ChoiceExample = { id, context, choices, line: r.line };
    if (labelCol !== undefined) {
      const raw = f[labelCol]!.trim();
      const label = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!(label < choices.length)) {
        throw new ChoiceFormatError(file, r.line, `${where}label must be an integer from 0 to ${choices.length - 1}, found ${JSON.stringify(raw)}`);
      }
      ex.label = label;
    }
    examples.push(ex);
  }
  checkUniqueIds(file, examples, "row");
  return examples;
}

// ---------------------------------------------------------------------------------------------
// JSONL
// ---------------------------------------------------------------------------------------------

const JSONL_KEYS = new Set(["context", "choices", "label"]);

/** Reads the JSONL format (see the module comment). */
export function readChoicesJsonl(file: string): ChoiceExample[] {
  const lines = readText(file).split("\n");
  const examples: ChoiceExample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.replace(/\r$/, "");
    if (raw.trim() === "") continue;
    const fail = (msg: string): never => {
      throw new ChoiceFormatError(file, lineNo, msg);
    };
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      const hint = /^\s*\[/.test(raw) ? " (a JSON array? this format wants one JSON object per line)" : "";
      fail(`not valid JSON${hint}: ${jsonErrorMessage(e)}`);
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      fail(`expected a JSON object, found ${describeJson(obj)}${Array.isArray(obj) ? " (this format wants one JSON object per line)" : ""}`);
    }
    const o = obj as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!JSONL_KEYS.has(k)) {
        const hint = k === "answer" || k === "labels" || k === "gold" ? ` (the answer's key is "label")` : "";
        fail(`unknown key ${JSON.stringify(k)}${hint}; expected "context", "choices" and optionally "label"`);
      }
    }
    const context = o["context"];
    if (typeof context !== "string") fail(`"context" must be a string, found ${describeJson(context)}`);
    const choices = o["choices"];
    if (!Array.isArray(choices)) fail(`"choices" must be an array of strings, found ${describeJson(choices)}`);
    const list = choices as unknown[];
    if (list.length < 2) fail(`"choices" must have at least 2 entries, found ${list.length}`);
    list.forEach((c, k) => {
      if (typeof c !== "string") fail(`choice ${k} must be a string, found ${describeJson(c)}`);
      if ((c as string).trim() === "") fail(`choice ${k} is empty`);
    });
    const ex: ChoiceExample = { id: String(lineNo), context: context as string, choices: list as string[], line: lineNo };
    if ("label" in o) {
      const label = o["label"];
      if (typeof label !== "number" || !Number.isInteger(label) || label < 0 || label >= list.length) {
        fail(`"label" must be an integer from 0 to ${list.length - 1} (an index into "choices"), found ${describeJson(label)}`);
      }
      ex.label = label as number;
    }
    const first = examples[0];
    if (first !== undefined && first.choices.length !== list.length) {
      fail(`${list.length} choices, but the first example (line ${first.line}) has ${first.choices.length}: every example in a file must have the same number of choices`);
    }
    examples.push(ex);
  }
  if (examples.length === 0) throw new ChoiceFormatError(file, undefined, "no examples (only blank lines)");
  checkLabelledness(file, examples, () => "");
  return examples;
}
