/**
 * The ELECTRA model configuration, read from and written to a Hugging Face config.json.
 * Defaults are those of transformers' ElectraConfig (= google/electra-small-discriminator), which is what
 * a config.json that omits a key means. Unknown keys are rejected, unless they are Hugging Face keys that
 * do not change what this implementation computes (listed in IGNORED_HF_KEYS).
 */
export type ClassifierHead = "hf" | "official";
export type PositionEmbeddingType = "absolute" | "relative_key";

export interface ElectraConfig {
  vocab_size: number;
  /** Width of the embedding tables; a Linear embeddings_project maps E -> hidden_size when they differ. */
  embedding_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  /** Only "gelu" (the exact erf form, as transformers' "gelu") is supported. */
  hidden_act: "gelu";
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  /**
   * "absolute" (BERT's learned position embeddings, the ELECTRA default) or "relative_key" (transformers' option
   * from Shaw et al. 2018 / Huang et al. 2020: no position embeddings are added; each layer's attention score
   * (i, j) gains q_i . distance_embedding[i - j + max_position_embeddings - 1], one [2P-1, head size] table per
   * layer). "relative_key_query" is not supported.
   */
  position_embedding_type: PositionEmbeddingType;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
  /** Labels of a sequence classifier (1 = regression). */
  num_labels: number;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  /** Dropout of the classification head (null: hidden_dropout_prob), as transformers. */
  classifier_dropout: number | null;
  /** electra-ts: "hf" = transformers' two-layer ElectraClassificationHead; "official" = one dense layer on the first token. */
  classifier_head?: ClassifierHead;
  /** Dropout after the multiple-choice head's summary layer (transformers' ElectraConfig default 0.1). */
  summary_last_dropout?: number;
  architectures?: string[];
  model_type: "electra";
}

export const DEFAULT_CONFIG: ElectraConfig = {
  vocab_size: 30522,
  embedding_size: 128,
  hidden_size: 256,
  num_hidden_layers: 12,
  num_attention_heads: 4,
  intermediate_size: 1024,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  position_embedding_type: "absolute",
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  num_labels: 2,
  classifier_dropout: null,
  model_type: "electra",
};

/** Hugging Face keys that may appear in an ELECTRA config.json and change nothing computed here. */
export const IGNORED_HF_KEYS = new Set([
  "transformers_version", "torch_dtype", "_name_or_path", "summary_type", "summary_use_proj", "summary_activation",
  "use_cache", "bos_token_id", "eos_token_id", "sep_token_id", "output_past", "finetuning_task",
  "gradient_checkpointing", "is_decoder", "add_cross_attention", "tie_word_embeddings", "chunk_size_feed_forward",
  "return_dict", "output_hidden_states", "output_attentions", "torchscript", "pruned_heads", "problem_type",
  "tokenizer_class", "prefix", "task_specific_params", "xla_device", "is_encoder_decoder", "directionality",
  "_attn_implementation", "_commit_hash", "use_return_dict",
  // multiple choice: the number of choices comes from the inputs ([examples, num_choices, T]), as in transformers
  "num_choices",
]);

const NUMERIC_KEYS = [
  "vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
  "max_position_embeddings", "type_vocab_size", "pad_token_id",
] as const;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** " (too large)" for an integer past 2^53 (JSON.stringify writes it as an integer), else "". */
function tooLarge(v: unknown): string {
  return Number.isInteger(v) && !Number.isSafeInteger(v) ? " (too large)" : "";
}

/**
 * The most parameters a model may have here: sizes reach the addon as 32-bit integers. ELECTRA-Large,
 * the largest released, has 335M; a config past this is a typo or a damaged file, refused before any allocation.
 */
export const MAX_PARAMETERS = 2 ** 31 - 1;

/** The encoder's parameter count, plus a classifier of num_labels outputs (an upper bound of every head's). */
export function parameterCount(c: ElectraConfig): number {
  const E = c.embedding_size, H = c.hidden_size, I = c.intermediate_size;
  const embeddings = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * E + 2 * E + (E !== H ? E * H + H : 0);
  const relative = c.position_embedding_type === "relative_key" ? (2 * c.max_position_embeddings - 1) * (H / c.num_attention_heads) : 0;
  const layer = 4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H + relative;
  const head = H * H + H + (H + 1) * Math.max(c.num_labels, E) + 2 * E + c.vocab_size; // the largest: a classifier, or the generator's LM head
  return embeddings + c.num_hidden_layers * layer + head;
}

/** Builds a checked config from a parsed config.json object (`where` names the source in errors). */
export function parseConfig(raw: unknown, where = "config"): ElectraConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: not a JSON object`);
  const obj = raw as Record<string, unknown>;
  const known = new Set(Object.keys(DEFAULT_CONFIG).concat(["id2label", "label2id", "classifier_head", "architectures", "embedding_size", "summary_last_dropout"]));
  const unknown = Object.keys(obj).filter((k) => !known.has(k) && !IGNORED_HF_KEYS.has(k));
  if (unknown.length) throw new ConfigError(`${where}: unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => JSON.stringify(k)).join(", ")} (not an ELECTRA config key)`);
  if (obj.model_type !== undefined && obj.model_type !== "electra") {
    throw new ConfigError(`${where}: model_type is ${JSON.stringify(obj.model_type)}, expected "electra"`);
  }
  const c: ElectraConfig = { ...DEFAULT_CONFIG };
  for (const k of NUMERIC_KEYS) {
    if (obj[k] === undefined) continue;
    const v = obj[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < (k === "pad_token_id" ? 0 : 1)) {
      throw new ConfigError(`${where}: ${k} must be a positive integer, got ${JSON.stringify(v)}${tooLarge(v)}`);
    }
    c[k] = v;
  }
  // a config without embedding_size means embedding_size = hidden_size (BERT-style), not the default 128
  if (obj.embedding_size === undefined) c.embedding_size = c.hidden_size;
  for (const k of ["hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range", "layer_norm_eps"] as const) {
    if (obj[k] === undefined) continue;
    const v = obj[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new ConfigError(`${where}: ${k} must be a non-negative number, got ${JSON.stringify(v)}`);
    c[k] = v;
  }
  for (const k of ["hidden_dropout_prob", "attention_probs_dropout_prob"] as const) {
    if (c[k] >= 1) throw new ConfigError(`${where}: ${k} must be below 1, got ${c[k]}`);
  }
  if (obj.hidden_act !== undefined && obj.hidden_act !== "gelu") {
    throw new ConfigError(`${where}: hidden_act ${JSON.stringify(obj.hidden_act)} is not supported (only "gelu", the exact erf form)`);
  }
  if (obj.position_embedding_type !== undefined) {
    if (obj.position_embedding_type !== "absolute" && obj.position_embedding_type !== "relative_key") {
      throw new ConfigError(`${where}: position_embedding_type ${JSON.stringify(obj.position_embedding_type)} is not supported (only "absolute" and "relative_key")`);
    }
    c.position_embedding_type = obj.position_embedding_type;
  }
  if (obj.classifier_dropout !== undefined && obj.classifier_dropout !== null) {
    const v = obj.classifier_dropout;
    if (typeof v !== "number" || !(v >= 0 && v < 1)) throw new ConfigError(`${where}: classifier_dropout must be null or in [0, 1), got ${JSON.stringify(v)}`);
    c.classifier_dropout = v;
  }
  if (obj.summary_last_dropout !== undefined) {
    const v = obj.summary_last_dropout;
    if (typeof v !== "number" || !(v >= 0 && v < 1)) throw new ConfigError(`${where}: summary_last_dropout must be in [0, 1), got ${JSON.stringify(v)}`);
    c.summary_last_dropout = v;
  }
  if (obj.classifier_head !== undefined) {
    if (obj.classifier_head !== "hf" && obj.classifier_head !== "official") {
      throw new ConfigError(`${where}: classifier_head must be "hf" or "official", got ${JSON.stringify(obj.classifier_head)}`);
    }
    c.classifier_head = obj.classifier_head;
  }
  if (obj.architectures !== undefined) {
    if (!Array.isArray(obj.architectures) || !obj.architectures.every((a) => typeof a === "string")) {
      throw new ConfigError(`${where}: architectures must be a list of strings`);
    }
    c.architectures = obj.architectures as string[];
  }
  if (obj.id2label !== undefined) {
    if (typeof obj.id2label !== "object" || obj.id2label === null) throw new ConfigError(`${where}: id2label must be an object`);
    c.id2label = Object.fromEntries(Object.entries(obj.id2label as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  }
  if (obj.label2id !== undefined) {
    if (typeof obj.label2id !== "object" || obj.label2id === null) throw new ConfigError(`${where}: label2id must be an object`);
    c.label2id = Object.fromEntries(Object.entries(obj.label2id as Record<string, unknown>).map(([k, v]) => {
      const id = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v; // an id written as a string: "0"
      if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) throw new ConfigError(`${where}: label2id must give each label an integer id, got ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
      return [k, id];
    }));
  }
  if (obj.num_labels !== undefined) {
    if (typeof obj.num_labels !== "number" || !Number.isSafeInteger(obj.num_labels) || obj.num_labels < 1) {
      throw new ConfigError(`${where}: num_labels must be a positive integer, got ${JSON.stringify(obj.num_labels)}${tooLarge(obj.num_labels)}`);
    }
    c.num_labels = obj.num_labels;
  } else if (c.id2label) {
    c.num_labels = Object.keys(c.id2label).length;
    if (c.num_labels === 0) throw new ConfigError(`${where}: id2label is empty (and there is no num_labels)`);
  }
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new ConfigError(`${where}: hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`);
  }
  if (c.pad_token_id >= c.vocab_size) throw new ConfigError(`${where}: pad_token_id ${c.pad_token_id} is outside the vocabulary`);
  if (c.id2label) {
    const keys = Object.keys(c.id2label);
    const bad = keys.find((k) => !/^\d+$/.test(k) || Number(k) >= keys.length);
    if (bad !== undefined) throw new ConfigError(`${where}: id2label's keys must be the class ids 0 to ${keys.length - 1}, got ${JSON.stringify(bad)}`);
  }
  const n = parameterCount(c);
  if (n > MAX_PARAMETERS) {
    throw new ConfigError(`${where}: these sizes make a model of ${(n / 1e9).toFixed(2)} billion parameters (num_hidden_layers ${c.num_hidden_layers}, hidden_size ${c.hidden_size}, intermediate_size ${c.intermediate_size}, vocab_size ${c.vocab_size}, max_position_embeddings ${c.max_position_embeddings}, num_labels ${c.num_labels}), more than electra-ts holds (${MAX_PARAMETERS}; ELECTRA-Large has 335M)`);
  }
  return c;
}

/** The config as a Hugging Face config.json object. */
export function configToJson(c: ElectraConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...c };
  if (out.classifier_head === undefined) delete out.classifier_head;
  if (out.summary_last_dropout === undefined) delete out.summary_last_dropout;
  for (const k of ["id2label", "label2id", "architectures"]) if (out[k] === undefined) delete out[k];
  return out;
}
