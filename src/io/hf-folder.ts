/**
 * Hugging Face model folders, in and out:
 *   config.json                      the model config (src/model/config.ts checks it)
 *   model.safetensors | pytorch_model.bin   weights under Hugging Face names (safetensors preferred, as transformers)
 *   vocab.txt and/or tokenizer.json  the WordPiece vocabulary
 * Loading into a model is strict by default: missing and unexpected keys are named in the error. The tied
 * generator_lm_head.weight may be present or absent (it is the word embedding matrix).
 */
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, basename } from "node:path";
import { configToJson, parseConfig, type ElectraConfig } from "../model/config.js";
import type { ParamStore } from "../model/params.js";
import { newestComplete, writeFolderDurable } from "./durable.js";
import { readPytorchBin, writePytorchZip } from "./pytorch.js";
import { quantizationOf, splitQuantized, withDequantized, type QuantizedWeight } from "./quantized.js";
import { readSafetensors, serializeSafetensors } from "./safetensors.js";
import { fromFloat32, numel, toFloat32, type TensorData } from "./tensor-data.js";
import { jsonErrorMessage } from "../data/jsonl.js";

export interface HfFolder {
  dir: string;
  config: ElectraConfig;
  /** the parsed config.json as written (architectures, id2label, ...) */
  rawConfig: Record<string, unknown>;
  tensors: Map<string, TensorData>;
  weightsFile: string;
  /** tokenizer.json if present, else vocab.txt, else null */
  tokenizerFile: string | null;
  /** tokenizer_config.json's model_max_length (the length a fine-tuned model was trained at), if it says one */
  modelMaxLength?: number;
  /** a quantized folder (`electra quantize`, src/io/quantized.ts): config.json's quantization_config */
  quantization?: Record<string, unknown>;
  /** with `int8: "keep"`, a quantized folder's int8 weights (file names), which `tensors` then lacks */
  int8?: Map<string, QuantizedWeight>;
}

export interface ReadOptions {
  /** a quantized folder's int8 weights: "dequantize" (default: float32 in `tensors`, as any folder) or "keep" (in `int8`) */
  int8?: "dequantize" | "keep";
}

/** A model folder, or a `finetune --out` folder holding one in model/. */
export function modelDir(dir: string): string {
  if (!existsSync(join(dir, "config.json")) && existsSync(join(dir, "model", "config.json"))) return join(dir, "model");
  return dir;
}

export function readHfFolder(given: string, opts: ReadOptions = {}): HfFolder {
  // a save interrupted between its renames leaves the folder under DIR.new or DIR.old (src/io/durable.ts)
  const dir = newestComplete(given) ?? given;
  if (!existsSync(dir)) throw new Error(`model folder ${dir} does not exist`);
  const cfgPath = join(dir, "config.json");
  if (!existsSync(cfgPath)) throw new Error(`${dir} has no config.json: not a Hugging Face model folder`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(cfgPath, "utf8"));
  } catch (e) {
    throw new Error(`${cfgPath} is not valid JSON: ${jsonErrorMessage(e)}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error(`${cfgPath}: expected a JSON object of the model's settings, got ${raw === null ? "null" : Array.isArray(raw) ? "an array" : typeof raw}`);
  const quantization = quantizationOf(raw, cfgPath);
  if (quantization) {
    const { quantization_config: _, ...rest } = raw;
    raw = rest;
  }
  const config = parseConfig(raw, cfgPath);
  const st = join(dir, "model.safetensors"), bin = join(dir, "pytorch_model.bin");
  let tensors: Map<string, TensorData>, weightsFile: string;
  for (const p of [st, bin]) if (existsSync(p) && !statSync(p).isFile()) throw new Error(`${p} is not a file`);
  if (existsSync(st)) {
    tensors = readSafetensors(st).tensors;
    weightsFile = st;
  } else if (existsSync(bin)) {
    tensors = readPytorchBin(bin);
    weightsFile = bin;
  } else {
    throw new Error(`${dir} has neither model.safetensors nor pytorch_model.bin`);
  }
  const tj = join(dir, "tokenizer.json"), vt = join(dir, "vocab.txt");
  const tokenizerFile = existsSync(tj) ? tj : existsSync(vt) ? vt : null;
  const folder: HfFolder = { dir, config, rawConfig: raw, tensors, weightsFile, tokenizerFile, modelMaxLength: modelMaxLengthIn(dir, config.max_position_embeddings) };
  if (!quantization) return folder;
  const split = splitQuantized(tensors, weightsFile);
  if (opts.int8 === "keep") return { ...folder, quantization, tensors: split.tensors, int8: split.int8 };
  return { ...folder, quantization, tensors: withDequantized(split.tensors, split.int8) };
}

/**
 * tokenizer_config.json's model_max_length, when it is a length the model can take (transformers writes
 * 1e30 for "no limit"; anything above max_position_embeddings is no limit here either).
 */
function modelMaxLengthIn(dir: string, maxPositions: number): number | undefined {
  const p = join(dir, "tokenizer_config.json");
  if (!existsSync(p)) return undefined;
  let n: unknown;
  try {
    n = (JSON.parse(readFileSync(p, "utf8")) as { model_max_length?: unknown }).model_max_length;
  } catch (e) {
    throw new Error(`${p} is not valid JSON: ${jsonErrorMessage(e)}`);
  }
  return typeof n === "number" && Number.isInteger(n) && n >= 3 && n <= maxPositions ? n : undefined;
}

export interface LoadOptions {
  /** prefix of the model's names in the store ("" for a lone model, "discriminator." in pretraining) */
  prefix?: string;
  /** store names (without prefix) that may stay unloaded: e.g. a new task head ("classifier.") */
  allowMissing?: string[];
  /** checkpoint names that may be ignored: e.g. another model's head */
  allowUnexpected?: string[];
  /** the file's name, for errors */
  source?: string;
}

export interface LoadReport {
  loaded: string[];
  missing: string[];
  unexpected: string[];
}

const TIED = "generator_lm_head.weight";

/**
 * Copies checkpoint tensors into the store (converting F16/BF16/F64 to float32). Keys without the "electra."
 * prefix (a bare ElectraModel checkpoint) are accepted for the encoder. Throws, naming them, on missing or
 * unexpected keys not allowed by the options, and on shape mismatches.
 */
export function loadIntoStore(store: ParamStore, tensors: Map<string, TensorData>, opts: LoadOptions = {}): LoadReport {
  const prefix = opts.prefix ?? "";
  const src = opts.source ?? "checkpoint";
  const wanted = new Map<string, string>(); // local name -> store name
  for (const [name] of store.allNames()) if (name.startsWith(prefix)) wanted.set(name.slice(prefix.length), name);
  const loaded = new Set<string>(), unexpected: string[] = [];
  const problems: string[] = [], shapes: ShapeMismatch[] = [];
  for (const [key, td] of tensors) {
    // transformers 3.x to 4.30 saved this buffer (arange(max_position_embeddings)) with the weights; it is no parameter
    if (/(?:^|\.)embeddings\.position_ids$/.test(key) && td.dtype === "I64") continue;
    let local = key;
    if (!wanted.has(local) && wanted.has(`electra.${local}`)) local = `electra.${local}`;
    const target = wanted.get(local);
    if (!target) {
      unexpected.push(key);
      continue;
    }
    const spec = store.spec(target);
    if (td.shape.join() !== spec.shape.join()) {
      shapes.push({ key: local, got: td.shape, want: spec.shape });
      continue;
    }
    if (td.dtype === "STRING" || numel(td.shape) !== spec.size) {
      problems.push(`${key}: ${td.dtype} tensor cannot be loaded as float32`);
      continue;
    }
    const values = toFloat32(td);
    const at = firstNonFinite(values);
    if (at >= 0) throw new Error(`${src}: tensor ${key} holds ${values[at]} at element ${at} (of [${td.shape}]): the weights are damaged, or saved from a run that diverged`);
    store.get(target).set(values);
    loaded.add(spec.name); // the storage, so that aliases count as loaded
  }
  const missing: string[] = [];
  for (const [local, target] of wanted) {
    if (loaded.has(store.spec(target).name)) continue;
    if (local === TIED) continue; // tied: loaded through the word embeddings, or reported there
    if (shapes.some((m) => m.key === local)) continue; // present, reported with its shape
    missing.push(local);
  }
  const allowed = (n: string, list?: string[]) => (list ?? []).some((p) => n.startsWith(p));
  const badMissing = missing.filter((n) => !allowed(n, opts.allowMissing));
  const badUnexpected = unexpected.filter((n) => !allowed(n, opts.allowUnexpected));
  const sizes = badMissing.length || badUnexpected.length || shapes.length ? configDifferences(shapes, [...wanted.keys()], [...tensors.keys()]) : [];
  if (sizes.length) problems.push(`the model's config says ${sizes.map((d) => `${d.key} ${d.config}`).join(", ")}; the weights have ${sizes.map((d) => `${d.key} ${d.weights}`).join(", ")}`);
  if (shapes.length) problems.push(`${shapes.length} tensor(s) of another shape (${listed(shapes.map((m) => `${m.key} [${m.got}] in the file, [${m.want}] in the model`))})`);
  if (badMissing.length) problems.push(`missing from ${src}: ${listed(badMissing)}`);
  if (badUnexpected.length) problems.push(`unexpected in ${src} (not part of this model): ${listed(badUnexpected)}`);
  if (problems.length) throw new Error(`cannot load ${src}: ${problems.join("; ")}`);
  return { loaded: [...loaded], missing, unexpected };
}

/** The index of the first NaN or infinity, -1 if none. */
function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

interface ShapeMismatch {
  key: string;
  got: number[];
  want: number[];
}

/** The first few names of a long list, and how many more (a whole layer stack would be 200 names). */
function listed(names: string[], n = 3): string {
  return names.length <= n ? names.join(", ") : `${names.slice(0, n).join(", ")} and ${names.length - n} more`;
}

/** The config key behind each axis of the tensors whose shape tells the model's sizes. */
const SIZE_AXES: [RegExp, (string | null)[]][] = [
  [/embeddings\.word_embeddings\.weight$/, ["vocab_size", "embedding_size"]],
  [/embeddings\.position_embeddings\.weight$/, ["max_position_embeddings", "embedding_size"]],
  [/embeddings\.token_type_embeddings\.weight$/, ["type_vocab_size", "embedding_size"]],
  [/attention\.self\.query\.weight$/, ["hidden_size", "hidden_size"]],
  [/intermediate\.dense\.weight$/, ["intermediate_size", "hidden_size"]],
];

/** The encoder layer numbers among the names ("electra.encoder.layer.3.output..." -> 3). */
function layerNumbers(names: string[]): Set<number> {
  const out = new Set<number>();
  for (const n of names) {
    const m = /(?:^|\.)encoder\.layer\.(\d+)\./.exec(n);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

/** k when the set is exactly {0, ..., k-1}; null otherwise (a gap: not a whole stack of layers). */
function stackHeight(layers: Set<number>): number | null {
  for (let i = 0; i < layers.size; i++) if (!layers.has(i)) return null;
  return layers.size;
}

/**
 * Reads a config/weights mismatch as the sizes that differ ("hidden_size: 256 in the config, 128 in the
 * weights"), from the tensors' shapes and from the number of encoder layers on each side (only when both
 * are whole stacks 0..k-1 of different heights: a tensor missing from one layer is listed by name instead).
 */
function configDifferences(shapes: ShapeMismatch[], modelNames: string[], fileNames: string[]): { key: string; config: number; weights: number }[] {
  const found = new Map<string, { config: number; weights: number }>();
  for (const m of shapes) {
    const axes = SIZE_AXES.find(([re]) => re.test(m.key))?.[1];
    axes?.forEach((key, i) => {
      if (key && m.got[i] !== m.want[i] && !found.has(key)) found.set(key, { config: m.want[i], weights: m.got[i] });
    });
  }
  const modelLayers = stackHeight(layerNumbers(modelNames)), fileLayers = stackHeight(layerNumbers(fileNames));
  if (modelLayers !== null && fileLayers !== null && fileLayers > 0 && modelLayers !== fileLayers) {
    found.set("num_hidden_layers", { config: modelLayers, weights: fileLayers });
  }
  return [...found].map(([key, v]) => ({ key, ...v }));
}

/** A model's tensors under Hugging Face names (prefix stripped, the tied lm head left out, as transformers saves). */
export function exportTensors(store: ParamStore, prefix = ""): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const [name, spec] of store.allNames()) {
    if (!name.startsWith(prefix)) continue;
    const local = name.slice(prefix.length);
    if (local === TIED) continue;
    out.set(local, fromFloat32(store.get(name), spec.shape));
  }
  return out;
}

export interface SaveOptions {
  prefix?: string;
  /** the Hugging Face class name written into config.json (src/model/registry.ts) */
  architecture: string;
  /** vocab.txt and/or tokenizer.json files to copy beside the weights (under those names: see tokenizerFileNames) */
  tokenizerFiles?: string[];
  metadata?: Record<string, string>;
  /** written as tokenizer_config.json's model_max_length: the sequence length the model was fine-tuned at */
  modelMaxLength?: number;
}

/** Names loaders look for in a model folder; other tokenizer files are copied under one of the first two. */
export const TOKENIZER_FILE_NAMES = ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] as const;

/** The tokenizer files a model folder has (those of TOKENIZER_FILE_NAMES that exist), to carry into a new folder. */
export function tokenizerFilesIn(dir: string): string[] {
  return TOKENIZER_FILE_NAMES.map((n) => join(dir, n)).filter((p) => existsSync(p));
}

/**
 * The name each tokenizer file gets in a saved folder: its own if it is one loaders look for, otherwise
 * tokenizer.json (a .json file) or vocab.txt (anything else, e.g. `my-vocab-8k.txt`), so the folder
 * loads by itself. Two files claiming the same name is an error.
 */
export function tokenizerFileNames(files: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  const taken = new Map<string, string>();
  for (const f of files) {
    const own = basename(f);
    const name = (TOKENIZER_FILE_NAMES as readonly string[]).includes(own) ? own : own.endsWith(".json") ? "tokenizer.json" : "vocab.txt";
    const prev = taken.get(name);
    if (prev !== undefined) throw new Error(`tokenizer files ${prev} and ${f} would both be saved as ${name}`);
    taken.set(name, f);
    out.push([f, name]);
  }
  return out;
}

/**
 * Writes a Hugging Face folder atomically and durably (src/io/durable.ts): a kill at any moment leaves the
 * previous folder or the new one, complete, and readHfFolder finds it.
 */
export function writeHfFolder(dir: string, tensors: Map<string, TensorData>, config: Record<string, unknown>,
  opts: { tokenizerFiles?: string[]; metadata?: Record<string, string>; format?: "safetensors" | "bin"; modelMaxLength?: number } = {}): void {
  writeFolderDurable(dir, (tmp) => {
    writeFileSync(join(tmp, "config.json"), JSON.stringify(config, null, 2) + "\n");
    if (opts.format === "bin") writePytorchZip(tensors, join(tmp, "pytorch_model.bin"));
    else writeFileSync(join(tmp, "model.safetensors"), serializeSafetensors(tensors, { format: "pt", ...opts.metadata }));
    for (const [f, name] of tokenizerFileNames(opts.tokenizerFiles ?? [])) copyFileSync(f, join(tmp, name));
    if (opts.modelMaxLength !== undefined) {
      // the copied tokenizer_config.json's other settings are kept
      const p = join(tmp, "tokenizer_config.json");
      const tc = existsSync(p) ? (JSON.parse(readFileSync(p, "utf8")) as Record<string, unknown>) : {};
      writeFileSync(p, JSON.stringify({ ...tc, model_max_length: opts.modelMaxLength }, null, 2) + "\n");
    }
  });
}

/** Saves a model of the store (names under `prefix`) as a Hugging Face folder. */
export function saveHfFolder(dir: string, store: ParamStore, config: ElectraConfig, opts: SaveOptions): void {
  writeHfFolder(dir, exportTensors(store, opts.prefix ?? ""), { ...configToJson(config), architectures: [opts.architecture] }, opts);
}
