/** `electra pretrain` and `electra demo`: command-line front ends of src/train/pretrain.ts. */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import { int, MPI_TIMEOUT_HELP, nonNegative, positive, mustExist, num, THREADS_HELP } from "./args.js";
import cliProgress from "cli-progress";
import { getWorld } from "../core/mpi.js";
import { setThreads } from "../core/native.js";
import { buildPretrainingData, vocabCoverageWarning } from "../data/pretrain-builder.js";
import { syntheticVocabulary, writeHabitatTask, writeSyntheticCorpus } from "../data/synthetic.js";
import { WordPieceTokenizer } from "../data/tokenizer.js";
import { parseConfig, type ElectraConfig, type PositionEmbeddingType } from "../model/config.js";
import { finetune, type FinetuneReport } from "../train/finetune.js";
import { generatorConfig, prepareOutput, PRESETS, pretrain, readInitPair, type DiscBiasInit, type MetricsRecord, type Preset } from "../train/pretrain.js";
import { progressReporter } from "./finetune.js";

export interface PretrainCliOptions {
  corpus?: string;
  examples?: string;
  vocab: string;
  /** preset name or config.json (default "small"); not with initFrom */
  config?: string;
  /** continue pretraining from DIR/discriminator + DIR/generator */
  initFrom?: string;
  generatorFraction?: number;
  /** overrides the preset's or config file's position_embedding_type (both models) */
  positionEmbeddingType?: PositionEmbeddingType;
  steps: number;
  out: string;
  seed: number;
  saveEvery: number;
  resume: boolean;
  resumeForce?: boolean;
  overwrite?: boolean;
  batchSize?: number;
  maxSeqLength?: number;
  lr?: number;
  warmup?: number;
  maskProb?: number;
  logEvery: number;
  accumulate: number;
  biasCorrection: boolean;
  discBiasInit?: DiscBiasInit;
  threads?: number;
  /** what ends a document: a blank line (the official corpus format) or only the end of a file */
  documents?: "blank-lines" | "files";
  /** a folder for TensorBoard event files */
  tensorboard?: string;
  /** under mpirun: seconds a rank waits for the others in a step before it ends the job */
  mpiTimeout?: number;
}

function progress(total: number, quiet: boolean) {
  const tty = process.stderr.isTTY && !quiet;
  const bar = tty ? new cliProgress.SingleBar({
    format: "pretrain |{bar}| {value}/{total} steps | loss {loss} | mlm acc {gacc} | disc acc {dacc} | {tps} tok/s | eta {eta_formatted}",
    stream: process.stderr, hideCursor: true,
  }, cliProgress.Presets.shades_classic) : null;
  return {
    start(at: number) {
      bar?.start(total, at, { loss: "-", gacc: "-", dacc: "-", tps: "-" });
    },
    update(step: number, rec: MetricsRecord | null) {
      if (rec) {
        const p = { loss: rec.loss.toFixed(3), gacc: rec.generator_accuracy.toFixed(3), dacc: rec.discriminator_accuracy.toFixed(3), tps: Math.round(rec.tokens_per_second) };
        if (bar) bar.update(step, p);
        else if (!quiet) console.error(`step ${step}/${total}  loss ${p.loss}  mlm loss ${rec.generator_loss.toFixed(3)}  mlm acc ${p.gacc}  disc loss ${rec.discriminator_loss.toFixed(4)} (base rate ${rec.discriminator_base_loss.toFixed(4)})  disc acc ${p.dacc}  ${p.tps} tok/s  eta ${Math.round(rec.eta_seconds)}s`);
      } else bar?.update(step);
    },
    stop() {
      bar?.stop();
    },
  };
}

export async function runPretrain(o: PretrainCliOptions, quiet = false): Promise<MetricsRecord | null> {
  // missing inputs: one line naming the flag, before the output folder is made or anything is built
  mustExist("--vocab", o.vocab, "file");
  if (o.examples) mustExist("--examples", o.examples, "file");
  else if (o.corpus && !(o.resume && existsSync(join(o.out, "examples.bin")))) mustExist("--corpus", o.corpus);
  if (o.resumeForce && !o.resume) throw new Error("--resume-force goes with --resume");
  // under mpirun: rank 0 alone writes OUT and prints the progress
  const world = getWorld();
  if (o.mpiTimeout !== undefined && world.size > 1) world.timeout = o.mpiTimeout;
  quiet ||= world.rank !== 0;
  // a resume without a checkpoint, or a fresh start over an earlier run: refused before anything is written
  await world.agree(() => prepareOutput(o.out, o));
  if (o.threads) setThreads(o.threads);
  const tokenizer = WordPieceTokenizer.load(o.vocab);
  let discConfig: ElectraConfig, genConfig: ElectraConfig, preset: Preset;
  if (o.initFrom) mustExist("--init-from", o.initFrom, "folder");
  const init = o.initFrom ? readInitPair(o.initFrom) : undefined;
  if (init) {
    if (o.config !== undefined || o.generatorFraction !== undefined || o.positionEmbeddingType !== undefined) {
      throw new Error("--init-from takes both architectures from its folders; leave out --config, --generator-fraction and --position-embedding-type");
    }
    discConfig = init.discriminator.config;
    genConfig = init.generator.config;
    if (tokenizer.vocabSize > discConfig.vocab_size) throw new Error(`--vocab ${o.vocab} has ${tokenizer.vocabSize} tokens but the models in --init-from ${o.initFrom} only ${discConfig.vocab_size}`);
    preset = PRESETS.small;
  } else {
    const name = o.config ?? "small";
    let discRaw: Record<string, unknown>, fraction: number;
    if (PRESETS[name]) {
      preset = PRESETS[name];
      discRaw = { ...preset.model };
      fraction = o.generatorFraction ?? preset.generatorFraction;
    } else {
      if (!existsSync(name)) throw new Error(`--config ${name} is neither a preset (${Object.keys(PRESETS).join(", ")}) nor a file`);
      discRaw = JSON.parse(readFileSync(name, "utf8"));
      fraction = o.generatorFraction ?? 0.25;
      preset = PRESETS.small;
    }
    if (o.positionEmbeddingType) discRaw.position_embedding_type = o.positionEmbeddingType;
    discConfig = parseConfig({ ...discRaw, vocab_size: tokenizer.vocabSize }, name);
    genConfig = generatorConfig(discConfig, fraction);
  }
  const maxSeqLength = o.maxSeqLength ?? preset.maxSeqLength;
  if (maxSeqLength > discConfig.max_position_embeddings) throw new Error(`--max-seq-length ${maxSeqLength} exceeds max_position_embeddings ${discConfig.max_position_embeddings}`);
  let examples = o.examples;
  if (!examples) {
    if (!o.corpus) throw new Error("give --corpus PATH (text files) or --examples FILE (built by a previous run)");
    examples = join(o.out, "examples.bin");
  }
  // built by rank 0 alone; the other ranks read it from OUT (a folder every host sees, or give --examples)
  await world.agree(() => buildExamples(o, tokenizer, examples, maxSeqLength, quiet));
  if (!existsSync(examples)) throw new Error(`${examples} (built by rank 0) is not on ${world.host}: with hosts that do not share OUT, build the examples once and give --examples FILE on every host`);
  const steps = o.steps;
  const batchSize = o.batchSize ?? preset.batchSize;
  if (world.size > 1 && !quiet) {
    console.error(`data parallel: ${world.size} MPI ranks x batch ${batchSize}${o.accumulate > 1 ? ` x ${o.accumulate} micro-batches` : ""} = global batch ${world.size * batchSize * o.accumulate} per step`);
  }
  const bar = progress(steps, quiet);
  let started = false;
  const { last } = await pretrain({
    examples, tokenizer, tokenizerFiles: [resolve(o.vocab)], discConfig, genConfig, out: o.out, steps,
    batchSize, lr: o.lr ?? preset.lr, warmup: o.warmup ?? Math.min(10000, Math.ceil(steps / 10)),
    maskProb: o.maskProb ?? preset.maskProb, seed: o.seed, logEvery: o.logEvery, saveEvery: o.saveEvery, accumulate: o.accumulate,
    biasCorrection: o.biasCorrection, discBiasInit: o.discBiasInit, init, resume: o.resume, resumeForce: o.resumeForce, tensorboard: o.tensorboard,
    overwrite: o.overwrite, corpus: o.examples ? null : o.corpus ?? null, initFrom: o.initFrom ?? null, maxSeqLength: o.examples ? undefined : maxSeqLength,
    onStep: (step, rec) => {
      if (!started) {
        bar.start(step - 1);
        started = true;
      }
      bar.update(step, rec);
    },
  });
  bar.stop();
  return last;
}


/** OUT/examples.bin from --corpus, unless given (--examples) or already built by the run being resumed. */
async function buildExamples(o: PretrainCliOptions, tokenizer: WordPieceTokenizer, examples: string, maxSeqLength: number, quiet: boolean): Promise<void> {
  if (o.examples || (o.resume && existsSync(examples))) return;
  mkdirSync(o.out, { recursive: true });
  if (!quiet) console.error(`building examples from ${o.corpus} (max_seq_length ${maxSeqLength}) ...`);
  const s = await buildPretrainingData({ corpus: o.corpus!, tokenizer, out: examples, maxSeqLength, seed: o.seed, blanksSeparateDocs: (o.documents ?? "blank-lines") === "blank-lines" });
  if (!quiet) console.error(`  ${s.examples} examples, ${s.tokens} tokens from ${s.documents} documents in ${s.seconds.toFixed(1)} s`);
  const coverage = vocabCoverageWarning(s, o.vocab);
  if (coverage) console.error(`warning: ${coverage}`);
}

export function pretrainCommand(): Command {
  return new Command("pretrain")
    .description("pretrain an ELECTRA generator + discriminator (replaced token detection) on a text corpus")
    .option("--corpus <path>", "a text file or folder: one sentence per line, blank line between documents (default: none; then --examples is needed)")
    .option("--examples <file>", "a prebuilt example file, instead of --corpus (default: built from --corpus into OUT/examples.bin)")
    .requiredOption("--vocab <file>", "vocab.txt or tokenizer.json (WordPiece)")
    .option("--config <name|file>", `preset (${Object.keys(PRESETS).join(", ")}) or a config.json (default: small)`)
    .option("--init-from <dir>", "continue pretraining from DIR/discriminator and DIR/generator (an earlier run's OUT or OUT/checkpoint) with a fresh optimizer and lr schedule; the architecture comes from there; batch size, lr, mask probability and sequence length default to small's (default: none, random weights)")
    .option("--generator-fraction <f>", "generator width / discriminator width (default: the preset's; 0.25 with a config.json)", num)
    .addOption(new Option("--position-embedding-type <type>", "absolute: BERT's learned position embeddings (the official recipe); relative_key: transformers' relative-position attention, which learns to use word order in far fewer steps (docs/research/pretraining.md) (default: the preset's or config file's, absolute)").choices(["absolute", "relative_key"]))
    .option("--steps <n>", "optimizer steps", positive, 1000)
    .requiredOption("--out <dir>", "output folder")
    .option("--seed <n>", "random seed", int, 0)
    .option("--save-every <n>", "checkpoint every n steps (0: only at the end)", nonNegative, 1000)
    .option("--resume", "continue the run in OUT from OUT/checkpoint; refused if an option that changes the run differs from the saved one", false)
    .option("--resume-force", "with --resume: continue even though options differ (steps, batch size, lr, warmup, mask probability, seed, accumulation; each change is printed; the schedule continues from the saved step)", false)
    .option("--overwrite", "start again over a run already in OUT (its checkpoint, metrics and models are removed)", false)
    .option("--batch-size <n>", "examples per step (under mpirun: per rank; the global batch is ranks x this) (default: the preset's; small's with a config.json)", positive)
    .option("--max-seq-length <n>", "tokens per example (default: the preset's; small's with a config.json)", positive)
    .option("--lr <x>", "peak learning rate (default: the preset's; small's with a config.json)", num)
    .option("--warmup <n>", "warmup steps (default: min(10000, steps / 10))", nonNegative)
    .option("--mask-prob <p>", "masking probability (default: the preset's; small's with a config.json)", num)
    .addOption(new Option("--documents <mode>", "what ends a document in the corpus: a blank line (the official format), or only the end of a file (for books whose blank lines are paragraph breaks)").choices(["blank-lines", "files"]).default("blank-lines"))
    .option("--log-every <n>", "steps between metrics records", positive, 10)
    .option("--tensorboard <dir>", "also write the metrics records as TensorBoard scalars (train/loss, ...) to an event file in DIR (default: none)")
    .option("--accumulate <n>", "micro-batches per optimizer step", positive, 1)
    .option("--bias-correction", "Adam bias correction (torch AdamW); the official optimizer has none", false)
    .addOption(new Option("--disc-bias-init <how>", "the discriminator's output bias at the start: the log-odds of the mask probability (keeps short runs from collapsing), or 0 as the official code").choices(["prior", "zero"]).default("prior"))
    .addOption(new Option("--threads <n>", THREADS_HELP).argParser(positive))
    .option("--mpi-timeout <s>", MPI_TIMEOUT_HELP, num)
    .action(async (o: PretrainCliOptions) => {
      const last = await runPretrain(o);
      if (getWorld().rank === 0) console.log(JSON.stringify({ out: o.out, ...last }));
    });
}

/** The demo's sizes: minutes on 2 cores (see the README's Quickstart). */
const DEMO = {
  documents: 3000, maxSeqLength: 64, batchSize: 32,
  // 5e-4: the paper's small lr. At 1e-3 the tiny discriminator collapsed (one output for every token) by step 300.
  lr: 5e-4,
  taskTrain: 1000, taskDev: 1000, seeds: [1, 2, 3],
} as const;

export function demoCommand(): Command {
  return new Command("demo")
    .description("pretrain a tiny ELECTRA on a generated corpus, then fine-tune it on a generated task against random weights (minutes on 2 cores)")
    .option("--out <dir>", "output folder", "runs/demo")
    .option("--overwrite", "replace what an earlier demo left in OUT", false)
    .option("--steps <n>", "pretraining steps", positive, 300)
    .option("--seed <n>", "random seed", int, 0)
    .option("--no-finetune", "stop after pretraining (default: fine-tune too)")
    .option("--task-examples <n>", "training sentences of the generated fine-tuning task", positive, DEMO.taskTrain)
    .addOption(new Option("--threads <n>", THREADS_HELP).argParser(positive))
    .action(async (o: { out: string; steps: number; seed: number; finetune: boolean; taskExamples: number; threads?: number; overwrite: boolean }) => {
      const t0 = performance.now();
      if (!o.overwrite && existsSync(o.out) && readdirSync(o.out).length) throw new Error(`${o.out} is not empty (an earlier demo?): pass --overwrite to replace it, or --out DIR`);
      const corpus = join(o.out, "corpus", "generated.txt");
      writeSyntheticCorpus(corpus, DEMO.documents, o.seed);
      const vocab = join(o.out, "vocab.txt");
      writeFileSync(vocab, syntheticVocabulary().join("\n") + "\n");
      console.error(`electra demo: generated ${corpus} (${DEMO.documents} documents) and ${vocab}; pretraining a tiny ELECTRA for ${o.steps} steps`);
      const last = await runPretrain({
        corpus, vocab, config: "tiny", steps: o.steps, out: o.out, seed: o.seed, saveEvery: 0, resume: false, overwrite: o.overwrite, threads: o.threads,
        batchSize: DEMO.batchSize, maxSeqLength: DEMO.maxSeqLength, lr: DEMO.lr, logEvery: 10, accumulate: 1, biasCorrection: false,
      });
      const lines = readFileSync(join(o.out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as MetricsRecord);
      const first = lines[0];
      const fmt = (r: MetricsRecord) => `step ${String(r.step).padStart(4)}: mlm loss ${r.generator_loss.toFixed(3)}, mlm accuracy ${r.generator_accuracy.toFixed(3)}, ` +
        `discriminator loss ${r.discriminator_loss.toFixed(4)} (base rate alone: ${r.discriminator_base_loss.toFixed(4)}), accuracy ${r.discriminator_accuracy.toFixed(3)} ` +
        `(always "original": ${(1 - r.replaced_fraction).toFixed(3)}), precision ${r.discriminator_precision.toFixed(3)}, recall ${r.discriminator_recall.toFixed(3)}`;
      console.log(`pretraining, first: ${fmt(first)}`);
      if (last) console.log(`pretraining, last:  ${fmt(last)}`);
      console.log(`curves: ${join(o.out, "training.png")} (and .svg); metrics: ${join(o.out, "metrics.jsonl")}`);
      console.log(`models: ${join(o.out, "discriminator")}, ${join(o.out, "generator")} (Hugging Face folders)`);
      if (o.finetune) await demoFinetune(o.out, vocab, o.seed, o.taskExamples);
      console.log(`${((performance.now() - t0) / 1000).toFixed(0)} s in all`);
    });
}

/**
 * The demo's second half: the generated "domestic or wild?" task (src/data/synthetic.ts, written in SST-2's
 * layout so the GLUE fine-tuning code reads it), fine-tuned with the official recipe from the pretrained
 * discriminator and from random weights of the same shape, median dev accuracy of 3 seeds each.
 */
async function demoFinetune(out: string, vocab: string, seed: number, train: number): Promise<void> {
  if (!(train > 0)) throw new Error(`--task-examples must be positive, got ${train}`);
  const dataDir = join(out, "task");
  writeHabitatTask(dataDir, train, DEMO.taskDev, seed + 17);
  console.error(`electra demo: fine-tuning on a generated task (${train} training sentences such as "They gallop across the plain.": ` +
    `is the creature domestic or wild?), from the pretrained discriminator and from random weights`);
  const disc = join(out, "discriminator");
  const common = {
    task: "text-classification", trainFile: join(dataDir, "train.tsv"), validationFile: join(dataDir, "dev.tsv"), textColumn: "sentence", labelColumn: "label",
    seeds: [...DEMO.seeds], onEvent: progressReporter("generated task", false),
    overwrite: true, // the demo checked OUT itself (empty, or --overwrite)
  };
  const pre = await finetune({ ...common, model: disc, out: join(out, "finetuned") });
  const rnd = await finetune({ ...common, config: join(disc, "config.json"), vocab, out: join(out, "finetuned-from-random"), saveModel: false });
  const acc = (r: FinetuneReport) => `${r.median.accuracy.toFixed(3)} (seeds ${r.seeds.map((s) => s.dev.accuracy.toFixed(3)).join(", ")})`;
  console.log(`fine-tuned on the generated task, dev accuracy, median of ${DEMO.seeds.length} seeds (chance: ~0.5):`);
  console.log(`  from the pretrained discriminator: ${acc(pre)}`);
  console.log(`  from random weights:               ${acc(rnd)}`);
  const labels = (JSON.parse(readFileSync(join(out, "finetuned", "model", "config.json"), "utf8")) as { id2label: Record<string, string> }).id2label;
  console.log(`classifier: ${join(out, "finetuned", "model")} (labels: ${Object.entries(labels).map(([i, l]) => `${i} = ${l}`).join(", ")}); ` +
    `try: npx electra classify --model ${join(out, "finetuned", "model")} "It purrs by the fire."`);
}

export function vocabCommand(): Command {
  return new Command("vocab")
    .description("train a WordPiece vocabulary (vocab.txt with [PAD] [UNK] [CLS] [SEP] [MASK]) on a corpus")
    .requiredOption("--corpus <path>", "a text file or a folder of text files")
    .requiredOption("--out <file>", "the vocab.txt to write")
    .option("--size <n>", "vocabulary size (at most 30005 with the tokenizers package's trainer)", positive, 30000)
    .option("--no-lowercase", "keep case (default: lowercase and strip accents, as BERT uncased)")
    .action(async (o: { corpus: string; out: string; size: number; lowercase: boolean }) => {
      const { listCorpusFiles } = await import("../data/corpus.js");
      const { trainWordPiece } = await import("../data/tokenizer.js");
      const r = await trainWordPiece(listCorpusFiles(o.corpus), o.size, o.out, {
        lowercase: o.lowercase, stripAccents: o.lowercase, onWarning: (w) => console.error(`warning: ${w.message}`),
      });
      console.log(JSON.stringify({ out: o.out, vocab_size: r.vocabSize, requested: r.requestedVocabSize, files: r.files }));
    });
}
