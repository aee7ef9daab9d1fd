/**
 * Official TensorFlow ELECTRA (and BERT) variable names ↔ Hugging Face state-dict keys.
 *
 * One TF checkpoint of ELECTRA pretraining holds both models:
 *   electra/embeddings/...                 the embedding block both models share
 *   electra/embeddings_project, electra/encoder/layer_N/...   the discriminator
 *   discriminator_predictions/dense, /dense_1                 the discriminator head
 *   generator/embeddings_project, generator/encoder/...       the generator
 *   generator_predictions/dense, /LayerNorm, /output_bias     the generator head
 *   .../adam_m, .../adam_v, global_step, temperature          optimizer and bookkeeping (skipped)
 * Hugging Face names the generator's body electra.* as well, so the part ("discriminator" or
 * "generator") picks which TF scopes become electra.*. Leaves: kernel → weight (transposed: TF keeps
 * [in, out], torch [out, in]), gamma → weight, beta → bias, X_embeddings → X_embeddings.weight;
 * layer_N → layer.N; dense_1 → dense_prediction; generator_predictions/output_bias → generator_lm_head.bias.
 * BERT checkpoints (bert/..., cls/...) map to Hugging Face's BERT names (BertForPreTraining without
 * its "bert." prefix unless opts.bertPrefix is given): cls/predictions/output_bias → cls.predictions.bias,
 * cls/seq_relationship/output_weights → cls.seq_relationship.weight (already [out, in]: not transposed).
 * The rules are the tables below; both directions use them.
 */
import { DTYPE_BYTES, type TensorData } from "../tensor-data.js";

export type ElectraPart = "discriminator" | "generator";

interface ScopeRule {
  tf: string;
  /** HF prefix for each part; null: the scope belongs to the other part. */
  discriminator: string | null;
  generator: string | null;
  /** Shared between the parts (a part's own copy, if a checkpoint has one, wins). */
  shared?: boolean;
  /** BERT scope: the HF prefix is opts.bertPrefix + this. */
  bert?: boolean;
}

/** TF scope → HF prefix. First match wins, so the more specific scopes come first. */
const SCOPES: readonly ScopeRule[] = [
  { tf: "electra/embeddings/", discriminator: "electra.embeddings.", generator: "electra.embeddings.", shared: true },
  { tf: "electra/", discriminator: "electra.", generator: null },
  { tf: "generator/", discriminator: null, generator: "electra." },
  { tf: "discriminator_predictions/", discriminator: "discriminator_predictions.", generator: null },
  { tf: "generator_predictions/", discriminator: null, generator: "generator_predictions." },
  { tf: "bert/", discriminator: "", generator: "", bert: true },
  { tf: "cls/", discriminator: "cls.", generator: "cls.", bert: true },
];

/** Whole names with their own HF name (checked before the general rules). */
const SPECIAL: readonly { tf: string; hf: string; part?: ElectraPart; bert?: boolean }[] = [
  { tf: "generator_predictions/output_bias", hf: "generator_lm_head.bias", part: "generator" },
  { tf: "cls/predictions/output_bias", hf: "cls.predictions.bias", bert: true },
  { tf: "cls/seq_relationship/output_bias", hf: "cls.seq_relationship.bias", bert: true },
  { tf: "cls/seq_relationship/output_weights", hf: "cls.seq_relationship.weight", bert: true },
];

/** Path components renamed inside a scope (TF ↔ HF). */
const COMPONENTS: readonly { tf: RegExp; hf: string; hfRe: RegExp; tfOut: string }[] = [
  { tf: /^layer_(\d+)$/, hf: "layer.$1", hfRe: /^layer\.(\d+)$/, tfOut: "layer_$1" },
  { tf: /^dense_1$/, hf: "dense_prediction", hfRe: /^dense_prediction$/, tfOut: "dense_1" },
];

/** The last TF component → the HF suffix; transpose for 2-D kernels. */
const LEAVES: Readonly<Record<string, { hf: string; transpose: boolean }>> = {
  kernel: { hf: "weight", transpose: true },
  bias: { hf: "bias", transpose: false },
  gamma: { hf: "weight", transpose: false },
  beta: { hf: "bias", transpose: false },
  word_embeddings: { hf: "word_embeddings.weight", transpose: false },
  position_embeddings: { hf: "position_embeddings.weight", transpose: false },
  token_type_embeddings: { hf: "token_type_embeddings.weight", transpose: false },
};

/** Components that mark optimizer state (anywhere in the name). */
const OPTIMIZER = new Set(["adam_m", "adam_v", "Adam", "Adam_1", "Momentum", "lamb_m", "lamb_v", "beta1_power", "beta2_power"]);
/** Whole names (or last components) that are bookkeeping, not weights. */
const BOOKKEEPING = new Set(["global_step", "temperature", "_CHECKPOINTABLE_OBJECT_GRAPH"]);

export type TfNameMapping =
  | { kind: "param"; hf: string; transpose: boolean; shared: boolean }
  | { kind: "skip"; reason: "optimizer state" | "bookkeeping" | "other part" }
  | { kind: "unknown" };

export interface TfNameOptions {
  /** Prefix for the HF names of bert/... variables (default "": embeddings.word_embeddings.weight). */
  bertPrefix?: string;
}

/** What a TF variable name is for one part: a parameter (HF name, transpose?), skipped (why), or unknown. */
export function describeTfName(name: string, part: ElectraPart, opts: TfNameOptions = {}): TfNameMapping {
  const comps = name.split("/");
  if (comps.some((c) => OPTIMIZER.has(c))) return { kind: "skip", reason: "optimizer state" };
  if (BOOKKEEPING.has(name) || BOOKKEEPING.has(comps[comps.length - 1])) return { kind: "skip", reason: "bookkeeping" };
  const bertPrefix = opts.bertPrefix ?? "";
  for (const s of SPECIAL) {
    if (s.tf !== name) continue;
    if (s.part && s.part !== part) return { kind: "skip", reason: "other part" };
    return { kind: "param", hf: (s.bert ? bertPrefix : "") + s.hf, transpose: false, shared: false };
  }
  const scope = SCOPES.find((s) => name.startsWith(s.tf));
  if (!scope) return { kind: "unknown" };
  const prefix = scope[part];
  if (prefix === null) return { kind: "skip", reason: "other part" };
  const rest = name.slice(scope.tf.length).split("/");
  const leaf = LEAVES[rest[rest.length - 1]];
  if (!leaf || rest.some((c) => c === "")) return { kind: "unknown" };
  const body = rest.slice(0, -1).map((c) => {
    for (const r of COMPONENTS) if (r.tf.test(c)) return c.replace(r.tf, r.hf);
    return c;
  });
  const hf = (scope.bert ? bertPrefix : "") + prefix + [...body, leaf.hf].join(".");
  return { kind: "param", hf, transpose: leaf.transpose, shared: scope.shared ?? false };
}

/** The HF name of a TF variable for one part, or null when it is skipped (optimizer state, bookkeeping, the other part) or unknown. */
export function mapTfName(name: string, part: ElectraPart, opts: TfNameOptions = {}): string | null {
  const m = describeTfName(name, part, opts);
  return m.kind === "param" ? m.hf : null;
}

/** The TF name of an HF ELECTRA key for one part (and whether to transpose), or null for generator_lm_head.weight (tied to the word embeddings). */
export function mapHfName(hf: string, part: ElectraPart): { tf: string; transpose: boolean } | null {
  for (const s of SPECIAL) if (s.hf === hf && !s.bert && (!s.part || s.part === part)) return { tf: s.tf, transpose: false };
  if (part === "generator" && hf === "generator_lm_head.weight") return null;
  const scope = SCOPES.find((s) => !s.bert && s[part] !== null && hf.startsWith(s[part] as string));
  if (!scope) throw new Error(`no TensorFlow name for ${part} key ${hf}`);
  const comps = hf.slice((scope[part] as string).length).split(".");
  // re-join "layer.N" before splitting into TF components
  const parts: string[] = [];
  for (let i = 0; i < comps.length; i++) {
    if (comps[i] === "layer" && /^\d+$/.test(comps[i + 1] ?? "")) parts.push(`layer.${comps[++i]}`);
    else parts.push(comps[i]);
  }
  const last = parts.pop();
  const owner = parts[parts.length - 1] ?? "";
  let leaf: string;
  let transpose = false;
  if (last === "weight" && owner.endsWith("_embeddings") && LEAVES[owner]) {
    parts.pop();
    leaf = owner;
  } else if (owner === "LayerNorm" && (last === "weight" || last === "bias")) {
    leaf = last === "weight" ? "gamma" : "beta";
  } else if (last === "weight") {
    leaf = "kernel";
    transpose = true;
  } else if (last === "bias") {
    leaf = "bias";
  } else {
    throw new Error(`no TensorFlow name for ${part} key ${hf}`);
  }
  const body = parts.map((c) => {
    for (const r of COMPONENTS) if (r.hfRe.test(c)) return c.replace(r.hfRe, r.tfOut);
    return c;
  });
  return { tf: scope.tf + [...body, leaf].join("/"), transpose };
}

/** A 2-D tensor transposed (any numeric dtype); other ranks are returned as they are. */
export function transpose2d(t: TensorData): TensorData {
  if (t.shape.length !== 2) return t;
  if (t.dtype === "STRING") throw new Error("cannot transpose a string tensor");
  const [r, c] = t.shape;
  const es = DTYPE_BYTES[t.dtype];
  const out = new Uint8Array(t.bytes.length);
  if (es === 4 && t.bytes.byteOffset % 4 === 0) {
    const src = new Uint32Array(t.bytes.buffer, t.bytes.byteOffset, r * c);
    const dst = new Uint32Array(out.buffer);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) dst[j * r + i] = src[i * c + j];
  } else {
    for (let i = 0; i < r; i++) {
      for (let j = 0; j < c; j++) {
        const s = (i * c + j) * es;
        const d = (j * r + i) * es;
        for (let b = 0; b < es; b++) out[d + b] = t.bytes[s + b];
      }
    }
  }
  return { dtype: t.dtype, shape: [c, r], bytes: out };
}

export interface TfToHfOptions extends TfNameOptions {
  /** Generator only: also emit generator_lm_head.weight (the tied word embeddings), as HF state dicts have it. Default true. */
  tiedLmHead?: boolean;
  /** Throw on variables no rule knows (default true); false skips them. */
  strict?: boolean;
}

/**
 * The HF state dict of one part from TF-named tensors: kernels transposed, optimizer state and the
 * other part's variables dropped. The shared electra/embeddings go to both parts (a part-specific
 * generator/embeddings, if present, wins for the generator).
 */
export function tfToHf(tensors: Map<string, TensorData>, part: ElectraPart, opts: TfToHfOptions = {}): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  const fromShared = new Set<string>();
  const unknown: string[] = [];
  for (const [name, t] of tensors) {
    const m = describeTfName(name, part, opts);
    if (m.kind === "unknown") {
      unknown.push(name);
      continue;
    }
    if (m.kind !== "param") continue;
    if (out.has(m.hf)) {
      if (m.shared) continue;
      if (!fromShared.has(m.hf)) throw new Error(`TF variables map to the same ${part} key ${m.hf} (one of them: ${name})`);
    }
    if (m.transpose && t.shape.length !== 2) throw new Error(`TF variable ${name} is a kernel of shape [${t.shape}], expected 2-D`);
    out.set(m.hf, m.transpose ? transpose2d(t) : t);
    if (m.shared) fromShared.add(m.hf);
    else fromShared.delete(m.hf);
  }
  if (unknown.length && (opts.strict ?? true)) {
    throw new Error(`${unknown.length} TF variables match no ELECTRA/BERT name rule (first: ${unknown.slice(0, 5).join(", ")}); pass strict: false to skip them`);
  }
  if (part === "generator" && (opts.tiedLmHead ?? true) && !out.has("generator_lm_head.weight")) {
    const w = out.get("electra.embeddings.word_embeddings.weight");
    if (w) out.set("generator_lm_head.weight", w);
  }
  return out;
}

/**
 * The TF-named tensors of one part's HF state dict (kernels transposed back). The generator's
 * electra.embeddings.* become the shared electra/embeddings/*; generator_lm_head.weight is left out (tied).
 */
export function hfToTf(tensors: Map<string, TensorData>, part: ElectraPart): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const [name, t] of tensors) {
    const m = mapHfName(name, part);
    if (!m) continue;
    out.set(m.tf, m.transpose ? transpose2d(t) : t);
  }
  return out;
}
