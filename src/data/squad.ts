/**
 * SQuAD files (v1.1 and v2.0, the official JSON):
 *
 *   {"version": "1.1", "data": [{"title": ..., "paragraphs": [{"context": ...,
 *     "qas": [{"id": ..., "question": ..., "answers": [{"text": ..., "answer_start": N}],
 *              "is_impossible": false, "plausible_answers": [...]}]}]}]}
 *
 * `answer_start` is a character index into the context as Python counts characters (code points). v2.0's
 * unanswerable questions have `is_impossible: true` and no answers (their `plausible_answers` are kept but
 * never trained on, as the official code does). Each answer's text must be the context's characters from its
 * `answer_start` on (as it is in every answer of the official dev files), and a v1.1 reader (the `squad` task)
 * refuses v2.0's unanswerable questions. A malformed file stops with a one-line error naming the question id (or
 * the article / paragraph when there is none).
 */
import { readFileSync } from "node:fs";
import { checkUtf8 } from "./delimited.js";
import { FileFormatError } from "./format-error.js";
import { jsonErrorMessage } from "./jsonl.js";

export interface SquadAnswer {
  text: string;
  /** code-point index of the answer's first character in the context */
  start: number;
}

export interface SquadExample {
  id: string;
  title: string;
  question: string;
  context: string;
  /** gold answers (the first is the training target); empty when unanswerable */
  answers: SquadAnswer[];
  isImpossible: boolean;
}

export class SquadFormatError extends FileFormatError {}

/** The code points of a string (SQuAD's character indices). */
export function codePoints(s: string): string[] {
  return Array.from(s);
}

/**
 * Reads an official SQuAD JSON file into examples, in file order; checks each answer against its context.
 * version "1.1": v2.0's unanswerable questions are an error (the v1.1 scorer cannot score them).
 */
export function readSquad(file: string, version?: "1.1" | "2.0"): SquadExample[] {
  const buf = readFileSync(file);
  checkUtf8(buf, (line, message) => new SquadFormatError(file, line, message));
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString("utf8").replace(/^\uFEFF/, ""));
  } catch (e) {
    throw new SquadFormatError(file, undefined, `not a SQuAD JSON file (${jsonErrorMessage(e)})`);
  }
  return parseSquad(raw, file, version);
}

export function parseSquad(raw: unknown, file: string, version?: "1.1" | "2.0"): SquadExample[] {
  const bad = (where: string, what: string): never => {
    throw new SquadFormatError(file, undefined, `${where}: ${what}`);
  };
  const obj = raw as { data?: unknown };
  if (typeof raw !== "object" || raw === null || !Array.isArray(obj.data)) bad("top level", `expected {"data": [...]}`);
  const out: SquadExample[] = [];
  const seen = new Set<string>();
  (obj.data as unknown[]).forEach((article, ai) => {
    const a = article as { title?: unknown; paragraphs?: unknown };
    if (typeof a !== "object" || a === null || !Array.isArray(a.paragraphs)) bad(`article ${ai}`, `expected {"paragraphs": [...]}`);
    const title = typeof a.title === "string" ? a.title : "";
    (a.paragraphs as unknown[]).forEach((para, pi) => {
      const p = para as { context?: unknown; qas?: unknown };
      if (typeof p !== "object" || p === null || typeof p.context !== "string" || !Array.isArray(p.qas)) {
        bad(`article ${ai} paragraph ${pi}`, `expected {"context": "...", "qas": [...]}`);
      }
      const context = p.context as string;
      const chars = codePoints(context);
      (p.qas as unknown[]).forEach((q0, qi) => {
        const q = q0 as { id?: unknown; question?: unknown; answers?: unknown; is_impossible?: unknown };
        if (typeof q !== "object" || q === null || typeof q.id !== "string" || q.id === "") bad(`article ${ai} paragraph ${pi} question ${qi}`, "no string \"id\"");
        const id = q.id as string;
        if (seen.has(id)) bad(`question ${id}`, "the id occurs twice");
        seen.add(id);
        if (typeof q.question !== "string") bad(`question ${id}`, "no string \"question\"");
        const isImpossible = q.is_impossible === true;
        if (q.is_impossible !== undefined && typeof q.is_impossible !== "boolean") bad(`question ${id}`, "\"is_impossible\" must be true or false");
        if (isImpossible && version === "1.1") bad(`question ${id}`, "\"is_impossible\": true (a SQuAD 2.0 question) in a SQuAD 1.1 task: use --task squad_v2");
        if (!Array.isArray(q.answers)) bad(`question ${id}`, "\"answers\" must be a list");
        const answers: SquadAnswer[] = [];
        (q.answers as unknown[]).forEach((x, k) => {
          const an = x as { text?: unknown; answer_start?: unknown };
          if (typeof an !== "object" || an === null || typeof an.text !== "string") bad(`question ${id}`, `answer ${k} has no string "text"`);
          const start = an.answer_start;
          if (typeof start !== "number" || !Number.isInteger(start) || start < 0 || start > chars.length) {
            bad(`question ${id}`, `answer ${k}: "answer_start" ${JSON.stringify(start)} is not a character index of the context`);
          }
          const text = an.text as string, end = (start as number) + codePoints(text).length;
          if (!isImpossible) {
            if (text.trim() === "") bad(`question ${id}`, `answer ${k} has an empty "text"`);
            const found = chars.slice(start as number, end).join("");
            if (found !== text) bad(`question ${id}`, `answer ${k} ${JSON.stringify(text)} is not the context's text at character ${start} (${JSON.stringify(found)})`);
          }
          answers.push({ text, start: start as number });
        });
        if (!isImpossible && answers.length === 0) bad(`question ${id}`, "an answerable question (no \"is_impossible\": true) without answers");
        out.push({ id, title, question: q.question as string, context, answers: isImpossible ? [] : answers, isImpossible });
      });
    });
  });
  if (out.length === 0) throw new SquadFormatError(file, undefined, "no questions");
  return out;
}

/** The examples back in the official layout (one paragraph per example), for the official scorers. */
export function squadDataset(examples: readonly SquadExample[], version: "1.1" | "v2.0"): unknown {
  return {
    version,
    data: [{
      title: "",
      paragraphs: examples.map((e) => ({
        context: e.context,
        qas: [{ id: e.id, question: e.question, answers: e.answers.map((a) => ({ text: a.text, answer_start: a.start })), is_impossible: e.isImpossible }],
      })),
    }],
  };
}
