/**
 * A TensorBoard event-file writer for scalar metrics (`--tensorboard DIR` of pretrain and finetune): point
 * `tensorboard --logdir DIR` at the folder. Each writer makes one file DIR/events.out.tfevents.<unix
 * seconds>.<host>.<pid>.<n> (TensorBoard reads every file whose name holds "tfevents", in name order) and
 * appends each record with one write, so a run that is killed keeps every record written before.
 *
 * The format, from TensorFlow's sources:
 *  - framing (tensorflow/core/lib/io/record_writer.cc): each record is uint64 length, uint32 masked CRC-32C
 *    of those 8 bytes, the data, uint32 masked CRC-32C of the data; all little-endian; mask(c) = ((c >>> 15)
 *    | (c << 17)) + 0xa282ead8 (crc32c and maskCrc of src/io/tf/crc32c.ts);
 *  - each record is an Event (tensorflow/core/util/event.proto): double wall_time = 1; int64 step = 2;
 *    oneof { string file_version = 3; Summary summary = 5; SessionLog session_log = 7 }. The first event of
 *    a file has file_version "brain.Event:2";
 *  - Summary (tensorflow/core/framework/summary.proto): repeated Value value = 1; Value: string tag = 1;
 *    float simple_value = 2 (TensorBoard's scalars plugin reads simple_value as a scalar);
 *  - SessionLog (event.proto): SessionStatus status = 1 with START = 1. Pretraining writes one at the first
 *    step it will log: TensorBoard's event accumulator then drops the points of earlier files from that step
 *    on (a resumed run's points past its checkpoint, as metrics.jsonl drops them; a fresh run's old points).
 *  Protobuf wire format: key = field << 3 | type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
 *
 * Why by hand: the npm registry has no TensorBoard event writer for Node (@roboflow/tfrecords frames
 * records but needs protobuf code generated for Event); the few fields here take a few lines.
 */
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { crc32c, maskCrc } from "../io/tf/crc32c.js";
import type { FinetuneEvent } from "./finetune.js";

/** Appends the protobuf encoding of fields to a byte list. */
class ProtoWriter {
  readonly bytes: number[] = [];
  private key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }
  private varint(v: number): void {
    for (; v >= 0x80; v = Math.floor(v / 128)) this.bytes.push((v % 128) | 0x80);
    this.bytes.push(v);
  }
  uint(field: number, v: number): this {
    this.key(field, 0);
    this.varint(v);
    return this;
  }
  /** A double (size 8: wire type fixed64) or a float (size 4: fixed32). */
  real(field: number, v: number, size: 4 | 8): this {
    this.key(field, size === 8 ? 1 : 5);
    const dv = new DataView(new ArrayBuffer(size));
    if (size === 8) dv.setFloat64(0, v, true);
    else dv.setFloat32(0, v, true);
    this.bytes.push(...new Uint8Array(dv.buffer));
    return this;
  }
  message(field: number, m: ProtoWriter | Uint8Array): this {
    const b = m instanceof ProtoWriter ? m.bytes : m;
    this.key(field, 2);
    this.varint(b.length);
    this.bytes.push(...b);
    return this;
  }
  string(field: number, s: string): this {
    return this.message(field, new TextEncoder().encode(s));
  }
}

/** The TFRecord framing of one record. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 16);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskCrc(crc32c(out.subarray(0, 8))), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskCrc(crc32c(data)), true);
  return out;
}

let filesMade = 0;

export class TensorBoardWriter {
  /** The event file written. */
  readonly path: string;
  private fd: number | null;

  /**
   * Creates DIR (and parents) and a new event file in it. startStep: the first step this run will log
   * (a resumed run: the checkpoint's step + 1); a SessionLog START there makes TensorBoard drop the points
   * of earlier files in DIR from that step on.
   */
  constructor(dir: string, startStep?: number) {
    const host = hostname().replace(/[^\w.-]/g, "_") || "localhost";
    this.path = join(dir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${host}.${process.pid}.${filesMade++}`);
    try {
      mkdirSync(dir, { recursive: true });
      this.fd = openSync(this.path, "wx");
    } catch (e) {
      throw new Error(`--tensorboard: cannot create an event file in ${dir}: ${(e as Error).message}`);
    }
    this.event(0, (e) => e.string(3, "brain.Event:2"));
    if (startStep !== undefined) this.event(startStep, (e) => e.message(7, new ProtoWriter().uint(1, 1)));
  }

  private event(step: number, body: (e: ProtoWriter) => void): void {
    if (this.fd === null) throw new Error(`TensorBoard event file ${this.path} is closed`);
    const e = new ProtoWriter().real(1, Date.now() / 1000, 8).uint(2, Math.max(0, Math.round(step)));
    body(e);
    writeSync(this.fd, tfRecord(Uint8Array.from(e.bytes)));
  }

  /**
   * One event at step with a scalar for every number of values (NaN and infinities included: TensorBoard
   * shows them), tagged prefix + key; other values and the key "step" are left out.
   */
  scalars(step: number, values: object, prefix = ""): void {
    const entries = Object.entries(values as Record<string, unknown>).filter((kv): kv is [string, number] => kv[0] !== "step" && typeof kv[1] === "number");
    if (entries.length === 0) return;
    const summary = new ProtoWriter();
    for (const [k, v] of entries) summary.message(1, new ProtoWriter().string(1, prefix + k).real(2, v, 4));
    this.event(step, (e) => e.message(5, summary));
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * finetune()'s events as TensorBoard scalars: train/loss, train/lr and train/tokens_per_second at every step,
 * dev/<metric>, train/epoch and train/epoch_loss (the mean loss since the last evaluation) at every
 * evaluation. With several seeds each seed is a run of its own: DIR/seed-<seed>.
 */
export class FinetuneTensorBoard {
  private writer: TensorBoardWriter | null = null;
  constructor(private readonly dir: string) {}

  onEvent(e: FinetuneEvent): void {
    if (e.kind === "seed-start") {
      this.close();
      this.writer = new TensorBoardWriter(e.seeds > 1 ? join(this.dir, `seed-${e.seed}`) : this.dir);
    } else if (e.kind === "step") {
      this.writer?.scalars(e.step, { loss: e.loss, lr: e.lr, tokens_per_second: e.tokensPerSecond }, "train/");
    } else if (e.kind === "eval") {
      const r = e.record;
      const dev = Object.fromEntries(Object.entries(r.dev).map(([k, v]) => [`dev/${k}`, v]));
      this.writer?.scalars(r.step, { ...dev, "train/epoch": r.epoch, "train/epoch_loss": r.train_loss });
    } else if (e.kind === "seed-end") {
      this.close();
    }
  }

  close(): void {
    this.writer?.close();
    this.writer = null;
  }
}
