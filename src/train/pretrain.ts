/**
 * ELECTRA pretraining loop (replaced token detection) as google-research/electra's run_pretraining.py runs it:
 * example file -> shuffled batches -> official masking -> generator + Gumbel sampling + discriminator (rtd.ts)
 * -> global-norm clipping at 1.0 -> Adam with decoupled weight decay 0.01, eps 1e-6, no bias correction
 * -> learning rate: peak * (1 - step / total) * min(1, step / warmup).
 * Writes OUT/metrics.jsonl, OUT/discriminator/ and OUT/generator/ (Hugging Face folders), and
 * OUT/checkpoint/ (optimizer and data position) for an exact resume.
 *
 * Data parallel under mpirun (src/core/mpi.ts, src/train/data-parallel.ts): N ranks with --batch-size b run the
 * same run as one process with batch N·b. Each step's global batch is the N·b examples that one process would
 * take; rank r reads rows [r·b, (r+1)·b) of it. Masking, the generator's Gumbel noise and dropout are keyed by
 * (seed, step, micro-batch, the example's row in the global batch), not drawn from streams, so an example gets
 * the same noise in whatever shard it is (dropout is keyed by rank instead). The losses are the global batch's
 * means (each rank weights its shard by its share of the masked positions and real tokens), the gradients are
 * summed with MPI_Allreduce and the optimizer runs identically everywhere. Rank 0 alone writes OUT.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { getWorld } from "../core/mpi.js";
import { getThreads } from "../core/native.js";
import { keyedSeed, Rng } from "../core/rng.js";
import { padBatch, type Sequence } from "../data/batching.js";
import { maskBatch, maxPredictionsPerSeq } from "../data/masking.js";
import { ExampleFile, PretrainDataLoader } from "../data/pretrain-builder.js";
import type { WordPieceTokenizer } from "../data/tokenizer.js";
import { folderVersions, newestComplete, writeFileDurable } from "../io/durable.js";
import { loadIntoStore, readHfFolder, saveHfFolder, type HfFolder } from "../io/hf-folder.js";
import { configToJson, parseConfig, type ElectraConfig } from "../model/config.js";
import { RunContext, type Batch } from "../model/electra.js";
import { initParams } from "../model/params.js";
import { GradientReducer, parameterDigests, share, sumOverRanks } from "./data-parallel.js";
import { AdamW, clipGradNorm } from "./optimizer.js";
import { fileDigest, readCheckpoint, runChanges, writeCheckpoint, type RunSettings, type TrainerState } from "./pretrain-checkpoint.js";
import { writeTrainingCurves } from "./plot.js";
import { TensorBoardWriter } from "./tensorboard.js";
import { DISC_WEIGHT, DISCRIMINATOR_PREFIX, GENERATOR_PREFIX, RtdModel } from "./rtd.js";

/** Global-norm clip (run_pretraining.py via optimization.py: clip_by_global_norm(grads, 1.0)). */
export const CLIP_NORM = 1.0;
/** Weight decay of the official optimizer (configure_pretraining.py: weight_decay_rate = 0.01). */
export const WEIGHT_DECAY = 0.01;

export interface Preset {
  /** the discriminator's config keys */
  model: Partial<ElectraConfig>;
  /** generator width as a fraction of the discriminator's (configure_pretraining.py generator_hidden_size) */
  generatorFraction: number;
  lr: number;
  maskProb: number;
  batchSize: number;
  maxSeqLength: number;
}

const COMMON = { vocab_size: 30522, max_position_embeddings: 512, type_vocab_size: 2, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 };
/** Sizes from the paper / configure_pretraining.py (see ELECTRA-NOTES); tiny is ours, for minutes-long runs. */
export const PRESETS: Record<string, Preset> = {
  tiny: { model: { ...COMMON, embedding_size: 128, hidden_size: 128, num_hidden_layers: 4, num_attention_heads: 2, intermediate_size: 512 }, generatorFraction: 0.25, lr: 5e-4, maskProb: 0.15, batchSize: 32, maxSeqLength: 128 },
  small: { model: { ...COMMON, embedding_size: 128, hidden_size: 256, num_hidden_layers: 12, num_attention_heads: 4, intermediate_size: 1024 }, generatorFraction: 0.25, lr: 5e-4, maskProb: 0.15, batchSize: 128, maxSeqLength: 128 },
  "small++": { model: { ...COMMON, embedding_size: 128, hidden_size: 256, num_hidden_layers: 12, num_attention_heads: 4, intermediate_size: 1024 }, generatorFraction: 1.0, lr: 5e-4, maskProb: 0.15, batchSize: 128, maxSeqLength: 512 },
  base: { model: { ...COMMON, embedding_size: 768, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 }, generatorFraction: 1 / 3, lr: 2e-4, maskProb: 0.15, batchSize: 256, maxSeqLength: 512 },
  large: { model: { ...COMMON, embedding_size: 1024, hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096 }, generatorFraction: 0.25, lr: 2e-4, maskProb: 0.25, batchSize: 2048, maxSeqLength: 512 },
};

/** run_pretraining.py get_generator_config: hidden = round(hidden * f), FFN = 4 * hidden, heads = max(1, hidden // 64). */
export function generatorConfig(disc: ElectraConfig, fraction: number): ElectraConfig {
  const hidden = Math.max(1, Math.round(disc.hidden_size * fraction));
  return parseConfig({ ...disc, hidden_size: hidden, intermediate_size: 4 * hidden, num_attention_heads: Math.max(1, Math.floor(hidden / 64)) });
}

/**
 * Initial bias of the discriminator's output: "prior" (our default) starts it at the log-odds of the replaced
 * fraction it will see at first, "zero" is the official initialisation.
 *
 * Why not zero: at step 0 the discriminator predicts 50% everywhere while only ~15% of tokens are replaced,
 * so the largest part of its gradient says "predict 'original' everywhere", and Adam's sign-like steps push
 * every weight the same way at once. Measured here (tiny, batch 32): with a zero bias the last hidden state
 * became the same vector for every token and every sentence (a collapsed discriminator that can then neither
 * learn replaced-token detection nor be fine-tuned) within 40 steps at lr 1e-3 and 120 steps at lr 2e-4;
 * starting the bias at the prior removes that push and the states stay distinct. The official recipe avoids it
 * with a 10,000-step warmup, which short runs do not have. --disc-bias-init zero restores the official init.
 */
export type DiscBiasInit = "prior" | "zero";

/** log(p / (1 - p)) with p = mask probability: at the start nearly every masked position is replaced. */
export function discriminatorPriorBias(maskProb: number): number {
  return Math.log(maskProb / (1 - maskProb));
}

/** -(p ln p + (1 - p) ln(1 - p)) in nats; 0 at p = 0 and p = 1. */
export function binaryEntropy(p: number): number {
  const term = (q: number) => (q > 0 ? -q * Math.log(q) : 0);
  return term(p) + term(1 - p);
}

/** lr(step) = peak * (1 - step / total) * min(1, step / warmup), as the official polynomial decay with warmup. */
export function learningRate(step: number, peak: number, total: number, warmup: number): number {
  const decay = Math.max(0, 1 - step / total);
  const warm = warmup > 0 ? Math.min(1, step / warmup) : 1;
  return peak * decay * warm;
}

export interface PretrainOptions {
  examples: string;
  tokenizer: WordPieceTokenizer;
  /** vocab.txt / tokenizer.json copied into the saved folders */
  tokenizerFiles: string[];
  discConfig: ElectraConfig;
  genConfig: ElectraConfig;
  out: string;
  steps: number;
  batchSize: number;
  lr: number;
  warmup: number;
  maskProb: number;
  seed: number;
  logEvery: number;
  saveEvery: number;
  accumulate: number;
  biasCorrection: boolean;
  /** the discriminator output bias at initialisation (default "prior"; see DiscBiasInit) */
  discBiasInit?: DiscBiasInit;
  /** start from these weights instead of random ones (continued pretraining; see readInitPair) */
  init?: InitPair;
  resume: boolean;
  /** with resume: continue even though these options differ from the saved run's (listed on stderr) */
  resumeForce?: boolean;
  /** without resume: replace a run already in `out` */
  overwrite?: boolean;
  /** the text the examples were built from and --init-from, recorded with the run (null: none) */
  corpus?: string | null;
  initFrom?: string | null;
  /** the sequence length asked for (default: the example file's); recorded with the run */
  maxSeqLength?: number;
  /** called after each optimizer step (progress bars) and with each logged record */
  onStep?: (step: number, rec: MetricsRecord | null) => void;
  /** also write each logged record as TensorBoard scalars train/<key> to an event file in this folder */
  tensorboard?: string;
}

export interface MetricsRecord {
  step: number;
  /** data-parallel ranks (1 without MPI) */
  ranks: number;
  /** examples per optimizer step over all ranks: ranks x batch size x accumulation */
  global_batch_size: number;
  loss: number;
  generator_loss: number;
  generator_accuracy: number;
  discriminator_loss: number;
  discriminator_accuracy: number;
  discriminator_precision: number;
  discriminator_recall: number;
  replaced_fraction: number;
  /**
   * binaryEntropy(replaced_fraction): the loss of a discriminator that knows only the base rate. What the
   * discriminator has learnt about context is this minus discriminator_loss (docs/research/pretraining.md).
   */
  discriminator_base_loss: number;
  lr: number;
  grad_norm: number;
  /** tokens of every rank per second */
  tokens_per_second: number;
  elapsed_seconds: number;
  eta_seconds: number;
  /** with several ranks: wall seconds per step in the gradient all-reduce */
  allreduce_seconds?: number;
}

/** Keys of the noise streams (see the file comment). */
const MASK_KEY = 0x68e31da4, GUMBEL_KEY = 0x4f1bbcdc, DROPOUT_KEY = 0x2545f491;

/** Real tokens of a batch (attention mask 1). */
function realTokens(mask: Int32Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

/**
 * Dynamic padding of a loader batch (examples packed to max_seq_length, real tokens first): each example's real
 * tokens as a row, padded by the one batcher (src/data/batching.ts) to the longest of them.
 */
function trimBatch(inputIds: Int32Array, tokenTypeIds: Int32Array, attentionMask: Int32Array, B: number, T: number, padId: number): Batch {
  const rows: Sequence[] = [];
  for (let b = 0; b < B; b++) {
    let n = T;
    while (n > 1 && !attentionMask[b * T + n - 1]) n--;
    rows.push({ ids: inputIds.subarray(b * T, b * T + n), types: tokenTypeIds.subarray(b * T, b * T + n) });
  }
  return padBatch(rows, padId).batch;
}

/** A generator + discriminator pair to continue pretraining from: two Hugging Face folders. */
export interface InitPair {
  discriminator: HfFolder;
  generator: HfFolder;
}

/**
 * Reads DIR/discriminator and DIR/generator (the layout `electra pretrain` writes into OUT and OUT/checkpoint;
 * released pairs such as google/electra-small-discriminator + -generator can be put into that layout). The
 * configs come from the folders; RtdModel checks that they can share the embedding block.
 */
export function readInitPair(dir: string): InitPair {
  const sub = (name: string): HfFolder => {
    const d = join(dir, name);
    if (!existsSync(join(d, "config.json"))) throw new Error(`--init-from ${dir}: ${d}/config.json is missing (expected ${dir}/discriminator and ${dir}/generator, as electra pretrain writes them)`);
    return readHfFolder(d);
  };
  return { discriminator: sub("discriminator"), generator: sub("generator") };
}

/** What `pretrain` writes into OUT; a fresh start over any of them needs --overwrite. */
function runOutputs(out: string): string[] {
  const versions = (d: string) => [d, ...Object.values(folderVersions(d))];
  return [...versions(join(out, "checkpoint")), join(out, "metrics.jsonl"), ...versions(join(out, "discriminator")), ...versions(join(out, "generator"))];
}

/**
 * Checks OUT before anything is built or written: a resume needs a checkpoint there; a fresh start needs
 * an OUT without an earlier run, or `overwrite`, which then removes that run.
 */
export function prepareOutput(out: string, o: { resume: boolean; overwrite?: boolean }): void {
  const ckDir = join(out, "checkpoint");
  if (o.resume) {
    if (o.overwrite) throw new Error("--resume continues the run in --out and --overwrite replaces it: give one of them");
    if (newestComplete(ckDir) === null) throw new Error(`--resume: ${ckDir} does not exist, there is nothing to resume (start without --resume)`);
    return;
  }
  const found = runOutputs(out).filter((p) => existsSync(p));
  if (found.length && !o.overwrite) {
    throw new Error(`${out} already holds a pretraining run (${found.map((p) => p.slice(out.length + 1)).join(", ")}): continue it with --resume, or start again with --overwrite`);
  }
  for (const p of found) rmSync(p, { recursive: true, force: true });
}

export async function pretrain(o: PretrainOptions): Promise<{ last: MetricsRecord | null; model: RtdModel }> {
  const world = getWorld();
  const lead = world.rank === 0;
  await world.agree(() => {
    prepareOutput(o.out, o);
    mkdirSync(o.out, { recursive: true });
  });
  const file = ExampleFile.open(o.examples);
  file.checkTokenizer(o.tokenizer);
  const here = { examples: file.count, bytes: statSync(o.examples).size };
  const first = await world.agree(() => here);
  if (first.examples !== here.examples || first.bytes !== here.bytes) {
    throw new Error(`${o.examples} has ${here.examples} examples (${here.bytes} bytes) on ${world.host}, rank 0's has ${first.examples} (${first.bytes} bytes): every rank must read the same example file`);
  }
  const globalBatch = world.size * o.batchSize;
  if (globalBatch * file.maxSeqLength > 0xffffffff) throw new Error(`a global batch of ${globalBatch} examples of ${file.maxSeqLength} tokens is more than the noise keys index (2^32 tokens)`);
  const model = new RtdModel(o.discConfig, o.genConfig);
  const store = model.store;
  initParams(store, o.discConfig.initializer_range, o.seed, new Map([[`${DISCRIMINATOR_PREFIX}electra.embeddings.word_embeddings.weight`, o.discConfig.pad_token_id]]));
  if (o.init) {
    // the generator first, then the discriminator: the shared embedding block ends up the discriminator's
    loadIntoStore(store, o.init.generator.tensors, { prefix: GENERATOR_PREFIX, source: o.init.generator.weightsFile });
    loadIntoStore(store, o.init.discriminator.tensors, { prefix: DISCRIMINATOR_PREFIX, source: o.init.discriminator.weightsFile });
  } else if ((o.discBiasInit ?? "prior") === "prior") {
    store.get(`${DISCRIMINATOR_PREFIX}discriminator_predictions.dense_prediction.bias`).fill(discriminatorPriorBias(o.maskProb));
  }
  const opt = new AdamW(store, { weightDecay: WEIGHT_DECAY, biasCorrection: o.biasCorrection });
  // every rank walks the global batches; each reads its own rows of them
  const loader = new PretrainDataLoader(file, { batchSize: globalBatch, seed: o.seed });
  const shard = { start: world.rank * o.batchSize, count: o.batchSize };
  // the discriminator's own gradients are reduced first; with ELECTRA_MPI_OVERLAP=1 while the generator's backward
  // pass runs (BENCHMARKS.md: it did not pay on 2 cores, where the communication thread takes a core from compute)
  const reducer = new GradientReducer(world, store.grad, model.discriminatorOnlyRange());
  const overlap = process.env.ELECTRA_MPI_OVERLAP === "1";
  const digest = parameterDigests(world);
  const ctx = new RunContext({ train: true, seed: o.seed ^ DROPOUT_KEY });
  const ids = { padId: o.tokenizer.padId, clsId: o.tokenizer.clsId, sepId: o.tokenizer.sepId, maskId: o.tokenizer.maskId };
  const metricsPath = join(o.out, "metrics.jsonl");
  const ckDir = join(o.out, "checkpoint");
  let step = 0, elapsedBefore = 0;

  // rank 0's: the settings (the example file's digest is read there only), the checks of a resume, the state
  const settings = (): RunSettings => ({
    steps: o.steps, batchSize: o.batchSize, ranks: world.size, lr: o.lr, warmup: o.warmup, maskProb: o.maskProb, seed: o.seed, accumulate: o.accumulate,
    biasCorrection: o.biasCorrection, discBiasInit: o.discBiasInit ?? "prior", maxSeqLength: o.maxSeqLength ?? file.maxSeqLength,
    discriminator: configToJson(o.discConfig), generator: configToJson(o.genConfig),
    examples: fileDigest(o.examples), vocabulary: { size: o.tokenizer.vocabSize, hash: o.tokenizer.vocabHash >>> 0 },
    corpus: o.corpus ? resolve(o.corpus) : null, initFrom: o.initFrom ? resolve(o.initFrom) : null,
  });
  let run: RunSettings | null = null;
  const resumed = await world.agree(() => {
    run = settings();
    return o.resume ? resumeOnLead(o, run, store, opt, ckDir, metricsPath, (p) => loader.checkPosition(p)) : null;
  });
  if (resumed) {
    opt.step = resumed.optimizerStep;
    loader.setPosition(resumed.loader);
    step = resumed.step;
    elapsedBefore = resumed.elapsed;
  }
  // rank 0's weights (and optimizer moments) on every rank
  world.broadcast(resumed ? [store.data, opt.m, opt.v] : [store.data]);

  const saveModels = (dir: string) => {
    saveHfFolder(join(dir, "discriminator"), store, o.discConfig, { prefix: DISCRIMINATOR_PREFIX, architecture: "ElectraForPreTraining", tokenizerFiles: o.tokenizerFiles });
    saveHfFolder(join(dir, "generator"), store, o.genConfig, { prefix: GENERATOR_PREFIX, architecture: "ElectraForMaskedLM", tokenizerFiles: o.tokenizerFiles });
  };
  const saveCheckpoint = () => writeCheckpoint(ckDir, {
    saveModels, m: opt.m, v: opt.v,
    state: {
      step, optimizerStep: opt.step, loader: loader.getPosition(),
      elapsed: elapsedBefore + (performance.now() - t0) / 1000, threads: getThreads(), run: run!,
    },
  });

  // the picture of the curves (OUT/training.png and .svg); a failure to draw must not stop training
  const plot = async () => {
    try {
      if (existsSync(metricsPath)) await writeTrainingCurves(metricsPath, o.out, { title: "ELECTRA pretraining" });
    } catch (e) {
      console.error(`warning: could not draw the training curves: ${(e as Error).message}`);
    }
  };
  const t0 = performance.now();
  // sums over the window (and, with several ranks, over the ranks): losses weighted by the shard's share
  const zero = () => ({ loss: 0, gl: 0, dl: 0, gc: 0, masked: 0, dc: 0, real: 0, tp: 0, pp: 0, ap: 0, tokens: 0 });
  let win = zero(), winSteps = 0, winNorm = 0, winT = performance.now();
  let last: MetricsRecord | null = null;
  const startStep = step;
  const tb = lead && o.tensorboard ? new TensorBoardWriter(o.tensorboard, step + 1) : null;
  while (step < o.steps) {
    ctx.rng.setState(Rng.keyed(o.seed ^ DROPOUT_KEY, step, world.rank).getState());
    world.atStep(step);
    store.zeroGrad();
    for (let micro = 0; micro < o.accumulate; micro++) {
      ctx.arena.reset();
      const lb = loader.nextBatch(shard);
      const batch = trimBatch(lb.inputIds, lb.tokenTypeIds, lb.attentionMask, lb.batchSize, lb.seqLen, ids.padId);
      const m = maskBatch({ batchSize: batch.B, seqLen: batch.T, inputIds: batch.inputIds, attentionMask: batch.attentionMask }, ids,
        (b) => Rng.keyed(o.seed ^ MASK_KEY, step, micro, shard.start + b), { maskProb: o.maskProb, maxPredictions: maxPredictionsPerSeq(o.maskProb, lb.seqLen) });
      // each masked position's noise is keyed by its example's row in the global batch and its place in the example
      const rowKeys = new Int32Array(m.positions.length);
      for (let i = 0; i < rowKeys.length; i++) {
        const p = m.positions[i];
        rowKeys[i] = (shard.start + Math.floor(p / batch.T)) * lb.seqLen + (p % batch.T);
      }
      const local = { masked: m.positions.length, real: realTokens(batch.attentionMask) };
      const [masked, real] = sumOverRanks(world, [local.masked, local.real], "count all-reduce");
      const r = model.step(ctx, {
        batch, generatorInputIds: m.maskedInput, maskedRows: m.positions, sampling: { seed: keyedSeed(o.seed ^ GUMBEL_KEY, step, micro), rowKeys },
      }, {
        lossScale: 1 / o.accumulate, globalCounts: world.size > 1 ? { masked, real } : undefined,
        afterDiscriminatorBackward: overlap && micro === o.accumulate - 1 ? () => reducer.start() : undefined,
      });
      const wg = share(local.masked, masked), wd = share(local.real, real);
      win.loss += wg * r.generatorLoss + wd * DISC_WEIGHT * r.discriminatorLoss; win.gl += wg * r.generatorLoss; win.dl += wd * r.discriminatorLoss;
      win.gc += r.generatorCorrect; win.masked += r.masked; win.dc += r.discCorrect; win.real += r.real; win.tp += r.tp;
      win.pp += r.predictedReplaced; win.ap += r.actualReplaced; win.tokens += r.real;
    }
    reducer.reduce();
    winNorm += clipGradNorm(store.grad, CLIP_NORM, "tf");
    const lr = learningRate(step, o.lr, o.steps, o.warmup);
    opt.update(lr);
    step++;
    digest?.(step, store.data);
    winSteps++;
    let rec: MetricsRecord | null = null;
    if (step % o.logEvery === 0 || step === o.steps) {
      const keys = Object.keys(win) as (keyof typeof win)[];
      const sums = sumOverRanks(world, keys.map((k) => win[k]));
      const w = Object.fromEntries(keys.map((k, i) => [k, sums[i]])) as typeof win;
      const now = performance.now();
      const elapsed = elapsedBefore + (now - t0) / 1000;
      const rate = (step - startStep) / ((now - t0) / 1000);
      const n = winSteps * o.accumulate;
      const replacedFraction = w.ap / Math.max(1, w.real);
      rec = {
        step, ranks: world.size, global_batch_size: globalBatch * o.accumulate,
        loss: w.loss / n, generator_loss: w.gl / n, generator_accuracy: w.gc / Math.max(1, w.masked),
        discriminator_loss: w.dl / n, discriminator_accuracy: w.dc / Math.max(1, w.real),
        discriminator_precision: w.pp ? w.tp / w.pp : 0, discriminator_recall: w.ap ? w.tp / w.ap : 0,
        replaced_fraction: replacedFraction, discriminator_base_loss: binaryEntropy(replacedFraction), lr, grad_norm: winNorm / winSteps,
        tokens_per_second: w.tokens / ((now - winT) / 1000), elapsed_seconds: elapsed, eta_seconds: (o.steps - step) / rate,
        ...(world.size > 1 ? { allreduce_seconds: reducer.take() / winSteps } : {}),
      };
      if (lead) {
        appendFileSync(metricsPath, JSON.stringify(rec) + "\n");
        tb?.scalars(step, rec, "train/");
      }
      last = rec;
      win = zero();
      winSteps = 0;
      winNorm = 0;
      winT = now;
    }
    o.onStep?.(step, rec);
    if (lead && o.saveEvery > 0 && step % o.saveEvery === 0 && step < o.steps) {
      saveCheckpoint();
      await plot();
    }
  }
  if (lead) {
    saveCheckpoint();
    saveModels(o.out);
    await plot();
  }
  file.close();
  tb?.close();
  return { last, model };
}

/** What a resume restores besides the tensors (rank 0 reads it; every rank applies it). */
interface Resumed {
  step: number;
  optimizerStep: number;
  loader: TrainerState["loader"];
  elapsed: number;
}

/**
 * Rank 0's part of --resume: every check before anything is changed (a refused resume leaves OUT as it was),
 * then the weights and Adam's moments into store and opt, the metrics file cut back to the checkpoint's step.
 */
function resumeOnLead(
  o: PretrainOptions, run: RunSettings, store: RtdModel["store"], opt: AdamW, ckDir: string, metricsPath: string,
  checkLoader: (p: TrainerState["loader"]) => void,
): Resumed {
  const ck = readCheckpoint(ckDir, store.grad.length);
  const st = ck.state;
  const changes = runChanges(st.run, run);
  const fixed = changes.filter((c) => c.fixed);
  const where = join(ck.dir, "trainer-state.json");
  try {
    checkLoader(st.loader);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}: the checkpoint does not fit the example file`);
  }
  if (fixed.length) throw new Error(`--resume: ${fixed.map((c) => c.text).join("; ")} (saved in ${where} -> given now): these cannot change within a run; start a new run (--overwrite, or another --out; --init-from ${ck.dir} keeps its weights)`);
  if (st.run.ranks !== run.ranks && !o.resumeForce) {
    throw new Error(`--resume: the run was saved with ${st.run.ranks} MPI rank(s) (global batch ${st.run.ranks} x ${st.run.batchSize}) and is resumed with ${run.ranks}: resume it with ${st.run.ranks > 1 ? `mpirun -np ${st.run.ranks}` : "one process (no mpirun)"}, or give --resume-force to go on with a global batch of ${run.ranks} x ${run.batchSize}`);
  }
  if (changes.length && !o.resumeForce) {
    throw new Error(`--resume: ${changes.map((c) => c.text).join(", ")} (saved in ${where} -> given now): use the saved values, or --resume-force to continue with the new ones`);
  }
  loadIntoStore(store, readHfFolder(join(ck.dir, "discriminator")).tensors, { prefix: DISCRIMINATOR_PREFIX, source: join(ck.dir, "discriminator") });
  loadIntoStore(store, readHfFolder(join(ck.dir, "generator")).tensors, { prefix: GENERATOR_PREFIX, source: join(ck.dir, "generator") });
  opt.m.set(ck.m);
  opt.v.set(ck.v);
  console.error(`resuming from step ${st.step} (${ck.dir})` + (changes.length ? ` with ${changes.map((c) => c.text).join(", ")}; the schedule continues from step ${st.step}` : ""));
  if (st.threads !== getThreads()) {
    console.error(`warning: the run was saved with ${st.threads} threads and continues with ${getThreads()}: it goes on correctly, but not bit for bit as it would have with ${st.threads}`);
  }
  // metrics logged after the checkpoint belong to the lost part of the run: keep the file consistent
  if (existsSync(metricsPath)) {
    const kept = readFileSync(metricsPath, "utf8").split("\n").filter((l) => {
      try {
        return l && (JSON.parse(l) as MetricsRecord).step <= st.step;
      } catch {
        return false;
      }
    });
    writeFileDurable(metricsPath, kept.map((l) => l + "\n").join(""));
  }
  return { step: st.step, optimizerStep: st.optimizerStep, loader: st.loader, elapsed: st.elapsed };
}
