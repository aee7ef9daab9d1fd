/**
 * WordPiece tokenizer (BERT / ELECTRA) over Hugging Face's `tokenizers` package (Rust, Node binding).
 *
 * - `WordPieceTokenizer.fromVocabFile(vocab.txt)`: BERT uncased semantics as in the official
 *   FullTokenizer: BertNormalizer (clean text, CJK characters split, lowercase, strip accents),
 *   BertPreTokenizer (whitespace and punctuation), WordPiece with "##" continuation, [UNK] for
 *   unknown words and words longer than 100 characters. Special tokens are *not* matched in the
 *   raw text (the literal string "[MASK]" becomes "[", "mask", "]"), as in the official code.
 * - `WordPieceTokenizer.fromTokenizerJson(tokenizer.json)`: a Hugging Face tokenizer file, including
 *   the old format whose `model` has no `type` key (WordPiece implied; patched in memory). Its
 *   added tokens are honoured as the file says.
 * - Encoding is asynchronous (the binding runs it on Rust threads); encode many lines with
 *   `encodeBatch` for speed.
 * - `encodePair` builds `[CLS] A [SEP] B [SEP]` for fine-tuning with the official
 *   `_truncate_seq_pair` rule (drop from the end of the longer sequence, B on ties).
 * - `trainWordPiece` trains a new vocabulary with the package's WordPiece trainer and writes it as
 *   vocab.txt with [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0..4.
 */
import { readFileSync, mkdtempSync, rmSync, createWriteStream, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, basename } from "node:path";
import tokenizers from "tokenizers";
import type { Tokenizer as HfTokenizer, Decoder as HfDecoder } from "tokenizers";
import { listCorpusFiles, inspectTextFile, readCorpus, type CorpusWarning } from "./corpus.js";
import { writeFileDurable } from "../io/durable.js";
import { jsonErrorMessage } from "./jsonl.js";

const { Tokenizer, WordPiece, bertNormalizer, bertPreTokenizer, wordPieceDecoder } = tokenizers;

export const SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

export interface VocabTokenizerOptions {
  /** Lowercase the text (BERT uncased: true). */
  lowercase?: boolean;
  /** Strip accents (NFD, drop combining marks). Defaults to `lowercase`, as in BERT. */
  stripAccents?: boolean;
  /** Put spaces around CJK characters (true in BERT). */
  handleChineseChars?: boolean;
  /** Longer words become [UNK] (100 in BERT). */
  maxInputCharsPerWord?: number;
}

export interface EncodedPair {
  /** Length maxLen, padded with the [PAD] id. */
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  /** Number of real tokens (specials included). */
  length: number;
}

/** FNV-1a (32-bit) over the tokens in id order, "\n"-separated: identifies a vocabulary. */
export function vocabHash(tokens: readonly (string | undefined)[]): number {
  let h = 0x811c9dc5;
  for (const t of tokens) {
    const s = t ?? "";
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 10;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Reads a vocab.txt (one token per line, line number = id) into a list. */
export function readVocabFile(path: string): string[] {
  // a byte-order mark (an editor's) is not part of the first token
  const text = readFileSync(path, "utf8").replace(/^\uFEFF/, "");
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  // Like the Rust WordPiece reader: trailing whitespace (incl. "\r") is not part of a token.
  return lines.map((l) => l.replace(/\s+$/u, ""));
}

/** The official `_truncate_seq_pair`: pop from the longer list (from b on ties) until they fit. */
export function truncateSeqPair(aLen: number, bLen: number, maxTotal: number): [number, number] {
  let a = aLen;
  let b = bLen;
  while (a + b > maxTotal) {
    if (a > b) a--;
    else b--;
  }
  return [a, b];
}

export class WordPieceTokenizer {
  /** Vocabulary size (the largest id + 1; added tokens included). */
  readonly vocabSize: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
  /** vocabHash() of the vocabulary. */
  readonly vocabHash: number;
  /** Where it was loaded from. */
  readonly source: string;

  private readonly tok: HfTokenizer;
  private readonly idToTok: (string | undefined)[];
  private readonly tokToId: Map<string, number>;
  private readonly decoder: HfDecoder;
  private readonly specialIds: Set<number>;

  private constructor(tok: HfTokenizer, idToTok: (string | undefined)[], source: string, decoder: HfDecoder) {
    this.tok = tok;
    this.idToTok = idToTok;
    this.source = source;
    this.decoder = decoder;
    this.tokToId = new Map();
    for (let i = 0; i < idToTok.length; i++) {
      const t = idToTok[i];
      if (t !== undefined && !this.tokToId.has(t)) this.tokToId.set(t, i);
    }
    const ids = requireSpecials(this.tokToId, source);
    this.padId = ids["[PAD]"];
    this.unkId = ids["[UNK]"];
    this.clsId = ids["[CLS]"];
    this.sepId = ids["[SEP]"];
    this.maskId = ids["[MASK]"];
    this.specialIds = new Set([this.padId, this.unkId, this.clsId, this.sepId, this.maskId]);
    this.vocabSize = idToTok.length;
    this.vocabHash = vocabHash(idToTok);
  }

  /** Loads a BERT-style vocab.txt (uncased by default). */
  static fromVocabFile(path: string, opts: VocabTokenizerOptions = {}): WordPieceTokenizer {
    const tokens = readVocabFile(path);
    return WordPieceTokenizer.fromVocab(tokens, opts, path);
  }

  /** Builds a tokenizer from a token list (index = id). */
  static fromVocab(tokens: readonly string[], opts: VocabTokenizerOptions = {}, source = "<vocab>"): WordPieceTokenizer {
    const map = new Map<string, number>();
    tokens.forEach((t, i) => {
      if (!map.has(t)) map.set(t, i);
    });
    requireSpecials(map, source);
    const vocab: Record<string, number> = {};
    for (const [t, i] of map) vocab[t] = i;
    const model = WordPiece.init(vocab, {
      unkToken: "[UNK]",
      continuingSubwordPrefix: "##",
      maxInputCharsPerWord: opts.maxInputCharsPerWord ?? 100,
    });
    const tok = new Tokenizer(model);
    const lowercase = opts.lowercase ?? true;
    tok.setNormalizer(
      bertNormalizer({
        cleanText: true,
        handleChineseChars: opts.handleChineseChars ?? true,
        stripAccents: opts.stripAccents ?? lowercase,
        lowercase,
      }),
    );
    tok.setPreTokenizer(bertPreTokenizer());
    const decoder = wordPieceDecoder("##", true);
    tok.setDecoder(decoder);
    return new WordPieceTokenizer(tok, tokens.slice(), source, decoder);
  }

  /** Loads a Hugging Face tokenizer.json (a WordPiece model; the old format without `model.type` too). */
  static fromTokenizerJson(path: string): WordPieceTokenizer {
    let json: Record<string, unknown> | null;
    try {
      json = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown> | null;
    } catch (e) {
      throw new Error(`tokenizer: cannot read ${path} as JSON (${jsonErrorMessage(e)})`);
    }
    const model = json?.model as Record<string, unknown> | undefined; // a file of `null` has none either
    if (!model || typeof model !== "object") throw new Error(`tokenizer: ${path} has no "model" object`);
    if (model.type === undefined) {
      // Old format: the model type is implied by its fields.
      if ("merges" in model) model.type = "BPE";
      else if (Array.isArray(model.vocab)) model.type = "Unigram";
      else model.type = "WordPiece"; // vocab object + unk_token / continuing_subword_prefix / max_input_chars_per_word
    }
    if (model.type !== "WordPiece") {
      throw new Error(`tokenizer: ${path} has a ${String(model.type)} model; only WordPiece (BERT/ELECTRA) tokenizers are supported`);
    }
    let tok: HfTokenizer;
    try {
      tok = Tokenizer.fromString(JSON.stringify(json));
    } catch (e) {
      // serde's "at line L column C" counts in the re-serialized text above, not in the file: left out
      const why = jsonErrorMessage(e).replace(/ at line \d+ column \d+$/, "");
      throw new Error(`tokenizer: ${path} could not be loaded by the tokenizers package (${why})`);
    }
    // Files saved for fine-tuning often carry padding/truncation settings; this wrapper pads and
    // truncates itself (and pretraining must see whole lines).
    tok.disablePadding();
    tok.disableTruncation();
    // In id order (the package's map comes in a random order), so that the errors below are always the same ones.
    const vocab = Object.entries(tok.getVocab(true)).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
    const idToTok: (string | undefined)[] = [];
    for (const [t, i] of vocab) {
      // an id past the token count (a mistyped 2147483648) would make a vocabulary of that size
      if (i >= vocab.length) throw new Error(`tokenizer: ${path}: token ${JSON.stringify(t)} has the id ${i}, but the vocabulary has ${vocab.length} tokens (ids 0 to ${vocab.length - 1})`);
      if (idToTok[i] !== undefined) throw new Error(`tokenizer: ${path}: the tokens ${JSON.stringify(idToTok[i])} and ${JSON.stringify(t)} have the same id ${i}`);
      idToTok[i] = t;
    }
    const decoder = tok.getDecoder() ?? wordPieceDecoder("##", true);
    return new WordPieceTokenizer(tok, idToTok, path, decoder);
  }

  /**
   * Loads from a path: a .json file (tokenizer.json), any other file (vocab.txt), or a folder
   * (its tokenizer.json if present, else its vocab.txt).
   */
  static load(path: string, opts: VocabTokenizerOptions = {}): WordPieceTokenizer {
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new Error(`tokenizer: ${path} does not exist`);
    }
    if (st.isDirectory()) {
      for (const name of ["tokenizer.json", "vocab.txt"]) {
        const p = join(path, name);
        try {
          if (statSync(p).isFile()) return name.endsWith(".json") ? WordPieceTokenizer.fromTokenizerJson(p) : WordPieceTokenizer.fromVocabFile(p, opts);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        }
      }
      throw new Error(`tokenizer: ${path} has neither tokenizer.json nor vocab.txt`);
    }
    return path.endsWith(".json") ? WordPieceTokenizer.fromTokenizerJson(path) : WordPieceTokenizer.fromVocabFile(path, opts);
  }

  /**
   * The tokenizer of a model, checked against its vocab_size: a vocabulary of another size is an error (a
   * 128-entry vocab.txt beside vocab_size 30522 would run, silently wrong).
   */
  static forModel(file: string | null, vocabSize: number, dir: string): WordPieceTokenizer {
    if (!file) throw new Error(`${dir} has no vocab.txt or tokenizer.json: pass --vocab FILE`);
    const tokenizer = WordPieceTokenizer.load(file);
    if (tokenizer.vocabSize !== vocabSize) {
      throw new Error(`the vocabulary ${file} has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${vocabSize}: ` +
        "they must be the same vocabulary (pass the model's own vocab.txt / tokenizer.json with --vocab)");
    }
    return tokenizer;
  }

  /** Token ids of `text`, without special tokens. */
  async encode(text: string): Promise<Int32Array> {
    const e = await this.tok.encode(text, null, { addSpecialTokens: false });
    return Int32Array.from(e.getIds());
  }

  /** Token ids of each text, without special tokens (parallel in Rust; much faster than encode in a loop). */
  async encodeBatch(texts: string[]): Promise<Int32Array[]> {
    if (texts.length === 0) return [];
    const encs = await this.tok.encodeBatch(texts, { addSpecialTokens: false });
    const out = new Array<Int32Array>(encs.length);
    for (let i = 0; i < encs.length; i++) out[i] = Int32Array.from(encs[i].getIds());
    return out;
  }

  /**
   * Token ids, vocabulary strings and character offsets [start, end) of each text, without special tokens. Offsets
   * are Unicode code-point indices (what the tokenizers package gives, as Python's str indices).
   */
  async encodeWithOffsets(texts: string[]): Promise<{ ids: Int32Array; tokens: string[]; offsets: [number, number][] }[]> {
    if (texts.length === 0) return [];
    const encs = await this.tok.encodeBatch(texts, { addSpecialTokens: false });
    return encs.map((e) => ({ ids: Int32Array.from(e.getIds()), tokens: e.getTokens(), offsets: e.getOffsets() as [number, number][] }));
  }

  /** Tokens (strings) of `text`, without special tokens. */
  async tokenize(text: string): Promise<string[]> {
    const e = await this.tok.encode(text, null, { addSpecialTokens: false });
    return e.getTokens();
  }

  /**
   * `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, truncated to maxLen with the official rule
   * (longest first), padded to maxLen; token type 0 for [CLS] A [SEP], 1 for B [SEP].
   */
  async encodePair(a: string, b: string | null | undefined, maxLen: number): Promise<EncodedPair> {
    const [r] = await this.encodePairBatch([[a, b]], maxLen);
    return r;
  }

  async encodePairBatch(pairs: ReadonlyArray<readonly [string, (string | null | undefined)?]>, maxLen: number): Promise<EncodedPair[]> {
    const minLen = pairs.some((p) => p[1] != null) ? 3 : 2;
    if (!Number.isInteger(maxLen) || maxLen < minLen) throw new Error(`encodePair: maxLen ${maxLen} is too small (at least ${minLen})`);
    const texts: string[] = [];
    for (const [a, b] of pairs) {
      texts.push(a);
      if (b != null) texts.push(b);
    }
    const ids = await this.encodeBatch(texts);
    const out: EncodedPair[] = [];
    let k = 0;
    for (const [, b] of pairs) {
      const ia = ids[k++];
      const ib = b != null ? ids[k++] : null;
      out.push(this.assemblePair(ia, ib, maxLen));
    }
    return out;
  }

  /** Lays out already tokenized ids as `[CLS] A [SEP] (B [SEP])`, truncated and padded to maxLen. */
  assemblePair(ia: ArrayLike<number>, ib: ArrayLike<number> | null, maxLen: number): EncodedPair {
    let na = ia.length;
    let nb = ib ? ib.length : 0;
    if (ib) [na, nb] = truncateSeqPair(na, nb, maxLen - 3);
    else na = Math.min(na, maxLen - 2);
    const inputIds = new Int32Array(maxLen).fill(this.padId);
    const tokenTypeIds = new Int32Array(maxLen);
    const attentionMask = new Int32Array(maxLen);
    let p = 0;
    inputIds[p++] = this.clsId;
    for (let i = 0; i < na; i++) inputIds[p++] = ia[i];
    inputIds[p++] = this.sepId;
    if (ib) {
      const start = p;
      for (let i = 0; i < nb; i++) inputIds[p++] = ib[i];
      inputIds[p++] = this.sepId;
      tokenTypeIds.fill(1, start, p);
    }
    attentionMask.fill(1, 0, p);
    return { inputIds, tokenTypeIds, attentionMask, length: p };
  }

  /** Text of `ids` (WordPiece pieces joined); special tokens and ids outside the vocabulary dropped when asked. */
  decode(ids: ArrayLike<number>, skipSpecialTokens = true): string {
    const toks: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (skipSpecialTokens && this.specialIds.has(id)) continue;
      const t = this.idToTok[id];
      if (t === undefined) {
        if (skipSpecialTokens) continue;
        toks.push("[UNK]");
      } else toks.push(t);
    }
    return this.decoder.decode(toks);
  }

  idToToken(id: number): string | undefined {
    return this.idToTok[id];
  }

  tokenToId(token: string): number | undefined {
    return this.tokToId.get(token);
  }

  /** The vocabulary in id order (undefined for ids without a token). */
  vocab(): readonly (string | undefined)[] {
    return this.idToTok;
  }

  /** The special-token ids, for masking and batching code. */
  specials(): { padId: number; unkId: number; clsId: number; sepId: number; maskId: number } {
    return { padId: this.padId, unkId: this.unkId, clsId: this.clsId, sepId: this.sepId, maskId: this.maskId };
  }
}

function requireSpecials(map: Map<string, number>, source: string): Record<SpecialToken, number> {
  const missing = SPECIAL_TOKENS.filter((t) => !map.has(t));
  if (missing.length > 0) {
    throw new Error(
      `tokenizer: the vocabulary ${source} lacks the special token${missing.length > 1 ? "s" : ""} ${missing.join(", ")} ` +
        `(required: ${SPECIAL_TOKENS.join(" ")})`,
    );
  }
  const r = {} as Record<SpecialToken, number>;
  for (const t of SPECIAL_TOKENS) r[t] = map.get(t)!;
  return r;
}

export interface TrainWordPieceOptions extends Pick<VocabTokenizerOptions, "lowercase" | "stripAccents" | "handleChineseChars"> {
  onWarning?: (w: CorpusWarning | { kind: "vocab-size"; file: string; message: string }) => void;
}

export interface TrainWordPieceResult {
  /** Size of the written vocabulary (may be below the request if the corpus has few distinct words). */
  vocabSize: number;
  requestedVocabSize: number;
  files: number;
  filesSkipped: number;
  warnings: string[];
}

/**
 * The package's default WordPiece trainer stops at 30,000 entries; the Node binding offers no way
 * to set its options (vocabulary size, special tokens). The trainer's vocabulary is ordered
 * alphabet first, then merges in the order they were learned, so its first k entries are exactly
 * what training for size k gives; we keep the first `vocabSize - 5` and put the specials in front.
 */
export const PACKAGE_TRAINER_VOCAB_SIZE = 30000;

/**
 * Trains a WordPiece vocabulary on text files (files or folders, read with the corpus rules:
 * binary files skipped, invalid UTF-8 repaired in a temporary copy) and writes it as vocab.txt
 * with [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0..4. Lowercases and strips accents by default.
 */
export async function trainWordPiece(
  files: string | string[],
  vocabSize: number,
  outVocabPath: string,
  opts: TrainWordPieceOptions = {},
): Promise<TrainWordPieceResult> {
  const nSpecial = SPECIAL_TOKENS.length;
  if (!Number.isInteger(vocabSize) || vocabSize <= nSpecial) throw new Error(`trainWordPiece: vocabSize ${vocabSize} must be an integer > ${nSpecial}`);
  const warnings: string[] = [];
  const warn = (w: { kind: string; file: string; message: string }): void => {
    warnings.push(w.message);
    opts.onWarning?.(w as CorpusWarning);
  };
  const paths = (Array.isArray(files) ? files : [files]).flatMap((p) => listCorpusFiles(p));
  if (paths.length === 0) throw new Error(`trainWordPiece: no input files`);
  const tmp = mkdtempSync(join(tmpdir(), "electra-wp-"));
  try {
    const inputs: string[] = [];
    let skipped = 0;
    for (const [k, p] of paths.entries()) {
      const info = await inspectTextFile(p);
      if (info.binary) {
        skipped++;
        warn({ kind: "binary", file: p, message: `trainWordPiece: skipping ${p}: it does not look like UTF-8 text: ${info.binary}` });
        continue;
      }
      if (info.bytes === 0) continue;
      if (info.validUtf8) {
        inputs.push(p);
        continue;
      }
      // Write a repaired copy (U+FFFD for invalid bytes), streamed.
      const copy = join(tmp, `${k}-${basename(p)}`);
      const ws = createWriteStream(copy);
      for await (const block of readCorpus(p, { requireText: false, onWarning: warn })) {
        let s = "";
        for (let i = 0; i < block.texts.length; i++) s += block.texts[i] + (block.lineEnds[i] ? "\n" : " ");
        if (!ws.write(s)) await new Promise<void>((r) => ws.once("drain", () => r()));
      }
      await new Promise<void>((res, rej) => ws.end((e?: Error | null) => (e ? rej(e) : res())));
      inputs.push(copy);
    }
    if (inputs.length === 0) throw new Error(`trainWordPiece: no text in ${paths.length} file(s) (${skipped} skipped)`);
    const model = WordPiece.empty() as unknown as ConstructorParameters<typeof Tokenizer>[0];
    const tok = new Tokenizer(model);
    const lowercase = opts.lowercase ?? true;
    tok.setNormalizer(
      bertNormalizer({ cleanText: true, handleChineseChars: opts.handleChineseChars ?? true, stripAccents: opts.stripAccents ?? lowercase, lowercase }),
    );
    tok.setPreTokenizer(bertPreTokenizer());
    tok.train(inputs);
    const learned = Object.entries(tok.getVocab(false)).sort((x, y) => x[1] - y[1]);
    const out: string[] = [...SPECIAL_TOKENS];
    const special = new Set<string>(SPECIAL_TOKENS);
    for (const [t] of learned) {
      if (out.length >= vocabSize) break;
      if (!special.has(t)) out.push(t);
    }
    if (out.length < vocabSize) {
      const why =
        learned.length >= PACKAGE_TRAINER_VOCAB_SIZE
          ? `the package's trainer stops at ${PACKAGE_TRAINER_VOCAB_SIZE} entries`
          : `the corpus has no more distinct pieces`;
      warn({ kind: "vocab-size", file: outVocabPath, message: `trainWordPiece: wrote ${out.length} entries, fewer than the ${vocabSize} asked for (${why})` });
    }
    writeFileDurable(outVocabPath, out.join("\n") + "\n");
    return { vocabSize: out.length, requestedVocabSize: vocabSize, files: inputs.length, filesSkipped: skipped, warnings };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
