/**
 * The one table of heads: Hugging Face architecture name (config.json `architectures[0]`) -> the model class,
 * its short kind, and the prefixes of its head's parameters. Loading, saving, inference and the task families
 * look architectures up here instead of switching on them.
 */
import type { ElectraConfig } from "./config.js";
import type { ElectraModel, ModelKind } from "./head.js";
import { ParamStore } from "./params.js";
import { ElectraBareModel } from "./heads/base-model.js";
import { ElectraForMaskedLM } from "./heads/masked-lm.js";
import { ElectraForMultipleChoice } from "./heads/multiple-choice.js";
import { ElectraForPreTraining } from "./heads/pretraining.js";
import { ElectraForQuestionAnswering } from "./heads/question-answering.js";
import { ElectraForSequenceClassification } from "./heads/sequence-classification.js";
import { ElectraForTokenClassification } from "./heads/token-classification.js";

export interface Architecture {
  name: string;
  kind: ModelKind;
  create(cfg: ElectraConfig, store: ParamStore): ElectraModel;
  /** parameter-name prefixes of the head (what a fresh task head leaves unloaded from a pretrained folder) */
  headPrefixes: string[];
  /** fills in what a saved folder's config may leave out, from the names of its weights (e.g. the kind of head) */
  completeConfig?(cfg: ElectraConfig, has: (name: string) => boolean): ElectraConfig;
}

export const ARCHITECTURES: readonly Architecture[] = [
  { name: "ElectraModel", kind: "encoder", create: (c, s) => new ElectraBareModel(c, s), headPrefixes: [] },
  { name: "ElectraForPreTraining", kind: "discriminator", create: (c, s) => new ElectraForPreTraining(c, s), headPrefixes: ["discriminator_predictions."] },
  { name: "ElectraForMaskedLM", kind: "generator", create: (c, s) => new ElectraForMaskedLM(c, s), headPrefixes: ["generator_predictions.", "generator_lm_head."] },
  {
    name: "ElectraForSequenceClassification", kind: "classifier", create: (c, s) => new ElectraForSequenceClassification(c, s), headPrefixes: ["classifier."],
    // transformers' folders have no classifier_head: the two-layer head has classifier.dense
    completeConfig: (c, has) => (c.classifier_head ? c : { ...c, classifier_head: has("classifier.dense.weight") ? "hf" : "official" }),
  },
  { name: "ElectraForTokenClassification", kind: "token-classifier", create: (c, s) => new ElectraForTokenClassification(c, s), headPrefixes: ["classifier."] },
  { name: "ElectraForQuestionAnswering", kind: "question-answering", create: (c, s) => new ElectraForQuestionAnswering(c, s), headPrefixes: ["qa_outputs."] },
  { name: "ElectraForMultipleChoice", kind: "multiple-choice", create: (c, s) => new ElectraForMultipleChoice(c, s), headPrefixes: ["sequence_summary.", "classifier."] },
];

/** Every head prefix of every architecture: what a checkpoint may carry beyond the encoder a new head needs. */
export const ALL_HEAD_PREFIXES = [...new Set(ARCHITECTURES.flatMap((a) => a.headPrefixes))];

/** The architecture of a Hugging Face class name or a kind ("classifier", "token-classifier", ...). */
export function getArchitecture(nameOrKind: string): Architecture {
  const a = ARCHITECTURES.find((x) => x.name === nameOrKind || x.kind === nameOrKind);
  if (!a) throw new Error(`unknown ELECTRA architecture ${JSON.stringify(nameOrKind)} (known: ${ARCHITECTURES.map((x) => x.name).join(", ")})`);
  return a;
}

/** The architecture config.json names, or null when `architectures` is absent or names none of ours. */
export function findArchitecture(architectures: unknown): Architecture | null {
  if (!Array.isArray(architectures)) return null;
  for (const n of architectures) {
    const a = ARCHITECTURES.find((x) => x.name === n);
    if (a) return a;
  }
  return null;
}

/** Builds a model of the given architecture (or kind) in a fresh ParamStore (allocated, zero-filled). */
export function createModel(nameOrKind: string, cfg: ElectraConfig): ElectraModel {
  const store = new ParamStore();
  const m = getArchitecture(nameOrKind).create(cfg, store);
  store.finalize();
  return m;
}
