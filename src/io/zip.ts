/**
 * Zip archives (PKWARE APPNOTE), as torch.save writes them and as re-zipping tools may rewrite them.
 *
 *   [local header + data] ... [central directory] [zip64 end record + locator]? [end-of-central-directory]
 *   end-of-central-directory (22 bytes + comment, found by scanning back from the end): entry count,
 *     directory size and offset (0xffff / 0xffffffff: look in the zip64 end record, via its locator)
 *   central directory entry (46 bytes + name + extra + comment): flags, method, CRC-32, sizes, local
 *     header offset; a 32-bit field of 0xffffffff is in the zip64 extra field (id 0x0001), in the order
 *     uncompressed size, compressed size, offset
 *   local header (30 bytes + name + extra): data follows it. With flag bit 3 the sizes and CRC are in a
 *     data descriptor after the data and zero here, so sizes and CRCs are taken from the central directory.
 *   Entries are stored (method 0) or deflated (method 8); every entry's CRC-32 is checked when read.
 *   torch pads each local header with an extra field 'FB' + u16 length + 'Z'... so that every entry's
 *   data starts at a multiple of 64 bytes; the writer here does the same.
 *
 * Why by hand: reading has to check CRCs, read zip64 and hand back zero-copy views of stored entries
 * (a checkpoint's storages), and writing has to align entry data to 64 bytes as torch does, which
 * fflate's zip API cannot; fflate inflates deflated entries.
 */
import * as zlib from "node:zlib";
import { inflateSync } from "fflate";
import { CheckpointError } from "./tensor-data.js";


let crcTable: Int32Array | null = null;
/** CRC-32 (zip, IEEE polynomial). Uses zlib.crc32 (Node >= 20.15) when present. */
export function crc32(data: Uint8Array, init = 0): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native) return native(data, init) >>> 0;
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = ~init;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly dv: DataView;
  private readonly cache = new Map<string, Uint8Array>();

  constructor(private readonly buf: Uint8Array, private readonly where: string) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.readCentralDirectory();
  }

  private fail(msg: string): never {
    throw new CheckpointError(this.where, `zip archive: ${msg}`);
  }

  private u16(p: number): number {
    if (p < 0 || p + 2 > this.buf.length) this.fail(`truncated (reading 2 bytes at offset ${p} of ${this.buf.length})`);
    return this.dv.getUint16(p, true);
  }
  private u32(p: number): number {
    if (p < 0 || p + 4 > this.buf.length) this.fail(`truncated (reading 4 bytes at offset ${p} of ${this.buf.length})`);
    return this.dv.getUint32(p, true);
  }
  private u64(p: number): number {
    if (p < 0 || p + 8 > this.buf.length) this.fail(`truncated (reading 8 bytes at offset ${p} of ${this.buf.length})`);
    const v = this.dv.getBigUint64(p, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`64-bit field ${v} at offset ${p} is out of range`);
    return Number(v);
  }

  private readCentralDirectory(): void {
    const n = this.buf.length;
    if (n < 22) this.fail(`file is ${n} bytes, too short for a zip end-of-central-directory record (truncated?)`);
    let eocd = -1;
    for (let p = n - 22; p >= Math.max(0, n - 22 - 0xffff); p--) {
      if (this.dv.getUint32(p, true) === SIG_EOCD && p + 22 + this.dv.getUint16(p + 20, true) === n) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) this.fail("no end-of-central-directory record (truncated or not a zip file)");
    let count = this.u16(eocd + 10);
    let cdSize = this.u32(eocd + 12);
    let cdOffset = this.u32(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.u32(loc) !== SIG_EOCD64_LOCATOR) this.fail("zip64 fields without a zip64 end-of-central-directory locator");
      const e64 = this.u64(loc + 8);
      if (this.u32(e64) !== SIG_EOCD64) this.fail(`no zip64 end-of-central-directory record at offset ${e64}`);
      count = this.u64(e64 + 32);
      cdSize = this.u64(e64 + 40);
      cdOffset = this.u64(e64 + 48);
    }
    if (cdOffset + cdSize > n) this.fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) runs past the end of the ${n}-byte file (truncated?)`);
    if (count * 46 > cdSize) this.fail(`${count} entries cannot fit in a ${cdSize}-byte central directory`);
    let p = cdOffset;
    const end = cdOffset + cdSize;
    for (let i = 0; i < count; i++) {
      if (p + 46 > end) this.fail(`central directory entry ${i} runs past the directory's end`);
      if (this.u32(p) !== SIG_CENTRAL) this.fail(`bad central directory entry signature at offset ${p}`);
      const flags = this.u16(p + 8);
      const method = this.u16(p + 10);
      const crc = this.u32(p + 16);
      let compressedSize = this.u32(p + 20);
      let size = this.u32(p + 24);
      const nameLen = this.u16(p + 28);
      const extraLen = this.u16(p + 30);
      const commentLen = this.u16(p + 32);
      let localHeaderOffset = this.u32(p + 42);
      const next = p + 46 + nameLen + extraLen + commentLen;
      if (next > end) this.fail(`central directory entry ${i} runs past the directory's end`);
      const name = new TextDecoder().decode(this.buf.subarray(p + 46, p + 46 + nameLen));
      // zip64 extended information: only the fields whose 32-bit value is 0xffffffff, in this order.
      if (size === 0xffffffff || compressedSize === 0xffffffff || localHeaderOffset === 0xffffffff) {
        let q = p + 46 + nameLen;
        const qEnd = q + extraLen;
        let found = false;
        while (q + 4 <= qEnd) {
          const id = this.u16(q);
          const len = this.u16(q + 2);
          if (q + 4 + len > qEnd) break;
          if (id === 0x0001) {
            let r = q + 4;
            const take = (): number => {
              if (r + 8 > q + 4 + len) this.fail(`entry ${name}: zip64 extra field too short`);
              const v = this.u64(r);
              r += 8;
              return v;
            };
            if (size === 0xffffffff) size = take();
            if (compressedSize === 0xffffffff) compressedSize = take();
            if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
            found = true;
            break;
          }
          q += 4 + len;
        }
        if (!found) this.fail(`entry ${name}: 32-bit size or offset is 0xffffffff but there is no zip64 extra field`);
      }
      if (this.entries.has(name)) this.fail(`entry ${name} appears twice`);
      this.entries.set(name, { name, method, flags, crc, compressedSize, size, localHeaderOffset });
      p = next;
    }
  }

  /** The entry's bytes (a view into the file for stored entries), CRC-32 checked. */
  read(name: string): Uint8Array {
    const hit = this.cache.get(name);
    if (hit) return hit;
    const e = this.entries.get(name);
    if (!e) this.fail(`no entry ${name}`);
    const p = e.localHeaderOffset;
    if (this.u32(p) !== SIG_LOCAL) this.fail(`entry ${name}: bad local header signature at offset ${p}`);
    if (e.flags & 1) this.fail(`entry ${name} is encrypted`);
    const start = p + 30 + this.u16(p + 26) + this.u16(p + 28);
    const stop = start + e.compressedSize;
    if (stop > this.buf.length) this.fail(`entry ${name}: data [${start}, ${stop}) runs past the end of the ${this.buf.length}-byte file (truncated?)`);
    let data: Uint8Array;
    const raw = this.buf.subarray(start, stop);
    if (e.method === 0) {
      if (e.compressedSize !== e.size) this.fail(`entry ${name} is stored but its sizes differ (${e.compressedSize} vs ${e.size})`);
      data = raw;
    } else if (e.method === 8) {
      if (e.size > e.compressedSize * 1032 + 1024) this.fail(`entry ${name}: ${e.size} bytes cannot come from ${e.compressedSize} deflated bytes`);
      try {
        data = inflateSync(raw, { out: new Uint8Array(e.size) });
      } catch (err) {
        this.fail(`entry ${name}: deflate data is damaged (${(err as Error).message})`);
      }
      if (data.length !== e.size) this.fail(`entry ${name}: inflated to ${data.length} bytes, the directory says ${e.size}`);
    } else {
      this.fail(`entry ${name} uses compression method ${e.method} (only stored and deflate are supported)`);
    }
    const got = crc32(data);
    if (got !== e.crc) this.fail(`entry ${name}: CRC-32 mismatch (stored ${hex32(e.crc)}, computed ${hex32(got)}): the file is damaged`);
    this.cache.set(name, data);
    return data;
  }
}

function hex32(v: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(8, "0");
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
}

/**
 * Lays out a zip archive of stored entries whose data start at multiples of `align` bytes (torch's
 * 'FB' padding extra field), returned as chunks to write in order. zip64 structures are written when
 * a size or offset needs them, or for every entry with forceZip64 (used by tests).
 */
export function zipStoredChunks(entries: ZipInput[], align = 64, forceZip64 = false): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let cursor = 0;
  const enc = new TextEncoder();
  for (const e of entries) {
    const name = enc.encode(e.name);
    const size = e.data.byteLength;
    const crc = crc32(e.data);
    const big = forceZip64 || size >= 0xffffffff || cursor >= 0xffffffff;
    const z64Local = big ? 20 : 0; // id, len, usize, csize
    const start = cursor + 30 + name.length + z64Local + 4;
    const pad = (align - (start % align)) % align;
    const local = Buffer.alloc(30 + name.length + z64Local + 4 + pad);
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(big ? 45 : 20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(big ? 0xffffffff : size, 18);
    local.writeUInt32LE(big ? 0xffffffff : size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(z64Local + 4 + pad, 28);
    local.set(name, 30);
    let q = 30 + name.length;
    if (big) {
      local.writeUInt16LE(1, q);
      local.writeUInt16LE(16, q + 2);
      local.writeBigUInt64LE(BigInt(size), q + 4);
      local.writeBigUInt64LE(BigInt(size), q + 12);
      q += 20;
    }
    local.write("FB", q, "latin1");
    local.writeUInt16LE(pad, q + 2);
    local.fill("Z", q + 4);
    chunks.push(local, e.data);

    const offBig = forceZip64 || cursor >= 0xffffffff;
    const sizeBig = forceZip64 || size >= 0xffffffff;
    const z64Len = (sizeBig ? 16 : 0) + (offBig ? 8 : 0);
    const cd = Buffer.alloc(46 + name.length + (z64Len ? 4 + z64Len : 0));
    cd.writeUInt32LE(SIG_CENTRAL, 0);
    cd.writeUInt16LE(z64Len ? 45 : 20, 4);
    cd.writeUInt16LE(z64Len ? 45 : 20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(0, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(sizeBig ? 0xffffffff : size, 20);
    cd.writeUInt32LE(sizeBig ? 0xffffffff : size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt16LE(z64Len ? 4 + z64Len : 0, 30);
    cd.writeUInt32LE(offBig ? 0xffffffff : cursor, 42);
    cd.set(name, 46);
    if (z64Len) {
      let r = 46 + name.length;
      cd.writeUInt16LE(1, r);
      cd.writeUInt16LE(z64Len, r + 2);
      r += 4;
      if (sizeBig) {
        cd.writeBigUInt64LE(BigInt(size), r);
        cd.writeBigUInt64LE(BigInt(size), r + 8);
        r += 16;
      }
      if (offBig) cd.writeBigUInt64LE(BigInt(cursor), r);
    }
    central.push(cd);
    cursor += local.length + size;
  }
  const cdOffset = cursor;
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  chunks.push(...central);
  const n = entries.length;
  const big = forceZip64 || n >= 0xffff || cdOffset >= 0xffffffff || cdSize >= 0xffffffff;
  if (big) {
    const e64 = Buffer.alloc(56 + 20);
    e64.writeUInt32LE(SIG_EOCD64, 0);
    e64.writeBigUInt64LE(44n, 4);
    e64.writeUInt16LE(45, 12);
    e64.writeUInt16LE(45, 14);
    e64.writeBigUInt64LE(BigInt(n), 24);
    e64.writeBigUInt64LE(BigInt(n), 32);
    e64.writeBigUInt64LE(BigInt(cdSize), 40);
    e64.writeBigUInt64LE(BigInt(cdOffset), 48);
    e64.writeUInt32LE(SIG_EOCD64_LOCATOR, 56);
    e64.writeBigUInt64LE(BigInt(cdOffset + cdSize), 64);
    e64.writeUInt32LE(1, 72);
    chunks.push(e64);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(SIG_EOCD, 0);
  eocd.writeUInt16LE(big ? 0xffff : n, 8);
  eocd.writeUInt16LE(big ? 0xffff : n, 10);
  eocd.writeUInt32LE(big ? 0xffffffff : cdSize, 12);
  eocd.writeUInt32LE(big ? 0xffffffff : cdOffset, 16);
  chunks.push(eocd);
  return chunks;
}

/** An in-memory zip of stored, 64-byte-aligned entries (what writePytorchZip writes). */
export function buildZip(entries: ZipInput[], opts: { align?: number; zip64?: boolean } = {}): Uint8Array {
  return Buffer.concat(zipStoredChunks(entries, opts.align ?? 64, opts.zip64 ?? false));
}
