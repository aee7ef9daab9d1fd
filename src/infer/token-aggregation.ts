/**
 * Token-classification post-processing, a line-by-line port of Hugging Face transformers'
 * `TokenClassificationPipeline` (src/transformers/pipelines/token_classification.py:
 * `postprocess`, `gather_pre_entities`, `aggregate`, `aggregate_word`, `aggregate_words`,
 * `group_sub_entities`, `get_tag`, `group_entities`, and the `AggregationStrategy` enum), as in
 * the transformers 4.4x/4.5x line (ChunkPipeline, `split("-", 1)`, the `word_group is not None`
 * guard, the fixed whitespace heuristic). Pure: node built-ins only, no project imports.
 *
 * What it does, step by step (as the pipeline does for one window of text):
 *  1. `softmaxRows`: per token, `exp(x - max) / sum(exp(x - max))`.
 *  2. `gatherPreEntities`: drops special tokens; for each other token keeps its vocabulary string
 *     (`convert_ids_to_tokens`), its probability row, its character offsets, its position in the
 *     model input (`index`, [CLS] = 0) and `isSubword`:
 *       - rule "length" (default; the pipeline's rule for a tokenizer whose model has a
 *         `continuing_subword_prefix`, i.e. WordPiece "##" as in BERT/ELECTRA):
 *         `is_subword = len(word) != len(sentence[start:end])`;
 *       - rule "space" (the pipeline's fallback for tokenizers without one, e.g. SentencePiece):
 *         `is_subword = start > 0 and " " not in sentence[start - 1 : start + 1]`;
 *       - an [UNK] token takes the original text as its word and is never a sub-word;
 *       - a token without offsets has start = end = null and is not a sub-word.
 *  3. `aggregate`: "none"/"simple" label each token with its argmax; "first"/"average"/"max"
 *     first fuse the tokens of a word (`aggregateWords`), then "simple" and the word strategies
 *     group adjacent entities (`groupEntities`): a tag continues the current group when its
 *     type equals the previous one's and it is not a B- tag ("B-X B-X" gives two entities; an I-
 *     after O starts a new entity; labels without a B-/I- prefix behave as I-).
 *  4. Entities whose `entity` (strategy none) or `entity_group` is in `ignoreLabels` (default
 *     ["O"]) are dropped, after grouping.
 *
 * Words of grouped entities are built like `tokenizer.convert_tokens_to_string` of a fast BERT
 * tokenizer: the `tokenizers` WordPiece decoder (prefix "##", cleanup on), i.e. not the original
 * text. `start`/`end` are the character offsets of the first and last token.
 *
 * Offsets are Unicode code-point indices into `text` (what the `tokenizers` package, Node and
 * Python, returns), not UTF-16 indices; `text` is sliced by code points, and lengths are compared
 * in code points, as Python's `str` does.
 *
 * Numerics: transformers computes in the logits' dtype (float32 for an fp32 model; fp16/bf16 are
 * cast to float32 first); this module computes in float64, so scores agree to float32 rounding
 * (~1e-7). Sums follow numpy's order (pairwise summation for `np.sum`/`np.nanmean` of a 1-D array,
 * a left fold over tokens for `np.nanmean(..., axis=0)`), argmax returns the first maximum (a NaN
 * wins, as in numpy), and "max" keeps the first word piece among equal maxima (Python's `max`).
 */

export type AggregationStrategy = "none" | "simple" | "first" | "average" | "max";

export const AGGREGATION_STRATEGIES: readonly AggregationStrategy[] = ["none", "simple", "first", "average", "max"];

export interface TokenInput {
  /** the sub-token's text as the tokenizer's vocabulary has it (e.g. "##ing") */
  token: string;
  /** vocabulary id */
  id: number;
  /** character offsets [start, end) into the original text (code points), or null for special tokens */
  offsets: [number, number] | null;
  special: boolean;
}

/** One token's prediction (strategy "none"); keys in the pipeline's order. */
export interface TokenEntity {
  entity: string;
  score: number;
  index: number;
  word: string;
  start: number | null;
  end: number | null;
}

/** One grouped entity (strategies "simple", "first", "average", "max"); keys in the pipeline's order. */
export interface GroupedEntity {
  entity_group: string;
  score: number;
  word: string;
  start: number | null;
  end: number | null;
}

/** What `gather_pre_entities` builds for one non-special token. */
export interface PreEntity {
  word: string;
  /** probabilities over the labels */
  scores: ArrayLike<number>;
  start: number | null;
  end: number | null;
  index: number;
  isSubword: boolean;
}

/** A word-level entity (output of `aggregate_word`); it has no `index`. */
export interface WordEntity {
  entity: string;
  score: number;
  word: string;
  start: number | null;
  end: number | null;
}

/**
 * How a token is decided to continue the previous word (see the module comment):
 * "length" = word-aware tokenizer with a continuing-subword prefix (WordPiece, the default),
 * "space" = the pipeline's fallback heuristic for other tokenizers.
 */
export type SubwordRule = "length" | "space";

export interface GatherOptions {
  aggregation?: AggregationStrategy;
  /** default "length" (WordPiece "##"); "space" for tokenizers without a continuing-subword prefix */
  subwordRule?: SubwordRule;
  /** id of the unknown token; when given, [UNK] is recognised by id (as the pipeline does) */
  unkTokenId?: number;
  /** text of the unknown token, used when `unkTokenId` is not given; default "[UNK]" */
  unkToken?: string;
}

export interface AggregateOptions extends GatherOptions {
  /** labels whose entities are dropped after grouping; default ["O"] */
  ignoreLabels?: readonly string[];
  /**
   * `tokenizer.convert_tokens_to_string`; default `wordPieceTokensToString` (prefix "##",
   * cleanup on: the decoder of BERT/ELECTRA fast tokenizers).
   */
  convertTokensToString?: (tokens: string[]) => string;
}

type Decode = (tokens: string[]) => string;

const WORD_STRATEGIES: ReadonlySet<AggregationStrategy> = new Set<AggregationStrategy>(["first", "average", "max"]);

/** The pipeline's message (it raises it for slow tokenizers, which give no offsets). */
export const SLOW_TOKENIZER_MESSAGE =
  'Slow tokenizers cannot handle subwords. Please set the `aggregation_strategy` option to `"simple"` or use a fast tokenizer.';

/** `AggregationStrategy[s.upper()]`: case-insensitive; anything else is an error. */
export function parseAggregationStrategy(s: string): AggregationStrategy {
  const v = String(s).toLowerCase() as AggregationStrategy;
  if (!AGGREGATION_STRATEGIES.includes(v)) {
    throw new Error(`Invalid aggregation_strategy ${JSON.stringify(s)}: expected one of ${AGGREGATION_STRATEGIES.join(", ")}`);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// numpy-order numerics

/**
 * numpy's pairwise summation (`np.add.reduce` over a contiguous 1-D float array, started from the
 * identity 0): a plain loop below 8 elements, 8 accumulators up to 128, halves above.
 */
export function pairwiseSum(a: ArrayLike<number>, from = 0, n = a.length - from): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[from + i];
    return res;
  }
  if (n <= 128) {
    const r0 = [a[from], a[from + 1], a[from + 2], a[from + 3], a[from + 4], a[from + 5], a[from + 6], a[from + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r0[j] += a[from + i + j];
    }
    let res = ((r0[0] + r0[1]) + (r0[2] + r0[3])) + ((r0[4] + r0[5]) + (r0[6] + r0[7]));
    for (; i < n; i++) res += a[from + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, from, n2) + pairwiseSum(a, from + n2, n - n2);
}

/** `np.nanmean` of a 1-D array: NaNs count as 0 in the (pairwise) sum and not in the count; all-NaN gives NaN. */
export function nanmean(values: ArrayLike<number>): number {
  const arr = new Float64Array(values.length);
  let cnt = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) arr[i] = 0;
    else {
      arr[i] = v;
      cnt++;
    }
  }
  return pairwiseSum(arr) / cnt;
}

/** `np.argmax`: the first maximum; a NaN is the maximum (first NaN wins). */
export function argmax(a: ArrayLike<number>): number {
  if (a.length === 0) throw new Error("argmax of an empty sequence");
  let best = 0;
  let bv = a[0];
  if (Number.isNaN(bv)) return 0;
  for (let i = 1; i < a.length; i++) {
    const v = a[i];
    if (Number.isNaN(v)) return i;
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/** `np.max` of a 1-D array (NaN if any element is NaN). */
function npMax(a: ArrayLike<number>): number {
  return a[argmax(a)];
}

/**
 * Softmax of each row of a [rows, L] matrix, as the pipeline computes it:
 * `maxes = max(logits, -1); e = exp(logits - maxes); e / e.sum(-1)` (in float64 here).
 */
export function softmaxRows(logits: Float32Array | number[] | ArrayLike<number>, L: number): Float64Array {
  if (!Number.isInteger(L) || L <= 0) throw new Error(`softmaxRows: L must be a positive integer, got ${L}`);
  if (logits.length % L !== 0) throw new Error(`softmaxRows: ${logits.length} logits is not a multiple of L = ${L}`);
  const out = new Float64Array(logits.length);
  const rows = logits.length / L;
  for (let r = 0; r < rows; r++) {
    const o = r * L;
    let m = logits[o];
    for (let j = 1; j < L; j++) {
      const v = logits[o + j];
      // np.max propagates NaN
      if (v > m || Number.isNaN(v)) m = v;
      if (Number.isNaN(m)) break;
    }
    for (let j = 0; j < L; j++) out[o + j] = Math.exp(logits[o + j] - m);
    const s = pairwiseSum(out, o, L);
    for (let j = 0; j < L; j++) out[o + j] /= s;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// tokenizer pieces

/**
 * `convert_tokens_to_string` of a fast WordPiece tokenizer: the `tokenizers` WordPiece decoder.
 * Every token but the first loses one leading `prefix` if it has it, else gets a leading space
 * (so a leading "##" on the first token stays); with `cleanup`, each token is then cleaned on its
 * own (" ." -> ".", " ?", " !", " ,", " ' " -> "'", " n't", " 'm", " do not" -> " don't", " 's",
 * " 've", " 're") and the pieces are concatenated.
 */
export function wordPieceTokensToString(tokens: readonly string[], prefix = "##", cleanup = true): string {
  let out = "";
  for (let i = 0; i < tokens.length; i++) {
    let t = tokens[i];
    if (i !== 0) {
      if (t.startsWith(prefix)) t = t.slice(prefix.length);
      else t = " " + t;
    }
    if (cleanup) t = wordPieceCleanup(t);
    out += t;
  }
  return out;
}

function wordPieceCleanup(s: string): string {
  return s
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" do not", " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** Python's `s[a:b]` on code points, for 0 <= a (negative b is not needed here). */
function pySlice(cps: readonly string[], a: number, b: number): string {
  const n = cps.length;
  const s = Math.min(Math.max(a, 0), n);
  const e = Math.min(Math.max(b, 0), n);
  return s < e ? cps.slice(s, e).join("") : "";
}

function cpLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// the pipeline's steps

/**
 * `gather_pre_entities`. `scores` is a flat [rows, L] matrix of probabilities; row `idx` belongs to
 * `tokens[idx]` (rows may be fewer than tokens, as the pipeline iterates over the score rows).
 * Special tokens are skipped. Under "first"/"average"/"max", a non-special token without offsets
 * is an error (the pipeline refuses those strategies for tokenizers that give no offsets).
 */
export function gatherPreEntities(
  text: string,
  tokens: readonly TokenInput[],
  scores: ArrayLike<number>,
  L: number,
  opts: GatherOptions = {},
): PreEntity[] {
  const aggregation = parseAggregationStrategy(opts.aggregation ?? "none");
  const rule: SubwordRule = opts.subwordRule ?? "length";
  if (rule !== "length" && rule !== "space") throw new Error(`Invalid subwordRule ${JSON.stringify(rule)}`);
  if (!Number.isInteger(L) || L <= 0) throw new Error(`L must be a positive integer, got ${L}`);
  if (scores.length % L !== 0) throw new Error(`${scores.length} scores is not a multiple of L = ${L}`);
  const rows = scores.length / L;
  if (rows > tokens.length) throw new Error(`${rows} score rows but only ${tokens.length} tokens`);
  const unkToken = opts.unkToken ?? "[UNK]";
  let cps: string[] | null = null;
  const pre: PreEntity[] = [];
  for (let idx = 0; idx < rows; idx++) {
    const t = tokens[idx];
    if (t.special) continue;
    const rowScores = sliceRow(scores, idx * L, L);
    let word = t.token;
    let start: number | null;
    let end: number | null;
    let isSubword: boolean;
    if (t.offsets !== null && t.offsets !== undefined) {
      const [s, e] = t.offsets;
      if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e < s) {
        throw new Error(`token ${idx} (${JSON.stringify(t.token)}): bad offsets [${s}, ${e}]`);
      }
      start = s;
      end = e;
      cps ??= Array.from(text);
      const wordRef = pySlice(cps, s, e);
      if (rule === "length") {
        // word-aware tokenizer (continuing_subword_prefix): the token is longer than its text
        isSubword = cpLength(word) !== cpLength(wordRef);
      } else {
        // fallback heuristic: no space just before or at the token's start
        isSubword = s > 0 && !pySlice(cps, s - 1, s + 1).includes(" ");
      }
      const isUnk = opts.unkTokenId !== undefined ? t.id === opts.unkTokenId : t.token === unkToken;
      if (isUnk) {
        word = wordRef;
        isSubword = false;
      }
    } else {
      if (WORD_STRATEGIES.has(aggregation)) {
        throw new Error(`${SLOW_TOKENIZER_MESSAGE} (token ${idx} ${JSON.stringify(t.token)} has no offsets; aggregation "${aggregation}" needs them)`);
      }
      start = null;
      end = null;
      isSubword = false;
    }
    pre.push({ word, scores: rowScores, start, end, index: idx, isSubword });
  }
  return pre;
}

function sliceRow(a: ArrayLike<number>, from: number, n: number): Float64Array {
  const r = new Float64Array(n);
  for (let j = 0; j < n; j++) r[j] = a[from + j];
  return r;
}

function labelOf(id2label: readonly string[], idx: number): string {
  const l = id2label[idx];
  if (l === undefined) throw new Error(`id2label has no label for class ${idx} (it has ${id2label.length})`);
  return l;
}

/** `aggregate_word`: one word's tokens (in order) to one word entity. */
export function aggregateWord(
  entities: readonly PreEntity[],
  aggregation: AggregationStrategy,
  id2label: readonly string[],
  decode: Decode = (t) => wordPieceTokensToString(t),
): WordEntity {
  const word = decode(entities.map((e) => e.word));
  let entity: string;
  let score: number;
  if (aggregation === "first") {
    const scores = entities[0].scores;
    const idx = argmax(scores);
    score = scores[idx];
    entity = labelOf(id2label, idx);
  } else if (aggregation === "max") {
    // Python's max(entities, key=lambda e: e["scores"].max()): the first of equal maxima
    let maxEntity = entities[0];
    let maxKey = npMax(maxEntity.scores);
    for (let i = 1; i < entities.length; i++) {
      const k = npMax(entities[i].scores);
      if (k > maxKey) {
        maxKey = k;
        maxEntity = entities[i];
      }
    }
    const scores = maxEntity.scores;
    const idx = argmax(scores);
    score = scores[idx];
    entity = labelOf(id2label, idx);
  } else if (aggregation === "average") {
    // np.nanmean(np.stack(scores), axis=0): a left fold over the tokens, per label
    const L = entities[0].scores.length;
    for (const e of entities) {
      if (e.scores.length !== L) throw new Error("all score rows of a word must have the same length");
    }
    const avg = new Float64Array(L);
    for (let j = 0; j < L; j++) {
      let tot = 0;
      let cnt = 0;
      for (const e of entities) {
        const v = e.scores[j];
        if (!Number.isNaN(v)) {
          tot += v;
          cnt++;
        }
      }
      avg[j] = tot / cnt;
    }
    const idx = argmax(avg);
    entity = labelOf(id2label, idx);
    score = avg[idx];
  } else {
    throw new Error("Invalid aggregation_strategy");
  }
  return { entity, score, word, start: entities[0].start, end: entities[entities.length - 1].end };
}

/**
 * `aggregate_words`: splits the tokens into words (a token that is not a sub-word starts a new
 * word) and fuses each word with `aggregateWord`.
 */
export function aggregateWords(
  entities: readonly PreEntity[],
  aggregation: AggregationStrategy,
  id2label: readonly string[],
  decode: Decode = (t) => wordPieceTokensToString(t),
): WordEntity[] {
  if (aggregation === "none" || aggregation === "simple") {
    throw new Error("NONE and SIMPLE strategies are invalid for word aggregation");
  }
  const out: WordEntity[] = [];
  let group: PreEntity[] | null = null;
  for (const e of entities) {
    if (group === null) group = [e];
    else if (e.isSubword) group.push(e);
    else {
      out.push(aggregateWord(group, aggregation, id2label, decode));
      group = [e];
    }
  }
  if (group !== null) out.push(aggregateWord(group, aggregation, id2label, decode));
  return out;
}

/** `get_tag`: ["B", tag] / ["I", tag] for B-/I- labels; any other label is ["I", label]. */
export function getTag(entityName: string): [string, string] {
  if (entityName.startsWith("B-")) return ["B", entityName.slice(2)];
  if (entityName.startsWith("I-")) return ["I", entityName.slice(2)];
  return ["I", entityName];
}

/**
 * `group_sub_entities`: `entity_group` is the first label with everything up to its first "-"
 * removed (`split("-", 1)[-1]`), `score` the `np.nanmean` of the scores, `word` the decoded tokens.
 */
export function groupSubEntities(
  entities: readonly { entity: string; score: number; word: string; start: number | null; end: number | null }[],
  decode: Decode = (t) => wordPieceTokensToString(t),
): GroupedEntity {
  const first = entities[0].entity;
  const dash = first.indexOf("-");
  const entityGroup = dash === -1 ? first : first.slice(dash + 1);
  const score = nanmean(entities.map((e) => e.score));
  return {
    entity_group: entityGroup,
    score,
    word: decode(entities.map((e) => e.word)),
    start: entities[0].start,
    end: entities[entities.length - 1].end,
  };
}

/** `group_entities`: merges runs of entities of the same type where each follower is not a B- tag. */
export function groupEntities(
  entities: readonly { entity: string; score: number; word: string; start: number | null; end: number | null }[],
  decode: Decode = (t) => wordPieceTokensToString(t),
): GroupedEntity[] {
  const groups: GroupedEntity[] = [];
  let disagg: (typeof entities)[number][] = [];
  for (const e of entities) {
    if (disagg.length === 0) {
      disagg.push(e);
      continue;
    }
    const [bi, tag] = getTag(e.entity);
    const [, lastTag] = getTag(disagg[disagg.length - 1].entity);
    if (tag === lastTag && bi !== "B") disagg.push(e);
    else {
      groups.push(groupSubEntities(disagg, decode));
      disagg = [e];
    }
  }
  if (disagg.length > 0) groups.push(groupSubEntities(disagg, decode));
  return groups;
}

/**
 * `aggregate`: strategy "none" gives one `TokenEntity` per pre-entity; the others give grouped
 * entities. Nothing is filtered here (see `aggregateTokens` for `ignoreLabels`).
 */
export function aggregate(
  pre: readonly PreEntity[],
  aggregation: "none",
  id2label: readonly string[],
  decode?: Decode,
): TokenEntity[];
export function aggregate(
  pre: readonly PreEntity[],
  aggregation: "simple" | "first" | "average" | "max",
  id2label: readonly string[],
  decode?: Decode,
): GroupedEntity[];
export function aggregate(
  pre: readonly PreEntity[],
  aggregation: AggregationStrategy,
  id2label: readonly string[],
  decode?: Decode,
): TokenEntity[] | GroupedEntity[];
export function aggregate(
  pre: readonly PreEntity[],
  aggregation: AggregationStrategy,
  id2label: readonly string[],
  decode: Decode = (t) => wordPieceTokensToString(t),
): TokenEntity[] | GroupedEntity[] {
  const strategy = parseAggregationStrategy(aggregation);
  if (strategy === "none" || strategy === "simple") {
    const entities: TokenEntity[] = pre.map((p) => {
      const idx = argmax(p.scores);
      return { entity: labelOf(id2label, idx), score: p.scores[idx], index: p.index, word: p.word, start: p.start, end: p.end };
    });
    if (strategy === "none") return entities;
    return groupEntities(entities, decode);
  }
  return groupEntities(aggregateWords(pre, strategy, id2label, decode), decode);
}

/**
 * The pipeline's `postprocess` for one window: softmax, `gather_pre_entities`, `aggregate`, then
 * drops entities whose `entity` / `entity_group` is in `ignoreLabels` (default ["O"]).
 *
 * `tokens` are the model input in order, special tokens included (`index` = position in
 * `tokens`, so [CLS] is 0); `logits` is [tokens.length, id2label.length], row-major.
 * Default strategy "none" (as in the pipeline) returns `TokenEntity[]`; the others return
 * `GroupedEntity[]`. "first"/"average"/"max" throw when a non-special token has no offsets.
 */
export function aggregateTokens(
  text: string,
  tokens: readonly TokenInput[],
  logits: ArrayLike<number>,
  id2label: readonly string[],
  opts?: AggregateOptions & { aggregation?: "none" },
): TokenEntity[];
export function aggregateTokens(
  text: string,
  tokens: readonly TokenInput[],
  logits: ArrayLike<number>,
  id2label: readonly string[],
  opts: AggregateOptions & { aggregation: "simple" | "first" | "average" | "max" },
): GroupedEntity[];
export function aggregateTokens(
  text: string,
  tokens: readonly TokenInput[],
  logits: ArrayLike<number>,
  id2label: readonly string[],
  opts?: AggregateOptions,
): (TokenEntity | GroupedEntity)[];
export function aggregateTokens(
  text: string,
  tokens: readonly TokenInput[],
  logits: ArrayLike<number>,
  id2label: readonly string[],
  opts: AggregateOptions = {},
): (TokenEntity | GroupedEntity)[] {
  const L = id2label.length;
  if (L === 0) throw new Error("id2label is empty");
  if (logits.length !== tokens.length * L) {
    throw new Error(`logits has ${logits.length} values; expected tokens.length * labels = ${tokens.length} * ${L} = ${tokens.length * L}`);
  }
  const aggregation = parseAggregationStrategy(opts.aggregation ?? "none");
  const ignore = new Set(opts.ignoreLabels ?? ["O"]);
  const decode: Decode = opts.convertTokensToString ?? ((t) => wordPieceTokensToString(t));
  const scores = softmaxRows(logits, L);
  const pre = gatherPreEntities(text, tokens, scores, L, { ...opts, aggregation });
  const grouped = aggregate(pre, aggregation, id2label, decode);
  return (grouped as (TokenEntity | GroupedEntity)[]).filter((e) =>
    "entity_group" in e ? !ignore.has(e.entity_group) : !ignore.has(e.entity),
  );
}
