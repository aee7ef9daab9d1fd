/**
 * Feeds thousands of mutated text files (byte-level mutations, and text-aware ones: lines deleted, duplicated,
 * swapped; fields swapped; a tab, comma or quote dropped; NUL, invalid UTF-8, BOMs and markup inserted; numbers
 * made NaN, huge or negative; JSON values of another type; fixed seeds) to every text reader: the user's CSV / TSV /
 * JSONL tables, CoNLL and token JSONL files, SQuAD JSON and prediction files, COPA XML, OpenBookQA TSV, SWAG CSV,
 * multiple-choice JSONL, GLUE TSVs, config.json, vocab.txt and tokenizer.json. Each outcome must be a result that
 * keeps the reader's promises, or a one-line Error naming the file (and the line, when it gives one, a line of the
 * file); never a RangeError/TypeError/SyntaxError leaking out. Base inputs are small valid files written here and,
 * where ../shared/data is present, slices of the real data sets.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { labelSet, readConll, readTagged, tagScheme, type TaggedFile } from "../../src/data/conll.js";
import { readGlueFile, readGlueSplit, type GlueExample } from "../../src/data/glue.js";
import { ChoiceFormatError, readChoices, type ChoiceExample } from "../../src/data/multiple-choice.js";
import { codePoints, readSquad, type SquadExample } from "../../src/data/squad.js";
import { isNumericColumn, labelsOf, readTable, type Table } from "../../src/data/tabular.js";
import { WordPieceTokenizer } from "../../src/data/tokenizer.js";
import { convert } from "../../src/cli/checkpoint.js";
import { readHfFolder } from "../../src/io/hf-folder.js";
import { serializeSafetensors } from "../../src/io/safetensors.js";
import { scoreConllText } from "../../src/metrics/conll.js";
import { scoreSquadFiles } from "../../src/metrics/squad-files.js";
import { ConfigError, parseConfig, type ElectraConfig } from "../../src/model/config.js";
import { TextClassificationTask } from "../../src/tasks/text-classification.js";
import { readMetricsJsonl, trainingCurvesSpec } from "../../src/train/plot.js";
import { throwsAt, tmpFiles } from "../helpers/files.js";
import { fuzz, mutateText, SCALE, type Tally } from "../helpers/fuzz.js";
import { sharedPath, skipUnless } from "../helpers/paths.js";

/** Mutants are written to files: in memory (/dev/shm) where there is such a folder, ten times faster than a disk. */
const files = tmpFiles("electra-fuzz-text-", existsSync("/dev/shm") ? "/dev/shm" : undefined);
const started = Date.now();
const counts: Record<string, Tally> = {};
const encoder = new TextEncoder();

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** An error message that starts with the file: `file: what` or `file:line: what`. */
function startsWith(file: string): RegExp {
  return new RegExp(`^${escapeRegExp(file)}(:\\d+)?: `);
}

/** A line number in an error (`file:N: `) must be a line of the mutant: 1 to its number of lines. */
function lineOfInput(file: string): (e: Error, input: Uint8Array) => void {
  return (e, input) => {
    const m = new RegExp(`${escapeRegExp(file)}:(\\d+): `).exec(e.message);
    if (m === null) return;
    const line = Number(m[1]);
    let lines = 1;
    for (const b of input) if (b === 0x0a) lines++;
    assert.ok(line >= 1 && line <= lines, `line ${line} of a ${lines}-line file: ${e.message}`);
  };
}

interface FileFuzz {
  /** what the error must match (default: it starts with the path) */
  mention?: (file: string) => string | RegExp;
  /** instead of "one line" (and the line check): this check of each error */
  checkError?: (e: Error) => void;
}

/**
 * Fuzzes a reader of a path: every mutant of `base` is written to `file` and `read` gets the path. Counted under
 * `label`.
 */
function fuzzAt(label: string, file: string, base: string, iterations: number, seed: number, read: (file: string) => unknown, o: FileFuzz = {}): void {
  writeFileSync(file, base);
  const mention = o.mention?.(file) ?? startsWith(file);
  const run = (b: Uint8Array) => {
    writeFileSync(file, b);
    return read(file);
  };
  const checks = o.checkError ? { checkError: o.checkError } : { oneLine: true, checkError: lineOfInput(file) };
  counts[label] = fuzz(label, encoder.encode(base), iterations, seed, mention, run, { mutator: mutateText, ...checks });
}

/** {@link fuzzAt} a file named `name` in a fresh folder. */
function fuzzFile(label: string, name: string, base: string, iterations: number, seed: number, read: (file: string) => unknown, o: FileFuzz = {}): void {
  fuzzAt(label, files.file(name, base), base, iterations, seed, read, o);
}

/** The first `n` lines of a shared file, each with its "\n". */
function headLines(file: string, n: number): string {
  const lines = readFileSync(file, "utf8").split("\n");
  return lines.slice(0, n).join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// What a successful read promises

function checkTable(t: Table): Table {
  assert.ok(t.rows.length > 0);
  for (const r of t.rows) {
    assert.ok(typeof r.textA === "string" && r.textA.trim() !== "", "a row without text");
    if (t.textPairColumn !== undefined) assert.ok(typeof r.textB === "string" && r.textB.trim() !== "", "a row without a text pair");
    if (r.label !== undefined) assert.ok(r.label !== "" && r.label === r.label.trim(), `label ${JSON.stringify(r.label)}`);
    assert.ok(Number.isInteger(r.line) && r.line >= 1);
  }
  labelsOf(t.rows);
  isNumericColumn(t.rows);
  return t;
}

function checkTagged(f: TaggedFile): TaggedFile {
  assert.ok(f.sentences.length > 0);
  for (const s of f.sentences) {
    assert.ok(s.words.length > 0 && s.words.length === s.tags.length, "words and tags differ in number");
    assert.ok(s.tags.every((t) => typeof t === "string" && t !== ""), "an empty tag");
    assert.ok(s.words.every((w) => typeof w === "string"), "a word that is not a string");
  }
  labelSet([f]);
  tagScheme(f.sentences.map((s) => s.tags));
  return f;
}

function checkSquad(examples: SquadExample[]): SquadExample[] {
  assert.ok(examples.length > 0);
  const ids = new Set<string>();
  for (const e of examples) {
    assert.ok(typeof e.id === "string" && e.id !== "" && !ids.has(e.id), `id ${e.id}`);
    ids.add(e.id);
    assert.ok(typeof e.context === "string" && typeof e.question === "string");
    const n = codePoints(e.context).length;
    for (const a of e.answers) assert.ok(Number.isInteger(a.start) && a.start >= 0 && a.start <= n, `answer_start ${a.start}`);
    if (e.isImpossible) assert.equal(e.answers.length, 0);
    else assert.ok(e.answers.length > 0);
  }
  return examples;
}

function checkChoices(examples: ChoiceExample[]): ChoiceExample[] {
  assert.ok(examples.length > 0);
  const n = examples[0]!.choices.length;
  const labelled = examples[0]!.label !== undefined;
  const ids = new Set<string>();
  for (const e of examples) {
    assert.ok(n >= 2 && e.choices.length === n, "choices differ in number");
    assert.ok(e.choices.every((c) => typeof c === "string" && c.trim() !== ""), "an empty choice");
    assert.equal(typeof e.context, "string");
    assert.equal(e.label !== undefined, labelled, "labelled in part");
    if (e.label !== undefined) assert.ok(Number.isInteger(e.label) && e.label >= 0 && e.label < n, `label ${e.label}`);
    assert.ok(!ids.has(e.id), `id ${e.id} twice`);
    ids.add(e.id);
  }
  return examples;
}

function checkGlue(examples: GlueExample[], regression: boolean): GlueExample[] {
  for (const e of examples) {
    assert.equal(typeof e.textA, "string");
    if (e.label !== undefined) assert.ok(regression ? typeof e.label === "number" && Number.isFinite(e.label) : typeof e.label === "string");
  }
  return examples;
}

const POSITIVE_INTEGERS = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "max_position_embeddings", "type_vocab_size", "embedding_size", "num_labels"] as const;

function checkConfig(c: ElectraConfig): ElectraConfig {
  for (const k of POSITIVE_INTEGERS) assert.ok(Number.isSafeInteger(c[k]) && c[k] >= 1, `${k} ${c[k]}`);
  assert.ok(Number.isSafeInteger(c.pad_token_id) && c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size, `pad_token_id ${c.pad_token_id}`);
  assert.equal(c.hidden_size % c.num_attention_heads, 0);
  for (const k of ["hidden_dropout_prob", "attention_probs_dropout_prob"] as const) assert.ok(c[k] >= 0 && c[k] < 1, `${k} ${c[k]}`);
  for (const k of ["initializer_range", "layer_norm_eps"] as const) assert.ok(Number.isFinite(c[k]) && c[k] >= 0, `${k} ${c[k]}`);
  if (c.label2id) for (const [k, v] of Object.entries(c.label2id)) assert.ok(Number.isSafeInteger(v) && v >= 0, `label2id ${k}: ${v}`);
  return c;
}

/**
 * Loads a tokenizer twice: both loads must end alike, in the same vocabulary or both in an error (the tokenizers
 * package keeps its vocabulary in a hash map of random order, and that must not decide what a file means; which of
 * two missing fields its error names may vary); a loaded one's specials are tokens of its vocabulary.
 */
function loadTwice(load: () => WordPieceTokenizer): WordPieceTokenizer {
  const outcome = (): WordPieceTokenizer | Error => {
    try {
      return load();
    } catch (e) {
      return e as Error;
    }
  };
  const say = (x: WordPieceTokenizer | Error) => (x instanceof Error ? "an error" : `vocabulary ${x.vocabHash} of ${x.vocabSize}, specials ${JSON.stringify(x.specials())}`);
  const first = outcome();
  const second = outcome();
  assert.equal(say(second), say(first), `two loads of one file differ: ${first instanceof Error ? first.message : second instanceof Error ? second.message : ""}`);
  if (first instanceof Error) throw first;
  return checkTokenizer(first);
}

/** A loaded tokenizer: its specials are tokens of the vocabulary. */
function checkTokenizer(t: WordPieceTokenizer): WordPieceTokenizer {
  assert.ok(t.vocabSize > 0);
  for (const id of Object.values(t.specials())) assert.ok(id >= 0 && id < t.vocabSize && t.idToToken(id) !== undefined, `special id ${id}`);
  return t;
}

// ---------------------------------------------------------------------------------------------
// The user's tables (text classification): CSV, TSV, JSONL

const CSV = [
  "id,text,text_pair,label",
  '1,"A fine, sunny day","It was ""great"" fun",pos',
  '2,Plain words here,"two',
  'lines in a field",neg',
  "3,  spaces around  ,x,pos",
  "4,émigré naïve café,日本語のテキスト,neg",
  "",
  "5,last row without a newline,y, pos ",
].join("\n");

const TSV = ["sentence\tlabel", 'a "quoted" word\t1', "x\t0", "\r", "CRLF line\t1\r", "ok\t0"].join("\n");

const JSONL = [
  '{"text": "first line", "label": 1}',
  '{"text": "second", "label": true, "extra": [1, {"a": null}]}',
  "",
  '{"text": "no label", "label": null}',
  '{"label": "neg", "text": "keys in another order \\u00e9"}',
  '{"text": "a float label", "label": 1.5}',
].join("\n");

const REGRESSION = ["sentence1,sentence2,score", "A man plays,A man is playing,4.5", '"Dogs, cats","Cats, dogs",3', "x,y,-0.25e1", "one,two,0"].join("\n");

test("fuzz: CSV / TSV / JSONL tables (readTable)", () => {
  fuzzFile("csv", "train.csv", CSV, 700, 101, (f) => checkTable(readTable(f)));
  fuzzFile("tsv", "train.tsv", TSV, 400, 102, (f) => checkTable(readTable(f, { requireLabel: true })));
  fuzzFile("jsonl", "train.jsonl", JSONL, 600, 103, (f) => checkTable(readTable(f)));
});

test("fuzz: regression labels through the text-classification task (--regression, --validation-split)", () => {
  fuzzFile("regression", "scores.csv", REGRESSION, 400, 104, (f) => {
    const task = new TextClassificationTask({ trainFile: f, validationSplit: 0.5, regression: true, labelColumn: "score" });
    const rows = task.trainSplit().examples.concat(task.devSplits()[0]!.examples);
    for (const r of rows) assert.ok(isNumericColumn([r]), `regression label ${r.label}`);
    return rows;
  });
});

// ---------------------------------------------------------------------------------------------
// CoNLL and token JSONL

const CONLL_IOB2 = [
  "-DOCSTART- -X- -X- O",
  "",
  "EU NNP B-NP B-ORG",
  "rejects VBZ B-VP O",
  "German JJ B-NP B-MISC",
  "call NN I-NP O",
  ". . O O",
  "",
  "Peter NNP B-NP B-PER",
  "Blackburn NNP I-NP I-PER",
  "",
  "-DOCSTART- -X- -X- O",
  "",
  "BRUSSELS NNP B-NP B-LOC",
  "1996-08-22 CD I-NP O",
  "",
].join("\n");

const CONLL_IOB1 = ["-DOCSTART- -X- O O", "", "CRICKET NNP I-NP O", "LEICESTERSHIRE NNP I-NP I-ORG", "West NNP I-NP I-MISC", "Indian NNP I-NP B-MISC", "", ""].join("\r\n");

const CHUNKING = ["Confidence NN B-NP", "in IN B-PP", "the DT B-NP", "pound NN I-NP", "", "is\tVBZ\tB-VP", "widely RB I-VP"].join("\n");

const TOKENS_JSONL = [
  '{"tokens": ["EU", "rejects", "German"], "tags": ["B-ORG", "O", "B-MISC"]}',
  '{"tokens": ["Peter", "Blackburn"], "ner_tags": ["B-PER", "I-PER"], "id": "1"}',
  "",
  '{"tokens": ["ça"], "tags": ["O"], "ner_tags": [0]}',
].join("\n");

test("fuzz: CoNLL files (IOB2 and IOB1 with -DOCSTART-, chunking) and token JSONL", () => {
  fuzzFile("conll-iob2", "train.txt", CONLL_IOB2, 700, 201, (f) => checkTagged(readTagged(f)));
  fuzzFile("conll-iob1", "eng.train", CONLL_IOB1, 300, 202, (f) => checkTagged(readConll(f, { tagColumn: 3 })));
  fuzzFile("chunking", "chunks.txt", CHUNKING, 300, 203, (f) => checkTagged(readConll(f, { tagColumn: -1 })));
  fuzzFile("tokens-jsonl", "train.jsonl", TOKENS_JSONL, 500, 204, (f) => checkTagged(readTagged(f)));
});

const REAL_CONLL = {
  conll2003: sharedPath("data/ner/conll2003/train.txt"),
  iob1: sharedPath("data/ner/conll2003-iob1/eng.testa"),
  conll2000: sharedPath("data/chunking/conll2000/train.txt"),
};

test("fuzz: slices of CoNLL-2003 (IOB2, IOB1) and CoNLL-2000", { skip: skipUnless(...Object.values(REAL_CONLL)) }, () => {
  fuzzFile("real-conll2003", "train.txt", headLines(REAL_CONLL.conll2003, 60), 200, 211, (f) => checkTagged(readTagged(f)));
  fuzzFile("real-iob1", "eng.testa", headLines(REAL_CONLL.iob1, 60), 200, 212, (f) => checkTagged(readTagged(f)));
  fuzzFile("real-conll2000", "train.txt", headLines(REAL_CONLL.conll2000, 60), 200, 213, (f) => checkTagged(readTagged(f)));
});

const CONLLEVAL = ["-DOCSTART- O O", "", "EU B-ORG B-ORG", "rejects O O", "German B-MISC I-MISC", "", "Peter B-PER B-PER", "Blackburn I-PER O", ""].join("\n");

test("fuzz: CoNLL prediction files (conlleval's input)", () => {
  const source = "predictions.txt";
  counts.conlleval = fuzz("conlleval", encoder.encode(CONLLEVAL), 1000, 221, startsWith(source), (b) => scoreConllText(new TextDecoder().decode(b), source), {
    mutator: mutateText,
    oneLine: true,
  });
});

// ---------------------------------------------------------------------------------------------
// SQuAD

const SQUAD_V1 = JSON.stringify({
  version: "1.1",
  data: [{
    title: "Super_Bowl_50",
    paragraphs: [
      {
        context: "Super Bowl 50 was an American football game. The Denver Broncos defeated the Carolina Panthers 24\u201310 at Levi's Stadium.",
        qas: [
          { id: "q1", question: "Who won?", answers: [{ text: "Denver Broncos", answer_start: 49 }, { text: "The Denver Broncos", answer_start: 45 }] },
          { id: "q2", question: "Where?", answers: [{ text: "Levi's Stadium", answer_start: 104 }] },
        ],
      },
      { context: "Ünïcödé 😀 context.", qas: [{ id: "q3", question: "What?", answers: [{ text: "context", answer_start: 10 }] }] },
    ],
  }],
}, null, 1);

const SQUAD_V2 = JSON.stringify({
  version: "v2.0",
  data: [{
    title: "Normans",
    paragraphs: [{
      context: "The Normans gave their name to Normandy, a region in France.",
      qas: [
        { id: "a", question: "What region?", answers: [{ text: "Normandy", answer_start: 31 }], is_impossible: false },
        { id: "b", question: "Who gave their name to Italy?", answers: [], plausible_answers: [{ text: "Normans", answer_start: 4 }], is_impossible: true },
      ],
    }],
  }],
}, null, 2);

test("fuzz: SQuAD v1.1 / v2.0 JSON (readSquad)", () => {
  fuzzFile("squad-v1", "train-v1.1.json", SQUAD_V1, 700, 301, (f) => checkSquad(readSquad(f)));
  fuzzFile("squad-v2", "dev-v2.0.json", SQUAD_V2, 500, 302, (f) => checkSquad(readSquad(f)));
});

const SQUAD_DEV = sharedPath("data/qa/squad-v1.1/dev-v1.1.json");
const SQUAD_V2_DEV = sharedPath("data/qa/squad-v2.0-normans/dev-v2.0.json");

/** One article of a SQuAD file, cut to its first `paragraphs` paragraphs, as the file writes it (compact or indented). */
function squadSlice(file: string, title: string | undefined, paragraphs: number, indent?: number): string {
  const d = JSON.parse(readFileSync(file, "utf8")) as { version: string; data: { title: string; paragraphs: unknown[] }[] };
  const a = d.data.find((x) => title === undefined || x.title === title)!;
  return JSON.stringify({ data: [{ title: a.title, paragraphs: a.paragraphs.slice(0, paragraphs) }], version: d.version }, null, indent);
}

test("fuzz: slices of the SQuAD v1.1 dev set and the v2.0 Normans article", { skip: skipUnless(SQUAD_DEV, SQUAD_V2_DEV) }, () => {
  fuzzFile("real-squad-v1", "dev-v1.1.json", squadSlice(SQUAD_DEV, "Jacksonville,_Florida", 3), 250, 311, (f) => checkSquad(readSquad(f)));
  fuzzFile("real-squad-v2", "dev-v2.0.json", squadSlice(SQUAD_V2_DEV, undefined, 3, 4), 250, 312, (f) => checkSquad(readSquad(f)));
});

const PREDICTIONS = JSON.stringify({ q1: "Denver Broncos", q2: "the Levi's Stadium", q3: "", a: "Normandy", b: "" }, null, 1);

test("fuzz: SQuAD scoring files (score --task squad / squad_v2: predictions.json and the data file)", () => {
  const data = files.file("dev-v1.1.json", SQUAD_V1);
  const preds = files.file("predictions.json", PREDICTIONS);
  const checkScores = (s: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(s)) if (k !== "printed") assert.ok(typeof v === "number" && Number.isFinite(v), `${k} ${String(v)}`);
    return s;
  };
  fuzzFile("squad-predictions", "predictions.json", PREDICTIONS, 400, 321, (f) => checkScores(scoreSquadFiles(data, f, false)));
  fuzzFile("squad-score-data-v1", "dev-v1.1.json", SQUAD_V1, 400, 322, (f) => checkScores(scoreSquadFiles(f, preds, false)));
  fuzzFile("squad-score-data-v2", "dev-v2.0.json", SQUAD_V2, 300, 323, (f) => checkScores(scoreSquadFiles(f, preds, true)));
});

// ---------------------------------------------------------------------------------------------
// Multiple choice: COPA XML, OpenBookQA TSV, SWAG CSV, JSONL

const COPA = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE copa-corpus SYSTEM "copa.dtd">
<copa-corpus version="1.0">
  <!-- a comment with <item> inside -->
  <item id="1" asks-for="cause" most-plausible-alternative="1">
    <p>My body cast a shadow over the grass.</p>
    <a1>The sun was rising.</a1>
    <a2>The grass was cut.</a2>
  </item>
  <item id="2" asks-for="effect" most-plausible-alternative="2">
    <p>The woman &amp; her friend&#39;s &quot;behavior&quot;.</p>
    <a1><![CDATA[A <cdata> choice]]></a1>
    <a2>Café &#x41;</a2>
  </item>
</copa-corpus>
`;

const OBQA = [
  "ID\tQuestion Stem\tChoices\tComplete Question\tAnswer Key",
  "8-376\tFrilled sharks live far beneath the surface, so they are\t(A) Deep sea animals (B) fish (C) Long Sea Fish (D) Far Sea Animals\tx\tA",
  '7-57\tGas can fill any "container"\t(A) is standard (B) is the opposite (C) only needs a few (D) uses what (D) it needs\tx\tD',
].join("\n");

const SWAG = [
  ",video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0,ending1,ending2,ending3,label",
  '0,lsmdc1052,18313,"Students lower their eyes nervously. She","Students lower their eyes nervously.",She,gold,"pats her shoulder, then saunters toward someone.",turns with two students.,walks slowly towards someone.,wheels around as her dog thunders out.,2',
  '1,anetv_jkn6uvmqwh4,3,"He rides the motorcycle.",He rides the motorcycle.,He,gen,goes down the road.,"""speeds"" up.",falls off.,smiles.,0',
].join("\n");

const CHOICES_JSONL = ['{"context": "The man broke his toe.", "choices": ["He dropped a hammer.", "He got a hole in his sock."], "label": 0}', "", '{"choices": ["a", "b"], "context": "", "label": 1}'].join("\n");

test("fuzz: multiple-choice files (COPA XML, OpenBookQA TSV, SWAG CSV, JSONL)", () => {
  fuzzFile("copa", "copa-dev.xml", COPA, 700, 401, (f) => checkChoices(readChoices(f)));
  fuzzFile("openbookqa", "dev.tsv", OBQA, 400, 402, (f) => checkChoices(readChoices(f)));
  fuzzFile("swag", "val.csv", SWAG, 400, 403, (f) => checkChoices(readChoices(f)));
  fuzzFile("choices-jsonl", "train.jsonl", CHOICES_JSONL, 400, 404, (f) => checkChoices(readChoices(f)));
});

const COPA_DEV = sharedPath("data/multiple-choice/copa/datasets/copa-dev.xml");
const OBQA_DEV = sharedPath("data/multiple-choice/openbookqa/dev.tsv");

test("fuzz: slices of COPA dev and OpenBookQA dev", { skip: skipUnless(COPA_DEV, OBQA_DEV) }, () => {
  const xml = readFileSync(COPA_DEV, "utf8");
  let end = 0;
  for (let i = 0; i < 6; i++) end = xml.indexOf("</item>", end) + "</item>".length;
  fuzzFile("real-copa", "copa-dev.xml", `${xml.slice(0, end)}\n</copa-corpus>\n`, 300, 411, (f) => checkChoices(readChoices(f)));
  fuzzFile("real-openbookqa", "dev.tsv", headLines(OBQA_DEV, 8), 250, 412, (f) => checkChoices(readChoices(f)));
});

// ---------------------------------------------------------------------------------------------
// GLUE TSVs

const GLUE: { task: string; split: string; name: string; text: string }[] = [
  { task: "cola", split: "train", name: "train.tsv", text: "gj04\t1\t\tOur friends won't buy this analysis.\ngj04\t0\t*\tOne more pseudo generalization.\n" },
  { task: "sst2", split: "train", name: "train.tsv", text: "sentence\tlabel\nhide new secretions \t0\ncontains no wit , only labored gags \t1\n" },
  {
    task: "stsb",
    split: "train",
    name: "train.tsv",
    text: "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000\n1\tmain-news\tx\t2012\t2\tnone\tnone\tA man.\tA woman.\t0.5\n",
  },
  { task: "mrpc", split: "train", name: "train.tsv", text: "\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t702876\t702977\tAmrozi accused his brother.\tReferring to him, Amrozi.\r\n0\t2108705\t2108831\tYucaipa owned.\tYucaipa bought.\r\n" },
  { task: "rte", split: "dev", name: "dev.tsv", text: "index\tsentence1\tsentence2\tlabel\n0\tDana Reeve died.\tChristopher Reeve had an accident.\tnot_entailment\n1\tYet.\tThe.\tentailment\n" },
];

test("fuzz: GLUE TSVs (CoLA without a header, SST-2, STS-B scores, MRPC with a BOM and CRLF, RTE)", () => {
  for (const [i, g] of GLUE.entries()) {
    fuzzFile(`glue-${g.task}`, g.name, g.text, 250, 501 + i, (f) => checkGlue(readGlueFile(g.task, g.split, f), g.task === "stsb"));
  }
});

const MSR_TRAIN = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t702876\t702977\tAmrozi accused his brother.\tReferring to him, Amrozi.\n0\t2108705\t2108831\tYucaipa owned.\tYucaipa bought.\n1\t1330381\t1330521\tA dev pair.\tThe dev pair.\n";
const DEV_IDS = "1330381\t1330521\n2108705\t9999999\n";

test("fuzz: MRPC's train split rebuilt from msr_paraphrase_train.txt and dev_ids.tsv", () => {
  const root = path.join(files.root, "glue");
  const mrpc = path.join(root, "MRPC");
  mkdirSync(mrpc, { recursive: true });
  const [msr, ids] = [path.join(mrpc, "msr_paraphrase_train.txt"), path.join(mrpc, "dev_ids.tsv")];
  writeFileSync(msr, MSR_TRAIN);
  writeFileSync(ids, DEV_IDS);
  const read = () => checkGlue(readGlueSplit(root, "mrpc", "train", { mrpcRebuildTrain: true }), false);
  fuzzAt("mrpc-msr", msr, MSR_TRAIN, 300, 521, read);
  writeFileSync(msr, MSR_TRAIN);
  fuzzAt("mrpc-dev-ids", ids, DEV_IDS, 300, 522, read);
});

const GLUE_DIR = sharedPath("data/glue");

test("fuzz: slices of the GLUE CoLA, STS-B and MRPC dev files", { skip: skipUnless(GLUE_DIR) }, () => {
  for (const [i, [task, dir]] of ([["cola", "CoLA"], ["stsb", "STS-B"], ["mrpc", "MRPC"]] as const).entries()) {
    fuzzFile(`real-glue-${task}`, "dev.tsv", headLines(path.join(GLUE_DIR, dir, "dev.tsv"), 12), 150, 511 + i, (f) => checkGlue(readGlueFile(task, "dev", f), task === "stsb"));
  }
});

// ---------------------------------------------------------------------------------------------
// config.json (through readHfFolder), vocab.txt, tokenizer.json

const CONFIG = JSON.stringify({
  architectures: ["ElectraForSequenceClassification"],
  model_type: "electra",
  vocab_size: 30,
  embedding_size: 8,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 32,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 64,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  id2label: { "0": "neg", "1": "pos" },
  label2id: { neg: 0, pos: 1 },
  classifier_dropout: null,
  summary_last_dropout: 0.1,
  transformers_version: "4.40.0",
}, null, 2);

/** A model folder with a tiny model.safetensors and `config` as config.json: readHfFolder on each mutant of it. */
function fuzzConfig(label: string, config: string, iterations: number, seed: number): void {
  const dir = path.join(files.root, `model-${label}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "model.safetensors"), serializeSafetensors(new Map([["x", { dtype: "F32", shape: [1], bytes: new Uint8Array(4) }]])));
  const file = path.join(dir, "config.json");
  const oneLine = (e: Error) => assert.ok(!/[\r\n]/.test(e.message), `message is not one line: ${JSON.stringify(e.message)}`);
  fuzzAt(label, file, config, iterations, seed, () => checkConfig(readHfFolder(dir).config), { mention: (f) => f, checkError: oneLine });
}

test("fuzz: config.json (readHfFolder → parseConfig)", () => {
  fuzzConfig("config", CONFIG, 1000, 601);
});

test("fuzz: convert --config (a config.json given beside the weights)", () => {
  const weights = files.file("in.safetensors", Buffer.from(serializeSafetensors(new Map([["x", { dtype: "F32", shape: [1], bytes: new Uint8Array(4) }]]))));
  const out = path.join(path.dirname(weights), "out.safetensors");
  fuzzFile("convert-config", "config.json", CONFIG, 300, 621, (f) => convert(weights, out, { config: f, legacy: false, bin: false }), { mention: (f) => f });
});

const MODELS = sharedPath("data/models");
const REAL_CONFIGS = ["google-electra-small-discriminator", "google-electra-base-discriminator", "rickSomers-electra-small-finetuned-seqcls"];

test("fuzz: the released ELECTRA config.json files", { skip: skipUnless(...REAL_CONFIGS.map((m) => path.join(MODELS, m, "config.json"))) }, () => {
  for (const [i, m] of REAL_CONFIGS.entries()) fuzzConfig(`real-config-${i}`, readFileSync(path.join(MODELS, m, "config.json"), "utf8"), 200, 611 + i);
});

const VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "##s", "cat", "dog", "élan", "日", "!", "##ing", "run"].join("\n") + "\n";

/** A tokenizer.json of the tokenizers package's format around a WordPiece vocabulary (as Hugging Face saves it). */
function tokenizerJson(vocab: Record<string, number>, withType: boolean): string {
  const specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  return JSON.stringify({
    version: "1.0",
    truncation: { direction: "Right", max_length: 512, strategy: "LongestFirst", stride: 0 },
    padding: null,
    added_tokens: specials.map((t) => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: null,
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { ...(withType ? { type: "WordPiece" } : {}), unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
  }, null, 1);
}

const SMALL_VOCAB: Record<string, number> = Object.fromEntries(VOCAB.trim().split("\n").map((t, i) => [t, i]));

test("fuzz: vocab.txt and tokenizer.json (new format and the old one without model.type)", () => {
  const mention = (f: string) => f;
  fuzzFile("vocab", "vocab.txt", VOCAB, 500, 701, (f) => checkTokenizer(WordPieceTokenizer.fromVocabFile(f)), { mention });
  fuzzFile("tokenizer-json", "tokenizer.json", tokenizerJson(SMALL_VOCAB, true), 600, 702, (f) => loadTwice(() => WordPieceTokenizer.fromTokenizerJson(f)), { mention });
  fuzzFile("tokenizer-json-old", "tokenizer.json", tokenizerJson(SMALL_VOCAB, false), 300, 703, (f) => loadTwice(() => WordPieceTokenizer.load(f)), { mention });
});

const BASE_VOCAB = path.join(MODELS, "google-electra-small-discriminator/vocab.txt");
const RICK_JSON = path.join(MODELS, "rickSomers-electra-small-finetuned-seqcls/tokenizer.json");

test("fuzz: slices of the released vocab.txt and tokenizer.json", { skip: skipUnless(BASE_VOCAB, RICK_JSON) }, () => {
  fuzzFile("real-vocab", "vocab.txt", headLines(BASE_VOCAB, 160), 150, 711, (f) => checkTokenizer(WordPieceTokenizer.fromVocabFile(f)), { mention: (f) => f });
  const j = JSON.parse(readFileSync(RICK_JSON, "utf8")) as { model: { vocab: Record<string, number> }; added_tokens: { id: number }[] };
  j.model.vocab = Object.fromEntries(Object.entries(j.model.vocab).filter(([, id]) => id < 160));
  j.added_tokens = j.added_tokens.filter((t) => t.id < 160);
  fuzzFile("real-tokenizer-json", "tokenizer.json", JSON.stringify(j), 150, 712, (f) => loadTwice(() => WordPieceTokenizer.fromTokenizerJson(f)), { mention: (f) => f });
});

// ---------------------------------------------------------------------------------------------
// State files: a pretraining run's metrics.jsonl, read back for its training curves

const METRICS = [
  '{"step": 1, "loss": 11.2, "generator_loss": 10.1, "generator_accuracy": 0, "discriminator_loss": 0.69, "discriminator_accuracy": 0.5, "lr": 1e-5, "elapsed": 0.4}',
  '{"step": 2, "loss": 10.9, "generator_loss": 9.8, "generator_accuracy": 0.01, "discriminator_loss": 0.6, "discriminator_accuracy": 0.8}',
  '{"step": 3, "loss": null, "generator_loss": 9.5}',
  '{"step": 5, "loss": 10.1, "discriminator_accuracy": 0.9}',
].join("\n") + "\n";

test("fuzz: metrics.jsonl (the training curves of a pretraining run)", () => {
  fuzzFile("metrics-jsonl", "metrics.jsonl", METRICS, 400, 801, (f) => {
    const { records } = readMetricsJsonl(f);
    for (const r of records) assert.ok(Number.isFinite(r.step), `step ${r.step}`);
    if (records.length === 0) return records; // writeTrainingCurves says so, naming the file
    // the chart's data (rendering is asynchronous and tested in test/train/plot.test.ts)
    return JSON.stringify(trainingCurvesSpec(records), (k, v) => {
      assert.ok(typeof v !== "number" || Number.isFinite(v), `the chart's data has ${v} at ${k}`);
      return v;
    });
  });
});

// ---------------------------------------------------------------------------------------------
// What the fuzzer found, pinned: each of these was a leak, a hang, a crash or a message without the file

test("fuzz finds: JSON errors stay one line when the input they quote has a CR in it", () => {
  const jsonl = files.file("train.jsonl", '{"text": "x", "label": 1}\n{"text": "y", "label": tru\r\ne}\n');
  throwsAt(() => readTable(jsonl), jsonl, 2, /not valid JSON .*tru\\r/);
  const squad = files.file("dev.json", "   ]\r\n {\r\n");
  throwsAt(() => readSquad(squad), squad, undefined, /not a SQuAD JSON file .*\\r/);
  const tsv = files.file("train.tsv", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\nReferring.\r\t1\t2\ta\tb\n");
  throwsAt(() => readGlueFile("mrpc", "train", tsv), tsv, 2, 'bad label "Referring.\\r"');
});

test("fuzz finds: score --task squad names the data file in what the scripts fail on", () => {
  const preds = files.file("predictions.json", '{"a": "Normandy", "b": ""}');
  const v2 = files.file("dev-v2.0.json", SQUAD_V2);
  throwsAt(() => scoreSquadFiles(v2, preds, false), v2, undefined, /question "b" has no answers/);
  const badText = files.file("dev.json", JSON.stringify({ data: [{ paragraphs: [{ qas: [{ id: "a", answers: [{ text: {} }] }] }] }] }));
  throwsAt(() => scoreSquadFiles(badText, preds, false), badText, undefined, /answers\[0\]\.text is an object/);
  const empty = files.file("dev.json", '{"data": []}');
  throwsAt(() => scoreSquadFiles(empty, preds, true), empty, undefined, /no questions/);
});

test("fuzz finds: COPA that the XML validator passes and the parser refuses; SWAG's ending01", () => {
  const copa = files.file("copa.xml", COPA.replace('encoding="UTF-8"', 'enUTF-8"'));
  throwsAt(() => readChoices(copa), copa, undefined, "not well-formed XML", ChoiceFormatError);
  const swag = files.file("val.csv", SWAG.replace(",ending1,", ",ending01,"));
  throwsAt(() => readChoices(swag), swag, undefined, "ending columns must be ending0, ending1, … without gaps; found ending0, ending2, ending3");
});

test("fuzz finds: config.json integers past 2^53, label2id ids that are not integers, an empty id2label", () => {
  const base = JSON.parse(CONFIG) as Record<string, unknown>;
  assert.throws(() => parseConfig({ ...base, vocab_size: 1e20 }, "c.json"), (e: Error) => e instanceof ConfigError && e.message === "c.json: vocab_size must be a positive integer, got 100000000000000000000 (too large)");
  assert.throws(() => parseConfig({ ...base, label2id: { neg: 0, pos: 0.02 } }, "c.json"), /c\.json: label2id must give each label an integer id, got "pos": 0.02$/);
  assert.throws(() => parseConfig({ ...base, label2id: { neg: null } }, "c.json"), /label2id must give each label an integer id/);
  assert.deepEqual(parseConfig({ ...base, label2id: { neg: "0", pos: 1 } }, "c.json").label2id, { neg: 0, pos: 1 });
  const noNumLabels = { ...base, id2label: {} };
  assert.throws(() => parseConfig(noNumLabels, "c.json"), /c\.json: id2label is empty/);
  assert.equal(parseConfig({ ...noNumLabels, num_labels: 3 }, "c.json").num_labels, 3);
});

test("fuzz finds: tokenizer.json ids past the vocabulary (a hang), two tokens of one id (a random outcome), null", () => {
  const huge = files.file("tokenizer.json", tokenizerJson({ ...SMALL_VOCAB, "[CLS]": 2147483648 }, true));
  const t0 = Date.now();
  assert.throws(() => WordPieceTokenizer.fromTokenizerJson(huge), /token "\[CLS\]" has the id 2147483648, but the vocabulary has 15 tokens/);
  assert.ok(Date.now() - t0 < 1000, "took seconds: a loop over two billion ids");
  const shared = files.file("tokenizer.json", tokenizerJson({ ...SMALL_VOCAB, "[CLS]": 3 }, true).replace('"id": 3,', '"id": 2,'));
  for (let i = 0; i < 10; i++) assert.throws(() => WordPieceTokenizer.fromTokenizerJson(shared), /the tokens "\[CLS\]" and "\[SEP\]" have the same id 3$/);
  const nul = files.file("tokenizer.json", "null");
  assert.throws(() => WordPieceTokenizer.fromTokenizerJson(nul), (e: Error) => !(e instanceof TypeError) && e.message === `tokenizer: ${nul} has no "model" object`);
  const cr = files.file("tokenizer.json", tokenizerJson(SMALL_VOCAB, true).replace("LongestFirst", "Longest\\rFirst"));
  assert.throws(() => WordPieceTokenizer.fromTokenizerJson(cr), (e: Error) => /could not be loaded by the tokenizers package \(unknown variant `Longest\\rFirst`/.test(e.message) && !/[\r\n]/.test(e.message));
});

test("fuzz finds: a --regression label Number() reads and the table's rule does not (0x10) is named with its line", () => {
  const f = files.file("scores.csv", REGRESSION.replace("-0.25e1", "0x10"));
  const task = new TextClassificationTask({ trainFile: f, validationSplit: 0.5, regression: true, labelColumn: "score" });
  assert.throws(() => task.trainSplit(), (e: Error) => e.message === `${f}:4: --regression needs numeric labels, found "0x10"`);
});

test("fuzz finds: convert --config with a file that is not JSON, or not an object", () => {
  const weights = files.file("in.safetensors", Buffer.from(serializeSafetensors(new Map([["x", { dtype: "F32", shape: [1], bytes: new Uint8Array(4) }]]))));
  const out = path.join(path.dirname(weights), "out.safetensors");
  for (const [text, message] of [["{oops", " is not valid JSON: "], ["null", ": not a JSON object"]] as const) {
    const f = files.file("config.json", text);
    assert.throws(() => convert(weights, out, { config: f, legacy: false, bin: false }), (e: Error) => !(e instanceof SyntaxError) && e.message.startsWith(`${f}${message}`));
  }
});

test("fuzz: summary and time budget", () => {
  const seconds = (Date.now() - started) / 1000;
  console.log(`# text fuzz outcomes (read / rejected): ${Object.entries(counts).map(([k, t]) => `${k} ${t.ok}/${t.rejected}`).join(", ")}; ${seconds.toFixed(1)} s`);
  if (SCALE === 1) assert.ok(seconds < 20, `fuzzing took ${seconds} s`);
});
