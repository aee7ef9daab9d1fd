/** `electra classify | ner | qa | choose | detect | fill-mask | embed`: inference on a Hugging Face folder (src/infer/electra.ts). */
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { Electra, type TextInput } from "../infer/electra.js";
import type { Dtype } from "../model/quantize.js";
import { warmUp } from "../infer/pipelines.js";
import { AGGREGATION_STRATEGIES, type AggregationStrategy } from "../infer/token-aggregation.js";
import { DTYPE_HELP, nonNegative, positive, mustExist, num, THREADS_HELP } from "./args.js";

interface Common {
  model: string;
  file?: string;
  pairs: boolean;
  format: "json" | "tsv";
  batchSize: number;
  maxSeqLength?: number;
  threads?: number;
  dtype?: Dtype;
}

/** Electra.load's options from the common flags. */
const loadOptions = (o: Common) => ({ threads: o.threads, batchSize: o.batchSize, maxLength: o.maxSeqLength, dtype: o.dtype });

/** Texts from the arguments, else --file, else standard input; one per line; with --pairs, "A<TAB>B". */
function readInputs(args: string[], o: Common): TextInput[] {
  // missing paths first: a wrong --model should not wait for standard input, nor load anything
  mustExist("--model", o.model, "folder");
  if (o.file) mustExist("--file", o.file, "file");
  // each input with where it came from: "input N" (the Nth argument), FILE:LINE, or "standard input:LINE", the
  // line counted before blank lines are skipped
  let inputs = args.map((l, i) => ({ l, at: `input ${i + 1}` }));
  if (!inputs.length) {
    const raw = o.file ? readFileSync(o.file, "utf8") : readFileSync(0, "utf8");
    const source = o.file ?? "standard input";
    inputs = raw.split(/\r?\n/).map((l, i) => ({ l, at: `${source}:${i + 1}` })).filter((x) => x.l.trim() !== "");
  }
  if (!inputs.length) throw new Error("no input: give texts as arguments, --file FILE, or lines on standard input");
  if (!o.pairs) return inputs.map((x) => x.l);
  return inputs.map(({ l, at }) => {
    const parts = l.split("\t");
    if (parts.length !== 2) throw new Error(`${at}: --pairs expects "sentence A<TAB>sentence B", found ${parts.length} field(s)`);
    return [parts[0], parts[1]] as const;
  });
}

function common(cmd: Command): Command {
  return cmd
    .requiredOption("--model <dir>", "a Hugging Face ELECTRA folder (config.json, weights, vocab.txt or tokenizer.json)")
    .option("--file <path>", "read inputs from a file, one per line (default: the arguments, else standard input)")
    .option("--pairs", "inputs are sentence pairs, tab-separated", false)
    .addOption(new Option("--format <fmt>", "output format").choices(["json", "tsv"]).default("json"))
    .option("--batch-size <n>", "inputs per forward pass", positive, 32)
    .option("--max-seq-length <n>", MAX_SEQ_HELP, positive)
    .option("--threads <n>", THREADS_HELP, positive)
    .addOption(new Option("--dtype <dtype>", DTYPE_HELP).choices(["fp32", "int8"]));
}

const MAX_SEQ_HELP = "longest input in tokens, [CLS] and [SEP] included; longer ones are cut (default: the length the model was fine-tuned at, from tokenizer_config.json's model_max_length, else max_position_embeddings)";

/** A text as one TSV field: backslash, tab, newline and carriage return escaped as \\, \t, \n, \r. */
const field = (s: string) => s.replace(/[\\\t\n\r]/g, (c) => ({ "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" })[c]!);
/** An input as TSV: one field, or two for a pair. */
const text = (x: TextInput) => (typeof x === "string" ? field(x) : `${field(x[0])}\t${field(x[1])}`);

export function inferCommands(): Command[] {
  const classify = common(new Command("classify").description("label texts (or pairs) with a fine-tuned sequence classifier"))
    .argument("[texts...]", "texts to classify")
    .action(async (args: string[], o: Common) => {
      const inputs = readInputs(args, o);
      const m = await Electra.load(o.model, loadOptions(o));
      const res = await m.classify(inputs);
      res.forEach((r, i) => console.log(o.format === "tsv" ? `${text(inputs[i])}\t${r.label}\t${r.score.toFixed(6)}` : JSON.stringify({ text: inputs[i], ...r })));
    });
  const ner = common(new Command("ner").description("named entities (any token classifier): entity_group, score, word, start, end (character offsets)"))
    .argument("[texts...]", "texts to tag")
    .addOption(new Option("--aggregation <strategy>", "how sub-tokens become entities, as transformers' pipeline (none: every token)").choices([...AGGREGATION_STRATEGIES]).default("simple"))
    .action(async (args: string[], o: Common & { aggregation: AggregationStrategy }) => {
      const inputs = readInputs(args, { ...o, pairs: false }) as string[];
      const m = await Electra.load(o.model, loadOptions(o));
      const res = await m.ner(inputs, { aggregation: o.aggregation });
      res.forEach((ents, i) => {
        if (o.format === "tsv") {
          for (const e of ents) console.log(`${i}\t${"entity_group" in e ? e.entity_group : e.entity}\t${e.score.toFixed(6)}\t${e.start}\t${e.end}\t${field(e.word)}`);
        } else console.log(JSON.stringify({ text: inputs[i], entities: ents }));
      });
    });
  const qa = new Command("qa")
    .description("extractive question answering (a fine-tuned ElectraForQuestionAnswering): the answer span of a question in a context, from all its windows")
    .requiredOption("--model <dir>", "a fine-tuned ElectraForQuestionAnswering folder (or a finetune --out folder)")
    .requiredOption("--question <text>", "the question")
    .option("--context <text>", "the context to answer from (default: none; then --context-file)")
    .option("--context-file <path>", "read the context from a file (default: none)")
    .option("--top-k <k>", "answers to print, best first", positive, 1)
    .option("--max-answer-length <n>", "longest answer in tokens", positive, 30)
    .option("--doc-stride <n>", "tokens between the starts of a long context's windows", positive, 128)
    .option("--null", "SQuAD 2.0 models: the empty answer (no answer) may win", false)
    .option("--threads <n>", THREADS_HELP, positive)
    .action(async (o: { model: string; question: string; context?: string; contextFile?: string; topK: number; maxAnswerLength: number; docStride: number; null: boolean; threads?: number }) => {
      mustExist("--model", o.model, "folder");
      if (!!o.context === !!o.contextFile) throw new Error("give --context TEXT or --context-file FILE");
      if (o.contextFile) mustExist("--context-file", o.contextFile, "file");
      const context = o.context ?? readFileSync(o.contextFile!, "utf8");
      const m = await Electra.load(o.model, { threads: o.threads });
      const [answers] = await m.answer([{ question: o.question, context }], { topK: o.topK, maxAnswerLength: o.maxAnswerLength, docStride: o.docStride, allowNull: o.null });
      console.log(JSON.stringify({ question: o.question, answers }));
    });
  const choose = new Command("choose")
    .description("multiple choice (a fine-tuned ElectraForMultipleChoice): the score of each choice for a context")
    .requiredOption("--model <dir>", "a fine-tuned ElectraForMultipleChoice folder (or a finetune --out folder)")
    .requiredOption("--context <text>", "the context (question, premise)")
    .requiredOption("--choice <text...>", "the choices, in order (repeat the flag or list them)")
    .option("--threads <n>", THREADS_HELP, positive)
    .action(async (o: { model: string; context: string; choice: string[]; threads?: number }) => {
      mustExist("--model", o.model, "folder");
      const m = await Electra.load(o.model, { threads: o.threads });
      const [r] = await m.choose([{ context: o.context, choices: o.choice }]);
      console.log(JSON.stringify({ context: o.context, choices: o.choice, ...r }));
    });
  const detect = common(new Command("detect").description("replaced-token detection: which tokens the discriminator thinks were replaced"))
    .argument("[texts...]", "texts to check")
    .option("--threshold <p>", "P(replaced) above which a token is flagged", num, 0.5)
    .action(async (args: string[], o: Common & { threshold: number }) => {
      const inputs = readInputs(args, o);
      const m = await Electra.load(o.model, loadOptions(o));
      const res = await m.detect(inputs, o.threshold);
      res.forEach((toks, i) => {
        if (o.format === "tsv") console.log(toks.map((t) => `${t.token}${t.replaced ? "*" : ""}`).join(" "));
        else console.log(JSON.stringify({ text: inputs[i], replaced: toks.filter((t) => t.replaced).map((t) => t.token), tokens: toks }));
      });
    });
  const fill = common(new Command("fill-mask").description("the generator's top-k tokens for each [MASK] in a text"))
    .argument("[texts...]", "texts containing [MASK]")
    .option("--top-k <k>", "candidates per [MASK]", positive, 5)
    .action(async (args: string[], o: Common & { topK: number }) => {
      const inputs = readInputs(args, { ...o, pairs: false }) as string[];
      const m = await Electra.load(o.model, loadOptions(o));
      const res = await m.fillMask(inputs, o.topK);
      res.forEach((masks, i) => {
        if (o.format === "tsv") console.log(masks.map((c) => c.map((x) => `${x.token}:${x.probability.toFixed(4)}`).join(" ")).join("\t"));
        else console.log(JSON.stringify({ text: inputs[i], masks }));
      });
    });
  const embed = common(new Command("embed").description("sentence vectors (mean-pooled last hidden state, or [CLS])"))
    .argument("[texts...]", "texts to embed")
    .addOption(new Option("--pooling <p>", "how to pool token states").choices(["mean", "cls"]).default("mean"))
    .action(async (args: string[], o: Common & { pooling: "mean" | "cls" }) => {
      const inputs = readInputs(args, o);
      const m = await Electra.load(o.model, loadOptions(o));
      const res = await m.embed(inputs, o.pooling);
      res.forEach((v, i) => console.log(o.format === "tsv" ? Array.from(v, (x) => x.toPrecision(6)).join("\t") : JSON.stringify({ text: inputs[i], embedding: Array.from(v) })));
    });
  return [classify, ner, qa, choose, detect, fill, embed];
}

export function serveCommand(): Command {
  return new Command("serve")
    .description("serve a model over HTTP: POST /classify, /ner, /qa, /multiple-choice, /detect, /fill-mask, /embed with JSON {\"inputs\": [...]}; GET /health, /ready, /metrics")
    .requiredOption("--model <dir>", "a Hugging Face ELECTRA folder")
    .option("--port <n>", "TCP port (0: any free port)", nonNegative, 8080)
    .option("--host <addr>", "address to listen on", "127.0.0.1")
    .option("--max-batch <n>", "most inputs run as one batch", positive, 32)
    .option("--max-wait-ms <n>", "how long a request waits for others to join its batch", nonNegative, 5)
    .option("--max-body-bytes <n>", "largest request body (larger: 413)", positive, 1 << 20)
    .option("--max-inputs <n>", "most inputs in one request (more: 413)", positive, 256)
    .option("--max-input-chars <n>", "longest input in characters (longer: 413)", positive, 20000)
    .option("--max-queue <n>", "most inputs waiting to run; a request that would pass it gets 429 with Retry-After", positive, 1024)
    .option("--request-timeout-ms <n>", "a request's deadline from arrival to answer; past it, 504 (and it is not run if still queued)", positive, 30000)
    .option("--max-seq-length <n>", MAX_SEQ_HELP, positive)
    .option("--threads <n>", THREADS_HELP, positive)
    .addOption(new Option("--dtype <dtype>", DTYPE_HELP).choices(["fp32", "int8"]))
    .option("--warmup <passes>", "before /ready says ready, run the model's pipeline on an example input this many times (0: none), so that the JavaScript compiler's warm-up is not in the first requests' latency", nonNegative, 300)
    .option("--warmup-ms <n>", "stop the warm-up after this many milliseconds, whatever --warmup says", nonNegative, 10000)
    .action(async (o: ServeFlags) => {
      mustExist("--model", o.model, "folder");
      const { ElectraServer } = await import("../infer/server.js");
      // listen first, so that /health and /ready answer while the model loads
      let load!: (m: Promise<Electra>) => void;
      const server = new ElectraServer(new Promise<Electra>((r) => (load = r)), o);
      const port = await server.listen();
      let stopping = false;
      const stop = async (sig: string) => {
        if (stopping) {
          console.log(`electra serve: ${sig} again: exiting without waiting`);
          process.exit(1);
        }
        stopping = true;
        console.log(`electra serve: ${sig}: no new connections; answering the requests received, then closing`);
        await server.close();
        const s = server.stats;
        const answers = Object.entries(s.byStatus).map(([k, n]) => `${k}: ${n}`).join(", ");
        console.log(`electra serve: closed after ${s.requests} requests, ${s.inputs} inputs in ${s.batches} batches; answers by status: ${answers || "none"}`);
        process.exit(0);
      };
      process.on("SIGINT", () => void stop("SIGINT"));
      process.on("SIGTERM", () => void stop("SIGTERM"));
      console.log(`electra serve: loading ${o.model} (port ${port}: /health and /ready answer meanwhile)`);
      const loading = Electra.load(o.model, { threads: o.threads, batchSize: o.maxBatch, maxLength: o.maxSeqLength, dtype: o.dtype }).then(async (m) => {
        // a warm-up that fails (its example refused: a --max-seq-length too short for it) costs only the warm-up
        if (o.warmup > 0) {
          try {
            const w = await warmUp(m, o.warmup, o.warmupMs);
            console.log(`electra serve: warmed up: ${w.passes} passes of /${w.pipeline} in ${(w.ms / 1000).toFixed(1)} s`);
          } catch (e) {
            console.log(`electra serve: warm-up skipped: its example input failed: ${(e as Error).message}`);
          }
        }
        return m;
      });
      load(loading);
      const model = await loading; // a failure ends the command with its one-line message
      if (!stopping) console.log(`electra serve: ${model.kind} ${o.model} listening on http://${o.host}:${port}`);
    });
}

interface ServeFlags {
  model: string;
  port: number;
  host: string;
  maxBatch: number;
  maxWaitMs: number;
  maxBodyBytes: number;
  maxInputs: number;
  maxInputChars: number;
  maxQueue: number;
  requestTimeoutMs: number;
  maxSeqLength?: number;
  threads?: number;
  dtype?: Dtype;
  warmup: number;
  warmupMs: number;
}
