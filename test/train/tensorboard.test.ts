// The TensorBoard event-file writer (src/train/tensorboard.ts): the exact bytes of a record, what a reader that
// checks the framing's CRCs decodes (test/helpers/tfevents.ts), flushing per record, fine-tuning's events, and
// `pretrain --tensorboard` with a resume.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runPretrain } from "../../src/cli/pretrain.js";
import { syntheticVocabulary, writeSyntheticCorpus } from "../../src/data/synthetic.js";
import { crc32c, maskCrc } from "../../src/io/tf/crc32c.js";
import type { FinetuneEvent } from "../../src/train/finetune.js";
import { FinetuneTensorBoard, TensorBoardWriter, tfRecord } from "../../src/train/tensorboard.js";
import { readEventFile, type TfEvent } from "../helpers/tfevents.js";

const tmp = mkdtempSync(join(tmpdir(), "electra-tb-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const fresh = () => join(tmp, String(dirs++));

function eventFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.includes("tfevents")).sort().map((f) => join(dir, f));
}

/** tag -> [step, value] pairs of the scalar events. */
function scalars(events: TfEvent[]): Map<string, Array<[number, number]>> {
  const out = new Map<string, Array<[number, number]>>();
  for (const e of events) for (const v of e.values) out.set(v.tag, [...(out.get(v.tag) ?? []), [e.step, v.value]]);
  return out;
}

test("the TFRecord framing and the Event protobuf, byte for byte", () => {
  const rec = tfRecord(Uint8Array.of(1, 2, 3));
  assert.deepEqual([...rec.subarray(0, 8)], [3, 0, 0, 0, 0, 0, 0, 0], "uint64 length, little-endian");
  const dv = new DataView(rec.buffer);
  assert.equal(dv.getUint32(8, true), maskCrc(crc32c(rec.subarray(0, 8))));
  assert.deepEqual([...rec.subarray(12, 15)], [1, 2, 3]);
  assert.equal(dv.getUint32(15, true), maskCrc(crc32c(Uint8Array.of(1, 2, 3))));
  assert.equal(maskCrc(0), 0xa282ead8, "the mask's constant");

  const dir = fresh();
  const w = new TensorBoardWriter(dir);
  w.scalars(5, { a: 1, step: 5, name: "x" });
  w.close();
  const [file] = eventFiles(dir);
  assert.match(file, /[/\\]events\.out\.tfevents\.\d{10}\.[\w.-]+\.\d+\.\d+$/);
  const bytes = readFileSync(file);
  const first = 16 + Number(bytes.readBigUInt64LE(0));
  const data = [...bytes.subarray(first + 12, bytes.length - 4)];
  // Event { wall_time (0x09, 8 bytes), step (0x10) 5, summary (0x2a) { value (0x0a) { tag (0x0a) "a", simple_value (0x15) 1.0f } } }
  assert.equal(data[0], 0x09);
  assert.deepEqual(data.slice(9), [0x10, 5, 0x2a, 10, 0x0a, 8, 0x0a, 1, 0x61, 0x15, 0, 0, 0x80, 0x3f]);
  const fileVersion = [...bytes.subarray(12 + 9, first - 4)];
  assert.deepEqual(fileVersion, [0x10, 0, 0x1a, 13, ...Buffer.from("brain.Event:2")]);
});

test("events read back: file_version first, a SessionLog START, scalars with their tags, steps and float32 values", () => {
  const dir = fresh();
  const t0 = Date.now() / 1000;
  const w = new TensorBoardWriter(dir, 11);
  w.scalars(11, { loss: 2.5, lr: 1e-4, big: 123456789, nan: Number.NaN, inf: -Infinity, text: "no", nothing: null }, "train/");
  const afterOne = readEventFile(eventFiles(dir)[0]);
  assert.equal(afterOne.length, 3, "on disk before close: a killed run keeps what was written");
  w.scalars(12, {}); // nothing numeric: no event
  w.scalars(2 ** 40, { loss: 1 }, "train/");
  w.close();
  w.close();
  assert.throws(() => w.scalars(13, { loss: 1 }), /is closed/);
  const ev = readEventFile(eventFiles(dir)[0]);
  assert.equal(ev.length, 4);
  assert.equal(ev[0].fileVersion, "brain.Event:2");
  assert.deepEqual([ev[1].step, ev[1].sessionStatus], [11, 1], "SessionLog START at the first step");
  for (const e of ev) assert.ok(e.wallTime >= t0 - 1 && e.wallTime <= Date.now() / 1000 + 1);
  assert.deepEqual(ev[2].values.map((v) => v.tag), ["train/loss", "train/lr", "train/big", "train/nan", "train/inf"]);
  assert.deepEqual(ev[2].values.map((v) => v.value), [2.5, Math.fround(1e-4), Math.fround(123456789), Number.NaN, -Infinity]);
  assert.equal(ev[3].step, 2 ** 40, "int64 steps");
  // two writers in one folder: two files, in the order TensorBoard reads them
  new TensorBoardWriter(dir).close();
  assert.equal(eventFiles(dir).length, 2);
  const notDir = join(tmp, "a-file");
  writeFileSync(notDir, "");
  assert.throws(() => new TensorBoardWriter(notDir), /--tensorboard: cannot create an event file in .*a-file: /);
});

test("fine-tuning events: train/ at every step, dev/ at every evaluation, a run per seed when there are several", () => {
  const feed = (dir: string, seeds: number[]) => {
    const tb = new FinetuneTensorBoard(dir);
    for (const seed of seeds) {
      const events: FinetuneEvent[] = [
        { kind: "seed-start", seed, seedIndex: 0, seeds: seeds.length, totalSteps: 4, stepsPerEpoch: 2 },
        { kind: "step", seed, step: 1, totalSteps: 4, loss: 0.7, lr: 1e-4, tokensPerSecond: 500 },
        { kind: "step", seed, step: 2, totalSteps: 4, loss: 0.6, lr: 2e-4, tokensPerSecond: 510 },
        { kind: "eval", seed, record: { epoch: 1, step: 2, train_loss: 0.65, dev: { accuracy: 0.75, main: 0.75 } }, best: true },
      ];
      for (const e of events) tb.onEvent(e);
      tb.onEvent({ kind: "seed-end", seed, result: {} as never });
    }
    tb.close();
  };
  const one = fresh();
  feed(one, [3]);
  const s = scalars(readEventFile(eventFiles(one)[0]));
  assert.deepEqual([...s.keys()], ["train/loss", "train/lr", "train/tokens_per_second", "dev/accuracy", "dev/main", "train/epoch", "train/epoch_loss"]);
  assert.deepEqual(s.get("train/loss"), [[1, Math.fround(0.7)], [2, Math.fround(0.6)]]);
  assert.deepEqual(s.get("dev/accuracy"), [[2, 0.75]]);
  const several = fresh();
  feed(several, [1, 2]);
  assert.deepEqual(readdirSync(several).sort(), ["seed-1", "seed-2"]);
  for (const d of ["seed-1", "seed-2"]) assert.equal(scalars(readEventFile(eventFiles(join(several, d))[0])).get("dev/main")?.length, 1);
});

test("pretrain --tensorboard writes every metrics record; a resumed run starts a new file with a START at its first step", { timeout: 120_000 }, async () => {
  const dir = fresh();
  writeSyntheticCorpus(join(dir, "corpus.txt"), 100, 3);
  writeFileSync(join(dir, "vocab.txt"), syntheticVocabulary().join("\n") + "\n");
  writeFileSync(join(dir, "config.json"), JSON.stringify({ embedding_size: 16, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 32 }));
  const out = join(dir, "out"), tb = join(dir, "tb");
  const opts = {
    corpus: join(dir, "corpus.txt"), vocab: join(dir, "vocab.txt"), config: join(dir, "config.json"), out, seed: 1, saveEvery: 0,
    batchSize: 4, maxSeqLength: 32, logEvery: 2, accumulate: 1, biasCorrection: false, threads: 1, tensorboard: tb,
  };
  await runPretrain({ ...opts, steps: 4, resume: false }, true);
  await runPretrain({ ...opts, steps: 6, resume: true, resumeForce: true }, true); // 2 more steps: a changed --steps needs the force
  const files = eventFiles(tb);
  assert.equal(files.length, 2);
  const [a, b] = files.map(readEventFile);
  assert.deepEqual([a[1].step, a[1].sessionStatus, b[1].step, b[1].sessionStatus], [1, 1, 5, 1]);
  const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
  const got = scalars([...a, ...b]);
  assert.deepEqual(got.get("train/loss"), metrics.map((m) => [m.step, Math.fround(m.loss)]));
  const numeric = Object.keys(metrics[0]).filter((k) => k !== "step" && typeof metrics[0][k] === "number");
  assert.deepEqual([...got.keys()].sort(), numeric.map((k) => `train/${k}`).sort());
});
