/**
 * The stored form of a dynamic-int8 model (issue 18; `electra quantize`): a Hugging Face folder whose encoder
 * Linear weights are int8 with one scale per output channel,
 *   NAME.weight        I8  [OC, IC]   in [-127, 127], symmetric (no zero point)
 *   NAME.weight_scale  F32 [OC]       weight[o, :] = NAME.weight[o, :] * scale[o]
 * everything else (embeddings, LayerNorm, biases, the task head) float32 as in any folder, and config.json's
 * `quantization_config` saying so (QUANTIZATION_CONFIG). transformers knows no quantizer of that quant_method,
 * so it refuses the folder instead of reading int8 values as weights. Activations are quantized at run time
 * (src/model/quantize.ts, native/int8.cc), so nothing about them is stored.
 */
import { numel, toFloat32, type TensorData } from "./tensor-data.js";

export const QUANT_METHOD = "dynamic-int8";
export const SCALE_SUFFIX = "_scale";

/** config.json's record of what a quantized folder holds */
export const QUANTIZATION_CONFIG = {
  quant_method: QUANT_METHOD,
  weights: "int8 in [-127, 127], symmetric, one scale per output channel: NAME.weight (I8 [OC, IC]) * NAME.weight_scale (F32 [OC])",
  activations: "int8, symmetric, one scale per row (token), computed at run time",
  accumulation: "int32",
  quantized: "the encoder's Linear layers: attention query, key, value and output, intermediate, output, embeddings_project",
  float32: "embeddings, LayerNorm, biases, the task head; attention (softmax) and GELU run in float32",
} as const;

/** The encoder Linear weights that quantization turns into int8. */
export function isQuantizable(name: string): boolean {
  return /(^|\.)(encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)|embeddings_project)\.weight$/.test(name);
}

export interface QuantizedWeight {
  /** [OC, IC] in [-127, 127] */
  q: Int8Array;
  /** [OC]: weight = q * scale */
  scale: Float32Array;
  OC: number;
  IC: number;
}

/**
 * Symmetric per-output-channel quantization of w[OC, IC]: scale[o] = max|w[o, :]| / 127 (float32),
 * q = round(w / scale) (halves away from zero), so each channel's largest weight becomes +-127. A zero
 * channel gets scale 0. Non-finite weights are an error.
 */
export function quantizeWeight(w: Float32Array, OC: number, IC: number, name = "weight"): QuantizedWeight {
  if (w.length !== OC * IC) throw new Error(`${name}: ${w.length} values for [${OC}, ${IC}]`);
  const q = new Int8Array(OC * IC), scale = new Float32Array(OC);
  for (let o = 0; o < OC; o++) {
    let amax = 0;
    for (let k = 0; k < IC; k++) {
      const v = w[o * IC + k];
      if (!Number.isFinite(v)) throw new Error(`${name}[${o}, ${k}] = ${v}: cannot quantize a non-finite weight`);
      amax = Math.max(amax, Math.abs(v));
    }
    scale[o] = amax / 127;
    if (amax === 0) continue;
    const s = scale[o];
    for (let k = 0; k < IC; k++) {
      const r = w[o * IC + k] / s;
      q[o * IC + k] = Math.max(-127, Math.min(127, Math.sign(r) * Math.round(Math.abs(r))));
    }
  }
  return { q, scale, OC, IC };
}

/** weight[o, k] = q[o, k] * scale[o] in float32 */
export function dequantizeWeight(w: QuantizedWeight): Float32Array {
  const out = new Float32Array(w.OC * w.IC);
  for (let o = 0; o < w.OC; o++) for (let k = 0; k < w.IC; k++) out[o * w.IC + k] = w.q[o * w.IC + k] * w.scale[o];
  return out;
}

/** A folder's tensors with its Linear weights quantized (the form `electra quantize` writes). */
export function quantizeTensors(tensors: Map<string, TensorData>): { tensors: Map<string, TensorData>; quantized: number } {
  if ([...tensors.keys()].some((n) => n.endsWith(".weight" + SCALE_SUFFIX))) throw new Error("the weights are quantized already");
  const out = new Map<string, TensorData>();
  let quantized = 0;
  for (const [name, t] of tensors) {
    if (!isQuantizable(name) || t.shape.length !== 2 || t.dtype === "STRING") {
      out.set(name, t);
      continue;
    }
    const [OC, IC] = t.shape;
    const w = quantizeWeight(toFloat32(t), OC, IC, name);
    out.set(name, { dtype: "I8", shape: [OC, IC], bytes: new Uint8Array(w.q.buffer) });
    out.set(name + SCALE_SUFFIX, { dtype: "F32", shape: [OC], bytes: new Uint8Array(w.scale.buffer) });
    quantized++;
  }
  if (!quantized) throw new Error("no encoder Linear weights (encoder.layer.N.*.weight) to quantize");
  return { tensors: out, quantized };
}

/**
 * Splits a quantized folder's tensors into the int8 weights (with their scales) and the rest. Throws, naming
 * it, on an int8 weight without its scale (or the reverse), or of a shape its scale does not fit.
 */
export function splitQuantized(tensors: Map<string, TensorData>, where: string): { tensors: Map<string, TensorData>; int8: Map<string, QuantizedWeight> } {
  const rest = new Map<string, TensorData>(), int8 = new Map<string, QuantizedWeight>();
  for (const [name, t] of tensors) {
    if (name.endsWith(SCALE_SUFFIX) && tensors.get(name.slice(0, -SCALE_SUFFIX.length))?.dtype === "I8") continue;
    if (t.dtype !== "I8") {
      rest.set(name, t);
      continue;
    }
    const s = tensors.get(name + SCALE_SUFFIX);
    if (!s) throw new Error(`${where}: the int8 tensor ${name} has no ${name}${SCALE_SUFFIX}`);
    if (t.shape.length !== 2 || s.shape.join() !== String(t.shape[0])) {
      throw new Error(`${where}: ${name} [${t.shape}] and ${name}${SCALE_SUFFIX} [${s.shape}] are not [OC, IC] and [OC]`);
    }
    const [OC, IC] = t.shape;
    const q = new Int8Array(numel(t.shape));
    q.set(new Int8Array(t.bytes.buffer, t.bytes.byteOffset, q.length));
    const bad = q.indexOf(-128);
    if (bad >= 0) throw new Error(`${where}: ${name} holds -128 at [${Math.floor(bad / IC)}, ${bad % IC}]; int8 weights are in [-127, 127] (the file is damaged or not written by electra quantize)`);
    const scale = toFloat32(s);
    for (let o = 0; o < OC; o++) {
      if (!(Number.isFinite(scale[o]) && scale[o] >= 0 && scale[o] < 1e30)) throw new Error(`${where}: ${name}${SCALE_SUFFIX}[${o}] = ${scale[o]}: a scale is a number from 0 to 1e30 (the file is damaged)`);
    }
    int8.set(name, { q, scale, OC, IC });
  }
  for (const name of tensors.keys()) {
    if (name.endsWith(".weight" + SCALE_SUFFIX) && !int8.has(name.slice(0, -SCALE_SUFFIX.length))) {
      throw new Error(`${where}: ${name} scales no int8 tensor`);
    }
  }
  return { tensors: rest, int8 };
}

/** The tensors with the int8 weights turned back into float32 (weight = q * scale). */
export function withDequantized(tensors: Map<string, TensorData>, int8: Map<string, QuantizedWeight>): Map<string, TensorData> {
  const out = new Map(tensors);
  for (const [name, w] of int8) {
    const f = dequantizeWeight(w);
    out.set(name, { dtype: "F32", shape: [w.OC, w.IC], bytes: new Uint8Array(f.buffer) });
  }
  return out;
}

/**
 * config.json's quantization_config: null for a float folder, the record for ours; another method is an error
 * (its weights would be read as something they are not).
 */
export function quantizationOf(raw: Record<string, unknown>, where: string): Record<string, unknown> | null {
  const q = raw.quantization_config;
  if (q === undefined || q === null) return null;
  const method = (q as { quant_method?: unknown }).quant_method;
  if (typeof q !== "object" || method !== QUANT_METHOD) {
    throw new Error(`${where}: quantization_config.quant_method is ${JSON.stringify(method)}; electra-ts reads only its own "${QUANT_METHOD}" folders (electra quantize)`);
  }
  return q as Record<string, unknown>;
}
