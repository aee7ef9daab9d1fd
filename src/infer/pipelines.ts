/**
 * The one table of inference pipelines (transformers.js's pipelines.js habit): route / task name -> the model kind
 * it needs (null: any), what its inputs are, its option, and the library call that runs it. `electra serve`
 * builds its routes from this table; adding a pipeline is one entry here and its Electra method.
 */
import type { ChoiceInput, Electra, QaInput, TextInput } from "./electra.js";
import { AGGREGATION_STRATEGIES, type AggregationStrategy } from "./token-aggregation.js";
import type { ModelKind } from "../model/head.js";

/** A bad option or input: the server answers 400 with the message. */
export class PipelineInputError extends Error {}

export interface Pipeline {
  name: string;
  /** the model kind it needs, or null for any model */
  kind: ModelKind | null;
  /** inputs: texts only, or texts and [text, text] pairs */
  pairs: boolean;
  /** a text must contain this marker (fill-mask: [MASK]) */
  marker?: string;
  /**
   * Inputs that are not texts (question answering, multiple choice): checks one input and returns it, or throws a
   * PipelineInputError naming what is wrong. Without it, inputs are texts (or pairs when `pairs`).
   */
  parse?(x: unknown, i: number): unknown;
  /** what an input is, for error messages */
  inputHelp?: string;
  /** the request's option from its JSON body (the value that keys dynamic batching) */
  option(body: Record<string, unknown>): string | number;
  run(model: Electra, inputs: TextInput[], option: string | number): Promise<unknown[]>;
}

function stringField(x: unknown, k: string, i: number): string {
  const v = (x as Record<string, unknown>)[k];
  if (typeof v !== "string" || v === "") throw new PipelineInputError(`inputs[${i}].${k} must be a non-empty string`);
  return v;
}

function numberOption(body: Record<string, unknown>, k: string, dflt: number, lo: number, hi: number, int: boolean): number {
  const v = body[k] ?? dflt;
  if (typeof v !== "number" || !(v >= lo && v <= hi) || (int && !Number.isInteger(v))) {
    throw new PipelineInputError(`"${k}" must be ${int ? "an integer" : "a number"} in [${lo}, ${hi}]`);
  }
  return v;
}

function choiceOption(body: Record<string, unknown>, k: string, choices: readonly string[], dflt: string): string {
  const v = body[k] ?? dflt;
  if (typeof v !== "string" || !choices.includes(v)) throw new PipelineInputError(`"${k}" must be one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`);
  return v;
}

export const PIPELINES: readonly Pipeline[] = [
  { name: "classify", kind: "classifier", pairs: true, option: () => 0, run: (m, x) => m.classify(x) },
  {
    name: "ner", kind: "token-classifier", pairs: false,
    option: (b) => choiceOption(b, "aggregation", AGGREGATION_STRATEGIES, "simple"),
    run: (m, x, o) => m.ner(x as string[], { aggregation: o as AggregationStrategy }),
  },
  { name: "detect", kind: "discriminator", pairs: true, option: (b) => numberOption(b, "threshold", 0.5, 0, 1, false), run: (m, x, o) => m.detect(x, o as number) },
  {
    name: "fill-mask", kind: "generator", pairs: false, marker: "[MASK]",
    option: (b) => numberOption(b, "top_k", 5, 1, 100, true), run: (m, x, o) => m.fillMask(x as string[], o as number),
  },
  {
    name: "qa", kind: "question-answering", pairs: false, inputHelp: `{"question": "...", "context": "..."}`,
    parse: (x, i) => {
      if (typeof x !== "object" || x === null || Array.isArray(x)) throw new PipelineInputError(`inputs[${i}] must be {"question": "...", "context": "..."}`);
      return { question: stringField(x, "question", i), context: stringField(x, "context", i) };
    },
    option: (b) => numberOption(b, "top_k", 1, 1, 20, true),
    run: (m, x, o) => m.answer(x as unknown as QaInput[], { topK: o as number }),
  },
  {
    name: "multiple-choice", kind: "multiple-choice", pairs: false, inputHelp: `{"context": "...", "choices": ["...", ...]}`,
    parse: (x, i) => {
      if (typeof x !== "object" || x === null || Array.isArray(x)) throw new PipelineInputError(`inputs[${i}] must be {"context": "...", "choices": [...]}`);
      const choices = (x as { choices?: unknown }).choices;
      if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === "string" && c !== "")) {
        throw new PipelineInputError(`inputs[${i}].choices must be a list of at least 2 non-empty strings`);
      }
      return { context: stringField(x, "context", i), choices } as ChoiceInput;
    },
    option: () => 0,
    run: (m, x) => m.choose(x as unknown as ChoiceInput[]),
  },
  {
    name: "embed", kind: null, pairs: true, option: (b) => choiceOption(b, "pooling", ["mean", "cls"], "mean"),
    run: async (m, x, o) => (await m.embed(x, o as "mean" | "cls")).map((v) => Array.from(v)),
  },
];

export function findPipeline(name: string): Pipeline | undefined {
  return PIPELINES.find((p) => p.name === name);
}
