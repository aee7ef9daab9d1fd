/**
 * Pretraining data: the official ELECTRA example packing (google-research/electra,
 * build_pretraining_dataset.py, class ExampleBuilder), a compact binary example file that training
 * reads by random access, and a shuffling batch loader with an exactly resumable position.
 *
 * Example file format (version 1, all integers little-endian):
 *
 *   header, 64 bytes:
 *     0  u8[8]  magic "ELECTRPT"
 *     8  u32    version (1)
 *     12 u32    header size in bytes (64)
 *     16 u32    max_seq_len T (<= 65535)
 *     20 u32    id size in bytes: 2 (uint16, when vocab size <= 65536) or 4 (int32)
 *     24 u32    record size in bytes R = 4 + T * id size
 *     28 u32    vocabulary size
 *     32 u32    vocabulary hash (FNV-1a of the tokens in id order, see tokenizer.ts vocabHash)
 *     36 u32    flags: bit 0 = complete (set when the writer finished; readers refuse files without it)
 *     40 u64    example count N
 *     48 u32    seed the builder used
 *     52 u8[12] reserved (0)
 *   then N fixed-size records; record i starts at byte 64 + i * R:
 *     0  u16    length L: real tokens, [CLS] and [SEP]s included (1..T)
 *     2  u16    segment boundary S: index of the first token of segment B (tokens S..L-1 have
 *               token type 1); S == L when the example has one segment
 *     4  T ids  uint16 or int32: the L real tokens `[CLS] A [SEP] (B [SEP])`, then zeros (padding)
 *
 * Fixed-size records make example i a single read at a computed offset, so a file larger than
 * memory is read without loading it (ExampleFile keeps only a file descriptor).
 */
import { openSync, closeSync, readSync, writeSync, fstatSync, rmSync, statSync } from "node:fs";
import { Rng } from "../core/rng.js";
import { listCorpusFiles, newCorpusReadStats, readCorpus, type CorpusWarning } from "./corpus.js";
import type { WordPieceTokenizer } from "./tokenizer.js";
import { commitFile } from "../io/durable.js";

export const EXAMPLE_FILE_MAGIC = "ELECTRPT";
export const EXAMPLE_FILE_VERSION = 1;
export const EXAMPLE_FILE_HEADER_BYTES = 64;
const FLAG_COMPLETE = 1;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Official builder constants (build_pretraining_dataset.py, ExampleBuilder._create_example). */
export const SINGLE_SEGMENT_PROB = 0.1; // "small chance to only have one segment as in classification tasks"
export const SINGLE_SEGMENT_TARGET = 100000; // first_segment_target_length in that case
export const SENTENCE_TO_FIRST_PROB = 0.5; // a sentence that overflows the first segment still goes there 50% of the time
export const RANDOM_TARGET_PROB = 0.05; // "small chance for random-length instead of max_length-length example"
export const RANDOM_TARGET_MIN = 5; // random.randint(5, max_length)

// ---------------------------------------------------------------------------------------------
// Builder

/** An example as built: the real tokens `[CLS] A [SEP] (B [SEP])` and where B starts. */
export interface BuiltExample {
  /** The L real tokens (no padding). */
  ids: Int32Array;
  /** Index of B's first token; ids.length when there is no B. */
  segmentBoundary: number;
}

export interface BuilderStats {
  examples: number;
  /** Examples where the 0.1 draw put everything in the first segment. */
  singleSegmentDraws: number;
  /** Examples without a second segment (the draw above, short documents, truncation). */
  oneSegmentExamples: number;
  /** Examples built toward a random target length (the 0.05 draw after the previous example). */
  randomTargetExamples: number;
  /** Examples shorter than max_seq_len. */
  shortExamples: number;
  /** Tokens dropped by truncation. */
  truncatedTokens: number;
}

export interface ExampleBuilderOptions {
  maxSeqLength: number;
  clsId: number;
  sepId: number;
  rng: Rng;
}

/**
 * The official ExampleBuilder. Feed it sentences (token ids of one line each) with addSentence and
 * document ends with endDocument; each returns an example when one is complete. The random draws
 * happen in the official order: the single-segment draw, the 0.5 draws while assigning sentences,
 * then the next target's 0.05 draw (and randint(5, max_len) if taken).
 */
export class ExampleBuilder {
  readonly maxSeqLength: number;
  readonly stats: BuilderStats = {
    examples: 0,
    singleSegmentDraws: 0,
    oneSegmentExamples: 0,
    randomTargetExamples: 0,
    shortExamples: 0,
    truncatedTokens: 0,
  };
  private readonly cls: number;
  private readonly sep: number;
  private readonly rng: Rng;
  private sentences: ArrayLike<number>[] = [];
  private currentLength = 0;
  private target: number;

  constructor(opts: ExampleBuilderOptions) {
    if (!Number.isInteger(opts.maxSeqLength) || opts.maxSeqLength < RANDOM_TARGET_MIN || opts.maxSeqLength > 65535) {
      throw new Error(`ExampleBuilder: maxSeqLength ${opts.maxSeqLength} must be an integer in [${RANDOM_TARGET_MIN}, 65535]`);
    }
    this.maxSeqLength = opts.maxSeqLength;
    this.cls = opts.clsId;
    this.sep = opts.sepId;
    this.rng = opts.rng;
    this.target = opts.maxSeqLength;
  }

  /** The length the current example is being accumulated to. */
  get targetLength(): number {
    return this.target;
  }

  /** Tokens accumulated toward the current example. */
  get pendingTokens(): number {
    return this.currentLength;
  }

  /** Adds one sentence (a line's token ids). Empty sentences are ignored (they change nothing in the official builder). */
  addSentence(ids: ArrayLike<number>): BuiltExample | null {
    if (ids.length === 0) return null;
    this.sentences.push(ids);
    this.currentLength += ids.length;
    if (this.currentLength >= this.target) return this.createExample();
    return null;
  }

  /** A blank line / end of file: emits the pending example if it has tokens. */
  endDocument(): BuiltExample | null {
    if (this.currentLength === 0) return null;
    return this.createExample();
  }

  private createExample(): BuiltExample {
    const T = this.maxSeqLength;
    const rng = this.rng;
    const single = rng.uniform() < SINGLE_SEGMENT_PROB;
    const firstTarget = single ? SINGLE_SEGMENT_TARGET : Math.floor((this.target - 3) / 2);
    const toFirst: boolean[] = [];
    let fl = 0;
    let sl = 0;
    for (const s of this.sentences) {
      // The sentence goes to the first segment if (1) it is empty, (2) the sentence does not put it
      // over its target, or (3) 50% of the time when it does (while B is empty and A is under target).
      if (fl === 0 || fl + s.length < firstTarget || (sl === 0 && fl < firstTarget && rng.uniform() < SENTENCE_TO_FIRST_PROB)) {
        fl += s.length;
        toFirst.push(true);
      } else {
        sl += s.length;
        toFirst.push(false);
      }
    }
    // Trim to max_length, accounting for the [CLS]/[SEP] tokens.
    const fKeep = Math.min(fl, T - 2);
    const sKeep = Math.min(sl, Math.max(0, T - fKeep - 3));
    const len = fKeep + 2 + (sKeep > 0 ? sKeep + 1 : 0);
    const ids = new Int32Array(len);
    ids[0] = this.cls;
    let pa = 1;
    let pb = fKeep + 2;
    const endA = 1 + fKeep;
    const endB = pb + sKeep;
    for (let k = 0; k < this.sentences.length; k++) {
      const s = this.sentences[k];
      if (toFirst[k]) {
        for (let i = 0; i < s.length && pa < endA; i++) ids[pa++] = s[i];
      } else {
        for (let i = 0; i < s.length && pb < endB; i++) ids[pb++] = s[i];
      }
    }
    ids[endA] = this.sep;
    if (sKeep > 0) ids[endB] = this.sep;

    const st = this.stats;
    st.examples++;
    if (single) st.singleSegmentDraws++;
    if (sKeep === 0) st.oneSegmentExamples++;
    if (this.target < T) st.randomTargetExamples++;
    if (len < T) st.shortExamples++;
    st.truncatedTokens += fl - fKeep + (sl - sKeep);

    // Prepare the next example.
    this.sentences = [];
    this.currentLength = 0;
    this.target = rng.uniform() < RANDOM_TARGET_PROB ? rng.randint(RANDOM_TARGET_MIN, T) : T;
    return { ids, segmentBoundary: sKeep > 0 ? fKeep + 2 : len };
  }
}

// ---------------------------------------------------------------------------------------------
// Example file

export interface ExampleFileHeader {
  maxSeqLength: number;
  vocabSize: number;
  vocabHash: number;
  count: number;
  seed: number;
  complete: boolean;
}

export function idBytesFor(vocabSize: number): 2 | 4 {
  return vocabSize <= 65536 ? 2 : 4;
}

export function recordBytesFor(maxSeqLength: number, vocabSize: number): number {
  return 4 + maxSeqLength * idBytesFor(vocabSize);
}

/** The 64-byte header (see the format at the top of this file). */
export function encodeExampleFileHeader(h: ExampleFileHeader): Buffer {
  const b = Buffer.alloc(EXAMPLE_FILE_HEADER_BYTES);
  b.write(EXAMPLE_FILE_MAGIC, 0, "latin1");
  b.writeUInt32LE(EXAMPLE_FILE_VERSION, 8);
  b.writeUInt32LE(EXAMPLE_FILE_HEADER_BYTES, 12);
  b.writeUInt32LE(h.maxSeqLength, 16);
  b.writeUInt32LE(idBytesFor(h.vocabSize), 20);
  b.writeUInt32LE(recordBytesFor(h.maxSeqLength, h.vocabSize), 24);
  b.writeUInt32LE(h.vocabSize, 28);
  b.writeUInt32LE(h.vocabHash >>> 0, 32);
  b.writeUInt32LE(h.complete ? FLAG_COMPLETE : 0, 36);
  b.writeBigUInt64LE(BigInt(h.count), 40);
  b.writeUInt32LE(h.seed >>> 0, 48);
  return b;
}

/** Writes one record (L real tokens, boundary) into `dst` at `offset`; the rest of the record is zeroed. */
export function encodeExampleRecord(dst: Buffer, offset: number, ids: ArrayLike<number>, segmentBoundary: number, maxSeqLength: number, idBytes: 2 | 4): void {
  const L = ids.length;
  if (L < 1 || L > maxSeqLength) throw new Error(`example file: example length ${L} is outside [1, ${maxSeqLength}]`);
  if (segmentBoundary < 0 || segmentBoundary > L) throw new Error(`example file: segment boundary ${segmentBoundary} is outside [0, ${L}]`);
  dst.writeUInt16LE(L, offset);
  dst.writeUInt16LE(segmentBoundary, offset + 2);
  const base = offset + 4;
  const R = 4 + maxSeqLength * idBytes;
  if (idBytes === 2) {
    for (let i = 0; i < L; i++) {
      const v = ids[i];
      if (v < 0 || v > 65535) throw new Error(`example file: token id ${v} does not fit in uint16`);
      dst.writeUInt16LE(v, base + 2 * i);
    }
  } else {
    for (let i = 0; i < L; i++) dst.writeInt32LE(ids[i], base + 4 * i);
  }
  dst.fill(0, base + L * idBytes, offset + R);
}

/** Writes an example file: header placeholder, records (buffered), then the final header on finish(). */
export class ExampleWriter {
  readonly path: string;
  readonly maxSeqLength: number;
  readonly recordBytes: number;
  private readonly idBytes: 2 | 4;
  private readonly partial: string;
  private fd: number;
  private buf: Buffer;
  private bufUsed = 0;
  private pos = EXAMPLE_FILE_HEADER_BYTES;
  private n = 0;
  private readonly header: ExampleFileHeader;

  constructor(path: string, opts: { maxSeqLength: number; vocabSize: number; vocabHash: number; seed?: number }) {
    if (!Number.isInteger(opts.maxSeqLength) || opts.maxSeqLength < 2 || opts.maxSeqLength > 65535) {
      throw new Error(`example file: maxSeqLength ${opts.maxSeqLength} must be in [2, 65535]`);
    }
    this.path = path;
    this.maxSeqLength = opts.maxSeqLength;
    this.idBytes = idBytesFor(opts.vocabSize);
    this.recordBytes = recordBytesFor(opts.maxSeqLength, opts.vocabSize);
    this.header = { maxSeqLength: opts.maxSeqLength, vocabSize: opts.vocabSize, vocabHash: opts.vocabHash, count: 0, seed: opts.seed ?? 0, complete: false };
    this.partial = `${path}.partial`;
    this.fd = openSync(this.partial, "w");
    writeSync(this.fd, encodeExampleFileHeader(this.header), 0, EXAMPLE_FILE_HEADER_BYTES, 0);
    const records = Math.max(1, Math.floor((4 << 20) / this.recordBytes));
    this.buf = Buffer.alloc(records * this.recordBytes);
  }

  get count(): number {
    return this.n;
  }

  /** Appends an example: its real tokens and segment boundary (see BuiltExample). */
  add(ids: ArrayLike<number>, segmentBoundary: number): void {
    if (this.fd < 0) throw new Error(`example file ${this.path}: already closed`);
    if (this.bufUsed + this.recordBytes > this.buf.length) this.flush();
    encodeExampleRecord(this.buf, this.bufUsed, ids, segmentBoundary, this.maxSeqLength, this.idBytes);
    this.bufUsed += this.recordBytes;
    this.n++;
  }

  private flush(): void {
    let off = 0;
    while (off < this.bufUsed) {
      const w = writeSync(this.fd, this.buf, off, this.bufUsed - off, this.pos);
      off += w;
      this.pos += w;
    }
    this.bufUsed = 0;
  }

  /** Writes the final header and moves the file into place. Returns the example count. */
  finish(): number {
    this.flush();
    this.header.count = this.n;
    this.header.complete = true;
    writeSync(this.fd, encodeExampleFileHeader(this.header), 0, EXAMPLE_FILE_HEADER_BYTES, 0);
    closeSync(this.fd);
    this.fd = -1;
    commitFile(this.partial, this.path);
    return this.n;
  }

  /** Closes and deletes the partial file. */
  abort(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
    rmSync(this.partial, { force: true });
  }
}

/** One example as model inputs (length maxSeqLength each). */
export interface PretrainExampleArrays {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  length: number;
  segmentBoundary: number;
}

/** A batch, row-major [B, T]. */
export interface PretrainBatch {
  batchSize: number;
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  /** Real tokens per row. */
  lengths: Int32Array;
}

/** Random-access reader of an example file (keeps only a file descriptor; reads records with pread). */
export class ExampleFile {
  readonly path: string;
  readonly count: number;
  readonly maxSeqLength: number;
  readonly vocabSize: number;
  readonly vocabHash: number;
  readonly idBytes: 2 | 4;
  readonly recordBytes: number;
  readonly seed: number;
  private fd: number;
  private scratch: Buffer;

  private constructor(path: string, fd: number, h: { count: number; T: number; vocabSize: number; vocabHash: number; idBytes: 2 | 4; recordBytes: number; seed: number }) {
    this.path = path;
    this.fd = fd;
    this.count = h.count;
    this.maxSeqLength = h.T;
    this.vocabSize = h.vocabSize;
    this.vocabHash = h.vocabHash;
    this.idBytes = h.idBytes;
    this.recordBytes = h.recordBytes;
    this.seed = h.seed;
    this.scratch = Buffer.alloc(h.recordBytes * 64);
  }

  static open(path: string): ExampleFile {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw new Error(`example file ${path}: cannot open it (${(e as Error).message})`);
    }
    try {
      const size = fstatSync(fd).size;
      const fail = (msg: string): never => {
        throw new Error(`example file ${path}: ${msg}`);
      };
      if (size < EXAMPLE_FILE_HEADER_BYTES) fail(`${size} bytes, too short for the ${EXAMPLE_FILE_HEADER_BYTES}-byte header`);
      const b = Buffer.alloc(EXAMPLE_FILE_HEADER_BYTES);
      readSync(fd, b, 0, EXAMPLE_FILE_HEADER_BYTES, 0);
      if (b.toString("latin1", 0, 8) !== EXAMPLE_FILE_MAGIC) fail(`not an example file (magic ${JSON.stringify(b.toString("latin1", 0, 8))}, expected "${EXAMPLE_FILE_MAGIC}")`);
      const version = b.readUInt32LE(8);
      if (version !== EXAMPLE_FILE_VERSION) fail(`format version ${version}, this reader knows ${EXAMPLE_FILE_VERSION}`);
      const hb = b.readUInt32LE(12);
      if (hb !== EXAMPLE_FILE_HEADER_BYTES) fail(`header size ${hb}, expected ${EXAMPLE_FILE_HEADER_BYTES}`);
      const T = b.readUInt32LE(16);
      const idBytes = b.readUInt32LE(20);
      const recordBytes = b.readUInt32LE(24);
      const vocabSize = b.readUInt32LE(28);
      const vocabHash = b.readUInt32LE(32);
      const flags = b.readUInt32LE(36);
      const count = Number(b.readBigUInt64LE(40));
      const seed = b.readUInt32LE(48);
      if (idBytes !== 2 && idBytes !== 4) fail(`id size ${idBytes} (expected 2 or 4)`);
      if (recordBytes !== 4 + T * idBytes) fail(`record size ${recordBytes} does not match max_seq_len ${T} and id size ${idBytes}`);
      if (!(flags & FLAG_COMPLETE)) fail(`incomplete (the writer did not finish)`);
      const need = EXAMPLE_FILE_HEADER_BYTES + count * recordBytes;
      if (size < need) fail(`truncated: ${size} bytes, ${count} examples need ${need}`);
      return new ExampleFile(path, fd, { count, T, vocabSize, vocabHash, idBytes: idBytes as 2 | 4, recordBytes, seed });
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Throws when the file was built with another vocabulary. */
  checkTokenizer(tok: { vocabSize: number; vocabHash: number; source?: string }): void {
    if (tok.vocabSize !== this.vocabSize || tok.vocabHash >>> 0 !== this.vocabHash) {
      throw new Error(
        `example file ${this.path} was built with another vocabulary (size ${this.vocabSize}, hash ${this.vocabHash.toString(16)}) ` +
          `than ${tok.source ?? "the tokenizer"} (size ${tok.vocabSize}, hash ${(tok.vocabHash >>> 0).toString(16)})`,
      );
    }
  }

  private readRecords(indices: ArrayLike<number>, dst: Buffer): void {
    const R = this.recordBytes;
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new Error(`example file ${this.path}: index ${i} is outside [0, ${this.count})`);
      const pos = EXAMPLE_FILE_HEADER_BYTES + i * R;
      let got = 0;
      while (got < R) {
        const n = readSync(this.fd, dst, k * R + got, R - got, pos + got);
        if (n === 0) throw new Error(`example file ${this.path}: unexpected end of file reading example ${i}`);
        got += n;
      }
    }
  }

  private decodeInto(rec: Buffer, off: number, row: number, out: PretrainBatch): void {
    const T = this.maxSeqLength;
    const L = rec.readUInt16LE(off);
    const S = rec.readUInt16LE(off + 2);
    if (L < 1 || L > T || S > L) throw new Error(`example file ${this.path}: corrupt record (length ${L}, boundary ${S}, max ${T})`);
    const base = row * T;
    const ids = out.inputIds;
    const at = rec.byteOffset + off + 4;
    if (this.idBytes === 2) {
      if (LITTLE_ENDIAN && at % 2 === 0) ids.set(new Uint16Array(rec.buffer, at, T), base);
      else for (let t = 0; t < T; t++) ids[base + t] = rec.readUInt16LE(off + 4 + 2 * t);
    } else {
      if (LITTLE_ENDIAN && at % 4 === 0) ids.set(new Int32Array(rec.buffer, at, T), base);
      else for (let t = 0; t < T; t++) ids[base + t] = rec.readInt32LE(off + 4 + 4 * t);
    }
    out.attentionMask.fill(1, base, base + L);
    out.attentionMask.fill(0, base + L, base + T);
    out.tokenTypeIds.fill(0, base, base + S);
    out.tokenTypeIds.fill(1, base + S, base + L);
    out.tokenTypeIds.fill(0, base + L, base + T);
    out.lengths[row] = L;
  }

  /** Example i as model inputs. */
  read(i: number): PretrainExampleArrays {
    const b = this.readBatch([i]);
    const S = this.segmentBoundaryOf(b);
    return { inputIds: b.inputIds, tokenTypeIds: b.tokenTypeIds, attentionMask: b.attentionMask, length: b.lengths[0], segmentBoundary: S };
  }

  private segmentBoundaryOf(b: PretrainBatch): number {
    const L = b.lengths[0];
    for (let t = 0; t < L; t++) if (b.tokenTypeIds[t] === 1) return t;
    return L;
  }

  /** The examples at `indices` as a [B, T] batch. */
  readBatch(indices: ArrayLike<number>): PretrainBatch {
    if (this.fd < 0) throw new Error(`example file ${this.path}: closed`);
    const B = indices.length;
    const T = this.maxSeqLength;
    const out: PretrainBatch = {
      batchSize: B,
      seqLen: T,
      inputIds: new Int32Array(B * T),
      tokenTypeIds: new Int32Array(B * T),
      attentionMask: new Int32Array(B * T),
      lengths: new Int32Array(B),
    };
    const R = this.recordBytes;
    const per = Math.floor(this.scratch.length / R);
    for (let start = 0; start < B; start += per) {
      const n = Math.min(per, B - start);
      const sub = Array.prototype.slice.call(indices, start, start + n) as number[];
      this.readRecords(sub, this.scratch);
      for (let k = 0; k < n; k++) this.decodeInto(this.scratch, k * R, start + k, out);
    }
    return out;
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Loader

/** Where a loader stands; JSON-safe, for checkpoints. */
export interface LoaderPosition {
  /** Epochs started so far minus one (0 during the first epoch). */
  epoch: number;
  /** Examples of this epoch's order already handed out. */
  cursor: number;
  /** The loader Rng's state at the start of this epoch (before drawing its order). */
  rngState: number[];
  /** Example count of the file (checked on restore). */
  examples: number;
}

export interface LoaderOptions {
  batchSize: number;
  seed?: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Drop the last incomplete batch of each epoch (default true: every batch has batchSize rows). */
  dropLast?: boolean;
}

export interface LoaderBatch extends PretrainBatch {
  epoch: number;
  /** File indices of the rows. */
  indices: Uint32Array;
}

/**
 * Hands out batches of an example file in a fresh random order each epoch (Fisher-Yates with the
 * seeded Rng; 4 bytes of memory per example for the order). getPosition()/setPosition() resume
 * exactly: the order is re-drawn from the saved Rng state.
 */
export class PretrainDataLoader {
  readonly file: ExampleFile;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly rng: Rng;
  private order: Uint32Array;
  private epoch = 0;
  private cursor = 0;
  private epochState: number[];

  constructor(file: ExampleFile, opts: LoaderOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new Error(`loader: batchSize ${opts.batchSize} must be a positive integer`);
    if (file.count > 0xffffffff) throw new Error(`loader: ${file.count} examples is more than this loader indexes (2^32 - 1)`);
    this.file = file;
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? true;
    if (file.count === 0) throw new Error(`loader: ${file.path} has no examples`);
    if (this.dropLast && file.count < this.batchSize) {
      throw new Error(`loader: ${file.path} has ${file.count} examples, fewer than one batch of ${this.batchSize} (use dropLast: false or a smaller batch)`);
    }
    this.rng = new Rng(opts.seed ?? 0);
    this.order = new Uint32Array(file.count);
    this.epochState = this.rng.getState();
    this.drawOrder();
  }

  private drawOrder(): void {
    const o = this.order;
    for (let i = 0; i < o.length; i++) o[i] = i;
    if (this.shuffle) this.rng.shuffle(o);
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.file.count / this.batchSize) : Math.ceil(this.file.count / this.batchSize);
  }

  /**
   * The next batch, or only rows [part.start, part.start + part.count) of it (a data-parallel rank's shard): the
   * position moves on by the whole batch either way.
   */
  nextBatch(part?: { start: number; count: number }): LoaderBatch {
    const n = this.file.count;
    const left = n - this.cursor;
    if (left === 0 || (this.dropLast && left < this.batchSize)) {
      this.epoch++;
      this.cursor = 0;
      this.epochState = this.rng.getState();
      this.drawOrder();
    }
    const take = Math.min(this.batchSize, n - this.cursor);
    const from = this.cursor + Math.min(part?.start ?? 0, take);
    const indices = this.order.slice(from, part ? Math.min(from + part.count, this.cursor + take) : this.cursor + take);
    this.cursor += take;
    const b = this.file.readBatch(indices);
    return { ...b, epoch: this.epoch, indices };
  }

  getPosition(): LoaderPosition {
    return { epoch: this.epoch, cursor: this.cursor, rngState: this.epochState.slice(), examples: this.file.count };
  }

  /** Throws unless p is a position of this loader's file (what setPosition would refuse). */
  checkPosition(p: LoaderPosition): void {
    if (p.examples !== this.file.count) throw new Error(`loader: the saved position is for ${p.examples} examples, the file ${this.file.path} has ${this.file.count}`);
    if (!Number.isInteger(p.cursor) || p.cursor < 0 || p.cursor > this.file.count) throw new Error(`loader: cursor ${p.cursor} is out of range (0 to ${this.file.count})`);
  }

  setPosition(p: LoaderPosition): void {
    this.checkPosition(p);
    this.rng.setState(p.rngState);
    this.epochState = p.rngState.slice();
    this.drawOrder();
    this.epoch = p.epoch;
    this.cursor = p.cursor;
  }
}

// ---------------------------------------------------------------------------------------------
// Pipeline

export interface BuildProgress {
  file: string;
  fileIndex: number;
  files: number;
  bytesRead: number;
  totalBytes: number;
  lines: number;
  tokens: number;
  documents: number;
  examples: number;
  seconds: number;
}

export interface BuildSummary {
  /** The corpus path as given. */
  corpus: string;
  out: string;
  maxSeqLength: number;
  seed: number;
  files: number;
  filesRead: number;
  filesSkipped: number;
  bytes: number;
  /** Documents with at least one token. */
  documents: number;
  lines: number;
  nonBlankLines: number;
  /** Tokens produced by the tokenizer (before packing and truncation). */
  tokens: number;
  examples: number;
  /** Tokens in the examples, [CLS]/[SEP] included. */
  exampleTokens: number;
  /** Distinct vocabulary entries that occur in the examples ([CLS]/[SEP] included), of `vocabSize`. */
  vocabUsed: number;
  vocabSize: number;
  builder: BuilderStats;
  invalidUtf8Replacements: number;
  warnings: string[];
  seconds: number;
  examplesPerSecond: number;
  tokensPerSecond: number;
}

export interface BuildOptions {
  /** A text file or a folder of them. */
  corpus: string;
  tokenizer: WordPieceTokenizer;
  /** Output example file. */
  out: string;
  /** Default 128. */
  maxSeqLength?: number;
  /** Default 0. */
  seed?: number;
  /** Blank lines end documents (official default true); the end of a file always does. */
  blanksSeparateDocs?: boolean;
  /** Shuffle the file order with the seeded Rng, as the official builder does (default false: sorted). */
  shuffleFiles?: boolean;
  onProgress?: (p: BuildProgress) => void;
  onWarning?: (w: CorpusWarning) => void;
  chunkBytes?: number;
  maxPieceBytes?: number;
}

/**
 * Warn when more than this fraction of the vocabulary never occurs in the corpus. The generator's output
 * layer is tied to the shared word embeddings, so its softmax gradient reaches every row at every step,
 * also rows whose token the corpus never has; Adam scales those small, same-signed gradients up to
 * full-size steps, so all such rows drift the same way and end up nearly alike. A fine-tuning task full
 * of those words (a modern task after pretraining on old books with the BERT vocabulary) then starts
 * from embeddings that cannot tell its words apart. A vocabulary trained on the corpus avoids it.
 */
export const VOCAB_UNUSED_WARN_FRACTION = 0.1;

/** The warning for a corpus that leaves much of the vocabulary unused, or null. */
export function vocabCoverageWarning(s: Pick<BuildSummary, "vocabUsed" | "vocabSize" | "corpus">, vocabPath: string): string | null {
  const unused = s.vocabSize - s.vocabUsed;
  if (unused <= VOCAB_UNUSED_WARN_FRACTION * s.vocabSize) return null;
  return (
    `${unused} of the ${s.vocabSize} entries of ${vocabPath} never occur in ${s.corpus}; pretraining moves their embeddings ` +
    `together (the tied generator softmax reaches every row and Adam makes those small gradients full-size steps), so words ` +
    `the corpus lacks end up looking alike to fine-tuning. For pretraining from scratch, train a vocabulary on the corpus: ` +
    `electra vocab --corpus ${s.corpus} --size 8192 --out vocab.txt`
  );
}

/** Streams corpus → tokenizer → ExampleBuilder → example file. */
export async function buildPretrainingData(opts: BuildOptions): Promise<BuildSummary> {
  const t0 = performance.now();
  const T = opts.maxSeqLength ?? 128;
  const seed = opts.seed ?? 0;
  const tok = opts.tokenizer;
  const blanks = opts.blanksSeparateDocs ?? true;
  // Separate streams for the file order and the builder, so the builder's draws do not depend on it.
  const builder = new ExampleBuilder({ maxSeqLength: T, clsId: tok.clsId, sepId: tok.sepId, rng: new Rng(seed) });
  const fileRng = new Rng((seed ^ 0x5f3759df) | 0);
  const files = listCorpusFiles(opts.corpus);
  let totalBytes = 0;
  for (const f of files) totalBytes += statSync(f).size;
  const stats = newCorpusReadStats();
  const writer = new ExampleWriter(opts.out, { maxSeqLength: T, vocabSize: tok.vocabSize, vocabHash: tok.vocabHash, seed });

  let documents = 0;
  let docHasTokens = false;
  let tokens = 0;
  let exampleTokens = 0;
  let bytesDone = 0;
  let lineParts: Int32Array[] = [];
  let lineLen = 0;
  let lineNonBlank = false;

  const seen = new Uint8Array(tok.vocabSize);
  const emit = (ex: BuiltExample | null): void => {
    if (ex) {
      writer.add(ex.ids, ex.segmentBoundary);
      exampleTokens += ex.ids.length;
      for (let i = 0; i < ex.ids.length; i++) if (ex.ids[i] < seen.length) seen[ex.ids[i]] = 1;
    }
  };
  const endDoc = (): void => {
    emit(builder.endDocument());
    if (docHasTokens) documents++;
    docHasTokens = false;
  };
  const consume = (block: { file: string; fileIndex: number; texts: string[]; lineEnds: boolean[]; endOfFile: boolean; fileBytesRead: number; fileBytes: number }, ids: Int32Array[]): void => {
    let k = 0;
    for (let i = 0; i < block.texts.length; i++) {
      if (block.texts[i].length > 0) {
        const part = ids[k++];
        lineNonBlank = true;
        if (part.length > 0) {
          lineParts.push(part);
          lineLen += part.length;
        }
      }
      if (!block.lineEnds[i]) continue;
      if (!lineNonBlank) {
        if (blanks) endDoc();
      } else if (lineLen > 0) {
        let sentence: Int32Array;
        if (lineParts.length === 1) sentence = lineParts[0];
        else {
          sentence = new Int32Array(lineLen);
          let p = 0;
          for (const part of lineParts) {
            sentence.set(part, p);
            p += part.length;
          }
        }
        tokens += lineLen;
        docHasTokens = true;
        emit(builder.addSentence(sentence));
      }
      lineParts = [];
      lineLen = 0;
      lineNonBlank = false;
    }
    if (block.endOfFile) {
      endDoc();
      bytesDone += block.fileBytes;
    }
    opts.onProgress?.({
      file: block.file,
      fileIndex: block.fileIndex,
      files: files.length,
      bytesRead: block.endOfFile ? bytesDone : bytesDone + block.fileBytesRead,
      totalBytes,
      lines: stats.lines,
      tokens,
      documents,
      examples: writer.count,
      seconds: (performance.now() - t0) / 1000,
    });
  };

  try {
    type Pending = { block: Parameters<typeof consume>[0]; ids: Promise<Int32Array[]> };
    let prev: Pending | null = null;
    const stream = readCorpus(opts.corpus, {
      stats,
      onWarning: opts.onWarning,
      chunkBytes: opts.chunkBytes,
      maxPieceBytes: opts.maxPieceBytes,
      orderFiles: opts.shuffleFiles ? (fs) => (fileRng.shuffle(fs), fs) : undefined,
    });
    for await (const block of stream) {
      // Tokenize this block (Rust threads) while the previous one is packed here.
      const ids = tok.encodeBatch(block.texts.filter((t) => t.length > 0));
      ids.catch(() => undefined); // observed below; avoid an unhandled rejection if the stream throws first
      if (prev) consume(prev.block, await prev.ids);
      prev = { block, ids };
    }
    if (prev) consume(prev.block, await prev.ids);
    writer.finish();
  } catch (e) {
    writer.abort();
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    corpus: opts.corpus,
    out: opts.out,
    maxSeqLength: T,
    seed,
    files: stats.files,
    filesRead: stats.filesRead,
    filesSkipped: stats.filesSkipped,
    bytes: stats.bytes,
    documents,
    lines: stats.lines,
    nonBlankLines: stats.nonBlankLines,
    tokens,
    examples: writer.count,
    exampleTokens,
    vocabUsed: seen.reduce((a, b) => a + b, 0),
    vocabSize: tok.vocabSize,
    builder: { ...builder.stats },
    invalidUtf8Replacements: stats.invalidUtf8Replacements,
    warnings: stats.warnings.map((w) => w.message),
    seconds,
    examplesPerSecond: writer.count / seconds,
    tokensPerSecond: tokens / seconds,
  };
}
