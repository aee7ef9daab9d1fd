/**
 * `electra finetune`, `electra evaluate`, `electra predict`, `electra score`: command-line front ends of
 * src/train/finetune.ts and the task registry (src/tasks/registry.ts). No task is named here: the data flags go
 * to the task the registry picks.
 */
import { Command, Option } from "commander";
import { DTYPE_HELP, int, MPI_TIMEOUT_HELP, nonNegative, positive, mustExist, num, THREADS_HELP } from "./args.js";
import type { Dtype } from "../model/quantize.js";
import cliProgress from "cli-progress";
import { getWorld } from "../core/mpi.js";
import { setThreads } from "../core/native.js";
import { BUCKET_CHUNK_BATCHES } from "../data/batching.js";
import { createTask, TASK_NAMES, tasksHelp } from "../tasks/registry.js";
import type { DataOptions } from "../tasks/task.js";
import { evaluate, finetune, predict, type EvaluateResult, type FinetuneEvent, type FinetuneReport, type PredictResult } from "../train/finetune.js";
import { FINETUNE_BATCH_SIZE, FINETUNE_WARMUP_PROPORTION, FINETUNE_WEIGHT_DECAY } from "../tasks/hyperparameters.js";
import { PRESETS } from "../train/pretrain.js";
import { FinetuneTensorBoard } from "../train/tensorboard.js";

/** The data flags every command shares (see DataOptions). */
export interface DataCliOptions {
  dataDir?: string;
  trainFile?: string;
  validationFile?: string;
  validationSplit?: number;
  testFile?: string;
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  regression?: boolean;
  tagColumn?: number;
  docStride?: number;
  maxQueryLength?: number;
  nBest?: number;
  maxAnswerLength?: number;
  nullScoreThreshold?: number;
}

export interface FinetuneCliOptions extends DataCliOptions {
  task: string;
  model?: string;
  config?: string;
  vocab?: string;
  out: string;
  overwrite?: boolean;
  epochs?: number;
  seed: number;
  seeds?: number[];
  lr?: number;
  batchSize: number;
  evalBatchSize: number;
  maxSeqLength?: number;
  layerDecay?: number;
  weightDecay: number;
  warmupProportion: number;
  head: "hf" | "official";
  maxTrainExamples?: number;
  maxEvalExamples?: number;
  maxSteps?: number;
  doubleUnordered?: boolean;
  biasCorrection: boolean;
  threads?: number;
  /** a folder for TensorBoard event files */
  tensorboard?: string;
  /** under mpirun: seconds a rank waits for the others in a step before it ends the job */
  mpiTimeout?: number;
}

const intList = (v: string) => v.split(",").filter((s) => s.trim() !== "").map((s) => int(s.trim()));
const fmt = (x: number) => (Math.abs(x) >= 1 ? x.toFixed(2) : x.toFixed(4));

/** Progress: a bar on a TTY, plain lines (about 20 per seed, and every evaluation) otherwise. */
export function progressReporter(task: string, quiet: boolean): (e: FinetuneEvent) => void {
  const tty = process.stderr.isTTY && !quiet;
  let bar: cliProgress.SingleBar | null = null;
  let every = 1, seedLabel = "", dev = "-";
  const say = (s: string) => {
    if (!quiet) console.error(s);
  };
  return (e) => {
    switch (e.kind) {
      case "data":
        say(`${task}: ${e.trainExamples} training and ${e.devExamples} dev examples tokenized in ${e.seconds.toFixed(1)} s` +
          (e.trainFeatures !== e.trainExamples ? ` (${e.trainFeatures} training windows)` : ""));
        break;
      case "warning":
        console.error(`warning: ${e.message}`);
        break;
      case "seed-start":
        seedLabel = e.seeds > 1 ? `seed ${e.seed} (${e.seedIndex + 1}/${e.seeds})` : `seed ${e.seed}`;
        every = Math.max(1, Math.round(e.totalSteps / 20));
        dev = "-";
        if (tty) {
          bar = new cliProgress.SingleBar({
            format: `finetune ${task} ${seedLabel} |{bar}| {value}/{total} steps | loss {loss} | {tps} tok/s | dev {dev} | eta {eta_formatted}`,
            stream: process.stderr, hideCursor: true,
          }, cliProgress.Presets.shades_classic);
          bar.start(e.totalSteps, 0, { loss: "-", tps: "-", dev });
        } else say(`${task} ${seedLabel}: ${e.totalSteps} steps (${e.stepsPerEpoch} per epoch)`);
        break;
      case "step":
        if (bar) bar.update(e.step, { loss: e.loss.toFixed(4), tps: Math.round(e.tokensPerSecond), dev });
        else if (e.step % every === 0 || e.step === e.totalSteps) {
          say(`${task} ${seedLabel} step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${Math.round(e.tokensPerSecond)} tok/s`);
        }
        break;
      case "eval": {
        // the overall metrics (token tasks list per-type ones after them: metrics.json has those)
        const m = Object.entries(e.record.dev).filter(([k]) => k !== "main").slice(0, 4).map(([k, v]) => `${k} ${fmt(v)}`).join("  ");
        dev = fmt(e.record.dev.main);
        if (bar) bar.update(e.record.step, { dev });
        else say(`${task} ${seedLabel} epoch ${e.record.epoch} (step ${e.record.step}): train loss ${e.record.train_loss.toFixed(4)}  dev ${m}${e.best ? "  (best so far)" : ""}`);
        break;
      }
      case "seed-end":
        bar?.stop();
        bar = null;
        say(`${task} ${seedLabel}: best epoch ${e.result.best_epoch}, dev ${e.result.dev.main.toFixed(4)}; ${e.result.train_seconds.toFixed(1)} s training, ${Math.round(e.result.tokens_per_second)} tok/s`);
        break;
    }
  };
}

/** Missing inputs: one line naming the flag, before a model is loaded. */
function checkInputs(o: DataCliOptions & { model?: string; vocab?: string }): void {
  if (o.dataDir) mustExist("--data-dir", o.dataDir, "folder");
  for (const [flag, f] of [["--train-file", o.trainFile], ["--validation-file", o.validationFile], ["--test-file", o.testFile], ["--vocab", o.vocab]] as const) {
    if (f) mustExist(flag, f, "file");
  }
  if (o.model) mustExist("--model", o.model, "folder");
  if (!o.dataDir && !o.trainFile && !o.validationFile && !o.testFile) throw new Error("give --data-dir DIR, or the files (--train-file, --validation-file, --test-file)");
}

function dataOptions(o: DataCliOptions): DataOptions {
  return {
    dataDir: o.dataDir, trainFile: o.trainFile, validationFile: o.validationFile, validationSplit: o.validationSplit, testFile: o.testFile,
    textColumn: o.textColumn, textPairColumn: o.textPairColumn, labelColumn: o.labelColumn, regression: o.regression, tagColumn: o.tagColumn,
    docStride: o.docStride, maxQueryLength: o.maxQueryLength, nBest: o.nBest, maxAnswerLength: o.maxAnswerLength, nullScoreThreshold: o.nullScoreThreshold,
  };
}

export async function runFinetune(o: FinetuneCliOptions, quiet = false): Promise<FinetuneReport> {
  if (o.threads) setThreads(o.threads);
  // under mpirun: rank 0 alone prints the progress (and writes OUT)
  const world = getWorld();
  if (o.mpiTimeout !== undefined && world.size > 1) world.timeout = o.mpiTimeout;
  quiet ||= world.rank !== 0;
  if (world.size > 1 && !quiet) console.error(`data parallel: ${world.size} MPI ranks x batch ${o.batchSize} = global batch ${world.size * o.batchSize} per step`);
  if (o.model && o.config) throw new Error("give --model DIR or --config NAME (with --vocab), not both");
  if (!o.model && !o.config) throw new Error("give --model DIR (a Hugging Face folder) or --config NAME --vocab FILE (random weights)");
  checkInputs(o);
  const report = progressReporter(o.task, quiet);
  const tb = o.tensorboard && world.rank === 0 ? new FinetuneTensorBoard(o.tensorboard) : null;
  return finetune({
    ...dataOptions(o), task: o.task, out: o.out, model: o.model, config: o.config, vocab: o.vocab, splitSeed: o.seed,
    seeds: o.seeds && o.seeds.length ? o.seeds : [o.seed], epochs: o.epochs, lr: o.lr, batchSize: o.batchSize, evalBatchSize: o.evalBatchSize,
    maxSeqLength: o.maxSeqLength, layerDecay: o.layerDecay, weightDecay: o.weightDecay, warmupProportion: o.warmupProportion, head: o.head,
    maxTrainExamples: o.maxTrainExamples, maxEvalExamples: o.maxEvalExamples, maxSteps: o.maxSteps, doubleUnordered: o.doubleUnordered,
    biasCorrection: o.biasCorrection, overwrite: o.overwrite, onEvent: tb ? (e) => { report(e); tb.onEvent(e); } : report,
  }).finally(() => tb?.close());
}

/** The data flags, on any of the commands. */
function withDataOptions(cmd: Command, what: "finetune" | "evaluate" | "predict"): Command {
  cmd.option("--data-dir <dir>", "a folder in the task's standard layout: the GLUE data root (CoLA/, SST-2/, ...), or a CoNLL folder (train.txt, valid.txt, test.txt or eng.train, eng.testa, eng.testb) (default: none; then the file flags)");
  if (what === "finetune") cmd.option("--train-file <file>", "training data: CSV / TSV / JSONL (text-classification) or CoNLL / JSONL (token tasks) (default: none)");
  cmd.option("--validation-file <file>", "validation data, the same format (default: none)");
  if (what === "finetune") cmd.option("--validation-split <x>", "hold out this fraction of --train-file as the validation set when there is no validation file (default: none)", num);
  if (what !== "finetune") cmd.option("--test-file <file>", "test data in the training format; labels optional for text-classification and multiple choice (token tasks and squad read their labelled formats) (default: none)");
  return cmd
    .option("--text-column <name>", "CSV/TSV/JSONL: the text column (default: text, else sentence, else sentence1, else the only text column)")
    .option("--text-pair-column <name>", "CSV/TSV/JSONL: the second text of a pair (default: text_pair or sentence2 when present, else none)")
    .option("--label-column <name>", "CSV/TSV/JSONL: the label column (default: label, else labels)")
    .option("--regression", "text-classification: the label column is a number to regress on (default: classification on label strings)")
    .option("--tag-column <n>", "CoNLL: the 0-based column of the tags; negative counts from the end (default: -1, the last)", int)
    .option("--doc-stride <n>", "squad: tokens between the starts of a long context's windows (default: 128)", positive)
    .option("--max-query-length <n>", "squad: question tokens kept (default: 64)", positive)
    .option("--n-best <n>", "squad: start and end candidates per window, and answers in nbest_predictions.json (default: 20)", positive)
    .option("--max-answer-length <n>", "squad: longest answer in tokens (default: 30)", positive)
    .option("--null-score-threshold <x>", "squad_v2: answer \"\" when the null score beats the best span's by more than this (default: 0)", num);
}

const TASKS = tasksHelp();

export function finetuneCommand(): Command {
  const cmd = new Command("finetune")
    .description("fine-tune ELECTRA on a task (official recipe): GLUE, NER / chunking, SQuAD, multiple choice, or your own files; score the dev set after each epoch, keep the best")
    .requiredOption("--task <name>", `the task: ${TASKS}`);
  withDataOptions(cmd, "finetune");
  return cmd
    .option("--model <dir>", "start from a Hugging Face folder (a pretrained discriminator, a bare ElectraModel, or a finetune --out folder; its head is dropped) (default: none; then --config is needed)")
    .option("--config <name|file>", `start from random weights: preset (${Object.keys(PRESETS).join(", ")}) or a config.json (needs --vocab) (default: none; then --model is needed)`)
    .option("--vocab <file>", "vocab.txt or tokenizer.json (default: the model folder's)")
    .requiredOption("--out <dir>", "output folder: metrics.json, dev_predictions.tsv (.txt for token tasks), model/")
    .option("--overwrite", "replace the run a previous finetune left in --out (default: refuse)")
    .option("--epochs <n>", "training epochs (default: 3; 10 for RTE and STS-B, as configure_finetuning.py)", num)
    .option("--seed <n>", "random seed (data order, dropout, head init, --validation-split)", int, 1)
    .option("--seeds <list>", "comma-separated seeds: one fine-tuning per seed, the median reported (overrides --seed) (default: only --seed)", intList)
    .option("--lr <x>", "peak learning rate (default: 1e-4, 5e-5 for large, as the official code; the paper uses 3e-4 for small)", num)
    .option("--batch-size <n>", "training batch size (under mpirun: per rank; the global batch is ranks x this)", positive, FINETUNE_BATCH_SIZE)
    .option("--eval-batch-size <n>", "evaluation batch size", positive, 64)
    .option("--max-seq-length <n>", "tokens per example or window ([CLS] and [SEP] included) (default: the task's, 128)", positive)
    .option("--layer-decay <x>", "layer-wise learning-rate decay (default: 0.8, 0.9 for large)", num)
    .option("--weight-decay <x>", "decoupled weight decay (not on LayerNorm and biases)", num, FINETUNE_WEIGHT_DECAY)
    .option("--warmup-proportion <x>", "fraction of the steps with a linear warmup", num, FINETUNE_WARMUP_PROPORTION)
    .addOption(new Option("--head <kind>", "sequence classification head: hf (dense-GELU-out_proj, as Hugging Face) or official (one dense layer)").choices(["hf", "official"]).default("hf"))
    .option("--max-train-examples <n>", "read only the first n training examples (quick runs) (default: all)", positive)
    .option("--max-eval-examples <n>", "read only the first n dev examples (quick runs) (default: all)", positive)
    .option("--max-steps <n>", "stop after n optimizer steps (the schedule is fitted to them) (default: no limit: epochs x steps per epoch)", positive)
    .option("--no-double-unordered", "MRPC and STS-B: do not also train on the swapped sentence order (official default: both orders)")
    .option("--bias-correction", "Adam bias correction (torch AdamW); the official optimizer has none", false)
    .option("--tensorboard <dir>", "also write TensorBoard scalars (train/loss, train/lr, dev/<metric>, ...) to an event file in DIR; several seeds: DIR/seed-N (default: none)")
    .addOption(new Option("--threads <n>", THREADS_HELP).argParser(positive))
    .option("--mpi-timeout <s>", MPI_TIMEOUT_HELP, num)
    .addHelpText("after", `\nDynamic padding: batches are padded to their longest example; examples are sorted by length within chunks of ${BUCKET_CHUNK_BATCHES} batches and the batches shuffled.\nSTS-B is a regression on score / 5 (official); the saved model outputs the 0..5 score.\nToken tasks: labels on each word's first sub-token; sentences longer than a window are split across windows.\nWrites OUT/metrics.json (per seed and median), OUT/dev_predictions.* and OUT/model/ (the best seed's best epoch).`)
    .action(async (o: FinetuneCliOptions & { doubleUnordered: boolean }) => {
      // commander sets doubleUnordered = true unless --no-double-unordered: leave the task default unless it was turned off
      const report = await runFinetune({ ...o, doubleUnordered: o.doubleUnordered === false ? false : undefined });
      if (getWorld().rank === 0) console.log(JSON.stringify({ task: report.task, main_metric: report.main_metric, median: report.median,
        seeds: report.seeds.map((s) => ({ seed: s.seed, best_epoch: s.best_epoch, ...s.dev })), saved_seed: report.saved_seed,
        train_seconds: +report.train_seconds.toFixed(2), tokens_per_second: Math.round(report.tokens_per_second), out: o.out }));
    });
}

export interface EvaluateCliOptions extends DataCliOptions {
  task: string;
  model: string;
  split?: string;
  vocab?: string;
  batchSize: number;
  maxSeqLength?: number;
  threads?: number;
  dtype?: Dtype;
}

export async function runEvaluate(o: EvaluateCliOptions): Promise<EvaluateResult> {
  checkInputs(o);
  if (o.threads) setThreads(o.threads);
  const split = o.split ?? (o.validationFile ? o.validationFile : o.testFile && !o.dataDir ? o.testFile : "dev");
  return evaluate({ ...dataOptions(o), task: o.task, model: o.model, split, vocab: o.vocab, batchSize: o.batchSize, maxSeqLength: o.maxSeqLength, dtype: o.dtype });
}

export function evaluateCommand(): Command {
  const cmd = new Command("evaluate")
    .description("score a fine-tuned model on a labelled split or file; prints the metrics as JSON")
    .requiredOption("--task <name>", `the task: ${TASKS}`)
    .requiredOption("--model <dir>", "a fine-tuned Hugging Face folder, or a finetune --out folder");
  withDataOptions(cmd, "evaluate");
  return cmd
    .option("--split <name>", "with --data-dir: the split to score (dev = dev_matched for MNLI; dev_mismatched too) (default: dev, or the file given)")
    .option("--vocab <file>", "vocab.txt or tokenizer.json (default: the model folder's)")
    .option("--batch-size <n>", "evaluation batch size", positive, 64)
    .option("--max-seq-length <n>", "tokens per example or window (default: the task's, 128)", positive)
    .addOption(new Option("--threads <n>", THREADS_HELP).argParser(positive))
    .addOption(new Option("--dtype <dtype>", DTYPE_HELP).choices(["fp32", "int8"]))
    .action(async (o: EvaluateCliOptions) => {
      const r = await runEvaluate(o);
      if (r.label_note) console.error(`note: ${r.label_note}`);
      console.log(JSON.stringify(r));
    });
}

export interface PredictCliOptions extends EvaluateCliOptions {
  out: string;
  decimals: number;
}

export async function runPredict(o: PredictCliOptions): Promise<PredictResult> {
  checkInputs(o);
  if (o.threads) setThreads(o.threads);
  const split = o.split ?? o.testFile ?? o.validationFile;
  if (!split) throw new Error("give --split dev|test (with --data-dir) or --test-file FILE");
  return predict({ ...dataOptions(o), task: o.task, model: o.model, split, out: o.out, vocab: o.vocab, batchSize: o.batchSize, maxSeqLength: o.maxSeqLength, decimals: o.decimals, dtype: o.dtype });
}

export function predictCommand(): Command {
  const cmd = new Command("predict")
    .description("write a fine-tuned model's predictions: the GLUE submission format (index<TAB>prediction), CoNLL text (word gold predicted) for token tasks, predictions.json + nbest_predictions.json for SQuAD, index<TAB>choice for multiple choice")
    .requiredOption("--task <name>", `the task: ${TASKS}; ax (the diagnostic set) takes an MNLI model`)
    .requiredOption("--model <dir>", "a fine-tuned Hugging Face folder, or a finetune --out folder");
  withDataOptions(cmd, "predict");
  return cmd
    .option("--split <name>", "with --data-dir: dev or test; MNLI: test_matched (MNLI-m) or test_mismatched (MNLI-mm), dev_matched, dev_mismatched (default: the file given)")
    .requiredOption("--out <file>", "output file; an existing folder (or a path ending in /) gets the task's file name (CoLA.tsv, MNLI-m.tsv, AX.tsv, valid_predictions.txt, ...)")
    .option("--vocab <file>", "vocab.txt or tokenizer.json (default: the model folder's)")
    .option("--batch-size <n>", "batch size", positive, 64)
    .option("--max-seq-length <n>", "tokens per example or window (default: the task's, 128)", positive)
    .option("--decimals <n>", "decimal places of regression scores", nonNegative, 3)
    .addOption(new Option("--threads <n>", THREADS_HELP).argParser(positive))
    .addOption(new Option("--dtype <dtype>", DTYPE_HELP).choices(["fp32", "int8"]))
    .action(async (o: PredictCliOptions) => {
      const r = await runPredict(o);
      if (r.label_note) console.error(`note: ${r.label_note}`);
      console.log(JSON.stringify(r));
    });
}

/** `electra score`: the metrics of a predictions file, as the official scorer computes them. */
export function runScore(o: { task: string; predictions: string; data?: string }): Record<string, unknown> {
  mustExist("--predictions", o.predictions, "file");
  if (o.data) mustExist("--data", o.data, "file");
  const task = createTask(o.task, {});
  if (!task.scoreFile) throw new Error(`score --task ${o.task}: ${task.displayName} predictions are scored by \`electra evaluate\` (score takes ${scoreTasks().join(", ")})`);
  return task.scoreFile(o.predictions, o.data);
}

/** The tasks whose prediction files `electra score` reads. */
function scoreTasks(): string[] {
  return TASK_NAMES.filter((n) => {
    try {
      return !!createTask(n, {}).scoreFile;
    } catch {
      return false; // a task that cannot be built without data (GLUE) scores no file
    }
  });
}

export function scoreCommand(): Command {
  return new Command("score")
    .description("score a predictions file with the official scorer's definition; prints one JSON object (token tasks: conlleval's precision, recall, F1, accuracy, per type, as fractions; squad: the official scripts' output, as they print it)")
    .requiredOption("--task <name>", "ner, chunking, token-classification (conlleval), squad (v1.1) or squad_v2 (the official scripts)")
    .requiredOption("--predictions <file>", "token tasks: CoNLL text as conlleval reads it (`word ... gold predicted` per line, single spaces, a blank line between sentences); squad: predictions.json ({id: answer}); electra predict writes both")
    .option("--data <file>", "squad: the official JSON the predictions answer (default: none)")
    .action((o: { task: string; predictions: string; data?: string }) => {
      const r = runScore(o);
      console.log(typeof r.printed === "string" ? r.printed : JSON.stringify(r));
    });
}

/** The commands, for src/cli/main.ts. */
export function finetuneCommands(): Command[] {
  return [finetuneCommand(), evaluateCommand(), predictCommand(), scoreCommand()];
}
