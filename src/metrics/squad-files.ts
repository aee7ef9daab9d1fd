/** `electra score --task squad|squad_v2`: the official scripts' scores of a predictions.json against a SQuAD file. */
import { readFileSync } from "node:fs";
import { checkUtf8 } from "../data/delimited.js";
import { FileFormatError } from "../data/format-error.js";
import { jsonErrorMessage } from "../data/jsonl.js";
import { formatPythonJson, readSquadDataset, scoreV1, scoreV2 } from "./squad.js";

/**
 * Scores `{id: answer}` predictions as evaluate-v1.1.py / evaluate-v2.0.py do; `printed` is the text the script
 * prints (its json.dumps), so the command's output can be compared with the script's byte for byte.
 */
export function scoreSquadFiles(dataFile: string, predictionsFile: string, v2: boolean): Record<string, unknown> {
  const read = (f: string, what: string): unknown => {
    const buf = readFileSync(f);
    // as the official scripts, which fail on it (json.load of the file as UTF-8)
    checkUtf8(buf, (line, message) => new FileFormatError(f, line, message));
    try {
      return JSON.parse(buf.toString("utf8").replace(/^\uFEFF/, ""));
    } catch (e) {
      throw new Error(`${f}: not a JSON ${what} (${jsonErrorMessage(e)})`);
    }
  };
  const data = read(dataFile, "SQuAD file");
  const preds = read(predictionsFile, "predictions file ({id: answer})");
  if (typeof preds !== "object" || preds === null || Array.isArray(preds) || !Object.values(preds).every((v) => typeof v === "string")) {
    throw new Error(`${predictionsFile}: predictions must be one JSON object {question id: answer text}`);
  }
  const p = preds as Record<string, string>;
  const questions = readSquadDataset(data, dataFile);
  let scores: Record<string, number>;
  try {
    scores = v2 ? scoreV2(questions, p) : scoreV1(questions, p);
  } catch (e) {
    throw new Error(`${dataFile}: ${(e as Error).message}`); // what the script fails on: no questions, no answers (v1.1)
  }
  return { ...scores, printed: formatPythonJson(scores, v2 ? 2 : undefined) };
}
