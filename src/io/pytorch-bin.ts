/**
 * PyTorch checkpoint (.bin / .pt / .pth, what torch.save writes) reader and writer.
 *
 * ── Format 1: the zip archive (torch >= 1.6, the default) ──────────────────────────────────────
 *   A zip file (PKWARE APPNOTE) whose entries all sit under one top-level folder, the archive name:
 *     NAME/data.pkl        the pickled object (protocol 2), tensors as persistent ids (below)
 *     NAME/data/KEY        raw little-endian bytes of storage KEY (KEY = "0", "1", ...)
 *     NAME/version         "3\n" (format version, decimal text)
 *     NAME/byteorder       "little" (torch >= 2.1; absent before: little-endian)
 *     NAME/.data/serialization_id, NAME/.format_version ... (newer torch; ignored)
 *   Entries are stored (method 0, never compressed); torch pads every local header with an extra
 *   field 'FB' + u16 length + 'Z'... so that each entry's data starts at a multiple of 64 bytes.
 *   torch sets flag bit 3 (sizes and CRC in a data descriptor after the data, zeros in the local
 *   header), so sizes and CRC-32 are taken from the central directory. Files over 4 GiB use zip64
 *   (extra field 0x0001 with the 64-bit sizes/offset, zip64 end-of-central-directory + locator).
 *   Persistent id in data.pkl: ('storage', torch.FloatStorage, KEY, 'cpu', NUMEL), NUMEL elements.
 *
 * ── Format 2: the legacy stream (torch < 1.6, or _use_new_zipfile_serialization=False) ─────────
 *   five pickles back to back, then the raw storages:
 *     pickle  int  0x1950a86a20f9469cfc6c      magic number (LONG1)
 *     pickle  int  1001                         protocol version
 *     pickle  dict {'protocol_version': 1001, 'little_endian': True, 'type_sizes': {'short': 2, 'int': 4, 'long': 4}}
 *     pickle  the object; persistent id ('storage', torch.FloatStorage, ROOT_KEY, 'cpu', NUMEL, VIEW)
 *             with VIEW None or (VIEW_KEY, ELEMENT_OFFSET, VIEW_NUMEL) for a storage that is a slice
 *             of ROOT_KEY (very old files)
 *     pickle  list of the storage keys, in the order their data follows
 *     per key: int64 little-endian element count (must equal NUMEL), then count × element size bytes
 *
 * ── The pickled object ─────────────────────────────────────────────────────────────────────────
 *   A state dict: collections.OrderedDict() (REDUCE), SETITEMS of name → tensor, and optionally a
 *   BUILD with {'_metadata': ...}. A tensor is
 *     torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
 *   (offset, size, stride in elements; several tensors may share one storage; views are not
 *   contiguous in general). Pickle opcodes: see the table in Unpickler.run (protocol 0-2 plus the
 *   protocol 4 framing opcodes, which cost nothing).
 *
 * Why by hand: there is no maintained pickle reader for JavaScript that can be restricted to an
 * allow-list of globals (the whole point: a pickle can call any Python function, os.system
 * included), and the zip layer has to check CRCs, read zip64, hand back zero-copy slices, and
 * (writing) align entry data to 64 bytes as torch does, which fflate's zip API cannot. fflate is
 * used to inflate deflated entries (torch never writes them, re-zipping tools might).
 */
import { closeSync, openSync, writeSync, unlinkSync } from "node:fs";
import * as zlib from "node:zlib";
import { inflateSync } from "fflate";
import { CheckpointError, DTYPE_BYTES, type DType, type TensorData, guardParse, numel, readFileBytes } from "./tensor-data.js";
import { commitFile } from "./durable.js";

// ───────────────────────────────────────── checksums ─────────────────────────────────────────

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

// ───────────────────────────────────────── zip layer ─────────────────────────────────────────

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

class ZipReader {
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

interface ZipInput {
  name: string;
  data: Uint8Array;
}

/**
 * Lays out a zip archive of stored entries whose data start at multiples of `align` bytes (torch's
 * 'FB' padding extra field), returned as chunks to write in order. zip64 structures are written when
 * a size or offset needs them, or for every entry with forceZip64 (used by tests).
 */
function zipStoredChunks(entries: ZipInput[], align = 64, forceZip64 = false): Uint8Array[] {
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

/** An in-memory zip of stored, 64-byte-aligned entries (what writePytorchZip writes; exported for tests). */
export function buildZip(entries: ZipInput[], opts: { align?: number; zip64?: boolean } = {}): Uint8Array {
  return Buffer.concat(zipStoredChunks(entries, opts.align ?? 64, opts.zip64 ?? false));
}

// ───────────────────────────────────────── pickle values ─────────────────────────────────────────

interface PyTuple { kind: "tuple"; items: PyValue[] }
interface PyList { kind: "list"; items: PyValue[] }
interface PySet { kind: "set"; items: PyValue[] }
interface PyDict { kind: "dict"; map: Map<unknown, [PyValue, PyValue]> }
interface PyBytes { kind: "bytes"; data: Uint8Array }
interface PyGlobal { kind: "global"; module: string; name: string }
interface PyStorage {
  kind: "storage";
  key: string;
  dtype: Exclude<DType, "STRING">;
  numel: number;
  /** Set once the storage's bytes are known. */
  bytes?: Uint8Array;
  /** Legacy views: this storage is [offset, offset + numel) of root. */
  root?: PyStorage;
  rootOffset?: number;
}
interface PyTensor { kind: "tensor"; storage: PyStorage; offset: number; shape: number[]; stride: number[] }
type PyValue = null | boolean | number | bigint | string | PyTuple | PyList | PySet | PyDict | PyBytes | PyGlobal | PyStorage | PyTensor;

function kindOf(v: PyValue): string {
  if (v === null) return "None";
  if (typeof v === "object") return v.kind === "global" ? `${v.module}.${v.name}` : v.kind;
  return typeof v;
}

/** Dict keys compare by value for primitives, by identity otherwise. */
function dictKey(k: PyValue): unknown {
  if (typeof k === "bigint") return Number.isSafeInteger(Number(k)) ? Number(k) : k;
  return k;
}

const STORAGE_TYPES: Record<string, Exclude<DType, "STRING">> = {
  FloatStorage: "F32", HalfStorage: "F16", BFloat16Storage: "BF16", DoubleStorage: "F64",
  LongStorage: "I64", IntStorage: "I32", ShortStorage: "I16", CharStorage: "I8",
  ByteStorage: "U8", BoolStorage: "BOOL",
};
const STORAGE_OF_DTYPE: Record<Exclude<DType, "STRING">, string> = Object.fromEntries(
  Object.entries(STORAGE_TYPES).map(([k, v]) => [v, k]),
) as Record<Exclude<DType, "STRING">, string>;

/** Callables a state-dict pickle may use; everything else is refused by name. */
const ALLOWED_CALLABLES = new Set([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
  "_codecs.encode",
]);

// ───────────────────────────────────────── unpickler ─────────────────────────────────────────

type PersistentLoad = (pid: PyValue) => PyValue;

class Unpickler {
  private pos: number;
  private readonly stack: PyValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly dv: DataView;

  constructor(
    private readonly buf: Uint8Array,
    start: number,
    private readonly where: string,
    private readonly persistentLoad: PersistentLoad | null,
  ) {
    this.pos = start;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private fail(msg: string, at = this.pos): never {
    throw new CheckpointError(this.where, `pickle (offset ${at}): ${msg}`);
  }
  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) this.fail(`truncated: needs ${n} more bytes, ${this.buf.length - this.pos} left`);
  }
  private u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  private u16(): number {
    this.need(2);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  private u32(): number {
    this.need(4);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private i32(): number {
    this.need(4);
    const v = this.dv.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u64(): number {
    this.need(8);
    const v = this.dv.getBigUint64(this.pos, true);
    if (v > BigInt(this.buf.length)) this.fail(`length ${v} is larger than the file`);
    this.pos += 8;
    return Number(v);
  }
  private take(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  private line(): string {
    const nl = this.buf.indexOf(0x0a, this.pos);
    if (nl < 0) this.fail("truncated: no newline after a text argument");
    const s = latin1(this.buf.subarray(this.pos, nl));
    this.pos = nl + 1;
    return s;
  }
  private utf8(b: Uint8Array): string {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(b);
    } catch {
      this.fail("string is not valid UTF-8");
    }
  }
  private pop(): PyValue {
    if (this.stack.length <= (this.marks.length ? this.marks[this.marks.length - 1] : 0)) this.fail("stack underflow (damaged pickle)");
    return this.stack.pop() as PyValue;
  }
  private top(): PyValue {
    if (this.stack.length <= (this.marks.length ? this.marks[this.marks.length - 1] : 0)) this.fail("stack underflow (damaged pickle)");
    return this.stack[this.stack.length - 1];
  }
  private popMark(): PyValue[] {
    const m = this.marks.pop();
    if (m === undefined) this.fail("no MARK on the stack (damaged pickle)");
    return this.stack.splice(m);
  }
  private intText(s: string): number | bigint | boolean {
    const t = s.endsWith("L") ? s.slice(0, -1) : s;
    if (!/^[-+]?\d+$/.test(t)) this.fail(`bad integer text ${JSON.stringify(s)}`);
    const b = BigInt(t);
    return Number.isSafeInteger(Number(b)) ? Number(b) : b;
  }
  private longBytes(b: Uint8Array): number | bigint {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  }
  private memoIndex(i: number | bigint | boolean): number {
    if (typeof i !== "number" || i < 0) this.fail(`bad memo index ${String(i)}`);
    return i;
  }
  private get(i: number): PyValue {
    if (!this.memo.has(i)) this.fail(`memo key ${i} was never stored (damaged pickle)`);
    return this.memo.get(i) as PyValue;
  }

  private global(module: string, name: string): PyGlobal {
    if (module === "__builtin__") module = "builtins";
    const full = `${module}.${name}`;
    if ((module === "torch" && name in STORAGE_TYPES) || ALLOWED_CALLABLES.has(full)) return { kind: "global", module, name };
    this.fail(`pickle asks for global ${full}, which is not allowed (only state dicts of tensors can be loaded)`);
  }

  private call(fn: PyValue, args: PyValue, at: number): PyValue {
    if (fn === null || typeof fn !== "object" || fn.kind !== "global") this.fail(`REDUCE on ${kindOf(fn)}, which is not callable`, at);
    if (args === null || typeof args !== "object" || args.kind !== "tuple") this.fail(`REDUCE arguments are a ${kindOf(args)}, not a tuple`, at);
    const a = args.items;
    const full = `${fn.module}.${fn.name}`;
    switch (full) {
      case "collections.OrderedDict": {
        const d: PyDict = { kind: "dict", map: new Map() };
        if (a.length === 1 && a[0] !== null && typeof a[0] === "object" && (a[0].kind === "list" || a[0].kind === "tuple")) {
          for (const pair of a[0].items) {
            if (pair === null || typeof pair !== "object" || pair.kind !== "tuple" || pair.items.length !== 2) this.fail("OrderedDict item is not a pair", at);
            d.map.set(dictKey(pair.items[0]), [pair.items[0], pair.items[1]]);
          }
        } else if (a.length !== 0) this.fail(`OrderedDict called with ${a.length} arguments`, at);
        return d;
      }
      case "torch._utils._rebuild_tensor_v2":
      case "torch._utils._rebuild_tensor": {
        const v2 = fn.name === "_rebuild_tensor_v2";
        if (v2 ? a.length !== 6 && a.length !== 7 : a.length !== 4) this.fail(`${fn.name} called with ${a.length} arguments`, at);
        const [storage, offset, size, stride] = a;
        if (storage === null || typeof storage !== "object" || storage.kind !== "storage") this.fail(`${fn.name}: first argument is a ${kindOf(storage)}, not a storage`, at);
        return {
          kind: "tensor",
          storage,
          offset: this.intArg(offset, "storage offset", at),
          shape: this.intTuple(size, "size", at),
          stride: this.intTuple(stride, "stride", at),
        };
      }
      case "torch._utils._rebuild_parameter":
      case "torch._utils._rebuild_parameter_with_state": {
        const t = a[0];
        if (t === null || typeof t !== "object" || t.kind !== "tensor") this.fail(`${fn.name}: first argument is a ${kindOf(t ?? null)}, not a tensor`, at);
        return t;
      }
      case "_codecs.encode": {
        const [s, enc] = a;
        if (typeof s !== "string") this.fail("_codecs.encode of a non-string", at);
        const e = typeof enc === "string" ? enc.toLowerCase().replace(/[-_]/g, "") : "";
        if (e === "latin1" || e === "iso88591") return { kind: "bytes", data: Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff) };
        if (e === "utf8") return { kind: "bytes", data: new TextEncoder().encode(s) };
        this.fail(`_codecs.encode with encoding ${JSON.stringify(enc)}`, at);
        break;
      }
      default:
        this.fail(`pickle calls ${full}, which cannot be called`, at);
    }
  }

  private intArg(v: PyValue, what: string, at: number): number {
    if (typeof v === "boolean") v = v ? 1 : 0;
    if (typeof v !== "number" || !Number.isSafeInteger(v)) this.fail(`tensor ${what} ${typeof v === "bigint" ? v.toString() : kindOf(v)} is not a usable integer`, at);
    return v;
  }
  private intTuple(v: PyValue, what: string, at: number): number[] {
    if (v === null || typeof v !== "object" || (v.kind !== "tuple" && v.kind !== "list")) this.fail(`tensor ${what} is a ${kindOf(v)}, not a tuple`, at);
    return v.items.map((x) => this.intArg(x, what, at));
  }

  /** Runs to STOP; returns the object and the offset just past STOP. */
  run(): { value: PyValue; end: number } {
    const S = this.stack;
    for (;;) {
      const at = this.pos;
      const op = this.u8();
      switch (op) {
        case 0x80: { // PROTO
          const v = this.u8();
          if (v > 5) this.fail(`unsupported pickle protocol ${v}`, at);
          break;
        }
        case 0x95: // FRAME (protocol 4): an 8-byte frame length, nothing to do
          this.u64();
          break;
        case 0x2e: { // STOP
          const value = this.pop();
          return { value, end: this.pos };
        }
        case 0x28: // MARK
          this.marks.push(S.length);
          break;
        case 0x30: // POP
          this.pop();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          S.push(this.top());
          break;
        case 0x4e: // NONE
          S.push(null);
          break;
        case 0x88: // NEWTRUE
          S.push(true);
          break;
        case 0x89: // NEWFALSE
          S.push(false);
          break;
        case 0x49: { // INT (text; "01"/"00" are True/False in protocol 0)
          const s = this.line();
          S.push(s === "01" ? true : s === "00" ? false : this.intText(s));
          break;
        }
        case 0x4a: // BININT
          S.push(this.i32());
          break;
        case 0x4b: // BININT1
          S.push(this.u8());
          break;
        case 0x4d: // BININT2
          S.push(this.u16());
          break;
        case 0x4c: // LONG (text)
          S.push(this.intText(this.line()));
          break;
        case 0x8a: // LONG1
          S.push(this.longBytes(this.take(this.u8())));
          break;
        case 0x8b: { // LONG4
          const n = this.i32();
          if (n < 0) this.fail("negative LONG4 length", at);
          S.push(this.longBytes(this.take(n)));
          break;
        }
        case 0x46: { // FLOAT (text)
          const v = Number(this.line());
          S.push(v);
          break;
        }
        case 0x47: { // BINFLOAT (big-endian double)
          this.need(8);
          S.push(this.dv.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        }
        case 0x53: { // STRING (quoted text, protocol 0)
          const s = this.line();
          const q = s[0];
          if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) this.fail("STRING argument is not quoted", at);
          const body = s.slice(1, -1);
          if (body.includes("\\")) this.fail("escaped STRING arguments are not supported", at);
          S.push(body);
          break;
        }
        case 0x56: { // UNICODE (raw-unicode-escape text)
          const s = this.line();
          if (s.includes("\\")) this.fail("escaped UNICODE arguments are not supported", at);
          S.push(s);
          break;
        }
        case 0x54: { // BINSTRING (python 2 str: bytes, read as latin-1 text as torch does)
          const n = this.i32();
          if (n < 0) this.fail("negative BINSTRING length", at);
          S.push(latin1(this.take(n)));
          break;
        }
        case 0x55: // SHORT_BINSTRING
          S.push(latin1(this.take(this.u8())));
          break;
        case 0x58: // BINUNICODE
          S.push(this.utf8(this.take(this.u32())));
          break;
        case 0x8c: // SHORT_BINUNICODE
          S.push(this.utf8(this.take(this.u8())));
          break;
        case 0x8d: // BINUNICODE8
          S.push(this.utf8(this.take(this.u64())));
          break;
        case 0x42: // BINBYTES
          S.push({ kind: "bytes", data: this.take(this.u32()) });
          break;
        case 0x43: // SHORT_BINBYTES
          S.push({ kind: "bytes", data: this.take(this.u8()) });
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          S.push({ kind: "bytes", data: this.take(this.u64()) });
          break;
        case 0x29: // EMPTY_TUPLE
          S.push({ kind: "tuple", items: [] });
          break;
        case 0x74: // TUPLE
          S.push({ kind: "tuple", items: this.popMark() });
          break;
        case 0x85: // TUPLE1
          S.push({ kind: "tuple", items: [this.pop()] });
          break;
        case 0x86: { // TUPLE2
          const b = this.pop();
          const a = this.pop();
          S.push({ kind: "tuple", items: [a, b] });
          break;
        }
        case 0x87: { // TUPLE3
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          S.push({ kind: "tuple", items: [a, b, c] });
          break;
        }
        case 0x5d: // EMPTY_LIST
          S.push({ kind: "list", items: [] });
          break;
        case 0x6c: // LIST
          S.push({ kind: "list", items: this.popMark() });
          break;
        case 0x61: { // APPEND
          const v = this.pop();
          const l = this.top();
          if (l === null || typeof l !== "object" || l.kind !== "list") this.fail(`APPEND to a ${kindOf(l)}`, at);
          l.items.push(v);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          const l = this.top();
          if (l === null || typeof l !== "object" || l.kind !== "list") this.fail(`APPENDS to a ${kindOf(l)}`, at);
          for (const v of items) l.items.push(v);
          break;
        }
        case 0x7d: // EMPTY_DICT
          S.push({ kind: "dict", map: new Map() });
          break;
        case 0x64: { // DICT
          const items = this.popMark();
          if (items.length % 2) this.fail("DICT with an odd number of items", at);
          const d: PyDict = { kind: "dict", map: new Map() };
          for (let i = 0; i < items.length; i += 2) d.map.set(dictKey(items[i]), [items[i], items[i + 1]]);
          S.push(d);
          break;
        }
        case 0x73: { // SETITEM
          const v = this.pop();
          const k = this.pop();
          const d = this.top();
          if (d === null || typeof d !== "object" || d.kind !== "dict") this.fail(`SETITEM on a ${kindOf(d)}`, at);
          d.map.set(dictKey(k), [k, v]);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          if (items.length % 2) this.fail("SETITEMS with an odd number of items", at);
          const d = this.top();
          if (d === null || typeof d !== "object" || d.kind !== "dict") this.fail(`SETITEMS on a ${kindOf(d)}`, at);
          for (let i = 0; i < items.length; i += 2) d.map.set(dictKey(items[i]), [items[i], items[i + 1]]);
          break;
        }
        case 0x8f: // EMPTY_SET
          S.push({ kind: "set", items: [] });
          break;
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          const s = this.top();
          if (s === null || typeof s !== "object" || s.kind !== "set") this.fail(`ADDITEMS on a ${kindOf(s)}`, at);
          s.items.push(...items);
          break;
        }
        case 0x91: // FROZENSET
          S.push({ kind: "set", items: this.popMark() });
          break;
        case 0x70: // PUT (text)
          this.memo.set(this.memoIndex(this.intText(this.line())), this.top());
          break;
        case 0x71: // BINPUT
          this.memo.set(this.u8(), this.top());
          break;
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32(), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top());
          break;
        case 0x67: // GET (text)
          S.push(this.get(this.memoIndex(this.intText(this.line()))));
          break;
        case 0x68: // BINGET
          S.push(this.get(this.u8()));
          break;
        case 0x6a: // LONG_BINGET
          S.push(this.get(this.u32()));
          break;
        case 0x63: { // GLOBAL "module\nname\n"
          const module = this.line();
          const name = this.line();
          S.push(this.global(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== "string" || typeof name !== "string") this.fail("STACK_GLOBAL needs two strings", at);
          S.push(this.global(module, name));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.pop();
          const fn = this.pop();
          S.push(this.call(fn, args, at));
          break;
        }
        case 0x81: { // NEWOBJ cls.__new__(cls, *args)
          const args = this.pop();
          const cls = this.pop();
          if (cls === null || typeof cls !== "object" || cls.kind !== "global" || `${cls.module}.${cls.name}` !== "collections.OrderedDict") {
            this.fail(`NEWOBJ of ${kindOf(cls)}, which cannot be created`, at);
          }
          void args;
          S.push({ kind: "dict", map: new Map() });
          break;
        }
        case 0x62: { // BUILD: set state; a state dict's _metadata is dropped, tensors take no state here
          const state = this.pop();
          const obj = this.top();
          void state;
          if (obj === null || typeof obj !== "object" || (obj.kind !== "dict" && obj.kind !== "tensor")) this.fail(`BUILD on a ${kindOf(obj)}`, at);
          break;
        }
        case 0x51: { // BINPERSID
          const pid = this.pop();
          if (!this.persistentLoad) this.fail("persistent id in a pickle that may not have any", at);
          S.push(this.persistentLoad(pid));
          break;
        }
        case 0x50: // PERSID (text): torch never writes it
          this.fail("text persistent ids (PERSID) are not used by torch", at);
          break;
        case 0x69: // INST
        case 0x6f: // OBJ
        case 0x92: // NEWOBJ_EX
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: // EXT4
        case 0x97: // NEXT_BUFFER
        case 0x98: // READONLY_BUFFER
          this.fail(`opcode 0x${op.toString(16)} (object construction or out-of-band data) is not allowed`, at);
          break;
        default:
          this.fail(`unknown opcode 0x${op.toString(16)}`, at);
      }
    }
  }
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

// ───────────────────────────────────────── tensors ─────────────────────────────────────────

/** Upper bound on bytes a single view may expand to (stride-0 broadcasts); guards against damaged sizes. */
function expansionLimit(fileBytes: number): number {
  return Math.max(4 * fileBytes, 64 << 20);
}

function storageBytes(s: PyStorage, where: string): { bytes: Uint8Array; numel: number } {
  if (s.root) {
    const r = storageBytes(s.root, where);
    const es = DTYPE_BYTES[s.dtype];
    const off = s.rootOffset ?? 0;
    if (off + s.numel > r.numel) throw new CheckpointError(where, `storage view ${s.key} [${off}, ${off + s.numel}) runs past its root storage ${s.root.key} of ${r.numel} elements`);
    return { bytes: r.bytes.subarray(off * es, (off + s.numel) * es), numel: s.numel };
  }
  if (!s.bytes) throw new CheckpointError(where, `storage ${s.key} has no data in the file`);
  return { bytes: s.bytes, numel: s.numel };
}

/** The tensor's elements as contiguous row-major bytes (a view when already contiguous and aligned). */
function materialise(t: PyTensor, name: string, where: string, limit: number): TensorData {
  const { storage, offset, shape, stride } = t;
  const dtype = storage.dtype;
  const es = DTYPE_BYTES[dtype];
  const bad = (msg: string): never => {
    throw new CheckpointError(where, `tensor ${name}: ${msg}`);
  };
  if (shape.length !== stride.length) bad(`size [${shape}] and stride [${stride}] have different lengths`);
  if (offset < 0) bad(`negative storage offset ${offset}`);
  if (shape.some((d) => d < 0)) bad(`negative size in [${shape}]`);
  if (stride.some((d) => d < 0)) bad(`negative stride in [${stride}]`);
  const n = numel(shape);
  const { bytes: src, numel: avail } = storageBytes(storage, where);
  if (n === 0) return { dtype, shape: [...shape], bytes: new Uint8Array(0) };
  let last = offset;
  for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * stride[i];
  if (last >= avail) bad(`view (offset ${offset}, size [${shape}], stride [${stride}]) reaches element ${last} of a ${avail}-element storage`);
  if (n * es > limit) bad(`view of size [${shape}] would expand to ${n * es} bytes, more than this file can hold`);
  let contiguous = true;
  for (let i = shape.length - 1, want = 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== want) contiguous = false;
    want *= shape[i];
  }
  if (contiguous) {
    const view = src.subarray(offset * es, (offset + n) * es);
    // keep views aligned to the element size so callers can map typed arrays onto them
    return { dtype, shape: [...shape], bytes: view.byteOffset % es === 0 ? view : new Uint8Array(view) };
  }
  const out = new Uint8Array(n * es);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  const innerN = shape[rank - 1];
  const innerS = stride[rank - 1] * es;
  let o = 0;
  for (;;) {
    let p = offset;
    for (let i = 0; i < rank - 1; i++) p += idx[i] * stride[i];
    p *= es;
    for (let j = 0; j < innerN; j++, p += innerS) {
      for (let b = 0; b < es; b++) out[o++] = src[p + b];
    }
    let d = rank - 2;
    for (; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  return { dtype, shape: [...shape], bytes: out };
}

/**
 * Walks the unpickled object (iteratively: a damaged pickle may nest deeply or refer to itself) and
 * names every tensor: dict keys and list indices joined with ".", so {"model": {"w": t}} gives "model.w".
 */
function collectTensors(root: PyValue, where: string, limit: number): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  const seen = new Set<object>();
  const todo: [string, PyValue][] = [["", root]];
  while (todo.length) {
    const [prefix, v] = todo.shift() as [string, PyValue];
    if (v === null || typeof v !== "object") continue;
    if (v.kind === "tensor") {
      const name = prefix === "" ? "tensor" : prefix;
      if (out.has(name)) throw new CheckpointError(where, `two tensors are named ${name}`);
      out.set(name, materialise(v, name, where, limit));
      continue;
    }
    if (seen.has(v)) continue;
    seen.add(v);
    const join = (k: string): string => (prefix === "" ? k : `${prefix}.${k}`);
    const children: [string, PyValue][] = [];
    if (v.kind === "dict") {
      for (const [k, val] of v.map.values()) {
        if (typeof k === "string" || typeof k === "number" || typeof k === "bigint") children.push([join(String(k)), val]);
      }
    } else if (v.kind === "list" || v.kind === "tuple") {
      v.items.forEach((val, i) => children.push([join(String(i)), val]));
    }
    todo.unshift(...children);
  }
  return out;
}

function storageFromPid(pid: PyValue, legacy: boolean, storages: Map<string, PyStorage>, where: string): PyStorage {
  const fail = (msg: string): never => {
    throw new CheckpointError(where, `persistent id: ${msg}`);
  };
  if (pid === null || typeof pid !== "object" || pid.kind !== "tuple") fail(`expected a tuple, got a ${kindOf(pid)}`);
  const it = (pid as PyTuple).items;
  if (it[0] === "module") fail("the file pickles a whole nn.Module (source code and classes), not a state dict; save model.state_dict() instead");
  const tag = it.length ? it[0] : null;
  if (tag !== "storage") fail(`unknown persistent id type ${typeof tag === "string" ? JSON.stringify(tag) : kindOf(tag)}`);
  if (it.length !== (legacy ? 6 : 5)) fail(`a storage id has ${it.length} fields, expected ${legacy ? 6 : 5}`);
  const [, type, key, , count] = it;
  if (type === null || typeof type !== "object" || type.kind !== "global" || type.module !== "torch" || !(type.name in STORAGE_TYPES)) {
    fail(`storage type ${kindOf(type)} is not a torch storage type`);
  }
  const dtype = STORAGE_TYPES[(type as PyGlobal).name];
  if (typeof key !== "string") fail(`storage key is a ${kindOf(key)}, not a string`);
  if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) fail(`storage ${key} has a bad element count ${String(count)}`);
  let root = storages.get(key as string);
  if (!root) {
    root = { kind: "storage", key: key as string, dtype, numel: count as number };
    storages.set(key as string, root);
  } else if (root.dtype !== dtype) {
    fail(`storage ${key} is used as both ${root.dtype} and ${dtype}`);
  } else if (root.numel !== count) {
    fail(`storage ${key} is given both ${root.numel} and ${count} elements`);
  }
  const view = legacy ? it[5] : null;
  if (view === null) return root;
  if (typeof view !== "object" || view.kind !== "tuple" || view.items.length !== 3) fail(`storage ${key} has a malformed view description`);
  const [vkey, voff, vnum] = (view as PyTuple).items;
  if (typeof vkey !== "string" || typeof voff !== "number" || typeof vnum !== "number" || voff < 0 || vnum < 0) fail(`storage ${key} has a malformed view description`);
  const vk = vkey as string;
  let v = storages.get(vk);
  if (!v) {
    v = { kind: "storage", key: vk, dtype, numel: vnum as number, root, rootOffset: voff as number };
    storages.set(vk, v);
  }
  return v;
}

// ───────────────────────────────────────── readers ─────────────────────────────────────────

/** 0x1950a86a20f9469cfc6c as pickled by torch: PROTO 2, LONG1 10 bytes, little-endian. */
const LEGACY_PREFIX = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

export type PytorchFormat = "zip" | "legacy";

/** Which torch.save format the bytes are in, by their magic bytes; null if neither. */
export function detectPytorchFormat(buf: Uint8Array): PytorchFormat | null {
  if (buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04) return "zip";
  if (buf.length >= 4 && buf[0] === 0x80 && buf[1] === 0x02 && buf[2] === 0x8a && buf[3] === 0x0a) return "legacy";
  return null;
}

function readZipFormat(buf: Uint8Array, where: string): Map<string, TensorData> {
  const zip = new ZipReader(buf, where);
  const pkl = [...zip.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n)) ?? (zip.entries.has("data.pkl") ? "data.pkl" : undefined);
  if (!pkl) throw new CheckpointError(where, "zip archive has no ARCHIVE/data.pkl entry: not a torch.save file");
  const dir = pkl.slice(0, pkl.length - "data.pkl".length);
  for (const n of zip.entries.keys()) zip.read(n); // verify every entry's CRC-32
  if (zip.entries.has(`${dir}byteorder`)) {
    const bo = latin1(zip.read(`${dir}byteorder`)).trim();
    if (bo !== "little") throw new CheckpointError(where, `byteorder is ${JSON.stringify(bo)}; only little-endian files are supported`);
  }
  if (zip.entries.has(`${dir}version`)) {
    const v = latin1(zip.read(`${dir}version`)).trim();
    if (!/^\d+$/.test(v)) throw new CheckpointError(where, `version record ${JSON.stringify(v)} is not a number`);
  }
  const storages = new Map<string, PyStorage>();
  const { value } = new Unpickler(zip.read(pkl), 0, where, (pid) => storageFromPid(pid, false, storages, where)).run();
  for (const s of storages.values()) {
    const rec = `${dir}data/${s.key}`;
    if (!zip.entries.has(rec)) throw new CheckpointError(where, `storage ${s.key} has no record ${rec}`);
    const data = zip.read(rec);
    const need = s.numel * DTYPE_BYTES[s.dtype];
    if (data.length < need) throw new CheckpointError(where, `record ${rec} holds ${data.length} bytes, storage ${s.key} needs ${need} (${s.numel} × ${s.dtype})`);
    s.bytes = data.subarray(0, need);
  }
  return collectTensors(value, where, expansionLimit(buf.length));
}

function readLegacyFormat(buf: Uint8Array, where: string): Map<string, TensorData> {
  for (let i = 0; i < LEGACY_PREFIX.length; i++) {
    if (buf[i] !== LEGACY_PREFIX[i]) throw new CheckpointError(where, "wrong magic number: not a legacy torch.save file");
  }
  const magic = new Unpickler(buf, 0, where, null).run();
  if (magic.value !== LEGACY_MAGIC) throw new CheckpointError(where, "wrong magic number: not a legacy torch.save file");
  const proto = new Unpickler(buf, magic.end, where, null).run();
  if (proto.value !== 1001) throw new CheckpointError(where, `legacy protocol version ${kindOf(proto.value) === "number" ? proto.value : kindOf(proto.value)}, expected 1001`);
  const sys = new Unpickler(buf, proto.end, where, null).run();
  if (sys.value === null || typeof sys.value !== "object" || sys.value.kind !== "dict") throw new CheckpointError(where, "system info record is not a dict");
  const le = sys.value.map.get("little_endian");
  if (le && le[1] === false) throw new CheckpointError(where, "the file was written on a big-endian machine; not supported");
  const storages = new Map<string, PyStorage>();
  const main = new Unpickler(buf, sys.end, where, (pid) => storageFromPid(pid, true, storages, where)).run();
  const keys = new Unpickler(buf, main.end, where, null).run();
  if (keys.value === null || typeof keys.value !== "object" || keys.value.kind !== "list") throw new CheckpointError(where, "storage key list is missing or not a list");
  let p = keys.end;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const k of keys.value.items) {
    if (typeof k !== "string") throw new CheckpointError(where, `storage key ${kindOf(k)} is not a string`);
    const s = storages.get(k);
    if (!s || s.root) throw new CheckpointError(where, `storage data for key ${k}, which no tensor uses`);
    if (s.bytes) throw new CheckpointError(where, `storage ${k} is listed twice`);
    if (p + 8 > buf.length) throw new CheckpointError(where, `truncated: storage ${k}'s element count at offset ${p} is past the end of the ${buf.length}-byte file`);
    const count = dv.getBigInt64(p, true);
    if (count !== BigInt(s.numel)) throw new CheckpointError(where, `storage ${k} has ${count} elements in the file, its id says ${s.numel}`);
    const nbytes = s.numel * DTYPE_BYTES[s.dtype];
    p += 8;
    if (p + nbytes > buf.length) throw new CheckpointError(where, `truncated: storage ${k} needs bytes [${p}, ${p + nbytes}) of a ${buf.length}-byte file`);
    s.bytes = buf.subarray(p, p + nbytes);
    p += nbytes;
  }
  if (p !== buf.length) throw new CheckpointError(where, `${buf.length - p} bytes after the last storage (damaged file?)`);
  return collectTensors(main.value, where, expansionLimit(buf.length));
}

/**
 * Reads a torch.save file (zip or legacy format, detected by magic bytes) into name → tensor.
 * Views are materialised as contiguous tensors; contiguous ones share memory with the file buffer.
 */
export function readPytorchBin(source: string | Uint8Array, name?: string): Map<string, TensorData> {
  const where = name ?? (typeof source === "string" ? source : "<buffer>");
  const buf = typeof source === "string" ? readFileBytes(source) : source;
  return guardParse(where, "PyTorch checkpoint", () => {
    const fmt = detectPytorchFormat(buf);
    if (fmt === "zip") return readZipFormat(buf, where);
    if (fmt === "legacy") return readLegacyFormat(buf, where);
    if (buf.length >= 262 && latin1(buf.subarray(257, 262)) === "ustar") throw new CheckpointError(where, "this is the tar format of PyTorch < 0.4, which is not supported");
    throw new CheckpointError(where, "not a PyTorch checkpoint: neither a zip archive (PK\\x03\\x04) nor a legacy torch.save stream (wrong magic bytes)");
  });
}

// ───────────────────────────────────────── writers ─────────────────────────────────────────

/** Emits protocol-2 pickle opcodes. */
class PickleWriter {
  private readonly out: number[] = [];
  private memoNext = 0;
  private readonly memo = new Map<string, number>();

  op(...bytes: number[]): this {
    for (const b of bytes) this.out.push(b);
    return this;
  }
  private u32(v: number): void {
    this.out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  int(v: number | bigint): this {
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 256) return this.op(0x4b, v);
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 65536) return this.op(0x4d, v & 0xff, v >> 8);
    if (typeof v === "number" && Number.isInteger(v) && v >= -0x80000000 && v < 0x80000000) {
      this.op(0x4a);
      this.u32(v >>> 0);
      return this;
    }
    let b = BigInt(v);
    const bytes: number[] = [];
    for (;;) {
      bytes.push(Number(b & 0xffn));
      b >>= 8n;
      if ((b === 0n && !(bytes[bytes.length - 1] & 0x80)) || (b === -1n && bytes[bytes.length - 1] & 0x80)) break;
    }
    return this.op(0x8a, bytes.length, ...bytes);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.op(0x58);
    this.u32(b.length);
    for (const x of b) this.out.push(x);
    return this.put();
  }
  put(): this {
    const i = this.memoNext++;
    if (i < 256) return this.op(0x71, i);
    this.op(0x72);
    this.u32(i);
    return this;
  }
  /** GLOBAL module name, memoised: later uses are BINGETs. */
  global(module: string, name: string): this {
    const key = `${module}\n${name}`;
    const m = this.memo.get(key);
    if (m !== undefined) {
      if (m < 256) return this.op(0x68, m);
      this.op(0x6a);
      this.u32(m);
      return this;
    }
    this.op(0x63);
    for (const ch of `${module}\n${name}\n`) this.out.push(ch.charCodeAt(0));
    this.memo.set(key, this.memoNext);
    return this.put();
  }
  tuple(items: readonly number[]): this {
    if (items.length === 0) return this.op(0x29);
    if (items.length > 3) this.op(0x28);
    for (const v of items) this.int(v);
    return this.op(items.length === 1 ? 0x85 : items.length === 2 ? 0x86 : items.length === 3 ? 0x87 : 0x74);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

interface StorageOut {
  key: string;
  tensor: TensorData;
}

function checkWritable(name: string, t: TensorData): Exclude<DType, "STRING"> {
  if (t.dtype === "STRING") throw new Error(`tensor ${name}: string tensors cannot be written to a PyTorch file`);
  const need = numel(t.shape) * DTYPE_BYTES[t.dtype];
  if (t.bytes.byteLength !== need) throw new Error(`tensor ${name}: ${t.bytes.byteLength} bytes for ${t.dtype}[${t.shape}], which needs ${need}`);
  return t.dtype;
}

/** The state-dict pickle: OrderedDict of _rebuild_tensor_v2 calls, one storage per tensor. */
function statePickle(entries: [string, TensorData][], legacy: boolean): { pickle: Uint8Array; storages: StorageOut[] } {
  const w = new PickleWriter();
  const storages: StorageOut[] = [];
  w.op(0x80, 2).global("collections", "OrderedDict").op(0x29, 0x52).put();
  if (entries.length) w.op(0x28);
  entries.forEach(([name, t], i) => {
    const dtype = checkWritable(name, t);
    const key = String(i);
    storages.push({ key, tensor: t });
    const n = numel(t.shape);
    const stride: number[] = new Array<number>(t.shape.length);
    for (let d = t.shape.length - 1, s = 1; d >= 0; d--) {
      stride[d] = s;
      s *= t.shape[d];
    }
    w.str(name).global("torch._utils", "_rebuild_tensor_v2");
    w.op(0x28, 0x28).str("storage").global("torch", STORAGE_OF_DTYPE[dtype]).str(key).str("cpu").int(n);
    if (legacy) w.op(0x4e); // view_metadata None
    w.op(0x74).put().op(0x51); // TUPLE, BINPERSID
    w.int(0).tuple(t.shape).tuple(stride).op(0x89); // offset, size, stride, requires_grad False
    w.global("collections", "OrderedDict").op(0x29, 0x52).put(); // backward_hooks OrderedDict()
    w.op(0x74).put().op(0x52).put(); // TUPLE, REDUCE
    if (i % 1000 === 999 && i !== entries.length - 1) w.op(0x75, 0x28); // SETITEMS in batches of 1000, as pickle does
  });
  if (entries.length) w.op(0x75);
  w.op(0x2e);
  return { pickle: w.bytes(), storages };
}

function writeChunksAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) off += writeSync(fd, c, off, c.byteLength - off);
    }
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  commitFile(tmp, path);
}

function entriesOf(tensors: Map<string, TensorData> | Record<string, TensorData>): [string, TensorData][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

/** The bytes of a torch.save zip file of the tensors (what writePytorchZip writes). */
export function serializePytorchZip(
  tensors: Map<string, TensorData> | Record<string, TensorData>,
  opts: { archiveName?: string; zip64?: boolean } = {},
): Uint8Array {
  return Buffer.concat(pytorchZipChunks(entriesOf(tensors), opts));
}

function pytorchZipChunks(entries: [string, TensorData][], opts: { archiveName?: string; zip64?: boolean }): Uint8Array[] {
  const dir = opts.archiveName ?? "archive";
  if (!/^[^/]+$/.test(dir)) throw new Error(`archive name ${JSON.stringify(dir)} must be a single path component`);
  const { pickle, storages } = statePickle(entries, false);
  const enc = new TextEncoder();
  const records: ZipInput[] = [
    { name: `${dir}/data.pkl`, data: pickle },
    { name: `${dir}/byteorder`, data: enc.encode("little") },
    ...storages.map((s) => ({ name: `${dir}/data/${s.key}`, data: s.tensor.bytes })),
    { name: `${dir}/version`, data: enc.encode("3\n") },
  ];
  return zipStoredChunks(records, 64, opts.zip64 ?? false);
}

/**
 * Writes the tensors as a torch.save zip file (torch.load reads it as an OrderedDict of tensors):
 * archive/data.pkl, archive/byteorder, archive/data/N (stored, data 64-byte aligned), archive/version.
 * Written to PATH.tmp-PID and renamed over PATH.
 */
export function writePytorchZip(
  tensors: Map<string, TensorData> | Record<string, TensorData>,
  path: string,
  opts: { archiveName?: string; zip64?: boolean } = {},
): void {
  writeChunksAtomic(path, pytorchZipChunks(entriesOf(tensors), opts));
}

function pytorchLegacyChunks(entries: [string, TensorData][]): Uint8Array[] {
  const magic = new PickleWriter().op(0x80, 2).int(LEGACY_MAGIC).op(0x2e);
  const version = new PickleWriter().op(0x80, 2).int(1001).op(0x2e);
  const sys = new PickleWriter().op(0x80, 2, 0x7d).put().op(0x28);
  sys.str("protocol_version").int(1001).str("little_endian").op(0x88).str("type_sizes").op(0x7d).put().op(0x28);
  sys.str("short").int(2).str("int").int(4).str("long").int(4).op(0x75, 0x75, 0x2e);
  const { pickle, storages } = statePickle(entries, true);
  const keys = new PickleWriter();
  keys.op(0x80, 2, 0x5d).put();
  if (storages.length) {
    keys.op(0x28);
    for (const s of storages) keys.str(s.key);
    keys.op(0x65);
  }
  keys.op(0x2e);
  const chunks: Uint8Array[] = [magic.bytes(), version.bytes(), sys.bytes(), pickle, keys.bytes()];
  for (const s of storages) {
    const count = Buffer.alloc(8);
    count.writeBigInt64LE(BigInt(numel(s.tensor.shape)));
    chunks.push(count, s.tensor.bytes);
  }
  return chunks;
}

/** The bytes of a legacy (pre-1.6) torch.save stream of the tensors. */
export function serializePytorchLegacy(tensors: Map<string, TensorData> | Record<string, TensorData>): Uint8Array {
  return Buffer.concat(pytorchLegacyChunks(entriesOf(tensors)));
}

/** Writes the tensors in the legacy torch.save format (torch.load still reads it). Atomic like writePytorchZip. */
export function writePytorchLegacy(tensors: Map<string, TensorData> | Record<string, TensorData>, path: string): void {
  writeChunksAtomic(path, pytorchLegacyChunks(entriesOf(tensors)));
}
