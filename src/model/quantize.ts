/**
 * Dynamic int8 inference (issue 18): a model's encoder Linear layers run on int8 weights (one scale per
 * output channel, src/io/quantized.ts) and int8 activations quantized per row at run time, with int32 sums
 * (native/int8.cc); embeddings, LayerNorm, attention's softmax, GELU and the task head stay float32.
 *
 *   quantizeFolder(dir, out)                                             `electra quantize`: a quantized copy of a folder
 *   loadWeights(model, readHfFolder(dir, { int8: "keep" }), { dtype })   a folder into a model, as either dtype
 *   quantizeModel(model)                                                 a float32 model's Linear layers to int8
 */
import { existsSync, realpathSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import * as ops from "../core/ops.js";
import { loadIntoStore, modelDir, readHfFolder, tokenizerFilesIn, writeHfFolder, type HfFolder, type LoadOptions, type LoadReport } from "../io/hf-folder.js";
import { QUANT_METHOD, QUANTIZATION_CONFIG, quantizeTensors, quantizeWeight, withDequantized, type QuantizedWeight } from "../io/quantized.js";
import type { ElectraModel } from "./head.js";
import { createModel, findArchitecture } from "./registry.js";

export type Dtype = "fp32" | "int8";

export function parseDtype(s: string): Dtype {
  if (s !== "fp32" && s !== "int8") throw new Error(`dtype must be fp32 or int8, got ${JSON.stringify(s)}`);
  return s;
}

/**
 * Gives the model's encoder its int8 weights: `weight(name)` returns the quantized weight of each Linear
 * (store names, Encoder.linearGroups); a layer's query, key and value become one packed [3C, C] matrix.
 */
export function attachInt8(model: ElectraModel, weight: (name: string) => QuantizedWeight): void {
  const packed = new Map<string, ops.Int8Weights>();
  for (const group of model.encoder.linearGroups()) {
    const parts = group.map(weight);
    const IC = parts[0].IC, OC = parts.reduce((n, p) => n + p.OC, 0);
    if (parts.some((p) => p.IC !== IC)) throw new Error(`int8 weights ${group.join(", ")} differ in their input size`);
    const q = new Int8Array(OC * IC), scale = new Float32Array(OC);
    let o = 0;
    for (const p of parts) {
      q.set(p.q, o * IC);
      scale.set(p.scale, o);
      o += p.OC;
    }
    packed.set(group[0], ops.int8PackWeights(q, scale, OC, IC));
  }
  model.encoder.int8 = packed;
}

/** Quantizes a float32 model's encoder Linear layers (per output channel) and runs them in int8 from now on. */
export function quantizeModel(model: ElectraModel): void {
  const { store } = model;
  attachInt8(model, (name) => {
    const [OC, IC] = store.spec(name).shape;
    return quantizeWeight(store.get(name), OC, IC, name);
  });
}

/**
 * Loads a folder (read with `int8: "keep"`) into the model, as float32 or int8: a float32 folder loads as
 * usual and, for int8, is quantized in memory; a quantized folder's int8 weights run as stored, or for
 * float32 are dequantized (weight = int8 * scale). The float32 weights of an int8 model's Linear layers are
 * not loaded (the store keeps zeros there, never read). Default dtype: the folder's own.
 */
export function loadWeights(model: ElectraModel, folder: HfFolder, opts: LoadOptions & { dtype?: Dtype } = {}): LoadReport & { dtype: Dtype } {
  const dtype = opts.dtype ?? (folder.int8 ? "int8" : "fp32");
  const load = { source: folder.weightsFile, ...opts };
  if (!folder.int8) {
    const report = loadIntoStore(model.store, folder.tensors, load);
    if (dtype === "int8") quantizeModel(model);
    return { ...report, dtype };
  }
  if (dtype === "fp32") return { ...loadIntoStore(model.store, withDequantized(folder.tensors, folder.int8), load), dtype };
  // int8 weights under the store's names (a bare ElectraModel's file has them without "electra.")
  const int8 = new Map<string, QuantizedWeight>();
  for (const [name, w] of folder.int8) {
    const target = model.store.has(name) ? name : model.store.has(`electra.${name}`) ? `electra.${name}` : null;
    if (target) int8.set(target, w);
    else if (!(opts.allowUnexpected ?? []).some((p) => name.startsWith(p))) throw new Error(`${folder.weightsFile}: the int8 tensor ${name} is not part of this model`);
  }
  const linear = model.encoder.linearGroups().flat();
  const missing = linear.filter((n) => !int8.has(n));
  if (missing.length) throw new Error(`${folder.weightsFile}: no int8 weights for ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ` and ${missing.length - 3} more` : ""}`);
  const report = loadIntoStore(model.store, folder.tensors, { ...load, allowMissing: [...(opts.allowMissing ?? []), ...linear] });
  attachInt8(model, (name) => {
    const w = int8.get(name)!;
    const shape = model.store.spec(name).shape;
    if (w.OC !== shape[0] || w.IC !== shape[1]) throw new Error(`${folder.weightsFile}: ${name} is [${w.OC}, ${w.IC}], the model's is [${shape}]`);
    return w;
  });
  return { ...report, missing: report.missing.filter((n) => !linear.includes(n)), loaded: [...report.loaded, ...linear], dtype };
}

/**
 * Writes OUT, a copy of the model folder IN (or a finetune --out folder) whose encoder Linear weights are int8
 * with per-output-channel scales (src/io/quantized.ts), config.json saying so; it loads like any folder and
 * runs in int8 (Electra.load, classify, ner, evaluate, serve).
 */
export function quantizeFolder(input: string, out: string): { quantized: number; tensors: number; out: string; bytes: number } {
  const d = modelDir(input);
  if (existsSync(out) && realpathSync(out) === realpathSync(d)) throw new Error(`OUT_DIR ${out} is the model folder itself: write the quantized copy elsewhere`);
  const f = readHfFolder(d, { int8: "keep" });
  if (f.int8) throw new Error(`${d} is quantized already (config.json's quantization_config)`);
  const arch = findArchitecture(f.config.architectures);
  if (arch) loadIntoStore(createModel(arch.name, arch.completeConfig?.(f.config, (n) => f.tensors.has(n)) ?? f.config).store, f.tensors, { source: f.weightsFile });
  const { tensors, quantized } = quantizeTensors(f.tensors);
  writeHfFolder(resolve(out), tensors, { ...f.rawConfig, quantization_config: QUANTIZATION_CONFIG },
    { tokenizerFiles: tokenizerFilesIn(d), metadata: { quantization: QUANT_METHOD } });
  return { quantized, tensors: tensors.size, out, bytes: statSync(join(out, "model.safetensors")).size };
}
