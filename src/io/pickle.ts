/**
 * Python pickles (protocols 0-2, plus protocol 4's framing opcodes, which cost nothing): a restricted
 * unpickler and a protocol-2 writer.
 *
 * A pickle is a program for a stack machine: opcodes push values (ints, strings, tuples, dicts ...),
 * build containers from the values above a MARK, store and fetch values in a memo, name a global
 * (GLOBAL / STACK_GLOBAL: "module.name") and call it (REDUCE), or hand an id to the loader
 * (BINPERSID, how torch refers to its storages). STOP ends it; the value on top is the result.
 * Opcode table: Python's Lib/pickletools.py; the switch in Unpickler.run lists every one supported.
 *
 * Calling a global is how a pickle runs arbitrary code (os.system included), so every global is
 * refused unless the caller's hooks allow it by name (PickleHooks), and objects are only ever built
 * by this file (collections.OrderedDict, _codecs.encode) or by the hooks (./pytorch.ts: storages and
 * tensors). INST, OBJ, NEWOBJ_EX, extension registries and out-of-band buffers are refused.
 *
 * Why by hand: there is no maintained pickle reader for JavaScript that can be restricted to an
 * allow-list of globals.
 */
import { CheckpointError } from "./tensor-data.js";

export interface PyTuple { kind: "tuple"; items: PyValue[] }
export interface PyList { kind: "list"; items: PyValue[] }
export interface PySet { kind: "set"; items: PyValue[] }
export interface PyDict { kind: "dict"; map: Map<unknown, [PyValue, PyValue]> }
export interface PyBytes { kind: "bytes"; data: Uint8Array }
export interface PyGlobal { kind: "global"; module: string; name: string }
/** A value the caller's hooks built (a torch storage, a tensor); the unpickler only moves it around. */
export interface PyOpaque { kind: "opaque"; type: string; value: unknown }
export type PyValue = null | boolean | number | bigint | string | PyTuple | PyList | PySet | PyDict | PyBytes | PyGlobal | PyOpaque;

/** A value's kind for messages: "None", "int" ..., a global's dotted name, an opaque value's type. */
export function kindOf(v: PyValue): string {
  if (v === null) return "None";
  if (typeof v === "object") return v.kind === "global" ? `${v.module}.${v.name}` : v.kind === "opaque" ? v.type : v.kind;
  return typeof v;
}

/** Dict keys compare by value for primitives, by identity otherwise. */
function dictKey(k: PyValue): unknown {
  if (typeof k === "bigint") return Number.isSafeInteger(Number(k)) ? Number(k) : k;
  return k;
}

/**
 * What a pickle may reach beyond plain data, decided by the caller (as Python's Unpickler.find_class and
 * persistent_load): which globals it may name, what calling them builds, and what a persistent id is.
 */
export interface PickleHooks {
  /** Whether GLOBAL module.name may be loaded ("__builtin__" is read as "builtins"). */
  allowGlobal(module: string, name: string): boolean;
  /** Said after "pickle asks for global X, which is not allowed" (what the caller loads instead). */
  refusal: string;
  /** REDUCE of an allowed global other than collections.OrderedDict and _codecs.encode (built here). */
  call(fn: PyGlobal, args: PyValue[], fail: (msg: string) => never): PyValue;
  /** BINPERSID; null: a persistent id is refused. */
  persistentLoad: ((pid: PyValue) => PyValue) | null;
}

export class Unpickler {
  private pos: number;
  private readonly stack: PyValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly dv: DataView;

  constructor(
    private readonly buf: Uint8Array,
    start: number,
    private readonly where: string,
    private readonly hooks: PickleHooks,
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
    if (this.hooks.allowGlobal(module, name)) return { kind: "global", module, name };
    this.fail(`pickle asks for global ${full}, which is not allowed (${this.hooks.refusal})`);
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
        return this.hooks.call(fn, a, (msg) => this.fail(msg, at));
    }
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
        case 0x62: { // BUILD: set state; a state dict's _metadata is dropped, opaque values take no state here
          const state = this.pop();
          const obj = this.top();
          void state;
          if (obj === null || typeof obj !== "object" || (obj.kind !== "dict" && obj.kind !== "opaque")) this.fail(`BUILD on a ${kindOf(obj)}`, at);
          break;
        }
        case 0x51: { // BINPERSID
          const pid = this.pop();
          if (!this.hooks.persistentLoad) this.fail("persistent id in a pickle that may not have any", at);
          S.push(this.hooks.persistentLoad(pid));
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

/** Bytes as a string of the code points 0-255. */
export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** Emits protocol-2 pickle opcodes. */
export class PickleWriter {
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
