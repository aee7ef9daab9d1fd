import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  readPytorchBin,
  serializePytorchLegacy,
  serializePytorchZip,
  writePytorchLegacy,
  writePytorchZip,
} from "../../src/io/pytorch.js";
import { buildZip } from "../../src/io/zip.js";
import { parseSafetensors, readSafetensors, serializeSafetensors } from "../../src/io/safetensors.js";
import { CheckpointError, type DType, type TensorData, toFloat32 } from "../../src/io/tensor-data.js";
import { assertSameTensors } from "../helpers/tensors.js";

const FIXTURES = "../shared/reference/fixtures";
const fixturesMissing = existsSync(join(FIXTURES, "weights.safetensors")) ? false : `${FIXTURES} is absent`;


function tmp(): string {
  return mkdtempSync(join(tmpdir(), "electra-io-"));
}

function tensor(dtype: DType, shape: number[], bytes: number[] | Uint8Array): TensorData {
  return { dtype, shape, bytes: Uint8Array.from(bytes) };
}

function f32(shape: number[], values: number[]): TensorData {
  return { dtype: "F32", shape, bytes: new Uint8Array(Float32Array.from(values).buffer) };
}

/** A small state dict with every numeric dtype. */
function sampleTensors(): Map<string, TensorData> {
  const m = new Map<string, TensorData>();
  m.set("w", f32([2, 3], [1, 2, 3, 4, 5, 6]));
  m.set("scalar", f32([], [7.5]));
  m.set("empty", f32([0, 4], []));
  m.set("f16", tensor("F16", [2], [0x00, 0x3c, 0x00, 0xc0]));
  m.set("bf16", tensor("BF16", [2], [0x80, 0x3f, 0x00, 0xc0]));
  m.set("f64", { dtype: "F64", shape: [2], bytes: new Uint8Array(Float64Array.from([0.1, -1e300]).buffer) });
  m.set("i64", { dtype: "I64", shape: [3], bytes: new Uint8Array(BigInt64Array.from([-1n, 1n << 40n, 3n]).buffer) });
  m.set("i32", { dtype: "I32", shape: [1, 2], bytes: new Uint8Array(Int32Array.from([7, -8]).buffer) });
  m.set("i16", { dtype: "I16", shape: [2], bytes: new Uint8Array(Int16Array.from([300, -300]).buffer) });
  m.set("i8", tensor("I8", [3], [1, 0xff, 0x80]));
  m.set("u8", tensor("U8", [2], [0, 255]));
  m.set("bool", tensor("BOOL", [3], [1, 0, 1]));
  return m;
}

/** torch.save (torch 1.13) of the state dict described in VIEWS below, zip format. */
const VIEWS_ZIP_B64 = [
  "UEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAQABIAYXJjaGl2ZS9kYXRhLnBrbEZCDgBaWlpaWlpaWlpaWlpaWoACY2NvbGxlY3Rp",
  "b25zCk9yZGVyZWREaWN0CnEAKVJxAShYAQAAAGFxAmN0b3JjaC5fdXRpbHMKX3JlYnVpbGRfdGVuc29yX3YyCnEDKChYBwAAAHN0",
  "b3JhZ2VxBGN0b3JjaApGbG9hdFN0b3JhZ2UKcQVYAQAAADBxBlgDAAAAY3B1cQdLDHRxCFFLAEsDSwSGcQlLBEsBhnEKiWgAKVJx",
  "C3RxDFJxDVgDAAAAYV90cQ5oAygoaARoBWgGaAdLDHRxD1FLAEsESwOGcRBLAUsEhnERiWgAKVJxEnRxE1JxFFgEAAAAcm93MXEV",
  "aAMoKGgEaAVoBmgHSwx0cRZRSwRLBIVxF0sBhXEYiWgAKVJxGXRxGlJxG1gEAAAAY29sMnEcaAMoKGgEaAVoBmgHSwx0cR1RSwJL",
  "A4VxHksEhXEfiWgAKVJxIHRxIVJxIlgLAAAAZXZlcnlfb3RoZXJxI2gDKChoBGgFaAZoB0sMdHEkUUsBSwJLAoZxJUsISwKGcSaJ",
  "aAApUnEndHEoUnEpWAQAAABoYWxmcSpoAygoaARjdG9yY2gKSGFsZlN0b3JhZ2UKcStYAQAAADFxLGgHSwN0cS1RSwBLA4VxLksB",
  "hXEviWgAKVJxMHRxMVJxMlgEAAAAYmYxNnEzaAMoKGgEY3RvcmNoCkJGbG9hdDE2U3RvcmFnZQpxNFgBAAAAMnE1aAdLAnRxNlFL",
  "AEsChXE3SwGFcTiJaAApUnE5dHE6UnE7WAQAAABsb25ncTxoAygoaARjdG9yY2gKTG9uZ1N0b3JhZ2UKcT1YAQAAADNxPmgHSwN0",
  "cT9RSwBLA4VxQEsBhXFBiWgAKVJxQnRxQ1JxRFgDAAAAaW50cUVoAygoaARjdG9yY2gKSW50U3RvcmFnZQpxRlgBAAAANHFHaAdL",
  "AnRxSFFLAEsBSwKGcUlLAksBhnFKiWgAKVJxS3RxTFJxTVgGAAAAZG91YmxlcU5oAygoaARjdG9yY2gKRG91YmxlU3RvcmFnZQpx",
  "T1gBAAAANXFQaAdLAXRxUVFLAEsBhXFSSwGFcVOJaAApUnFUdHFVUnFWWAQAAABib29scVdoAygoaARjdG9yY2gKQm9vbFN0b3Jh",
  "Z2UKcVhYAQAAADZxWWgHSwN0cVpRSwBLA4VxW0sBhXFciWgAKVJxXXRxXlJxX1gGAAAAc2NhbGFycWBoAygoaARoBVgBAAAAN3Fh",
  "aAdLAXRxYlFLACkpiWgAKVJxY3RxZFJxZVgFAAAAZW1wdHlxZmgDKChoBGgFWAEAAAA4cWdoB0sAdHFoUUsASwBLA4ZxaUsDSwGG",
  "cWqJaAApUnFrdHFsUnFtWAUAAABwYXJhbXFuY3RvcmNoLl91dGlscwpfcmVidWlsZF9wYXJhbWV0ZXIKcW9oAygoaARoBVgBAAAA",
  "OXFwaAdLAnRxcVFLAEsChXFySwGFcXOJaAApUnF0dHF1UnF2iGgAKVJxd4dxeFJxeVgIAAAAZXhwYW5kZWRxemgDKChoBGgFWAIA",
  "AAAxMHF7aAdLAnRxfFFLAEsDSwKGcX1LAEsBhnF+iWgAKVJxf3RxgFJxgXUuUEsHCEcHUmSdBAAAnQQAAFBLAwQAAAgIAAAAAAAA",
  "AAAAAAAAAAAAAAAADgAnAGFyY2hpdmUvZGF0YS8wRkIjAFpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaAAAAAAAA",
  "gD8AAABAAABAQAAAgEAAAKBAAADAQAAA4EAAAABBAAAQQQAAIEEAADBBUEsHCHh9Zj4wAAAAMAAAAFBLAwQAAAgIAAAAAAAAAAAA",
  "AAAAAAAAAAAADgAUAGFyY2hpdmUvZGF0YS8xRkIQAFpaWlpaWlpaWlpaWlpaWloAPgDA/3tQSwcIwmSPagYAAAAGAAAAUEsDBAAA",
  "CAgAAAAAAAAAAAAAAAAAAAAAAAAPAD0AYXJjaGl2ZS9kYXRhLzEwRkI5AFpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa",
  "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWgAAgD8AAABAUEsHCHalPy4IAAAACAAAAFBLAwQAAAgIAAAAAAAAAAAAAAAAAAAAAAAA",
  "DgA8AGFyY2hpdmUvZGF0YS8yRkI4AFpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa",
  "WlpagD9gwFBLBwidYrMdBAAAAAQAAABQSwMEAAAICAAAAAAAAAAAAAAAAAAAAAAAAA4AQABhcmNoaXZlL2RhdGEvM0ZCPABaWlpa",
  "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlr//////////wAAAAAAAQAAAwAA",
  "AAAAAABQSwcIrkPUQBgAAAAYAAAAUEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAOACwAYXJjaGl2ZS9kYXRhLzRGQigAWlpaWlpa",
  "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWgcAAAD4////UEsHCCrOiywIAAAACAAAAFBLAwQAAAgIAAAAAAAAAAAA",
  "AAAAAAAAAAAADgA8AGFyY2hpdmUvZGF0YS81RkI4AFpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa",
  "WlpaWlpaWlpaWlpampmZmZmZuT9QSwcIyFOm9ggAAAAIAAAAUEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAOADwAYXJjaGl2ZS9k",
  "YXRhLzZGQjgAWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWloBAAFQSwcIs4OE",
  "iQMAAAADAAAAUEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAOAEEAYXJjaGl2ZS9kYXRhLzdGQj0AWlpaWlpaWlpaWlpaWlpaWlpa",
  "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWgAAiEBQSwcIz4zCpAQAAAAEAAAAUEsDBAAAAAgAAAAA",
  "AAAAAAAAAAAAAAAAAAAOAEAAYXJjaGl2ZS9kYXRhLzhGQjwAWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa",
  "WlpaWlpaWlpaWlpaWlpaWlpaWlpaUEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAOABQAYXJjaGl2ZS9kYXRhLzlGQhAAWlpaWlpa",
  "WlpaWlpaWlpaWgAAEEEAACBBUEsHCK/5OJcIAAAACAAAAFBLAwQAAAgIAAAAAAAAAAAAAAAAAAAAAAAADwA7AGFyY2hpdmUvdmVy",
  "c2lvbkZCNwBaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaMwpQSwcI0Z5nVQIA",
  "AAACAAAAUEsBAgAAAAAICAAAAAAAAEcHUmSdBAAAnQQAABAAAAAAAAAAAAAAAAAAAAAAAGFyY2hpdmUvZGF0YS5wa2xQSwECAAAA",
  "AAgIAAAAAAAAeH1mPjAAAAAwAAAADgAAAAAAAAAAAAAAAADtBAAAYXJjaGl2ZS9kYXRhLzBQSwECAAAAAAgIAAAAAAAAwmSPagYA",
  "AAAGAAAADgAAAAAAAAAAAAAAAACABQAAYXJjaGl2ZS9kYXRhLzFQSwECAAAAAAgIAAAAAAAAdqU/LggAAAAIAAAADwAAAAAAAAAA",
  "AAAAAADWBQAAYXJjaGl2ZS9kYXRhLzEwUEsBAgAAAAAICAAAAAAAAJ1isx0EAAAABAAAAA4AAAAAAAAAAAAAAAAAWAYAAGFyY2hp",
  "dmUvZGF0YS8yUEsBAgAAAAAICAAAAAAAAK5D1EAYAAAAGAAAAA4AAAAAAAAAAAAAAAAA1AYAAGFyY2hpdmUvZGF0YS8zUEsBAgAA",
  "AAAICAAAAAAAACrOiywIAAAACAAAAA4AAAAAAAAAAAAAAAAAaAcAAGFyY2hpdmUvZGF0YS80UEsBAgAAAAAICAAAAAAAAMhTpvYI",
  "AAAACAAAAA4AAAAAAAAAAAAAAAAA2AcAAGFyY2hpdmUvZGF0YS81UEsBAgAAAAAICAAAAAAAALODhIkDAAAAAwAAAA4AAAAAAAAA",
  "AAAAAAAAWAgAAGFyY2hpdmUvZGF0YS82UEsBAgAAAAAICAAAAAAAAM+MwqQEAAAABAAAAA4AAAAAAAAAAAAAAAAA0wgAAGFyY2hp",
  "dmUvZGF0YS83UEsBAgAAAAAACAAAAAAAAAAAAAAAAAAAAAAAAA4AAAAAAAAAAAAAAAAAVAkAAGFyY2hpdmUvZGF0YS84UEsBAgAA",
  "AAAICAAAAAAAAK/5OJcIAAAACAAAAA4AAAAAAAAAAAAAAAAAwAkAAGFyY2hpdmUvZGF0YS85UEsBAgAAAAAICAAAAAAAANGeZ1UC",
  "AAAAAgAAAA8AAAAAAAAAAAAAAAAAGAoAAGFyY2hpdmUvdmVyc2lvblBLBgYsAAAAAAAAAB4DLQAAAAAAAAAAAA0AAAAAAAAADQAA",
  "AAAAAAAQAwAAAAAAAJIKAAAAAAAAUEsGBwAAAACiDQAAAAAAAAEAAABQSwUGAAAAAA0ADQAQAwAAkgoAAAAA",
].join("");

/** The same state dict saved with _use_new_zipfile_serialization=False (legacy format). */
const VIEWS_LEGACY_B64 = [
  "gAKKCmz8nEb5IGqoUBkugAJN6QMugAJ9cQAoWBAAAABwcm90b2NvbF92ZXJzaW9ucQFN6QNYDQAAAGxpdHRsZV9lbmRpYW5xAohY",
  "CgAAAHR5cGVfc2l6ZXNxA31xBChYBQAAAHNob3J0cQVLAlgDAAAAaW50cQZLBFgEAAAAbG9uZ3EHSwR1dS6AAmNjb2xsZWN0aW9u",
  "cwpPcmRlcmVkRGljdApxAClScQEoWAEAAABhcQJjdG9yY2guX3V0aWxzCl9yZWJ1aWxkX3RlbnNvcl92MgpxAygoWAcAAABzdG9y",
  "YWdlcQRjdG9yY2gKRmxvYXRTdG9yYWdlCnEFWAkAAAA4Mzc5Njg1MjhxBlgDAAAAY3B1cQdLDE50cQhRSwBLA0sEhnEJSwRLAYZx",
  "ColoAClScQt0cQxScQ1YAwAAAGFfdHEOaAMoKGgEaAVYCQAAADgzNzk2ODUyOHEPaAdLDE50cRBRSwBLBEsDhnERSwFLBIZxEolo",
  "AClScRN0cRRScRVYBAAAAHJvdzFxFmgDKChoBGgFWAkAAAA4Mzc5Njg1MjhxF2gHSwxOdHEYUUsESwSFcRlLAYVxGoloAClScRt0",
  "cRxScR1YBAAAAGNvbDJxHmgDKChoBGgFWAkAAAA4Mzc5Njg1MjhxH2gHSwxOdHEgUUsCSwOFcSFLBIVxIoloAClScSN0cSRScSVY",
  "CwAAAGV2ZXJ5X290aGVycSZoAygoaARoBVgJAAAAODM3OTY4NTI4cSdoB0sMTnRxKFFLAUsCSwKGcSlLCEsChnEqiWgAKVJxK3Rx",
  "LFJxLVgEAAAAaGFsZnEuaAMoKGgEY3RvcmNoCkhhbGZTdG9yYWdlCnEvWAkAAAA4Mzc5Nzc2NDhxMGgHSwNOdHExUUsASwOFcTJL",
  "AYVxM4loAClScTR0cTVScTZYBAAAAGJmMTZxN2gDKChoBGN0b3JjaApCRmxvYXQxNlN0b3JhZ2UKcThYCQAAADgzNzk3Nzc0NHE5",
  "aAdLAk50cTpRSwBLAoVxO0sBhXE8iWgAKVJxPXRxPlJxP1gEAAAAbG9uZ3FAaAMoKGgEY3RvcmNoCkxvbmdTdG9yYWdlCnFBWAkA",
  "AAA4Mzc5NjY4MzJxQmgHSwNOdHFDUUsASwOFcURLAYVxRYloAClScUZ0cUdScUhYAwAAAGludHFJaAMoKGgEY3RvcmNoCkludFN0",
  "b3JhZ2UKcUpYCQAAADc3NjE4MDQ0OHFLaAdLAk50cUxRSwBLAUsChnFNSwJLAYZxToloAClScU90cVBScVFYBgAAAGRvdWJsZXFS",
  "aAMoKGgEY3RvcmNoCkRvdWJsZVN0b3JhZ2UKcVNYCQAAADc3NjE4MTEwNHFUaAdLAU50cVVRSwBLAYVxVksBhXFXiWgAKVJxWHRx",
  "WVJxWlgEAAAAYm9vbHFbaAMoKGgEY3RvcmNoCkJvb2xTdG9yYWdlCnFcWAkAAAA3NzYxODE3NjBxXWgHSwNOdHFeUUsASwOFcV9L",
  "AYVxYIloAClScWF0cWJScWNYBgAAAHNjYWxhcnFkaAMoKGgEaAVYCQAAADc3NjE4MjQ2NHFlaAdLAU50cWZRSwApKYloAClScWd0",
  "cWhScWlYBQAAAGVtcHR5cWpoAygoaARoBVgJAAAAODM3OTY3MTM2cWtoB0sATnRxbFFLAEsASwOGcW1LA0sBhnFuiWgAKVJxb3Rx",
  "cFJxcVgFAAAAcGFyYW1xcmN0b3JjaC5fdXRpbHMKX3JlYnVpbGRfcGFyYW1ldGVyCnFzaAMoKGgEaAVYCQAAADg0Mjc2ODkyOHF0",
  "aAdLAk50cXVRSwBLAoVxdksBhXF3iWgAKVJxeHRxeVJxeohoAClScXuHcXxScX1YCAAAAGV4cGFuZGVkcX5oAygoaARoBVgJAAAA",
  "ODQyNzcyMzg0cX9oB0sCTnRxgFFLAEsDSwKGcYFLAEsBhnGCiWgAKVJxg3RxhFJxhXUugAJdcQAoWAkAAAA3NzYxODA0NDhxAVgJ",
  "AAAANzc2MTgxMTA0cQJYCQAAADc3NjE4MTc2MHEDWAkAAAA3NzYxODI0NjRxBFgJAAAAODM3OTY2ODMycQVYCQAAADgzNzk2NzEz",
  "NnEGWAkAAAA4Mzc5Njg1MjhxB1gJAAAAODM3OTc3NjQ4cQhYCQAAADgzNzk3Nzc0NHEJWAkAAAA4NDI3Njg5MjhxClgJAAAAODQy",
  "NzcyMzg0cQtlLgIAAAAAAAAABwAAAPj///8BAAAAAAAAAJqZmZmZmbk/AwAAAAAAAAABAAEBAAAAAAAAAAAAiEADAAAAAAAAAP//",
  "////////AAAAAAABAAADAAAAAAAAAAAAAAAAAAAADAAAAAAAAAAAAAAAAACAPwAAAEAAAEBAAACAQAAAoEAAAMBAAADgQAAAAEEA",
  "ABBBAAAgQQAAMEEDAAAAAAAAAAA+AMD/ewIAAAAAAAAAgD9gwAIAAAAAAAAAAAAQQQAAIEECAAAAAAAAAAAAgD8AAABA",
].join("");

/** What VIEWS_*_B64 hold (torch: a = arange(12).float().reshape(3, 4), views of it share its storage). */
const VIEWS: [string, DType, number[], number[] | bigint[]][] = [
  ["a", "F32", [3, 4], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
  ["a_t", "F32", [4, 3], [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]], // a.t(): strides (1, 4)
  ["row1", "F32", [4], [4, 5, 6, 7]], // a[1]: storage offset 4
  ["col2", "F32", [3], [2, 6, 10]], // a[:, 2]: offset 2, stride 4
  ["every_other", "F32", [2, 2], [1, 3, 9, 11]], // a[::2, 1::2]
  ["half", "F16", [3], [1.5, -2, 65504]],
  ["bf16", "BF16", [2], [1, -3.5]],
  ["long", "I64", [3], [-1n, 1n << 40n, 3n]],
  ["int", "I32", [1, 2], [7, -8]],
  ["double", "F64", [1], [0.1]],
  ["bool", "BOOL", [3], [1, 0, 1]],
  ["scalar", "F32", [], [4.25]],
  ["empty", "F32", [0, 3], []],
  ["param", "F32", [2], [9, 10]], // an nn.Parameter: torch._utils._rebuild_parameter
  ["expanded", "F32", [3, 2], [1, 2, 1, 2, 1, 2]], // expand(3, 2): stride (0, 1)
];

function checkViews(m: Map<string, TensorData>): void {
  assert.deepEqual([...m.keys()], VIEWS.map((v) => v[0]));
  for (const [name, dtype, shape, values] of VIEWS) {
    const t = m.get(name) as TensorData;
    assert.equal(t.dtype, dtype, name);
    assert.deepEqual(t.shape, shape, name);
    if (dtype === "I64") {
      assert.deepEqual([...new BigInt64Array(new Uint8Array(t.bytes).buffer)], values, name);
    } else if (dtype === "F64") {
      assert.deepEqual([...new Float64Array(new Uint8Array(t.bytes).buffer)], values, name);
    } else {
      assert.deepEqual([...toFloat32(t)], values, name);
    }
  }
}

test("torch-written zip file: views, strides, offsets, shared storages and every dtype", () => {
  checkViews(readPytorchBin(Buffer.from(VIEWS_ZIP_B64, "base64")));
});

test("torch-written legacy file: views, strides, offsets, shared storages and every dtype", () => {
  checkViews(readPytorchBin(Buffer.from(VIEWS_LEGACY_B64, "base64")));
});

test("fixtures: weights-zip.bin, weights-legacy.bin and weights.safetensors hold identical tensors", { skip: fixturesMissing }, () => {
  const st = readSafetensors(join(FIXTURES, "weights.safetensors")).tensors;
  const zip = readPytorchBin(join(FIXTURES, "weights-zip.bin"));
  const legacy = readPytorchBin(join(FIXTURES, "weights-legacy.bin"));
  assert.equal(st.size, 43);
  assertSameTensors(st, zip);
  assertSameTensors(st, legacy);
  // torch's order (the model's parameter order) is kept
  assert.deepEqual([...zip.keys()], [...legacy.keys()]);
  assert.equal([...zip.keys()][0], "electra.embeddings.word_embeddings.weight");
});

test("round trip safetensors → .bin (zip) → safetensors is bit-identical", { skip: fixturesMissing }, () => {
  const dir = tmp();
  try {
    const original = readFileSync(join(FIXTURES, "weights.safetensors"));
    const st = parseSafetensors(original).tensors;
    writePytorchZip(st, join(dir, "w.bin"));
    const back = readPytorchBin(join(dir, "w.bin"));
    assertSameTensors(st, back);
    assert.ok(Buffer.from(serializeSafetensors(back)).equals(Buffer.from(serializeSafetensors(st))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("writers: zip, forced-zip64 zip and legacy files round-trip every dtype", () => {
  const m = sampleTensors();
  const dir = tmp();
  try {
    writePytorchZip(m, join(dir, "a.bin"));
    writePytorchLegacy(m, join(dir, "b.bin"));
    assertSameTensors(m, readPytorchBin(join(dir, "a.bin")));
    assertSameTensors(m, readPytorchBin(join(dir, "b.bin")));
    assertSameTensors(m, readPytorchBin(serializePytorchZip(m, { zip64: true })));
    assertSameTensors(m, readPytorchBin(serializePytorchLegacy(m)));
    assert.deepEqual([...readPytorchBin(join(dir, "a.bin")).keys()], [...m.keys()], "order kept");
    assert.ok(!existsSync(join(dir, `a.bin.tmp-${process.pid}`)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("zip writer lays out torch's archive: names, version, byteorder, 64-byte aligned stored data", () => {
  const m = sampleTensors();
  for (const zip64 of [false, true]) {
    const buf = Buffer.from(serializePytorchZip(m, { zip64 }));
    const names: string[] = [];
    let p = 0;
    while (buf.readUInt32LE(p) === 0x04034b50) {
      const n = buf.readUInt16LE(p + 26);
      const extra = buf.readUInt16LE(p + 28);
      const name = buf.toString("utf8", p + 30, p + 30 + n);
      const start = p + 30 + n + extra;
      let size = buf.readUInt32LE(p + 18);
      if (size === 0xffffffff) size = Number(buf.readBigUInt64LE(p + 30 + n + 4));
      assert.equal(buf.readUInt16LE(p + 8), 0, "stored");
      if (name.startsWith("archive/data/")) assert.equal(start % 64, 0, `${name} aligned`);
      if (name === "archive/version") assert.equal(buf.toString("latin1", start, start + size), "3\n");
      if (name === "archive/byteorder") assert.equal(buf.toString("latin1", start, start + size), "little");
      names.push(name);
      p = start + size;
    }
    assert.deepEqual(names, ["archive/data.pkl", "archive/byteorder", ...[...m.keys()].map((_, i) => `archive/data/${i}`), "archive/version"]);
  }
});

test("nested containers name tensors by path; non-tensor values are ignored", () => {
  // {"model": {"w": tensor}, "step": 7} written by hand: PROTO 2, dict, nested dict, one tensor
  const pkl = pickle(
    [0x80, 2, 0x7d, 0x28],
    ustr("model"), [0x7d, 0x28], ustr("w"), rebuild("FloatStorage", "0", 2, 0, [2], [1]), [0x75],
    ustr("step"), [0x4b, 7], [0x75, 0x2e],
  );
  const zip = buildZip([
    { name: "ckpt/data.pkl", data: pkl },
    { name: "ckpt/data/0", data: new Uint8Array(Float32Array.from([1, 2]).buffer) },
  ]);
  const m = readPytorchBin(zip);
  assert.deepEqual([...m.keys()], ["model.w"]);
  assert.deepEqual([...toFloat32(m.get("model.w") as TensorData)], [1, 2]);
});

// ─── hand-made pickles ───

function pickle(...parts: (number[] | Uint8Array)[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}
function ustr(s: string): number[] {
  const b = Buffer.from(s, "utf8");
  return [0x58, b.length & 0xff, (b.length >> 8) & 0xff, 0, 0, ...b];
}
function glob(module: string, name: string): number[] {
  return [0x63, ...Buffer.from(`${module}\n${name}\n`, "latin1")];
}
function int(n: number): number[] {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return [0x4a, ...b];
}
function tuple(xs: number[]): number[] {
  return [0x28, ...xs.flatMap(int), 0x74];
}
/** _rebuild_tensor_v2(('storage', torch.TYPE, key, 'cpu', numel), offset, size, stride, False, OrderedDict()) */
function rebuild(type: string, key: string, numel: number, offset: number, size: number[], stride: number[]): number[] {
  return [
    ...glob("torch._utils", "_rebuild_tensor_v2"), 0x28,
    0x28, ...ustr("storage"), ...glob("torch", type), ...ustr(key), ...ustr("cpu"), ...int(numel), 0x74, 0x51,
    ...int(offset), ...tuple(size), ...tuple(stride), 0x89, ...glob("collections", "OrderedDict"), 0x29, 0x52,
    0x74, 0x52,
  ];
}
function stateZip(entries: [string, number[]][], records: [string, Uint8Array][]): Uint8Array {
  const pkl = pickle([0x80, 2], glob("collections", "OrderedDict"), [0x29, 0x52, 0x28], ...entries.flatMap(([k, r]) => [ustr(k), r]), [0x75, 0x2e]);
  return buildZip([{ name: "archive/data.pkl", data: pkl }, ...records.map(([name, data]) => ({ name: `archive/data/${name}`, data }))]);
}
const FOUR = new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer);

function rejects(buf: Uint8Array, pattern: RegExp): void {
  assert.throws(() => readPytorchBin(buf, "test.bin"), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `a CheckpointError, got ${String(e)}`);
    assert.match(e.message, /^test\.bin: /);
    assert.match(e.message, pattern);
    return true;
  });
}

test("a pickle asking for os.system or builtins.eval is refused by name", () => {
  // os.system("echo pwned") the classic way: GLOBAL + REDUCE
  const evil = pickle([0x80, 2], glob("os", "system"), ustr("echo pwned"), [0x85, 0x52, 0x2e]);
  rejects(buildZip([{ name: "archive/data.pkl", data: evil }]), /pickle asks for global os\.system, which is not allowed/);
  // builtins.eval through STACK_GLOBAL (protocol 4 style), with __builtin__ spelled the Python 2 way
  const evil2 = pickle([0x80, 4], [0x8c, 11, ...Buffer.from("__builtin__"), 0x8c, 4, ...Buffer.from("eval"), 0x93], ustr("1+1"), [0x85, 0x52, 0x2e]);
  rejects(buildZip([{ name: "archive/data.pkl", data: evil2 }]), /pickle asks for global builtins\.eval, which is not allowed/);
  // hidden inside an otherwise valid state dict, in the legacy format
  const legacy = Buffer.from(serializePytorchLegacy(new Map([["w", f32([1], [1])]])));
  const i = legacy.indexOf(Buffer.from("collections\nOrderedDict\n"), 100);
  const patched = Buffer.concat([legacy.subarray(0, i), Buffer.from("posix\nsystem\n"), legacy.subarray(i + "collections\nOrderedDict\n".length)]);
  rejects(patched, /pickle asks for global posix\.system, which is not allowed/);
  // a torch storage type may not be called
  rejects(buildZip([{ name: "archive/data.pkl", data: pickle([0x80, 2], glob("torch", "FloatStorage"), [0x29, 0x52, 0x2e]) }]), /cannot be called/);
});

test("damaged views and storages give clear errors", () => {
  // offset + extent past the storage
  rejects(stateZip([["w", rebuild("FloatStorage", "0", 4, 2, [3], [1])]], [["0", FOUR]]), /tensor w: view .* reaches element 4 of a 4-element storage/);
  rejects(stateZip([["w", rebuild("FloatStorage", "0", 4, 0, [2, 2], [3, 1])]], [["0", FOUR]]), /reaches element 4/);
  // record smaller than the storage's element count
  rejects(stateZip([["w", rebuild("FloatStorage", "0", 5, 0, [5], [1])]], [["0", FOUR]]), /holds 16 bytes, storage 0 needs 20/);
  // missing record
  rejects(stateZip([["w", rebuild("FloatStorage", "0", 4, 0, [4], [1])]], []), /storage 0 has no record archive\/data\/0/);
  // size and stride disagree
  rejects(stateZip([["w", rebuild("FloatStorage", "0", 4, 0, [4], [1, 1])]], [["0", FOUR]]), /different lengths/);
  // one storage used with two dtypes
  rejects(
    stateZip([["a", rebuild("FloatStorage", "0", 4, 0, [4], [1])], ["b", rebuild("IntStorage", "0", 4, 0, [4], [1])]], [["0", FOUR]]),
    /storage 0 is used as both F32 and I32/,
  );
  // a valid shared storage for contrast
  const ok = readPytorchBin(stateZip([["a", rebuild("FloatStorage", "0", 4, 0, [2], [1])], ["b", rebuild("FloatStorage", "0", 4, 2, [2], [1])]], [["0", FOUR]]));
  assert.deepEqual([...toFloat32(ok.get("b") as TensorData)], [3, 4]);
});

test("stride-0 views: one is materialised once under many names, and all of a file's copies share one budget", () => {
  // a 16M-element broadcast of one float (64 MiB, the budget of a small file), memoised and named 60 times
  const bcast = [...rebuild("FloatStorage", "0", 1, 0, [16 << 20], [0]), 0x71, 1]; // BINPUT 1
  const one = new Uint8Array(Float32Array.from([2.5]).buffer);
  const named = (n: number): [string, number[]][] => Array.from({ length: n }, (_, i) => [`t${i}`, i === 0 ? bcast : [0x68, 1]]); // BINGET 1
  const m = readPytorchBin(stateZip(named(60), [["0", one]]), "test.bin");
  assert.equal(m.size, 60);
  assert.equal(m.get("t0")?.bytes, m.get("t59")?.bytes, "the same bytes, not 60 copies");
  assert.deepEqual(m.get("t59")?.shape, [16 << 20]);
  // two distinct broadcasts of 64 MiB each: the second is past the file's budget
  const two: [string, number[]][] = [["a", rebuild("FloatStorage", "0", 1, 0, [16 << 20], [0])], ["b", rebuild("FloatStorage", "0", 1, 0, [16 << 20], [0])]];
  rejects(stateZip(two, [["0", one]]), /tensor b: view of size \[16777216\] would expand to 67108864 bytes, more than this file can hold/);
});

test("damaged zip and legacy files give clear errors", () => {
  const m = sampleTensors();
  const zip = Buffer.from(serializePytorchZip(m));
  rejects(zip.subarray(0, zip.length - 30), /end-of-central-directory|truncated/);
  rejects(zip.subarray(0, 1000), /end-of-central-directory|truncated/);
  const crc = Buffer.from(zip);
  const hdr = crc.indexOf(Buffer.from("archive/data/0")) - 30;
  assert.equal(crc.readUInt32LE(hdr), 0x04034b50);
  crc[hdr + 30 + 14 + crc.readUInt16LE(hdr + 28)] ^= 0x01; // the first byte of the first storage's data
  rejects(crc, /CRC-32 mismatch/);
  rejects(buildZip([{ name: "other/thing.txt", data: new Uint8Array(3) }]), /no ARCHIVE\/data\.pkl/);
  rejects(Buffer.from("hello world, not a checkpoint"), /not a PyTorch checkpoint/);
  rejects(new Uint8Array(0), /not a PyTorch checkpoint/);

  const legacy = Buffer.from(serializePytorchLegacy(m));
  const wrongMagic = Buffer.from(legacy);
  wrongMagic[6] ^= 0xff;
  rejects(wrongMagic, /wrong magic number/);
  rejects(legacy.subarray(0, legacy.length - 3), /truncated/);
  rejects(legacy.subarray(0, 200), /truncated/);
  rejects(Buffer.concat([legacy, Buffer.from([0])]), /1 bytes after the last storage/);
  const badCount = Buffer.from(legacy);
  // the first storage's element count follows the key list pickle: find it by its known value (6 for "w")
  const first = badCount.indexOf(Buffer.from([0x65, 0x2e])) + 2;
  assert.equal(badCount.readBigInt64LE(first), 6n);
  badCount.writeBigInt64LE(7n, first);
  rejects(badCount, /storage 0 has 7 elements in the file, its id says 6/);
});

test("legacy storage views (view_metadata of very old files) resolve into their root storage", () => {
  const sys = pickle([0x80, 2, 0x7d, 0x28], ustr("protocol_version"), int(1001), ustr("little_endian"), [0x88], ustr("type_sizes"), [0x7d, 0x75, 0x2e]);
  // ('storage', torch.FloatStorage, 'r', 'cpu', 4, ('v', 1, 2)): storage v is elements [1, 3) of r
  const pid = [0x28, ...ustr("storage"), ...glob("torch", "FloatStorage"), ...ustr("r"), ...ustr("cpu"), ...int(4), 0x28, ...ustr("v"), ...int(1), ...int(2), 0x74, 0x74, 0x51];
  const main = pickle(
    [0x80, 2, 0x7d, 0x28], ustr("x"),
    glob("torch._utils", "_rebuild_tensor"), [0x28], pid, int(1), tuple([1]), tuple([1]), [0x74, 0x52],
    [0x75, 0x2e],
  );
  const keys = pickle([0x80, 2, 0x5d, 0x28], ustr("r"), [0x65, 0x2e]);
  const count = Buffer.alloc(8);
  count.writeBigInt64LE(4n);
  const file = Buffer.concat([Buffer.from(serializePytorchLegacy(new Map())).subarray(0, 21), sys, main, keys, count, FOUR]);
  const m = readPytorchBin(file);
  assert.deepEqual([...toFloat32(m.get("x") as TensorData)], [3]);
});
