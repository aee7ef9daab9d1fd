/**
 * Small helpers shared by the diagnostic programs in bench/ (their command line, model and texts; texts from a
 * GLUE TSV; rows of a [N, C] matrix; ROC AUC).
 */
import { readFileSync } from "node:fs";
import { readHfFolder, loadIntoStore, type HfFolder } from "../src/io/hf-folder.js";
import { createModel, type ElectraModel, type ModelKind } from "../src/model/electra.js";
import { initParams } from "../src/model/params.js";
import { WordPieceTokenizer, type EncodedPair } from "../src/data/tokenizer.js";

/** What a probe runs on: the model, its folder and tokenizer, and the texts encoded (at most 128 pieces). */
export interface ProbeSetup {
  folder: HfFolder;
  model: ElectraModel;
  kind: ModelKind;
  tk: WordPieceTokenizer;
  enc: EncodedPair[];
}

/**
 * Reads a probe's command line `MODEL_DIR|random:MODEL_DIR TEXT_FILE [N]` (printing `usage` and exiting 2 when
 * it is incomplete) and loads what it names: MODEL_DIR's weights, or with "random:" its config at transformers'
 * random init (seed 1); and the first column of the first N (defaultN) rows of TEXT_FILE. `kind` "auto" is a
 * generator when the folder has generator_predictions.* tensors, else a discriminator.
 */
export async function probeSetup(usage: string, defaultN: number, kind: ModelKind | "auto"): Promise<ProbeSetup> {
  const [spec, textPath, nArg] = process.argv.slice(2);
  if (!spec || !textPath) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  const random = spec.startsWith("random:");
  const folder = readHfFolder(random ? spec.slice("random:".length) : spec);
  const k: ModelKind = kind !== "auto" ? kind : [...folder.tensors.keys()].some((n) => n.startsWith("generator_predictions.")) ? "generator" : "discriminator";
  const model = createModel(k, folder.config);
  if (random) initParams(model.store, folder.config.initializer_range, 1);
  else loadIntoStore(model.store, folder.tensors, { source: folder.weightsFile });
  const tk = WordPieceTokenizer.load(folder.tokenizerFile!);
  const enc = await tk.encodePairBatch(firstColumn(textPath, Number(nArg ?? defaultN)).map((t) => [t, null] as const), 128);
  return { folder, model, kind: k, tk, enc };
}

/** The first column of the first n rows after the header of a TSV file (a GLUE file such as SST-2/dev.tsv). */
export function firstColumn(path: string, n: number): string[] {
  return readFileSync(path, "utf8").split("\n").slice(1).filter((l) => l.trim()).slice(0, n).map((l) => l.split("\t")[0]);
}

/** Cosine between rows i and j of m [N, C]. */
export function rowCosine(m: Float32Array, i: number, j: number, C: number): number {
  let d = 0, ni = 0, nj = 0;
  for (let c = 0; c < C; c++) {
    const x = m[i * C + c], y = m[j * C + c];
    d += x * y;
    ni += x * x;
    nj += y * y;
  }
  return d / Math.sqrt(ni * nj);
}

/** Euclidean norm of row i of m [N, C]. */
export function rowNorm(m: Float32Array, i: number, C: number): number {
  let s = 0;
  for (let c = 0; c < C; c++) s += m[i * C + c] * m[i * C + c];
  return Math.sqrt(s);
}

/** P(score of a positive > score of a negative), ties counted half, by the rank-sum (Mann-Whitney) formula. */
export function rocAuc(pos: number[], neg: number[]): number {
  const all = [...pos.map((x) => [x, 1]), ...neg.map((x) => [x, 0])].sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j][0] === all[i][0]) j++;
    const midRank = (i + 1 + j) / 2; // ranks i+1..j share their mean
    for (let k = i; k < j; k++) if (all[k][1]) rankSum += midRank;
    i = j;
  }
  return (rankSum - pos.length * (pos.length + 1) / 2) / (pos.length * neg.length);
}
