/**
 * TensorFlow checkpoint (TensorBundle, "V2" checkpoints: PREFIX.index + PREFIX.data-NNNNN-of-NNNNN) reader and writer.
 *
 * ── PREFIX.index: a LevelDB SSTable (tensorflow/core/lib/io/table*, format of leveldb/doc/table_format.md) ──
 *   [data block 1] ... [data block N] [metaindex block] [index block] [footer]
 *   footer (48 bytes): metaindex handle, index handle (each: varint64 offset, varint64 size), zero
 *     padding to 40 bytes, then fixed64 magic 0xdb4775248b80fb57 (little-endian: 57 fb 80 8b 24 75 47 db)
 *   every block is followed by a 5-byte trailer: u8 compression type (0 none, 1 snappy) and a fixed32
 *     masked CRC-32C of the block contents plus the type byte; mask(c) = ((c >>> 15) | (c << 17)) + 0xa282ead8
 *   block contents: entries, then fixed32 restart offsets, then fixed32 restart count; an entry is
 *     varint32 shared key bytes, varint32 unshared key bytes, varint32 value length, key delta, value
 *     (the key is the previous key's first `shared` bytes + the delta; at a restart point shared = 0)
 *   index block: one entry per data block, key >= the block's last key, value = the block handle
 *   keys are sorted bytewise; the empty key "" holds the BundleHeaderProto, every other key is a tensor
 *   name holding its BundleEntryProto (keys starting with \x00 are slices of partitioned variables)
 *
 * ── protobufs (tensorflow/core/protobuf/tensor_bundle.proto) ──
 *   BundleHeaderProto { int32 num_shards = 1; Endianness endianness = 2 (0 little, 1 big); VersionDef version = 3 }
 *   VersionDef        { int32 producer = 1; int32 min_consumer = 2; repeated int32 bad_consumers = 3 }
 *   BundleEntryProto  { DataType dtype = 1; TensorShapeProto shape = 2; int32 shard_id = 3; int64 offset = 4;
 *                       int64 size = 5; fixed32 crc32c = 6; repeated TensorSliceProto slices = 7 }
 *   TensorShapeProto  { repeated Dim dim = 2 { int64 size = 1; string name = 2 }; bool unknown_rank = 3 }
 *   wire format: key = field << 3 | type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32), little-endian
 *
 * ── PREFIX.data-SSSSS-of-NNNNN: shard SSSSS of NNNNN (five digits each) ──
 *   tensor bytes at [offset, offset + size) of shard shard_id, row-major little-endian; crc32c is the
 *   masked CRC-32C of those bytes. DT_STRING tensors are: varint64 length of each element, a fixed32
 *   masked CRC-32C of the lengths, then the element bytes back to back. The checksums are not over the
 *   varint bytes: each length enters the CRC as a little-endian uint32 (uint64 if it does not fit);
 *   the entry's crc32c continues that CRC over the 4 raw length-checksum bytes and the element bytes.
 *
 * ── Snappy (https://github.com/google/snappy/blob/main/format_description.txt) ──
 *   varint32 uncompressed length, then elements, each starting with a tag byte whose low 2 bits say:
 *   00 literal: length - 1 in the upper 6 bits, or 60..63 = that length - 1 is in the next 1..4 bytes (LE);
 *   01 copy: length 4 + bits 2..4, offset = bits 5..7 << 8 | next byte;
 *   10 copy: length 1 + upper 6 bits, offset = next 2 bytes (LE); 11 copy: same with a 4-byte offset.
 *   A copy repeats `length` bytes starting `offset` bytes back (it may overlap what it writes).
 *
 * Why by hand: there is no npm package for TensorBundle; the LevelDB table readers on npm are bound to
 * native LevelDB or to whole databases; protobuf libraries need the .proto compiled in; and the snappy
 * packages are native addons. Each part here is small.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { CheckpointError, DTYPE_BYTES, type DType, type TensorData, guardParse, numel, readFileBytes } from "./tensor-data.js";
import { writeFileDurable } from "./durable.js";

// ───────────────────────────────────────── CRC-32C ─────────────────────────────────────────

const CRC32C_TABLES: Int32Array[] = (() => {
  const t: Int32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[0][n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0][n];
    for (let k = 1; k < 8; k++) {
      c = t[0][c & 0xff] ^ (c >>> 8);
      t[k][n] = c;
    }
  }
  return t;
})();

/** CRC-32C (Castagnoli), slicing-by-8. `init` continues a previous CRC. */
export function crc32c(data: Uint8Array, init = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC32C_TABLES;
  let c = ~init;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  for (; i < end8; i += 8) {
    const lo = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    c = t7[lo & 0xff] ^ t6[(lo >>> 8) & 0xff] ^ t5[(lo >>> 16) & 0xff] ^ t4[lo >>> 24] ^
      t3[data[i + 4]] ^ t2[data[i + 5]] ^ t1[data[i + 6]] ^ t0[data[i + 7]];
  }
  for (; i < n; i++) c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export function maskCrc(c: number): number {
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

export function unmaskCrc(m: number): number {
  const r = (m - 0xa282ead8) >>> 0;
  return ((r >>> 17) | (r << 15)) >>> 0;
}

// ───────────────────────────────────────── snappy ─────────────────────────────────────────

/** Decompresses a raw snappy block; throws a plain Error describing the damage. */
export function snappyDecompress(src: Uint8Array): Uint8Array {
  let p = 0;
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    if (p >= src.length) throw new Error("snappy: truncated length header");
    if (shift > 28) throw new Error("snappy: length header is too long");
    const b = src[p++];
    len += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) break;
  }
  // the densest element (a 3-byte copy of 64 bytes) expands 21.3×: a larger claim is damage, not data
  if (len > src.length * 22 + 64) throw new Error(`snappy: claims ${len} bytes from ${src.length} compressed bytes`);
  const out = new Uint8Array(len);
  let o = 0;
  while (p < src.length) {
    const tag = src[p++];
    const type = tag & 3;
    if (type === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const extra = n - 59;
        if (p + extra > src.length) throw new Error("snappy: truncated literal length");
        n = 0;
        for (let k = 0; k < extra; k++) n += src[p + k] * 2 ** (8 * k);
        p += extra;
      }
      n += 1;
      if (p + n > src.length) throw new Error("snappy: literal runs past the input");
      if (o + n > len) throw new Error("snappy: output overruns the declared length");
      out.set(src.subarray(p, p + n), o);
      p += n;
      o += n;
      continue;
    }
    let n: number;
    let off: number;
    if (type === 1) {
      if (p + 1 > src.length) throw new Error("snappy: truncated copy");
      n = 4 + ((tag >>> 2) & 7);
      off = ((tag >>> 5) << 8) | src[p++];
    } else if (type === 2) {
      if (p + 2 > src.length) throw new Error("snappy: truncated copy");
      n = 1 + (tag >>> 2);
      off = src[p] | (src[p + 1] << 8);
      p += 2;
    } else {
      if (p + 4 > src.length) throw new Error("snappy: truncated copy");
      n = 1 + (tag >>> 2);
      off = (src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24)) >>> 0;
      p += 4;
    }
    if (off === 0 || off > o) throw new Error(`snappy: copy offset ${off} at output position ${o} is out of range`);
    if (o + n > len) throw new Error("snappy: output overruns the declared length");
    for (let k = 0; k < n; k++, o++) out[o] = out[o - off];
  }
  if (o !== len) throw new Error(`snappy: decompressed ${o} bytes, the header says ${len}`);
  return out;
}

/** A simple greedy snappy compressor (hash of 4-byte sequences, copies up to 64 bytes); valid snappy output. */
export function snappyCompress(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  let v = src.length;
  do {
    out.push((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    v = Math.floor(v / 128);
  } while (v > 0);
  const literal = (from: number, to: number): void => {
    for (let s = from; s < to; s += 65536) {
      const e = Math.min(to, s + 65536);
      const n = e - s - 1;
      if (n < 60) out.push(n << 2);
      else if (n < 256) out.push(60 << 2, n);
      else out.push(61 << 2, n & 0xff, n >>> 8);
      for (let k = s; k < e; k++) out.push(src[k]);
    }
  };
  const table = new Map<number, number>();
  let i = 0;
  let litStart = 0;
  while (i + 4 <= src.length) {
    const key = (src[i] | (src[i + 1] << 8) | (src[i + 2] << 16) | (src[i + 3] << 24)) >>> 0;
    const cand = table.get(key);
    table.set(key, i);
    if (cand !== undefined && i - cand < 65536) {
      let n = 4;
      while (i + n < src.length && n < 64 && src[cand + n] === src[i + n]) n++;
      literal(litStart, i);
      const off = i - cand;
      if (n >= 4 && n <= 11 && off < 2048) out.push(1 | ((n - 4) << 2) | ((off >>> 8) << 5), off & 0xff);
      else out.push(2 | ((n - 1) << 2), off & 0xff, off >>> 8);
      i += n;
      litStart = i;
    } else {
      i++;
    }
  }
  literal(litStart, src.length);
  return Uint8Array.from(out);
}

// ───────────────────────────────────────── dtypes ─────────────────────────────────────────

const TF_DTYPE_NAMES: Record<number, string> = {
  1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8", 7: "DT_STRING",
  8: "DT_COMPLEX64", 9: "DT_INT64", 10: "DT_BOOL", 11: "DT_QINT8", 12: "DT_QUINT8", 13: "DT_QINT32",
  14: "DT_BFLOAT16", 15: "DT_QINT16", 16: "DT_QUINT16", 17: "DT_UINT16", 18: "DT_COMPLEX128", 19: "DT_HALF",
  20: "DT_RESOURCE", 21: "DT_VARIANT", 22: "DT_UINT32", 23: "DT_UINT64", 24: "DT_FLOAT8_E5M2", 25: "DT_FLOAT8_E4M3FN",
};
const TF_TO_DTYPE: Record<number, DType> = {
  1: "F32", 2: "F64", 3: "I32", 4: "U8", 5: "I16", 6: "I8", 7: "STRING", 9: "I64", 10: "BOOL", 14: "BF16", 19: "F16",
};
const DTYPE_TO_TF: Record<DType, number> = Object.fromEntries(
  Object.entries(TF_TO_DTYPE).map(([k, v]) => [v, Number(k)]),
) as Record<DType, number>;

/** "DT_FLOAT" etc. for a DataType enum value. */
export function tfDtypeName(code: number): string {
  return TF_DTYPE_NAMES[code] ?? `DataType(${code})`;
}

// ───────────────────────────────────────── protobuf ─────────────────────────────────────────

/** Reads protobuf wire format in buf[start, end); `fail` throws. (test/helpers/tfevents.ts reads event files with it.) */
export class ProtoReader {
  p: number;
  constructor(readonly buf: Uint8Array, readonly end: number, readonly fail: (msg: string) => never, start = 0) {
    this.p = start;
  }
  done(): boolean {
    return this.p >= this.end;
  }
  /** A varint as an unsigned 64-bit bigint. */
  varintBig(): bigint {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (this.p >= this.end) this.fail("protobuf: truncated varint");
      if (shift > 63n) this.fail("protobuf: varint longer than 10 bytes");
      const b = this.buf[this.p++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return BigInt.asUintN(64, v);
    }
  }
  /** A varint read as a signed int64 that must be a safe integer. */
  int64(what: string): number {
    const v = BigInt.asIntN(64, this.varintBig());
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) this.fail(`protobuf: ${what} ${v} is out of range`);
    return Number(v);
  }
  fixed32(): number {
    if (this.p + 4 > this.end) this.fail("protobuf: truncated fixed32");
    const b = this.buf;
    const v = (b[this.p] | (b[this.p + 1] << 8) | (b[this.p + 2] << 16) | (b[this.p + 3] << 24)) >>> 0;
    this.p += 4;
    return v;
  }
  /** The [start, end) of a length-delimited field's payload; advances past it. */
  bytes(): [number, number] {
    const n = this.varintBig();
    if (n > BigInt(this.end - this.p)) this.fail("protobuf: length-delimited field runs past the message");
    const s = this.p;
    this.p += Number(n);
    return [s, this.p];
  }
  skip(wire: number): void {
    if (wire === 0) this.varintBig();
    else if (wire === 1) this.need(8);
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.need(4);
    else this.fail(`protobuf: unsupported wire type ${wire}`);
  }
  private need(n: number): void {
    if (this.p + n > this.end) this.fail("protobuf: truncated field");
    this.p += n;
  }
  /** Iterates fields: calls fn(field, wireType); fn must consume the value (or call skip). */
  fields(fn: (field: number, wire: number) => void): void {
    while (!this.done()) {
      const key = this.varintBig();
      const field = Number(key >> 3n);
      const wire = Number(key & 7n);
      if (field === 0) this.fail("protobuf: field number 0");
      fn(field, wire);
    }
  }
  expect(wire: number, want: number, what: string): void {
    if (wire !== want) this.fail(`protobuf: ${what} has wire type ${wire}, expected ${want}`);
  }
}

// ───────────────────────────────────────── SSTable ─────────────────────────────────────────

const TABLE_MAGIC_LO = 0x8b80fb57;
const TABLE_MAGIC_HI = 0xdb477524;
const FOOTER = 48;

interface BlockHandle {
  offset: number;
  size: number;
}

function readVarint(buf: Uint8Array, p: number, end: number, fail: (m: string) => never): [number, number] {
  let v = 0;
  for (let shift = 0; ; shift += 7) {
    if (p >= end) fail("truncated varint");
    if (shift > 49) fail("varint too long");
    const b = buf[p++];
    v += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return [v, p];
  }
}

class TableReader {
  private readonly fail: (m: string) => never;
  constructor(private readonly buf: Uint8Array, private readonly where: string) {
    this.fail = (m: string): never => {
      throw new CheckpointError(where, `index (SSTable): ${m}`);
    };
  }

  private handle(p: number, end: number): [BlockHandle, number] {
    const [offset, p1] = readVarint(this.buf, p, end, this.fail);
    const [size, p2] = readVarint(this.buf, p1, end, this.fail);
    return [{ offset, size }, p2];
  }

  private block(h: BlockHandle, what: string): Uint8Array {
    const limit = this.buf.length - FOOTER;
    if (h.offset + h.size + 5 > limit) this.fail(`${what} block [${h.offset}, ${h.offset + h.size + 5}) runs past the table's data (truncated or damaged)`);
    const contents = this.buf.subarray(h.offset, h.offset + h.size);
    const type = this.buf[h.offset + h.size];
    const t = h.offset + h.size + 1;
    const stored = (this.buf[t] | (this.buf[t + 1] << 8) | (this.buf[t + 2] << 16) | (this.buf[t + 3] << 24)) >>> 0;
    const got = crc32c(this.buf.subarray(h.offset, h.offset + h.size + 1));
    if (unmaskCrc(stored) !== got) this.fail(`${what} block at offset ${h.offset}: CRC-32C mismatch (the file is damaged)`);
    if (type === 0) return contents;
    if (type === 1) {
      try {
        return snappyDecompress(contents);
      } catch (e) {
        this.fail(`${what} block at offset ${h.offset}: ${(e as Error).message}`);
      }
    }
    this.fail(`${what} block at offset ${h.offset}: unknown compression type ${type}`);
  }

  /** The entries of a block, keys as bytes. */
  private entries(b: Uint8Array, what: string): [Uint8Array, Uint8Array][] {
    if (b.length < 4) this.fail(`${what} block is ${b.length} bytes, too short`);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const nRestarts = dv.getUint32(b.length - 4, true);
    if (nRestarts * 4 + 4 > b.length) this.fail(`${what} block claims ${nRestarts} restart points, more than fit`);
    const end = b.length - 4 - 4 * nRestarts;
    const out: [Uint8Array, Uint8Array][] = [];
    let p = 0;
    let last = new Uint8Array(0);
    while (p < end) {
      let shared: number, unshared: number, vlen: number;
      [shared, p] = readVarint(b, p, end, this.fail);
      [unshared, p] = readVarint(b, p, end, this.fail);
      [vlen, p] = readVarint(b, p, end, this.fail);
      if (shared > last.length) this.fail(`${what} block: an entry shares ${shared} bytes with a ${last.length}-byte key`);
      if (p + unshared + vlen > end) this.fail(`${what} block: an entry runs past the block`);
      const key = new Uint8Array(shared + unshared);
      key.set(last.subarray(0, shared));
      key.set(b.subarray(p, p + unshared), shared);
      p += unshared;
      out.push([key, b.subarray(p, p + vlen)]);
      p += vlen;
      last = key;
    }
    return out;
  }

  /** All key/value pairs of the table in order. */
  all(): [Uint8Array, Uint8Array][] {
    const n = this.buf.length;
    if (n < FOOTER) this.fail(`file is ${n} bytes, too short for the 48-byte footer (truncated?)`);
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset, n);
    if (dv.getUint32(n - 8, true) !== TABLE_MAGIC_LO || dv.getUint32(n - 4, true) !== TABLE_MAGIC_HI) {
      this.fail("wrong magic number at the end of the file: not a TensorFlow checkpoint index (truncated?)");
    }
    const f = n - FOOTER;
    const [, p] = this.handle(f, n - 8); // metaindex: unused by TensorBundle
    const [indexHandle] = this.handle(p, n - 8);
    const out: [Uint8Array, Uint8Array][] = [];
    let prev: Uint8Array | null = null;
    for (const [, v] of this.entries(this.block(indexHandle, "index"), "index")) {
      const [bh] = handleFrom(v, this.fail);
      for (const kv of this.entries(this.block(bh, "data"), "data")) {
        if (prev && compareBytes(prev, kv[0]) >= 0) this.fail(`keys are out of order or repeated (${latin(kv[0])} after ${latin(prev)})`);
        prev = kv[0];
        out.push(kv);
      }
    }
    return out;
  }
}

/** The key/value pairs of an SSTable (a TF .index file), in order, block CRCs checked. */
export function readSSTable(buf: Uint8Array, where = "<buffer>"): [Uint8Array, Uint8Array][] {
  return guardParse(where, "SSTable", () => new TableReader(buf, where).all());
}

function handleFrom(v: Uint8Array, fail: (m: string) => never): [BlockHandle, number] {
  const [offset, p1] = readVarint(v, 0, v.length, fail);
  const [size, p2] = readVarint(v, p1, v.length, fail);
  return [{ offset, size }, p2];
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function latin(b: Uint8Array): string {
  return JSON.stringify(String.fromCharCode(...b.subarray(0, 200)));
}

// ───────────────────────────────────────── bundle ─────────────────────────────────────────

export interface TfIndexEntry {
  name: string;
  /** Our dtype name, or null when TensorFlow's has no equivalent (see tfDtype). */
  dtype: DType | null;
  /** TensorFlow's name of the dtype ("DT_FLOAT", ...). */
  tfDtype: string;
  /** Dimensions; -1 for an unknown size. */
  shape: number[];
  shardId: number;
  offset: number;
  size: number;
  /** The stored (masked) CRC-32C of the tensor's bytes. */
  crc32c: number;
  /** Number of slices when the variable is partitioned (its data is then in the slices: not supported). */
  slices: number;
}

export interface TfIndex {
  /** The checkpoint prefix: data shards are PREFIX.data-SSSSS-of-NNNNN. */
  prefix: string;
  indexPath: string;
  numShards: number;
  endianness: "little" | "big";
  producer: number;
  entries: TfIndexEntry[];
}

/**
 * The checkpoint prefix for a path: PREFIX itself (as TensorFlow takes it), PREFIX.index, a
 * PREFIX.data-* shard, a directory with a `checkpoint` file (its model_checkpoint_path), a
 * SavedModel directory (variables/variables), or a directory holding exactly one *.index.
 */
export function resolveTfPrefix(path: string): string {
  if (path.endsWith(".index")) return path.slice(0, -".index".length);
  const m = /^(.*)\.data-\d{5}-of-\d{5}$/.exec(path);
  if (m) return m[1];
  if (existsSync(path) && statSync(path).isDirectory()) {
    const ckpt = join(path, "checkpoint");
    if (existsSync(ckpt)) {
      const mm = /model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"/.exec(readFileSync(ckpt, "utf8"));
      if (mm) {
        const p = mm[1];
        return p.startsWith("/") ? p : join(path, p);
      }
    }
    if (existsSync(join(path, "variables", "variables.index"))) return join(path, "variables", "variables");
    if (existsSync(join(path, "variables.index"))) return join(path, "variables");
    const indexes = readdirSync(path).filter((f) => f.endsWith(".index"));
    if (indexes.length === 1) return join(path, indexes[0].slice(0, -".index".length));
    throw new CheckpointError(
      path,
      indexes.length
        ? `directory holds ${indexes.length} checkpoints (${indexes.join(", ")}) and no \`checkpoint\` file saying which: give the prefix`
        : "directory holds no TensorFlow checkpoint (no `checkpoint` file, no variables/variables.index, no *.index)",
    );
  }
  return path;
}

export function shardPath(prefix: string, shard: number, numShards: number): string {
  return `${prefix}.data-${String(shard).padStart(5, "0")}-of-${String(numShards).padStart(5, "0")}`;
}

function parseShape(buf: Uint8Array, s: number, e: number, fail: (m: string) => never): number[] {
  const shape: number[] = [];
  const r = new ProtoReader(buf, e, fail, s);
  r.fields((field, wire) => {
    if (field === 2) {
      r.expect(wire, 2, "TensorShapeProto.dim");
      const [ds, de] = r.bytes();
      let size = 0;
      const d = new ProtoReader(buf, de, fail, ds);
      d.fields((f, w) => {
        if (f === 1) {
          d.expect(w, 0, "Dim.size");
          size = d.int64("dimension");
        } else d.skip(w);
      });
      if (size < -1) fail(`protobuf: dimension ${size}`);
      shape.push(size);
    } else if (field === 3) {
      r.expect(wire, 0, "TensorShapeProto.unknown_rank");
      if (r.varintBig() !== 0n) fail("protobuf: tensor of unknown rank");
    } else r.skip(wire);
  });
  return shape;
}

/** Parses an index file's bytes. */
export function parseTfIndex(buf: Uint8Array, indexPath: string, prefix = indexPath.replace(/\.index$/, "")): TfIndex {
  return guardParse(indexPath, "TensorFlow checkpoint index", () => {
    const fail = (m: string): never => {
      throw new CheckpointError(indexPath, m);
    };
    const kvs = new TableReader(buf, indexPath).all();
    const index: TfIndex = { prefix, indexPath, numShards: 0, endianness: "little", producer: 0, entries: [] };
    let sawHeader = false;
    const dec = new TextDecoder();
    for (const [k, v] of kvs) {
      if (k.length === 0) {
        sawHeader = true;
        const r = new ProtoReader(v, v.length, (m) => fail(`header: ${m}`));
        r.fields((field, wire) => {
          if (field === 1) {
            r.expect(wire, 0, "num_shards");
            index.numShards = r.int64("num_shards");
          } else if (field === 2) {
            r.expect(wire, 0, "endianness");
            index.endianness = r.varintBig() === 0n ? "little" : "big";
          } else if (field === 3) {
            r.expect(wire, 2, "version");
            const [s, e] = r.bytes();
            const vr = new ProtoReader(v, e, (m) => fail(`header: ${m}`), s);
            vr.fields((f, w) => {
              if (f === 1 && w === 0) index.producer = vr.int64("producer");
              else vr.skip(w);
            });
          } else r.skip(wire);
        });
        continue;
      }
      if (k[0] === 0) continue; // a slice of a partitioned variable (binary key)
      const name = dec.decode(k);
      const efail = (m: string): never => fail(`entry ${name}: ${m}`);
      const e: TfIndexEntry = { name, dtype: null, tfDtype: "", shape: [], shardId: 0, offset: 0, size: 0, crc32c: 0, slices: 0 };
      let code = 0;
      const r = new ProtoReader(v, v.length, efail);
      r.fields((field, wire) => {
        switch (field) {
          case 1:
            r.expect(wire, 0, "dtype");
            code = r.int64("dtype");
            break;
          case 2: {
            r.expect(wire, 2, "shape");
            const [s, en] = r.bytes();
            e.shape = parseShape(v, s, en, efail);
            break;
          }
          case 3:
            r.expect(wire, 0, "shard_id");
            e.shardId = r.int64("shard_id");
            break;
          case 4:
            r.expect(wire, 0, "offset");
            e.offset = r.int64("offset");
            break;
          case 5:
            r.expect(wire, 0, "size");
            e.size = r.int64("size");
            break;
          case 6:
            r.expect(wire, 5, "crc32c");
            e.crc32c = r.fixed32();
            break;
          case 7:
            r.expect(wire, 2, "slices");
            r.bytes();
            e.slices++;
            break;
          default:
            r.skip(wire);
        }
      });
      if (e.shardId < 0 || e.offset < 0 || e.size < 0) efail(`negative shard, offset or size (${e.shardId}, ${e.offset}, ${e.size})`);
      e.tfDtype = tfDtypeName(code);
      e.dtype = TF_TO_DTYPE[code] ?? null;
      index.entries.push(e);
    }
    if (!sawHeader) fail("no header entry (empty key): not a TensorBundle index");
    if (index.numShards < 1 && index.entries.length) fail(`header says ${index.numShards} data shards`);
    for (const e of index.entries) {
      if (e.slices === 0 && e.shardId >= index.numShards) fail(`entry ${e.name}: shard ${e.shardId} of ${index.numShards}`);
    }
    return index;
  });
}

/** Reads PREFIX.index (names, dtypes, shapes, where the data are) without touching the data files. */
export function readTfIndex(prefixOrIndexPath: string): TfIndex {
  const prefix = resolveTfPrefix(prefixOrIndexPath);
  const indexPath = `${prefix}.index`;
  if (!existsSync(indexPath)) throw new CheckpointError(indexPath, "no such file (a TensorFlow checkpoint is PREFIX.index plus PREFIX.data-* shards)");
  return parseTfIndex(readFileBytes(indexPath), indexPath, prefix);
}

/** True when at least one data shard of the index exists (false: an index-only checkpoint). */
export function tfHasData(index: TfIndex): boolean {
  for (let s = 0; s < index.numShards; s++) if (existsSync(shardPath(index.prefix, s, index.numShards))) return true;
  return false;
}

/** Checks a DT_STRING tensor's layout (lengths, their checksum, total size); returns the CRC-32C the entry must carry (unmasked). */
function stringTensorCrc(bytes: Uint8Array, count: number, fail: (m: string) => never): number {
  let p = 0;
  let total = 0;
  let crc = 0;
  const le = new Uint8Array(8);
  const ledv = new DataView(le.buffer);
  for (let i = 0; i < count; i++) {
    let len: number;
    [len, p] = readVarint(bytes, p, bytes.length, (m) => fail(`string lengths: ${m}`));
    total += len;
    if (len <= 0xffffffff) {
      ledv.setUint32(0, len, true);
      crc = crc32c(le.subarray(0, 4), crc);
    } else {
      ledv.setBigUint64(0, BigInt(len), true);
      crc = crc32c(le, crc);
    }
  }
  if (p + 4 > bytes.length) fail("string tensor is truncated (no length checksum)");
  const stored = (bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16) | (bytes[p + 3] << 24)) >>> 0;
  if (unmaskCrc(stored) !== crc) fail("string lengths do not match their checksum (damaged)");
  if (p + 4 + total !== bytes.length) fail(`string tensor holds ${bytes.length - p - 4} bytes of text, its lengths add up to ${total}`);
  return crc32c(bytes.subarray(p), crc);
}

/** The elements of a STRING tensor (TensorData as read from a TF checkpoint). */
export function decodeTfStrings(t: TensorData): Uint8Array[] {
  if (t.dtype !== "STRING") throw new Error(`decodeTfStrings: a ${t.dtype} tensor`);
  const count = numel(t.shape);
  const lens: number[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    let len: number;
    [len, p] = readVarint(t.bytes, p, t.bytes.length, (m) => {
      throw new Error(`string tensor: ${m}`);
    });
    lens.push(len);
  }
  p += 4;
  const out: Uint8Array[] = [];
  for (const n of lens) {
    if (p + n > t.bytes.length) throw new Error("string tensor: element runs past the data");
    out.push(t.bytes.subarray(p, p + n));
    p += n;
  }
  return out;
}

/** Encodes strings as a STRING tensor in TensorFlow's layout. */
export function encodeTfStrings(values: (string | Uint8Array)[], shape: number[] = [values.length]): TensorData {
  if (numel(shape) !== values.length) throw new Error(`encodeTfStrings: ${values.length} values for shape [${shape}]`);
  const enc = new TextEncoder();
  const elems = values.map((v) => (typeof v === "string" ? enc.encode(v) : v));
  const lens: number[] = [];
  const sizes = new DataView(new ArrayBuffer(4 * elems.length));
  elems.forEach((e, i) => {
    pushVarint(lens, e.length);
    sizes.setUint32(4 * i, e.length, true);
  });
  const head = Uint8Array.from(lens);
  const crc = maskCrc(crc32c(new Uint8Array(sizes.buffer)));
  const total = elems.reduce((s, e) => s + e.length, 0);
  const out = new Uint8Array(head.length + 4 + total);
  out.set(head);
  new DataView(out.buffer).setUint32(head.length, crc, true);
  let p = head.length + 4;
  for (const e of elems) {
    out.set(e, p);
    p += e.length;
  }
  return { dtype: "STRING", shape: [...shape], bytes: out };
}

/** One tensor's bytes from an already loaded shard, checked (size, CRC-32C, dtype, string layout). */
function tensorFromShard(index: TfIndex, e: TfIndexEntry, shard: Uint8Array, file: string): TensorData {
  const fail = (m: string): never => {
    throw new CheckpointError(file, `tensor ${e.name}: ${m}`);
  };
  if (e.dtype === null) fail(`dtype ${e.tfDtype} is not supported`);
  if (e.slices) fail("partitioned variables (saved as slices) are not supported");
  if (index.endianness !== "little") fail("the checkpoint is big-endian; not supported");
  if (e.shape.some((d) => d < 0)) fail(`shape [${e.shape}] has unknown dimensions`);
  const dtype = e.dtype as DType;
  if (e.offset + e.size > shard.length) fail(`bytes [${e.offset}, ${e.offset + e.size}) run past the end of the ${shard.length}-byte data file (truncated?)`);
  const n = numel(e.shape);
  if (dtype !== "STRING" && e.size !== n * DTYPE_BYTES[dtype]) fail(`${e.size} bytes for ${dtype}[${e.shape}], which needs ${n * DTYPE_BYTES[dtype]}`);
  const bytes = shard.subarray(e.offset, e.offset + e.size);
  const got = dtype === "STRING" ? stringTensorCrc(bytes, n, fail) : crc32c(bytes);
  if (got !== unmaskCrc(e.crc32c)) fail("CRC-32C mismatch (the data file is damaged)");
  const es = dtype === "STRING" ? 1 : DTYPE_BYTES[dtype];
  // keep numeric tensors aligned to their element size so typed arrays can map them
  return { dtype, shape: [...e.shape], bytes: bytes.byteOffset % es === 0 ? bytes : new Uint8Array(bytes) };
}

export interface TfReadOptions {
  /** Only these tensors (default all). */
  filter?: (entry: TfIndexEntry) => boolean;
  /** What to do with tensors of dtypes we cannot represent (default "error"). */
  onUnsupported?: "error" | "skip";
  /** Data shards already in memory, by shard number (tests). */
  shards?: Map<number, Uint8Array>;
}

/** Reads the data of an index's tensors (all, or those passing opts.filter), checking sizes and CRCs. */
export function readTfTensors(index: TfIndex, opts: TfReadOptions = {}): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  const shards = new Map(opts.shards ?? []);
  for (const e of index.entries) {
    if (opts.filter && !opts.filter(e)) continue;
    if (e.dtype === null && opts.onUnsupported === "skip") continue;
    const file = shardPath(index.prefix, e.shardId, index.numShards);
    let shard = shards.get(e.shardId);
    if (!shard && e.dtype !== null && e.slices === 0 && e.size > 0) {
      if (!existsSync(file)) throw new CheckpointError(file, `no such data file (needed for tensor ${e.name}); index-only checkpoints give names, dtypes and shapes (readTfIndex)`);
      shard = readFileBytes(file);
      shards.set(e.shardId, shard);
    }
    out.set(e.name, guardParse(file, "TensorFlow checkpoint data", () => tensorFromShard(index, e, shard ?? new Uint8Array(0), file)));
  }
  return out;
}

/** Reads a whole TensorFlow checkpoint (prefix, .index path, or directory) into name → tensor. */
export function readTfCheckpoint(prefixOrIndexPath: string, opts: TfReadOptions = {}): Map<string, TensorData> {
  return readTfTensors(readTfIndex(prefixOrIndexPath), opts);
}

// ───────────────────────────────────────── writer ─────────────────────────────────────────

function pushVarint(out: number[], v: number): void {
  if (v < 0) {
    // int64 two's complement, 10 bytes
    let b = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 9; i++) {
      out.push(Number(b & 0x7fn) | 0x80);
      b >>= 7n;
    }
    out.push(Number(b));
    return;
  }
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function protoVarintField(out: number[], field: number, v: number): void {
  pushVarint(out, field << 3);
  pushVarint(out, v);
}

function protoBytesField(out: number[], field: number, payload: number[]): void {
  pushVarint(out, (field << 3) | 2);
  pushVarint(out, payload.length);
  for (const b of payload) out.push(b);
}

class BlockBuilder {
  private buf: number[] = [];
  private restarts: number[] = [0];
  private counter = 0;
  private last: Uint8Array = new Uint8Array(0);
  count = 0;
  constructor(private readonly interval: number) {}
  add(key: Uint8Array, value: Uint8Array): void {
    let shared = 0;
    if (this.counter < this.interval) {
      const n = Math.min(this.last.length, key.length);
      while (shared < n && this.last[shared] === key[shared]) shared++;
    } else {
      this.restarts.push(this.buf.length);
      this.counter = 0;
    }
    pushVarint(this.buf, shared);
    pushVarint(this.buf, key.length - shared);
    pushVarint(this.buf, value.length);
    for (let i = shared; i < key.length; i++) this.buf.push(key[i]);
    for (const b of value) this.buf.push(b);
    this.last = key;
    this.counter++;
    this.count++;
  }
  size(): number {
    return this.buf.length + 4 * this.restarts.length + 4;
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.size());
    out.set(this.buf);
    const dv = new DataView(out.buffer);
    let p = this.buf.length;
    for (const r of this.restarts) {
      dv.setUint32(p, r, true);
      p += 4;
    }
    dv.setUint32(p, this.restarts.length, true);
    return out;
  }
}

export interface TfWriteOptions {
  /** Block compression in the index (default "none"). */
  compression?: "none" | "snappy";
  /** Target uncompressed data block size in bytes (default 4096, TensorFlow's). */
  blockSize?: number;
}

/** The .index bytes of a table of sorted key/value pairs (exported for tests). */
export function buildSSTable(kvs: [Uint8Array, Uint8Array][], opts: TfWriteOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = 0;
  const writeBlock = (contents: Uint8Array): BlockHandle => {
    let type = 0;
    let body = contents;
    if (opts.compression === "snappy") {
      const c = snappyCompress(contents);
      if (c.length < contents.length - contents.length / 8) {
        body = c;
        type = 1;
      }
    }
    const trailer = new Uint8Array(5);
    trailer[0] = type;
    const crc = maskCrc(crc32c(trailer.subarray(0, 1), crc32c(body)));
    new DataView(trailer.buffer).setUint32(1, crc, true);
    const h = { offset: pos, size: body.length };
    parts.push(body, trailer);
    pos += body.length + 5;
    return h;
  };
  const encHandle = (h: BlockHandle): Uint8Array => {
    const b: number[] = [];
    pushVarint(b, h.offset);
    pushVarint(b, h.size);
    return Uint8Array.from(b);
  };
  const index = new BlockBuilder(1);
  let block = new BlockBuilder(16);
  let lastKey: Uint8Array | null = null;
  const flush = (): void => {
    if (!block.count || !lastKey) return;
    index.add(lastKey, encHandle(writeBlock(block.finish())));
    block = new BlockBuilder(16);
  };
  for (const [k, v] of kvs) {
    if (lastKey && compareBytes(lastKey, k) >= 0) throw new Error("buildSSTable: keys must be strictly increasing");
    block.add(k, v);
    lastKey = k;
    if (block.size() >= (opts.blockSize ?? 4096)) flush();
  }
  flush();
  const meta = writeBlock(new BlockBuilder(16).finish());
  const idx = writeBlock(index.finish());
  const footer = new Uint8Array(FOOTER);
  const hb = [...encHandle(meta), ...encHandle(idx)];
  footer.set(hb);
  const dv = new DataView(footer.buffer);
  dv.setUint32(40, TABLE_MAGIC_LO, true);
  dv.setUint32(44, TABLE_MAGIC_HI, true);
  parts.push(footer);
  return Buffer.concat(parts);
}

/**
 * Writes PREFIX.index and PREFIX.data-00000-of-00001 (one shard, tensors in name order) in
 * TensorFlow's TensorBundle format. STRING tensors must be in TF's layout (encodeTfStrings).
 */
export function writeTfCheckpoint(
  prefix: string,
  tensors: Map<string, TensorData> | Record<string, TensorData>,
  opts: TfWriteOptions = {},
): void {
  const enc = new TextEncoder();
  const items = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).map(
    ([name, t]) => [enc.encode(name), name, t] as const,
  );
  items.sort((a, b) => compareBytes(a[0], b[0]));
  const header: number[] = [];
  protoVarintField(header, 1, 1);
  protoBytesField(header, 3, [0x08, 0x01]); // version { producer: 1 }
  const kvs: [Uint8Array, Uint8Array][] = [[new Uint8Array(0), Uint8Array.from(header)]];
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const [key, name, t] of items) {
    if (key.length === 0) throw new Error("writeTfCheckpoint: a tensor may not have an empty name");
    let crc: number;
    if (t.dtype !== "STRING") {
      const need = numel(t.shape) * DTYPE_BYTES[t.dtype];
      if (t.bytes.byteLength !== need) throw new Error(`tensor ${name}: ${t.bytes.byteLength} bytes for ${t.dtype}[${t.shape}], which needs ${need}`);
      crc = maskCrc(crc32c(t.bytes));
    } else {
      crc = maskCrc(stringTensorCrc(t.bytes, numel(t.shape), (m) => {
        throw new Error(`tensor ${name}: ${m}`);
      }));
    }
    const e: number[] = [];
    protoVarintField(e, 1, DTYPE_TO_TF[t.dtype]);
    const shape: number[] = [];
    for (const d of t.shape) {
      const dim: number[] = [];
      if (d !== 0) protoVarintField(dim, 1, d);
      protoBytesField(shape, 2, dim);
    }
    protoBytesField(e, 2, shape);
    if (offset) protoVarintField(e, 4, offset);
    if (t.bytes.length) protoVarintField(e, 5, t.bytes.length);
    e.push((6 << 3) | 5);
    e.push(crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24);
    kvs.push([key, Uint8Array.from(e)]);
    data.push(t.bytes);
    offset += t.bytes.length;
  }
  const dir = dirname(prefix);
  if (dir && !existsSync(dir)) mkdirSync(dir, { recursive: true });
  // the data shard first: an index is only ever beside the data it describes
  writeFileDurable(shardPath(prefix, 0, 1), Buffer.concat(data));
  writeFileDurable(`${prefix}.index`, buildSSTable(kvs, opts));
}
