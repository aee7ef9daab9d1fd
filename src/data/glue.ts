/**
 * GLUE task processors, following google-research/electra's task registry pattern
 * (`finetune/classification/classification_tasks.py`): every task names its label list, whether
 * it is a regression, its metrics, its files per split and how each file is laid out.
 *
 * Files are read in the layout of the standard download script (`download_glue_data.py`):
 *
 *   CoLA/{train,dev}.tsv            no header; source, label, original mark, sentence
 *   CoLA/test.tsv                   header; index, sentence
 *   SST-2/{train,dev}.tsv           header; sentence, label
 *   SST-2/test.tsv                  header; index, sentence
 *   MRPC/{train,dev}.tsv            UTF-8 BOM + header; Quality, #1 ID, #2 ID, #1 String, #2 String
 *   MRPC/test.tsv                   header; index, #1 ID, #2 ID, #1 String, #2 String
 *   STS-B/{train,dev}.tsv           header; index, genre, filename, year, old_index, source1,
 *                                   source2, sentence1, sentence2, score
 *   STS-B/test.tsv                  header; the same without score
 *   QQP/{train,dev}.tsv             header; id, qid1, qid2, question1, question2, is_duplicate
 *   QQP/test.tsv                    header; id, question1, question2
 *   MNLI/{train,dev_matched,dev_mismatched}.tsv
 *                                   header; index, promptID, pairID, genre, 4 parse columns,
 *                                   sentence1 (8), sentence2 (9), label1[..label5], gold_label (last)
 *                                   (12 columns in train, 16 in dev)
 *   MNLI/{test_matched,test_mismatched}.tsv   header; the first 10 columns of the above
 *   QNLI/{train,dev}.tsv            header; index, question, sentence, label
 *   RTE/, WNLI/ {train,dev}.tsv     header; index, sentence1, sentence2, label
 *   QNLI/, RTE/, WNLI/ test.tsv     header; the same without label
 *   diagnostic/diagnostic.tsv (AX)  header; index, sentence1, sentence2 (predicted with MNLI)
 *
 * Reading rules (as Python's `csv.reader(f, delimiter="\t", quotechar=None)` in the official code,
 * but strict): a tab always separates fields and quotes are literal characters; a UTF-8 byte-order
 * mark at the start of a file is dropped; lines end in LF or CRLF (a lone CR stays in the text);
 * the last line need not end in a newline; empty lines at the end of a file are ignored. Text
 * fields are kept byte for byte (SST-2 sentences keep their trailing space). Label fields are
 * trimmed of surrounding whitespace before they are checked.
 *
 * A malformed row (a number of fields other than the file's, an empty line inside the file, a
 * label outside the task's label list, an STS-B score that is not a number in [0, 5], invalid
 * UTF-8) throws a {@link GlueFormatError} naming the file and the 1-based line number, unless the
 * caller asks to skip such rows (`malformed: "skip"`).
 */
import { mkdirSync, readFileSync } from "node:fs";
import { isUtf8 } from "node:buffer";
import { dirname, join } from "node:path";
import { writeFileDurable } from "../io/durable.js";

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export type GlueTaskName =
  | "cola"
  | "sst2"
  | "mrpc"
  | "stsb"
  | "qqp"
  | "mnli"
  | "qnli"
  | "rte"
  | "wnli"
  | "ax";

/** Metric names as reported by scoreTask (src/metrics/glue-metrics.ts). */
export type GlueMetricName = "mcc" | "accuracy" | "f1" | "pearson" | "spearman" | "combined";

/** One example. `label` is a label name for classification tasks, a number for STS-B. */
export interface GlueExample {
  /** `${task}-${split}-${index}`, unique within a task. */
  guid: string;
  /** 0-based position among the examples returned for this split (file order). */
  index: number;
  /** The value of the file's own index/id column, where the file has one (e.g. all test files). */
  id?: string;
  textA: string;
  textB?: string;
  /** Absent for test and diagnostic splits. */
  label?: string | number;
}

/** Column layout of one file. Column numbers are 0-based; a negative number counts from the end. */
export interface GlueFileLayout {
  /** File name relative to the task's directory. */
  file: string;
  /** Whether the first line is a header (skipped). */
  header: boolean;
  /**
   * The number of tab-separated fields of every row. A number: exactly that many (the header
   * too). `{ min }`: the header decides (it must have at least `min`), and every row must have
   * as many fields as the header.
   */
  fields: number | { min: number };
  /** Column of the file's own index/id, if any. */
  idColumn?: number;
  textA: number;
  textB?: number;
  /** Column of the label; absent for unlabelled (test) files. */
  label?: number;
}

export interface GlueTask {
  name: GlueTaskName;
  /** The name GLUE uses ("CoLA", "SST-2", ..., "AX"). */
  displayName: string;
  /** Subdirectory of the GLUE data root. */
  dir: string;
  /** Label names in GLUE order (the model's class ids); empty for a regression task. */
  labels: readonly string[];
  isRegression: boolean;
  /** Allowed range of a regression target (STS-B: [0, 5]). */
  labelRange?: readonly [number, number];
  /** Metrics reported by scoreTask for this task, under these names. */
  metrics: readonly GlueMetricName[];
  /** The metric a single number for the task is taken from ("combined" averages the others). */
  mainMetric: GlueMetricName;
  /** Whether the task has two text fields. */
  isPair: boolean;
  /** The split the model is trained on, or null (AX has no training data). */
  trainSplit: string | null;
  devSplits: readonly string[];
  testSplits: readonly string[];
  /** File layout per split. */
  files: Readonly<Record<string, GlueFileLayout>>;
  /** GLUE submission file name per test split. */
  submissionFiles: Readonly<Record<string, string>>;
  /** Other split names accepted by the readers (e.g. MNLI "dev" → "dev_matched"). */
  splitAliases: Readonly<Record<string, string>>;
  /** The task whose fine-tuned model makes this task's predictions (AX: "mnli"). */
  predictWith: GlueTaskName;
}

export interface ReadGlueOptions {
  /** What to do with a malformed row: throw (default) or skip it (reported through onSkip). */
  malformed?: "throw" | "skip";
  /** Called for each skipped row when malformed is "skip". */
  onSkip?: (error: GlueFormatError) => void;
  /**
   * MRPC train only: rebuild the full 3668-example training set from msr_paraphrase_train.txt
   * minus the pairs listed in dev_ids.tsv (as the download script does) instead of reading the
   * shipped train.tsv, which lacks one row.
   */
  mrpcRebuildTrain?: boolean;
  /**
   * Train split of a sentence-pair task only: append every example again with textA and textB
   * swapped (the official `double_unordered` option, used for MRPC and STS-B).
   */
  doubleUnordered?: boolean;
  /** Read at most this many rows (after the header) from the file; for debugging. */
  maxRows?: number;
}

/** A malformed file or row: the message starts with `file:line: `. */
export class GlueFormatError extends Error {
  readonly file: string;
  /** 1-based line number; 0 where the problem is the whole file. */
  readonly line: number;
  readonly reason: string;

  constructor(file: string, line: number, reason: string) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
    this.name = "GlueFormatError";
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------------------------

const BINARY = ["0", "1"] as const;
const ENTAILMENT = ["entailment", "not_entailment"] as const;
const NLI3 = ["contradiction", "entailment", "neutral"] as const;

function pairTsv(file: string, labelled: boolean): GlueFileLayout {
  // index, text_a, text_b[, label] (QNLI, RTE, WNLI, diagnostic)
  return labelled
    ? { file, header: true, fields: 4, idColumn: 0, textA: 1, textB: 2, label: 3 }
    : { file, header: true, fields: 3, idColumn: 0, textA: 1, textB: 2 };
}

function mnliFile(file: string, labelled: boolean): GlueFileLayout {
  return labelled
    ? { file, header: true, fields: { min: 11 }, idColumn: 0, textA: 8, textB: 9, label: -1 }
    : { file, header: true, fields: 10, idColumn: 0, textA: 8, textB: 9 };
}

const TASK_LIST: GlueTask[] = [
  {
    name: "cola",
    displayName: "CoLA",
    dir: "CoLA",
    labels: BINARY,
    isRegression: false,
    metrics: ["mcc"],
    mainMetric: "mcc",
    isPair: false,
    trainSplit: "train",
    devSplits: ["dev"],
    testSplits: ["test"],
    files: {
      train: { file: "train.tsv", header: false, fields: 4, textA: 3, label: 1 },
      dev: { file: "dev.tsv", header: false, fields: 4, textA: 3, label: 1 },
      test: { file: "test.tsv", header: true, fields: 2, idColumn: 0, textA: 1 },
    },
    submissionFiles: { test: "CoLA.tsv" },
    splitAliases: {},
    predictWith: "cola",
  },
  {
    name: "sst2",
    displayName: "SST-2",
    dir: "SST-2",
    labels: BINARY,
    isRegression: false,
    metrics: ["accuracy"],
    mainMetric: "accuracy",
    isPair: false,
    trainSplit: "train",
    devSplits: ["dev"],
    testSplits: ["test"],
    files: {
      train: { file: "train.tsv", header: true, fields: 2, textA: 0, label: 1 },
      dev: { file: "dev.tsv", header: true, fields: 2, textA: 0, label: 1 },
      test: { file: "test.tsv", header: true, fields: 2, idColumn: 0, textA: 1 },
    },
    submissionFiles: { test: "SST-2.tsv" },
    splitAliases: {},
    predictWith: "sst2",
  },
  {
    name: "mrpc",
    displayName: "MRPC",
    dir: "MRPC",
    labels: BINARY,
    isRegression: false,
    metrics: ["f1", "accuracy", "combined"],
    mainMetric: "combined",
    isPair: true,
    trainSplit: "train",
    devSplits: ["dev"],
    testSplits: ["test"],
    files: {
      train: { file: "train.tsv", header: true, fields: 5, textA: 3, textB: 4, label: 0 },
      dev: { file: "dev.tsv", header: true, fields: 5, textA: 3, textB: 4, label: 0 },
      test: { file: "test.tsv", header: true, fields: 5, idColumn: 0, textA: 3, textB: 4 },
    },
    submissionFiles: { test: "MRPC.tsv" },
    splitAliases: {},
    predictWith: "mrpc",
  },
  {
    name: "stsb",
    displayName: "STS-B",
    dir: "STS-B",
    labels: [],
    isRegression: true,
    labelRange: [0, 5],
    metrics: ["pearson", "spearman", "combined"],
    mainMetric: "combined",
    isPair: true,
    trainSplit: "train",
    devSplits: ["dev"],
    testSplits: ["test"],
    files: {
      train: { file: "train.tsv", header: true, fields: 10, idColumn: 0, textA: 7, textB: 8, label: 9 },
      dev: { file: "dev.tsv", header: true, fields: 10, idColumn: 0, textA: 7, textB: 8, label: 9 },
      test: { file: "test.tsv", header: true, fields: 9, idColumn: 0, textA: 7, textB: 8 },
    },
    submissionFiles: { test: "STS-B.tsv" },
    splitAliases: {},
    predictWith: "stsb",
  },
  {
    name: "qqp",
    displayName: "QQP",
    dir: "QQP",
    labels: BINARY,
    isRegression: false,
    metrics: ["f1", "accuracy", "combined"],
    mainMetric: "combined",
    isPair: true,
    trainSplit: "train",
    devSplits: ["dev"],
    testSplits: ["test"],
    files: {
      train: { file: "train.tsv", header: true, fields: 6, idColumn: 0, textA: 3, textB: 4, label: 5 },
      dev: { file: "dev.tsv", header: true, fields: 6, idColumn: 0, textA: 3, textB: 4, label: 5 },
      test: { file: "test.tsv", header: true, fields: 3, idColumn: 0, textA: 1, textB: 2 },
    },
    submissionFiles: { test: "QQP.tsv" },
    splitAliases: {},
    predictWith: "qqp",
  },
  {
    name: "mnli",
    displayName: "MNLI",
    dir: "MNLI",
    labels: NLI3,
    isRegression: false,
    metrics: ["accuracy"],
    mainMetric: "accuracy",
    isPair: true,
    trainSplit: "train",
    devSplits: ["dev_matched", "dev_mismatched"],
    testSplits: ["test_matched", "test_mismatched"],
    files: {
      train: mnliFile("train.tsv", true),
      dev_matched: mnliFile("dev_matched.tsv", true),
      dev_mismatched: mnliFile("dev_mismatched.tsv", true),
      test_matched: mnliFile("test_matched.tsv", false),
      test_mismatched: mnliFile("test_mismatched.tsv", false),
    },
    submissionFiles: { test_matched: "MNLI-m.tsv", test_mismatched: "MNLI-mm.tsv" },
    splitAliases: { dev: "dev_matched", test: "test_matched" },
    predictWith: "mnli",
  },
  {
    name: "qnli",
    displayName: "QNLI",
    dir: "QNLI",
    labels: ENTAILMENT,
    isRegression: false,
    metrics: ["accuracy"],
    mainMetric: "accuracy",
    isPair: true,
    trainSplit: "train",
    devSplits: ["dev"],
    testSplits: ["test"],
    files: {
      train: pairTsv("train.tsv", true),
      dev: pairTsv("dev.tsv", true),
      test: pairTsv("test.tsv", false),
    },
    submissionFiles: { test: "QNLI.tsv" },
    splitAliases: {},
    predictWith: "qnli",
  },
  {
    name: "rte",
    displayName: "RTE",
    dir: "RTE",
    labels: ENTAILMENT,
    isRegression: false,
    metrics: ["accuracy"],
    mainMetric: "accuracy",
    isPair: true,
    trainSplit: "train",
    devSplits: ["dev"],
    testSplits: ["test"],
    files: {
      train: pairTsv("train.tsv", true),
      dev: pairTsv("dev.tsv", true),
      test: pairTsv("test.tsv", false),
    },
    submissionFiles: { test: "RTE.tsv" },
    splitAliases: {},
    predictWith: "rte",
  },
  {
    name: "wnli",
    displayName: "WNLI",
    dir: "WNLI",
    labels: BINARY,
    isRegression: false,
    metrics: ["accuracy"],
    mainMetric: "accuracy",
    isPair: true,
    trainSplit: "train",
    devSplits: ["dev"],
    testSplits: ["test"],
    files: {
      train: pairTsv("train.tsv", true),
      dev: pairTsv("dev.tsv", true),
      test: pairTsv("test.tsv", false),
    },
    submissionFiles: { test: "WNLI.tsv" },
    splitAliases: {},
    predictWith: "wnli",
  },
  {
    // The diagnostic set: unlabelled, predicted with an MNLI model; GLUE scores it with the
    // 3-class Matthews correlation (R3).
    name: "ax",
    displayName: "AX",
    dir: "diagnostic",
    labels: NLI3,
    isRegression: false,
    metrics: ["mcc"],
    mainMetric: "mcc",
    isPair: true,
    trainSplit: null,
    devSplits: [],
    testSplits: ["test"],
    files: { test: pairTsv("diagnostic.tsv", false) },
    submissionFiles: { test: "AX.tsv" },
    splitAliases: { diagnostic: "test" },
    predictWith: "mnli",
  },
];

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

/** The task registry: name → task. */
export const GLUE_TASKS: Readonly<Record<GlueTaskName, GlueTask>> = deepFreeze(
  Object.fromEntries(TASK_LIST.map((t) => [t.name, t])) as Record<GlueTaskName, GlueTask>,
);

/** Task names in GLUE order (AX last). */
export const GLUE_TASK_NAMES: readonly GlueTaskName[] = Object.freeze(TASK_LIST.map((t) => t.name));

const TASK_ALIASES: Readonly<Record<string, GlueTaskName>> = {
  sst: "sst2",
  sts: "stsb",
  diagnostic: "ax",
};

/**
 * Looks a task up by name, ignoring case and any character other than letters and digits
 * ("SST-2", "sst2", "STS-B", "sts-b", "MNLI", "AX" all work; also the official code's "sst",
 * "sts" and "diagnostic"). Throws for an unknown name.
 */
export function getGlueTask(name: string | GlueTask): GlueTask {
  if (typeof name !== "string") return name;
  const key = name.toLowerCase().replace(/[^a-z0-9]/g, "");
  const canonical = (GLUE_TASK_NAMES as readonly string[]).includes(key)
    ? (key as GlueTaskName)
    : TASK_ALIASES[key];
  if (!canonical) {
    throw new Error(`unknown GLUE task "${name}" (known: ${GLUE_TASK_NAMES.join(", ")})`);
  }
  return GLUE_TASKS[canonical];
}

/** The canonical split name for `split` (resolving aliases); throws for an unknown split. */
export function resolveSplit(task: string | GlueTask, split: string): string {
  const t = getGlueTask(task);
  const s = t.splitAliases[split] ?? split;
  if (!Object.prototype.hasOwnProperty.call(t.files, s)) {
    throw new Error(
      `task ${t.displayName} has no split "${split}" (splits: ${Object.keys(t.files).join(", ")})`,
    );
  }
  return s;
}

/** Whether a split of the task carries labels. */
export function isLabelledSplit(task: string | GlueTask, split: string): boolean {
  const t = getGlueTask(task);
  return t.files[resolveSplit(t, split)].label !== undefined;
}

/** Path of a split's file under a GLUE data root (the folder holding CoLA/, SST-2/, ...). */
export function glueFilePath(glueDir: string, task: string | GlueTask, split: string): string {
  const t = getGlueTask(task);
  return join(glueDir, t.dir, t.files[resolveSplit(t, split)].file);
}

/** The GLUE submission file name for a test split ("CoLA.tsv", "MNLI-m.tsv", "AX.tsv", ...). */
export function submissionFileName(task: string | GlueTask, split?: string): string {
  const t = getGlueTask(task);
  const s = resolveSplit(t, split ?? t.testSplits[0]);
  const name = t.submissionFiles[s];
  if (name === undefined) {
    throw new Error(`task ${t.displayName}: split "${s}" is not a test split (${t.testSplits.join(", ")})`);
  }
  return name;
}

/** Class id of a label name (its position in task.labels); throws for an unknown label. */
export function labelId(task: string | GlueTask, label: string): number {
  const t = getGlueTask(task);
  const i = t.labels.indexOf(label);
  if (i < 0) throw new Error(`task ${t.displayName}: unknown label "${label}" (labels: ${t.labels.join(", ")})`);
  return i;
}

/** Label name of a class id; throws for an id out of range. */
export function labelName(task: string | GlueTask, id: number): string {
  const t = getGlueTask(task);
  if (!Number.isInteger(id) || id < 0 || id >= t.labels.length) {
    throw new Error(`task ${t.displayName}: class id ${id} out of range [0, ${t.labels.length})`);
  }
  return t.labels[id];
}

// ---------------------------------------------------------------------------------------------
// TSV reading
// ---------------------------------------------------------------------------------------------

/** One line of a TSV file split at tabs, with its 1-based line number. */
export interface TsvRow {
  line: number;
  fields: string[];
}

/**
 * Reads a tab-separated file without any quoting: drops a leading UTF-8 BOM, accepts LF or CRLF
 * line ends and a missing final newline, ignores empty lines at the end of the file. Empty lines
 * elsewhere are returned (as one empty field) for the caller to judge. Throws a GlueFormatError
 * for invalid UTF-8 (naming the first bad line).
 */
export function readTsv(file: string): TsvRow[] {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new GlueFormatError(file, 0, `cannot read: ${(e as Error).message}`);
  }
  let start = 0;
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3;
  const valid = isUtf8(buf.subarray(start));
  const rows: TsvRow[] = [];
  let lineNo = 0;
  let pos = start;
  while (pos < buf.length) {
    let end = buf.indexOf(0x0a, pos);
    const next = end < 0 ? buf.length : end + 1;
    if (end < 0) end = buf.length;
    lineNo++;
    let stop = end;
    if (stop > pos && buf[stop - 1] === 0x0d) stop--;
    if (!valid && !isUtf8(buf.subarray(pos, stop))) {
      throw new GlueFormatError(file, lineNo, "invalid UTF-8");
    }
    rows.push({ line: lineNo, fields: buf.toString("utf8", pos, stop).split("\t") });
    pos = next;
  }
  if (!valid) throw new GlueFormatError(file, 0, "invalid UTF-8"); // split inside a line ending
  // Empty lines at the end of the file (e.g. a doubled final newline) are not rows.
  while (rows.length > 0 && rows[rows.length - 1].fields.length === 1 && rows[rows.length - 1].fields[0] === "") {
    rows.pop();
  }
  return rows;
}

function col(fields: readonly string[], c: number): string {
  return fields[c < 0 ? fields.length + c : c];
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseLabel(task: GlueTask, raw: string): string | number {
  const s = raw.trim();
  if (task.isRegression) {
    if (!NUMBER_RE.test(s)) throw new Error(`score ${JSON.stringify(raw)} is not a number`);
    const v = Number(s);
    const r = task.labelRange;
    if (r && !(v >= r[0] && v <= r[1])) throw new Error(`score ${s} is outside [${r[0]}, ${r[1]}]`);
    return v;
  }
  if (!task.labels.includes(s)) {
    throw new Error(`bad label ${JSON.stringify(raw)} (expected one of: ${task.labels.join(", ")})`);
  }
  return s;
}

interface ParsedRow {
  line: number;
  id?: string;
  textA: string;
  textB?: string;
  label?: string | number;
}

function parseRows(
  task: GlueTask,
  layout: GlueFileLayout,
  file: string,
  rows: readonly TsvRow[],
  opts: ReadGlueOptions,
): ParsedRow[] {
  const skip = opts.malformed === "skip";
  if (opts.malformed !== undefined && opts.malformed !== "throw" && !skip) {
    throw new Error(`malformed must be "throw" or "skip", got ${String(opts.malformed)}`);
  }
  let expected: number;
  let first = 0;
  if (layout.header) {
    if (rows.length === 0) throw new GlueFormatError(file, 1, "missing header line");
    const h = rows[0].fields.length;
    if (typeof layout.fields === "number") {
      if (h !== layout.fields) {
        throw new GlueFormatError(file, rows[0].line, `header has ${h} fields, expected ${layout.fields}`);
      }
      expected = h;
    } else {
      if (h < layout.fields.min) {
        throw new GlueFormatError(file, rows[0].line, `header has ${h} fields, expected at least ${layout.fields.min}`);
      }
      expected = h;
    }
    first = 1;
  } else {
    if (typeof layout.fields !== "number") throw new Error("a file without a header needs a fixed field count");
    expected = layout.fields;
  }
  const out: ParsedRow[] = [];
  const limit = opts.maxRows ?? Infinity;
  for (let r = first; r < rows.length && out.length < limit; r++) {
    const { line, fields } = rows[r];
    try {
      if (fields.length === 1 && fields[0] === "") throw new Error("empty line");
      if (fields.length !== expected) {
        throw new Error(`expected ${expected} tab-separated fields, found ${fields.length}`);
      }
      const row: ParsedRow = { line, textA: col(fields, layout.textA) };
      if (layout.textB !== undefined) row.textB = col(fields, layout.textB);
      if (layout.idColumn !== undefined) row.id = col(fields, layout.idColumn);
      if (layout.label !== undefined) row.label = parseLabel(task, col(fields, layout.label));
      out.push(row);
    } catch (e) {
      const err = new GlueFormatError(file, line, (e as Error).message);
      if (!skip) throw err;
      opts.onSkip?.(err);
    }
  }
  return out;
}

function toExamples(task: GlueTask, split: string, rows: readonly ParsedRow[], doubleUnordered: boolean): GlueExample[] {
  const out: GlueExample[] = [];
  const push = (r: ParsedRow, swap: boolean) => {
    const i = out.length;
    const ex: GlueExample = { guid: `${task.name}-${split}-${i}`, index: i, textA: swap ? r.textB! : r.textA };
    if (r.id !== undefined) ex.id = r.id;
    const b = swap ? r.textA : r.textB;
    if (b !== undefined) ex.textB = b;
    if (r.label !== undefined) ex.label = r.label;
    out.push(ex);
  };
  for (const r of rows) push(r, false);
  if (doubleUnordered) for (const r of rows) push(r, true);
  return out;
}

function checkDouble(task: GlueTask, split: string, opts: ReadGlueOptions): boolean {
  if (!opts.doubleUnordered) return false;
  if (split !== task.trainSplit) throw new Error(`doubleUnordered applies to the train split only (got "${split}")`);
  if (!task.isPair) throw new Error(`doubleUnordered needs a sentence-pair task (${task.displayName} is not)`);
  return true;
}

/**
 * Reads one split of a task from an explicit file path, using that split's layout (useful for a
 * file outside the standard layout).
 */
export function readGlueFile(
  task: string | GlueTask,
  split: string,
  file: string,
  opts: ReadGlueOptions = {},
): GlueExample[] {
  const t = getGlueTask(task);
  const s = resolveSplit(t, split);
  const double = checkDouble(t, s, opts);
  const rows = parseRows(t, t.files[s], file, readTsv(file), opts);
  return toExamples(t, s, rows, double);
}

/**
 * Reads one split of a task from a GLUE data root laid out as by the download script
 * (`<glueDir>/<task dir>/<file>`). With `mrpcRebuildTrain`, MRPC's train split is rebuilt from
 * msr_paraphrase_train.txt and dev_ids.tsv in the MRPC folder.
 */
export function readGlueSplit(
  glueDir: string,
  task: string | GlueTask,
  split: string,
  opts: ReadGlueOptions = {},
): GlueExample[] {
  const t = getGlueTask(task);
  const s = resolveSplit(t, split);
  if (opts.mrpcRebuildTrain) {
    if (t.name !== "mrpc" || s !== "train") throw new Error("mrpcRebuildTrain applies to MRPC's train split only");
    const double = checkDouble(t, s, opts);
    const rows = rebuildMrpcTrainRows(join(glueDir, t.dir), opts);
    return toExamples(t, s, rows, double);
  }
  return readGlueFile(t, s, glueFilePath(glueDir, t, s), opts);
}

function rebuildMrpcTrainRows(mrpcDir: string, opts: ReadGlueOptions): ParsedRow[] {
  const t = GLUE_TASKS.mrpc;
  const source = join(mrpcDir, "msr_paraphrase_train.txt");
  const idsFile = join(mrpcDir, "dev_ids.tsv");
  const devPairs = new Set<string>();
  for (const { line, fields } of readTsv(idsFile)) {
    if (fields.length !== 2 || fields[0] === "" || fields[1] === "") {
      const err = new GlueFormatError(idsFile, line, `expected 2 tab-separated ids, found ${fields.length} fields`);
      if (opts.malformed !== "skip") throw err;
      opts.onSkip?.(err);
      continue;
    }
    devPairs.add(`${fields[0].trim()}\t${fields[1].trim()}`);
  }
  // Same layout as train.tsv: Quality, #1 ID, #2 ID, #1 String, #2 String.
  const layout: GlueFileLayout = { file: "msr_paraphrase_train.txt", header: true, fields: 5, idColumn: 1, textA: 3, textB: 4, label: 0 };
  const src = readTsv(source);
  const all = parseRows(t, layout, source, src, { ...opts, maxRows: undefined });
  const secondId = new Map(src.map((r) => [r.line, r.fields[2]] as const));
  const out: ParsedRow[] = [];
  const limit = opts.maxRows ?? Infinity;
  for (const r of all) {
    if (out.length >= limit) break;
    if (devPairs.has(`${r.id}\t${secondId.get(r.line)}`)) continue;
    // train.tsv has no index column: drop the id the layout used for matching.
    out.push({ line: r.line, textA: r.textA, textB: r.textB, label: r.label });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Predictions (GLUE submission format)
// ---------------------------------------------------------------------------------------------

export interface PredictionRow {
  /** The test file's index column value, or the 0-based position where the file has none. */
  index: string | number;
  /** A label name, or a number for STS-B. */
  prediction: string | number;
}

export interface WritePredictionsOptions {
  /** Decimal places for numeric predictions (default 3, as Hugging Face's run_glue); null: shortest exact form. */
  decimals?: number | null;
}

/**
 * Pairs each example with its prediction for {@link writePredictions}: the index is the
 * example's `id` (the test file's index column) where present, else its position.
 * Throws when the counts differ.
 */
export function predictionRows(
  examples: readonly GlueExample[],
  predictions: readonly (string | number)[],
): PredictionRow[] {
  if (examples.length !== predictions.length) {
    throw new Error(`${predictions.length} predictions for ${examples.length} examples`);
  }
  return examples.map((e, i) => ({ index: e.id ?? i, prediction: predictions[i] }));
}

function cell(v: string | number, what: string, decimals: number | null): string {
  let s: string;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`writePredictions: ${what} ${v} is not finite`);
    s = decimals === null ? String(v) : v.toFixed(decimals);
  } else {
    s = v;
  }
  if (s === "" || /[\t\r\n]/.test(s)) throw new Error(`writePredictions: bad ${what} ${JSON.stringify(s)}`);
  return s;
}

/** The text of a GLUE submission file: `index<TAB>prediction` header, one row per example, LF ends. */
export function formatPredictions(rows: readonly PredictionRow[], opts: WritePredictionsOptions = {}): string {
  const decimals = opts.decimals === undefined ? 3 : opts.decimals;
  if (decimals !== null && !(Number.isInteger(decimals) && decimals >= 0 && decimals <= 100)) {
    throw new Error(`writePredictions: decimals must be an integer in [0, 100], got ${decimals}`);
  }
  const parts = ["index\tprediction\n"];
  for (const r of rows) {
    parts.push(`${cell(r.index, "index", null)}\t${cell(r.prediction, "prediction", decimals)}\n`);
  }
  return parts.join("");
}

/**
 * Writes predictions in the GLUE submission format (`index<TAB>prediction` with that header,
 * one row per example in file order), creating the parent folder if needed.
 */
export function writePredictions(
  path: string,
  rows: readonly PredictionRow[],
  opts: WritePredictionsOptions = {},
): void {
  const text = formatPredictions(rows, opts);
  mkdirSync(dirname(path), { recursive: true });
  writeFileDurable(path, text);
}
