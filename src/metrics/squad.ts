// SQuAD v1.1 and v2.0 evaluation: a port of the official scripts evaluate-v1.1.py and
// evaluate-v2.0.py (copies in ../shared/data/scorers/squad/). The numbers are meant to equal
// the scripts' to the last printed digit, and formatPythonJson prints them as the scripts do.
//
// What "the scripts" means here: they run under CPython, and two things in them depend on the
// interpreter version. Both defaults follow CPython 3.11 (the /usr/bin/python3 of this project):
//  - Unicode data. str.lower(), re's \w / \b and str.split() use the interpreter's Unicode tables
//    (3.11: Unicode 14.0.0; 3.12: 15.0; 3.13: 15.1). Node ships newer tables, so we treat every code
//    point that is unassigned in Unicode 14.0.0 as Python 3.11 does (no case mapping, not a word
//    character, neither cased nor case-ignorable), and patch the two older characters whose
//    properties changed since then (U+0295 was cased, U+1171E was case-ignorable). Under Python
//    3.12+ only text containing characters added in Unicode 15.0+ could score differently.
//  - sum() of floats. evaluate-v2.0.py adds the per-question F1 scores with sum(). CPython up to
//    3.11 adds floats left to right; 3.12 and 3.13 use Neumaier-compensated summation (int items
//    are added uncompensated), newer sources also compensate int items. This can change the last
//    digit of the v2.0 "f1" numbers; choose with `floatSum` (default "naive" = 3.11).
//    evaluate-v1.1.py accumulates with `f1 += ...`, which is plain addition under every version.
//
// Quirks of the scripts, all reproduced:
//  - normalize_answer = lower -> drop the 32 ASCII string.punctuation characters (so "the-end"
//    becomes one token "theend" and is not an article) -> replace \b(a|an|the)\b by " " (a
//    Unicode-aware \b: "thé" keeps "the", "the\u0301" loses it, since U+0301 is not a word
//    character) -> ' '.join(text.split()) with Python's whitespace set (which has \x1c-\x1f and
//    \x85 but not \u200b or \ufeff).
//  - v1.1 f1_score("", "") is 0 while exact_match_score("", "") is true.
//  - v1.1: a question absent from the predictions counts in the total with score 0 (the script
//    prints "Unanswered question ID will receive score 0." on stderr); a question with an empty
//    answer list and a prediction makes the script fail (max() of an empty list): we throw.
//  - v1.1 warns on stderr when the dataset's version is not "1.1" and goes on.
//  - v2.0: a question is "HasAns" when its answers list is non-empty (is_impossible is never
//    read), but its gold answers are only those whose normalized text is non-empty; with none
//    left the only gold is "" - so an answerable question whose answers normalize to "" (e.g.
//    "The") is scored as unanswerable but counted under HasAns.
//  - v2.0 compute_f1 is 1 when both sides have no tokens and 0 when only one has none: a
//    prediction such as "the" or "." counts as a correct abstention.
//  - v2.0 keys its scores by question id: a repeated id is counted once, at its first position,
//    with the scores of its last occurrence (v1.1 counts every occurrence).
//  - v2.0 with a missing prediction prints "Missing prediction for ID" on stdout, leaves it out
//    of the overall total and then dies with a KeyError in make_eval_dict. We do what the
//    scripts' intent and v1.1 do: the question counts as wrong (exact 0, f1 0) and stays in
//    every total. That equals the script run with the missing ids given a prediction that
//    matches no gold answer, answerable or not - e.g. "\u0001missing\u0001", which normalizes to
//    one token ("\x01" is neither punctuation nor whitespace to Python). "" would not do: it is
//    the right answer to an unanswerable question.
//  - v2.0 without a na_prob file sets every no-answer probability to 0.0, and with the default
//    threshold 1.0 apply_no_ans_threshold changes nothing (0.0 > 1.0 is false), so it is left out.
//  - The v2.0 dict is ordered exact, f1, total, then HasAns_exact, HasAns_f1, HasAns_total only
//    when some question has answers, then NoAns_exact, NoAns_f1, NoAns_total only when some has
//    none; exact/f1 are floats and total an int. The HasAns and NoAns sums run over the ids in
//    dataset order (first occurrence), like the script's qid lists.
//  - v1.1 prints json.dumps(result) (", " and ": "), v2.0 json.dumps(result, indent=2).
// Both scripts fail with a ZeroDivisionError on a dataset without questions: we throw.

/** How the v2.0 script's sum() adds floats; see the header. */
export type PythonFloatSum =
  /** CPython <= 3.11: left to right. */
  | "naive"
  /** CPython 3.12 and 3.13: Neumaier compensation for float items, int items added plainly. */
  | "neumaier"
  /** Newer CPython sources (bltinmodule.c cs_add for int items too); not run against a real 3.14 here. */
  | "neumaier-all";

export interface SquadEvalOptions {
  /**
   * Receives, one line at a time, what the script would print besides the result: the v1.1
   * version warning and "Unanswered question ID will receive score 0." (both stderr in the
   * script), v2.0's "Missing prediction for ID" (stdout in the script). Default: discarded.
   */
  onMessage?: (line: string) => void;
  /** v2.0 only: the Python version's float sum(). Default "naive" (CPython 3.11). */
  floatSum?: PythonFloatSum;
}

/** A question as both scripts see it. */
export interface SquadQuestion {
  id: string;
  /** Every answer text, in file order (not filtered). */
  answers: string[];
  /**
   * True when the answers list is empty. This is the v2.0 script's has_ans test (bool(qa['answers']));
   * the file's is_impossible field is not read by either script and not by us.
   */
  isImpossible: boolean;
}

export type SquadPredictions = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

// ---------------------------------------------------------------------------------------------
// Unicode as CPython 3.11 (Unicode 14.0.0) sees it.

// Code points unassigned (general category Cn) in Unicode 14.0.0, as written by
// unicodedata.category() of CPython 3.11: ranges as "gap.length" in base 36, where gap counts the
// code points since the end of the previous range and length is end - start.
const CN14_RANGES = [
  "oo.1 6.3 7.0 1.0 k.0 b1.0 12.1 1e.1 3.0 1j.7 r.3 6.a 7i.0 1o.1 2t.d 1n.1 1d.1 f.0 s.1 1.0 b.4",
  "v.0 2.5 6k.0 8.1 2.1 m.0 7.0 1.2 4.1 9.1 2.1 4.7 1.3 2.0 5.1 p.1 3.0 6.3 2.1 m.0 7.0 2.0 2.0 2.1",
  "1.0 5.3 2.1 3.2 1.6 4.0 1.6 h.9 3.0 9.0 3.0 m.0 7.0 2.0 5.1 a.0 3.0 3.1 1.e 4.1 c.6 7.0 3.0 8.1",
  "2.1 m.0 7.0 2.0 5.1 9.1 2.1 3.6 3.3 2.0 5.1 i.9 2.0 6.2 3.0 4.2 2.0 1.0 2.2 2.2 3.2 c.3 5.2 3.0",
  "4.1 1.5 1.d l.4 d.0 3.0 n.0 g.1 9.0 3.0 4.6 2.0 3.1 1.1 4.1 a.6 m.0 3.0 n.0 a.0 5.1 9.0 3.0 4.6",
  "2.5 2.0 4.1 a.0 2.c d.0 3.0 1f.0 3.0 6.3 g.1 q.0 3.0 i.2 o.0 9.0 1.1 7.2 1.3 6.0 1.0 8.5 a.1 3.b",
  "1m.3 t.10 2.0 1.0 5.0 o.0 1.0 n.1 5.0 1.0 6.1 a.1 4.v 20.0 10.3 13.0 10.0 f.0 d.10 5i.0 1.4 1.1",
  "ah.0 4.1 7.0 1.0 4.1 15.0 4.1 x.0 4.1 7.0 1.0 4.1 f.0 1l.0 4.1 1v.1 w.2 q.5 2e.1 6.1 il.2 2h.6",
  "m.8 o.8 k.b d.0 3.0 2.b 2m.1 a.5 a.5 q.5 2h.6 17.4 1y.9 v.0 c.3 c.3 1.2 16.1 5.a 18.3 q.5 b.2",
  "1q.1 1t.0 t.1 b.5 a.5 e.1 v.1c 25.2 1b.0 38.7 1o.2 f.2 1o.6 17.1 b.7 17.4 eu.1 6.1 12.1 6.1 8.0",
  "1.0 1.0 1.0 v.1 1h.0 f.0 e.1 6.0 j.1 3.0 9.0 2t.0 c.1 r.0 d.2 x.e x.e 3w.3 if.o b.k 1ec.1 w.0",
  "9p.4 19.0 1.4 1.1 1k.6 2.d o.8 7.0 7.0 7.0 7.0 7.0 7.0 7.0 7.0 3i.x q.0 2h.b 5y.p c.3 1s.0 2e.1",
  "2v.4 17.0 2m.0 2c.b 1b.0 mlp.2 1j.8 9o.j 54.7 5n.4 2.0 1.0 5.n 1n.2 a.5 1k.7 1y.7 c.5 38.a u.2",
  "26.0 b.3 x.0 1j.8 e.1 a.1 2v.n s.9 6.1 6.1 6.8 7.0 7.0 1o.3 3i.1 a.5 8mc.b n.3 1d.3 6su.1 2y.11",
  "7.b 5.4 q.0 5.0 1.0 2.0 2.0 3h.f cd.1 1i.6 1.v 16.5 1f.0 j.0 4.3 5.0 3r.1 1.0 5a.2 6.1 6.1 6.1",
  "3.2 7.0 7.9 5.1 c.0 q.0 j.0 2.0 f.1 e.x 3f.4 3.3 19.2 2g.0 d.2 1.1a 1a.3l t.2 1d.e s.3 10.8 u.4",
  "17.4 u.0 11.3 e.15 4e.1 a.5 10.3 10.3 14.7 1g.a c.0 f.0 7.0 2.0 b.0 f.0 7.0 2.1u 8n.8 m.9 8.n",
  "6.0 16.0 9.1w 6.1 1.0 18.0 2.2 1.1 n.0 20.7 9.1b j.0 2.4 x.2 r.4 1.1r 1k.3 k.1 1e.0 2.4 8.0 3.0",
  "t.1 3.3 a.6 9.6 1s.v 13.3 c.8 1i.2 t.1 r.4 q.6 4.b 7.27 21.1i 1f.c 1f.6 1a.7 a.85 v.0 16.0 3.1",
  "2.25 14.7 16.l q.11 s.j n.8 26.3 10.8 1w.9 1.1 p.6 a.5 1h.0 i.7 13.8 2o.0 k.a i.0 18.1s 7.0 1.0",
  "4.0 f.0 b.5 1n.4 a.5 4.0 8.1 2.1 m.0 7.0 2.0 5.0 a.1 2.1 3.1 1.5 1.4 7.1 7.2 5.3u 2k.0 5.t 20.7",
  "a.4l 1i.1 12.x 1x.a a.5 d.i 1m.5 a.1h r.1 f.3 n.54 1o.2r 2b.b 8.1 1.1 8.0 2.0 u.0 2.1 c.8 a.1x",
  "8.1 1a.1 b.q 20.7 2b.c 21.7a 9.0 19.0 e.9 t.2 w.1 m.0 e.20 7.0 2.0 18.2 1.0 2.0 9.7 a.5 6.0 2.0",
  "11.0 2.0 6.6 a.8l p.52 1.e 1e.c pn.2t 33.0 5.a 5g.217 2r.c tr.0 9.346 g7.6ns ft.6 v.0 a.3 29.0",
  "a.5 u.1 6.9 1y.9 a.0 7.0 l.4 j.j3 2j.2s 23.3 1l.6 h.1r 5.a 2.d 4qg.7 ye.15 9.6w6 4.0 7.0 2.0",
  "83.18 3.g 4.7 b0.1s3 2z.4 d.2 9.6 a.1 8.3mj 1a.1 n.8 38.1n 6u.9 13.1 5e.k 1y.49 k.b 2f.8 p.3q",
  "2d.0 1z.0 2.1 1.1 2.1 4.0 c.0 1.0 7.0 1t.0 4.1 8.0 7.0 s.0 4.0 5.0 1.2 7.0 9g.1 84.1 ji.e 5.0",
  "f.un v.68 7.0 h.1 7.0 2.0 5.5w 19.2 e.1 a.3 2.8v v.g 1m.4 1.yn 7.0 4.0 2.0 f.0 5h.1 g.14 24.3",
  "a.3 2.ls 1w.23 1p.5d 4.0 r.0 2.0 1.1 1.0 a.0 4.0 1.0 1.5 1.3 1.0 1.0 1.0 3.0 2.0 1.1 1.0 1.0 1.0",
  "1.0 1.0 2.0 1.1 4.0 7.0 4.0 4.0 1.0 a.0 h.4 3.0 5.0 h.1f 2.7h 18.3 2s.b f.1 f.0 f.0 11.9 4u.1j",
  "t.c 18.3 9.6 2.d 6.49 rc.4 g.2 d.2 38.b 2h.6 c.3 1.e c.3 1k.7 a.5 14.7 u.1 2.25 9g.b e.1 5.2 5.2",
  "7.8 t.2 b.4 6.9 a.5 8.7 7.8 43.0 1j.10 a.sl wyo.v 37d.6 66.1 4g2.d 5rl.2e6 f2.15t 3t7.fcfp 1.t",
  "2o.3j 6o.1e6n 1eke.1 1eke.1",
].join(" ");

function decodeRanges(encoded: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let prev = -1;
  for (const tok of encoded.split(" ")) {
    const dot = tok.indexOf(".");
    const start = prev + 1 + parseInt(tok.slice(0, dot), 36);
    const end = start + parseInt(tok.slice(dot + 1), 36);
    out.push([start, end]);
    prev = end;
  }
  return out;
}

const CN14_CLASS =
  "[" +
  decodeRanges(CN14_RANGES)
    .map(([a, b]) => (a === b ? `\\u{${a.toString(16)}}` : `\\u{${a.toString(16)}}-\\u{${b.toString(16)}}`))
    .join("") +
  "]";
const CN14_ONE = new RegExp(`^${CN14_CLASS}$`, "u");
const CN14_ANY = new RegExp(CN14_CLASS, "u");
/** A character in Python 3.11's \w: str.isalnum() or "_" (= letters, numbers, "_" of Unicode 14). */
const PY_WORD = `(?:(?!${CN14_CLASS})[\\p{L}\\p{N}_])`;
const ARTICLES = new RegExp(`(?<!${PY_WORD})(?:a|an|the)(?!${PY_WORD})`, "gu");
/** string.punctuation: !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ */
const PUNCTUATION = /[!-/:-@[-`{-~]/g;
/** Runs of the characters for which Python's str.isspace() is true (str.split() with no argument). */
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
const CASED = /^\p{Cased}$/u;
const CASE_IGNORABLE = /^\p{Case_Ignorable}$/u;
/** Characters whose case handling differs from the Unicode 14 tables when lowering whole strings. */
const SIGMA_SENSITIVE = /[\u0295\u{1171e}]/u;

/** Whether the code point `ch` was unassigned (Cn) in Unicode 14.0.0, the data of CPython 3.11. */
export function isUnassignedInUnicode14(ch: string): boolean {
  return CN14_ONE.test(ch);
}
const isUnassigned14 = isUnassignedInUnicode14;

/** Cased (Lowercase or Uppercase or Lt) in Unicode 14.0.0. */
function isCased14(ch: string): boolean {
  if (ch === "\u0295") return true; // Ll in 14.0, Lo since 16.0
  return CASED.test(ch) && !isUnassigned14(ch);
}

/** Case_Ignorable in Unicode 14.0.0. */
function isCaseIgnorable14(ch: string): boolean {
  if (ch === "\u{1171e}") return true; // Mn in 14.0, Mc since 16.0
  return CASE_IGNORABLE.test(ch) && !isUnassigned14(ch);
}

/**
 * Python 3.11 str.lower(): full lowercase mappings plus the Final_Sigma rule, with Unicode 14 data.
 * JS toLowerCase() does the same with newer data, so only strings holding a code point unassigned
 * in Unicode 14, or a capital sigma next to one of the two changed characters, take the slow path.
 */
export function pythonLower(s: string): string {
  const needsSlow = CN14_ANY.test(s) || (s.includes("\u03a3") && SIGMA_SENSITIVE.test(s));
  if (!needsSlow) return s.toLowerCase();
  const cps = Array.from(s);
  let out = "";
  for (let i = 0; i < cps.length; i++) {
    const ch = cps[i]!;
    if (ch === "\u03a3") {
      out += finalSigma(cps, i) ? "\u03c2" : "\u03c3";
    } else if (isUnassigned14(ch)) {
      out += ch;
    } else {
      out += ch.toLowerCase(); // context-free for everything but U+03A3
    }
  }
  return out;
}

// CPython's handle_capital_sigma: \p{cased}\p{case-ignorable}* U+03A3 !(\p{case-ignorable}* \p{cased})
function finalSigma(cps: readonly string[], i: number): boolean {
  let j = i - 1;
  while (j >= 0 && isCaseIgnorable14(cps[j]!)) j--;
  if (j < 0 || !isCased14(cps[j]!)) return false;
  j = i + 1;
  while (j < cps.length && isCaseIgnorable14(cps[j]!)) j++;
  return j === cps.length || !isCased14(cps[j]!);
}

/** Python's str.split() with no argument. */
export function pythonSplit(s: string): string[] {
  return s.split(PY_WHITESPACE).filter((t) => t !== "");
}

// ---------------------------------------------------------------------------------------------
// The metrics.

/** normalize_answer of both scripts (they are the same function). */
export function normalizeAnswer(s: string): string {
  const lowered = pythonLower(s);
  const noPunc = lowered.replace(PUNCTUATION, "");
  const noArticles = noPunc.replace(ARTICLES, " ");
  return pythonSplit(noArticles).join(" ");
}

function tokenOverlap(a: readonly string[], b: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const t of a) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of b) {
    const c = counts.get(t);
    if (c !== undefined && c > 0) {
      same++;
      counts.set(t, c - 1);
    }
  }
  return same;
}

function f1FromTokens(predToks: readonly string[], goldToks: readonly string[]): number {
  const numSame = tokenOverlap(predToks, goldToks);
  if (numSame === 0) return 0;
  const precision = numSame / predToks.length;
  const recall = numSame / goldToks.length;
  return (2 * precision * recall) / (precision + recall);
}

/** v1.1 exact_match_score, as 1 or 0. */
export function exactMatch(prediction: string, truth: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(truth) ? 1 : 0;
}

/** v1.1 f1_score: 0 when nothing overlaps, including when either side is empty. */
export function f1(prediction: string, truth: string): number {
  return f1FromTokens(pythonSplit(normalizeAnswer(prediction)), pythonSplit(normalizeAnswer(truth)));
}

/** v2.0 compute_exact. */
export function computeExact(gold: string, pred: string): number {
  return normalizeAnswer(gold) === normalizeAnswer(pred) ? 1 : 0;
}

/** v2.0 compute_f1: when either side has no tokens, 1 if both have none, else 0. */
export function computeF1(gold: string, pred: string): number {
  return f1V2Tokens(pythonSplit(normalizeAnswer(gold)), pythonSplit(normalizeAnswer(pred))).value;
}

/** A Python number: int (from the int-returning branches of compute_f1) or float. */
interface PyNum {
  value: number;
  isInt: boolean;
}

function f1V2Tokens(goldToks: readonly string[], predToks: readonly string[]): PyNum {
  if (goldToks.length === 0 || predToks.length === 0) {
    return { value: goldToks.length === predToks.length ? 1 : 0, isInt: true };
  }
  const numSame = tokenOverlap(goldToks, predToks);
  if (numSame === 0) return { value: 0, isInt: true };
  const precision = numSame / predToks.length;
  const recall = numSame / goldToks.length;
  return { value: (2 * precision * recall) / (precision + recall), isInt: false };
}

/**
 * CPython's sum(values) with the default int start 0. Ints are summed exactly until the first
 * float, which is added to them (int + float); later items depend on the version (see PythonFloatSum).
 */
export function pythonSum(values: readonly { value: number; isInt: boolean }[], mode: PythonFloatSum = "naive"): number {
  let i = 0;
  let k = 0;
  for (; k < values.length && values[k]!.isInt; k++) i += values[k]!.value;
  if (k === values.length) return i;
  let f = i + values[k]!.value;
  k++;
  if (mode === "naive") {
    for (; k < values.length; k++) f += values[k]!.value;
    return f;
  }
  let c = 0;
  for (; k < values.length; k++) {
    const { value: x, isInt } = values[k]!;
    if (isInt && mode === "neumaier") {
      f += x;
      continue;
    }
    const t = f + x;
    if (Math.abs(f) >= Math.abs(x)) c += f - t + x;
    else c += x - t + f;
    f = t;
  }
  if (c !== 0 && Number.isFinite(c)) f += c;
  return f;
}

// ---------------------------------------------------------------------------------------------
// Reading a dataset.

function oneLine(s: string): string {
  return s.replace(/[\r\n\u2028\u2029]/g, (ch) => JSON.stringify(ch).slice(1, -1));
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function kind(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "a list";
  if (typeof x === "object") return "an object";
  return `a ${typeof x}`;
}

/**
 * The questions of a parsed SQuAD file ({"version", "data": [{"title", "paragraphs": [{"context",
 * "qas": [{"id", "answers": [{"text", ...}], ...}]}]}]}), in file order, checked for what the
 * scripts read: data, paragraphs, qas and answers must be lists, every question needs a string
 * id, every answer a string text. Anything else throws one line naming `source` and the question
 * id (or the article/paragraph/question index where there is no usable id).
 */
export function readSquadDataset(json: unknown, source: string): SquadQuestion[] {
  const where = oneLine(source);
  const fail = (at: string, what: string): never => {
    throw new Error(`${where}: ${at}: ${what}`);
  };
  if (!isRecord(json)) fail("top level", `expected an object with a "data" list, got ${kind(json)}`);
  const data = (json as Record<string, unknown>)["data"];
  if (!Array.isArray(data)) fail("top level", `"data" is ${data === undefined ? "missing" : kind(data)}, expected a list`);
  const out: SquadQuestion[] = [];
  (data as unknown[]).forEach((article, a) => {
    if (!isRecord(article)) fail(`data[${a}]`, `article is ${kind(article)}, expected an object`);
    const art = article as Record<string, unknown>;
    const title = typeof art["title"] === "string" ? ` (title ${JSON.stringify(art["title"])})` : "";
    const paragraphs = art["paragraphs"];
    if (!Array.isArray(paragraphs)) {
      fail(`data[${a}]${title}`, `"paragraphs" is ${paragraphs === undefined ? "missing" : kind(paragraphs)}, expected a list`);
    }
    (paragraphs as unknown[]).forEach((paragraph, p) => {
      const at = `data[${a}].paragraphs[${p}]`;
      if (!isRecord(paragraph)) fail(at, `paragraph is ${kind(paragraph)}, expected an object`);
      const qas = (paragraph as Record<string, unknown>)["qas"];
      if (!Array.isArray(qas)) fail(at, `"qas" is ${qas === undefined ? "missing" : kind(qas)}, expected a list`);
      (qas as unknown[]).forEach((qa, q) => {
        const qat = `${at}.qas[${q}]`;
        if (!isRecord(qa)) fail(qat, `question is ${kind(qa)}, expected an object`);
        const rec = qa as Record<string, unknown>;
        const id = rec["id"];
        if (typeof id !== "string") fail(qat, `question "id" is ${id === undefined ? "missing" : kind(id)}, expected a string`);
        const qid = `question ${JSON.stringify(id)} (${qat})`;
        const answers = rec["answers"];
        if (!Array.isArray(answers)) fail(qid, `"answers" is ${answers === undefined ? "missing" : kind(answers)}, expected a list`);
        const texts = (answers as unknown[]).map((ans, n) => {
          if (!isRecord(ans)) fail(qid, `answers[${n}] is ${kind(ans)}, expected an object`);
          const text = (ans as Record<string, unknown>)["text"];
          if (typeof text !== "string") {
            fail(qid, `answers[${n}].text is ${text === undefined ? "missing" : kind(text)}, expected a string`);
          }
          return text as string;
        });
        out.push({ id: id as string, answers: texts, isImpossible: texts.length === 0 });
      });
    });
  });
  return out;
}

function lookup(predictions: SquadPredictions, id: string): string | undefined {
  let p: unknown;
  if (predictions instanceof Map) {
    if (!predictions.has(id)) return undefined;
    p = predictions.get(id);
  } else {
    if (!Object.hasOwn(predictions, id)) return undefined;
    p = (predictions as Readonly<Record<string, unknown>>)[id];
  }
  if (typeof p !== "string") {
    throw new Error(`prediction for question ${JSON.stringify(id)} is ${kind(p)}, expected a string`);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// v1.1

/** evaluate() of evaluate-v1.1.py over questions already read. */
export function scoreV1(
  questions: readonly SquadQuestion[],
  predictions: SquadPredictions,
  options: SquadEvalOptions = {},
): { exact_match: number; f1: number } {
  let f1Sum = 0;
  let exactSum = 0;
  let total = 0;
  for (const qa of questions) {
    total += 1;
    const prediction = lookup(predictions, qa.id);
    if (prediction === undefined) {
      options.onMessage?.(`Unanswered question ${qa.id} will receive score 0.`);
      continue;
    }
    if (qa.answers.length === 0) {
      throw new Error(
        `question ${JSON.stringify(qa.id)} has no answers: evaluate-v1.1.py fails on it (max() of an empty list); is this a v2.0 file?`,
      );
    }
    const predToks = pythonSplit(normalizeAnswer(prediction));
    const predNorm = predToks.join(" ");
    let em = 0;
    let best = -Infinity;
    for (const truth of qa.answers) {
      const truthNorm = normalizeAnswer(truth);
      if (truthNorm === predNorm) em = 1;
      const s = f1FromTokens(predToks, pythonSplit(truthNorm));
      if (s > best) best = s;
    }
    exactSum += em;
    f1Sum += best;
  }
  if (total === 0) throw new Error("the dataset has no questions (the script divides by zero)");
  return { exact_match: (100 * exactSum) / total, f1: (100 * f1Sum) / total };
}

/**
 * evaluate-v1.1.py on a parsed dataset file: the dict it prints. A dataset version other than
 * "1.1" gives the script's warning through onMessage (the script crashes on a missing or
 * non-string version; we warn with String(version)).
 */
export function evaluateV1(
  dataset: unknown,
  predictions: SquadPredictions,
  options: SquadEvalOptions = {},
): { exact_match: number; f1: number } {
  const questions = readSquadDataset(dataset, "SQuAD v1.1 dataset");
  const version = (dataset as Record<string, unknown>)["version"];
  if (version !== "1.1") {
    options.onMessage?.(`Evaluation expects v-1.1, but got dataset with v-${String(version)}`);
  }
  return scoreV1(questions, predictions, options);
}

// ---------------------------------------------------------------------------------------------
// v2.0

/** Per-question v2.0 scores, keyed and ordered like the script's dicts. */
export interface SquadV2Raw {
  hasAns: boolean;
  exact: number;
  f1: number;
  /** Whether Python holds f1 as an int (it matters to 3.12+ sum()). */
  f1IsInt: boolean;
  missing: boolean;
}

/** get_raw_scores + make_qid_to_has_ans, with a missing prediction scored 0 (see the header). */
export function rawScoresV2(
  questions: readonly SquadQuestion[],
  predictions: SquadPredictions,
  options: SquadEvalOptions = {},
): Map<string, SquadV2Raw> {
  const out = new Map<string, SquadV2Raw>();
  for (const qa of questions) {
    const golds = qa.answers.map(normalizeAnswer).filter((g) => g !== "");
    if (golds.length === 0) golds.push("");
    const hasAns = qa.answers.length > 0;
    const pred = lookup(predictions, qa.id);
    if (pred === undefined) {
      options.onMessage?.(`Missing prediction for ${qa.id}`);
      out.set(qa.id, { hasAns, exact: 0, f1: 0, f1IsInt: true, missing: true });
      continue;
    }
    const predNorm = normalizeAnswer(pred);
    const predToks = pythonSplit(predNorm);
    let exact = 0;
    let best: PyNum | undefined;
    for (const g of golds) {
      if (g === predNorm) exact = 1;
      const s = f1V2Tokens(pythonSplit(g), predToks);
      if (best === undefined || s.value > best.value) best = s; // max() keeps the first maximum
    }
    out.set(qa.id, { hasAns, exact, f1: best!.value, f1IsInt: best!.isInt, missing: false });
  }
  return out;
}

function evalDict(scores: readonly SquadV2Raw[], floatSum: PythonFloatSum): [number, number, number] {
  const total = scores.length;
  let exact = 0;
  for (const s of scores) exact += s.exact;
  const f1Sum = pythonSum(scores.map((s) => ({ value: s.f1, isInt: s.f1IsInt })), floatSum);
  return [(100 * exact) / total, (100 * f1Sum) / total, total];
}

/** main() of evaluate-v2.0.py over questions already read (no na_prob file, threshold 1.0). */
export function scoreV2(
  questions: readonly SquadQuestion[],
  predictions: SquadPredictions,
  options: SquadEvalOptions = {},
): Record<string, number> {
  const raw = [...rawScoresV2(questions, predictions, options).values()];
  if (raw.length === 0) throw new Error("the dataset has no questions (the script divides by zero)");
  const floatSum = options.floatSum ?? "naive";
  const out: Record<string, number> = {};
  [out["exact"], out["f1"], out["total"]] = evalDict(raw, floatSum);
  const has = raw.filter((r) => r.hasAns);
  const no = raw.filter((r) => !r.hasAns);
  if (has.length > 0) [out["HasAns_exact"], out["HasAns_f1"], out["HasAns_total"]] = evalDict(has, floatSum);
  if (no.length > 0) [out["NoAns_exact"], out["NoAns_f1"], out["NoAns_total"]] = evalDict(no, floatSum);
  return out;
}

/** evaluate-v2.0.py on a parsed dataset file: the ordered dict it prints (totals are integers). */
export function evaluateV2(
  dataset: unknown,
  predictions: SquadPredictions,
  options: SquadEvalOptions = {},
): Record<string, number> {
  return scoreV2(readSquadDataset(dataset, "SQuAD v2.0 dataset"), predictions, options);
}

// ---------------------------------------------------------------------------------------------
// Printing like json.dumps

/** Python repr() of a float, as json.dumps writes it (NaN, Infinity, -Infinity for the rest). */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  // toExponential() without digits gives the shortest round-trip digits, as repr() does.
  const [mant, expStr] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = mant.replace(".", "");
  const exp = Number(expStr);
  const decpt = exp + 1; // value = 0.DIGITS * 10**decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${"0".repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${"0".repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp);
  return `${sign}${m}e${exp < 0 ? "-" : "+"}${e < 10 ? "0" : ""}${e}`;
}

/** json.dumps of a str with the default ensure_ascii=True. */
export function pythonJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (c >= 0x20 && c <= 0x7e) out += ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else out += "\\u" + c.toString(16).padStart(4, "0");
  }
  return out + '"';
}

const DEFAULT_INT_KEY = /(^|_)total$/;

/**
 * json.dumps(obj) (indent undefined: separators ", " and ": ") or json.dumps(obj, indent=N)
 * (one item a line, N spaces, "," and ": "; N <= 0 still breaks lines) of a flat dict, keys in
 * insertion order. A number prints as a Python float ("100.0", "1e-05", "66.66666666666667"),
 * except bigints and the values of `intKeys`, which print as Python ints. Default intKeys: every
 * key that is "total" or ends in "_total", the scripts' only ints.
 */
export function formatPythonJson(
  obj: Readonly<Record<string, number | bigint>>,
  indent?: number,
  intKeys?: Iterable<string>,
): string {
  const ints = intKeys === undefined ? undefined : new Set(intKeys);
  const items = Object.entries(obj).map(([k, v]) => {
    let value: string;
    if (typeof v === "bigint") value = v.toString();
    else if (ints ? ints.has(k) : DEFAULT_INT_KEY.test(k)) {
      if (!Number.isSafeInteger(v)) throw new Error(`formatPythonJson: ${JSON.stringify(k)} should be an int, got ${v}`);
      value = String(v);
    } else value = pythonFloatRepr(v);
    return `${pythonJsonString(k)}: ${value}`;
  });
  if (items.length === 0) return "{}";
  if (indent === undefined) return `{${items.join(", ")}}`;
  const pad = " ".repeat(Math.max(0, indent));
  return `{\n${items.map((it) => pad + it).join(",\n")}\n}`;
}
