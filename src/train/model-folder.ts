/**
 * Where fine-tuning starts and what it leaves: a Hugging Face folder (a pretrained discriminator, a bare
 * ElectraModel, any fine-tuned head: its head is dropped) or random weights (a preset or config.json and a
 * vocabulary); the fine-tuned model saved as a Hugging Face folder of the task's architecture; and a fine-tuned
 * folder loaded back for evaluate / predict. `--model` may also name a `finetune --out` folder (its model/).
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Rng } from "../core/rng.js";
import { WordPieceTokenizer } from "../data/tokenizer.js";
import { loadIntoStore, modelDir, readHfFolder, saveHfFolder, tokenizerFilesIn, type HfFolder } from "../io/hf-folder.js";
import { loadWeights, type Dtype } from "../model/quantize.js";
import type { TensorData } from "../io/tensor-data.js";
import { parseConfig, type ElectraConfig } from "../model/config.js";
import type { ElectraModel } from "../model/head.js";
import type { ParamStore } from "../model/params.js";
import { ALL_HEAD_PREFIXES, createModel, findArchitecture, getArchitecture } from "../model/registry.js";
import type { Task } from "../tasks/task.js";
import { PRESETS } from "./pretrain.js";
import { jsonErrorMessage } from "../data/jsonl.js";

export interface StartingPoint {
  config: ElectraConfig;
  tokenizer: WordPieceTokenizer;
  /** files copied into the saved model folder */
  tokenizerFiles: string[];
  /** the encoder's checkpoint tensors (every head dropped), or null for random weights */
  tensors: Map<string, TensorData> | null;
  source: string;
}

/** A Hugging Face folder as the starting point: its encoder, whatever head it has. */
export function pretrainedStart(dir: string, vocab?: string): StartingPoint {
  const folder: HfFolder = readHfFolder(modelDir(dir));
  const tokenizer = WordPieceTokenizer.forModel(vocab ?? folder.tokenizerFile, folder.config.vocab_size, dir);
  const tensors = new Map([...folder.tensors].filter(([k]) => !ALL_HEAD_PREFIXES.some((p) => k.startsWith(p))));
  const tokenizerFiles = vocab ? [resolve(vocab)] : tokenizerFilesIn(folder.dir);
  return { config: folder.config, tokenizer, tokenizerFiles, tensors, source: folder.weightsFile };
}

/** Random weights (the baseline): a preset name (tiny, small, small++, base, large) or a config.json, and a vocabulary. */
export function randomStart(config: string, vocab: string): StartingPoint {
  const tokenizer = WordPieceTokenizer.load(vocab);
  let raw: Record<string, unknown>;
  const preset = PRESETS[config];
  if (preset) raw = { ...preset.model };
  else {
    if (!existsSync(config)) throw new Error(`--config ${config} is neither a preset (${Object.keys(PRESETS).join(", ")}) nor a file`);
    try {
      raw = JSON.parse(readFileSync(config, "utf8"));
    } catch (e) {
      throw new Error(`${config} is not valid JSON: ${jsonErrorMessage(e)}`);
    }
  }
  const cfg = parseConfig({ ...raw, vocab_size: tokenizer.vocabSize }, config);
  return { config: cfg, tokenizer, tokenizerFiles: [resolve(vocab)], tensors: null, source: `random weights (${config})` };
}

/** A task head as transformers' _init_weights leaves it: weights ~ N(0, initializer_range), biases 0. */
export function initHead(store: ParamStore, prefixes: readonly string[], initializerRange: number, seed: number): void {
  const rng = new Rng(seed);
  for (const s of store.own()) {
    if (!prefixes.some((p) => s.name.startsWith(p))) continue;
    const v = store.get(s.name);
    if (s.name.endsWith("bias")) v.fill(0);
    else for (let i = 0; i < v.length; i++) v[i] = rng.normal() * initializerRange;
  }
}

/** Builds the task's model and loads the starting point's encoder into it (the head stays to be initialized). */
export function modelForStart(start: StartingPoint, cfg: ElectraConfig, architecture: string): ElectraModel {
  const model = createModel(architecture, cfg);
  if (start.tensors) {
    loadIntoStore(model.store, start.tensors, { allowMissing: getArchitecture(architecture).headPrefixes, source: start.source });
  }
  return model;
}

/**
 * Saves a fine-tuned model as a Hugging Face folder of its architecture, through the task's beforeSave; the
 * fine-tuning sequence length goes into tokenizer_config.json as model_max_length, which inference then uses.
 */
export function saveTaskModel(dir: string, model: ElectraModel, task: Task, tokenizerFiles: string[], maxSeqLength: number): void {
  const undo = task.beforeSave?.(model.store, model.cfg) ?? (() => {});
  try {
    saveHfFolder(dir, model.store, model.cfg, { architecture: model.architecture, tokenizerFiles, modelMaxLength: maxSeqLength });
  } finally {
    undo();
  }
}

export interface LoadedTaskModel {
  model: ElectraModel;
  config: ElectraConfig;
  tokenizer: WordPieceTokenizer;
  dir: string;
  /** set when the model's labels were mapped to the task's by position */
  labelNote?: string;
  /** what the encoder's Linear layers run in */
  dtype: Dtype;
}

/** Loads a fine-tuned folder for a task: its architecture must be the task's; the task takes its labels. */
/**
 * A fine-tuned folder for `task`. `dtype`: as Electra.load's (default: what the folder holds; int8 quantizes a
 * float32 folder as it loads); the result's dtype says which the model runs.
 */
export function loadTaskModel(dir: string, task: Task, vocab?: string, dtype?: Dtype): LoadedTaskModel {
  const d = modelDir(dir);
  const folder = readHfFolder(d, { int8: "keep" });
  const arch = findArchitecture(folder.config.architectures);
  if (!arch || arch.name !== task.architecture) {
    const has = folder.config.architectures?.join(", ") ?? "no architectures";
    throw new Error(`${d} holds ${has}; ${task.displayName} needs a fine-tuned ${task.architecture}: fine-tune one with \`electra finetune --task ${task.name}\``);
  }
  const config: ElectraConfig = arch.completeConfig?.(folder.config, (n) => folder.tensors.has(n)) ?? { ...folder.config };
  const labelNote = task.useModel(config, d);
  const model = createModel(arch.name, config);
  const loaded = loadWeights(model, folder, { dtype }); // a quantized folder (electra quantize) runs in int8 by default
  const tokenizer = WordPieceTokenizer.forModel(vocab ?? folder.tokenizerFile, config.vocab_size, d);
  return { model, config, tokenizer, dir: d, labelNote, dtype: loaded.dtype };
}
