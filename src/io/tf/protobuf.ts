/**
 * A protobuf wire-format reader: key = field << 3 | wire type (0 varint, 1 fixed64, 2 length-delimited,
 * 5 fixed32), little-endian fixed-width fields. The messages (TensorBundle's header and entries, event
 * files) are decoded field by field by their readers.
 *
 * Why by hand: protobuf libraries need the .proto files compiled in, for the two small messages read here.
 */

/** Reads protobuf wire format in buf[start, end); `fail` throws. (test/helpers/tfevents.ts reads event files with it.) */
export class ProtoReader {
  p: number;
  constructor(readonly buf: Uint8Array, readonly end: number, readonly fail: (msg: string) => never, start = 0) {
    this.p = start;
  }
  done(): boolean {
    return this.p >= this.end;
  }
  /** A varint as an unsigned 64-bit bigint. */
  varintBig(): bigint {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (this.p >= this.end) this.fail("protobuf: truncated varint");
      if (shift > 63n) this.fail("protobuf: varint longer than 10 bytes");
      const b = this.buf[this.p++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return BigInt.asUintN(64, v);
    }
  }
  /** A varint read as a signed int64 that must be a safe integer. */
  int64(what: string): number {
    const v = BigInt.asIntN(64, this.varintBig());
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) this.fail(`protobuf: ${what} ${v} is out of range`);
    return Number(v);
  }
  fixed32(): number {
    if (this.p + 4 > this.end) this.fail("protobuf: truncated fixed32");
    const b = this.buf;
    const v = (b[this.p] | (b[this.p + 1] << 8) | (b[this.p + 2] << 16) | (b[this.p + 3] << 24)) >>> 0;
    this.p += 4;
    return v;
  }
  /** The [start, end) of a length-delimited field's payload; advances past it. */
  bytes(): [number, number] {
    const n = this.varintBig();
    if (n > BigInt(this.end - this.p)) this.fail("protobuf: length-delimited field runs past the message");
    const s = this.p;
    this.p += Number(n);
    return [s, this.p];
  }
  skip(wire: number): void {
    if (wire === 0) this.varintBig();
    else if (wire === 1) this.need(8);
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.need(4);
    else this.fail(`protobuf: unsupported wire type ${wire}`);
  }
  private need(n: number): void {
    if (this.p + n > this.end) this.fail("protobuf: truncated field");
    this.p += n;
  }
  /** Iterates fields: calls fn(field, wireType); fn must consume the value (or call skip). */
  fields(fn: (field: number, wire: number) => void): void {
    while (!this.done()) {
      const key = this.varintBig();
      const field = Number(key >> 3n);
      const wire = Number(key & 7n);
      if (field === 0) this.fail("protobuf: field number 0");
      fn(field, wire);
    }
  }
  expect(wire: number, want: number, what: string): void {
    if (wire !== want) this.fail(`protobuf: ${what} has wire type ${wire}, expected ${want}`);
  }
}
