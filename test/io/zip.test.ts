import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateRawSync } from "node:zlib";
import { ZipReader, buildZip, crc32 } from "../../src/io/zip.js";

const enc = new TextEncoder();

test("CRC-32 matches the IEEE check value and continues", () => {
  assert.equal(crc32(enc.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(enc.encode("6789"), crc32(enc.encode("12345"))), 0xcbf43926);
});

test("stored entries round-trip, data 64-byte aligned, with and without zip64 records", () => {
  for (const zip64 of [false, true]) {
    const entries = [{ name: "a/data.pkl", data: enc.encode("hello") }, { name: "a/data/0", data: new Uint8Array(1000).fill(7) }];
    const buf = buildZip(entries, { zip64 });
    const z = new ZipReader(buf, "t.zip");
    assert.deepEqual([...z.entries.keys()], ["a/data.pkl", "a/data/0"]);
    for (const e of entries) {
      const got = z.read(e.name);
      assert.deepEqual([...got], [...e.data]);
      assert.equal((got.byteOffset - buf.byteOffset) % 64, 0, `${e.name} starts at a multiple of 64 in the file`);
    }
  }
});

test("a deflated entry inflates; damage names the entry and what is wrong", () => {
  const data = enc.encode("electra ".repeat(100));
  const buf = Buffer.from(buildZip([{ name: "x", data }]));
  // rewrite the entry as deflated: method 8 in both headers, compressed bytes in place of the stored ones
  const z0 = new ZipReader(buf, "t.zip");
  const start = z0.read("x").byteOffset - buf.byteOffset;
  const deflated = deflateRawSync(data);
  const cd = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  const out = Buffer.concat([buf.subarray(0, start), deflated, buf.subarray(start + data.length)]);
  const cd2 = cd - data.length + deflated.length;
  out.writeUInt16LE(8, 8); // local header method
  out.writeUInt16LE(8, cd2 + 10); // central method
  out.writeUInt32LE(deflated.length, cd2 + 20); // compressed size
  const eocd = out.length - 22;
  out.writeUInt32LE(cd2, eocd + 16); // directory offset
  assert.deepEqual([...new ZipReader(out, "t.zip").read("x")], [...data]);

  const flipped = Buffer.from(buf);
  flipped[start + 3] ^= 1;
  assert.throws(() => new ZipReader(flipped, "t.zip").read("x"), /t\.zip: zip archive: entry x: CRC-32 mismatch/);
  assert.throws(() => new ZipReader(buf.subarray(0, buf.length - 5), "t.zip"), /no end-of-central-directory record/);
  assert.throws(() => new ZipReader(buf, "t.zip").read("y"), /no entry y/);
});
