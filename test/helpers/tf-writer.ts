/**
 * Test-only writers of TensorFlow checkpoints (the product only reads them): a TensorBundle writer
 * (PREFIX.index + PREFIX.data-00000-of-00001), the SSTable builder under it, a snappy compressor and
 * TF's STRING tensor layout. Formats: src/io/tf/{bundle,sstable,snappy,crc32c}.ts.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileDurable } from "../../src/io/durable.js";
import { DTYPE_BYTES, type TensorData, numel } from "../../src/io/tensor-data.js";
import { DTYPE_TO_TF, shardPath, stringTensorCrc } from "../../src/io/tf/bundle.js";
import { crc32c, maskCrc } from "../../src/io/tf/crc32c.js";
import { type BlockHandle, FOOTER, TABLE_MAGIC_HI, TABLE_MAGIC_LO, compareBytes } from "../../src/io/tf/sstable.js";

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
