/** One line of a JSONL file as the readers take it: a JSON object, or one clear error; and how a JSON value reads in one. */

/** A JSON value in an error message: `null`, `nothing` (absent), `an array`, `an object`, or its type and text. */
export function describeJson(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`;
}

const LINE_BREAKS: Record<string, string> = { "\r": "\\r", "\n": "\\n", "\u2028": "\\u2028", "\u2029": "\\u2029" };

/**
 * A JSON.parse error's message on one line: the line breaks of the input it quotes are shown escaped (`\n`, `\r`),
 * so that a reader's `file:line: ` error stays one line.
 */
export function jsonErrorMessage(e: unknown): string {
  return (e as Error).message.replace(/[\r\n\u2028\u2029]/g, (c) => LINE_BREAKS[c]!);
}

/** The JSON object on one JSONL line; `fail` turns a message into the reader's `file:line:` error. */
export function jsonObjectLine(raw: string, fail: (message: string) => Error): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch (e) {
    throw fail(`not valid JSON (expected one JSON object per line): ${jsonErrorMessage(e)}`);
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw fail(`expected a JSON object, found ${describeJson(obj)}`);
  return obj as Record<string, unknown>;
}
