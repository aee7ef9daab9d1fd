// src/metrics/squad.ts against the official SQuAD scripts (../shared/data/scorers/squad/
// evaluate-v1.1.py and evaluate-v2.0.py). Generated predictions for the real dev sets and a few
// small hand-made datasets are scored by both; the script's stdout must equal formatPythonJson of
// our result byte for byte.
// Where /usr/bin/python3 is missing (or SQUAD_NO_PYTHON=1), our output is compared with EXPECTED,
// recorded from real runs of the scripts (CPython 3.11.2). To re-record after changing a generator or a dataset:
//   SQUAD_RECORD=/tmp/squad-expected.json node --test <compiled test>   (then paste the JSON)
// evaluate-v2.0.py imports numpy without using it unless given a na_prob file; where numpy is not
// installed the script runs with an empty stand-in module on PYTHONPATH.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  computeExact,
  computeF1,
  evaluateV1,
  evaluateV2,
  exactMatch,
  f1,
  formatPythonJson,
  isUnassignedInUnicode14,
  normalizeAnswer,
  pythonFloatRepr,
  pythonSum,
  readSquadDataset,
  scoreV2,
} from "../../src/metrics/squad.js";
import { mulberry32 } from "../helpers/prng.js";

const SCORERS = path.resolve(process.cwd(), "../shared/data/scorers/squad");
const SCRIPT_V1 = path.join(SCORERS, "evaluate-v1.1.py");
const SCRIPT_V2 = path.join(SCORERS, "evaluate-v2.0.py");
const DEV_V1 = path.resolve(process.cwd(), "../shared/data/qa/squad-v1.1/dev-v1.1.json");
const DEV_V2 = path.resolve(process.cwd(), "../shared/data/qa/squad-v2.0-normans/dev-v2.0.json");
const PYTHON = "/usr/bin/python3";
/** SQUAD_NO_PYTHON=1 checks against the recorded outputs even where python3 exists. */
const HAVE_PYTHON =
  !process.env.SQUAD_NO_PYTHON && fs.existsSync(PYTHON) && fs.existsSync(SCRIPT_V1) && fs.existsSync(SCRIPT_V2);
/** Marks a missing prediction for the script: one token that matches no gold answer. */
const NO_MATCH = "\u0001missing\u0001";

// Recorded script outputs (CPython 3.11.2; "-python3.12" from CPython 3.12.1 and 3.13.0, which agree).
const EXPECTED: Record<string, string> = {
  "v1-dev": "{\"exact_match\": 42.78145695364238, \"f1\": 57.65731767476824}",
  "v2-normans-complete": "{\n  \"exact\": 27.884615384615383,\n  \"f1\": 34.98855311355311,\n  \"total\": 208,\n  \"HasAns_exact\": 44.791666666666664,\n  \"HasAns_f1\": 60.18353174603174,\n  \"HasAns_total\": 96,\n  \"NoAns_exact\": 13.392857142857142,\n  \"NoAns_f1\": 13.392857142857142,\n  \"NoAns_total\": 112\n}",
  "v2-normans-missing": "{\n  \"exact\": 27.403846153846153,\n  \"f1\": 34.507783882783876,\n  \"total\": 208,\n  \"HasAns_exact\": 44.791666666666664,\n  \"HasAns_f1\": 60.18353174603174,\n  \"HasAns_total\": 96,\n  \"NoAns_exact\": 12.5,\n  \"NoAns_f1\": 12.5,\n  \"NoAns_total\": 112\n}",
  "v2-dev-v1": "{\n  \"exact\": 43.519394512771996,\n  \"f1\": 58.164002054278974,\n  \"total\": 10570,\n  \"HasAns_exact\": 43.519394512771996,\n  \"HasAns_f1\": 58.164002054278974,\n  \"HasAns_total\": 10570\n}",
  "corner-v2-mixed": "{\n  \"exact\": 33.333333333333336,\n  \"f1\": 66.66666666666666,\n  \"total\": 6,\n  \"HasAns_exact\": 25.0,\n  \"HasAns_f1\": 74.99999999999999,\n  \"HasAns_total\": 4,\n  \"NoAns_exact\": 50.0,\n  \"NoAns_f1\": 50.0,\n  \"NoAns_total\": 2\n}",
  "corner-v1-answered": "{\"exact_match\": 20.0, \"f1\": 26.666666666666664}",
  "corner-v2-noans": "{\n  \"exact\": 66.66666666666667,\n  \"f1\": 66.66666666666667,\n  \"total\": 3,\n  \"NoAns_exact\": 66.66666666666667,\n  \"NoAns_f1\": 66.66666666666667,\n  \"NoAns_total\": 3\n}",
  "v2-dev-v1-python3.12": "{\n  \"exact\": 43.519394512771996,\n  \"f1\": 58.16400205427817,\n  \"total\": 10570,\n  \"HasAns_exact\": 43.519394512771996,\n  \"HasAns_f1\": 58.16400205427817,\n  \"HasAns_total\": 10570\n}",
};

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "squad-test-"));
process.on("exit", () => fs.rmSync(TMP, { recursive: true, force: true }));

let pythonEnv: NodeJS.ProcessEnv | undefined;
function scriptEnv(): NodeJS.ProcessEnv {
  if (pythonEnv) return pythonEnv;
  pythonEnv = { ...process.env, PYTHONIOENCODING: "utf-8" };
  if (spawnSync(PYTHON, ["-c", "import numpy"]).status !== 0) {
    const stub = path.join(TMP, "numpy-stub");
    fs.mkdirSync(stub, { recursive: true });
    fs.writeFileSync(path.join(stub, "numpy.py"), "# stand-in: evaluate-v2.0.py only uses numpy for na_prob plots\n");
    pythonEnv.PYTHONPATH = stub;
  }
  return pythonEnv;
}

interface ScriptRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

let fileCounter = 0;
function writeJson(value: unknown): string {
  const file = path.join(TMP, `f${fileCounter++}.json`);
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

function runScript(script: string, dataFile: string, predictions: unknown): ScriptRun {
  const r = spawnSync(PYTHON, [script, dataFile, writeJson(predictions)], {
    encoding: "utf8",
    env: scriptEnv(),
    maxBuffer: 64 << 20,
    timeout: 300_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const recorded: Record<string, string> = {};
process.on("exit", () => {
  const file = process.env.SQUAD_RECORD;
  if (file) fs.writeFileSync(file, JSON.stringify(recorded, null, 2) + "\n");
});

/**
 * What the script prints as its result (stdout without the final newline): from a real run, or
 * from EXPECTED where python3 is missing. The run must succeed with nothing else on stdout.
 */
function scriptResult(name: string, script: string, dataFile: string, predictions: unknown): string {
  if (!HAVE_PYTHON) {
    const expected = EXPECTED[name];
    assert.ok(expected !== undefined, `no recorded output for ${name}`);
    return expected;
  }
  const r = runScript(script, dataFile, predictions);
  assert.equal(r.status, 0, `${name}: script failed: ${r.stderr}`);
  assert.ok(r.stdout.endsWith("\n"));
  const out = r.stdout.slice(0, -1);
  recorded[name] = out;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Generated predictions


const UNICODE_ONLY = [
  "Σίσυφος", "ΟΔΟΣ ΣΑΣ", "thé", "é a the", "ça va", "日本語", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ǅemal", "İstanbul", "STRAẞE",
  "ﬁne", "a\u00e9", "éa", "the\u0301", "\u00bda", "ʕΣ", "\ua7cb", "a\u{10d50}", "Ⅻ the", "_a_", "Köln",
  "São Paulo", "Zürich", "Dvořák", "Москва", "القاهرة", "\u200b", "\ufeff", "\u0085",
];
const ODD_SPACES = ["\u00a0", "\u2009", "\x1c", "\x1f", "\x85", "\u200b", "\ufeff", "\u3000", "\t\n", "\u180e", "\u2028"];

interface RawQa {
  id: string;
  answers: { text: string }[];
  plausible_answers?: { text: string }[];
}
interface RawDataset {
  version: string;
  data: { title: string; paragraphs: { context: string; qas: RawQa[] }[] }[];
}

interface Generated {
  predictions: Record<string, string>; // as read back from JSON (own "__proto__" key and all)
  missing: string[];
}

function generatePredictions(dataset: RawDataset, seed: number, missingRate: number): Generated {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const preds: Record<string, string> = Object.create(null);
  const missing: string[] = [];
  for (const article of dataset.data) {
    for (const paragraph of article.paragraphs) {
      const ctx = paragraph.context;
      const words = ctx.split(" ");
      const wordSpan = (): string => {
        const start = Math.floor(rnd() * words.length);
        return words.slice(start, start + 1 + Math.floor(rnd() * 6)).join(" ");
      };
      for (const qa of paragraph.qas) {
        if (rnd() < missingRate) {
          missing.push(qa.id);
          continue;
        }
        const golds = qa.answers.length > 0 ? qa.answers : (qa.plausible_answers ?? []);
        const g = golds.length > 0 ? pick(golds).text : wordSpan();
        const gw = g.split(" ");
        let p: string;
        const r = rnd();
        if (r < 0.25) p = g;
        else {
          switch (Math.floor(rnd() * 13)) {
            case 0: p = `the ${g} and more`; break;
            case 1: p = gw.length > 1 ? gw.slice(1).join(" ") : `${g} ${wordSpan()}`; break;
            case 2: p = wordSpan(); break;
            case 3: {
              const s = Math.floor(rnd() * ctx.length);
              p = ctx.slice(s, s + 1 + Math.floor(rnd() * 40));
              break;
            }
            case 4: p = `The ${g}.`; break;
            case 5: p = `"${g.toUpperCase()}"!`; break;
            case 6: p = ""; break;
            case 7: p = pick(UNICODE_ONLY); break;
            case 8: p = gw.join(pick(ODD_SPACES)); break;
            case 9: p = pick(["a", "an ", "the-", "A ", "an"]) + g; break;
            case 10: p = `${g} ${g}`; break;
            case 11: p = pick(["", " ", ".", "the", "a.", "An!"]); break;
            default: p = `${g}${pick(["é", "\u0301", "ß", "s", "'s", "\u00bd"])}`; break;
          }
        }
        preds[qa.id] = p;
      }
    }
  }
  preds["not-a-question"] = "France";
  preds["__proto__"] = "x";
  preds["constructor"] = "y";
  return { predictions: JSON.parse(JSON.stringify(preds)) as Record<string, string>, missing };
}

function filled(g: Generated): Record<string, string> {
  const out: Record<string, string> = JSON.parse(JSON.stringify(g.predictions));
  for (const id of g.missing) out[id] = NO_MATCH;
  return out;
}

/** The predictions with every missing id answered ("" or a word), for a run without missing ids. */
function withoutMissing(g: Generated): Record<string, string> {
  const out = filled(g);
  const rnd = mulberry32(7);
  for (const id of g.missing) out[id] = rnd() < 0.5 ? "" : "Normandy";
  return out;
}

function loadDataset(file: string): RawDataset | undefined {
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, "utf8")) as RawDataset;
}

// ---------------------------------------------------------------------------------------------
// Real data

test("v1.1 on dev-v1.1.json equals evaluate-v1.1.py, stdout and stderr", (t) => {
  const dataset = loadDataset(DEV_V1);
  if (!dataset) {
    t.skip(`${DEV_V1} is absent`);
    return;
  }
  const questions = readSquadDataset(dataset, DEV_V1);
  assert.equal(questions.length, 10570);
  const nonAscii = dataset.data.flatMap((a) => a.paragraphs).filter((p) => /[^\x00-\x7f]/.test(p.context));
  assert.equal(nonAscii.length, 674);

  const g = generatePredictions(dataset, 11, 0.03);
  assert.ok(g.missing.length > 250 && g.missing.length < 400, `${g.missing.length} missing`);
  const messages: string[] = [];
  const ours = evaluateV1(dataset, g.predictions, { onMessage: (m) => messages.push(m) });
  assert.equal(messages.length, g.missing.length);
  assert.equal(messages[0], `Unanswered question ${g.missing[0]} will receive score 0.`);
  assert.equal(formatPythonJson(ours), scriptResult("v1-dev", SCRIPT_V1, DEV_V1, g.predictions));
  if (HAVE_PYTHON) {
    const r = runScript(SCRIPT_V1, DEV_V1, g.predictions);
    assert.equal(r.stderr, messages.map((m) => m + "\n").join(""));
  }
  // A sanity anchor independent of the script: the gold answers score 100.
  const gold = Object.fromEntries(questions.map((q) => [q.id, q.answers[0]!]));
  assert.equal(formatPythonJson(evaluateV1(dataset, gold)), '{"exact_match": 100.0, "f1": 100.0}');
});

test("v2.0 on the Normans dev set equals evaluate-v2.0.py", (t) => {
  const dataset = loadDataset(DEV_V2);
  if (!dataset) {
    t.skip(`${DEV_V2} is absent`);
    return;
  }
  const questions = readSquadDataset(dataset, DEV_V2);
  assert.equal(questions.length, 208);
  assert.equal(questions.filter((q) => q.isImpossible).length, 112);

  const g = generatePredictions(dataset, 5, 0.03);
  assert.ok(g.missing.length >= 3, `${g.missing.length} missing`);
  const missingNoAns = g.missing.filter((id) => questions.find((q) => q.id === id)!.isImpossible);
  assert.ok(missingNoAns.length > 0, "some unanswerable question should be missing");

  // No missing ids: exactly the script.
  const complete = withoutMissing(g);
  assert.equal(formatPythonJson(evaluateV2(dataset, complete), 2), scriptResult("v2-normans-complete", SCRIPT_V2, DEV_V2, complete));

  // Missing ids count as wrong: the script with those ids given a prediction that matches nothing.
  const messages: string[] = [];
  const ours = evaluateV2(dataset, g.predictions, { onMessage: (m) => messages.push(m) });
  assert.deepEqual(messages, g.missing.map((id) => `Missing prediction for ${id}`));
  assert.equal(ours["total"], 208);
  assert.equal(ours["HasAns_total"], 96);
  assert.equal(ours["NoAns_total"], 112);
  assert.deepEqual(Object.keys(ours), [
    "exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact", "NoAns_f1", "NoAns_total",
  ]);
  assert.equal(formatPythonJson(ours, 2), scriptResult("v2-normans-missing", SCRIPT_V2, DEV_V2, filled(g)));
  // "" would not do for the filling: it is the right answer to an unanswerable question.
  const withEmpty = filled(g);
  for (const id of missingNoAns) withEmpty[id] = "";
  assert.ok(evaluateV2(dataset, withEmpty)["NoAns_exact"]! > ours["NoAns_exact"]!);

  if (HAVE_PYTHON) {
    // The script itself, given the missing ids, prints them on stdout and then dies in make_eval_dict.
    const r = runScript(SCRIPT_V2, DEV_V2, g.predictions);
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, messages.map((m) => m + "\n").join(""));
    assert.match(r.stderr, /KeyError/);
  }
});

test("v2.0 on dev-v1.1.json (answerable only, 10570 float sums) equals evaluate-v2.0.py", (t) => {
  const dataset = loadDataset(DEV_V1);
  if (!dataset) {
    t.skip(`${DEV_V1} is absent`);
    return;
  }
  const g = generatePredictions(dataset, 23, 0.03);
  const ours = evaluateV2(dataset, g.predictions);
  assert.deepEqual(Object.keys(ours), ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total"]);
  assert.equal(formatPythonJson(ours, 2), scriptResult("v2-dev-v1", SCRIPT_V2, DEV_V1, filled(g)));
  // CPython 3.12+ sum() compensates: here it changes the last digit (recorded with CPython 3.12.1
  // and 3.13.0, with the stand-in numpy).
  const neumaier = evaluateV2(dataset, g.predictions, { floatSum: "neumaier" });
  assert.equal(formatPythonJson(neumaier, 2), EXPECTED["v2-dev-v1-python3.12"]);
});

// ---------------------------------------------------------------------------------------------
// Small datasets for the corners

function ds(version: string, qas: unknown[]): unknown {
  return { version, data: [{ title: "T", paragraphs: [{ context: "c", qas }] }] };
}

test("corner datasets equal both scripts", () => {
  // Duplicate ids, an answerable question whose answers normalize to "", unanswerable questions,
  // answers with non-ASCII text.
  const mixed = ds("2.0", [
    { id: "q1", answers: [{ text: "The Eiffel Tower" }, { text: "Eiffel" }] },
    { id: "q2", answers: [{ text: "The" }, { text: "." }] },
    { id: "q3", answers: [] },
    { id: "q1", answers: [{ text: "Paris, France" }] },
    { id: "q4", answers: [{ text: "Zürich" }, { text: "thé vert" }] },
    { id: "q5", answers: [] },
    { id: "q6", answers: [{ text: "x y z" }] },
  ]);
  const mixedFile = writeJson(mixed);
  const preds = { q1: "Paris", q2: "", q3: "the.", q4: "thé", q5: "something", q6: "x x y", extra: "ignored" };
  const v2 = evaluateV2(mixed, preds);
  assert.equal(v2["total"], 6); // q1 once
  assert.equal(formatPythonJson(v2, 2), scriptResult("corner-v2-mixed", SCRIPT_V2, mixedFile, preds));

  // v1.1 counts both q1, warns about the version, and fails on answerless questions with a prediction.
  const answered = ds("2.0", [
    { id: "q1", answers: [{ text: "The Eiffel Tower" }] },
    { id: "q2", answers: [{ text: "The" }] },
    { id: "q1", answers: [{ text: "Paris, France" }] },
    { id: "q4", answers: [{ text: "Zürich" }, { text: "thé vert" }] },
    { id: "q6", answers: [{ text: "x y z" }] },
  ]);
  const answeredFile = writeJson(answered);
  const messages: string[] = [];
  const v1 = evaluateV1(answered, { q1: "Paris", q2: "", q4: "thé" }, { onMessage: (m) => messages.push(m) });
  assert.deepEqual(messages, ["Evaluation expects v-1.1, but got dataset with v-2.0", "Unanswered question q6 will receive score 0."]);
  assert.equal(formatPythonJson(v1), scriptResult("corner-v1-answered", SCRIPT_V1, answeredFile, { q1: "Paris", q2: "", q4: "thé" }));
  if (HAVE_PYTHON) {
    const r = runScript(SCRIPT_V1, answeredFile, { q1: "Paris", q2: "", q4: "thé" });
    assert.equal(r.stderr, messages.map((m) => m + "\n").join(""));
    const crash = runScript(SCRIPT_V1, mixedFile, preds);
    assert.notEqual(crash.status, 0);
    assert.match(crash.stderr, /max\(\) arg is an empty sequence/);
  }
  assert.throws(() => evaluateV1(mixed, preds), /question "q3" has no answers/);

  // Only unanswerable questions: no HasAns keys.
  const none = ds("2.0", [{ id: "a", answers: [] }, { id: "b", answers: [] }, { id: "c", answers: [] }]);
  const nonePreds = { a: "", b: "x", c: "An." };
  const v2none = evaluateV2(none, nonePreds);
  assert.deepEqual(Object.keys(v2none), ["exact", "f1", "total", "NoAns_exact", "NoAns_f1", "NoAns_total"]);
  assert.equal(formatPythonJson(v2none, 2), scriptResult("corner-v2-noans", SCRIPT_V2, writeJson(none), nonePreds));
  assert.equal(formatPythonJson(v2none, 2), '{\n  "exact": 66.66666666666667,\n  "f1": 66.66666666666667,\n  "total": 3,\n  "NoAns_exact": 66.66666666666667,\n  "NoAns_f1": 66.66666666666667,\n  "NoAns_total": 3\n}');
});

test("ids that are Object.prototype names are looked up as own keys only", () => {
  const data = ds("1.1", [
    { id: "constructor", answers: [{ text: "yes" }] },
    { id: "toString", answers: [{ text: "no" }] },
  ]);
  const messages: string[] = [];
  assert.deepEqual(evaluateV1(data, {}, { onMessage: (m) => messages.push(m) }), { exact_match: 0, f1: 0 });
  assert.equal(messages.length, 2);
  assert.deepEqual(evaluateV1(data, JSON.parse('{"constructor": "yes", "__proto__": "no"}')), { exact_match: 50, f1: 50 });
  assert.deepEqual(evaluateV1(data, new Map([["toString", "no"]])), { exact_match: 50, f1: 50 });
  assert.throws(() => evaluateV1(data, { constructor: 5 } as unknown as Record<string, string>), /prediction for question "constructor" is a number/);
});

test("a missing v2.0 prediction scores 0 for unanswerable questions too", () => {
  const data = ds("2.0", [{ id: "a", answers: [] }, { id: "b", answers: [{ text: "x" }] }]);
  const out = scoreV2(readSquadDataset(data, "mem"), { b: "x" });
  assert.deepEqual(out, {
    exact: 50, f1: 50, total: 2, HasAns_exact: 100, HasAns_f1: 100, HasAns_total: 1, NoAns_exact: 0, NoAns_f1: 0, NoAns_total: 1,
  });
  assert.deepEqual(scoreV2(readSquadDataset(data, "mem"), { a: NO_MATCH, b: "x" }), out);
});

// ---------------------------------------------------------------------------------------------
// Units

test("normalizeAnswer: articles, punctuation, Python lower() and whitespace", () => {
  const cases: Array<[string, string]> = [
    ["The Café", "café"],
    ["thé a", "thé"], // "thé" is a word, "a" is an article
    ["a\u00e9", "a\u00e9"], // JS's ASCII \b would drop the "a"
    ["\u00e9a", "\u00e9a"],
    ["the\u0301", "\u0301"], // U+0301 is not a word character
    ["\u00bda", "\u00bda"], // ½ is numeric, so a word character
    ["Ⅻ the end", "ⅻ end"],
    ["1a a1 a", "1a a1"],
    ["a_b the_end", "ab theend"], // "_" is punctuation, removed before the articles
    ["the-end", "theend"],
    ["U.S.A.", "usa"],
    ["an apple, a pear and the fig!", "apple pear and fig"],
    ["An", ""],
    ["x\x1cy\x1dz\x1e\x1fw", "x y z w"],
    ["x\u0085y\u00a0z\u2009w\u3000v\u2028u", "x y z w v u"],
    ["x\u200by", "x\u200by"], // not whitespace to Python
    ["x\ufeffy", "x\ufeffy"],
    ["x\u180ey", "x\u180ey"],
    ["İstanbul", "i\u0307stanbul"],
    ["ΟΔΟΣ ΣΑΣ", "οδος σας"],
    ["STRAẞE", "straße"],
    ["ǅemal", "ǆemal"],
    // Characters new since Unicode 14 are unassigned to Python 3.11: no case mapping, not a word.
    ["\ua7cb", "\ua7cb"],
    ["a\u{10d50}", "\u{10d50}"],
    // Properties changed since Unicode 14: U+0295 was cased, U+1171E case-ignorable.
    ["\u0295\u03a3", "\u0295\u03c2"],
    ["A\u03a3\u{1171e}B", "a\u03c3\u{1171e}b"],
    ["", ""],
  ];
  for (const [input, want] of cases) assert.equal(normalizeAnswer(input), want, JSON.stringify(input));
  if (HAVE_PYTHON) {
    const r = spawnSync(PYTHON, ["-c", NORMALIZE_PY, SCRIPT_V1], { input: JSON.stringify(cases.map((c) => c[0])), encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), cases.map((c) => c[1]));
  }
});

const NORMALIZE_PY = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("ev", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
print(json.dumps([m.normalize_answer(s) for s in json.load(sys.stdin)]))
`;

test("normalizeAnswer equals the script's normalize_answer over a wide sample of code points", (t) => {
  if (!HAVE_PYTHON) {
    t.skip(`${PYTHON} is absent`);
    return;
  }
  // Every code point of U+0000-U+2FFF, every one this Node knows but Unicode 14 did not, and every
  // 211th of the rest, in contexts that exercise lower() (with final sigma), the word boundary and
  // whitespace.
  const cps: number[] = [];
  for (let cp = 0; cp < 0x3000; cp++) cps.push(cp);
  for (let cp = 0x3000; cp < 0x110000; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const ch = String.fromCodePoint(cp);
    if (cp % 211 === 0 || (isUnassignedInUnicode14(ch) && !/\p{Cn}/u.test(ch))) cps.push(cp);
  }
  cps.push(0x1171e);
  const templates = ["{}", "a{}", "{}the", "A\u03a3{}", "A\u03a3{}B", "{}\u03a3", "A{}\u03a3"];
  const inputs = cps.flatMap((cp) => templates.map((tpl) => tpl.replace("{}", () => String.fromCodePoint(cp))));
  const r = spawnSync(PYTHON, ["-c", NORMALIZE_PY, SCRIPT_V2], { input: JSON.stringify(inputs), encoding: "utf8", maxBuffer: 256 << 20, env: scriptEnv() });
  assert.equal(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as string[];
  const bad = inputs.filter((s, i) => normalizeAnswer(s) !== want[i]);
  assert.deepEqual(bad.slice(0, 20).map((s) => JSON.stringify(s)), []);
});

test("exact and f1, v1.1 and v2.0, on the empty corners", () => {
  assert.equal(exactMatch("", ""), 1);
  assert.equal(f1("", ""), 0); // v1.1: no overlap is 0, even when both are empty
  assert.equal(f1("the", "a"), 0);
  assert.equal(exactMatch("The.", ""), 1);
  assert.equal(computeExact("", ""), 1);
  assert.equal(computeF1("", ""), 1); // v2.0: both without tokens agree
  assert.equal(computeF1("", "the."), 1);
  assert.equal(computeF1("", "x"), 0);
  assert.equal(computeF1("x", ""), 0);
  assert.equal(computeExact("Paris", "paris!"), 1);
  assert.equal(f1("the cat sat", "cat sat down"), 0.8);
  assert.equal(computeF1("cat sat down", "the cat sat"), 0.8);
  assert.equal(f1("x x y", "x y y"), 0.6666666666666666);
  assert.equal(f1("x x x", "x"), 0.5);
  assert.equal(f1("x", "y"), 0);
});

test("pythonSum follows CPython's sum() of ints and floats", () => {
  const fl = (value: number) => ({ value, isInt: false });
  const int = (value: number) => ({ value, isInt: true });
  const xs = [fl(0.1), fl(0.2), fl(0.3)];
  assert.equal(pythonSum(xs, "naive"), 0.6000000000000001);
  assert.equal(pythonSum(xs, "neumaier"), 0.6);
  assert.equal(pythonSum([int(1), int(2)], "neumaier"), 3);
  assert.equal(pythonSum([], "naive"), 0);
  // 3.12/3.13 add ints without compensation; newer sources compensate them too.
  const mixed = [fl(1e16), int(1), fl(1), fl(-1e16)];
  assert.equal(pythonSum(mixed, "naive"), 0);
  assert.equal(pythonSum(mixed, "neumaier"), 1);
  assert.equal(pythonSum(mixed, "neumaier-all"), 2);
});

test("formatPythonJson prints as json.dumps does", () => {
  assert.equal(formatPythonJson({ exact_match: 100, f1: 0 }), '{"exact_match": 100.0, "f1": 0.0}');
  assert.equal(formatPythonJson({ a: 1e-5, b: 66.66666666666667, c: 1e16, d: 9999999999999998, e: 1e-4 }),
    '{"a": 1e-05, "b": 66.66666666666667, "c": 1e+16, "d": 9999999999999998.0, "e": 0.0001}');
  assert.equal(formatPythonJson({ a: -0, b: 1.5e-7, c: 1.2345678901234568e17, d: 5e-324, e: 1.7976931348623157e308 }),
    '{"a": -0.0, "b": 1.5e-07, "c": 1.2345678901234568e+17, "d": 5e-324, "e": 1.7976931348623157e+308}');
  assert.equal(formatPythonJson({ a: NaN, b: Infinity, c: -Infinity, d: -12.5 }), '{"a": NaN, "b": Infinity, "c": -Infinity, "d": -12.5}');
  assert.equal(formatPythonJson({ total: 208, HasAns_total: 96, n: 3n, x: 3 }), '{"total": 208, "HasAns_total": 96, "n": 3, "x": 3.0}');
  assert.equal(formatPythonJson({ k: 2, total: 2 }, undefined, ["k"]), '{"k": 2, "total": 2.0}');
  assert.equal(formatPythonJson({ exact: 50, total: 2 }, 2), '{\n  "exact": 50.0,\n  "total": 2\n}');
  assert.equal(formatPythonJson({ exact: 50, total: 2 }, 0), '{\n"exact": 50.0,\n"total": 2\n}');
  assert.equal(formatPythonJson({}, 2), "{}");
  assert.equal(formatPythonJson({ "é\n\"": 1 }), '{"\\u00e9\\n\\"": 1.0}');
  assert.throws(() => formatPythonJson({ total: 1.5 }), /should be an int/);
});

test("pythonFloatRepr equals Python's repr() on random doubles", (t) => {
  if (!HAVE_PYTHON) {
    t.skip(`${PYTHON} is absent`);
    return;
  }
  const rnd = mulberry32(99);
  const buf = new DataView(new ArrayBuffer(8));
  const xs: number[] = [];
  const hex: string[] = [];
  for (let i = 0; i < 20000; i++) {
    if (i % 2 === 0) {
      buf.setUint32(0, Math.floor(rnd() * 2 ** 32));
      buf.setUint32(4, Math.floor(rnd() * 2 ** 32));
    } else {
      buf.setFloat64(0, (Math.floor(rnd() * 1e6) / Math.floor(1 + rnd() * 1e4)) * 10 ** Math.floor(rnd() * 44 - 22));
    }
    const x = buf.getFloat64(0);
    xs.push(x);
    hex.push([0, 1, 2, 3, 4, 5, 6, 7].map((k) => buf.getUint8(k).toString(16).padStart(2, "0")).join(""));
  }
  const py = "import json,struct,sys\nprint('\\n'.join(json.dumps(struct.unpack('>d', bytes.fromhex(h))[0]) for h in sys.stdin.read().split()))";
  const r = spawnSync(PYTHON, ["-c", py], { input: hex.join(" "), encoding: "utf8", maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const want = r.stdout.trimEnd().split("\n");
  const bad = xs.map((x, i) => [pythonFloatRepr(x), want[i]]).filter(([a, b]) => a !== b);
  assert.deepEqual(bad.slice(0, 10), []);
});

test("malformed datasets throw one line naming the question", () => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /^src\.json: top level: expected an object with a "data" list, got a list$/],
    [{ version: "1.1" }, /"data" is missing/],
    [{ data: [{ title: "T" }] }, /^src\.json: data\[0\] \(title "T"\): "paragraphs" is missing, expected a list$/],
    [{ data: [{ paragraphs: [{ context: "c" }] }] }, /^src\.json: data\[0\]\.paragraphs\[0\]: "qas" is missing, expected a list$/],
    [ds("1.1", [{ answers: [] }]), /data\[0\]\.paragraphs\[0\]\.qas\[0\]: question "id" is missing, expected a string$/],
    [ds("1.1", [{ id: 7, answers: [] }]), /question "id" is a number, expected a string$/],
    [ds("1.1", [{ id: "q9" }]), /question "q9" \(data\[0\]\.paragraphs\[0\]\.qas\[0\]\): "answers" is missing, expected a list$/],
    [ds("1.1", [{ id: "q9", answers: "Paris" }]), /question "q9" .*: "answers" is a string, expected a list$/],
    [ds("1.1", [{ id: "q9", answers: [{ text: 3 }] }]), /question "q9" .*: answers\[0\]\.text is a number, expected a string$/],
    [ds("1.1", [{ id: "q9", answers: [{ answer_start: 3 }] }]), /question "q9" .*: answers\[0\]\.text is missing, expected a string$/],
    [ds("1.1", [{ id: "q\n9", answers: null }]), /question "q\\n9" .*: "answers" is null, expected a list$/],
  ];
  for (const [json, re] of cases) {
    assert.throws(
      () => readSquadDataset(json, "src.json"),
      (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.ok(!/[\r\n]/.test(e.message), `one line: ${e.message}`);
        assert.match(e.message, re);
        return true;
      },
    );
  }
  assert.throws(() => evaluateV2({ data: 1 }, {}), /SQuAD v2\.0 dataset: top level: "data" is a number/);
  assert.throws(() => evaluateV2(ds("2.0", []), {}), /no questions/);
  // Fields the scripts never read are not required.
  assert.deepEqual(readSquadDataset({ data: [{ paragraphs: [{ qas: [{ id: "x", answers: [{ text: "t" }] }] }] }] }, "s"), [
    { id: "x", answers: ["t"], isImpossible: false },
  ]);
});

