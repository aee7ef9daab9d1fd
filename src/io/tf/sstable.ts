/**
 * LevelDB SSTable reader (tensorflow/core/lib/io/table*, format of leveldb/doc/table_format.md): what a
 * TensorFlow checkpoint's PREFIX.index is.
 *   [data block 1] ... [data block N] [metaindex block] [index block] [footer]
 *   footer (48 bytes): metaindex handle, index handle (each: varint64 offset, varint64 size), zero
 *     padding to 40 bytes, then fixed64 magic 0xdb4775248b80fb57 (little-endian: 57 fb 80 8b 24 75 47 db)
 *   every block is followed by a 5-byte trailer: u8 compression type (0 none, 1 snappy) and a fixed32
 *     masked CRC-32C (./crc32c.ts) of the block contents plus the type byte
 *   block contents: entries, then fixed32 restart offsets, then fixed32 restart count; an entry is
 *     varint32 shared key bytes, varint32 unshared key bytes, varint32 value length, key delta, value
 *     (the key is the previous key's first `shared` bytes + the delta; at a restart point shared = 0)
 *   index block: one entry per data block, key >= the block's last key, value = the block handle
 *   keys are sorted bytewise and unique.
 *
 * Why by hand: the LevelDB table readers on npm are bound to native LevelDB or to whole databases.
 * (The test-only table builder is in test/helpers/tf-writer.ts.)
 */
import { CheckpointError, guardParse } from "../tensor-data.js";
import { crc32c, unmaskCrc } from "./crc32c.js";
import { snappyDecompress } from "./snappy.js";

export const TABLE_MAGIC_LO = 0x8b80fb57;
export const TABLE_MAGIC_HI = 0xdb477524;
export const FOOTER = 48;

export interface BlockHandle {
  offset: number;
  size: number;
}

export function readVarint(buf: Uint8Array, p: number, end: number, fail: (m: string) => never): [number, number] {
  let v = 0;
  for (let shift = 0; ; shift += 7) {
    if (p >= end) fail("truncated varint");
    if (shift > 49) fail("varint too long");
    const b = buf[p++];
    v += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return [v, p];
  }
}

export class TableReader {
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

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function latin(b: Uint8Array): string {
  return JSON.stringify(String.fromCharCode(...b.subarray(0, 200)));
}
