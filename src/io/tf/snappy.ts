/**
 * Snappy block decompression (https://github.com/google/snappy/blob/main/format_description.txt):
 *   varint32 uncompressed length, then elements, each starting with a tag byte whose low 2 bits say:
 *   00 literal: length - 1 in the upper 6 bits, or 60..63 = that length - 1 is in the next 1..4 bytes (LE);
 *   01 copy: length 4 + bits 2..4, offset = bits 5..7 << 8 | next byte;
 *   10 copy: length 1 + upper 6 bits, offset = next 2 bytes (LE); 11 copy: same with a 4-byte offset.
 *   A copy repeats `length` bytes starting `offset` bytes back (it may overlap what it writes).
 *
 * Why by hand: the snappy packages on npm are native addons; decompression is 60 lines. (The test-only
 * compressor is in test/helpers/tf-writer.ts.)
 */

/** Decompresses a raw snappy block; throws a plain Error describing the damage. */
export function snappyDecompress(src: Uint8Array): Uint8Array {
  let p = 0;
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    if (p >= src.length) throw new Error("snappy: truncated length header");
    if (shift > 28) throw new Error("snappy: length header is too long");
    const b = src[p++];
    len += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) break;
  }
  // the densest element (a 3-byte copy of 64 bytes) expands 21.3×: a larger claim is damage, not data
  if (len > src.length * 22 + 64) throw new Error(`snappy: claims ${len} bytes from ${src.length} compressed bytes`);
  const out = new Uint8Array(len);
  let o = 0;
  while (p < src.length) {
    const tag = src[p++];
    const type = tag & 3;
    if (type === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const extra = n - 59;
        if (p + extra > src.length) throw new Error("snappy: truncated literal length");
        n = 0;
        for (let k = 0; k < extra; k++) n += src[p + k] * 2 ** (8 * k);
        p += extra;
      }
      n += 1;
      if (p + n > src.length) throw new Error("snappy: literal runs past the input");
      if (o + n > len) throw new Error("snappy: output overruns the declared length");
      out.set(src.subarray(p, p + n), o);
      p += n;
      o += n;
      continue;
    }
    let n: number;
    let off: number;
    if (type === 1) {
      if (p + 1 > src.length) throw new Error("snappy: truncated copy");
      n = 4 + ((tag >>> 2) & 7);
      off = ((tag >>> 5) << 8) | src[p++];
    } else if (type === 2) {
      if (p + 2 > src.length) throw new Error("snappy: truncated copy");
      n = 1 + (tag >>> 2);
      off = src[p] | (src[p + 1] << 8);
      p += 2;
    } else {
      if (p + 4 > src.length) throw new Error("snappy: truncated copy");
      n = 1 + (tag >>> 2);
      off = (src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24)) >>> 0;
      p += 4;
    }
    if (off === 0 || off > o) throw new Error(`snappy: copy offset ${off} at output position ${o} is out of range`);
    if (o + n > len) throw new Error("snappy: output overruns the declared length");
    for (let k = 0; k < n; k++, o++) out[o] = out[o - off];
  }
  if (o !== len) throw new Error(`snappy: decompressed ${o} bytes, the header says ${len}`);
  return out;
}
