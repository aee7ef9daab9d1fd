/**
 * The pretraining checkpoint, OUT/checkpoint/, and the checks that make `--resume` continue the same run or
 * refuse:
 *   discriminator/, generator/   Hugging Face folders: the weights at the saved step
 *   optimizer.safetensors        Adam's m and v: float32 [P] each, in the order of the parameter buffer
 *   trainer-state.json           the step and data position (every random draw is keyed by the step, so there
 *                                is no RNG state to save); the run's settings (RunSettings);
 *                                the size and SHA-256 of every other file of the checkpoint
 * The folder is written as one unit by writeFolderDurable (src/io/durable.ts): after a kill it is the old
 * checkpoint or the new one. Reading checks trainer-state.json against its schema (zod), every file against
 * its recorded size and digest, and the optimizer tensors against the model's parameter count; any problem
 * is one error line naming the file.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { z } from "zod";
import { newestComplete, writeFolderDurable } from "../io/durable.js";
import { readSafetensors, serializeSafetensors } from "../io/safetensors.js";
import { fromFloat32, toFloat32 } from "../io/tensor-data.js";
import { jsonErrorMessage } from "../data/jsonl.js";

export const STATE_FILE = "trainer-state.json";
export const OPTIMIZER_FILE = "optimizer.safetensors";
const FORMAT = "electra-ts pretraining checkpoint";
/** 3: keyed noise (issue 19): masking, sampling and dropout keyed by step and example, no RNG states */
const VERSION = 3;

const int = z.number().int();
const u32 = int.min(0).max(0xffffffff);
const rngState = z.array(u32).length(4);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "expected a SHA-256 digest (64 hex digits)");

/** Everything that decides what a run computes: a resume must have the same, or say what changes. */
const RunSettingsSchema = z.strictObject({
  steps: int.positive(),
  /** examples per micro-batch on each rank */
  batchSize: int.positive(),
  /** data-parallel ranks (mpirun -np; 1 without MPI): the global batch is ranks x batchSize */
  ranks: int.positive(),
  lr: z.number().nonnegative(),
  warmup: int.nonnegative(),
  maskProb: z.number().gt(0).lt(1),
  seed: int,
  accumulate: int.positive(),
  biasCorrection: z.boolean(),
  discBiasInit: z.enum(["prior", "zero"]),
  /** config.json of each model as written */
  discriminator: z.record(z.string(), z.unknown()),
  generator: z.record(z.string(), z.unknown()),
  /** tokens per example (--max-seq-length, or the example file's) */
  maxSeqLength: int.positive(),
  /** the example file the run reads: its size and digest (wherever it now lies) */
  examples: z.strictObject({ bytes: int.nonnegative(), sha256 }),
  /** the vocabulary: its size and the hash the example file records (src/data/tokenizer.ts) */
  vocabulary: z.strictObject({ size: int.positive(), hash: u32 }),
  /** the text the examples were built from (null with --examples) */
  corpus: z.string().nullable(),
  /** --init-from (null: random weights) */
  initFrom: z.string().nullable(),
});
export type RunSettings = z.infer<typeof RunSettingsSchema>;

const TrainerStateSchema = z.strictObject({
  format: z.literal(FORMAT),
  version: z.literal(VERSION),
  step: int.nonnegative(),
  optimizerStep: int.nonnegative(),
  loader: z.strictObject({ epoch: int.nonnegative(), cursor: int.nonnegative(), rngState, examples: int.nonnegative() }),
  elapsed: z.number().nonnegative(),
  /** native threads of the run: reductions are bit-reproducible for a given count */
  threads: int.positive(),
  run: RunSettingsSchema,
  /** path inside the checkpoint -> size and digest */
  files: z.record(z.string(), z.strictObject({ bytes: int.nonnegative(), sha256 })),
});
export type TrainerState = z.infer<typeof TrainerStateSchema>;

/** SHA-256 and size of a file, read in 4 MiB pieces (an example file may be many GB). */
export function fileDigest(path: string): { bytes: number; sha256: string } {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(4 << 20);
  const fd = openSync(path, "r");
  let bytes = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; bytes += n) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { bytes, sha256: h.digest("hex") };
}

export interface CheckpointContent {
  state: Omit<TrainerState, "format" | "version" | "files">;
  m: Float32Array;
  v: Float32Array;
  /** writes discriminator/ and generator/ into the folder it is given */
  saveModels: (dir: string) => void;
}

/** Writes DIR (OUT/checkpoint) as one durable unit; trainer-state.json, with the digests, goes in last. */
export function writeCheckpoint(dir: string, c: CheckpointContent): void {
  writeFolderDurable(dir, (tmp) => {
    c.saveModels(tmp);
    writeFileSync(join(tmp, OPTIMIZER_FILE), serializeSafetensors({ m: fromFloat32(c.m, [c.m.length]), v: fromFloat32(c.v, [c.v.length]) }));
    const files: TrainerState["files"] = {};
    for (const f of [OPTIMIZER_FILE, ...["discriminator", "generator"].flatMap((p) => [`${p}/config.json`, `${p}/model.safetensors`])]) {
      files[f] = fileDigest(join(tmp, f));
    }
    const state: TrainerState = { format: FORMAT, version: VERSION, ...c.state, files };
    writeFileSync(join(tmp, STATE_FILE), JSON.stringify(state, null, 1) + "\n");
  });
}

/** The first problem zod found, as "field.path: message". */
function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  return `${i.path.length ? i.path.join(".") : "(top level)"}: ${i.message}`;
}

/**
 * Reads and checks the newest complete checkpoint in DIR (see newestComplete): the state's schema, every
 * file's size and digest, the optimizer tensors' length (= paramCount). Throws one line naming the file.
 */
export function readCheckpoint(dir: string, paramCount: number): { dir: string; state: TrainerState; m: Float32Array; v: Float32Array } {
  const at = newestComplete(dir);
  if (at === null) throw new Error(`${dir} does not exist: there is no checkpoint to resume from`);
  const statePath = join(at, STATE_FILE);
  if (!existsSync(statePath)) throw new Error(`${statePath} is missing: ${at} is not a complete checkpoint`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(statePath, "utf8"));
  } catch (e) {
    throw new Error(`${statePath} is not valid JSON (${jsonErrorMessage(e)}): the checkpoint is damaged`);
  }
  if (raw && typeof raw === "object" && !("format" in raw) && "options" in raw) {
    throw new Error(`${statePath} was written by an earlier electra-ts, without the run's settings and checksums that --resume checks; continue from its weights with --init-from ${at} (a fresh optimizer)`);
  }
  if (raw && typeof raw === "object" && (raw as { version?: unknown }).version === 2) {
    throw new Error(`${statePath} was written by an earlier electra-ts, whose masking and sampling noise came from sequential streams (now keyed by step and example): it cannot continue exactly; continue from its weights with --init-from ${at} (a fresh optimizer)`);
  }
  const parsed = TrainerStateSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${statePath}: ${firstIssue(parsed.error)}`);
  const state = parsed.data;
  // what a run never writes: one optimizer update per step, never past the run's steps, a live random state
  if (state.optimizerStep !== state.step) throw new Error(`${statePath}: optimizerStep ${state.optimizerStep} differs from step ${state.step} (one update per step): the checkpoint is damaged`);
  if (state.step > state.run.steps) throw new Error(`${statePath}: step ${state.step} is past the run's ${state.run.steps} steps: the checkpoint is damaged`);
  if (state.loader.cursor > state.loader.examples) throw new Error(`${statePath}: loader.cursor ${state.loader.cursor} is past the ${state.loader.examples} examples: the checkpoint is damaged`);
  if (state.loader.rngState.every((x) => x === 0)) throw new Error(`${statePath}: loader.rngState is all zeros, which no generator state is: the checkpoint is damaged`);
  for (const [name, want] of Object.entries(state.files)) {
    const p = join(at, name);
    if (relative(at, p).startsWith("..")) throw new Error(`${statePath}: file ${name} is outside the checkpoint`);
    if (!existsSync(p)) throw new Error(`${p} is missing (listed in ${statePath}): the checkpoint is damaged`);
    const got = fileDigest(p);
    if (got.bytes !== want.bytes || got.sha256 !== want.sha256) {
      throw new Error(`${p} does not match its checksum in ${statePath} (${got.bytes} bytes, sha256 ${got.sha256.slice(0, 12)}…; saved: ${want.bytes} bytes, ${want.sha256.slice(0, 12)}…): the checkpoint is damaged`);
    }
  }
  for (const need of [OPTIMIZER_FILE, "discriminator/model.safetensors", "generator/model.safetensors"]) {
    if (!(need in state.files)) throw new Error(`${statePath}: files lists no ${need}`);
  }
  const optPath = join(at, OPTIMIZER_FILE);
  const mv = readSafetensors(optPath).tensors;
  const vec = (name: string): Float32Array => {
    const t = mv.get(name);
    if (!t || t.dtype !== "F32" || t.shape.length !== 1 || t.shape[0] !== paramCount) {
      throw new Error(`${optPath}: tensor ${name} should be F32 [${paramCount}] (the model's parameter count), found ${t ? `${t.dtype} [${t.shape}]` : "none"}`);
    }
    return toFloat32(t);
  };
  return { dir: at, state, m: vec("m"), v: vec("v") };
}

/** Flags by which the user sets each run setting (for messages). */
const FLAGS: Record<keyof RunSettings, string> = {
  steps: "--steps", batchSize: "--batch-size", ranks: "MPI ranks (mpirun -np)", lr: "--lr", warmup: "--warmup", maskProb: "--mask-prob", seed: "--seed",
  accumulate: "--accumulate", biasCorrection: "--bias-correction", discBiasInit: "--disc-bias-init",
  maxSeqLength: "--max-seq-length", discriminator: "discriminator config (--config)", generator: "generator config (--config, --generator-fraction)",
  examples: "examples (--examples, --corpus)", vocabulary: "--vocab", corpus: "--corpus", initFrom: "--init-from",
};
/** Settings a resume can never change: the weights or the data would not fit the saved state. */
const FIXED = new Set<keyof RunSettings>(["maxSeqLength", "discriminator", "generator", "examples", "vocabulary"]);

export interface RunChange {
  key: keyof RunSettings;
  /** "--steps 16 -> 32" */
  text: string;
  /** cannot be changed even with --resume-force */
  fixed: boolean;
}

function show(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** What differs between the saved run and the one asked for now, one entry per setting. */
export function runChanges(saved: RunSettings, now: RunSettings): RunChange[] {
  const out: RunChange[] = [];
  for (const key of Object.keys(FLAGS) as (keyof RunSettings)[]) {
    const a = saved[key], b = now[key];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    let text: string;
    if (a && b && typeof a === "object" && typeof b === "object") {
      const ra = a as Record<string, unknown>, rb = b as Record<string, unknown>;
      const keys = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].filter((k) => JSON.stringify(ra[k]) !== JSON.stringify(rb[k]));
      text = `${FLAGS[key]}: ${keys.map((k) => `${k} ${show(ra[k])} -> ${show(rb[k])}`).join(", ")}`;
    } else text = `${FLAGS[key]} ${show(a)} -> ${show(b)}`;
    out.push({ key, text, fixed: FIXED.has(key) });
  }
  return out;
}
