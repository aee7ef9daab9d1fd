/**
 * safetensors reader and writer.
 *
 * Format (https://github.com/huggingface/safetensors):
 *   u64 little-endian N | N bytes of UTF-8 JSON header | data
 *   header: { "__metadata__"?: {str: str}, NAME: { "dtype": D, "shape": [..], "data_offsets": [begin, end] }, ... }
 *   offsets are relative to the start of the data section; end - begin == numel * sizeof(dtype);
 *   tensors may not overlap and together must cover the data section exactly.
 */
import { readFileSync } from "node:fs";
import { DTYPE_BYTES, type DType, type TensorData, numel } from "./tensor-data.js";
import { writeFileDurable } from "./durable.js";

const MAX_HEADER = 100 * 1024 * 1024;

export interface SafetensorsFile {
  tensors: Map<string, TensorData>;
  metadata: Record<string, string>;
}

function fail(where: string, msg: string): never {
  throw new Error(`safetensors ${where}: ${msg}`);
}

export function parseSafetensors(buf: Uint8Array, where = "<buffer>"): SafetensorsFile {
  if (buf.byteLength < 8) fail(where, `file is ${buf.byteLength} bytes, too short for the 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) fail(where, `header length ${n} is larger than the ${MAX_HEADER}-byte limit`);
  const hlen = Number(n);
  if (8 + hlen > buf.byteLength) fail(where, `header length ${hlen} runs past the end of the ${buf.byteLength}-byte file (truncated?)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + hlen)));
  } catch (e) {
    fail(where, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail(where, "header is not a JSON object");
  const data = buf.subarray(8 + hlen);
  const tensors = new Map<string, TensorData>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof info !== "object" || info === null || Array.isArray(info)) fail(where, "__metadata__ is not an object");
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== "string") fail(where, `__metadata__.${k} is not a string`);
      }
      metadata = info as Record<string, string>;
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== "object" || t === null) fail(where, `entry ${JSON.stringify(name)} is not an object`);
    if (typeof t.dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, t.dtype)) fail(where, `tensor ${name}: unsupported dtype ${JSON.stringify(t.dtype)}`);
    const dtype = t.dtype as Exclude<DType, "STRING">;
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(where, `tensor ${name}: shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    }
    const shape = t.shape as number[];
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      fail(where, `tensor ${name}: data_offsets ${JSON.stringify(off)} are not [begin, end] with 0 <= begin <= end`);
    }
    const [b, e] = off as [number, number];
    if (e > data.byteLength) fail(where, `tensor ${name}: data_offsets [${b}, ${e}] run past the ${data.byteLength}-byte data section (truncated?)`);
    const want = numel(shape) * DTYPE_BYTES[dtype];
    if (e - b !== want) fail(where, `tensor ${name}: ${e - b} bytes for ${dtype}[${shape}], which needs ${want}`);
    spans.push([b, e, name]);
    tensors.set(name, { dtype, shape: [...shape], bytes: data.subarray(b, e) });
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let pos = 0;
  for (const [b, e, name] of spans) {
    if (b < pos) fail(where, `tensor ${name} overlaps the tensor before it`);
    if (b > pos) fail(where, `bytes ${pos}..${b} of the data section belong to no tensor`);
    pos = e;
  }
  if (pos !== data.byteLength) fail(where, `bytes ${pos}..${data.byteLength} of the data section belong to no tensor`);
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  return parseSafetensors(readFileSync(path), path);
}

/** Serialises tensors (names sorted, as the Python library does) with an optional string metadata map. */
export function serializeSafetensors(tensors: Map<string, TensorData> | Record<string, TensorData>, metadata?: Record<string, string>): Uint8Array {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of entries) {
    if (t.dtype === "STRING") throw new Error(`safetensors cannot hold the string tensor ${name}`);
    const want = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.bytes.byteLength !== want) throw new Error(`tensor ${name}: ${t.bytes.byteLength} bytes for ${t.dtype}[${t.shape}], which needs ${want}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + want] };
    off += want;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.byteLength + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let p = 8 + json.byteLength;
  for (const [, t] of entries) {
    out.set(t.bytes, p);
    p += t.bytes.byteLength;
  }
  return out;
}

/** Writes atomically and durably (src/io/durable.ts). */
export function writeSafetensors(path: string, tensors: Map<string, TensorData> | Record<string, TensorData>, metadata?: Record<string, string>): void {
  writeFileDurable(path, serializeSafetensors(tensors, metadata));
}
