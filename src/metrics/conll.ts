/**
 * Chunk (entity) level precision, recall and F1, overall and per type, plus token accuracy,
 * computed exactly as the CoNLL Perl scorer `conlleval` (version 2004-01-26, Erik Tjong Kim Sang;
 * the same file seqeval ships as tests/conlleval.pl). Every rule below is a transcription of that
 * script, including its quirks; seqeval's default (non-strict) mode agrees with it on IOB1/IOB2.
 *
 * Quirks of conlleval that are reproduced on purpose:
 * - A tag splits at its FIRST hyphen: `B-PER-X` is prefix `B`, type `PER-X`; a tag without a
 *   hyphen (`PER`, `B`, `O`) is its own prefix with type "". A type spelled "0" becomes ""
 *   (Perl's `$type ? $type : ""`), so `B-0` and `B-` are the same tag.
 * - Chunk starts and ends follow `startOfChunk` / `endOfChunk` only. They know the prefixes
 *   B, I, O, E (IOB1, IOB2, IOE1, IOE2) and the bracket tags `[`, `]`; `.` behaves like O in
 *   the type-change rule. There is NO rule for S- and none for E- followed by B-: with IOBES
 *   tags, `S-PER S-PER` is ONE chunk and `B-PER E-PER B-PER E-PER` is ONE chunk (a boundary
 *   between adjacent chunks is seen only when the type changes). Convert with {@link iobesToIob2}
 *   first if you want IOBES chunks scored as separate entities.
 * - An un-prefixed tag such as `PER` after `O` starts no chunk (the type "" does not change).
 * - A blank line, or a line whose first column is `-X-`, is a sentence boundary: it is read as
 *   the tags O / O, ends chunks (normally), and is not counted as a token. Any other line is a
 *   token, DOCSTART lines included (`-DOCSTART- -X- O O` is a token tagged O / O).
 * - Accuracy is correct tags / tokens, a tag being correct when prefix and type are equal.
 * - Input columns are separated by ONE space (conlleval's default delimiter is `/ /`, not
 *   awk-style whitespace): two spaces make an empty column, a tab separates nothing, trailing
 *   empty columns are dropped. Lines end at "\n" only: a CRLF file keeps "\r" in its last column.
 * - Per-type report lines are sorted by byte order (Perl's `sort` on raw bytes), `%17s` pads by
 *   UTF-8 bytes, and a type "" present among both gold and guessed chunks is printed twice (the
 *   script's de-duplication tests `not($lastType)`, which is true for "").
 * - Numbers are printed with C's printf `%6.2f`, which rounds exact ties to even (3.125 prints
 *   3.12, where JavaScript's toFixed gives 3.13); {@link printfFixed} reproduces that.
 *
 * This module is a leaf: it imports node built-ins only.
 */
import { Buffer } from "node:buffer";

/** Chunk counts for one chunk type, as conlleval's %correctChunk / %foundGuessed / %foundCorrect. */
export interface TypeCounts {
  /** Chunks of this type found identically (same span and type) in gold and prediction. */
  correctChunks: number;
  /** Predicted ("guessed") chunks of this type. */
  foundGuessed: number;
  /** Gold chunks of this type. */
  foundCorrect: number;
}

/** All of conlleval's counters. */
export interface ChunkCounts {
  /** Correctly identified chunks. */
  correctChunks: number;
  /** Predicted chunks. */
  foundGuessed: number;
  /** Gold chunks. */
  foundCorrect: number;
  /** Tokens whose predicted tag equals the gold tag (prefix and type). */
  correctTags: number;
  /** Tokens (sentence boundaries not counted, DOCSTART lines counted). */
  tokens: number;
  /** Per chunk type; a type is present when at least one gold or predicted chunk has it. */
  perType: Record<string, TypeCounts>;
}

/** Scores of one chunk type, fractions in [0, 1]. */
export interface TypeScore {
  /** correct / found; 0 when nothing of this type was predicted. */
  precision: number;
  /** correct / gold; 0 when there is no gold chunk of this type. */
  recall: number;
  /** 2PR / (P + R); 0 when P + R = 0. */
  f1: number;
  /** Predicted chunks of this type (the count conlleval prints at the end of the type's line). */
  found: number;
  /** Gold chunks of this type (the support). */
  gold: number;
  /** Correctly predicted chunks of this type. */
  correct: number;
}

/** conlleval's result, as fractions in [0, 1] (conlleval prints 100 times these). */
export interface ConllScore {
  /** correct / found; 0 when nothing was predicted. */
  precision: number;
  /** correct / phrases; 0 when there is no gold chunk. */
  recall: number;
  /** 2PR / (P + R); 0 when P + R = 0. */
  f1: number;
  /** correctTags / tokens; 0 when there is no token (conlleval then prints no accuracy line). */
  accuracy: number;
  /** Tokens counted. */
  tokens: number;
  /** Gold chunks ("with N phrases"). */
  phrases: number;
  /** Predicted chunks ("found: N phrases"). */
  found: number;
  /** Correct chunks ("correct: N"). */
  correct: number;
  /** Tokens with a correct tag (numerator of accuracy). */
  correctTags: number;
  /** Per chunk type (insertion order is byte order, but JS lists integer-like keys first: sort yourself). */
  per_type: Record<string, TypeScore>;
}

/** Options of {@link scoreConllText}. */
export interface ConllTextOptions {
  /** Column separator, a literal string (conlleval's `-d`); default one space, as conlleval. */
  delimiter?: string;
}

const BOUNDARY = "-X-";

/**
 * Splits a tag as conlleval does (`/^([^-]*)-(.*)$/`, then `$type ? $type : ""`):
 * `B-PER` gives prefix `B`, type `PER`; `PER` gives prefix `PER`, type "".
 */
export function splitConllTag(tag: string): { prefix: string; type: string } {
  const i = tag.indexOf("-");
  if (i < 0) return { prefix: tag, type: "" };
  const type = tag.slice(i + 1);
  return { prefix: tag.slice(0, i), type: type === "0" ? "" : type };
}

/** conlleval's `endOfChunk`: did a chunk end between the previous word and this one? */
export function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  let end = false;
  if (prevTag === "B" && tag === "B") end = true;
  if (prevTag === "B" && tag === "O") end = true;
  if (prevTag === "I" && tag === "B") end = true;
  if (prevTag === "I" && tag === "O") end = true;

  if (prevTag === "E" && tag === "E") end = true;
  if (prevTag === "E" && tag === "I") end = true;
  if (prevTag === "E" && tag === "O") end = true;

  if (prevTag !== "O" && prevTag !== "." && prevType !== type) end = true;

  // "corrected 1998-12-22: these chunks are assumed to have length 1"
  if (prevTag === "]") end = true;
  if (prevTag === "[") end = true;
  return end;
}

/** conlleval's `startOfChunk`: did a chunk start between the previous word and this one? */
export function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  let start = false;
  if (prevTag === "B" && tag === "B") start = true;
  if (prevTag === "I" && tag === "B") start = true;
  if (prevTag === "O" && tag === "B") start = true;
  if (prevTag === "O" && tag === "I") start = true;

  if (prevTag === "E" && tag === "E") start = true;
  if (prevTag === "E" && tag === "I") start = true;
  if (prevTag === "O" && tag === "E") start = true;

  if (tag !== "O" && tag !== "." && prevType !== type) start = true;

  if (tag === "[") start = true;
  if (tag === "]") start = true;
  return start;
}

/**
 * conlleval's state machine, fed one token or sentence boundary at a time. {@link counts} and
 * {@link score} can be read at any point (they close the pending chunk as conlleval does at end
 * of input, without changing the state), so one evaluator can accumulate a whole epoch.
 */
export class ConllEvaluator {
  private lastCorrect = "O";
  private lastGuessed = "O";
  private lastCorrectType = "";
  private lastGuessedType = "";
  private inCorrect = false;
  private correctChunks = 0;
  private foundGuessed = 0;
  private foundCorrect = 0;
  private correctTags = 0;
  private tokens = 0;
  private readonly types = new Map<string, TypeCounts>();

  /** Adds one token with its gold and predicted tag. */
  addToken(gold: string, pred: string): void {
    const g = splitConllTag(gold);
    const p = splitConllTag(pred);
    this.step(g.prefix, g.type, p.prefix, p.type, false);
  }

  /** Adds a sentence boundary (a blank line of conlleval's input). */
  addBoundary(): void {
    this.step("O", "", "O", "", true);
  }

  /**
   * Adds one sentence: its tokens, then a boundary (as a file where every sentence is followed
   * by a blank line). Throws when the two sequences differ in length.
   */
  addSentence(gold: readonly string[], pred: readonly string[]): void {
    if (gold.length !== pred.length) {
      throw new Error(`conll: sentence with ${gold.length} gold tags and ${pred.length} predicted tags`);
    }
    for (let i = 0; i < gold.length; i++) this.addToken(gold[i]!, pred[i]!);
    this.addBoundary();
  }

  private type(t: string): TypeCounts {
    let c = this.types.get(t);
    if (!c) {
      c = { correctChunks: 0, foundGuessed: 0, foundCorrect: 0 };
      this.types.set(t, c);
    }
    return c;
  }

  private step(correct: string, correctType: string, guessed: string, guessedType: string, boundary: boolean): void {
    const endC = endOfChunk(this.lastCorrect, correct, this.lastCorrectType, correctType);
    const endG = endOfChunk(this.lastGuessed, guessed, this.lastGuessedType, guessedType);
    if (this.inCorrect) {
      if (endC && endG && this.lastGuessedType === this.lastCorrectType) {
        this.inCorrect = false;
        this.correctChunks++;
        this.type(this.lastCorrectType).correctChunks++;
      } else if (endC !== endG || guessedType !== correctType) {
        this.inCorrect = false;
      }
    }
    const startC = startOfChunk(this.lastCorrect, correct, this.lastCorrectType, correctType);
    const startG = startOfChunk(this.lastGuessed, guessed, this.lastGuessedType, guessedType);
    if (startC && startG && guessedType === correctType) this.inCorrect = true;
    if (startC) {
      this.foundCorrect++;
      this.type(correctType).foundCorrect++;
    }
    if (startG) {
      this.foundGuessed++;
      this.type(guessedType).foundGuessed++;
    }
    if (!boundary) {
      if (correct === guessed && guessedType === correctType) this.correctTags++;
      this.tokens++;
    }
    this.lastGuessed = guessed;
    this.lastCorrect = correct;
    this.lastGuessedType = guessedType;
    this.lastCorrectType = correctType;
  }

  /** The counters as conlleval has them at end of input (the pending correct chunk included). */
  counts(): ChunkCounts {
    const entries: [string, TypeCounts][] = [];
    for (const [t, c] of this.types) entries.push([t, { ...c }]);
    let correctChunks = this.correctChunks;
    if (this.inCorrect) {
      correctChunks++;
      const e = entries.find(([t]) => t === this.lastCorrectType);
      if (e) e[1].correctChunks++;
      else entries.push([this.lastCorrectType, { correctChunks: 1, foundGuessed: 0, foundCorrect: 0 }]);
    }
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    return {
      correctChunks,
      foundGuessed: this.foundGuessed,
      foundCorrect: this.foundCorrect,
      correctTags: this.correctTags,
      tokens: this.tokens,
      perType: Object.fromEntries(entries),
    };
  }

  /** The scores at end of input. */
  score(): ConllScore {
    return scoreFromCounts(this.counts());
  }
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function prf(correct: number, found: number, gold: number): { precision: number; recall: number; f1: number } {
  const precision = found > 0 ? correct / found : 0;
  const recall = gold > 0 ? correct / gold : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}

/** Turns conlleval's counters into fractions. */
export function scoreFromCounts(c: ChunkCounts): ConllScore {
  const entries: [string, TypeScore][] = Object.keys(c.perType)
    .sort(compareBytes)
    .map((t) => {
      const k = c.perType[t]!;
      const score = prf(k.correctChunks, k.foundGuessed, k.foundCorrect);
      return [t, { ...score, found: k.foundGuessed, gold: k.foundCorrect, correct: k.correctChunks }];
    });
  return {
    ...prf(c.correctChunks, c.foundGuessed, c.foundCorrect),
    accuracy: c.tokens > 0 ? c.correctTags / c.tokens : 0,
    tokens: c.tokens,
    phrases: c.foundCorrect,
    found: c.foundGuessed,
    correct: c.correctChunks,
    correctTags: c.correctTags,
    per_type: Object.fromEntries(entries),
  };
}

/**
 * Scores tag sequences, one array per sentence (gold[i] and pred[i] of equal length), as
 * conlleval scores a file holding each sentence followed by a blank line.
 */
export function scoreSentences(gold: readonly (readonly string[])[], pred: readonly (readonly string[])[]): ConllScore {
  if (gold.length !== pred.length) {
    throw new Error(`conll: ${gold.length} gold sentences and ${pred.length} predicted sentences`);
  }
  const ev = new ConllEvaluator();
  for (let s = 0; s < gold.length; s++) {
    if (gold[s]!.length !== pred[s]!.length) {
      throw new Error(`conll: sentence ${s}: ${gold[s]!.length} gold tags and ${pred[s]!.length} predicted tags`);
    }
    ev.addSentence(gold[s]!, pred[s]!);
  }
  return ev.score();
}

function describeLine(line: string): string {
  const shown = line.length > 80 ? `${line.slice(0, 80)}...` : line;
  let s = JSON.stringify(shown);
  if (line.endsWith("\r")) s += " (the line ends with a carriage return: CRLF input?)";
  if (line.includes("\t")) s += " (columns must be separated by single spaces, not tabs)";
  return s;
}

/**
 * Counts a text in conlleval's input format: one token per line, columns separated by one
 * space, the last two columns the gold and the predicted tag; blank lines (and lines whose first
 * column is `-X-`) separate sentences. Throws, naming `source` and the 1-based line, where
 * conlleval stops: a line whose column count differs from the first line's, or a line with
 * fewer than 2 columns.
 */
export function countConllText(text: string, source = "<input>", options: ConllTextOptions = {}): ChunkCounts {
  const delimiter = options.delimiter ?? " ";
  if (delimiter === "") throw new Error("conll: empty delimiter");
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const ev = new ConllEvaluator();
  let nbrOfFeatures = -1; // conlleval's $nbrOfFeatures: last index of the first line's columns
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    const features = line.split(delimiter);
    while (features.length > 0 && features[features.length - 1] === "") features.pop();
    if (nbrOfFeatures < 0) nbrOfFeatures = features.length - 1;
    else if (nbrOfFeatures !== features.length - 1 && features.length !== 0) {
      throw new Error(
        `${source}:${n + 1}: unexpected number of features: ${features.length} ` +
          `(${nbrOfFeatures + 1} on the first line): ${describeLine(line)}`,
      );
    }
    if (features.length === 0 || features[0] === BOUNDARY) {
      ev.addBoundary();
      continue;
    }
    if (features.length < 2) {
      throw new Error(
        `${source}:${n + 1}: unexpected number of features: ${features.length} ` +
          `(need at least 2: gold tag and predicted tag): ${describeLine(line)}`,
      );
    }
    ev.addToken(features[features.length - 2]!, features[features.length - 1]!);
  }
  return ev.counts();
}

/** {@link countConllText}, as scores. */
export function scoreConllText(text: string, source = "<input>", options: ConllTextOptions = {}): ConllScore {
  return scoreFromCounts(countConllText(text, source, options));
}

/**
 * C printf's `%.<digits>f` (what Perl's printf calls): correctly rounded from the exact binary
 * value, exact ties to even (printfFixed(3.125) is "3.12"; (3.125).toFixed(2) is "3.13").
 */
export function printfFixed(x: number, digits = 2): string {
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21) return x.toFixed(digits);
  const negative = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  let s = a.toFixed(digits);
  if (a >= 0.25 * 10 ** -digits) {
    // An exact tie has a finite expansion with at most ~60 fractional digits here: 100 is enough.
    const exact = a.toFixed(100);
    const dot = exact.indexOf(".");
    const rest = exact.slice(dot + 1 + digits);
    if (rest[0] === "5" && /^0*$/.test(rest.slice(1))) {
      const truncated = digits === 0 ? exact.slice(0, dot) : exact.slice(0, dot + 1 + digits);
      const last = truncated.charCodeAt(truncated.length - 1) - 48;
      if (last % 2 === 0) s = truncated; // otherwise toFixed already rounded away from zero (to even)
    }
  }
  return negative ? `-${s}` : s;
}

function padBytes(s: string, width: number): string {
  const len = Buffer.byteLength(s, "utf8");
  return len >= width ? s : " ".repeat(width - len) + s;
}

/** Perl's percentage arithmetic: 100*c/n (0 when n = 0), FB1 = 2*P*R/(P+R) (0 when P+R = 0). */
function percents(correct: number, found: number, gold: number): [number, number, number] {
  const p = found > 0 ? (100 * correct) / found : 0;
  const r = gold > 0 ? (100 * correct) / gold : 0;
  const f = p + r > 0 ? (2 * p * r) / (p + r) : 0;
  return [p, r, f];
}

/**
 * The report conlleval prints (without -l), byte for byte: the "processed" line, the accuracy
 * line (omitted when there is no token) and one line per chunk type. Percentages are recomputed
 * from the counts with the script's arithmetic, so they match its output digit for digit.
 */
export function formatConlleval(score: ConllScore): string {
  const f6 = (x: number) => printfFixed(x, 2).padStart(6);
  let out =
    `processed ${score.tokens} tokens with ${score.phrases} phrases; ` +
    `found: ${score.found} phrases; correct: ${score.correct}.\n`;
  if (score.tokens > 0) {
    const [p, r, f] = percents(score.correct, score.found, score.phrases);
    const accuracy = (100 * score.correctTags) / score.tokens;
    out += `accuracy: ${f6(accuracy)}%; precision: ${f6(p)}%; recall: ${f6(r)}%; FB1: ${f6(f)}\n`;
  }
  const types = Object.keys(score.per_type).sort(compareBytes);
  for (const t of types) {
    const s = score.per_type[t]!;
    const [p, r, f] = percents(s.correct, s.found, s.gold);
    const line = `${padBytes(t, 17)}: precision: ${f6(p)}%; recall: ${f6(r)}%; FB1: ${f6(f)}  ${s.found}\n`;
    out += line;
    // conlleval's de-duplication (`not($lastType) or $lastType ne $i`) lets "" through twice
    // when it is a key of both %foundCorrect and %foundGuessed.
    if (t === "" && s.found > 0 && s.gold > 0) out += line;
  }
  return out;
}

/**
 * IOBES / BIOES to IOB2 (S- becomes B-, E- becomes I-; other tags unchanged), for scoring IOBES
 * output with conlleval's rules, which do not know S- and miss E- followed by B-.
 */
export function iobesToIob2(tags: readonly string[]): string[] {
  return tags.map((t) => {
    if (t.startsWith("S-")) return `B-${t.slice(2)}`;
    if (t.startsWith("E-")) return `I-${t.slice(2)}`;
    return t === "S" ? "B" : t === "E" ? "I" : t;
  });
}
