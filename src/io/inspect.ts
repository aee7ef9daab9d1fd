/**
 * Lists the tensors of any checkpoint this project reads: safetensors, torch.save files (zip or
 * legacy), TensorFlow checkpoints (prefix, .index, or directory; index-only ones give names, dtypes
 * and shapes). The format is told by content (magic bytes), not by the file name.
 *
 *   safetensors     u64 LE header length N, then N bytes of JSON starting with '{'
 *   torch zip       "PK\x03\x04" (a zip archive with ARCHIVE/data.pkl)
 *   torch legacy    80 02 8a 0a + the 10-byte magic 0x1950a86a20f9469cfc6c (a pickled long)
 *   TF index        an SSTable: the last 8 bytes are 57 fb 80 8b 24 75 47 db
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { parseSafetensors } from "./safetensors.js";
import { detectPytorchFormat, readPytorchBin } from "./pytorch.js";
import { readTfIndex, readTfTensors, resolveTfPrefix, tfHasData } from "./tf/bundle.js";
import { CheckpointError, readFileBytes, type TensorData } from "./tensor-data.js";

export type CheckpointFormat = "safetensors" | "pytorch-zip" | "pytorch-legacy" | "tf-checkpoint";

export interface TensorInfo {
  name: string;
  /** safetensors dtype names; STRING for TF strings; TF's name (DT_...) for dtypes we do not read. */
  dtype: string;
  shape: number[];
  /** SHA-256 (hex) of the raw little-endian bytes in the stored dtype; numeric tensors with data only. */
  sha256?: string;
}

function head(path: string): { first: Uint8Array; last: Uint8Array; size: number } {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const first = new Uint8Array(Math.min(16, size));
    readSync(fd, first, 0, first.length, 0);
    const last = new Uint8Array(Math.min(8, size));
    readSync(fd, last, 0, last.length, size - last.length);
    return { first, last, size };
  } finally {
    closeSync(fd);
  }
}

const TF_MAGIC = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];

/** The checkpoint format at a path (a file, a TF prefix, or a directory), by content. */
export function detectFormat(path: string): CheckpointFormat {
  if (!existsSync(path) || statSync(path).isDirectory()) {
    const prefix = resolveTfPrefix(path);
    if (existsSync(`${prefix}.index`)) return "tf-checkpoint";
    throw new CheckpointError(path, existsSync(path) ? "directory holds no checkpoint this tool reads" : "no such file, and no TensorFlow checkpoint with this prefix (PREFIX.index)");
  }
  const { first, last, size } = head(path);
  const pt = detectPytorchFormat(first);
  if (pt === "zip") return "pytorch-zip";
  if (pt === "legacy") return "pytorch-legacy";
  if (last.length === 8 && TF_MAGIC.every((b, i) => last[i] === b)) return "tf-checkpoint";
  if (first.length >= 9) {
    const n = new DataView(first.buffer).getBigUint64(0, true);
    if (n > 0n && n <= BigInt(size - 8) && first[8] === 0x7b) return "safetensors";
  }
  if (/\.data-\d{5}-of-\d{5}$/.test(path) && existsSync(`${resolveTfPrefix(path)}.index`)) return "tf-checkpoint";
  throw new CheckpointError(path, "unknown checkpoint format (not safetensors, not a torch.save file, not a TensorFlow checkpoint)");
}

function info(name: string, t: TensorData): TensorInfo {
  const out: TensorInfo = { name, dtype: t.dtype, shape: [...t.shape] };
  if (t.dtype !== "STRING") out.sha256 = createHash("sha256").update(t.bytes).digest("hex");
  return out;
}

/** One entry per tensor, in file order (safetensors: header order). */
export function inspectTensors(path: string): TensorInfo[] {
  const fmt = detectFormat(path);
  if (fmt === "safetensors") {
    return [...parseSafetensors(readFileBytes(path), path).tensors].map(([n, t]) => info(n, t));
  }
  if (fmt === "pytorch-zip" || fmt === "pytorch-legacy") {
    return [...readPytorchBin(path)].map(([n, t]) => info(n, t));
  }
  const index = readTfIndex(path);
  if (!tfHasData(index)) {
    return index.entries.map((e) => ({ name: e.name, dtype: e.dtype ?? e.tfDtype, shape: [...e.shape] }));
  }
  const data = readTfTensors(index, { onUnsupported: "skip", filter: (e) => e.slices === 0 });
  return index.entries.map((e) => {
    const t = data.get(e.name);
    return t ? info(e.name, t) : { name: e.name, dtype: e.dtype ?? e.tfDtype, shape: [...e.shape] };
  });
}

/** inspectTensors as JSON lines (one object per line, trailing newline). */
export function inspectTensorsJsonl(path: string): string {
  return inspectTensors(path).map((t) => JSON.stringify(t) + "\n").join("");
}
