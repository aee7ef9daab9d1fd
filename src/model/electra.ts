/**
 * The ELECTRA model in one import: the encoder (encoder.ts), the head interface (head.ts), one module per
 * Hugging Face head (heads/), and the architecture registry (registry.ts). Shapes use the legend of
 * native/kernels.h: B batch, T sequence, N = B*T, C hidden, E embedding, F intermediate, NH heads,
 * V vocabulary, L labels, M gathered rows.
 */
export { MASKED_KEY_BIAS, RunContext, checkBatch, Encoder, type Batch, type EncoderTape } from "./encoder.js";
export { ElectraWithHead, headDropout, type ElectraModel, type Head, type ModelKind, type ModelOutput } from "./head.js";
export { ElectraBareModel, IdentityHead } from "./heads/base-model.js";
export { DiscriminatorHead, ElectraForPreTraining, type DiscriminatorTape } from "./heads/pretraining.js";
export { GeneratorHead, ElectraForMaskedLM, type GeneratorTape } from "./heads/masked-lm.js";
export { ClassifierHead, ElectraForSequenceClassification, type ClassifierTape } from "./heads/sequence-classification.js";
export { TokenClassifierHead, ElectraForTokenClassification, type TokenClassifierTape } from "./heads/token-classification.js";
export { SpanHead, ElectraForQuestionAnswering, splitSpanLogits, type SpanTape } from "./heads/question-answering.js";
export { ChoiceHead, ElectraForMultipleChoice, type ChoiceTape } from "./heads/multiple-choice.js";
export { ARCHITECTURES, ALL_HEAD_PREFIXES, createModel, findArchitecture, getArchitecture, type Architecture } from "./registry.js";
