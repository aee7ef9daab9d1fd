/**
 * The one table of inference pipelines (transformers.js's pipelines.js habit): route / task name -> the model kind
 * it needs (null: any), how one input is validated (before it joins a batch), its option, and the library call
 * that runs it. `electra serve` builds its routes from this table; adding a pipeline is one entry here and its
 * Electra method.
 */
import type { ChoiceInput, Electra, QaInput, TextInput } from "./electra.js";
import { AGGREGATION_STRATEGIES, type AggregationStrategy } from "./token-aggregation.js";
import type { ModelKind } from "../model/head.js";

/**
 * A bad option or input, the client's fault: the server answers `status` with the message, for that request
 * alone. 400: malformed (wrong type or shape, no [MASK], an option out of range); 413: over a size limit of the
 * server (characters, choices); 422: well formed, but more than the model takes (a fill-mask text longer than
 * its positions, a question that leaves no room for its context).
 */
export class PipelineInputError extends Error {
  constructor(message: string, readonly status: 400 | 413 | 422 = 400) {
    super(message);
  }
}

/** The server's limits on one input. */
export interface InputLimits {
  /** longest input in characters (all its strings together) */
  maxInputChars: number;
}

/** most choices of one multiple-choice input (each is a row of the model's batch) */
export const MAX_CHOICES = 64;

export interface Pipeline {
  name: string;
  /** the model kind it needs, or null for any model */
  kind: ModelKind | null;
  /** what an input is, for error messages */
  inputHelp: string;
  /**
   * Checks one input before it joins a batch, for everything the model would refuse too, and returns it as `run`
   * takes it; or throws a PipelineInputError naming what is wrong, so that a bad input fails its request alone.
   */
  validate(model: Electra, x: unknown, i: number, limits: InputLimits): Promise<unknown>;
  /** the request's option from its JSON body (the value that keys dynamic batching) */
  option(body: Record<string, unknown>): string | number;
  run(model: Electra, inputs: unknown[], option: string | number): Promise<unknown[]>;
  /** one valid input, as a request would send it (what warmUp runs) */
  example: unknown;
}

function checkChars(n: number, i: number, limits: InputLimits): void {
  if (n > limits.maxInputChars) throw new PipelineInputError(`inputs[${i}] has ${n} characters; the limit is ${limits.maxInputChars}`, 413);
}

/** A text, or with `pairs` a [text, text] pair, within the character limit. */
function textInput(x: unknown, i: number, pairs: boolean, limits: InputLimits): TextInput {
  const ok = typeof x === "string" || (pairs && Array.isArray(x) && x.length === 2 && x.every((y) => typeof y === "string"));
  if (!ok) throw new PipelineInputError(`inputs[${i}] must be a string${pairs ? " or a [string, string] pair" : ""}`);
  const t = x as TextInput;
  checkChars(typeof t === "string" ? t.length : t[0].length + t[1].length, i, limits);
  return t;
}

/** A JSON object input (question answering, multiple choice). */
function objectInput(x: unknown, i: number, help: string): Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw new PipelineInputError(`inputs[${i}] must be ${help}`);
  return x as Record<string, unknown>;
}

function stringField(x: Record<string, unknown>, k: string, i: number): string {
  const v = x[k];
  if (typeof v !== "string" || v === "") throw new PipelineInputError(`inputs[${i}].${k} must be a non-empty string`);
  return v;
}

const texts = (pairs: boolean) => async (_m: Electra, x: unknown, i: number, limits: InputLimits) => textInput(x, i, pairs, limits);
const QA_HELP = `{"question": "...", "context": "..."}`, CHOICE_HELP = `{"context": "...", "choices": ["...", ...]}`;

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
  { name: "classify", kind: "classifier", inputHelp: "texts or [text, text] pairs", validate: texts(true), option: () => 0, run: (m, x) => m.classify(x as TextInput[]), example: "the dog barks" },
  {
    name: "ner", kind: "token-classifier", inputHelp: "texts", validate: texts(false),
    option: (b) => choiceOption(b, "aggregation", AGGREGATION_STRATEGIES, "simple"),
    run: (m, x, o) => m.ner(x as string[], { aggregation: o as AggregationStrategy }), example: "the dog barks",
  },
  {
    name: "detect", kind: "discriminator", inputHelp: "texts or [text, text] pairs", validate: texts(true),
    option: (b) => numberOption(b, "threshold", 0.5, 0, 1, false), run: (m, x, o) => m.detect(x as TextInput[], o as number), example: "the dog barks",
  },
  {
    name: "fill-mask", kind: "generator", inputHelp: `texts with "[MASK]" in them`,
    validate: async (m, x, i, limits) => {
      const text = textInput(x, i, false, limits) as string;
      if (!text.includes("[MASK]")) throw new PipelineInputError(`inputs[${i}] has no [MASK] (the literal "[MASK]" marks each position to fill)`);
      const n = (await m.maskedIds(text)).length;
      if (n > m.maxLength) throw new PipelineInputError(`inputs[${i}] is ${n} tokens with [CLS] and [SEP]; the model takes at most ${m.maxLength}`, 422);
      return text;
    },
    option: (b) => numberOption(b, "top_k", 5, 1, 100, true), run: (m, x, o) => m.fillMask(x as string[], o as number), example: "the dog [MASK]",
  },
  {
    name: "qa", kind: "question-answering", inputHelp: QA_HELP,
    validate: async (m, x, i, limits) => {
      const o = objectInput(x, i, QA_HELP);
      const v: QaInput = { question: stringField(o, "question", i), context: stringField(o, "context", i) };
      checkChars(v.question.length + v.context.length, i, limits);
      if ((await m.contextRoom(v.question)) < 1) throw new PipelineInputError(`inputs[${i}].question leaves no room for the context in the model's ${m.maxLength} positions`, 422);
      return v;
    },
    option: (b) => numberOption(b, "top_k", 1, 1, 20, true),
    run: (m, x, o) => m.answer(x as QaInput[], { topK: o as number }), example: { question: "what barks?", context: "the dog barks." },
  },
  {
    name: "multiple-choice", kind: "multiple-choice", inputHelp: CHOICE_HELP,
    validate: async (_m, x, i, limits) => {
      const o = objectInput(x, i, CHOICE_HELP);
      const choices = o.choices;
      if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === "string" && c !== "")) {
        throw new PipelineInputError(`inputs[${i}].choices must be a list of at least 2 non-empty strings`);
      }
      if (choices.length > MAX_CHOICES) throw new PipelineInputError(`inputs[${i}] has ${choices.length} choices; the limit is ${MAX_CHOICES}`, 413);
      const v: ChoiceInput = { context: stringField(o, "context", i), choices: choices as string[] };
      checkChars(v.context.length + v.choices.reduce((a, c) => a + c.length, 0), i, limits);
      return v;
    },
    option: () => 0,
    run: (m, x) => m.choose(x as ChoiceInput[]), example: { context: "the dog", choices: ["barks.", "purrs."] },
  },
  {
    name: "embed", kind: null, inputHelp: "texts or [text, text] pairs", validate: texts(true), option: (b) => choiceOption(b, "pooling", ["mean", "cls"], "mean"),
    run: async (m, x, o) => (await m.embed(x as TextInput[], o as "mean" | "cls")).map((v) => Array.from(v)), example: "the dog barks",
  },
];

export function findPipeline(name: string): Pipeline | undefined {
  return PIPELINES.find((p) => p.name === name);
}

/** The pipeline a model of this kind serves (embed, for a bare encoder). */
export function pipelineFor(kind: ModelKind): Pipeline {
  return PIPELINES.find((p) => p.kind === kind) ?? findPipeline("embed")!;
}

/** What warmUp ran: the pipeline, how many passes, in how many milliseconds. */
export interface WarmUp {
  pipeline: string;
  passes: number;
  ms: number;
}

/**
 * Runs the model's own pipeline (pipelineFor) on its example input, validated and run as a request is, `passes`
 * times or until `maxMs` have passed, whichever comes first. Why a server does this before it says it is ready:
 * V8 compiles the hot JavaScript of a forward pass in tiers over its first few hundred calls, and each compile
 * takes a core for tens of milliseconds; without it those compiles land in the first requests' latency
 * (ELECTRA-Small, 1 x 16 tokens, 2 threads: p99 25 ms over a fresh process's first 200 passes, 8.7 ms after
 * 300 passes of warm-up; p50 7 ms either way; BENCHMARKS.md, issue 18).
 */
export async function warmUp(model: Electra, passes: number, maxMs: number): Promise<WarmUp> {
  const p = pipelineFor(model.kind);
  const t0 = performance.now();
  let n = 0;
  while (n < passes && performance.now() - t0 < maxMs) {
    const x = await p.validate(model, p.example, 0, { maxInputChars: Infinity });
    await p.run(model, [x], p.option({}));
    n++;
  }
  return { pipeline: p.name, passes: n, ms: performance.now() - t0 };
}
