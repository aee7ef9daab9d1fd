/**
 * TensorFlow checkpoint (TensorBundle, "V2" checkpoints: PREFIX.index + PREFIX.data-NNNNN-of-NNNNN) reader.
 *
 * ── PREFIX.index: an SSTable (./sstable.ts) ──
 *   the empty key "" holds the BundleHeaderProto, every other key is a tensor name holding its
 *   BundleEntryProto (keys starting with \x00 are slices of partitioned variables)
 *
 * ── protobufs (tensorflow/core/protobuf/tensor_bundle.proto; wire format: ./protobuf.ts) ──
 *   BundleHeaderProto { int32 num_shards = 1; Endianness endianness = 2 (0 little, 1 big); VersionDef version = 3 }
 *   VersionDef        { int32 producer = 1; int32 min_consumer = 2; repeated int32 bad_consumers = 3 }
 *   BundleEntryProto  { DataType dtype = 1; TensorShapeProto shape = 2; int32 shard_id = 3; int64 offset = 4;
 *                       int64 size = 5; fixed32 crc32c = 6; repeated TensorSliceProto slices = 7 }
 *   TensorShapeProto  { repeated Dim dim = 2 { int64 size = 1; string name = 2 }; bool unknown_rank = 3 }
 *
 * ── PREFIX.data-SSSSS-of-NNNNN: shard SSSSS of NNNNN (five digits each) ──
 *   tensor bytes at [offset, offset + size) of shard shard_id, row-major little-endian; crc32c is the
 *   masked CRC-32C of those bytes. DT_STRING tensors are: varint64 length of each element, a fixed32
 *   masked CRC-32C of the lengths, then the element bytes back to back. The checksums are not over the
 *   varint bytes: each length enters the CRC as a little-endian uint32 (uint64 if it does not fit);
 *   the entry's crc32c continues that CRC over the 4 raw length-checksum bytes and the element bytes.
 *
 * Why by hand: there is no npm package for TensorBundle. (The test-only writer is in
 * test/helpers/tf-writer.ts.)
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CheckpointError, DTYPE_BYTES, type DType, type TensorData, guardParse, numel, readFileBytes } from "../tensor-data.js";
import { crc32c, unmaskCrc } from "./crc32c.js";
import { ProtoReader } from "./protobuf.js";
import { TableReader, readVarint } from "./sstable.js";

const TF_DTYPE_NAMES: Record<number, string> = {
  1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8", 7: "DT_STRING",
  8: "DT_COMPLEX64", 9: "DT_INT64", 10: "DT_BOOL", 11: "DT_QINT8", 12: "DT_QUINT8", 13: "DT_QINT32",
  14: "DT_BFLOAT16", 15: "DT_QINT16", 16: "DT_QUINT16", 17: "DT_UINT16", 18: "DT_COMPLEX128", 19: "DT_HALF",
  20: "DT_RESOURCE", 21: "DT_VARIANT", 22: "DT_UINT32", 23: "DT_UINT64", 24: "DT_FLOAT8_E5M2", 25: "DT_FLOAT8_E4M3FN",
};
const TF_TO_DTYPE: Record<number, DType> = {
  1: "F32", 2: "F64", 3: "I32", 4: "U8", 5: "I16", 6: "I8", 7: "STRING", 9: "I64", 10: "BOOL", 14: "BF16", 19: "F16",
};
export const DTYPE_TO_TF: Record<DType, number> = Object.fromEntries(
  Object.entries(TF_TO_DTYPE).map(([k, v]) => [v, Number(k)]),
) as Record<DType, number>;

/** "DT_FLOAT" etc. for a DataType enum value. */
export function tfDtypeName(code: number): string {
  return TF_DTYPE_NAMES[code] ?? `DataType(${code})`;
}

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
    if (index.numShards > 99999) fail(`header says ${index.numShards} data shards; shard names have five digits (at most 99999)`);
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
  const used = new Set(index.entries.filter((e) => e.slices === 0).map((e) => e.shardId));
  for (const s of used) if (existsSync(shardPath(index.prefix, s, index.numShards))) return true;
  return false;
}

/** Checks a DT_STRING tensor's layout (lengths, their checksum, total size); returns the CRC-32C the entry must carry (unmasked). */
export function stringTensorCrc(bytes: Uint8Array, count: number, fail: (m: string) => never): number {
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
