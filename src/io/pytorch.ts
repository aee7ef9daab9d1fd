/**
 * PyTorch checkpoints (.bin / .pt / .pth, what torch.save writes of a state dict): reader and writer,
 * over the zip layer (./zip.ts) and the pickle layer (./pickle.ts).
 *
 * ── Format 1: the zip archive (torch >= 1.6, the default) ──────────────────────────────────────
 *   A zip file (PKWARE APPNOTE) whose entries all sit under one top-level folder, the archive name:
 *     NAME/data.pkl        the pickled object (protocol 2), tensors as persistent ids (below)
 *     NAME/data/KEY        raw little-endian bytes of storage KEY (KEY = "0", "1", ...)
 *     NAME/version         "3\n" (format version, decimal text)
 *     NAME/byteorder       "little" (torch >= 2.1; absent before: little-endian)
 *     NAME/.data/serialization_id, NAME/.format_version ... (newer torch; ignored)
 *   Entries are stored, data 64-byte aligned, CRC-32 checked (the zip layout: ./zip.ts).
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
 *   contiguous in general). The pickle may name only the globals in ALLOWED_GLOBALS below.
 *
 * Why by hand: see ./pickle.ts (no JavaScript pickle reader can be restricted to an allow-list of
 * globals, the whole point: a pickle can call any Python function) and ./zip.ts (CRCs, zip64,
 * zero-copy views, torch's 64-byte alignment).
 */
import { CheckpointError, DTYPE_BYTES, type DType, type TensorData, guardParse, numel, readFileBytes } from "./tensor-data.js";
import { writeChunksDurable } from "./durable.js";
import { type PickleHooks, PickleWriter, type PyGlobal, type PyOpaque, type PyTuple, type PyValue, Unpickler, kindOf, latin1 } from "./pickle.js";
import { type ZipInput, ZipReader, zipStoredChunks } from "./zip.js";

// ───────────────────────────────────────── torch's globals ─────────────────────────────────────────

const STORAGE_TYPES: Record<string, Exclude<DType, "STRING">> = {
  FloatStorage: "F32", HalfStorage: "F16", BFloat16Storage: "BF16", DoubleStorage: "F64",
  LongStorage: "I64", IntStorage: "I32", ShortStorage: "I16", CharStorage: "I8",
  ByteStorage: "U8", BoolStorage: "BOOL",
};
const STORAGE_OF_DTYPE: Record<Exclude<DType, "STRING">, string> = Object.fromEntries(
  Object.entries(STORAGE_TYPES).map(([k, v]) => [v, k]),
) as Record<Exclude<DType, "STRING">, string>;

/** Globals a state-dict pickle may name (besides torch.*Storage); everything else is refused by name. */
const ALLOWED_GLOBALS = new Set([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
  "_codecs.encode",
]);

interface PyStorage {
  key: string;
  dtype: Exclude<DType, "STRING">;
  numel: number;
  /** Set once the storage's bytes are known. */
  bytes?: Uint8Array;
  /** Legacy views: this storage is [offset, offset + numel) of root. */
  root?: PyStorage;
  rootOffset?: number;
}
interface PyTensor { storage: PyStorage; offset: number; shape: number[]; stride: number[] }

const storage = (s: PyStorage): PyOpaque => ({ kind: "opaque", type: "storage", value: s });
const tensor = (t: PyTensor): PyOpaque => ({ kind: "opaque", type: "tensor", value: t });
function asStorage(v: PyValue | undefined): PyStorage | null {
  return v !== null && typeof v === "object" && v.kind === "opaque" && v.type === "storage" ? (v.value as PyStorage) : null;
}
function asTensor(v: PyValue | undefined): PyTensor | null {
  return v !== null && typeof v === "object" && v.kind === "opaque" && v.type === "tensor" ? (v.value as PyTensor) : null;
}

function intArg(v: PyValue, what: string, fail: (msg: string) => never): number {
  if (typeof v === "boolean") v = v ? 1 : 0;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) fail(`tensor ${what} ${typeof v === "bigint" ? v.toString() : kindOf(v)} is not a usable integer`);
  return v as number;
}
function intTuple(v: PyValue, what: string, fail: (msg: string) => never): number[] {
  if (v === null || typeof v !== "object" || (v.kind !== "tuple" && v.kind !== "list")) fail(`tensor ${what} is a ${kindOf(v)}, not a tuple`);
  return (v as { items: PyValue[] }).items.map((x) => intArg(x, what, fail));
}

/** The state-dict allow-list, and what calling torch's rebuild functions builds. */
function torchHooks(persistentLoad: ((pid: PyValue) => PyValue) | null): PickleHooks {
  return {
    allowGlobal: (module, name) => (module === "torch" && name in STORAGE_TYPES) || ALLOWED_GLOBALS.has(`${module}.${name}`),
    refusal: "only state dicts of tensors can be loaded",
    persistentLoad,
    call(fn: PyGlobal, a: PyValue[], fail: (msg: string) => never): PyValue {
      switch (`${fn.module}.${fn.name}`) {
        case "torch._utils._rebuild_tensor_v2":
        case "torch._utils._rebuild_tensor": {
          const v2 = fn.name === "_rebuild_tensor_v2";
          if (v2 ? a.length !== 6 && a.length !== 7 : a.length !== 4) fail(`${fn.name} called with ${a.length} arguments`);
          const [s, offset, size, stride] = a;
          const st = asStorage(s);
          if (!st) return fail(`${fn.name}: first argument is a ${kindOf(s)}, not a storage`);
          return tensor({ storage: st, offset: intArg(offset, "storage offset", fail), shape: intTuple(size, "size", fail), stride: intTuple(stride, "stride", fail) });
        }
        case "torch._utils._rebuild_parameter":
        case "torch._utils._rebuild_parameter_with_state": {
          const t = a[0];
          if (!asTensor(t)) fail(`${fn.name}: first argument is a ${kindOf(t ?? null)}, not a tensor`);
          return t;
        }
        default:
          return fail(`pickle calls ${fn.module}.${fn.name}, which cannot be called`);
      }
    },
  };
}

// ───────────────────────────────────────── tensors ─────────────────────────────────────────

/** The bytes all of a file's tensor copies (stride-0 broadcasts, strided or misaligned views) may take together; guards against damaged sizes. */
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

/** Bytes the copies of one file's tensors may still take (shared by all its tensors: a pickle can name one view many times). */
interface Budget { left: number }

/** The tensor's elements as contiguous row-major bytes (a view when already contiguous and aligned; copies charged to budget). */
function materialise(t: PyTensor, name: string, where: string, budget: Budget): TensorData {
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
  const charge = (bytes: number): void => {
    if (bytes > budget.left) bad(`view of size [${shape}] would expand to ${n * es} bytes, more than this file can hold (damaged or hostile file)`);
    budget.left -= bytes;
  };
  let contiguous = true;
  for (let i = shape.length - 1, want = 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== want) contiguous = false;
    want *= shape[i];
  }
  if (contiguous) {
    const view = src.subarray(offset * es, (offset + n) * es);
    // keep views aligned to the element size so callers can map typed arrays onto them
    if (view.byteOffset % es === 0) return { dtype, shape: [...shape], bytes: view };
    charge(view.byteLength);
    return { dtype, shape: [...shape], bytes: new Uint8Array(view) };
  }
  charge(n * es);
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
  const budget: Budget = { left: limit };
  const made = new Map<PyTensor, TensorData>(); // one tensor under several names (tied weights) is materialised once
  const out = new Map<string, TensorData>();
  const seen = new Set<object>();
  const todo: [string, PyValue][] = [["", root]];
  while (todo.length) {
    const [prefix, v] = todo.shift() as [string, PyValue];
    if (v === null || typeof v !== "object") continue;
    const t = asTensor(v);
    if (t) {
      const name = prefix === "" ? "tensor" : prefix;
      if (out.has(name)) throw new CheckpointError(where, `two tensors are named ${name}`);
      let data = made.get(t);
      if (!data) made.set(t, (data = materialise(t, name, where, budget)));
      out.set(name, { ...data, shape: [...data.shape] });
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
    root = { key: key as string, dtype, numel: count as number };
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
    v = { key: vk, dtype, numel: vnum as number, root, rootOffset: voff as number };
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
  const { value } = new Unpickler(zip.read(pkl), 0, where, torchHooks((pid) => storage(storageFromPid(pid, false, storages, where)))).run();
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
  const magic = new Unpickler(buf, 0, where, torchHooks(null)).run();
  if (magic.value !== LEGACY_MAGIC) throw new CheckpointError(where, "wrong magic number: not a legacy torch.save file");
  const proto = new Unpickler(buf, magic.end, where, torchHooks(null)).run();
  if (proto.value !== 1001) throw new CheckpointError(where, `legacy protocol version ${kindOf(proto.value) === "number" ? proto.value : kindOf(proto.value)}, expected 1001`);
  const sys = new Unpickler(buf, proto.end, where, torchHooks(null)).run();
  if (sys.value === null || typeof sys.value !== "object" || sys.value.kind !== "dict") throw new CheckpointError(where, "system info record is not a dict");
  const le = sys.value.map.get("little_endian");
  if (le && le[1] === false) throw new CheckpointError(where, "the file was written on a big-endian machine; not supported");
  const storages = new Map<string, PyStorage>();
  const main = new Unpickler(buf, sys.end, where, torchHooks((pid) => storage(storageFromPid(pid, true, storages, where)))).run();
  const keys = new Unpickler(buf, main.end, where, torchHooks(null)).run();
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
  writeChunksDurable(path, pytorchZipChunks(entriesOf(tensors), opts));
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
  writeChunksDurable(path, pytorchLegacyChunks(entriesOf(tensors)));
}
