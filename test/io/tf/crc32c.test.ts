import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32c, maskCrc, unmaskCrc } from "../../../src/io/tf/crc32c.js";

test("CRC-32C and its mask match TensorFlow/LevelDB", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4 test vector
  assert.equal(crc32c(Buffer.from("6789"), crc32c(Buffer.from("12345"))), 0xe3069283, "continuation");
  for (const c of [0, 1, 0xe3069283, 0xffffffff]) assert.equal(unmaskCrc(maskCrc(c)), c);
});
