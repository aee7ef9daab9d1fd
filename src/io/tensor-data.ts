/**
 * The in-memory form of a stored tensor, shared by every checkpoint reader and writer:
 * the raw little-endian bytes in the stored dtype, plus the dtype name and shape.
 * Dtype names are safetensors' (F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL); TensorFlow strings are STRING.
 */
import { openSync, fstatSync, readSync, closeSync } from "node:fs";

export type DType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL" | "STRING";

export const DTYPE_BYTES: Record<Exclude<DType, "STRING">, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface TensorData {
  dtype: DType;
  shape: number[];
  /** Raw little-endian bytes in the stored dtype (for STRING: an implementation-defined encoding). */
  bytes: Uint8Array;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Converts half precision (IEEE binary16) bits to a float. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Any numeric tensor as float32 (F16/BF16/F64/integers upcast or converted), copied. */
export function toFloat32(t: TensorData): Float32Array {
  const n = numel(t.shape);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case "F32":
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      break;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      break;
    case "F16":
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
      break;
    case "BF16": {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      break;
    }
    case "I64":
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(8 * i, true));
      break;
    default:
      out.set(integerValues(t, dv, n, `cannot convert a ${t.dtype} tensor to float32`));
  }
  return out;
}

/** An integer tensor (I64/I32/I16/I8/U8) as int32, checking that every value fits. */
export function toInt32(t: TensorData): Int32Array {
  const n = numel(t.shape);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  if (t.dtype !== "I64") return integerValues(t, dv, n, `expected an integer tensor, got ${t.dtype}`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = dv.getBigInt64(8 * i, true);
    if (v < -2147483648n || v > 2147483647n) throw new Error(`int64 value ${v} does not fit in int32`);
    out[i] = Number(v);
  }
  return out;
}

/** The values of an I32/I16/I8/U8/BOOL tensor as int32 (I64 is handled by the callers: it may not fit). */
function integerValues(t: TensorData, dv: DataView, n: number, unsupported: string): Int32Array {
  const out = new Int32Array(n);
  switch (t.dtype) {
    case "I32":
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      break;
    case "I16":
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, true);
      break;
    case "I8":
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      break;
    case "U8":
    case "BOOL":
      for (let i = 0; i < n; i++) out[i] = dv.getUint8(i);
      break;
    default:
      throw new Error(unsupported);
  }
  return out;
}

/** A float32 array as F32 tensor data (shares no memory with the input). */
export function fromFloat32(data: Float32Array, shape: number[]): TensorData {
  if (data.length !== numel(shape)) throw new Error(`fromFloat32: ${data.length} values for shape [${shape}]`);
  const bytes = new Uint8Array(data.length * 4);
  new Float32Array(bytes.buffer).set(data);
  return { dtype: "F32", shape: [...shape], bytes };
}

/** Bytes per element of a numeric dtype; throws for STRING. */
export function elementSize(dtype: DType): number {
  if (dtype === "STRING") throw new Error("STRING tensors have no fixed element size");
  return DTYPE_BYTES[dtype];
}

/**
 * The error every checkpoint reader throws for a damaged or unsupported file.
 * The message starts with the file (path, or "<buffer>") and says what was wrong.
 */
export class CheckpointError extends Error {
  override readonly name = "CheckpointError";
  constructor(readonly file: string, readonly problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
  }
}

/**
 * Runs a parser and turns any low-level failure that escaped its own checks (a RangeError from a
 * DataView or typed-array constructor, a TypeError, ...) into a CheckpointError naming the file,
 * so callers always get one error type with a readable message.
 */
export function guardParse<T>(file: string, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof Error && e.constructor === Error) throw new CheckpointError(file, msg, { cause: e });
    throw new CheckpointError(file, `damaged ${what}: unexpected ${e instanceof Error ? e.name : "failure"} while parsing (${msg})`, { cause: e });
  }
}

/**
 * Reads a whole file. Unlike readFileSync this also works past 2 GiB (Node refuses to read more
 * than 2 GiB in one call), reading in 1 GiB pieces into one buffer.
 */
export function readFileBytes(path: string): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const out = Buffer.allocUnsafeSlow(size);
    let pos = 0;
    while (pos < size) {
      const n = readSync(fd, out, pos, Math.min(size - pos, 1 << 30), pos);
      if (n <= 0) throw new CheckpointError(path, `file shrank while reading (got ${pos} of ${size} bytes)`);
      pos += n;
    }
    // a plain Uint8Array, so that .slice() copies (Buffer's slice is a view)
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } finally {
    closeSync(fd);
  }
}
