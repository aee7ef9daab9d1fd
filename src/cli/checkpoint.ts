/** `electra inspect`, `electra convert` and `electra quantize`: checkpoint files in and out (src/io). */
import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { Command, Option } from "commander";
import { readHfFolder, writeHfFolder, loadIntoStore, tokenizerFilesIn } from "../io/hf-folder.js";
import { detectFormat, inspectTensorsJsonl } from "../io/inspect.js";
import { readPytorchBin, writePytorchLegacy, writePytorchZip } from "../io/pytorch.js";
import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import type { TensorData } from "../io/tensor-data.js";
import { readTfCheckpoint } from "../io/tf/bundle.js";
import { tfToHf, type ElectraPart } from "../io/tf/names.js";
import { jsonErrorMessage } from "../data/jsonl.js";
import { parseConfig } from "../model/config.js";
import { ALL_HEAD_PREFIXES, createModel, findArchitecture, getArchitecture } from "../model/electra.js";
import { quantizeFolder } from "../model/quantize.js";
import { mustExist } from "./args.js";

interface Loaded {
  tensors: Map<string, TensorData>;
  config: Record<string, unknown> | null;
  tokenizerFiles: string[];
  tf: boolean;
}

function isHfFolder(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, "config.json"));
}

function load(input: string): Loaded {
  if (isHfFolder(input)) {
    const f = readHfFolder(input);
    return { tensors: f.tensors, config: f.rawConfig, tokenizerFiles: tokenizerFilesIn(input), tf: false };
  }
  const format = detectFormat(input);
  if (format === "safetensors") return { tensors: readSafetensors(input).tensors, config: null, tokenizerFiles: [], tf: false };
  if (format === "tf-checkpoint") return { tensors: readTfCheckpoint(input), config: null, tokenizerFiles: [], tf: true };
  return { tensors: readPytorchBin(input), config: null, tokenizerFiles: [], tf: false };
}

/** The object in a --config file; not JSON, or JSON but not an object, is an error naming the file. */
function readConfigJson(file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${jsonErrorMessage(e)}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`${file}: not a JSON object`);
  return raw as Record<string, unknown>;
}

export interface ConvertOptions {
  config?: string;
  part?: ElectraPart;
  vocab?: string;
  legacy: boolean;
  bin: boolean;
}

/** Converts IN to OUT; OUT's kind comes from its extension: .safetensors, .bin, else a Hugging Face folder. */
export function convert(input: string, out: string, o: ConvertOptions): { tensors: number; out: string } {
  if (o.config) mustExist("--config", o.config, "file");
  if (o.vocab) mustExist("--vocab", o.vocab, "file");
  const src = load(input);
  let tensors = src.tensors;
  let config = src.config;
  if (o.config) config = readConfigJson(o.config);
  if (src.tf) {
    if (!o.part) throw new Error("converting a TensorFlow checkpoint needs --part discriminator|generator");
    tensors = tfToHf(tensors, o.part);
  } else if (o.part) {
    throw new Error("--part applies to TensorFlow checkpoints only");
  }
  const ext = extname(out).toLowerCase();
  if (ext === ".safetensors") writeSafetensors(out, tensors);
  else if (ext === ".bin") (o.legacy ? writePytorchLegacy : writePytorchZip)(tensors, out);
  else {
    if (!config) throw new Error(`writing a Hugging Face folder needs a config: give --config config.json (${input} has none)`);
    const cfg = parseConfig(config, o.config ?? join(input, "config.json"));
    const arch = o.part ? getArchitecture(o.part) : findArchitecture(config.architectures);
    if (arch) {
      // strict load into the model it claims to be: names and shapes must all fit
      const has = (n: string) => tensors.has(n);
      loadIntoStore(createModel(arch.name, arch.completeConfig?.(cfg, has) ?? cfg).store, tensors, { source: input });
      if (!config.architectures) config = { ...config, architectures: [arch.name] };
    } else {
      // no architecture to check against: the encoder at least must fit the config (any head's tensors may come along)
      loadIntoStore(createModel("ElectraModel", cfg).store, tensors, { source: input, allowUnexpected: ALL_HEAD_PREFIXES });
    }
    const tok = o.vocab ? [o.vocab] : src.tokenizerFiles;
    writeHfFolder(out, tensors, config, { tokenizerFiles: tok, format: o.bin ? "bin" : "safetensors" });
  }
  return { tensors: tensors.size, out };
}

export function inspectCommand(): Command {
  return new Command("inspect")
    .description("print one JSON line per tensor (name, dtype, shape, sha256 of the stored bytes) of a .safetensors, .bin (zip or legacy) or TensorFlow checkpoint")
    .argument("<file>", "checkpoint file, TensorFlow prefix or .index, or a Hugging Face folder")
    .action((file: string) => {
      const path = isHfFolder(file) ? readHfFolder(file).weightsFile : file;
      process.stdout.write(inspectTensorsJsonl(path));
    });
}

export function convertCommand(): Command {
  return new Command("convert")
    .description("convert between .safetensors, .bin and Hugging Face folders, and from TensorFlow checkpoints (official ELECTRA names) to Hugging Face folders")
    .argument("<in>", "a .safetensors or .bin file, a Hugging Face folder, or a TensorFlow checkpoint (prefix, .index, or folder)")
    .argument("<out>", "OUT.safetensors, OUT.bin, or a folder (Hugging Face layout)")
    .option("--config <file>", "config.json for the output folder (default: the input folder's; required from TensorFlow or bare files)")
    .addOption(new Option("--part <part>", "which model to extract from a TensorFlow ELECTRA checkpoint (required for those; default: none)").choices(["discriminator", "generator"]))
    .option("--vocab <file>", "vocab.txt or tokenizer.json to copy into the output folder (default: the input folder's tokenizer files)")
    .option("--legacy", "write .bin in the legacy (pre-1.6) torch.save format instead of the zip format", false)
    .option("--bin", "write pytorch_model.bin instead of model.safetensors into the output folder", false)
    .action((input: string, out: string, o: ConvertOptions) => {
      const r = convert(input, out, o);
      console.log(JSON.stringify(r));
    });
}

export function quantizeCommand(): Command {
  return new Command("quantize")
    .description("dynamic int8: copy a model folder with its encoder's Linear weights in int8 (one scale per output channel); activations are quantized per row at run time, LayerNorm, softmax, GELU and the head stay float32")
    .argument("<model_dir>", "a Hugging Face ELECTRA folder (or a finetune --out folder)")
    .argument("<out_dir>", "the quantized folder to write (replaced atomically if it exists)")
    .action((input: string, out: string) => {
      mustExist("MODEL_DIR", input, "folder");
      console.log(JSON.stringify(quantizeFolder(input, out)));
    });
}
