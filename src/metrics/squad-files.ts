/** `electra score --task squad|squad_v2`: the official scripts' scores of a predictions.json against a SQuAD file. */
import { readFileSync } from "node:fs";
import { evaluateV1, evaluateV2, formatPythonJson } from "./squad.js";

/**
 * Scores `{id: answer}` predictions as evaluate-v1.1.py / evaluate-v2.0.py do; `printed` is the text the script
 * prints (its json.dumps), so the command's output can be compared with the script's byte for byte.
 */
export function scoreSquadFiles(dataFile: string, predictionsFile: string, v2: boolean): Record<string, unknown> {
  const read = (f: string, what: string): unknown => {
    try {
      return JSON.parse(readFileSync(f, "utf8").replace(/^\uFEFF/, ""));
    } catch (e) {
      throw new Error(`${f}: not a JSON ${what} (${(e as Error).message.split("\n")[0]})`);
    }
  };
  const data = read(dataFile, "SQuAD file");
  const preds = read(predictionsFile, "predictions file ({id: answer})");
  if (typeof preds !== "object" || preds === null || Array.isArray(preds) || !Object.values(preds).every((v) => typeof v === "string")) {
    throw new Error(`${predictionsFile}: predictions must be one JSON object {question id: answer text}`);
  }
  const p = preds as Record<string, string>;
  const scores = v2 ? evaluateV2(data, p) : evaluateV1(data, p);
  return { ...scores, printed: formatPythonJson(scores as Record<string, number>, v2 ? 2 : undefined) };
}
