/**
 * electra-ts: the library entry point.
 *   import { Electra } from "electra-ts";            // inference on a Hugging Face folder
 *   import { createModel, parseConfig } from "electra-ts";   // the model itself, forward/backward
 */
export { Electra, type Classification, type DetectedToken, type MaskCandidate, type TextInput, type LoadOptions } from "./infer/electra.js";
export { parseConfig, configToJson, type ElectraConfig } from "./model/config.js";
export { createModel, RunContext, ElectraForPreTraining, ElectraForMaskedLM, ElectraForSequenceClassification, type Batch, type ModelKind } from "./model/electra.js";
export { ParamStore, initParams } from "./model/params.js";
export { AdamW, clipGradNorm } from "./train/optimizer.js";
export { RtdModel } from "./train/rtd.js";
export { readHfFolder, loadIntoStore, saveHfFolder, writeHfFolder, exportTensors } from "./io/hf-folder.js";
export { readSafetensors, writeSafetensors } from "./io/safetensors.js";
export { readPytorchBin, writePytorchZip } from "./io/pytorch-bin.js";
export { readTfCheckpoint } from "./io/tf-bundle.js";
export { tfToHf } from "./io/tf-names.js";
export { WordPieceTokenizer } from "./data/tokenizer.js";
export { setThreads, getThreads } from "./core/native.js";
