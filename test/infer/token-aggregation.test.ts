/**
 * Tests for src/infer/token-aggregation.ts, a port of transformers' TokenClassificationPipeline
 * post-processing. The first group translates transformers' own hand-built cases
 * (tests/pipelines/test_pipelines_token_classification.py) with their exact inputs and expected
 * outputs; floats are compared as they compare them (nested_simplify: rounded to 3 decimals),
 * or exactly where they compare exactly.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  aggregate,
  aggregateTokens,
  argmax,
  gatherPreEntities,
  getTag,
  groupEntities,
  nanmean,
  pairwiseSum,
  parseAggregationStrategy,
  softmaxRows,
  wordPieceTokensToString,
  SLOW_TOKENIZER_MESSAGE,
  type AggregationStrategy,
  type GroupedEntity,
  type PreEntity,
  type TokenEntity,
  type TokenInput,
} from "../../src/infer/token-aggregation.js";

// ---------------------------------------------------------------------------------------------
// helpers

/** Python's round(x, 3) (exact-value rounding, ties to even), as nested_simplify uses. */
function pyRound3(x: number): number {
  const y = x * 1000;
  const f = Math.floor(y);
  if (y - f === 0.5) return (f % 2 === 0 ? f : f + 1) / 1000;
  return Number(x.toFixed(3));
}

/** transformers.testing_utils.nested_simplify(obj, decimals=3) on plain data. */
function simplify(obj: unknown): unknown {
  if (typeof obj === "number") return Number.isInteger(obj) ? obj : pyRound3(obj);
  if (Array.isArray(obj) || ArrayBuffer.isView(obj)) return Array.from(obj as ArrayLike<unknown>, simplify);
  if (obj !== null && typeof obj === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = simplify(v);
    return out;
  }
  return obj;
}

function pe(scores: number[], index: number, isSubword: boolean, word: string, start: number, end: number): PreEntity {
  return { scores, index, isSubword, word, start, end };
}

const DBMDZ = ["O", "B-MISC", "I-MISC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"];

/**
 * A toy BERT-style tokenization with code-point offsets: words are runs of letters/digits or single
 * punctuation marks; `pieces` says how a word (after `normalize`) splits into WordPiece tokens.
 * Returns [CLS] ... [SEP] with ids = position (only [UNK] ids matter here).
 */
function toyTokenize(
  text: string,
  pieces: Record<string, string[]> = {},
  normalize: (w: string) => string = (w) => w,
  unk: ReadonlySet<string> = new Set(),
): TokenInput[] {
  const cps = Array.from(text);
  const out: TokenInput[] = [{ token: "[CLS]", id: 101, offsets: null, special: true }];
  let i = 0;
  const isWordCp = (c: string) => /[\p{L}\p{N}\p{M}]/u.test(c);
  while (i < cps.length) {
    const c = cps[i];
    if (/\s/u.test(c)) {
      i++;
      continue;
    }
    let j = i + 1;
    if (isWordCp(c)) while (j < cps.length && isWordCp(cps[j])) j++;
    const orig = cps.slice(i, j).join("");
    if (unk.has(orig)) {
      out.push({ token: "[UNK]", id: 100, offsets: [i, j], special: false });
    } else {
      const norm = normalize(orig);
      const ps = pieces[norm] ?? [norm];
      let p = i;
      for (const piece of ps) {
        const len = Array.from(piece.startsWith("##") ? piece.slice(2) : piece).length;
        out.push({ token: piece, id: 1000 + out.length, offsets: [p, p + len], special: false });
        p += len;
      }
      assert.equal(p, j, `pieces of ${orig} do not cover it`);
    }
    i = j;
  }
  out.push({ token: "[SEP]", id: 102, offsets: null, special: true });
  return out;
}

/** Logits for `labels` (one per token, in model-input order): `hi` for the label, 0 elsewhere. */
function oneHotLogits(labels: string[], id2label: string[], hi = 10): number[] {
  const out: number[] = [];
  for (const l of labels) {
    const k = id2label.indexOf(l);
    assert.ok(k >= 0, `unknown label ${l}`);
    for (let j = 0; j < id2label.length; j++) out.push(j === k ? hi : 0);
  }
  return out;
}

/** The probability of the hot label under oneHotLogits. */
function pHot(L: number, hi = 10): number {
  return Math.exp(hi) / (Math.exp(hi) + (L - 1));
}

function close(actual: number, expected: number, tol = 1e-9, msg?: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${msg ?? ""} ${actual} vs ${expected}`);
}

// ---------------------------------------------------------------------------------------------
// transformers' own cases

test("transformers test_aggregation_strategy_no_b_i_prefix", () => {
  const id2label = ["O", "MISC", "PER", "ORG", "LOC"];
  const example = [
    pe([0, 0, 0, 0, 0.9968166351318359], 1, false, "En", 0, 2),
    pe([0, 0, 0, 0, 0.9957635998725891], 2, true, "##zo", 2, 4),
    pe([0, 0, 0, 0.9986497163772583, 0], 7, false, "UN", 11, 13),
  ];
  assert.deepEqual(simplify(aggregate(example, "none", id2label)), [
    { end: 2, entity: "LOC", score: 0.997, start: 0, word: "En", index: 1 },
    { end: 4, entity: "LOC", score: 0.996, start: 2, word: "##zo", index: 2 },
    { end: 13, entity: "ORG", score: 0.999, start: 11, word: "UN", index: 7 },
  ]);
  assert.deepEqual(simplify(aggregate(example, "simple", id2label)), [
    { entity_group: "LOC", score: 0.996, word: "Enzo", start: 0, end: 4 },
    { entity_group: "ORG", score: 0.999, word: "UN", start: 11, end: 13 },
  ]);
});

test("transformers test_aggregation_strategy (all five strategies)", () => {
  const example = [
    pe([0, 0, 0, 0, 0.9968166351318359, 0, 0, 0], 1, false, "En", 0, 2),
    pe([0, 0, 0, 0, 0.9957635998725891, 0, 0, 0], 2, true, "##zo", 2, 4),
    pe([0, 0, 0, 0, 0, 0.9986497163772583, 0, 0], 7, false, "UN", 11, 13),
  ];
  assert.deepEqual(simplify(aggregate(example, "none", DBMDZ)), [
    { end: 2, entity: "I-PER", score: 0.997, start: 0, word: "En", index: 1 },
    { end: 4, entity: "I-PER", score: 0.996, start: 2, word: "##zo", index: 2 },
    { end: 13, entity: "B-ORG", score: 0.999, start: 11, word: "UN", index: 7 },
  ]);
  assert.deepEqual(simplify(aggregate(example, "simple", DBMDZ)), [
    { entity_group: "PER", score: 0.996, word: "Enzo", start: 0, end: 4 },
    { entity_group: "ORG", score: 0.999, word: "UN", start: 11, end: 13 },
  ]);
  assert.deepEqual(simplify(aggregate(example, "first", DBMDZ)), [
    { entity_group: "PER", score: 0.997, word: "Enzo", start: 0, end: 4 },
    { entity_group: "ORG", score: 0.999, word: "UN", start: 11, end: 13 },
  ]);
  assert.deepEqual(simplify(aggregate(example, "max", DBMDZ)), [
    { entity_group: "PER", score: 0.997, word: "Enzo", start: 0, end: 4 },
    { entity_group: "ORG", score: 0.999, word: "UN", start: 11, end: 13 },
  ]);
  assert.deepEqual(simplify(aggregate(example, "average", DBMDZ)), [
    { entity_group: "PER", score: 0.996, word: "Enzo", start: 0, end: 4 },
    { entity_group: "ORG", score: 0.999, word: "UN", start: 11, end: 13 },
  ]);
});

test("transformers test_aggregation_strategy_example2 (first / max / average disagree)", () => {
  // 10 scores for 9 labels, as in transformers' test (the 10th is always 0)
  const example = [
    pe([0, 0.55, 0, 0.45, 0, 0, 0, 0, 0, 0], 1, false, "Ra", 0, 2),
    pe([0, 0, 0, 0.2, 0, 0, 0, 0.8, 0, 0], 2, true, "##ma", 2, 4),
    pe([0, 0, 0, 0.4, 0, 0, 0.6, 0, 0, 0], 3, true, "##zotti", 11, 13),
  ];
  // compared exactly (no nested_simplify) in transformers
  assert.deepEqual(aggregate(example, "none", DBMDZ), [
    { end: 2, entity: "B-MISC", score: 0.55, start: 0, word: "Ra", index: 1 },
    { end: 4, entity: "B-LOC", score: 0.8, start: 2, word: "##ma", index: 2 },
    { end: 13, entity: "I-ORG", score: 0.6, start: 11, word: "##zotti", index: 3 },
  ]);
  assert.deepEqual(aggregate(example, "first", DBMDZ), [{ entity_group: "MISC", score: 0.55, word: "Ramazotti", start: 0, end: 13 }]);
  assert.deepEqual(aggregate(example, "max", DBMDZ), [{ entity_group: "LOC", score: 0.8, word: "Ramazotti", start: 0, end: 13 }]);
  assert.deepEqual(simplify(aggregate(example, "average", DBMDZ)), [{ entity_group: "PER", score: 0.35, word: "Ramazotti", start: 0, end: 13 }]);
});

test("transformers test_gather_pre_entities", () => {
  // "Hello there" with the cased BERT tokenizer: [CLS] Hello there [SEP]; 3 score rows (the
  // first is [CLS]'s; [SEP] has none), as in transformers' test
  const sentence = "Hello there";
  const tokens = toyTokenize(sentence);
  assert.deepEqual(
    tokens.map((t) => [t.token, t.offsets, t.special]),
    [["[CLS]", null, true], ["Hello", [0, 5], false], ["there", [6, 11], false], ["[SEP]", null, true]],
  );
  const scores = [1, 0, 0, 0.1, 0.3, 0.6, 0.8, 0.1, 0.1];
  const pre = gatherPreEntities(sentence, tokens, scores, 3, { aggregation: "none" });
  assert.deepEqual(simplify(pre), [
    { word: "Hello", scores: [0.1, 0.3, 0.6], start: 0, end: 5, isSubword: false, index: 1 },
    { word: "there", scores: [0.8, 0.1, 0.1], index: 2, start: 6, end: 11, isSubword: false },
  ]);
});

test("transformers test_word_heuristic_leading_space (fallback rule for tokenizers without ##)", () => {
  // DeBERTa-v2 (SentencePiece) on "I play the theremin": the offsets of "▁word" tokens start at
  // the space before the word
  const sentence = "I play the theremin";
  const tokens: TokenInput[] = [
    { token: "[CLS]", id: 1, offsets: null, special: true },
    { token: "▁I", id: 10, offsets: [0, 1], special: false },
    { token: "▁play", id: 11, offsets: [1, 6], special: false },
    { token: "▁the", id: 12, offsets: [6, 10], special: false },
    { token: "▁there", id: 13, offsets: [10, 16], special: false },
    { token: "min", id: 14, offsets: [16, 19], special: false },
    { token: "[SEP]", id: 2, offsets: null, special: true },
  ];
  const scores = tokens.flatMap(() => [1, 0]);
  const pre = gatherPreEntities(sentence, tokens, scores, 2, { aggregation: "first", subwordRule: "space" });
  assert.deepEqual(
    pre.map((e) => [e.word, e.isSubword]),
    [["▁I", false], ["▁play", false], ["▁the", false], ["▁there", false], ["min", true]],
  );
});

test("transformers slow tests' structure: Spanish BERT (words, offsets, grouping per strategy)", () => {
  const sentence =
    "Consuelo Araújo Noguera, ministra de cultura del presidente Andrés Pastrana (1998.2002) fue asesinada por las Farc luego de haber permanecido secuestrada por algunos meses.";
  const tokens = toyTokenize(sentence, {
    Consuelo: ["Cons", "##uelo"],
    Araújo: ["Ara", "##új", "##o"],
    Noguera: ["No", "##guera"],
    Farc: ["Far", "##c"],
  });
  const tags: Record<string, string> = {
    Cons: "B-PER", "##uelo": "B-PER", Ara: "I-PER", "##új": "I-PER", "##o": "I-PER", No: "I-PER", "##guera": "I-PER",
    "Andrés": "B-PER", Pastrana: "I-PER", Far: "B-ORG",
  };
  const labels = tokens.map((t) => tags[t.token] ?? "O");
  const logits = oneHotLogits(labels, DBMDZ);
  // "##c" leans to I-ORG, less surely (logit 5): the word strategies disagree on its row
  const c = tokens.findIndex((t) => t.token === "##c");
  logits.splice(c * 9, 9, ...oneHotLogits(["I-ORG"], DBMDZ, 5));
  const p = pHot(DBMDZ.length);
  const q5 = 1 / (Math.exp(5) + 8); // a cold label's probability under logit 5

  const none = aggregateTokens(sentence, tokens, logits, DBMDZ);
  assert.deepEqual(simplify(none.slice(0, 3)), simplify([
    { entity: "B-PER", score: p, index: 1, word: "Cons", start: 0, end: 4 },
    { entity: "B-PER", score: p, index: 2, word: "##uelo", start: 4, end: 8 },
    { entity: "I-PER", score: p, index: 3, word: "Ara", start: 9, end: 12 },
  ]));

  const simple = aggregateTokens(sentence, tokens, logits, DBMDZ, { aggregation: "simple" });
  assert.deepEqual(
    simple.slice(0, 3).map(({ entity_group, word, start, end }) => ({ entity_group, word, start, end })),
    [
      { entity_group: "PER", word: "Cons", start: 0, end: 4 },
      { entity_group: "PER", word: "##uelo Araújo Noguera", start: 4, end: 23 },
      { entity_group: "PER", word: "Andrés Pastrana", start: 60, end: 75 },
    ],
  );
  for (const s of ["first", "max", "average"] as const) {
    const out = aggregateTokens(sentence, tokens, logits, DBMDZ, { aggregation: s });
    assert.deepEqual(
      out.map(({ entity_group, word, start, end }) => ({ entity_group, word, start, end })),
      [
        { entity_group: "PER", word: "Consuelo Araújo Noguera", start: 0, end: 23 },
        { entity_group: "PER", word: "Andrés Pastrana", start: 60, end: 75 },
        { entity_group: "ORG", word: "Farc", start: 110, end: 114 },
      ],
      s,
    );
    // "Farc" = Far (B-ORG, p) + ##c (I-ORG, less sure): first/max take Far's row; average
    // takes B-ORG's mean over the two rows
    close(out[2].score, s === "average" ? (p + q5) / 2 : p, 1e-12, s);
  }
});

test("transformers slow tests' structure: dbmdz English and uncased chunking words", () => {
  const sentence = "Enzo works at the UN";
  const tokens = toyTokenize(sentence, { Enzo: ["En", "##zo"] });
  const labels = tokens.map((t) => ({ En: "I-PER", "##zo": "I-PER", UN: "I-ORG" })[t.token] ?? "O");
  const logits = oneHotLogits(labels, DBMDZ);
  assert.deepEqual(
    aggregateTokens(sentence, tokens, logits, DBMDZ).map(({ entity, index, word, start, end }) => ({ entity, index, word, start, end })),
    [
      { entity: "I-PER", word: "En", start: 0, end: 2, index: 1 },
      { entity: "I-PER", word: "##zo", start: 2, end: 4, index: 2 },
      { entity: "I-ORG", word: "UN", start: 18, end: 20, index: 6 },
    ],
  );
  for (const s of ["simple", "first", "max", "average"] as const) {
    assert.deepEqual(
      aggregateTokens(sentence, tokens, logits, DBMDZ, { aggregation: s }).map(({ entity_group, word, start, end }) => ({ entity_group, word, start, end })),
      [
        { entity_group: "PER", word: "Enzo", start: 0, end: 4 },
        { entity_group: "ORG", word: "UN", start: 18, end: 20 },
      ],
    );
  }

  // uncased, accent-stripping tokenizer: the word is the decoded tokens, not the original text
  const text = "Hugging Face, Inc. was founded by Clément Delangue.";
  const strip = (w: string) => w.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
  const toks = toyTokenize(text, {}, strip);
  const tag: Record<string, string> = { hugging: "B-ORG", face: "I-ORG", ",": "I-ORG", inc: "I-ORG", clement: "B-PER", delangue: "I-PER" };
  // the "." right after "inc" is part of the ORG, the final one is not
  const lab = toks.map((t, i) => (t.token === "." && i === 5 ? "I-ORG" : (tag[t.token] ?? "O")));
  const out = aggregateTokens(text, toks, oneHotLogits(lab, DBMDZ), DBMDZ, { aggregation: "first" });
  assert.deepEqual(
    out.map(({ entity_group, word, start, end }) => ({ entity_group, word, start, end })),
    [
      { entity_group: "ORG", word: "hugging face, inc.", start: 0, end: 18 },
      { entity_group: "PER", word: "clement delangue", start: 34, end: 50 },
    ],
  );
  assert.equal(text.slice(34, 50), "Clément Delangue");
});

// ---------------------------------------------------------------------------------------------
// further behaviour

test("a word in 3 pieces with different labels: full path from logits, every strategy", () => {
  const text = "Ramazotti";
  const tokens = toyTokenize(text, { Ramazotti: ["Ra", "##ma", "##zotti"] });
  assert.deepEqual(tokens.map((t) => t.offsets), [null, [0, 2], [2, 4], [4, 9], null]);
  // logits = log(p) reproduce the probabilities of transformers' example2 (rows sum to 1)
  const rows = [
    [0, 0, 0, 0, 0, 0, 0, 0, 0], // [CLS]
    [0, 0.55, 0, 0.45, 0, 0, 0, 0, 0],
    [0, 0, 0, 0.2, 0, 0, 0, 0.8, 0],
    [0, 0, 0, 0.4, 0, 0, 0.6, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0], // [SEP]
  ];
  const logits = rows.flatMap((r) => r.map(Math.log));
  const g = (s: AggregationStrategy) => aggregateTokens(text, tokens, logits, DBMDZ, { aggregation: s }) as GroupedEntity[];

  const first = g("first");
  assert.equal(first.length, 1);
  assert.deepEqual({ ...first[0], score: 0 }, { entity_group: "MISC", score: 0, word: "Ramazotti", start: 0, end: 9 });
  close(first[0].score, 0.55, 1e-12);
  const max = g("max");
  assert.deepEqual({ ...max[0], score: 0 }, { entity_group: "LOC", score: 0, word: "Ramazotti", start: 0, end: 9 });
  close(max[0].score, 0.8, 1e-12);
  const avg = g("average");
  assert.deepEqual({ ...avg[0], score: 0 }, { entity_group: "PER", score: 0, word: "Ramazotti", start: 0, end: 9 });
  close(avg[0].score, 0.35, 1e-12);
  // simple: B-MISC, B-LOC, I-ORG are three entities; words keep their "##"
  assert.deepEqual(
    simplify(g("simple")),
    [
      { entity_group: "MISC", score: 0.55, word: "Ra", start: 0, end: 2 },
      { entity_group: "LOC", score: 0.8, word: "##ma", start: 2, end: 4 },
      { entity_group: "ORG", score: 0.6, word: "##zotti", start: 4, end: 9 },
    ],
  );
  const none = aggregateTokens(text, tokens, logits, DBMDZ) as TokenEntity[];
  assert.deepEqual(none.map((e) => [e.entity, e.index, e.word]), [["B-MISC", 1, "Ra"], ["B-LOC", 2, "##ma"], ["I-ORG", 3, "##zotti"]]);
});

test("grouping: split by O, adjacent B- of one type, I- after O, labels without prefix, BIOES", () => {
  const e = (entity: string, word: string, i: number) => ({ entity, score: 0.5 + i / 100, word, start: 2 * i, end: 2 * i + 1 });
  const words = (gs: GroupedEntity[]) => gs.map((x) => [x.entity_group, x.word, x.start, x.end]);

  // entities split by O (the O group is there until ignore_labels filters it)
  assert.deepEqual(words(groupEntities([e("B-PER", "a", 0), e("I-PER", "b", 1), e("O", "c", 2), e("I-PER", "d", 3)])), [
    ["PER", "a b", 0, 3],
    ["O", "c", 4, 5],
    ["PER", "d", 6, 7],
  ]);
  // two adjacent B- of the same type are two entities; I- continues
  assert.deepEqual(words(groupEntities([e("B-PER", "a", 0), e("B-PER", "b", 1), e("I-PER", "c", 2)])), [
    ["PER", "a", 0, 1],
    ["PER", "b c", 2, 5],
  ]);
  // an I- after O starts an entity; a type change ends one
  assert.deepEqual(words(groupEntities([e("O", "a", 0), e("I-LOC", "b", 1), e("I-LOC", "c", 2), e("I-ORG", "d", 3)])), [
    ["O", "a", 0, 1],
    ["LOC", "b c", 2, 5],
    ["ORG", "d", 6, 7],
  ]);
  // labels without B-/I- count as I-: "PER PER" is one entity; consecutive O merge
  assert.deepEqual(words(groupEntities([e("PER", "a", 0), e("PER", "b", 1), e("O", "c", 2), e("O", "d", 3)])), [
    ["PER", "a b", 0, 3],
    ["O", "c d", 4, 7],
  ]);
  // entity_group drops everything up to the first "-" (split("-", 1)[-1]); get_tag only knows B-/I-
  assert.deepEqual(words(groupEntities([e("S-PER", "a", 0), e("S-PER", "b", 1), e("B-PER-X", "c", 2)])), [
    ["PER", "a b", 0, 3],
    ["PER-X", "c", 4, 5],
  ]);
  assert.deepEqual(getTag("B-PER"), ["B", "PER"]);
  assert.deepEqual(getTag("I-PER"), ["I", "PER"]);
  assert.deepEqual(getTag("S-PER"), ["I", "S-PER"]);
  assert.deepEqual(getTag("O"), ["I", "O"]);
  // group score = nanmean of the members
  const gs = groupEntities([e("B-PER", "a", 0), e("I-PER", "b", 1), e("I-PER", "c", 2)]);
  close(gs[0].score, (0.5 + 0.51 + 0.52) / 3, 1e-15);
  assert.deepEqual(groupEntities([]), []);
});

test("full path: O splits, B-B, I after O, special tokens skipped, ignoreLabels", () => {
  const text = "Ann Bob met Cy in Rome";
  const tokens = toyTokenize(text);
  // [CLS] and [SEP] predict B-PER strongly: they must not appear
  const labels = ["B-PER", "B-PER", "B-PER", "O", "I-PER", "O", "I-LOC", "B-PER"];
  const logits = oneHotLogits(labels, DBMDZ);
  const simple = aggregateTokens(text, tokens, logits, DBMDZ, { aggregation: "simple" });
  assert.deepEqual(
    simple.map(({ entity_group, word, start, end }) => [entity_group, word, start, end]),
    [
      ["PER", "Ann", 0, 3],
      ["PER", "Bob", 4, 7],
      ["PER", "Cy", 12, 14],
      ["LOC", "Rome", 18, 22],
    ],
  );
  const none = aggregateTokens(text, tokens, logits, DBMDZ) as TokenEntity[];
  assert.deepEqual(none.map((x) => [x.entity, x.index, x.word]), [["B-PER", 1, "Ann"], ["B-PER", 2, "Bob"], ["I-PER", 4, "Cy"], ["I-LOC", 6, "Rome"]]);
  // ignoreLabels [] keeps O; ["O", "I-PER"] filters by the full label for strategy none
  const all = aggregateTokens(text, tokens, logits, DBMDZ, { aggregation: "simple", ignoreLabels: [] });
  assert.deepEqual(all.map((x) => x.entity_group), ["PER", "PER", "O", "PER", "O", "LOC"]);
  assert.equal(all[2].word, "met");
  const noIper = aggregateTokens(text, tokens, logits, DBMDZ, { ignoreLabels: ["O", "I-PER"] }) as TokenEntity[];
  assert.deepEqual(noIper.map((x) => x.word), ["Ann", "Bob", "Rome"]);
  // filtering is after grouping: "PER" in ignoreLabels drops the PER groups, "B-PER" does not
  assert.deepEqual(aggregateTokens(text, tokens, logits, DBMDZ, { aggregation: "simple", ignoreLabels: ["O", "PER"] }).map((x) => x.word), ["Rome"]);
  assert.equal(aggregateTokens(text, tokens, logits, DBMDZ, { aggregation: "simple", ignoreLabels: ["O", "B-PER"] }).length, 4);
  // key order as in the pipeline
  assert.deepEqual(Object.keys(none[0]), ["entity", "score", "index", "word", "start", "end"]);
  assert.deepEqual(Object.keys(simple[0]), ["entity_group", "score", "word", "start", "end"]);
});

test("no offsets: none/simple give null start/end; first/average/max throw", () => {
  const text = "Enzo works";
  const tokens = toyTokenize(text, { Enzo: ["En", "##zo"] }).map((t) => ({ ...t, offsets: null }));
  const labels = ["O", "B-PER", "I-PER", "O", "O"];
  const logits = oneHotLogits(labels, DBMDZ);
  assert.deepEqual(
    (aggregateTokens(text, tokens, logits, DBMDZ) as TokenEntity[]).map(({ entity, word, start, end, index }) => ({ entity, word, start, end, index })),
    [
      { entity: "B-PER", word: "En", start: null, end: null, index: 1 },
      { entity: "I-PER", word: "##zo", start: null, end: null, index: 2 },
    ],
  );
  const simple = aggregateTokens(text, tokens, logits, DBMDZ, { aggregation: "simple" });
  assert.deepEqual(simple.map(({ entity_group, word, start, end }) => ({ entity_group, word, start, end })), [
    { entity_group: "PER", word: "Enzo", start: null, end: null },
  ]);
  for (const s of ["first", "average", "max"] as const) {
    assert.throws(
      () => aggregateTokens(text, tokens, logits, DBMDZ, { aggregation: s }),
      (err: unknown) => err instanceof Error && err.message.startsWith(SLOW_TOKENIZER_MESSAGE),
    );
  }
});

test("[UNK] takes the original text and starts a word; offsets are code points", () => {
  // "😀" is two UTF-16 units but one code point, as the tokenizers package counts
  const text = "😀 Parisé xyz";
  const tokens = toyTokenize(text, { "Parisé": ["Paris", "##é"] }, (w) => w, new Set(["xyz"]));
  assert.deepEqual(tokens.map((t) => [t.token, t.offsets]), [
    ["[CLS]", null],
    ["😀", [0, 1]],
    ["Paris", [2, 7]],
    ["##é", [7, 8]],
    ["[UNK]", [9, 12]],
    ["[SEP]", null],
  ]);
  const pre = gatherPreEntities(text, tokens, new Array(tokens.length * 2).fill(0.5), 2, { aggregation: "first" });
  assert.deepEqual(pre.map((p) => [p.word, p.isSubword, p.start, p.end]), [
    ["😀", false, 0, 1],
    ["Paris", false, 2, 7],
    ["##é", true, 7, 8],
    ["xyz", false, 9, 12],
  ]);
  // by id when unkTokenId is given (the token text is then not consulted)
  const byId = gatherPreEntities(text, tokens, new Array(tokens.length * 2).fill(0.5), 2, { unkTokenId: 100, unkToken: "nothing" });
  assert.equal(byId[3].word, "xyz");
  const byWrongId = gatherPreEntities(text, tokens, new Array(tokens.length * 2).fill(0.5), 2, { unkTokenId: 7 });
  assert.equal(byWrongId[3].word, "[UNK]");
  assert.equal(byWrongId[3].isSubword, true); // len("[UNK]") != len("xyz"), as the pipeline would say

  const labels = ["O", "O", "B-LOC", "I-LOC", "B-MISC", "O"];
  const out = aggregateTokens(text, tokens, oneHotLogits(labels, DBMDZ), DBMDZ, { aggregation: "average" });
  assert.deepEqual(out.map(({ entity_group, word, start, end }) => [entity_group, word, start, end]), [
    ["LOC", "Parisé", 2, 8],
    ["MISC", "xyz", 9, 12],
  ]);
});

test("subword rules: length (WordPiece) vs space (fallback)", () => {
  const text = "New-York ok";
  const tokens = toyTokenize(text, { York: ["Yo", "##rk"] });
  // New - Yo ##rk ok
  const lengthRule = gatherPreEntities(text, tokens, new Array(tokens.length).fill(1), 1, { aggregation: "first" });
  assert.deepEqual(lengthRule.map((p) => [p.word, p.isSubword]), [["New", false], ["-", false], ["Yo", false], ["##rk", true], ["ok", false]]);
  const spaceRule = gatherPreEntities(text, tokens, new Array(tokens.length).fill(1), 1, { aggregation: "first", subwordRule: "space" });
  assert.deepEqual(spaceRule.map((p) => [p.word, p.isSubword]), [["New", false], ["-", true], ["Yo", true], ["##rk", true], ["ok", false]]);
});

test("softmaxRows: max subtraction, rows sum to 1, huge logits, NaN propagates", () => {
  const p = softmaxRows([1, 2, 3, 1000, 1001, 1002, -1e4, 0, 1e4], 3);
  const e = [Math.exp(-2), Math.exp(-1), 1];
  const s = e[0] + e[1] + e[2];
  for (let r = 0; r < 2; r++) for (let j = 0; j < 3; j++) close(p[r * 3 + j], e[j] / s, 1e-15);
  assert.deepEqual(Array.from(p.subarray(6)), [0, 0, 1]);
  const f = softmaxRows(new Float32Array([0, 0, 0, 0]), 4);
  assert.deepEqual(Array.from(f), [0.25, 0.25, 0.25, 0.25]);
  assert.ok(Array.from(softmaxRows([0, NaN, 1], 3)).every(Number.isNaN));
  assert.throws(() => softmaxRows([1, 2, 3], 2), /multiple/);
});

test("numpy-order helpers: pairwise sum, nanmean, argmax", () => {
  const a = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1, 1.3];
  // numpy: 8 accumulators, combined pairwise, then the rest in order
  const r = a.slice(0, 8);
  const expected = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7])) + a[8] + a[9] + a[10];
  assert.equal(pairwiseSum(a), expected);
  assert.equal(pairwiseSum([0.1, 0.2, 0.3]), 0.1 + 0.2 + 0.3);
  const big = Array.from({ length: 300 }, (_, i) => 1 / (i + 1));
  let seq = 0;
  for (const v of big) seq += v;
  close(pairwiseSum(big), seq, 1e-12);
  assert.equal(nanmean([1, NaN, 2]), 1.5);
  assert.ok(Number.isNaN(nanmean([NaN, NaN])));
  assert.equal(argmax([0.2, 0.5, 0.5, 0.1]), 1);
  assert.equal(argmax([0.2, NaN, 0.9, NaN]), 1);
});

test("wordPieceTokensToString = the tokenizers WordPiece decoder (prefix ##, per-token cleanup)", () => {
  // the tokenizers crate's own test (cleanup off); with cleanup on it is the same
  const t = ["##uelo", "Ara", "##új", "##o", "No", "##guera"];
  assert.equal(wordPieceTokensToString(t, "##", false), "##uelo Araújo Noguera");
  assert.equal(wordPieceTokensToString(t), "##uelo Araújo Noguera");
  // checked against tokenizers 0.23.2 (Node) wordPieceDecoder("##", true)
  assert.equal(wordPieceTokensToString(["##uelo", "Ara", "##új", "it", "'", "s", ".", " do", "not"]), "##uelo Araúj it ' s.  do not");
  assert.equal(wordPieceTokensToString(["hugging", "face", ",", "inc", "."]), "hugging face, inc.");
  assert.equal(wordPieceTokensToString(["do", "n't", "stop", "!", "?"]), "don't stop!?");
  assert.equal(wordPieceTokensToString([]), "");
});

test("strategy parsing, option errors and empty input", () => {
  assert.equal(parseAggregationStrategy("FIRST"), "first");
  assert.throws(() => parseAggregationStrategy("mean"), /Invalid aggregation_strategy/);
  const text = "a";
  const tokens = toyTokenize(text);
  assert.throws(() => aggregateTokens(text, tokens, [1, 2, 3], DBMDZ), /expected tokens.length \* labels/);
  assert.throws(() => aggregateTokens(text, tokens, new Array(27).fill(0), DBMDZ, { aggregation: "mean" as AggregationStrategy }), /Invalid aggregation_strategy/);
  const upper = aggregateTokens(text, tokens, oneHotLogits(["O", "B-PER", "O"], DBMDZ), DBMDZ, { aggregation: "FIRST" as AggregationStrategy });
  assert.deepEqual(upper.map((x) => (x as GroupedEntity).entity_group), ["PER"]);
  for (const s of ["none", "simple", "first", "average", "max"] as const) {
    assert.deepEqual(aggregateTokens("", [], [], DBMDZ, { aggregation: s }), []);
    const onlySpecial = toyTokenize("");
    assert.deepEqual(aggregateTokens("", onlySpecial, new Array(18).fill(0), DBMDZ, { aggregation: s }), []);
  }
  // a class index with no label
  assert.throws(() => aggregate([pe([0, 0, 1], 1, false, "x", 0, 1)], "none", ["O", "B-PER"]), /no label for class 2/);
});
