/**
 * The int8 kernels (native/int8.cc) against the naive twin and a direct sum: exact int32 sums on odd shapes, at
 * every instruction-set level the CPU has (a child process per level, ELECTRA_ISA), vpmaddubsw's saturation case,
 * the linear layer's floats bit for bit (its fused GELU: the bits of bias_gelu_forward), the same bits run to run
 * and for 1 or 2 threads; and the per-channel
 * weight quantization (src/io/quantized.ts) it runs on.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { native } from "../../src/core/native.js";
import * as ops from "../../src/core/ops.js";
import { Rng } from "../../src/core/rng.js";
import { dequantizeWeight, quantizeTensors, quantizeWeight, splitQuantized } from "../../src/io/quantized.js";
import { parseSafetensors, serializeSafetensors } from "../../src/io/safetensors.js";
import { fromFloat32 } from "../../src/io/tensor-data.js";
import { cpuHas, isaLevels } from "../helpers/isa.js";


/**
 * Run in a child process at one level: for each shape, int8_gemm (fast, naive) against a direct sum in JS;
 * the saturation case (every product +-127 * +-127 of one sign, and -128 activations); int8_linear_forward
 * fast against naive, twice, and on 1 and 2 threads. Prints one JSON line.
 */
const PROBE = `
  import { addon } from "./dist/src/core/native.js";
  const a = addon();
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const pack = (w, OC, IC) => {
    const packed = new Int8Array(Math.ceil(OC / 16) * Math.ceil(IC / 4) * 64), wsum = new Int32Array(OC);
    a.int8_pack_weights(packed, wsum, w, OC, IC);
    return [packed, wsum];
  };
  const gemm = (x, packed, wsum, N, IC, OC) => { const out = new Int32Array(N * OC); a.int8_gemm(out, x, packed, wsum, N, IC, OC); return out; };
  const naive = (f) => { a.use_naive(true); try { return f(); } finally { a.use_naive(false); } };
  const same = (p, q) => p.length === q.length && p.every((v, i) => Object.is(v, q[i]));
  const report = { kernel: a.int8_kernel(), isa: a.isa(), gemm: [], saturation: null, linear: [] };
  for (const [N, IC, OC] of [[1, 1, 1], [7, 13, 17], [37, 250, 70], [53, 256, 768], [13, 1027, 33], [100, 3, 16]]) {
    const w = Int8Array.from({ length: OC * IC }, () => Math.floor(rnd() * 255) - 127);
    const x = Int8Array.from({ length: N * IC }, () => Math.floor(rnd() * 256) - 128);
    const [packed, wsum] = pack(w, OC, IC);
    const direct = new Int32Array(N * OC);
    for (let n = 0; n < N; n++) for (let o = 0; o < OC; o++) {
      let acc = 0;
      for (let k = 0; k < IC; k++) acc += x[n * IC + k] * w[o * IC + k];
      direct[n * OC + o] = acc;
    }
    report.gemm.push({ N, IC, OC, fast: same(gemm(x, packed, wsum, N, IC, OC), direct), naive: same(naive(() => gemm(x, packed, wsum, N, IC, OC)), direct) });
    const inp = Float32Array.from({ length: N * IC }, () => (rnd() * 2 - 1) * 3), scale = Float32Array.from({ length: OC }, () => rnd() * 0.01);
    const bias = Float32Array.from({ length: OC }, () => rnd() - 0.5);
    const linear = (b, gelu = false) => { const out = new Float32Array(N * OC); a.int8_linear_forward(out, inp, packed, wsum, scale, b, N, IC, OC, gelu); return out; };
    const f = linear(bias);
    a.set_threads(1); const one = linear(bias); a.set_threads(2); const two = linear(bias);
    // GELU fused: the bits of bias_gelu_forward on the layer's output; close to the naive twin's (libm erf)
    const g = linear(bias, true), unfused = new Float32Array(N * OC);
    a.bias_gelu_forward(unfused, f.slice(), null, N, OC);
    const gn = naive(() => linear(bias, true));
    const geluErr = Math.max(...Array.from(g, (v, i) => Math.abs(v - gn[i])));
    report.linear.push({ N, IC, OC, naive: same(f, naive(() => linear(bias))), noBias: same(linear(null), naive(() => linear(null))), again: same(f, linear(bias)),
      threads: same(one, two) && same(one, f), gelu: same(g, unfused) && geluErr < 2e-6 });
  }
  // vpmaddubsw saturates int16 pair sums above 32767: an activation + 128 as u8 (255) times 127, twice, would be
  // 64770. Here each product is 127 * 127 or 128 * 127 with one sign, so every pair sum is 32258 or 32385.
  const N = 5, IC = 64, OC = 32;
  const xk = (k) => (k % 4 === 0 ? -128 : k % 4 === 1 ? -127 : 127);
  const x = Int8Array.from({ length: N * IC }, (_, i) => xk(i % IC));
  const w = Int8Array.from({ length: OC * IC }, (_, i) => (xk(i % IC) < 0 ? -127 : 127));
  const [packed, wsum] = pack(w, OC, IC);
  const want = new Int32Array(N * OC);
  for (let n = 0; n < N; n++) for (let o = 0; o < OC; o++) { let acc = 0; for (let k = 0; k < IC; k++) acc += x[n * IC + k] * w[o * IC + k]; want[n * OC + o] = acc; }
  report.saturation = { fast: same(gemm(x, packed, wsum, N, IC, OC), want), pairs: want[0] / (IC / 2) };
  console.log(JSON.stringify(report));`;

function probe(level: string | null) {
  const env: NodeJS.ProcessEnv = { ...process.env, ELECTRA_THREADS: "2" };
  if (level) env.ELECTRA_ISA = level;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", PROBE], { cwd: process.cwd(), encoding: "utf8", env });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as {
    kernel: string; isa: string; gemm: { N: number; fast: boolean; naive: boolean }[]; saturation: { fast: boolean; pairs: number };
    linear: { N: number; naive: boolean; noBias: boolean; again: boolean; threads: boolean; gelu: boolean }[];
  };
}

test("int8 GEMM at every level the CPU has: exact int32 sums (= naive = a direct sum), no saturation, the linear layer's floats bit for bit", () => {
  // each level's int8 kernel: avx512's is VNNI's where the CPU has it, else the AVX2 one
  const kernelOf: Record<string, string> = { "sse4.2": "scalar", avx2: "avx2", avx512: cpuHas("avx512_vnni") ? "vnni" : "avx2" };
  const levels = isaLevels().map((level): [string, string] => [level, kernelOf[level]]);
  for (const [level, kernel] of levels) {
    const r = probe(level);
    assert.equal(r.isa, level);
    assert.equal(r.kernel, kernel, `${level}: int8 kernel ${r.kernel}`);
    for (const g of r.gemm) assert.ok(g.fast && g.naive, `${level} ${kernel}: gemm ${JSON.stringify(g)}`);
    for (const l of r.linear) assert.ok(l.naive && l.noBias && l.again && l.threads && l.gelu, `${level} ${kernel}: linear ${JSON.stringify(l)}`);
    assert.ok(r.saturation.fast, `${level} ${kernel}: the saturation case`);
    assert.equal(r.saturation.pairs, (32258 + 32385) / 2, "the case puts pair sums at the int16 limit");
  }
  // this machine's best: the kernel the addon loads without ELECTRA_ISA
  assert.equal(probe(null).kernel, levels[levels.length - 1][1]);
});

test("int8 linear layer: close to float32 with the dequantized weights; zero, NaN and bad rows; shapes and -128 refused", () => {
  const rng = new Rng(3);
  const N = 9, IC = 70, OC = 23;
  const wf = Float32Array.from({ length: OC * IC }, () => rng.normal() * 0.05), bias = Float32Array.from({ length: OC }, () => rng.normal());
  const inp = Float32Array.from({ length: N * IC }, () => rng.normal());
  inp.fill(0, 0, IC); // row 0: zeros
  const q = quantizeWeight(wf, OC, IC);
  const w = ops.int8PackWeights(q.q, q.scale, OC, IC);
  const out = new Float32Array(N * OC), ref = new Float32Array(N * OC);
  ops.int8LinearForward(out, inp, w, bias, N, IC, OC);
  ops.matmulForward(ref, inp, dequantizeWeight(q), bias, N, IC, OC);
  for (let o = 0; o < OC; o++) assert.equal(out[o], bias[o], "a zero row gives the bias");
  for (let n = 1; n < N; n++) {
    let amax = 0;
    for (let k = 0; k < IC; k++) amax = Math.max(amax, Math.abs(inp[n * IC + k]));
    for (let o = 0; o < OC; o++) {
      // activation rounding: at most half a step (amax / 254) per input, times the weights' row norm
      let l1 = 0;
      for (let k = 0; k < IC; k++) l1 += Math.abs(q.q[o * IC + k] * q.scale[o]);
      const err = Math.abs(out[n * OC + o] - ref[n * OC + o]);
      assert.ok(err <= (amax / 254) * l1 + 1e-5, `[${n}, ${o}]: int8 ${out[n * OC + o]} vs float32 ${ref[n * OC + o]}`);
    }
  }
  const bad = inp.slice();
  bad[IC + 5] = NaN;
  ops.int8LinearForward(out, bad, w, bias, N, IC, OC);
  for (let o = 0; o < OC; o++) assert.ok(Number.isNaN(out[OC + o]), "a row with a NaN gives NaN");
  assert.throws(() => ops.int8LinearForward(new Float32Array(N * OC), inp, w, bias, N, IC + 1, OC), /int8_linear_forward: weights are \[23,70\]/);
  assert.throws(() => ops.int8LinearForward(new Float32Array(N * OC - 1), inp, w, bias, N, IC, OC), /out \[N,OC\] has 206 elements, expected 207/);
  assert.throws(() => native.int8_gemm(new Int32Array(N * OC), new Int8Array(N * IC), w.packed.subarray(1), w.wsum, N, IC, OC), /packed has/);
  const w128 = q.q.slice();
  w128[17] = -128;
  assert.throws(() => ops.int8PackWeights(w128, q.scale, OC, IC), /w\[17\] = -128 is outside \[-127, 127\]/);
});

test("per-channel weight quantization: each channel's largest weight is +-127, the round trip within half a step, through safetensors bit for bit", () => {
  const rng = new Rng(5);
  const OC = 6, IC = 11;
  const w = Float32Array.from({ length: OC * IC }, () => rng.normal() * 0.1);
  w.fill(0, 2 * IC, 3 * IC); // a zero channel
  const q = quantizeWeight(w, OC, IC);
  const back = dequantizeWeight(q);
  for (let o = 0; o < OC; o++) {
    const row = Array.from(q.q.subarray(o * IC, (o + 1) * IC));
    if (o === 2) {
      assert.equal(q.scale[o], 0);
      assert.ok(row.every((v) => v === 0));
      continue;
    }
    assert.equal(Math.max(...row.map(Math.abs)), 127);
    for (let k = 0; k < IC; k++) assert.ok(Math.abs(back[o * IC + k] - w[o * IC + k]) <= q.scale[o] / 2 * (1 + 1e-6), `[${o}, ${k}]`);
  }
  assert.throws(() => quantizeWeight(Float32Array.of(1, NaN), 1, 2, "x.weight"), /x\.weight\[0, 1\] = NaN: cannot quantize/);
  const tensors = new Map([
    ["electra.encoder.layer.0.intermediate.dense.weight", fromFloat32(w, [OC, IC])],
    ["electra.encoder.layer.0.intermediate.dense.bias", fromFloat32(new Float32Array(OC).fill(0.5), [OC])],
    ["classifier.dense.weight", fromFloat32(w, [OC, IC])],
  ]);
  const { tensors: stored, quantized } = quantizeTensors(tensors);
  assert.equal(quantized, 1, "the head stays float32");
  assert.equal(stored.get("electra.encoder.layer.0.intermediate.dense.weight")!.dtype, "I8");
  assert.deepEqual(stored.get("electra.encoder.layer.0.intermediate.dense.weight_scale")!.shape, [OC]);
  assert.equal(stored.get("classifier.dense.weight")!.dtype, "F32");
  const read = splitQuantized(parseSafetensors(serializeSafetensors(stored)).tensors, "<buffer>");
  const got = read.int8.get("electra.encoder.layer.0.intermediate.dense.weight")!;
  assert.deepEqual(Array.from(got.q), Array.from(q.q));
  assert.deepEqual(Array.from(got.scale), Array.from(q.scale));
  assert.deepEqual([...read.tensors.keys()].sort(), ["classifier.dense.weight", "electra.encoder.layer.0.intermediate.dense.bias"]);
  assert.throws(() => quantizeTensors(stored), /quantized already/);
  const orphan = new Map(stored);
  orphan.delete("electra.encoder.layer.0.intermediate.dense.weight_scale");
  assert.throws(() => splitQuantized(orphan, "f"), /f: the int8 tensor electra\.encoder\.layer\.0\.intermediate\.dense\.weight has no .*weight_scale/);
});
