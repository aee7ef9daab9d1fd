// src/metrics/conll.ts against the real conlleval Perl script (../shared/data/scorers/conlleval/
// conlleval, version 2004-01-26). Every file below is scored by both; the report text must be
// identical byte for byte and every printed number must agree with our fractions.
// Where perl is missing, the reports are compared with EXPECTED, recorded from real runs of the
// script (perl 5.36). To re-record after changing a generated file:
//   CONLL_RECORD=/tmp/conll-expected.json node --test <compiled test>   (then paste the JSON)
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  ConllEvaluator,
  countConllText,
  endOfChunk,
  formatConlleval,
  iobesToIob2,
  printfFixed,
  scoreConllText,
  scoreSentences,
  splitConllTag,
  startOfChunk,
  type ConllScore,
} from "../../src/metrics/conll.js";
import { mulberry32 } from "../helpers/prng.js";

const SHARED = path.resolve(process.cwd(), "../shared");
const SCRIPT = path.resolve(process.cwd(), "../shared/data/scorers/conlleval/conlleval");
const CONLL03 = path.join(SHARED, "data/ner/conll2003/valid.txt");
const CONLL03_IOB1 = path.join(SHARED, "data/ner/conll2003-iob1/eng.testa");
const CONLL00 = path.join(SHARED, "data/chunking/conll2000/train.txt");
const SEQEVAL_GT = path.join(SHARED, "data/scorers/seqeval/tests/data/ground_truth.txt");

function absent(p: string): string | false {
  return fs.existsSync(p) ? false : `${path.relative(process.cwd(), p)} absent`;
}
const PERL_OK = spawnSync("perl", ["-v"]).status === 0 && fs.existsSync(SCRIPT);
if (!PERL_OK) console.log(`conll: perl or ${SCRIPT} unavailable: comparing with recorded conlleval reports only`);

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "conll-test-"));
process.on("exit", () => fs.rmSync(TMP, { recursive: true, force: true }));

// Reports printed by conlleval (2004-01-26) under perl 5.36 for the files below.
const EXPECTED: Record<string, string> = {
  "edge-i-after-o.txt":
    "processed 9 tokens with 3 phrases; found: 3 phrases; correct: 1.\naccuracy:  44.44%; precision:  33.33%; recall:  33.33%; FB1:  33.33\n              LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n",
  "edge-type-change.txt":
    "processed 7 tokens with 3 phrases; found: 4 phrases; correct: 0.\naccuracy:  57.14%; precision:   0.00%; recall:   0.00%; FB1:   0.00\n              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n             MISC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n",
  "edge-sentence-end-in-chunk.txt":
    "processed 5 tokens with 3 phrases; found: 3 phrases; correct: 3.\naccuracy: 100.00%; precision: 100.00%; recall: 100.00%; FB1: 100.00\n              LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  2\n",
  "edge-only-o.txt":
    "processed 3 tokens with 0 phrases; found: 0 phrases; correct: 0.\naccuracy: 100.00%; precision:   0.00%; recall:   0.00%; FB1:   0.00\n",
  "edge-docstart.txt":
    "processed 7 tokens with 2 phrases; found: 4 phrases; correct: 2.\naccuracy:  71.43%; precision:  50.00%; recall: 100.00%; FB1:  66.67\n              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n             MISC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n              ORG: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n",
  "edge-no-prefix.txt":
    "processed 16 tokens with 8 phrases; found: 8 phrases; correct: 4.\naccuracy:  62.50%; precision:  50.00%; recall:  50.00%; FB1:  50.00\n                 : precision:  75.00%; recall:  60.00%; FB1:  66.67  4\n                 : precision:  75.00%; recall:  60.00%; FB1:  66.67  4\n              PER: precision:  33.33%; recall:  50.00%; FB1:  40.00  3\n            PER-X: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n",
  "edge-iobes.txt":
    "processed 11 tokens with 4 phrases; found: 4 phrases; correct: 3.\naccuracy:  45.45%; precision:  75.00%; recall:  75.00%; FB1:  75.00\n              LOC: precision:  50.00%; recall:  50.00%; FB1:  50.00  2\n              ORG: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n",
  "edge-chunk-across-boundary.txt":
    "processed 5 tokens with 2 phrases; found: 2 phrases; correct: 1.\naccuracy:  80.00%; precision:  50.00%; recall:  50.00%; FB1:  50.00\n                 : precision:  50.00%; recall:  50.00%; FB1:  50.00  2\n                 : precision:  50.00%; recall:  50.00%; FB1:  50.00  2\n",
  "edge-tie-rounding.txt":
    "processed 32 tokens with 1 phrases; found: 32 phrases; correct: 1.\naccuracy:   3.12%; precision:   3.12%; recall: 100.00%; FB1:   6.06\n              PER: precision:   3.12%; recall: 100.00%; FB1:   6.06  32\n",
  "edge-two-columns.txt":
    "processed 4 tokens with 2 phrases; found: 3 phrases; correct: 1.\naccuracy:  50.00%; precision:  33.33%; recall:  50.00%; FB1:  40.00\n              LOC: precision:  50.00%; recall: 100.00%; FB1:  66.67  2\n              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n",
  "edge-unicode-types.txt":
    "processed 4 tokens with 3 phrases; found: 4 phrases; correct: 2.\naccuracy:  50.00%; precision:  50.00%; recall:  66.67%; FB1:  57.14\n             PÉR: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n                Z: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n              Ａ: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n             😀: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n",
  "edge-crlf-no-blank.txt":
    "processed 3 tokens with 1 phrases; found: 2 phrases; correct: 0.\naccuracy:   0.00%; precision:   0.00%; recall:   0.00%; FB1:   0.00\n                 : precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  0\n             PER\r: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n",
  "edge-spaces.txt":
    "processed 4 tokens with 2 phrases; found: 1 phrases; correct: 1.\naccuracy:  75.00%; precision: 100.00%; recall:  50.00%; FB1:  66.67\n              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  0\n              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n",
  "edge-empty.txt":
    "processed 0 tokens with 0 phrases; found: 0 phrases; correct: 0.\n",
  "edge-boundary-lines-only.txt":
    "processed 0 tokens with 0 phrases; found: 0 phrases; correct: 0.\n",
  "conll2003-valid-iob2.txt":
    "processed 51578 tokens with 5942 phrases; found: 7348 phrases; correct: 4629.\naccuracy:  94.18%; precision:  63.00%; recall:  77.90%; FB1:  69.66\n              LOC: precision:  71.94%; recall:  81.38%; FB1:  76.37  2078\n             MISC: precision:  55.66%; recall:  80.04%; FB1:  65.66  1326\n              ORG: precision:  59.33%; recall:  78.00%; FB1:  67.40  1763\n              PER: precision:  61.90%; recall:  73.29%; FB1:  67.11  2181\n",
  "conll2003-testa-iob1.txt":
    "processed 51578 tokens with 5942 phrases; found: 7309 phrases; correct: 4576.\naccuracy:  94.96%; precision:  62.61%; recall:  77.01%; FB1:  69.07\n              LOC: precision:  71.15%; recall:  80.29%; FB1:  75.45  2073\n             MISC: precision:  54.21%; recall:  78.85%; FB1:  64.25  1341\n              ORG: precision:  59.07%; recall:  75.02%; FB1:  66.10  1703\n              PER: precision:  62.41%; recall:  74.27%; FB1:  67.82  2192\n",
  "conll2003-valid-iobes.txt":
    "processed 51578 tokens with 5938 phrases; found: 8569 phrases; correct: 4353.\naccuracy:  90.47%; precision:  50.80%; recall:  73.31%; FB1:  60.01\n              LOC: precision:  59.11%; recall:  76.65%; FB1:  66.75  2382\n             MISC: precision:  42.07%; recall:  76.25%; FB1:  54.22  1664\n              ORG: precision:  48.38%; recall:  73.38%; FB1:  58.31  2034\n              PER: precision:  50.66%; recall:  68.46%; FB1:  58.23  2489\n",
  "conll2000-train-2000.txt":
    "processed 47589 tokens with 24582 phrases; found: 26939 phrases; correct: 19245.\naccuracy:  85.38%; precision:  71.44%; recall:  78.29%; FB1:  74.71\n             ADJP: precision:  44.55%; recall:  81.18%; FB1:  57.53  862\n             ADVP: precision:  65.50%; recall:  84.13%; FB1:  73.66  1287\n            CONJP: precision:   2.54%; recall:  76.92%; FB1:   4.91  394\n             INTJ: precision:   2.29%; recall:  83.33%; FB1:   4.46  436\n              LST: precision:   0.71%; recall:  75.00%; FB1:   1.41  423\n               NP: precision:  73.36%; recall:  73.35%; FB1:  73.35  12545\n               PP: precision:  91.13%; recall:  86.53%; FB1:  88.77  4575\n              PRT: precision:  24.85%; recall:  85.33%; FB1:  38.50  515\n             SBAR: precision:  52.80%; recall:  84.06%; FB1:  64.86  839\n               VP: precision:  80.03%; recall:  80.46%; FB1:  80.25  5063\n",
  "seqeval-ground_truth.txt":
    "processed 961 tokens with 459 phrases; found: 539 phrases; correct: 371.\naccuracy:  84.08%; precision:  68.83%; recall:  80.83%; FB1:  74.35\n             ADJP: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n             ADVP: precision:  45.45%; recall:  62.50%; FB1:  52.63  11\n               NP: precision:  64.98%; recall:  78.63%; FB1:  71.16  317\n               PP: precision:  83.18%; recall:  98.89%; FB1:  90.36  107\n             SBAR: precision:  66.67%; recall:  33.33%; FB1:  44.44  3\n               VP: precision:  69.00%; recall:  79.31%; FB1:  73.80  100\n",
};

const RECORDED: Record<string, string> = {};
process.on("exit", () => {
  if (process.env.CONLL_RECORD) fs.writeFileSync(process.env.CONLL_RECORD, JSON.stringify(RECORDED, null, 2));
});

/** Runs conlleval on `text` (written to a file in TMP); null when perl is unavailable. */
function runPerl(name: string, text: string): { stdout: string; stderr: string; status: number | null } | null {
  if (!PERL_OK) return null;
  const file = path.join(TMP, name);
  fs.writeFileSync(file, text);
  const fd = fs.openSync(file, "r");
  try {
    const r = spawnSync("perl", [SCRIPT], { stdio: [fd, "pipe", "pipe"], encoding: "utf8" });
    return { stdout: r.stdout, stderr: r.stderr, status: r.status };
  } finally {
    fs.closeSync(fd);
  }
}

const OVERALL = /^accuracy: +([\d.]+)%; precision: +([\d.]+)%; recall: +([\d.]+)%; FB1: +([\d.]+)$/;
const PER_TYPE = /^(.*): precision: +([\d.]+)%; recall: +([\d.]+)%; FB1: +([\d.]+)  (\d+)$/s;

/** 100*x printed with 2 decimals agrees with `printed` (toFixed, except at exact ties where C rounds to even). */
function samePercent(x: number, printed: string, what: string): void {
  const v = 100 * x;
  assert.ok(Math.abs(v - Number(printed)) <= 0.005 + 1e-9, `${what}: ours ${v}, conlleval ${printed}`);
  const nearTie = Math.abs(v * 100 - Math.floor(v * 100) - 0.5) < 1e-6;
  if (!nearTie) assert.equal(v.toFixed(2), printed, what);
  assert.equal(printfFixed(v), printed, `${what} (printf)`);
}

/** Every number of a conlleval report against our score. */
function compareNumbers(ours: ConllScore, report: string, name: string): void {
  const lines = report.split("\n");
  assert.equal(lines.pop(), "", `${name}: report ends with a newline`);
  const head = /^processed (\d+) tokens with (\d+) phrases; found: (\d+) phrases; correct: (\d+)\.$/.exec(lines[0]!);
  assert.ok(head, `${name}: first line ${JSON.stringify(lines[0])}`);
  assert.deepEqual(head.slice(1).map(Number), [ours.tokens, ours.phrases, ours.found, ours.correct], `${name}: counts`);
  let i = 1;
  if (ours.tokens > 0) {
    const m = OVERALL.exec(lines[i++]!);
    assert.ok(m, `${name}: overall line ${JSON.stringify(lines[1])}`);
    samePercent(ours.accuracy, m[1]!, `${name} accuracy`);
    samePercent(ours.precision, m[2]!, `${name} precision`);
    samePercent(ours.recall, m[3]!, `${name} recall`);
    samePercent(ours.f1, m[4]!, `${name} FB1`);
  }
  const typeLines = lines.slice(i);
  const types = Object.keys(ours.per_type);
  let k = 0;
  for (const t of types) {
    const s = ours.per_type[t]!;
    const copies = t === "" && s.found > 0 && s.gold > 0 ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const m = PER_TYPE.exec(typeLines[k++] ?? "");
      assert.ok(m, `${name}: type line for ${JSON.stringify(t)}: ${JSON.stringify(typeLines[k - 1])}`);
      assert.equal(m[1]!.replace(/^ +/, ""), t.replace(/^ +/, ""), `${name}: type order`);
      samePercent(s.precision, m[2]!, `${name} ${t} precision`);
      samePercent(s.recall, m[3]!, `${name} ${t} recall`);
      samePercent(s.f1, m[4]!, `${name} ${t} FB1`);
      assert.equal(Number(m[5]), s.found, `${name} ${t} found`);
    }
  }
  assert.equal(k, typeLines.length, `${name}: number of type lines`);
}

/** Scores `text` with ours, compares with the Perl script (when present) and the recorded report. */
function check(name: string, text: string): ConllScore {
  const ours = scoreConllText(text, name);
  const report = formatConlleval(ours);
  const perl = runPerl(name, text);
  if (perl) {
    assert.equal(perl.status, 0, `${name}: conlleval failed: ${perl.stderr}`);
    RECORDED[name] = perl.stdout;
    compareNumbers(ours, perl.stdout, `${name} (perl)`);
    assert.equal(report, perl.stdout, `${name}: formatConlleval differs from conlleval's stdout`);
  }
  const expected = EXPECTED[name];
  if (expected !== undefined) {
    compareNumbers(ours, expected, `${name} (recorded)`);
    assert.equal(report, expected, `${name}: differs from the recorded conlleval report`);
  } else if (!perl) {
    assert.fail(`${name}: no recorded report and no perl`);
  }
  return ours;
}

// ---------------------------------------------------------------------------------------------
// Data generation (deterministic).


interface Sentence {
  words: string[][]; // the columns kept before the tags
  gold: string[];
  pred: string[];
}

/** Reads a CoNLL file: sentences of (kept columns, gold tag from the last column). */
function readColumns(file: string, keep: number[], maxSentences = Infinity): Sentence[] {
  const out: Sentence[] = [];
  let cur: Sentence = { words: [], gold: [], pred: [] };
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") {
      if (cur.gold.length) out.push(cur);
      cur = { words: [], gold: [], pred: [] };
      if (out.length >= maxSentences) break;
      continue;
    }
    const f = line.split(" ");
    cur.words.push(keep.map((k) => f[k]!));
    cur.gold.push(f[f.length - 1]!);
  }
  if (cur.gold.length && out.length < maxSentences) out.push(cur);
  return out;
}

function tagTypes(sentences: Sentence[]): string[] {
  const s = new Set<string>();
  for (const x of sentences) for (const t of x.gold) if (t !== "O") s.add(splitConllTag(t).type);
  return [...s].sort();
}

/** A seeded perturbation of the gold tags: type swaps, dropped B-, shifted boundaries, random tags, misses. */
function perturb(sentences: Sentence[], seed: number, prefixes = ["B", "I"]): void {
  const rng = mulberry32(seed);
  const types = tagTypes(sentences);
  const pick = <T>(xs: T[]) => xs[Math.floor(rng() * xs.length)]!;
  for (const s of sentences) {
    const p = s.gold.slice();
    const n = p.length;
    if (s.words[0]![0] === "-DOCSTART-") {
      s.pred = p;
      continue;
    }
    for (let i = 0; i < n; i++) {
      const r = rng();
      const { prefix, type } = splitConllTag(p[i]!);
      if (r < 0.06) {
        if (p[i] !== "O") p[i] = `${prefix}-${pick(types.filter((t) => t !== type))}`; // swap type
      } else if (r < 0.1) {
        if (prefix === "B") p[i] = `I-${type}`; // drop B-
      } else if (r < 0.14) {
        if (p[i] !== "O" && i > 0 && p[i - 1] === "O") {
          p[i - 1] = `B-${type}`; // start one token early
          p[i] = `I-${type}`;
        } else if (p[i] !== "O" && i + 1 < n && p[i + 1] === "O") {
          p[i + 1] = `I-${type}`; // end one token late
          i++;
        }
      } else if (r < 0.18) {
        p[i] = rng() < 0.3 ? "O" : `${pick(prefixes)}-${pick(types)}`; // random tag (I- after O included)
      } else if (r < 0.21) {
        p[i] = "O"; // missed
      }
    }
    s.pred = p;
  }
}

/** IOB (1 or 2) to IOBES: a chunk is B..I..E, or S alone. */
function toIobes(tags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i]!;
    if (t === "O") {
      out.push(t);
      continue;
    }
    const { type } = splitConllTag(t);
    const prev = i > 0 ? tags[i - 1]! : "O";
    const next = i + 1 < tags.length ? tags[i + 1]! : "O";
    const begins = t.startsWith("B-") || splitConllTag(prev).type !== type || prev === "O";
    const continues = next === `I-${type}`;
    out.push(begins ? (continues ? `B-${type}` : `S-${type}`) : continues ? `I-${type}` : `E-${type}`);
  }
  return out;
}

function render(sentences: Sentence[]): string {
  let out = "";
  for (const s of sentences) {
    for (let i = 0; i < s.gold.length; i++) out += `${s.words[i]!.join(" ")} ${s.gold[i]} ${s.pred[i]}\n`;
    out += "\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Unit tests of the rules.

test("splitConllTag: first hyphen, no prefix, type '0'", () => {
  assert.deepEqual(splitConllTag("B-PER"), { prefix: "B", type: "PER" });
  assert.deepEqual(splitConllTag("B-PER-X"), { prefix: "B", type: "PER-X" });
  assert.deepEqual(splitConllTag("PER"), { prefix: "PER", type: "" });
  assert.deepEqual(splitConllTag("O"), { prefix: "O", type: "" });
  assert.deepEqual(splitConllTag("-PER"), { prefix: "", type: "PER" });
  assert.deepEqual(splitConllTag("B-"), { prefix: "B", type: "" });
  assert.deepEqual(splitConllTag("B-0"), { prefix: "B", type: "" });
  assert.deepEqual(splitConllTag("B-00"), { prefix: "B", type: "00" });
});

test("startOfChunk / endOfChunk: conlleval's rules (no S-, no E- then B-)", () => {
  assert.equal(startOfChunk("O", "I", "", "PER"), true);
  assert.equal(startOfChunk("I", "I", "PER", "PER"), false);
  assert.equal(startOfChunk("I", "I", "PER", "LOC"), true);
  assert.equal(startOfChunk("E", "B", "PER", "PER"), false);
  assert.equal(endOfChunk("E", "B", "PER", "PER"), false);
  assert.equal(startOfChunk("S", "S", "PER", "PER"), false);
  assert.equal(endOfChunk("S", "S", "PER", "PER"), false);
  assert.equal(startOfChunk("O", "PER", "", ""), false);
  assert.equal(endOfChunk("B", "X", "", ""), false);
  assert.equal(startOfChunk("O", "[", "", ""), true);
  assert.equal(endOfChunk("]", "O", "", ""), true);
});

test("printfFixed: C's %.2f (exact ties to even)", () => {
  assert.equal(printfFixed(3.125), "3.12");
  assert.equal(printfFixed(0.125), "0.12");
  assert.equal(printfFixed(0.375), "0.38");
  assert.equal(printfFixed(0.625), "0.62");
  assert.equal(printfFixed(1.005), "1.00"); // 1.00499999999999989...
  assert.equal(printfFixed(2 / 3 * 100), "66.67");
  assert.equal(printfFixed(100), "100.00");
  assert.equal(printfFixed(0), "0.00");
  assert.equal(printfFixed(2.5, 0), "2");
  assert.equal(printfFixed(3.5, 0), "4");
  if (PERL_OK) {
    const xs = [3.125, 0.125, 0.375, 0.625, 1.005, 12.345, 99.995, 2.675, 100 / 3];
    const r = spawnSync("perl", ["-e", `printf "%.2f\\n", $_ for (${xs.join(",")})`], { encoding: "utf8" });
    assert.deepEqual(r.stdout.trim().split("\n"), xs.map((x) => printfFixed(x)));
  }
});

test("scoreSentences: seqeval's conll-mode examples and basic fractions", () => {
  // seqeval test_conll_f1score: I-ORG I-ORG matches B-ORG I-ORG in the conlleval (default) mode.
  const a = scoreSentences([["B-ORG", "I-ORG"]], [["I-ORG", "I-ORG"]]);
  assert.equal(a.f1, 1);
  assert.equal(a.accuracy, 0.5);
  const y = ["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O", "B-PER", "I-PER"];
  const b = scoreSentences([y], [["O", "O", "O", "B-MISC", "I-MISC", "O", "O", "B-PER", "I-PER"]]);
  assert.deepEqual([b.phrases, b.found, b.correct], [2, 2, 1]);
  assert.equal(b.precision, 0.5);
  assert.equal(b.recall, 0.5);
  assert.equal(b.f1, 0.5);
  assert.deepEqual(b.per_type.PER, { precision: 1, recall: 1, f1: 1, found: 1, gold: 1, correct: 1 });
  assert.deepEqual(b.per_type.MISC, { precision: 0, recall: 0, f1: 0, found: 1, gold: 1, correct: 0 });
  // nothing predicted, nothing gold
  const c = scoreSentences([["O", "O"]], [["O", "O"]]);
  assert.deepEqual([c.precision, c.recall, c.f1, c.accuracy], [0, 0, 0, 1]);
  assert.equal(formatConlleval(c), "processed 2 tokens with 0 phrases; found: 0 phrases; correct: 0.\naccuracy: 100.00%; precision:   0.00%; recall:   0.00%; FB1:   0.00\n");
  const e = scoreSentences([], []);
  assert.equal(e.tokens, 0);
  assert.equal(formatConlleval(e), "processed 0 tokens with 0 phrases; found: 0 phrases; correct: 0.\n");
  assert.throws(() => scoreSentences([["O"]], [["O", "O"]]), /sentence 0/);
  assert.throws(() => scoreSentences([["O"]], []), /sentences/);
});

test("IOBES: conlleval merges adjacent same-type chunks; iobesToIob2 separates them", () => {
  const gold = [["S-PER", "S-PER", "B-LOC", "E-LOC", "B-LOC", "E-LOC"]];
  const raw = scoreSentences(gold, gold);
  assert.deepEqual([raw.phrases, raw.per_type.PER!.gold, raw.per_type.LOC!.gold], [2, 1, 1]);
  const conv = scoreSentences(gold.map(iobesToIob2), gold.map(iobesToIob2));
  assert.deepEqual([conv.phrases, conv.per_type.PER!.gold, conv.per_type.LOC!.gold], [4, 2, 2]);
  assert.deepEqual(iobesToIob2(["S-PER", "B-X", "I-X", "E-X", "O", "S", "E"]), ["B-PER", "B-X", "I-X", "I-X", "O", "B", "I"]);
});

test("ConllEvaluator: incremental counts, read at any point", () => {
  const ev = new ConllEvaluator();
  ev.addToken("B-PER", "B-PER");
  assert.equal(ev.counts().correctChunks, 1); // the pending chunk is closed as at end of input
  ev.addToken("I-PER", "O");
  assert.equal(ev.counts().correctChunks, 0);
  ev.addBoundary();
  ev.addSentence(["B-LOC"], ["B-LOC"]);
  const c = ev.counts();
  assert.deepEqual(
    { ...c, perType: { ...c.perType } },
    {
      correctChunks: 1,
      foundGuessed: 2,
      foundCorrect: 2,
      correctTags: 2,
      tokens: 3,
      perType: {
        LOC: { correctChunks: 1, foundGuessed: 1, foundCorrect: 1 },
        PER: { correctChunks: 0, foundGuessed: 1, foundCorrect: 1 },
      },
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Hand-written files (no ../shared needed except for perl's script).

const EDGE: Record<string, string> = {
  "edge-i-after-o.txt": "a O I-PER\nb O I-PER\nc I-PER O\nd O O\ne I-LOC I-LOC\nf I-LOC I-LOC\n\ng B-ORG I-ORG\nh I-ORG I-ORG\ni O I-ORG\n",
  "edge-type-change.txt": "a B-PER B-PER\nb I-PER I-LOC\nc I-PER I-LOC\nd O O\ne I-ORG I-ORG\nf I-MISC I-ORG\ng I-MISC I-MISC\n",
  // a blank line inside a chunk, and end of input inside a chunk without a final newline
  "edge-sentence-end-in-chunk.txt": "a B-PER B-PER\nb I-PER I-PER\n\nc I-PER I-PER\nd B-LOC B-LOC\ne I-LOC I-LOC",
  "edge-only-o.txt": "a O O\nb O O\n\nc O O\n",
  "edge-docstart.txt": "-DOCSTART- -X- O O\n\nEU NNP B-ORG B-ORG\nrejects VBZ O O\n-DOCSTART- -X- O O\nGerman JJ B-MISC B-MISC\n-X- -X- B-PER O\ncall NN O B-LOC\n\n-DOCSTART- -X- O B-PER\n",
  "edge-no-prefix.txt":
    "a PER PER\nb B B\nc I I\nd O B\ne B-PER PER\nf PER B-PER\ng . .\nh [ [\ni ] I\nj B-PER-X B-PER-X\nk I-PER-X I-PER\nl B-0 B-\nm -PER -PER\nn O O\no B I\np I I\n",
  "edge-iobes.txt": "a S-PER S-PER\nb S-PER S-PER\nc O O\nd B-LOC B-LOC\ne E-LOC E-LOC\nf B-LOC S-LOC\ng E-LOC O\nh E-ORG B-ORG\ni B-ORG I-ORG\nj S-LOC B-LOC\nk E-LOC I-LOC\n",
  // a type-less chunk survives the sentence boundary (X is neither B, I, E nor O)
  "edge-chunk-across-boundary.txt": "a B B\nb X I\n\nc X X\n\nd B B\ne X X\n\n",
  "edge-tie-rounding.txt": `t B-PER B-PER\n${Array.from({ length: 31 }, (_, i) => `u${i} O B-PER\n`).join("")}`,
  "edge-two-columns.txt": "B-PER B-PER\nI-PER O\n\n-X- O\nO B-LOC\nB-LOC B-LOC\n",
  "edge-unicode-types.txt": "a B-PÉR B-PÉR\nb B-\u{1F600} B-\uFF21\nc O B-\u{1F600}\nd B-Z B-Z\n",
  "edge-crlf-no-blank.txt": "a B-PER B-PER\r\nb I-PER I-PER\r\nc O O\r\n",
  "edge-spaces.txt": "a  B-PER B-PER \nb  I-PER I-PER\n   \nc  O O   \nd  B-LOC O\n",
  "edge-empty.txt": "",
  "edge-boundary-lines-only.txt": "-X-\n\n-X-\n",
};

for (const [name, text] of Object.entries(EDGE)) {
  test(`conlleval edge case ${name}`, () => {
    const s = check(name, text);
    assert.equal(countConllText(text).tokens, s.tokens);
  });
}

test("edge cases: quirks seen in the numbers", () => {
  const docstart = scoreConllText(EDGE["edge-docstart.txt"]!);
  assert.equal(docstart.tokens, 7); // the 3 DOCSTART lines are tokens, the -X- line is not
  const iobes = scoreConllText(EDGE["edge-iobes.txt"]!);
  assert.equal(iobes.per_type.PER!.gold, 1); // S-PER S-PER is one chunk
  const tie = scoreConllText(EDGE["edge-tie-rounding.txt"]!);
  assert.equal(tie.precision, 1 / 32);
  assert.match(formatConlleval(tie), /precision:   3\.12%/); // 3.125 to even, toFixed says 3.13
  const noPrefix = formatConlleval(scoreConllText(EDGE["edge-no-prefix.txt"]!));
  assert.equal(noPrefix.split("\n").filter((l) => l.startsWith(" ".repeat(17) + ":")).length, 2); // type "" twice
});

// ---------------------------------------------------------------------------------------------
// Errors.

const BAD: [string, string, number, RegExp][] = [
  ["bad-columns.txt", "a B-PER B-PER\nb I-PER I-PER\n\nc I-PER\n", 4, /unexpected number of features: 2 \(3 on the first line\)/],
  ["bad-tabs.txt", "a\tB-PER\tB-PER\n", 1, /need at least 2.*tabs/],
  ["bad-one-column.txt", "B-PER\nO\n", 1, /need at least 2/],
  ["bad-crlf.txt", "a O O\r\n\r\nb O O\r\n", 2, /unexpected number of features: 1 \(3.*CRLF/],
  ["bad-two-then-one.txt", "B-PER B-PER\nO O\nO\n", 3, /unexpected number of features: 1 \(2 on the first line\)/],
  ["bad-after-boundary-first.txt", "-X-\na O O\n", 2, /unexpected number of features: 3 \(1 on the first line\)/],
];

for (const [name, text, line, re] of BAD) {
  test(`malformed input ${name}: error names the file and line ${line}`, () => {
    assert.throws(
      () => scoreConllText(text, name),
      (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.ok(e.message.startsWith(`${name}:${line}: `), e.message);
        assert.match(e.message, re);
        assert.ok(!e.message.includes("\n"), "one line");
        return true;
      },
    );
    const perl = runPerl(name, text);
    if (perl) assert.notEqual(perl.status, 0, `${name}: conlleval accepted it: ${perl.stdout}`);
  });
}

test("scoreConllText: default source name and the delimiter option", () => {
  assert.throws(() => scoreConllText("a O O\nb O\n"), /^Error: <input>:2: /);
  const tab = scoreConllText("a\tB-PER\tB-PER\nb\tO\tB-LOC\n", "t.tsv", { delimiter: "\t" });
  assert.deepEqual([tab.tokens, tab.phrases, tab.found, tab.correct], [2, 1, 2, 1]);
});

// ---------------------------------------------------------------------------------------------
// Real data.

function sameAsSentences(sentences: Sentence[], text: string): void {
  const a = scoreSentences(
    sentences.map((s) => s.gold),
    sentences.map((s) => s.pred),
  );
  assert.deepEqual(a, scoreConllText(text));
}

function logScore(name: string, s: ConllScore): void {
  console.log(`${name}: ${s.tokens} tokens, P ${printfFixed(100 * s.precision)} R ${printfFixed(100 * s.recall)} F ${printfFixed(100 * s.f1)} acc ${printfFixed(100 * s.accuracy)}`);
}

test("(a) CoNLL-2003 validation, IOB2, perturbed predictions", { skip: absent(CONLL03) }, () => {
  const sentences = readColumns(CONLL03, [0]);
  perturb(sentences, 2003);
  const text = render(sentences);
  const s = check("conll2003-valid-iob2.txt", text);
  assert.ok(s.f1 > 0.4 && s.f1 < 0.9, `F1 ${s.f1} should be far from 1`);
  assert.deepEqual(Object.keys(s.per_type), ["LOC", "MISC", "ORG", "PER"]);
  sameAsSentences(sentences, text);
  logScore("(a)", s);
});

test("(b) CoNLL-2003 eng.testa, IOB1, perturbed predictions", { skip: absent(CONLL03_IOB1) }, () => {
  const sentences = readColumns(CONLL03_IOB1, [0, 1]);
  perturb(sentences, 1, ["I", "I", "B"]);
  const text = render(sentences);
  const s = check("conll2003-testa-iob1.txt", text);
  assert.ok(s.f1 > 0.4 && s.f1 < 0.9, `F1 ${s.f1} should be far from 1`);
  sameAsSentences(sentences, text);
  logScore("(b)", s);
});

test("(c) CoNLL-2003 validation converted to IOBES, perturbed", { skip: absent(CONLL03) }, () => {
  const sentences = readColumns(CONLL03, [0]);
  perturb(sentences, 2003);
  const rng = mulberry32(77);
  const types = tagTypes(sentences);
  for (const s of sentences) {
    s.gold = toIobes(s.gold);
    s.pred = toIobes(s.pred);
    if (s.words[0]![0] === "-DOCSTART-") continue;
    for (let i = 0; i < s.pred.length; i++) {
      if (rng() < 0.03) s.pred[i] = `${"BIES"[Math.floor(rng() * 4)]}-${types[Math.floor(rng() * types.length)]}`;
    }
  }
  const text = render(sentences);
  const s = check("conll2003-valid-iobes.txt", text);
  sameAsSentences(sentences, text);
  logScore("(c)", s);
  // conlleval does not know S-: the same data in IOB2 has more chunks.
  const iob2 = scoreSentences(
    sentences.map((x) => iobesToIob2(x.gold)),
    sentences.map((x) => iobesToIob2(x.pred)),
  );
  assert.ok(iob2.phrases > s.phrases, `${iob2.phrases} IOB2 chunks vs ${s.phrases} read by conlleval from IOBES`);
});

test("(d) CoNLL-2000 chunking, first 2000 sentences, perturbed", { skip: absent(CONLL00) }, () => {
  const sentences = readColumns(CONLL00, [0, 1], 2000);
  assert.equal(sentences.length, 2000);
  perturb(sentences, 2000);
  const text = render(sentences);
  const s = check("conll2000-train-2000.txt", text);
  assert.ok(s.f1 > 0.4 && s.f1 < 0.9, `F1 ${s.f1} should be far from 1`);
  sameAsSentences(sentences, text);
  logScore("(d)", s);
});

test("seqeval tests/data/ground_truth.txt: as conlleval", { skip: absent(SEQEVAL_GT) }, () => {
  const text = fs.readFileSync(SEQEVAL_GT, "utf8");
  const s = check("seqeval-ground_truth.txt", text);
  // seqeval's load_labels: rstrip, split on ' ', 4 columns, sentences at blank lines
  const yTrue: string[][] = [];
  const yPred: string[][] = [];
  let t: string[] = [];
  let p: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (line === "") {
      if (t.length) {
        yTrue.push(t);
        yPred.push(p);
      }
      t = [];
      p = [];
    } else {
      const [, , a, b] = line.split(" ");
      t.push(a!);
      p.push(b!);
    }
  }
  if (t.length) {
    yTrue.push(t);
    yPred.push(p);
  }
  assert.deepEqual(scoreSentences(yTrue, yPred), s);
  logScore("seqeval ground truth", s);
});

