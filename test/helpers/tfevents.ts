/**
 * Test-only reader of TensorBoard event files (src/train/tensorboard.ts has the format and its sources): parses
 * the TFRecord framing, checks both masked CRC-32Cs of every record, and decodes each Event's wall_time, step,
 * file_version, session_log status and summary values (tag, simple_value).
 */
import { readFileSync } from "node:fs";
import { crc32c, maskCrc } from "../../src/io/tf/crc32c.js";
import { ProtoReader } from "../../src/io/tf/protobuf.js";

export interface TfEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  sessionStatus?: number;
  values: Array<{ tag: string; value: number }>;
}

function fail(msg: string): never {
  throw new Error(`event file: ${msg}`);
}

function float(bits: number[], bytes: 4 | 8): number {
  const dv = new DataView(new ArrayBuffer(8));
  bits.forEach((b, i) => dv.setUint32(4 * i, b, true));
  return bytes === 4 ? dv.getFloat32(0, true) : dv.getFloat64(0, true);
}

/** Each message of a length-delimited field, as a reader of its bytes. */
function sub(r: ProtoReader): ProtoReader {
  const [s, e] = r.bytes();
  return new ProtoReader(r.buf, e, fail, s);
}

function decodeEvent(r: ProtoReader): TfEvent {
  const ev: TfEvent = { wallTime: NaN, step: 0, values: [] };
  r.fields((field, wire) => {
    if (field === 1 && wire === 1) ev.wallTime = float([r.fixed32(), r.fixed32()], 8);
    else if (field === 2 && wire === 0) ev.step = r.int64("step");
    else if (field === 3 && wire === 2) ev.fileVersion = Buffer.from(r.buf.subarray(...r.bytes())).toString("utf8");
    else if (field === 5 && wire === 2) {
      const sr = sub(r);
      sr.fields((f, w) => {
        if (f !== 1 || w !== 2) return sr.skip(w);
        const v = { tag: "", value: NaN };
        const vr = sub(sr);
        vr.fields((vf, vw) => {
          if (vf === 1 && vw === 2) v.tag = Buffer.from(vr.buf.subarray(...vr.bytes())).toString("utf8");
          else if (vf === 2 && vw === 5) v.value = float([vr.fixed32()], 4);
          else vr.skip(vw);
        });
        ev.values.push(v);
      });
    } else if (field === 7 && wire === 2) {
      const sr = sub(r);
      sr.fields((f, w) => (f === 1 && w === 0 ? (ev.sessionStatus = sr.int64("status")) : sr.skip(w)));
    } else r.skip(wire);
  });
  return ev;
}

/** Every event of the file, in order; throws on a bad length, a bad CRC or a truncated record. */
export function readEventFile(path: string): TfEvent[] {
  const buf = new Uint8Array(readFileSync(path));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const events: TfEvent[] = [];
  for (let p = 0; p < buf.length; ) {
    if (p + 12 > buf.length) fail(`truncated header at byte ${p}`);
    const len = Number(dv.getBigUint64(p, true));
    if (dv.getUint32(p + 8, true) !== maskCrc(crc32c(buf.subarray(p, p + 8)))) fail(`bad length CRC at byte ${p}`);
    if (p + 16 + len > buf.length) fail(`truncated record at byte ${p}`);
    const data = buf.subarray(p + 12, p + 12 + len);
    if (dv.getUint32(p + 12 + len, true) !== maskCrc(crc32c(data))) fail(`bad data CRC at byte ${p}`);
    events.push(decodeEvent(new ProtoReader(buf, p + 12 + len, fail, p + 12)));
    p += 16 + len;
  }
  return events;
}
