/**
 * The float32 inference kernels (native/packed.cc): the linear layer on prepacked weights and attention without a
 * tape, against the naive twins (double sums, libm) and against the training path's kernels, on shapes that cut
 * every blocking (rows past a tile and a row block, channels past a panel, inputs past a K block, inputs packed and
 * not), at every instruction-set level the CPU has (a child process per level, ELECTRA_ISA); the same bits on
 * 1 and 2 threads; and the encoder's tape-less pass on packed weights against its training pass.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { native, setThreads, useNaiveKernels } from "../../src/core/native.js";
import * as ops from "../../src/core/ops.js";
import { Rng } from "../../src/core/rng.js";
import { isaLevels } from "../helpers/isa.js";
import { parseConfig } from "../../src/model/config.js";
import { createModel } from "../../src/model/registry.js";
import { initParams } from "../../src/model/params.js";
import { RunContext, MASKED_KEY_BIAS } from "../../src/model/encoder.js";
import type { ElectraForSequenceClassification } from "../../src/model/heads/sequence-classification.js";


/** The largest |a - b| / (atol + rtol |b|): at most 1 is within tolerance. */
function worst(a: Float32Array, b: Float32Array, atol = 1e-5, rtol = 1e-4): number {
  assert.equal(a.length, b.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i])));
  return w;
}

// [N, IC, OC]: one row; rows past a 6-row tile (avx2); past a 12-row tile (avx512: 13, 25); past a 96-row block
// with packed inputs (1 thread: one task per row block, all 19 panels); past a panel (17, 33, 40 channels); past
// the 256-input K block (600: three blocks); packed inputs fewer than the avx512 copy's 16 a step (130 x 5, 109 x 17)
const LINEAR_SHAPES = [[1, 5, 16], [7, 33, 17], [25, 40, 33], [200, 64, 40], [1000, 48, 300], [13, 600, 24], [97, 600, 150], [130, 5, 17], [109, 17, 33]];

test("packed_linear_forward = the naive twin = matmul_forward (+ bias GELU) on shapes that cut every block; same bits on 1 and 2 threads", () => {
  const rng = new Rng(3);
  const randn = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  for (const [N, IC, OC] of LINEAR_SHAPES) {
    const x = randn(N * IC), w = randn(OC * IC).map((v) => v / Math.sqrt(IC)), b = randn(OC);
    const packed = ops.packWeights(w, OC, IC);
    for (const gelu of [false, true]) {
      for (const bias of [b, null]) {
        const run = (threads: number) => {
          setThreads(threads);
          const out = new Float32Array(N * OC);
          ops.packedLinearForward(out, x, packed, bias, N, IC, OC, gelu);
          return out;
        };
        const one = run(1), two = run(2);
        const what = `N=${N} IC=${IC} OC=${OC} gelu=${gelu} bias=${bias !== null}`;
        assert.deepEqual(two, one, `${what}: 2 threads changed bits`);
        useNaiveKernels(true);
        const naive = new Float32Array(N * OC);
        try {
          ops.packedLinearForward(naive, x, packed, bias, N, IC, OC, gelu);
        } finally {
          useNaiveKernels(false);
        }
        assert.ok(worst(one, naive) <= 1, `${what}: fast vs naive ${worst(one, naive)}`);
        const ref = new Float32Array(N * OC);
        ops.matmulForward(ref, x, w, gelu ? null : bias, N, IC, OC);
        if (gelu) ops.biasGeluForward(ref, ref, bias, N, OC);
        assert.ok(worst(one, ref) <= 1, `${what}: vs matmul_forward ${worst(one, ref)}`);
      }
    }
  }
  setThreads(2);
});

test("attention_infer = attention_forward (fast and naive) with masked keys, T past a 16-key panel, heads of 16 to 64", () => {
  const rng = new Rng(5);
  // [2, 29, 96, 2]: heads of 48 (a pair of value panels, then one) and a second key panel of 13 keys in a pair;
  // [3, 50, 160, 2]: heads of 80, four key panels ending in a pair with 2 keys in its second
  for (const [B, T, C, NH] of [[1, 1, 16, 1], [3, 37, 64, 2], [2, 5, 96, 3], [2, 130, 128, 2], [4, 16, 256, 4], [2, 29, 96, 2], [3, 50, 160, 2]]) {
    const qkv = Float32Array.from({ length: B * T * 3 * C }, () => rng.normal());
    const mb = new Float32Array(B * T);
    for (let b = 1; b < B; b += 2) for (let t = Math.max(1, T - 3); t < T; t++) mb[b * T + t] = MASKED_KEY_BIAS;
    const out = new Float32Array(B * T * C), ref = new Float32Array(B * T * C), naive = new Float32Array(B * T * C);
    ops.attentionInfer(out, qkv, mb, B, T, C, NH);
    ops.attentionForward(ref, new Float32Array(B * NH * T * T), qkv, mb, null, T, B, T, C, NH, 0, 0);
    useNaiveKernels(true);
    try {
      ops.attentionInfer(naive, qkv, mb, B, T, C, NH);
    } finally {
      useNaiveKernels(false);
    }
    const what = `B=${B} T=${T} C=${C} NH=${NH}`;
    assert.ok(worst(out, naive) <= 1, `${what}: vs naive ${worst(out, naive)}`);
    assert.ok(worst(out, ref) <= 1, `${what}: vs attention_forward ${worst(out, ref)}`);
    setThreads(1);
    const one = new Float32Array(B * T * C);
    ops.attentionInfer(one, qkv, mb, B, T, C, NH);
    setThreads(2);
    assert.deepEqual(one, out, `${what}: 1 thread changed bits`);
  }
  assert.throws(() => ops.attentionInfer(new Float32Array(2 * 40), new Float32Array(2 * 120), new Float32Array(2), 1, 2, 40, 2), /not a multiple of 16/);
  assert.throws(() => native.attention_infer(new Float32Array(2 * 40), new Float32Array(2 * 120), new Float32Array(2), 1, 2, 40, 2), /not a multiple of 16/);
  assert.throws(() => ops.packedLinearForward(new Float32Array(4), new Float32Array(4), ops.packWeights(new Float32Array(8), 2, 4), null, 1, 4, 4), /weights are \[2,4\]/);
});

/** In a child process at one level: fast against naive for both kernels, as the tests above; one JSON line. */
const PROBE = `
  import * as ops from "./dist/src/core/ops.js";
  import { addon, useNaiveKernels } from "./dist/src/core/native.js";
  import { Rng } from "./dist/src/core/rng.js";
  import { createHash } from "node:crypto";
  const rng = new Rng(11), randn = (n) => Float32Array.from({ length: n }, () => rng.normal());
  const worst = (a, b) => { let w = 0; for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / (1e-5 + 1e-4 * Math.abs(b[i]))); return w; };
  const both = (f) => { const a = f(); useNaiveKernels(true); const b = f(); useNaiveKernels(false); return worst(a, b); };
  const report = { isa: addon().isa(), linear: [], attention: [], bits: "" };
  const hash = createHash("sha256");
  for (const [N, IC, OC] of ${JSON.stringify(LINEAR_SHAPES)}) {
    const x = randn(N * IC), p = ops.packWeights(randn(OC * IC).map((v) => v / Math.sqrt(IC)), OC, IC), b = randn(OC);
    report.linear.push(both(() => { const o = new Float32Array(N * OC); ops.packedLinearForward(o, x, p, b, N, IC, OC, true); return o; }));
    for (const gelu of [false, true]) { const o = new Float32Array(N * OC); ops.packedLinearForward(o, x, p, b, N, IC, OC, gelu); hash.update(o); }
  }
  { // without a bias, products that underflow to -0: the fma tiles' sums stay -0 (an fma onto +0 keeps the exact
    // product's sign) and must come out so, not + 0'd into +0; the sse4.2 tile's x * b rounds to -0 first, +0 + -0 = +0
    const [N, IC, OC] = [109, 17, 33], o = new Float32Array(N * OC);
    ops.packedLinearForward(o, new Float32Array(N * IC).fill(1e-30), ops.packWeights(new Float32Array(OC * IC).fill(-1e-30), OC, IC), null, N, IC, OC, false);
    if (report.isa !== "sse4.2" && !Object.is(o[0], -0)) throw new Error("a sum of -0 without bias came out " + o[0]);
    hash.update(o);
  }
  for (const [B, T, C, NH] of [[3, 37, 64, 2], [2, 130, 128, 2], [2, 29, 96, 2]]) {
    const qkv = randn(B * T * 3 * C), mb = new Float32Array(B * T);
    report.attention.push(both(() => { const o = new Float32Array(B * T * C); ops.attentionInfer(o, qkv, mb, B, T, C, NH); return o; }));
  }
  report.bits = hash.digest("hex");
  console.log(JSON.stringify(report));`;

test("the inference kernels at every instruction-set level the CPU has agree with the naive twins; the linear layer's bits are the same at avx2 and avx512", () => {
  const levels = isaLevels();
  const bits = new Map<string, string>();
  for (const level of levels) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", PROBE], {
      cwd: process.cwd(), encoding: "utf8", env: { ...process.env, ELECTRA_ISA: level, ELECTRA_THREADS: "2" },
    });
    assert.equal(r.status, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { isa: string; linear: number[]; attention: number[]; bits: string };
    assert.equal(rep.isa, level);
    for (const w of [...rep.linear, ...rep.attention]) assert.ok(w <= 1, `${level}: ${JSON.stringify(rep)}`);
    bits.set(level, rep.bits);
  }
  // the 12 x 16 zmm tile and the 6 x 16 ymm one run each output's fmas in the same order (packed.cc); attention is
  // not compared: its softmax sums each row in vector lanes as wide as the level's
  if (bits.has("avx512")) assert.equal(bits.get("avx512"), bits.get("avx2"), "the linear layer's bits differ between avx512 and avx2");
  else console.log("# no avx512 on this CPU: the avx2 / avx512 bit comparison is not run");
});

test("the encoder's tape-less pass on packed weights gives the training pass's logits; a training pass ignores the packed copy", () => {
  const cfg = parseConfig({
    vocab_size: 120, embedding_size: 32, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 96,
    max_position_embeddings: 40, num_labels: 3,
  });
  const model = createModel("classifier", cfg) as ElectraForSequenceClassification;
  initParams(model.store, 0.3, 9);
  const B = 3, T = 21, rng = new Rng(4);
  const batch = {
    B, T, inputIds: Int32Array.from({ length: B * T }, () => rng.randint(0, 119)), tokenTypeIds: Int32Array.from({ length: B * T }, (_, i) => (i % T > 10 ? 1 : 0)),
    attentionMask: Int32Array.from({ length: B * T }, (_, i) => (i % T < T - (i >= T ? 4 : 0) ? 1 : 0)),
  };
  const logits = (tape: boolean) => Float32Array.from(model.forward(new RunContext({ tape }), batch).logits);
  const taped = logits(true);
  const plain = logits(false); // tape-less, not packed: sgemm, attention_infer
  model.encoder.packForInference();
  const packed = logits(false);
  assert.ok(worst(plain, taped) <= 1, `tape-less vs taped ${worst(plain, taped)}`);
  assert.ok(worst(packed, taped) <= 1, `packed vs taped ${worst(packed, taped)}`);
  assert.notDeepEqual(packed, taped, "the packed pass runs other kernels (else this test tests nothing)");
  // a change to the weights reaches a taped pass at once; the packed copy is stale until packed again
  const w = model.store.get("electra.encoder.layer.0.output.dense.weight");
  w.fill(0);
  const changed = logits(true);
  assert.ok(worst(changed, taped) > 1, "zeroing a layer's weights changes the training pass");
  assert.deepEqual(logits(false), packed, "the packed pass still multiplies the packed copy");
  model.encoder.packForInference();
  assert.ok(worst(logits(false), changed) <= 1, "packed again, it follows");
  // no backward pass after a tape-less forward
  const out = model.forward(new RunContext({ tape: false }), batch);
  assert.throws(() => model.backward(new RunContext(), out, new Float32Array(B * 3)), /without a tape/);
});
