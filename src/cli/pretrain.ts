/** `electra pretrain` and `electra demo`: command-line front ends of src/train/pretrain.ts. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import { int, num } from "./args.js";
import cliProgress from "cli-progress";
import { setThreads } from "../core/native.js";
import { buildPretrainingData } from "../data/pretrain-builder.js";
import { syntheticVocabulary, writeSyntheticCorpus } from "../data/synthetic.js";
import { WordPieceTokenizer } from "../data/tokenizer.js";
import { parseConfig } from "../model/config.js";
import { generatorConfig, PRESETS, pretrain, type MetricsRecord } from "../train/pretrain.js";

export interface PretrainCliOptions {
  corpus?: string;
  examples?: string;
  vocab: string;
  config: string;
  generatorFraction?: number;
  steps: number;
  out: string;
  seed: number;
  saveEvery: number;
  resume: boolean;
  batchSize?: number;
  maxSeqLength?: number;
  lr?: number;
  warmup?: number;
  maskProb?: number;
  logEvery: number;
  accumulate: number;
  biasCorrection: boolean;
  threads?: number;
  /** what ends a document: a blank line (the official corpus format) or only the end of a file */
  documents?: "blank-lines" | "files";
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
        else if (!quiet) console.error(`step ${step}/${total}  loss ${p.loss}  mlm loss ${rec.generator_loss.toFixed(3)}  mlm acc ${p.gacc}  disc loss ${rec.discriminator_loss.toFixed(4)}  disc acc ${p.dacc}  ${p.tps} tok/s  eta ${Math.round(rec.eta_seconds)}s`);
      } else bar?.update(step);
    },
    stop() {
      bar?.stop();
    },
  };
}

export async function runPretrain(o: PretrainCliOptions, quiet = false): Promise<MetricsRecord | null> {
  if (o.threads) setThreads(o.threads);
  const tokenizer = WordPieceTokenizer.load(o.vocab);
  let discRaw: Record<string, unknown>, fraction: number, preset = PRESETS[o.config];
  if (preset) {
    discRaw = { ...preset.model };
    fraction = o.generatorFraction ?? preset.generatorFraction;
  } else {
    if (!existsSync(o.config)) throw new Error(`--config ${o.config} is neither a preset (${Object.keys(PRESETS).join(", ")}) nor a file`);
    discRaw = JSON.parse(readFileSync(o.config, "utf8"));
    fraction = o.generatorFraction ?? 0.25;
    preset = PRESETS.small;
  }
  const discConfig = parseConfig({ ...discRaw, vocab_size: tokenizer.vocabSize }, o.config);
  const genConfig = generatorConfig(discConfig, fraction);
  const maxSeqLength = o.maxSeqLength ?? preset.maxSeqLength;
  if (maxSeqLength > discConfig.max_position_embeddings) throw new Error(`--max-seq-length ${maxSeqLength} exceeds max_position_embeddings ${discConfig.max_position_embeddings}`);
  mkdirSync(o.out, { recursive: true });
  let examples = o.examples;
  if (!examples) {
    if (!o.corpus) throw new Error("give --corpus PATH (text files) or --examples FILE (built by a previous run)");
    examples = join(o.out, "examples.bin");
    if (!(o.resume && existsSync(examples))) {
      if (!quiet) console.error(`building examples from ${o.corpus} (max_seq_length ${maxSeqLength}) ...`);
      const s = await buildPretrainingData({ corpus: o.corpus, tokenizer, out: examples, maxSeqLength, seed: o.seed, blanksSeparateDocs: (o.documents ?? "blank-lines") === "blank-lines" });
      if (!quiet) console.error(`  ${s.examples} examples, ${s.tokens} tokens from ${s.documents} documents in ${s.seconds.toFixed(1)} s`);
    }
  }
  const steps = o.steps;
  const bar = progress(steps, quiet);
  let started = false;
  const { last } = await pretrain({
    examples, tokenizer, tokenizerFiles: [resolve(o.vocab)], discConfig, genConfig, out: o.out, steps,
    batchSize: o.batchSize ?? preset.batchSize, lr: o.lr ?? preset.lr, warmup: o.warmup ?? Math.min(10000, Math.ceil(steps / 10)),
    maskProb: o.maskProb ?? preset.maskProb, seed: o.seed, logEvery: o.logEvery, saveEvery: o.saveEvery, accumulate: o.accumulate,
    biasCorrection: o.biasCorrection, resume: o.resume,
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


export function pretrainCommand(): Command {
  return new Command("pretrain")
    .description("pretrain an ELECTRA generator + discriminator (replaced token detection) on a text corpus")
    .option("--corpus <path>", "a text file or folder: one sentence per line, blank line between documents")
    .option("--examples <file>", "a prebuilt example file (instead of --corpus)")
    .requiredOption("--vocab <file>", "vocab.txt or tokenizer.json (WordPiece)")
    .option("--config <name|file>", `preset (${Object.keys(PRESETS).join(", ")}) or a config.json`, "small")
    .option("--generator-fraction <f>", "generator width / discriminator width (default: the preset's)", num)
    .option("--steps <n>", "optimizer steps", int, 1000)
    .requiredOption("--out <dir>", "output folder")
    .option("--seed <n>", "random seed", int, 0)
    .option("--save-every <n>", "checkpoint every n steps (0: only at the end)", int, 1000)
    .option("--resume", "continue from OUT/checkpoint", false)
    .option("--batch-size <n>", "examples per step (default: the preset's)", int)
    .option("--max-seq-length <n>", "tokens per example (default: the preset's)", int)
    .option("--lr <x>", "peak learning rate (default: the preset's)", num)
    .option("--warmup <n>", "warmup steps (default: min(10000, steps / 10))", int)
    .option("--mask-prob <p>", "masking probability (default: the preset's)", num)
    .addOption(new Option("--documents <mode>", "what ends a document in the corpus: a blank line (the official format), or only the end of a file (for books whose blank lines are paragraph breaks)").choices(["blank-lines", "files"]).default("blank-lines"))
    .option("--log-every <n>", "steps between metrics records", int, 10)
    .option("--accumulate <n>", "micro-batches per optimizer step", int, 1)
    .option("--bias-correction", "Adam bias correction (torch AdamW); the official optimizer has none", false)
    .addOption(new Option("--threads <n>", "threads (default: all cores)").argParser(int))
    .action(async (o: PretrainCliOptions) => {
      const last = await runPretrain(o);
      console.log(JSON.stringify({ out: o.out, ...last }));
    });
}

export function demoCommand(): Command {
  return new Command("demo")
    .description("the built-in default: pretrain a tiny ELECTRA on a generated corpus and show that it learns")
    .option("--out <dir>", "output folder", "runs/demo")
    .option("--steps <n>", "pretraining steps", int, 300)
    .option("--seed <n>", "random seed", int, 0)
    .action(async (o: { out: string; steps: number; seed: number }) => {
      const t0 = performance.now();
      const corpus = join(o.out, "corpus", "generated.txt");
      writeSyntheticCorpus(corpus, 3000, o.seed);
      const vocab = join(o.out, "vocab.txt");
      writeFileSync(vocab, syntheticVocabulary().join("\n") + "\n");
      console.error(`electra demo: generated ${corpus} (3000 documents) and ${vocab}; pretraining a tiny ELECTRA for ${o.steps} steps`);
      const last = await runPretrain({
        corpus, vocab, config: "tiny", steps: o.steps, out: o.out, seed: o.seed, saveEvery: 0, resume: false,
        batchSize: 32, maxSeqLength: 64, lr: 1e-3, logEvery: 10, accumulate: 1, biasCorrection: false,
      });
      const lines = readFileSync(join(o.out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as MetricsRecord);
      const first = lines[0];
      const fmt = (r: MetricsRecord) => `step ${String(r.step).padStart(4)}: mlm loss ${r.generator_loss.toFixed(3)}, mlm accuracy ${r.generator_accuracy.toFixed(3)}, ` +
        `discriminator loss ${r.discriminator_loss.toFixed(4)}, accuracy ${r.discriminator_accuracy.toFixed(3)} ` +
        `(always "original": ${(1 - r.replaced_fraction).toFixed(3)}), precision ${r.discriminator_precision.toFixed(3)}, recall ${r.discriminator_recall.toFixed(3)}`;
      console.log(`first: ${fmt(first)}`);
      if (last) console.log(`last:  ${fmt(last)}`);
      console.log(`curves: ${join(o.out, "training.png")} (and .svg); metrics: ${join(o.out, "metrics.jsonl")}`);
      console.log(`models: ${join(o.out, "discriminator")}, ${join(o.out, "generator")} (Hugging Face folders); ${((performance.now() - t0) / 1000).toFixed(0)} s in all`);
    });
}

export function vocabCommand(): Command {
  return new Command("vocab")
    .description("train a WordPiece vocabulary (vocab.txt with [PAD] [UNK] [CLS] [SEP] [MASK]) on a corpus")
    .requiredOption("--corpus <path>", "a text file or a folder of text files")
    .requiredOption("--out <file>", "the vocab.txt to write")
    .option("--size <n>", "vocabulary size (at most 30005 with the tokenizers package's trainer)", int, 30000)
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
