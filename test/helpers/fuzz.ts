/**
 * Test-only fuzzing helpers shared by test/io/fuzz.test.ts (binary readers) and test/data/fuzz.test.ts (text
 * readers): byte-level and text-aware mutators driven by a fixed-seed PRNG, and `fuzz`, which feeds mutants to a
 * reader and checks that every outcome is a result or a clean Error naming the file.
 */
import assert from "node:assert/strict";
import { mulberry32 } from "./prng.js";

/** FUZZ_SCALE=N multiplies every iteration count (deeper runs by hand; the time budgets apply at 1). */
export const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);

export const rng = mulberry32;

const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe, 0x40];

/** One byte-level mutation: bit flips, a truncation, an insertion, a deletion or overwrites with interesting bytes. */
export function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const n = src.length;
  const pos = Math.floor(r() * Math.max(n, 1));
  switch (Math.floor(r() * 5)) {
    case 0: {
      const out = Uint8Array.from(src);
      const flips = 1 + Math.floor(r() * 3);
      for (let i = 0; i < flips && n; i++) out[Math.floor(r() * n)] ^= 1 << Math.floor(r() * 8);
      return out;
    }
    case 1:
      return src.slice(0, pos);
    case 2: {
      const k = 1 + Math.floor(r() * 8);
      const ins = Uint8Array.from({ length: k }, () => Math.floor(r() * 256));
      const out = new Uint8Array(n + k);
      out.set(src.subarray(0, pos));
      out.set(ins, pos);
      out.set(src.subarray(pos), pos + k);
      return out;
    }
    case 3: {
      const k = 1 + Math.floor(r() * 8);
      const out = new Uint8Array(Math.max(0, n - k));
      out.set(src.subarray(0, pos).subarray(0, out.length));
      if (pos < out.length) out.set(src.subarray(pos + k, pos + k + out.length - pos), pos);
      return out;
    }
    default: {
      const out = Uint8Array.from(src);
      const times = 1 + Math.floor(r() * 4);
      for (let i = 0; i < times && n; i++) out[Math.floor(r() * n)] = INTERESTING[Math.floor(r() * INTERESTING.length)];
      return out;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Text-aware mutations (CSV, TSV, JSONL, JSON, CoNLL, XML, vocab files)

/** Text inserted at a random place: delimiters, quotes, line ends, a BOM, markup, escapes, odd code points. */
const SPECIALS = [
  "\0", '"', "'", "\t", ",", " ", "\r", "\n", "\r\n", "\n\n", "\uFEFF", "{", "}", "[", "]", ":", "<", ">", "/", "&", "&amp;",
  "&#0;", "&#xD800;", "&bogus;", "<!--", "]]>", "<![CDATA[", "-DOCSTART-", "-DOCSTART- -X- -X- O\n", "\\", "\\u", "\\ud800",
  "\u2028", "\u00a0", "\u{1F600}", "\u0301", "\uFFFD", "-", "=", "B-", "I-", "##", "[UNK]", "__proto__",
];

/** Bytes that are not UTF-8 (alone, or where they land): a lone continuation byte, a truncated sequence, a surrogate, an overlong form. */
const BAD_UTF8 = [[0xff], [0x80], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0xfe, 0xff]];

/** What a number becomes. */
const NUMBERS = [
  "NaN", "nan", "Infinity", "-Infinity", "inf", "1e309", "-1e309", "-1", "-0", "0", "1.5", "-2.5", "99999999999999999999",
  "4294967296", "9007199254740993", "2147483648", "1e-400", "0x10", "1_000", "", " 1", "1,5", "01", "1e2", "\u0661",
];

/** What a JSON value becomes: another type, or an odd value of the same one. */
const JSON_VALUES = [
  "null", "true", "false", "0", "-1", "1.5", "1e999", "-0", "123456789012345678901234567890", '""', '" "', '"x"', '"\\u0000"',
  '"\\ud800"', '"__proto__"', "[]", "{}", "[null]", '[""]', '["a","b"]', '{"":0}', '{"__proto__":1}', '[1,"a",null]', "[[]]",
];

/** Characters whose removal breaks a structure: delimiters, quotes, brackets, markup. */
const STRUCTURAL = ["\t", ",", '"', " ", "\n", "{", "}", "[", "]", ":", "<", ">", "/", "="];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function pick<T>(list: readonly T[], r: () => number): T {
  return list[Math.floor(r() * list.length)]!;
}

function randomIndex(n: number, r: () => number): number {
  return Math.floor(r() * Math.max(n, 1));
}

/** Offsets of every match of a global regex. */
function matches(text: string, re: RegExp): { at: number; text: string }[] {
  const out: { at: number; text: string }[] = [];
  for (const m of text.matchAll(re)) out.push({ at: m.index, text: m[0] });
  return out;
}

/** Replaces a random match of `re` with `make(match)`; the text unchanged when nothing matches. */
function replaceMatch(text: string, re: RegExp, r: () => number, make: (m: string) => string): string {
  const all = matches(text, re);
  if (all.length === 0) return text;
  const m = pick(all, r);
  return text.slice(0, m.at) + make(m.text) + text.slice(m.at + m.text.length);
}

/** End of the JSON value starting at `i` (a string, a bracketed value, or a scalar); approximate on broken input. */
function jsonValueEnd(text: string, i: number): number {
  const c = text[i];
  if (c === '"') {
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
    return Math.min(j + 1, text.length);
  }
  if (c === "{" || c === "[") {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text[j];
      if (d === '"') j = jsonValueEnd(text, j) - 1;
      else if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return text.length;
  }
  const m = /^[^,\]}\s]*/.exec(text.slice(i))!;
  return i + Math.max(m[0].length, 1);
}

/** Starts of JSON values: after `:` `[` `,` (and blanks), and the start of the text. */
function jsonValueStarts(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/(^|[:[,])\s*(?=[^\s\]}])/g)) out.push(m.index + m[0].length);
  return out;
}

function splitLines(text: string): string[] {
  return text.split("\n");
}

/** The field delimiter a line most likely uses. */
function delimiterOf(line: string): string {
  return line.includes("\t") ? "\t" : line.includes(",") ? "," : " ";
}

/** One text-aware mutation of a UTF-8 text (see the cases). */
function mutateTextOnce(src: Uint8Array, r: () => number): Uint8Array {
  const op = Math.floor(r() * 15);
  if (op === 0) {
    // invalid UTF-8 at a random byte (possibly inside a multi-byte character)
    const bad = pick(BAD_UTF8, r);
    const pos = randomIndex(src.length + 1, r);
    const out = new Uint8Array(src.length + bad.length);
    out.set(src.subarray(0, pos));
    out.set(bad, pos);
    out.set(src.subarray(pos), pos + bad.length);
    return out;
  }
  const text = decoder.decode(src);
  const lines = splitLines(text);
  const li = randomIndex(lines.length, r);
  let out: string;
  switch (op) {
    case 1: // delete a line
      lines.splice(li, 1);
      out = lines.join("\n");
      break;
    case 2: // duplicate a line
      lines.splice(li, 0, lines[li]!);
      out = lines.join("\n");
      break;
    case 3: {
      // swap two lines
      const lj = randomIndex(lines.length, r);
      [lines[li], lines[lj]] = [lines[lj]!, lines[li]!];
      out = lines.join("\n");
      break;
    }
    case 4: {
      // swap two fields of a line, or drop or add one
      const d = delimiterOf(lines[li]!);
      const f = lines[li]!.split(d);
      const a = randomIndex(f.length, r);
      const b = randomIndex(f.length, r);
      const how = r();
      if (how < 0.5) [f[a], f[b]] = [f[b]!, f[a]!];
      else if (how < 0.75) f.splice(a, 1);
      else f.splice(a, 0, f[b]!);
      lines[li] = f.join(d);
      out = lines.join("\n");
      break;
    }
    case 5: {
      // drop one structural character (a tab, comma, quote, bracket, ...)
      const present = STRUCTURAL.filter((c) => text.includes(c));
      if (present.length === 0) return src;
      const c = pick(present, r);
      out = replaceMatch(text, new RegExp(c.replace(/[[\]{}/\\]/g, "\\$&"), "g"), r, () => "");
      break;
    }
    case 6: {
      // insert a special character or string
      const pos = randomIndex(text.length + 1, r);
      out = text.slice(0, pos) + pick(SPECIALS, r) + text.slice(pos);
      break;
    }
    case 7: // a number becomes NaN, huge, negative, fractional, hexadecimal, empty, ...
      out = replaceMatch(text, /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, r, () => pick(NUMBERS, r));
      break;
    case 8: {
      // a JSON value becomes another type (or is removed, or duplicated)
      const starts = jsonValueStarts(text);
      if (starts.length === 0) return src;
      const at = pick(starts, r);
      const end = jsonValueEnd(text, at);
      const how = r();
      const value = how < 0.8 ? pick(JSON_VALUES, r) : how < 0.9 ? "" : `${text.slice(at, end)},${text.slice(at, end)}`;
      out = text.slice(0, at) + value + text.slice(end);
      break;
    }
    case 9: {
      // one word replaces another (a tag, label, column name, key, attribute value, element name)
      const words = matches(text, /[^\s,"<>{}[\]:=/]+/g);
      if (words.length < 2) return src;
      const w = pick(words, r);
      const other = pick(words, r);
      out = text.slice(0, w.at) + other.text + text.slice(w.at + w.text.length);
      break;
    }
    case 10: // truncate at a line end
      out = lines.slice(0, li).join("\n") + (r() < 0.5 ? "\n" : "");
      break;
    case 11: // a line in upper or lower case
      lines[li] = r() < 0.5 ? lines[li]!.toUpperCase() : lines[li]!.toLowerCase();
      out = lines.join("\n");
      break;
    case 12: // a run of blanks becomes another
      out = replaceMatch(text, /[ \t]+/g, r, () => pick(["\t", " ", "  ", "", "\u00a0", " \t"], r));
      break;
    case 13: {
      // line endings: CRLF, CR only, none at the end, blank lines added
      const how = Math.floor(r() * 4);
      out = how === 0 ? text.replace(/\n/g, "\r\n") : how === 1 ? text.replace(/\n/g, "\r") : how === 2 ? text.replace(/\n+$/, "") : text.replace(/\n/g, "\n\n");
      break;
    }
    default: {
      // whitespace around a line, or a line of only blanks
      const how = r();
      lines[li] = how < 0.33 ? ` ${lines[li]} ` : how < 0.66 ? `\t${lines[li]}` : " \t ";
      out = lines.join("\n");
      break;
    }
  }
  return encoder.encode(out);
}

/** A mutant of a text file: a byte-level mutation (one time in four) or one to three stacked text-aware ones. */
export function mutateText(src: Uint8Array, r: () => number): Uint8Array {
  if (r() < 0.25) return mutate(src, r);
  let out = src;
  const times = 1 + Math.floor(r() * r() * 3);
  for (let i = 0; i < times; i++) out = mutateTextOnce(out, r);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running

export interface Tally {
  ok: number;
  rejected: number;
}

export interface FuzzOptions {
  /** default: mutate (byte-level) */
  mutator?: (src: Uint8Array, r: () => number) => Uint8Array;
  /** every error message must be one line */
  oneLine?: boolean;
  /** further checks of an error, given the mutant that caused it (throw an AssertionError to fail) */
  checkError?: (e: Error, input: Uint8Array) => void;
}

/**
 * Asserts that `e` is a clean reader error: an Error, not a RangeError/TypeError/SyntaxError leaking out, mentioning
 * `mention` (the file), and not a wrapped "unexpected Error" from a catch-all.
 */
export function assertCleanError(e: unknown, where: string, mention: string | RegExp): asserts e is Error {
  assert.ok(e instanceof Error, `${where}: threw a non-Error ${String(e)}`);
  assert.ok(!(e instanceof RangeError) && !(e instanceof TypeError) && !(e instanceof SyntaxError), `${where}: leaked ${e.name}: ${e.message}`);
  assert.ok(typeof mention === "string" ? e.message.includes(mention) : mention.test(e.message), `${where}: message does not say which file: ${e.message}`);
  assert.ok(!/unexpected (RangeError|TypeError|Error|failure)/.test(e.message), `${where}: escaped the reader's own checks: ${e.message}`);
}

/**
 * Runs `read` on `iterations` (× SCALE) mutants of `base`; every failure must be a clean Error mentioning `mention`.
 * The unmutated input must read. An AssertionError thrown by `read` (a check of what it returned) fails at once.
 */
export function fuzz(label: string, base: Uint8Array, iterations: number, seed: number, mention: string | RegExp, read: (b: Uint8Array) => unknown, opts: FuzzOptions = {}): Tally {
  const r = rng(seed);
  const mutator = opts.mutator ?? mutate;
  const tally: Tally = { ok: 0, rejected: 0 };
  read(base);
  for (let i = 0; i < iterations * SCALE; i++) {
    const m = mutator(base, r);
    try {
      read(m);
      tally.ok++;
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      tally.rejected++;
      const where = `${label} mutant ${i}`;
      try {
        assertCleanError(e, where, mention);
        if (opts.oneLine) assert.ok(!/[\r\n]/.test(e.message), `${where}: message is not one line: ${JSON.stringify(e.message)}`);
        opts.checkError?.(e, m);
      } catch (failure) {
        if (failure instanceof assert.AssertionError) failure.message += `\n  the mutant (${m.length} bytes): ${JSON.stringify(Buffer.from(m.subarray(0, 600)).toString("utf8"))}`;
        throw failure;
      }
    }
  }
  return tally;
}
