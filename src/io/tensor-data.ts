/**
 * The in-memory form of a stored tensor, shared by every checkpoint reader and writer:
 * the raw little-endian bytes in the stored dtype, plus the dtype name and shape.
 * Dtype names are safetensors' (F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL); TensorFlow strings are STRING.
 */
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
      throw new Error(`cannot convert a ${t.dtype} tensor to float32`);
  }
  return out;
}

/** An integer tensor (I64/I32/I16/I8/U8) as int32, checking that every value fits. */
export function toInt32(t: TensorData): Int32Array {
  const n = numel(t.shape);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Int32Array(n);
  switch (t.dtype) {
    case "I64":
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(8 * i, true);
        if (v < -2147483648n || v > 2147483647n) throw new Error(`int64 value ${v} does not fit in int32`);
        out[i] = Number(v);
      }
      break;
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
      throw new Error(`expected an integer tensor, got ${t.dtype}`);
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
