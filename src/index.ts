/**
 * electra-ts: the library entry point.
 *   import { Electra } from "electra-ts";            // inference on a Hugging Face folder
 *   import { createModel, parseConfig } from "electra-ts";   // the model itself, forward/backward
 *   import { finetune, createTask } from "electra-ts";       // fine-tuning any registered task
 */
export {
  Electra, type Answer, type AnswerOptions, type ChoiceInput, type ChoiceResult, type Classification, type DetectedToken, type Entity, type MaskCandidate,
  type NerOptions, type QaInput, type TextInput, type LoadOptions,
} from "./infer/electra.js";
export { aggregateTokens, type AggregationStrategy } from "./infer/token-aggregation.js";
export { PIPELINES, pipelineFor, warmUp, type WarmUp } from "./infer/pipelines.js";
export { parseConfig, configToJson, type ElectraConfig } from "./model/config.js";
export {
  createModel, RunContext, ARCHITECTURES, ElectraBareModel, ElectraForPreTraining, ElectraForMaskedLM, ElectraForSequenceClassification,
  ElectraForTokenClassification, ElectraForQuestionAnswering, ElectraForMultipleChoice, type Batch, type ModelKind,
} from "./model/electra.js";
export { createTask, TASK_FAMILIES, TASK_NAMES } from "./tasks/registry.js";
export type { DataOptions, Feature, Scores, Split, Task } from "./tasks/task.js";
export { finetune, evaluate, predict, type FinetuneOptions, type FinetuneReport } from "./train/finetune.js";
export { scoreConllText, scoreSentences, formatConlleval, type ConllScore } from "./metrics/conll.js";
export { evaluateV1 as squadEvaluateV1, evaluateV2 as squadEvaluateV2 } from "./metrics/squad.js";
export { ParamStore, initParams } from "./model/params.js";
export { quantizeFolder, quantizeModel, loadWeights, type Dtype } from "./model/quantize.js";
export { QUANTIZATION_CONFIG, quantizeWeight, dequantizeWeight, quantizeTensors } from "./io/quantized.js";
export { AdamW, clipGradNorm } from "./train/optimizer.js";
export { RtdModel } from "./train/rtd.js";
export { readHfFolder, loadIntoStore, saveHfFolder, writeHfFolder, exportTensors } from "./io/hf-folder.js";
export { readSafetensors, writeSafetensors } from "./io/safetensors.js";
export { readPytorchBin, writePytorchZip } from "./io/pytorch.js";
export { readTfCheckpoint } from "./io/tf/bundle.js";
export { tfToHf } from "./io/tf/names.js";
export { WordPieceTokenizer } from "./data/tokenizer.js";
export { setThreads, getThreads } from "./core/native.js";
