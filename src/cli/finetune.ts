/** `electra finetune`, `electra evaluate`, `electra predict`: command-line front ends of src/train/finetune.ts. */
import { Command, Option } from "commander";
import { int, mustExist, num, THREADS_HELP } from "./args.js";
import cliProgress from "cli-progress";
import { setThreads } from "../core/native.js";
import { GLUE_TASK_NAMES } from "../data/glue.js";
import {
  BUCKET_CHUNK_BATCHES, evaluate, FINETUNE_BATCH_SIZE, FINETUNE_MAX_SEQ_LENGTH, FINETUNE_WARMUP_PROPORTION, FINETUNE_WEIGHT_DECAY, finetune,
  predict, type EvaluateResult, type FinetuneEvent, type FinetuneReport, type PredictResult,
} from "../train/finetune.js";
import { PRESETS } from "../train/pretrain.js";

export interface FinetuneCliOptions {
  task: string;
  dataDir: string;
  model?: string;
  config?: string;
  vocab?: string;
  out: string;
  epochs?: number;
  seed: number;
  seeds?: number[];
  lr?: number;
  batchSize: number;
  evalBatchSize: number;
  maxSeqLength: number;
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
        say(`${task}: ${e.trainExamples} training and ${e.devExamples} dev examples tokenized in ${e.seconds.toFixed(1)} s`);
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
        const m = Object.entries(e.record.dev).filter(([k]) => k !== "main").map(([k, v]) => `${k} ${fmt(v)}`).join("  ");
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
function checkInputs(o: { dataDir: string; model?: string; vocab?: string }): void {
  mustExist("--data-dir", o.dataDir, "folder");
  if (o.model) mustExist("--model", o.model, "folder");
  if (o.vocab) mustExist("--vocab", o.vocab, "file");
}

export async function runFinetune(o: FinetuneCliOptions, quiet = false): Promise<FinetuneReport> {
  if (o.threads) setThreads(o.threads);
  if (o.model && o.config) throw new Error("give --model DIR or --config NAME (with --vocab), not both");
  if (!o.model && !o.config) throw new Error("give --model DIR (a Hugging Face folder) or --config NAME --vocab FILE (random weights)");
  checkInputs(o);
  return finetune({
    task: o.task, dataDir: o.dataDir, out: o.out, model: o.model, config: o.config, vocab: o.vocab,
    seeds: o.seeds && o.seeds.length ? o.seeds : [o.seed], epochs: o.epochs, lr: o.lr, batchSize: o.batchSize, evalBatchSize: o.evalBatchSize,
    maxSeqLength: o.maxSeqLength, layerDecay: o.layerDecay, weightDecay: o.weightDecay, warmupProportion: o.warmupProportion, head: o.head,
    maxTrainExamples: o.maxTrainExamples, maxEvalExamples: o.maxEvalExamples, maxSteps: o.maxSteps, doubleUnordered: o.doubleUnordered,
    biasCorrection: o.biasCorrection, onEvent: progressReporter(o.task, quiet),
  });
}

const TASKS = `${GLUE_TASK_NAMES.join(", ")} (also the GLUE names: CoLA, SST-2, STS-B, ...)`;

export function finetuneCommand(): Command {
  return new Command("finetune")
    .description("fine-tune an ELECTRA classifier on a GLUE task (official recipe), score the dev set after each epoch, keep the best")
    .requiredOption("--task <name>", `GLUE task: ${TASKS}`)
    .requiredOption("--data-dir <dir>", "GLUE data root (holding CoLA/, SST-2/, ... as download_glue_data.py lays them out)")
    .option("--model <dir>", "start from a Hugging Face folder (a pretrained discriminator; its heads are dropped) (default: none; then --config is needed)")
    .option("--config <name|file>", `start from random weights: preset (${Object.keys(PRESETS).join(", ")}) or a config.json (needs --vocab) (default: none; then --model is needed)`)
    .option("--vocab <file>", "vocab.txt or tokenizer.json (default: the model folder's)")
    .requiredOption("--out <dir>", "output folder: metrics.json, dev_predictions.tsv, model/")
    .option("--epochs <n>", "training epochs (default: 3; 10 for RTE and STS-B, as configure_finetuning.py)", num)
    .option("--seed <n>", "random seed (data order, dropout, head init)", int, 1)
    .option("--seeds <list>", "comma-separated seeds: one fine-tuning per seed, the median reported (overrides --seed) (default: only --seed)", intList)
    .option("--lr <x>", "peak learning rate (default: 1e-4, 5e-5 for large, as the official code; the paper uses 3e-4 for small)", num)
    .option("--batch-size <n>", "training batch size", int, FINETUNE_BATCH_SIZE)
    .option("--eval-batch-size <n>", "evaluation batch size", int, 64)
    .option("--max-seq-length <n>", "tokens per example after truncation ([CLS] and [SEP] included)", int, FINETUNE_MAX_SEQ_LENGTH)
    .option("--layer-decay <x>", "layer-wise learning-rate decay (default: 0.8, 0.9 for large)", num)
    .option("--weight-decay <x>", "decoupled weight decay (not on LayerNorm and biases)", num, FINETUNE_WEIGHT_DECAY)
    .option("--warmup-proportion <x>", "fraction of the steps with a linear warmup", num, FINETUNE_WARMUP_PROPORTION)
    .addOption(new Option("--head <kind>", "classification head: hf (dense-GELU-out_proj, as Hugging Face) or official (one dense layer)").choices(["hf", "official"]).default("hf"))
    .option("--max-train-examples <n>", "read only the first n training rows (quick runs) (default: all)", int)
    .option("--max-eval-examples <n>", "read only the first n dev rows (quick runs) (default: all)", int)
    .option("--max-steps <n>", "stop after n optimizer steps (the schedule is fitted to them) (default: no limit: epochs x steps per epoch)", int)
    .option("--no-double-unordered", "MRPC and STS-B: do not also train on the swapped sentence order (official default: both orders)")
    .option("--bias-correction", "Adam bias correction (torch AdamW); the official optimizer has none", false)
    .addOption(new Option("--threads <n>", THREADS_HELP).argParser(int))
    .addHelpText("after", `\nDynamic padding: batches are padded to their longest example; examples are sorted by length within chunks of ${BUCKET_CHUNK_BATCHES} batches and the batches shuffled.\nSTS-B is a regression on score / 5 (official); the saved model outputs the 0..5 score.\nWrites OUT/metrics.json (per seed and median), OUT/dev_predictions.tsv and OUT/model/ (the best seed's best epoch).`)
    .action(async (o: FinetuneCliOptions & { doubleUnordered: boolean }) => {
      // commander sets doubleUnordered = true unless --no-double-unordered: leave the task default unless it was turned off
      const report = await runFinetune({ ...o, doubleUnordered: o.doubleUnordered === false ? false : undefined });
      console.log(JSON.stringify({ task: report.task, main_metric: report.main_metric, median: report.median,
        seeds: report.seeds.map((s) => ({ seed: s.seed, best_epoch: s.best_epoch, ...s.dev })), saved_seed: report.saved_seed,
        train_seconds: +report.train_seconds.toFixed(2), tokens_per_second: Math.round(report.tokens_per_second), out: o.out }));
    });
}

export interface EvaluateCliOptions {
  task: string;
  dataDir: string;
  model: string;
  split?: string;
  vocab?: string;
  batchSize: number;
  maxSeqLength: number;
  threads?: number;
}

export async function runEvaluate(o: EvaluateCliOptions): Promise<EvaluateResult> {
  checkInputs(o);
  if (o.threads) setThreads(o.threads);
  return evaluate({ task: o.task, dataDir: o.dataDir, model: o.model, split: o.split, vocab: o.vocab, batchSize: o.batchSize, maxSeqLength: o.maxSeqLength });
}

export function evaluateCommand(): Command {
  return new Command("evaluate")
    .description("score a fine-tuned classifier on a labelled GLUE split; prints the metrics as JSON")
    .requiredOption("--task <name>", `GLUE task: ${TASKS}`)
    .requiredOption("--data-dir <dir>", "GLUE data root")
    .requiredOption("--model <dir>", "a fine-tuned Hugging Face folder (ElectraForSequenceClassification)")
    .option("--split <name>", "split to score (dev = dev_matched for MNLI; dev_mismatched too)", "dev")
    .option("--vocab <file>", "vocab.txt or tokenizer.json (default: the model folder's)")
    .option("--batch-size <n>", "evaluation batch size", int, 64)
    .option("--max-seq-length <n>", "tokens per example after truncation", int, FINETUNE_MAX_SEQ_LENGTH)
    .addOption(new Option("--threads <n>", THREADS_HELP).argParser(int))
    .action(async (o: EvaluateCliOptions) => {
      const r = await runEvaluate(o);
      if (r.label_note) console.error(`note: ${r.label_note}`);
      console.log(JSON.stringify(r));
    });
}

export interface PredictCliOptions extends EvaluateCliOptions {
  split: string;
  out: string;
  decimals: number;
}

export async function runPredict(o: PredictCliOptions): Promise<PredictResult> {
  checkInputs(o);
  if (o.threads) setThreads(o.threads);
  return predict({ task: o.task, dataDir: o.dataDir, model: o.model, split: o.split, out: o.out, vocab: o.vocab, batchSize: o.batchSize, maxSeqLength: o.maxSeqLength, decimals: o.decimals });
}

export function predictCommand(): Command {
  return new Command("predict")
    .description("write a fine-tuned classifier's predictions in the GLUE submission format (index<TAB>prediction)")
    .requiredOption("--task <name>", `GLUE task: ${TASKS}; ax (the diagnostic set) takes an MNLI model`)
    .requiredOption("--data-dir <dir>", "GLUE data root")
    .requiredOption("--model <dir>", "a fine-tuned Hugging Face folder (ElectraForSequenceClassification)")
    .requiredOption("--split <name>", "dev or test; MNLI: test_matched (MNLI-m) or test_mismatched (MNLI-mm), dev_matched, dev_mismatched")
    .requiredOption("--out <file>", "output file; an existing folder (or a path ending in /) gets the GLUE file name (CoLA.tsv, MNLI-m.tsv, AX.tsv, ...)")
    .option("--vocab <file>", "vocab.txt or tokenizer.json (default: the model folder's)")
    .option("--batch-size <n>", "batch size", int, 64)
    .option("--max-seq-length <n>", "tokens per example after truncation", int, FINETUNE_MAX_SEQ_LENGTH)
    .option("--decimals <n>", "decimal places of STS-B scores", int, 3)
    .addOption(new Option("--threads <n>", THREADS_HELP).argParser(int))
    .action(async (o: PredictCliOptions) => {
      const r = await runPredict(o);
      if (r.label_note) console.error(`note: ${r.label_note}`);
      console.log(JSON.stringify(r));
    });
}

/** The three commands, for src/cli/main.ts. */
export function finetuneCommands(): Command[] {
  return [finetuneCommand(), evaluateCommand(), predictCommand()];
}
