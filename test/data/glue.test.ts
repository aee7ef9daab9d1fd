import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  GLUE_TASK_NAMES,
  GLUE_TASKS,
  GlueFormatError,
  formatPredictions,
  getGlueTask,
  glueFilePath,
  isLabelledSplit,
  labelId,
  labelName,
  predictionRows,
  readGlueFile,
  readGlueSplit,
  readTsv,
  resolveSplit,
  submissionFileName,
  writePredictions,
  type GlueExample,
} from "../../src/data/glue.js";

const GLUE_DIR = process.env.ELECTRA_GLUE_DIR ?? path.resolve(process.cwd(), "../shared/data/glue");

function missing(...rel: string[]): string | false {
  for (const r of rel) {
    const p = path.join(GLUE_DIR, r);
    if (!existsSync(p)) return `GLUE data absent: ${p} not found (set ELECTRA_GLUE_DIR)`;
  }
  return false;
}

const tmpRoot = mkdtempSync(path.join(tmpdir(), "electra-glue-test-"));
process.on("exit", () => rmSync(tmpRoot, { recursive: true, force: true }));
let tmpCount = 0;

/** Writes files (relative path → content) under a fresh folder and returns the folder. */
function makeDir(files: Record<string, string | Buffer>): string {
  const dir = path.join(tmpRoot, `d${tmpCount++}`);
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return dir;
}

const tsv = (rows: string[][], eol = "\n", final = true): string =>
  rows.map((r) => r.join("\t")).join(eol) + (final ? eol : "");

function assertFormatError(fn: () => unknown, file: string, line: number, reason: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof GlueFormatError, `expected GlueFormatError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.equal(e.line, line);
    assert.ok(e.message.startsWith(`${file}:${line}: `), e.message);
    assert.match(e.reason, reason);
    return true;
  });
}

const strip = (e: GlueExample) => {
  const { guid: _g, index: _i, ...rest } = e;
  return rest;
};

// ---------------------------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------------------------

test("registry: tasks, labels in GLUE order, regression, metrics, submission names", () => {
  assert.deepEqual(GLUE_TASK_NAMES, ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli", "ax"]);
  const labels = Object.fromEntries(GLUE_TASK_NAMES.map((n) => [n, GLUE_TASKS[n].labels]));
  assert.deepEqual(labels, {
    cola: ["0", "1"],
    sst2: ["0", "1"],
    mrpc: ["0", "1"],
    stsb: [],
    qqp: ["0", "1"],
    mnli: ["contradiction", "entailment", "neutral"],
    qnli: ["entailment", "not_entailment"],
    rte: ["entailment", "not_entailment"],
    wnli: ["0", "1"],
    ax: ["contradiction", "entailment", "neutral"],
  });
  assert.deepEqual(
    GLUE_TASK_NAMES.filter((n) => GLUE_TASKS[n].isRegression),
    ["stsb"],
  );
  assert.deepEqual(GLUE_TASKS.stsb.labelRange, [0, 5]);
  const main = Object.fromEntries(GLUE_TASK_NAMES.map((n) => [n, GLUE_TASKS[n].mainMetric]));
  assert.deepEqual(main, {
    cola: "mcc", sst2: "accuracy", mrpc: "combined", stsb: "combined", qqp: "combined",
    mnli: "accuracy", qnli: "accuracy", rte: "accuracy", wnli: "accuracy", ax: "mcc",
  });
  assert.deepEqual(GLUE_TASKS.mrpc.metrics, ["f1", "accuracy", "combined"]);
  assert.deepEqual(GLUE_TASKS.stsb.metrics, ["pearson", "spearman", "combined"]);
  const sub = GLUE_TASK_NAMES.flatMap((n) => GLUE_TASKS[n].testSplits.map((s) => submissionFileName(n, s)));
  assert.deepEqual(sub, [
    "CoLA.tsv", "SST-2.tsv", "MRPC.tsv", "STS-B.tsv", "QQP.tsv", "MNLI-m.tsv", "MNLI-mm.tsv",
    "QNLI.tsv", "RTE.tsv", "WNLI.tsv", "AX.tsv",
  ]);
  assert.equal(submissionFileName("mnli"), "MNLI-m.tsv");
  assert.equal(submissionFileName("MNLI", "test_mismatched"), "MNLI-mm.tsv");
  assert.equal(submissionFileName("ax", "diagnostic"), "AX.tsv");
  assert.throws(() => submissionFileName("cola", "dev"), /not a test split/);
  assert.equal(GLUE_TASKS.ax.predictWith, "mnli");
  assert.equal(GLUE_TASKS.ax.trainSplit, null);
  assert.deepEqual(GLUE_TASKS.mnli.devSplits, ["dev_matched", "dev_mismatched"]);
  assert.ok(Object.isFrozen(GLUE_TASKS.cola.labels));
});

test("registry: name and split aliases, label ids, file paths", () => {
  assert.equal(getGlueTask("SST-2").name, "sst2");
  assert.equal(getGlueTask("sts-b").name, "stsb");
  assert.equal(getGlueTask("STS").name, "stsb");
  assert.equal(getGlueTask("CoLA").name, "cola");
  assert.equal(getGlueTask("diagnostic").name, "ax");
  assert.throws(() => getGlueTask("squad"), /unknown GLUE task "squad"/);
  assert.equal(resolveSplit("mnli", "dev"), "dev_matched");
  assert.equal(resolveSplit("mnli", "test"), "test_matched");
  assert.equal(resolveSplit("ax", "diagnostic"), "test");
  assert.throws(() => resolveSplit("cola", "dev_matched"), /no split "dev_matched"/);
  assert.equal(isLabelledSplit("rte", "dev"), true);
  assert.equal(isLabelledSplit("rte", "test"), false);
  assert.equal(labelId("mnli", "neutral"), 2);
  assert.equal(labelName("qnli", 1), "not_entailment");
  assert.throws(() => labelId("rte", "neutral"), /unknown label/);
  assert.throws(() => labelName("cola", 2), /out of range/);
  assert.equal(glueFilePath("/g", "ax", "test"), path.join("/g", "diagnostic", "diagnostic.tsv"));
  assert.equal(glueFilePath("/g", "mnli", "dev"), path.join("/g", "MNLI", "dev_matched.tsv"));
  assert.equal(glueFilePath("/g", "sst2", "train"), path.join("/g", "SST-2", "train.tsv"));
});

// ---------------------------------------------------------------------------------------------
// Real data (/work/shared/data/glue)
// ---------------------------------------------------------------------------------------------

interface RealCase {
  task: string;
  split: string;
  file: string;
  count: number;
  labelCounts?: Record<string, number>;
  first: Omit<GlueExample, "guid" | "index">;
  last: Omit<GlueExample, "guid" | "index">;
}

const REAL: RealCase[] = [
  {
    task: "cola", split: "train", file: "CoLA/train.tsv", count: 8551, labelCounts: { "0": 2528, "1": 6023 },
    first: { textA: "Our friends won't buy this analysis, let alone the next one we propose.", label: "1" },
    last: { textA: "What all did you get for Christmas?", label: "1" },
  },
  {
    task: "cola", split: "dev", file: "CoLA/dev.tsv", count: 1043, labelCounts: { "0": 322, "1": 721 },
    first: { textA: "The sailors rode the breeze clear of the rocks.", label: "1" },
    last: { textA: "John talked to Bill about himself.", label: "1" },
  },
  {
    task: "cola", split: "test", file: "CoLA/test.tsv", count: 1063,
    first: { id: "0", textA: "Bill whistled past the house." },
    last: { id: "1062", textA: "A picture of himself frightened John." },
  },
  {
    task: "sst2", split: "train", file: "SST-2/train.tsv", count: 67349, labelCounts: { "0": 29780, "1": 37569 },
    first: { textA: "hide new secretions from the parental units ", label: "0" },
    last: { textA: "this new jangle of noise , mayhem and stupidity must be a serious contender for the title . ", label: "0" },
  },
  {
    task: "sst2", split: "dev", file: "SST-2/dev.tsv", count: 872, labelCounts: { "0": 428, "1": 444 },
    first: { textA: "it 's a charming and often affecting journey . ", label: "1" },
    last: {
      textA: "looking aristocratic , luminous yet careworn in jane hamilton 's exemplary costumes , rampling gives a performance that could not be improved upon . ' ",
      label: "1",
    },
  },
  {
    task: "sst2", split: "test", file: "SST-2/test.tsv", count: 1821,
    first: { id: "0", textA: "uneasy mishmash of styles and genres ." },
    last: {
      id: "1820",
      textA: "dazzling and sugar-sweet , a blast of shallow magnificence that only sex , scandal , and a chorus line of dangerous damsels can deliver .",
    },
  },
  {
    task: "mrpc", split: "train", file: "MRPC/train.tsv", count: 3667, labelCounts: { "0": 1194, "1": 2473 },
    first: {
      textA: 'Amrozi accused his brother , whom he called " the witness " , of deliberately distorting his evidence .',
      textB: 'Referring to him as only " the witness " , Amrozi accused his brother of deliberately distorting his evidence .',
      label: "1",
    },
    last: {
      textA: "The 30-year bond US30YT = RR rose 22 / 32 for a yield of 4.31 percent , versus 4.35 percent at Wednesday 's close .",
      textB: "The 30-year bond US30YT = RR grew 1-3 / 32 for a yield of 4.30 percent , down from 4.35 percent late Wednesday .",
      label: "0",
    },
  },
  {
    task: "mrpc", split: "dev", file: "MRPC/dev.tsv", count: 408, labelCounts: { "0": 129, "1": 279 },
    first: {
      textA: "He said the foodservice pie business doesn 't fit the company 's long-term growth strategy .",
      textB: '" The foodservice pie business does not fit our long-term growth strategy .',
      label: "1",
    },
    last: {
      textA: "Ex-KGB agent Putin added that the Beatles were considered ' propaganda of an alien ideology ' .",
      textB: "In Soviet times the Beatles ' music \" was considered propaganda of an alien ideology .",
      label: "1",
    },
  },
  {
    task: "mrpc", split: "test", file: "MRPC/test.tsv", count: 1725,
    first: {
      id: "0",
      textA: "PCCW 's chief operating officer , Mike Butcher , and Alex Arena , the chief financial officer , will report directly to Mr So .",
      textB: "Current Chief Operating Officer Mike Butcher and Group Chief Financial Officer Alex Arena will report to So .",
    },
    last: {
      id: "1724",
      textA: 'Sobig.F spreads when unsuspecting computer users open file attachments in emails that contain such familiar headings as " Thank You ! , " " Re : Details " or " Re : That Movie . "',
      textB: 'The virus spreads when unsuspecting computer users open file attachments in emails that contain familiar headings like " Thank You ! " and " Re : Details " .',
    },
  },
  {
    task: "stsb", split: "train", file: "STS-B/train.tsv", count: 5749,
    first: { id: "0", textA: "A plane is taking off.", textB: "An air plane is taking off.", label: 5 },
    last: {
      id: "5748",
      textA: "Putin spokesman: Doping charges appear unfounded",
      textB: "The Latest on Severe Weather: 1 Dead in Texas After Tornado",
      label: 0,
    },
  },
  {
    task: "stsb", split: "dev", file: "STS-B/dev.tsv", count: 1500,
    first: { id: "0", textA: "A man with a hard hat is dancing.", textB: "A man wearing a hard hat is dancing.", label: 5 },
    last: {
      id: "1499",
      textA: "New video shows US police officers beating mentally-ill man",
      textB: "New York police officer critically wounded in hatchet attack",
      label: 0,
    },
  },
  {
    task: "stsb", split: "test", file: "STS-B/test.tsv", count: 1379,
    first: { id: "0", textA: "A girl is styling her hair.", textB: "A girl is brushing her hair." },
    last: {
      id: "1378",
      textA: "South Korea declares end to MERS outbreak",
      textB: "North Korea Delegation Meets With South Korean Officials",
    },
  },
  {
    task: "wnli", split: "train", file: "WNLI/train.tsv", count: 635, labelCounts: { "0": 323, "1": 312 },
    first: {
      id: "0",
      textA: "I stuck a pin through a carrot. When I pulled the pin out, it had a hole.",
      textB: "The carrot had a hole.",
      label: "1",
    },
    last: {
      id: "634",
      textA: "Although they ran at about the same speed, Sue beat Sally because she had such a bad start.",
      textB: "Sally had such a bad start.",
      label: "1",
    },
  },
  {
    task: "wnli", split: "dev", file: "WNLI/dev.tsv", count: 71, labelCounts: { "0": 40, "1": 31 },
    first: { id: "0", textA: "The drain is clogged with hair. It has to be cleaned.", textB: "The hair has to be cleaned.", label: "0" },
    last: {
      id: "70",
      textA: "George got free tickets to the play, but he gave them to Eric, because he was not particularly eager to see it.",
      textB: "Eric was not particularly eager to see it.",
      label: "0",
    },
  },
  {
    task: "wnli", split: "test", file: "WNLI/test.tsv", count: 146,
    first: {
      id: "0",
      textA: "Maude and Dora had seen the trains rushing across the prairie, with long, rolling puffs of black smoke streaming back from the engine. Their roars and their wild, clear whistles could be heard from far away. Horses ran away when they came in sight.",
      textB: "Horses ran away when Maude and Dora came in sight.",
    },
    last: {
      id: "145",
      textA: "Edward dropped adhesive tape onto his window sill, and when he pulled the tape off, some of the glue was stuck on it.",
      textB: "Some of the glue was stuck on the window sill.",
    },
  },
  {
    task: "ax", split: "test", file: "diagnostic/diagnostic.tsv", count: 1104,
    first: { id: "0", textA: "The cat sat on the mat.", textB: "The cat did not sit on the mat." },
    last: {
      id: "1103",
      textA: "The new general artificial intelligence I'm developing should come with an off switch.",
      textB: "A general artificial intelligence should always come with an off switch.",
    },
  },
];

for (const c of REAL) {
  test(`real data: ${c.file} (${c.task} ${c.split}): ${c.count} rows, labels, first/last examples`, { skip: missing(c.file) }, () => {
    const t = getGlueTask(c.task);
    const ex = readGlueSplit(GLUE_DIR, c.task, c.split);
    assert.equal(ex.length, c.count);
    assert.deepEqual(strip(ex[0]), c.first);
    assert.deepEqual(strip(ex[ex.length - 1]), c.last);
    ex.forEach((e, i) => {
      assert.equal(e.index, i);
      assert.equal(e.guid, `${t.name}-${resolveSplit(t, c.split)}-${i}`);
    });
    if (c.labelCounts) {
      const counts: Record<string, number> = {};
      for (const e of ex) counts[String(e.label)] = (counts[String(e.label)] ?? 0) + 1;
      assert.deepEqual(counts, c.labelCounts);
      for (const e of ex) assert.equal(typeof e.label, "string");
    } else if (t.isRegression && isLabelledSplit(t, c.split)) {
      for (const e of ex) {
        assert.equal(typeof e.label, "number");
        assert.ok((e.label as number) >= 0 && (e.label as number) <= 5);
      }
    } else {
      for (const e of ex) assert.equal(e.label, undefined);
    }
    if (!isLabelledSplit(t, c.split)) {
      // Test files carry an index column 0..N-1 used for the submission file.
      ex.forEach((e, i) => assert.equal(e.id, String(i)));
    }
    if (!t.isPair) for (const e of ex) assert.equal(e.textB, undefined);
  });
}

test("real data: STS-B scores are parsed as floats", { skip: missing("STS-B/train.tsv", "STS-B/dev.tsv") }, () => {
  const sum = (xs: GlueExample[]) => xs.reduce((a, e) => a + (e.label as number), 0);
  assert.ok(Math.abs(sum(readGlueSplit(GLUE_DIR, "stsb", "train")) - 15528.043397) < 1e-5);
  assert.ok(Math.abs(sum(readGlueSplit(GLUE_DIR, "STS-B", "dev")) - 3545.861333) < 1e-5);
});

test("real data: CoLA test has a header and dev has none; CoLA dev lacks a final newline", { skip: missing("CoLA/dev.tsv", "CoLA/test.tsv") }, () => {
  const dev = readFileSync(path.join(GLUE_DIR, "CoLA/dev.tsv"));
  assert.notEqual(dev[dev.length - 1], 0x0a);
  assert.equal(readTsv(path.join(GLUE_DIR, "CoLA/dev.tsv")).length, 1043);
  assert.deepEqual(readTsv(path.join(GLUE_DIR, "CoLA/test.tsv"))[0].fields, ["index", "sentence"]);
});

test("real data: MRPC byte-order mark is dropped from the header", { skip: missing("MRPC/train.tsv") }, () => {
  const raw = readFileSync(path.join(GLUE_DIR, "MRPC/train.tsv"));
  assert.deepEqual([...raw.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  assert.deepEqual(readTsv(path.join(GLUE_DIR, "MRPC/train.tsv"))[0].fields, ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]);
});

test(
  "real data: MRPC train rebuilt from msr_paraphrase_train.txt minus dev_ids.tsv has 3668 rows",
  { skip: missing("MRPC/train.tsv", "MRPC/dev.tsv", "MRPC/msr_paraphrase_train.txt", "MRPC/dev_ids.tsv") },
  () => {
    const shipped = readGlueSplit(GLUE_DIR, "mrpc", "train");
    const rebuilt = readGlueSplit(GLUE_DIR, "mrpc", "train", { mrpcRebuildTrain: true });
    const dev = readGlueSplit(GLUE_DIR, "mrpc", "dev");
    assert.equal(rebuilt.length, 3668);
    const counts: Record<string, number> = {};
    for (const e of rebuilt) counts[String(e.label)] = (counts[String(e.label)] ?? 0) + 1;
    assert.deepEqual(counts, { "0": 1194, "1": 2474 });
    // The shipped file is the rebuilt one, in the same order, less one row.
    const key = (e: GlueExample) => `${e.label}\t${e.textA}\t${e.textB}`;
    const shippedKeys = shipped.map(key);
    const extra = rebuilt.filter((e) => !new Set(shippedKeys).has(key(e)));
    assert.equal(extra.length, 1);
    assert.deepEqual(strip(extra[0]), {
      textA: 'Officials at Brandeis said this was an " extremely heartrending " time for the campus .',
      textB: '" This is an extremely heartrending time for the entire Brandeis University community .',
      label: "1",
    });
    assert.deepEqual(rebuilt.filter((e) => e !== extra[0]).map(key), shippedKeys);
    const devKeys = new Set(dev.map(key));
    assert.ok(rebuilt.every((e) => !devKeys.has(key(e))));
    rebuilt.forEach((e, i) => assert.equal(e.guid, `mrpc-train-${i}`));
    assert.throws(() => readGlueSplit(GLUE_DIR, "mrpc", "dev", { mrpcRebuildTrain: true }), /MRPC's train split only/);
  },
);

test("real data: predictions for CoLA test in the submission format", { skip: missing("CoLA/test.tsv") }, () => {
  const ex = readGlueSplit(GLUE_DIR, "cola", "test");
  const out = path.join(tmpRoot, "sub", submissionFileName("cola"));
  writePredictions(out, predictionRows(ex, ex.map((_, i) => (i % 3 === 0 ? "0" : "1"))));
  const lines = readFileSync(out, "utf8").split("\n");
  assert.equal(lines.length, 1063 + 2); // header, rows, final empty string
  assert.equal(lines[0], "index\tprediction");
  assert.equal(lines[1], "0\t0");
  assert.equal(lines[2], "1\t1");
  assert.equal(lines[1063], "1062\t0"); // 1062 % 3 === 0
  assert.equal(lines[1064], "");
});

// ---------------------------------------------------------------------------------------------
// Synthetic files for the tasks whose data is absent (QQP, MNLI, QNLI, RTE) and for the quirks
// ---------------------------------------------------------------------------------------------

const MNLI_TRAIN_HEADER = [
  "index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
  "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "label1", "gold_label",
];
const MNLI_DEV_HEADER = [...MNLI_TRAIN_HEADER.slice(0, 11), "label2", "label3", "label4", "label5", "gold_label"];
const MNLI_TEST_HEADER = MNLI_TRAIN_HEADER.slice(0, 10);
const parse = (s: string) => [`( ${s} )`, `( ${s} )`, `(ROOT ${s})`, `(ROOT ${s})`];

function mnliRow(i: number, genre: string, s1: string, s2: string, labels: string[] | null): string[] {
  const base = [String(i), String(1000 + i), `${1000 + i}e`, genre, ...parse(s1).slice(0, 1), ...parse(s2).slice(1, 2), ...parse(s1).slice(2, 3), ...parse(s2).slice(3), s1, s2];
  return labels === null ? base : [...base, ...labels];
}

function syntheticGlue(): string {
  return makeDir({
    "QQP/train.tsv": tsv([
      ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
      ["133273", "213221", "213222", "How is the life of a math student? Could you describe your own experiences?", "Which level of prepration is enough for the exam jlpt5?", "0"],
      ["402555", "536040", "536041", 'How do I control my horny emotions?', 'How do you control your "horniness"?', "1"],
    ]),
    "QQP/dev.tsv": tsv([
      ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
      ["201359", "303345", "303346", "Why are African-Americans so beautiful?", "Why are hispanics so beautiful?", "0"],
    ]),
    "QQP/test.tsv": tsv([
      ["id", "question1", "question2"],
      ["0", "Would the idea of Trump and Putin in bed together scare you?", "Do you think that if Donald Trump were elected President, he would be impeached?"],
      ["1", "What are the top ten Consumer-to-Consumer E-commerce online?", "What are the top ten Consumer-to-Business E-commerce online?"],
    ]),
    "MNLI/train.tsv": tsv([
      MNLI_TRAIN_HEADER,
      mnliRow(0, "government", "Conceptually cream skimming has two basic dimensions - product and geography.", "Product and geography are what make cream skimming work. ", ["neutral", "neutral"]),
      mnliRow(1, "telephone", "you know during the season and i guess at at your level uh you lose them", "You lose the things to the following level if the people recall.", ["entailment", "entailment"]),
      mnliRow(2, "fiction", "How do you know? All this is their information again.", "This information belongs to them.", ["contradiction", "contradiction"]),
    ]),
    "MNLI/dev_matched.tsv": tsv([
      MNLI_DEV_HEADER,
      mnliRow(0, "slate", "The new rights are nice enough", "Everyone really likes the newest benefits ", ["neutral", "entailment", "neutral", "neutral", "neutral", "neutral"]),
      mnliRow(1, "government", "This site includes a list of all award winners.", "The Government Executive articles housed on the website are not able to be searched.", ["contradiction", "contradiction", "contradiction", "contradiction", "contradiction", "contradiction"]),
    ]),
    "MNLI/dev_mismatched.tsv": tsv([
      MNLI_DEV_HEADER,
      mnliRow(0, "letters", "Your contribution helped make it possible for us to provide our students with a quality education.", "Your contributions were of no help with our students' education.", ["contradiction", "contradiction", "contradiction", "contradiction", "contradiction", "contradiction"]),
    ]),
    "MNLI/test_matched.tsv": tsv([
      MNLI_TEST_HEADER,
      mnliRow(0, "government", "Hierbas, ans seco, ans dulce, and frigola are just a few names worth keeping a look-out for.", "Hierbas is a name worth looking out for.", null),
    ]),
    "MNLI/test_mismatched.tsv": tsv([
      MNLI_TEST_HEADER,
      mnliRow(0, "letters", "What have you decided, what are you going to do?", "So what's your decision?", null),
      mnliRow(1, "verbatim", "(Read  for Slate 's take on Jackson's findings.)", "Slate had an opinion on Jackson's findings.", null),
    ]),
    "QNLI/train.tsv": tsv([
      ["index", "question", "sentence", "label"],
      ["0", "When did the third Digimon series begin?", "Unlike the two seasons before it and most of the seasons that followed, Digimon Tamers takes a darker and more realistic approach to its story featuring Digimon who do not reincarnate after their deaths and more complex character development in the original Japanese.", "not_entailment"],
      ["1", "Which missile batteries often have individual launchers several kilometres from one another?", "When MANPADS is operated by specialists, batteries may have several dozen teams deploying separately in small sections; self-propelled air defence guns may deploy in pairs.", "not_entailment"],
      ["2", "What two things does Popper argue Tarski's theory involves in an evaluation of truth?", "He bases this interpretation on the fact that examples such as the one described above refer to two things: assertions and the facts to which they refer.", "entailment"],
    ]),
    "QNLI/dev.tsv": tsv([
      ["index", "question", "sentence", "label"],
      ["0", "What came into force after the new constitution was herald?", "As of that day, the new constitution heralding the Second Republic came into force.", "entailment"],
    ]),
    "QNLI/test.tsv": tsv([
      ["index", "question", "sentence"],
      ["0", "What organization is devoted to Jihad against Israel?", "For some decades prior to the First Palestine Intifada in 1987, the Muslim Brotherhood in Palestine took a \"quiescent\" stance towards Israel."],
    ]),
    "RTE/train.tsv": tsv([
      ["index", "sentence1", "sentence2", "label"],
      ["0", "No Weapons of Mass Destruction Found in Iraq Yet.", "Weapons of Mass Destruction Found in Iraq.", "not_entailment"],
      ["1", "A place of sorrow, after Pope John Paul II died, became a place of celebration, as Roman Catholic faithful gathered in downtown Chicago to mark the installation of new Pope Benedict XVI.", "Pope Benedict XVI is the new leader of the Roman Catholic Church.", "entailment"],
    ]),
    "RTE/dev.tsv": tsv([
      ["index", "sentence1", "sentence2", "label"],
      ["0", "Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, according to the Christopher Reeve Foundation.", "Christopher Reeve had an accident.", "not_entailment"],
    ]),
    "RTE/test.tsv": tsv([
      ["index", "sentence1", "sentence2"],
      ["0", "Mangla was summoned after Madhumita's sister Nidhi Shukla, who was the first witness in the case.", "Shukla is related to Mangla.", ],
      ["1", "Authorities in Brazil say that more than 200 people are being held hostage.", "Authorities in Brazil hold 200 people as hostage."],
    ]),
  });
}

test("synthetic QQP: train/dev/test layouts, literal quotes, ids", () => {
  const dir = syntheticGlue();
  const train = readGlueSplit(dir, "qqp", "train");
  assert.deepEqual(train, [
    {
      guid: "qqp-train-0", index: 0, id: "133273",
      textA: "How is the life of a math student? Could you describe your own experiences?",
      textB: "Which level of prepration is enough for the exam jlpt5?", label: "0",
    },
    {
      guid: "qqp-train-1", index: 1, id: "402555",
      textA: "How do I control my horny emotions?", textB: 'How do you control your "horniness"?', label: "1",
    },
  ]);
  assert.deepEqual(readGlueSplit(dir, "QQP", "dev").map(strip), [
    { id: "201359", textA: "Why are African-Americans so beautiful?", textB: "Why are hispanics so beautiful?", label: "0" },
  ]);
  const test = readGlueSplit(dir, "qqp", "test");
  assert.deepEqual(test.map((e) => [e.id, e.label]), [["0", undefined], ["1", undefined]]);
  assert.equal(test[1].textB, "What are the top ten Consumer-to-Business E-commerce online?");
});

test("synthetic MNLI: 12-column train, 16-column dev, 10-column test; sentence1/2 at 8/9, gold label last", () => {
  const dir = syntheticGlue();
  const train = readGlueSplit(dir, "mnli", "train");
  assert.deepEqual(train.map(strip), [
    { id: "0", textA: "Conceptually cream skimming has two basic dimensions - product and geography.", textB: "Product and geography are what make cream skimming work. ", label: "neutral" },
    { id: "1", textA: "you know during the season and i guess at at your level uh you lose them", textB: "You lose the things to the following level if the people recall.", label: "entailment" },
    { id: "2", textA: "How do you know? All this is their information again.", textB: "This information belongs to them.", label: "contradiction" },
  ]);
  const dm = readGlueSplit(dir, "mnli", "dev_matched");
  assert.deepEqual(dm.map((e) => e.label), ["neutral", "contradiction"]);
  assert.equal(dm[0].textB, "Everyone really likes the newest benefits ");
  assert.equal(dm[0].guid, "mnli-dev_matched-0");
  assert.deepEqual(readGlueSplit(dir, "mnli", "dev"), dm); // "dev" is dev_matched, as in the official code
  const dmm = readGlueSplit(dir, "mnli", "dev_mismatched");
  assert.deepEqual(dmm.map((e) => [e.guid, e.label]), [["mnli-dev_mismatched-0", "contradiction"]]);
  const tm = readGlueSplit(dir, "mnli", "test_matched");
  assert.deepEqual(tm.map(strip), [{ id: "0", textA: "Hierbas, ans seco, ans dulce, and frigola are just a few names worth keeping a look-out for.", textB: "Hierbas is a name worth looking out for." }]);
  const tmm = readGlueSplit(dir, "mnli", "test_mismatched");
  assert.deepEqual(tmm.map((e) => [e.id, e.textA, e.label]), [
    ["0", "What have you decided, what are you going to do?", undefined],
    ["1", "(Read  for Slate 's take on Jackson's findings.)", undefined],
  ]);
  assert.deepEqual(
    predictionRows(tmm, ["entailment", "neutral"]),
    [{ index: "0", prediction: "entailment" }, { index: "1", prediction: "neutral" }],
  );
});

test("synthetic QNLI and RTE: index, text pair, entailment/not_entailment", () => {
  const dir = syntheticGlue();
  const qnli = readGlueSplit(dir, "qnli", "train");
  assert.equal(qnli.length, 3);
  assert.deepEqual(qnli.map((e) => e.label), ["not_entailment", "not_entailment", "entailment"]);
  assert.equal(qnli[0].textA, "When did the third Digimon series begin?");
  assert.deepEqual(strip(readGlueSplit(dir, "qnli", "dev")[0]), {
    id: "0",
    textA: "What came into force after the new constitution was herald?",
    textB: "As of that day, the new constitution heralding the Second Republic came into force.",
    label: "entailment",
  });
  const qt = readGlueSplit(dir, "qnli", "test");
  assert.equal(qt[0].textB, 'For some decades prior to the First Palestine Intifada in 1987, the Muslim Brotherhood in Palestine took a "quiescent" stance towards Israel.');
  assert.equal(qt[0].label, undefined);
  const rte = readGlueSplit(dir, "rte", "train");
  assert.deepEqual(rte.map((e) => [e.id, e.label]), [["0", "not_entailment"], ["1", "entailment"]]);
  assert.equal(rte[0].textB, "Weapons of Mass Destruction Found in Iraq.");
  assert.equal(readGlueSplit(dir, "rte", "dev")[0].textB, "Christopher Reeve had an accident.");
  const rt = readGlueSplit(dir, "rte", "test");
  assert.deepEqual(rt.map((e) => [e.id, e.textB, e.label]), [
    ["0", "Shukla is related to Mangla.", undefined],
    ["1", "Authorities in Brazil hold 200 people as hostage.", undefined],
  ]);
});

test("quirks: CRLF, no final newline, BOM and trailing blank lines read like the plain file", () => {
  const rows = [["sentence", "label"], ["a \"quoted\" phrase ", "1"], ["it 's ' fine '", "0"]];
  const plain = makeDir({ "SST-2/dev.tsv": tsv(rows) });
  const expected = readGlueSplit(plain, "sst2", "dev");
  assert.deepEqual(expected.map(strip), [
    { textA: 'a "quoted" phrase ', label: "1" },
    { textA: "it 's ' fine '", label: "0" },
  ]);
  const variants: Record<string, string | Buffer> = {
    crlf: tsv(rows, "\r\n"),
    crlfNoFinal: tsv(rows, "\r\n", false),
    noFinal: tsv(rows, "\n", false),
    bom: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(tsv(rows, "\r\n"))]),
    blankTail: tsv(rows) + "\n\r\n",
  };
  for (const [name, content] of Object.entries(variants)) {
    const dir = makeDir({ "SST-2/dev.tsv": content });
    assert.deepEqual(readGlueSplit(dir, "sst2", "dev"), expected, name);
  }
  // A quote never groups: a tab inside quotes still splits the field (so this row is malformed).
  const quoted = makeDir({ "SST-2/dev.tsv": tsv([["sentence", "label"], ['"a\tb"', "1"]]) });
  assertFormatError(() => readGlueSplit(quoted, "sst2", "dev"), glueFilePath(quoted, "sst2", "dev"), 2, /expected 2 tab-separated fields, found 3/);
});

test("quirks: CoLA train/dev have no header, CoLA test has one", () => {
  const dir = makeDir({
    "CoLA/train.tsv": tsv([["gj04", "1", "", "Our friends won't buy this analysis."], ["gj04", "0", "*", "They drank the pub."]]),
    "CoLA/test.tsv": tsv([["index", "sentence"], ["0", "Bill whistled past the house."]]),
  });
  assert.deepEqual(readGlueSplit(dir, "cola", "train").map(strip), [
    { textA: "Our friends won't buy this analysis.", label: "1" },
    { textA: "They drank the pub.", label: "0" },
  ]);
  assert.deepEqual(readGlueSplit(dir, "cola", "test").map(strip), [{ id: "0", textA: "Bill whistled past the house." }]);
});

test("quirks: STS-B scores become numbers; doubleUnordered appends swapped pairs", () => {
  const head = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"];
  const dir = makeDir({
    "STS-B/train.tsv": tsv([
      head,
      ["0", "main-captions", "MSRvid", "2012test", "0001", "none", "none", "A plane is taking off.", "An air plane is taking off.", "5.000"],
      ["1", "main-captions", "MSRvid", "2012test", "0004", "none", "none", "A man is playing a large flute.", "A man is playing a flute.", "3.800"],
      ["2", "main-news", "headlines", "2016", "1470", "x", "y", "One", "Two", "0"],
    ]),
  });
  const ex = readGlueSplit(dir, "stsb", "train");
  assert.deepEqual(ex.map((e) => e.label), [5, 3.8, 0]);
  const d = readGlueSplit(dir, "stsb", "train", { doubleUnordered: true });
  assert.equal(d.length, 6);
  assert.deepEqual(d.slice(0, 3), ex);
  assert.deepEqual(d[3], { guid: "stsb-train-3", index: 3, id: "0", textA: "An air plane is taking off.", textB: "A plane is taking off.", label: 5 });
  assert.throws(() => readGlueSplit(dir, "stsb", "dev", { doubleUnordered: true }), /train split only/);
  assert.throws(() => readGlueSplit(dir, "cola", "train", { doubleUnordered: true }), /sentence-pair/);
  assert.equal(readGlueSplit(dir, "stsb", "train", { maxRows: 2 }).length, 2);
});

test("MRPC rebuild on synthetic files: source order, dev pairs removed, BOM handled", () => {
  const header = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"];
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  const dir = makeDir({
    "MRPC/msr_paraphrase_train.txt": Buffer.concat([bom, Buffer.from(tsv([
      header,
      ["1", "702876", "702977", "A one .", "A 1 ."],
      ["0", "2108705", "2108831", "B two .", "B 2 ."],
      ["1", "1330381", "1330521", "C three .", "C 3 ."],
      ["0", "3344667", "3344648", "D four .", "D 4 ."],
    ], "\r\n"))]),
    "MRPC/dev_ids.tsv": tsv([["2108705", "2108831"], ["3344667", "3344648"], ["702977", "702876"]]),
  });
  const ex = readGlueSplit(dir, "mrpc", "train", { mrpcRebuildTrain: true });
  assert.deepEqual(ex, [
    { guid: "mrpc-train-0", index: 0, textA: "A one .", textB: "A 1 .", label: "1" },
    { guid: "mrpc-train-1", index: 1, textA: "C three .", textB: "C 3 .", label: "1" },
  ]);
  const doubled = readGlueSplit(dir, "mrpc", "train", { mrpcRebuildTrain: true, doubleUnordered: true });
  assert.deepEqual(doubled.map((e) => e.textA), ["A one .", "C three .", "A 1 .", "C 3 ."]);
  const bad = makeDir({
    "MRPC/msr_paraphrase_train.txt": tsv([header, ["1", "1", "2", "a", "b"]]),
    "MRPC/dev_ids.tsv": tsv([["5", "6"], ["7"]]),
  });
  assertFormatError(
    () => readGlueSplit(bad, "mrpc", "train", { mrpcRebuildTrain: true }),
    path.join(bad, "MRPC", "dev_ids.tsv"), 2, /expected 2 tab-separated ids/,
  );
  assert.throws(() => readGlueSplit(makeDir({}), "mrpc", "train", { mrpcRebuildTrain: true }), /cannot read/);
});

// ---------------------------------------------------------------------------------------------
// Malformed rows
// ---------------------------------------------------------------------------------------------

test("malformed rows throw naming the file and the 1-based line", () => {
  const qqpHead = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"];
  const cases: { task: string; split: string; file: string; content: string | Buffer; line: number; reason: RegExp }[] = [
    {
      task: "qqp", split: "train", file: "QQP/train.tsv", line: 3, reason: /expected 6 tab-separated fields, found 5/,
      content: tsv([qqpHead, ["1", "2", "3", "q1", "q2", "0"], ["4", "5", "6", "only one question", "1"]]),
    },
    {
      task: "rte", split: "dev", file: "RTE/dev.tsv", line: 2, reason: /bad label "neutral"/,
      content: tsv([["index", "sentence1", "sentence2", "label"], ["0", "a", "b", "neutral"]]),
    },
    {
      task: "qnli", split: "train", file: "QNLI/train.tsv", line: 1, reason: /header has 3 fields, expected 4/,
      content: tsv([["index", "question", "sentence"], ["0", "a", "b"]]),
    },
    {
      task: "mnli", split: "dev_matched", file: "MNLI/dev_matched.tsv", line: 3, reason: /bad label "-"/,
      content: tsv([MNLI_DEV_HEADER, mnliRow(0, "g", "a", "b", Array(6).fill("neutral")), mnliRow(1, "g", "c", "d", Array(6).fill("-"))]),
    },
    {
      task: "mnli", split: "train", file: "MNLI/train.tsv", line: 2, reason: /expected 12 tab-separated fields, found 11/,
      content: tsv([MNLI_TRAIN_HEADER, mnliRow(0, "g", "a", "b", ["neutral"])]),
    },
    {
      task: "stsb", split: "dev", file: "STS-B/dev.tsv", line: 2, reason: /score "abc" is not a number/,
      content: "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\to\ts\ts\ta\tb\tabc\n",
    },
    {
      task: "stsb", split: "dev", file: "STS-B/dev.tsv", line: 3, reason: /score "" is not a number/,
      content: "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\to\ts\ts\ta\tb\t1.5\n1\tg\tf\ty\to\ts\ts\ta\tb\t\n",
    },
    {
      task: "stsb", split: "train", file: "STS-B/train.tsv", line: 2, reason: /outside \[0, 5\]/,
      content: "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\to\ts\ts\ta\tb\t5.2\n",
    },
    {
      task: "cola", split: "dev", file: "CoLA/dev.tsv", line: 2, reason: /empty line/,
      content: "gj04\t1\t\tFine.\n\ngj04\t0\t*\tBad.\n",
    },
    {
      task: "cola", split: "train", file: "CoLA/train.tsv", line: 2, reason: /bad label "\*"/,
      content: "gj04\t1\t\tFine.\r\ngj04\t*\t0\tSwapped columns.\r\n",
    },
    {
      task: "sst2", split: "train", file: "SST-2/train.tsv", line: 3, reason: /invalid UTF-8/,
      content: Buffer.concat([Buffer.from("sentence\tlabel\ngood \t1\nbad "), Buffer.from([0xff, 0xfe]), Buffer.from("\t0\n")]),
    },
    {
      task: "sst2", split: "test", file: "SST-2/test.tsv", line: 1, reason: /missing header/,
      content: "",
    },
  ];
  for (const c of cases) {
    const dir = makeDir({ [c.file]: c.content });
    assertFormatError(() => readGlueSplit(dir, c.task, c.split), path.join(dir, c.file), c.line, c.reason);
  }
});

test("malformed rows can be skipped and reported", () => {
  const dir = makeDir({
    "RTE/train.tsv": tsv([
      ["index", "sentence1", "sentence2", "label"],
      ["0", "a", "b", "entailment"],
      ["1", "c", "maybe"],
      ["2", "e", "f", "neither"],
      ["3", "g", "h", "not_entailment"],
    ]),
  });
  const skipped: string[] = [];
  const ex = readGlueSplit(dir, "rte", "train", { malformed: "skip", onSkip: (e) => skipped.push(`${e.line}: ${e.reason}`) });
  assert.deepEqual(ex.map((e) => [e.guid, e.id, e.label]), [["rte-train-0", "0", "entailment"], ["rte-train-1", "3", "not_entailment"]]);
  assert.deepEqual(skipped, [
    "3: expected 4 tab-separated fields, found 3",
    '4: bad label "neither" (expected one of: entailment, not_entailment)',
  ]);
  assert.throws(() => readGlueSplit(dir, "rte", "train"), /RTE[/\\]train\.tsv:3: /);
});

test("readGlueFile reads a file outside the standard layout with a split's layout", () => {
  const dir = makeDir({ "any/name.txt": tsv([["index", "sentence1", "sentence2"], ["7", "x", "y"]]) });
  assert.deepEqual(readGlueFile("ax", "diagnostic", path.join(dir, "any/name.txt")), [
    { guid: "ax-test-0", index: 0, id: "7", textA: "x", textB: "y" },
  ]);
});

// ---------------------------------------------------------------------------------------------
// Predictions
// ---------------------------------------------------------------------------------------------

test("writePredictions: header, one row per example, index column or position, STS-B floats", () => {
  const dir = makeDir({});
  const p = path.join(dir, "out", "nested", "STS-B.tsv");
  writePredictions(p, [{ index: 0, prediction: 3.14159 }, { index: 1, prediction: 0 }, { index: 2, prediction: 5 }]);
  assert.equal(readFileSync(p, "utf8"), "index\tprediction\n0\t3.142\n1\t0.000\n2\t5.000\n");
  assert.equal(formatPredictions([{ index: 0, prediction: 0.1 + 0.2 }], { decimals: null }), "index\tprediction\n0\t0.30000000000000004\n");
  assert.equal(formatPredictions([]), "index\tprediction\n");
  const ex: GlueExample[] = [
    { guid: "rte-test-0", index: 0, id: "10", textA: "a", textB: "b" },
    { guid: "rte-test-1", index: 1, id: "11", textA: "c", textB: "d" },
  ];
  assert.equal(
    formatPredictions(predictionRows(ex, ["not_entailment", "entailment"])),
    "index\tprediction\n10\tnot_entailment\n11\tentailment\n",
  );
  const noId: GlueExample[] = ex.map(({ id: _id, ...rest }) => rest);
  assert.deepEqual(predictionRows(noId, ["0", "1"]), [{ index: 0, prediction: "0" }, { index: 1, prediction: "1" }]);
  assert.throws(() => predictionRows(ex, ["0"]), /1 predictions for 2 examples/);
  assert.throws(() => formatPredictions([{ index: 0, prediction: "a\tb" }]), /bad prediction/);
  assert.throws(() => formatPredictions([{ index: 0, prediction: NaN }]), /not finite/);
  assert.throws(() => formatPredictions([{ index: 0, prediction: 1 }], { decimals: -1 }), /decimals/);
});
