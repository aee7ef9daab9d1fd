/**
 * Fast kernels against the naive ones (native/naive.cc: plain loops, libm, double accumulators) on odd shapes
 * (sizes that are no multiple of any vector width), plus the contracts the model relies on: dropout masks are
 * a pure function of the seed, Gumbel sampling follows the softmax, bad calls throw instead of crashing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { getThreads, native, setThreads, useNaiveKernels } from "../../src/core/native.js";
import * as ops from "../../src/core/ops.js";
import { Rng } from "../../src/core/rng.js";
import { isaLevels } from "../helpers/isa.js";

const rng = new Rng(7);
const randn = (n: number, s = 1) => Float32Array.from({ length: n }, () => rng.normal() * s);

/** Runs fn with fast and with naive kernels on copies of the same inputs; returns both sets of outputs. */
function both(fn: () => Float32Array[]): [Float32Array[], Float32Array[]] {
  useNaiveKernels(false);
  const f = fn();
  useNaiveKernels(true);
  try {
    return [f, fn()];
  } finally {
    useNaiveKernels(false);
  }
}

function close(what: string, a: Float32Array[], b: Float32Array[], atol = 2e-5, rtol = 1e-4): void {
  assert.equal(a.length, b.length);
  a.forEach((x, k) => {
    for (let i = 0; i < x.length; i++) {
      const err = Math.abs(x[i] - b[k][i]);
      if (!(err <= atol + rtol * Math.abs(b[k][i]))) assert.fail(`${what} output ${k}[${i}]: fast ${x[i]} vs naive ${b[k][i]}`);
    }
  });
}

test("matmul forward/backward: fast = naive on odd shapes", () => {
  for (const [N, IC, OC] of [[13, 19, 7], [1, 5, 33], [37, 65, 17]]) {
    const inp = randn(N * IC), w = randn(OC * IC), b = randn(OC), dout = randn(N * OC);
    const [f, n] = both(() => {
      const out = new Float32Array(N * OC), dinp = randn(N * IC).fill(0.5), dw = new Float32Array(OC * IC).fill(0.25), db = new Float32Array(OC).fill(-1);
      ops.matmulForward(out, inp, w, b, N, IC, OC);
      ops.matmulBackward(dinp, dw, db, dout, inp, w, N, IC, OC, true);
      return [out, dinp, dw, db];
    });
    close(`matmul ${N}x${IC}x${OC}`, f, n);
  }
});

test("GELU: fast (polynomial erf) = naive (libm erf) over a wide range, forward and backward", () => {
  const N = 3, F = 1001;
  const pre = Float32Array.from({ length: N * F }, (_, i) => -12 + (24 * i) / (N * F));
  const bias = randn(F, 0.1), dout = randn(N * F);
  const [f, n] = both(() => {
    const u = Float32Array.from(pre), out = new Float32Array(N * F), d = new Float32Array(N * F);
    ops.biasGeluForward(out, u, bias, N, F);
    ops.geluBackward(d, dout, u, N, F);
    return [out, u, d];
  });
  close("gelu", f, n, 1e-6, 1e-5);
  // exact erf GELU, not the tanh approximation: they differ most (4.7e-4) near x = 2.7
  const x = new Float32Array([2.7]), y = new Float32Array(1);
  ops.biasGeluForward(y, x, null, 1, 1);
  const erfGelu = 2.6906391707317905, tanhGelu = 0.5 * 2.7 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (2.7 + 0.044715 * 2.7 ** 3)));
  assert.ok(Math.abs(y[0] - erfGelu) < 2e-6, `gelu(2.7) = ${y[0]}`);
  assert.ok(Math.abs(y[0] - tanhGelu) > 4e-4);
});

test("LayerNorm with residual: fast = naive, forward and backward", () => {
  const N = 11, C = 23, a = randn(N * C), r = randn(N * C), w = randn(C), b = randn(C), dout = randn(N * C);
  const [f, n] = both(() => {
    const out = new Float32Array(N * C), sum = new Float32Array(N * C), mean = new Float32Array(N), rstd = new Float32Array(N);
    ops.layernormForward(out, sum, mean, rstd, a, r, w, b, N, C, 1e-12);
    const dinp = new Float32Array(N * C), dw = new Float32Array(C), db = new Float32Array(C);
    ops.layernormBackward(dinp, dw, db, dout, sum, mean, rstd, w, N, C);
    return [out, sum, mean, rstd, dinp, dw, db];
  });
  close("layernorm", f, n);
});

test("attention: fast = naive with padding, a row masked but for one key, dropout, and relative positions", () => {
  const B = 3, T = 9, C = 15, NH = 3, P = 12, HS = C / NH;
  const qkv = randn(B * T * 3 * C), dout = randn(B * T * C), table = randn((2 * P - 1) * HS);
  const mask = new Float32Array(B * T);
  for (let t = 6; t < T; t++) mask[T + t] = -3.4028234663852886e38; // batch 1: 3 padded keys
  for (let t = 1; t < T; t++) mask[2 * T + t] = -3.4028234663852886e38; // batch 2: only key 0 visible
  for (const [p, relative] of [[0, false], [0.3, false], [0, true], [0.3, true]] as const) {
    const [f, n] = both(() => {
      const out = new Float32Array(B * T * C), probs = new Float32Array(B * NH * T * T), dqkv = new Float32Array(B * T * 3 * C);
      const dist = relative ? table : null, ddist = relative ? new Float32Array(table.length).fill(0.5) : null;
      ops.attentionForward(out, probs, qkv, mask, dist, P, B, T, C, NH, p, 1234);
      ops.attentionBackward(dqkv, ddist, dout, qkv, probs, dist, P, B, T, C, NH, p, 1234);
      return ddist ? [out, probs, dqkv, ddist] : [out, probs, dqkv];
    });
    close(`attention p=${p}${relative ? " relative_key" : ""}`, f, n);
    if (relative) {
      // rows for distances |i - j| >= T get no gradient: they keep the 0.5 they started with (+=, not =)
      const ddist = f[3];
      for (let m = 0; m < 2 * P - 1; m++) if (Math.abs(m - (P - 1)) >= T) for (let e = 0; e < HS; e++) assert.equal(ddist[m * HS + e], 0.5);
      assert.notEqual(ddist[(P - 1) * HS], 0.5);
    }
    // batch 2 attends to key 0 only
    const probs = f[1];
    for (let h = 0; h < NH; h++) for (let i = 0; i < T; i++) assert.equal(probs[((2 * NH + h) * T + i) * T], 1);
  }
});

test("attention with relative positions: the distance gradient is the same bits on every run (threads summed in order)", () => {
  // every (batch, head) adds into the one table: a reduction whose order must not depend on thread timing,
  // or pretraining a relative_key model would not resume exactly
  const B = 16, T = 33, C = 32, NH = 4, P = 40, HS = C / NH;
  const qkv = randn(B * T * 3 * C), dout = randn(B * T * C), table = randn((2 * P - 1) * HS), mask = new Float32Array(B * T);
  const probs = new Float32Array(B * NH * T * T), out = new Float32Array(B * T * C);
  ops.attentionForward(out, probs, qkv, mask, table, P, B, T, C, NH, 0.1, 99);
  const run = () => {
    const dqkv = new Float32Array(B * T * 3 * C), ddist = new Float32Array(table.length).fill(0.1);
    ops.attentionBackward(dqkv, ddist, dout, qkv, probs, table, P, B, T, C, NH, 0.1, 99);
    return ddist;
  };
  const threads = getThreads();
  setThreads(4); // several threads even on a one-core runner
  try {
    const first = run();
    for (let r = 0; r < 12; r++) {
      const again = run();
      const i = again.findIndex((v, k) => v !== first[k]);
      assert.equal(i, -1, `run ${r + 2}: ddist[${i}] = ${again[i]} vs ${first[i]} in the first run`);
    }
  } finally {
    setThreads(threads);
  }
});

test("embeddings, cross-entropy, BCE, MSE: fast = naive", () => {
  const B = 2, T = 5, E = 7, V = 11, P = 8, TV = 2;
  const ids = Int32Array.from([0, 3, 10, 0, 4, 5, 6, 0, 0, 1]), types = Int32Array.from([0, 0, 1, 1, 1, 0, 0, 0, 1, 1]);
  const word = randn(V * E), pos = randn(P * E), type = randn(TV * E), dout = randn(B * T * E);
  const logits = randn(B * T * V, 3), labels = Int32Array.from([1, -100, 3, 10, 0, -100, 2, 2, 9, 4]);
  const x = randn(B * T, 4), y = Float32Array.from({ length: B * T }, (_, i) => i % 2), wts = Float32Array.from({ length: B * T }, (_, i) => (i < 8 ? 1 : 0));
  const [f, n] = both(() => {
    const out = new Float32Array(B * T * E), dw = new Float32Array(V * E), dp = new Float32Array(P * E), dt = new Float32Array(TV * E);
    ops.embeddingsForward(out, ids, types, word, pos, type, B, T, E, V, P, TV);
    ops.embeddingsBackward(dw, dp, dt, dout, ids, types, B, T, E, V, P, TV, 0);
    const noPos = new Float32Array(B * T * E); // relative_key: no position table at all
    ops.embeddingsForward(noPos, ids, types, word, null, type, B, T, E, V, P, TV);
    const l = new Float32Array(B * T), dl = new Float32Array(B * T * V);
    ops.crossentropyForward(l, logits, labels, B * T, V);
    ops.crossentropyBackward(dl, logits, labels, B * T, V, -100, 0.5);
    const bl = new Float32Array(B * T), bd = new Float32Array(B * T), ml = new Float32Array(B * T), md = new Float32Array(B * T);
    ops.bceForward(bl, x, y, wts);
    ops.bceBackward(bd, x, y, wts, 0.25);
    ops.mseForward(ml, x, y);
    ops.mseBackward(md, x, y, 0.1);
    return [out, dw, dp, dt, l, dl, bl, bd, ml, md, noPos];
  });
  close("small ops", f, n);
  for (let k = 0; k < B * T * E; k++) {
    const want = Math.fround(word[ids[Math.floor(k / E)] * E + (k % E)] + type[types[Math.floor(k / E)] * E + (k % E)]);
    assert.equal(f[10][k], want, `no positions: out[${k}]`);
    assert.equal(n[10][k], want, `no positions, naive: out[${k}]`);
  }
  // padding_idx 0: no gradient into row 0 of the word table
  assert.ok(f[1].subarray(0, E).every((v) => v === 0));
});

test("dropout: mask is a pure function of the seed, rate and scaling right", () => {
  const n = 100000, x = new Float32Array(n).fill(1);
  const a = new Float32Array(n), b = new Float32Array(n), c = new Float32Array(n);
  ops.dropoutForward(a, x, 0.1, 42);
  ops.dropoutForward(b, x, 0.1, 42);
  ops.dropoutForward(c, x, 0.1, 43);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const zeros = a.filter((v) => v === 0).length;
  assert.ok(Math.abs(zeros / n - 0.1) < 0.005, `dropped ${zeros / n}`);
  assert.ok(a.every((v) => v === 0 || Math.abs(v - 1 / 0.9) < 1e-6));
});

/** kernels.h's hash64 and uniform01 in BigInt arithmetic: the 24-bit draw for (seed, index), as an integer */
function draw24(seed: bigint, index: bigint): number {
  const M = (1n << 64n) - 1n;
  let z = (seed * 0x9E3779B97F4A7C15n + index * 0xD1B54A32D192ED03n + 0x632BE59BD9B4E019n) & M;
  z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & M;
  z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & M;
  return Number((z ^ (z >> 31n)) >> 40n);
}

test("dropout masks and Gumbel noise are the counter-based hash's, bit for bit, at every instruction-set level", () => {
  // dropout keeps index i where draw24 / 2^24 >= p (both floats); Gumbel-max on zero logits picks each row's largest
  // draw (-log(-log u) rises with u). Lengths 1-20 (the avx2 path's 8-wide runs and their scalar tails), 9001 (past
  // the 4096-float chunks and 512-float runs); Gumbel rows of 9 (one run of 8, a tail of 1) and of 1037. And
  // attention with dropout, forward and backward (whose dropout runs in place), against the naive kernels.
  const p = 0.3, seed = 12345, pf = Math.fround(p);
  const lengths = [...Array.from({ length: 20 }, (_, i) => i + 1), 9001];
  // every call draws from index 0: each length's mask is a prefix of the longest one's
  const longest = Array.from({ length: Math.max(...lengths) }, (_, i) => draw24(BigInt(seed), BigInt(i)) / 16777216 >= pf);
  const wantKeep = lengths.map((n) => longest.slice(0, n));
  const gumbels = [{ V: 9, M: 600 }, { V: 1037, M: 24 }].map(({ V, M }) => {
    const keys = Array.from({ length: M }, (_, m) => (m * 7919) % 1000);
    const want = keys.map((k) => {
      let best = 0, top = -1;
      for (let v = 0; v < V; v++) {
        const d = draw24(BigInt(seed), BigInt(k * V + v));
        if (d > top) { top = d; best = v; }
      }
      return best;
    });
    return { V, M, keys, want };
  });
  const probe = `
    import { addon } from "./dist/src/core/native.js";
    const a = addon(), scale = Math.fround(1 / Math.fround(1 - ${p}));
    const keep = ${JSON.stringify(lengths)}.map((n) => {
      const out = new Float32Array(n);
      a.dropout_forward(out, new Float32Array(n).fill(1), ${p}, ${seed});
      if (!out.every((x) => x === 0 || x === scale)) throw new Error("kept elements are not 1 / (1 - p)");
      return Array.from(out, (x) => x !== 0);
    });
    const arg = ${JSON.stringify(gumbels.map(({ V, M, keys }) => ({ V, M, keys })))}.map(({ V, M, keys }) => {
      const o = new Int32Array(M);
      a.gumbel_argmax(o, new Float32Array(M * V), V, 1, ${seed}, Int32Array.from(keys));
      return Array.from(o);
    });
    // attention, B 2, T 37, C 16, 2 heads, dropout 0.3: fast against naive
    const B = 2, T = 37, C = 16, NH = 2, r = (n, s) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * s));
    const qkv = r(B * T * 3 * C, 0.37), mb = new Float32Array(B * T), dout = r(B * T * C, 0.71);
    const run = () => {
      const out = new Float32Array(B * T * C), probs = new Float32Array(B * NH * T * T), dqkv = new Float32Array(B * T * 3 * C);
      a.attention_forward(out, probs, qkv, mb, null, T, B, T, C, NH, 0.3, 99);
      a.attention_backward(dqkv, null, dout, qkv, probs, null, T, B, T, C, NH, 0.3, 99);
      return [out, dqkv];
    };
    const fast = run(); a.use_naive(true); const slow = run(); a.use_naive(false);
    let attention = 0;
    fast.forEach((x, k) => x.forEach((v, i) => { attention = Math.max(attention, Math.abs(v - slow[k][i]) / (1e-5 + Math.abs(slow[k][i]))); }));
    console.log(JSON.stringify({ isa: a.isa(), keep, arg, attention }));`;
  for (const level of isaLevels()) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", probe], { cwd: process.cwd(), encoding: "utf8", env: { ...process.env, ELECTRA_ISA: level } });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { isa: string; keep: boolean[][]; arg: number[][]; attention: number };
    assert.equal(got.isa, level);
    lengths.forEach((n, t) => {
      const wrong = got.keep[t].findIndex((k, i) => k !== wantKeep[t][i]);
      assert.equal(wrong, -1, `${level}: dropout of ${n} keeps element ${wrong}: ${got.keep[t][wrong]}, the hash says ${wantKeep[t][wrong]}`);
    });
    gumbels.forEach(({ V, want }, t) => assert.deepEqual(got.arg[t], want, `${level}: Gumbel-max on zero logits (V ${V}) is not each row's largest draw`));
    assert.ok(got.attention < 1e-3, `${level}: attention with dropout differs from the naive kernels (relative ${got.attention})`);
  }
});

test("Gumbel-max sampling follows softmax(logits)", () => {
  const V = 5, M = 20000;
  const row = [2, 1, 0, -1, 0.5];
  const logits = Float32Array.from({ length: M * V }, (_, i) => row[i % V]);
  const out = new Int32Array(M);
  ops.gumbelArgmax(out, logits, V, 1, 99);
  const z = row.reduce((s, v) => s + Math.exp(v), 0);
  for (let v = 0; v < V; v++) {
    const freq = out.filter((o) => o === v).length / M, p = Math.exp(row[v]) / z;
    assert.ok(Math.abs(freq - p) < 0.015, `token ${v}: frequency ${freq} vs probability ${p}`);
  }
});

test("AdamW: official (no bias correction) and torch flavours by formula", () => {
  const p = Float32Array.from([1, -2, 0.5]), g = Float32Array.from([0.1, -0.2, 0.3]);
  const seg = Float64Array.from([0, 2, 1, 0.01, 2, 1, 1, 0]);
  const m = new Float32Array(3), v = new Float32Array(3), q = Float32Array.from(p);
  native.adamw_step(q, g, m, v, seg, 1e-3, 0.9, 0.999, 1e-6, 1, false);
  for (let i = 0; i < 3; i++) {
    const wd = i < 2 ? 0.01 : 0, mi = 0.1 * g[i], vi = 0.001 * g[i] * g[i];
    const want = p[i] - 1e-3 * (mi / (Math.sqrt(vi) + 1e-6) + wd * p[i]);
    assert.ok(Math.abs(q[i] - want) < 1e-7, `official step ${i}: ${q[i]} vs ${want}`);
  }
});

test("bad calls throw JS errors that name the problem, never crash", () => {
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => ops.matmulForward(f(6), f(6), f(6), null, 2, 3, 3), /matmul_forward: out \[N,OC\] has 6 elements, expected 6|weight \[OC,IC\] has 6 elements, expected 9/);
  assert.throws(() => ops.matmulForward(f(5), f(6), f(9), null, 2, 3, 3), /out \[N,OC\] has 5 elements, expected 6/);
  assert.throws(() => ops.embeddingsForward(f(4), Int32Array.from([7]), Int32Array.from([0]), f(12), f(8), f(8), 1, 1, 4, 3, 2, 2), /token id\[0\] = 7 is outside \[0, 3\)/);
  assert.throws(() => ops.crossentropyForward(f(1), f(3), Int32Array.from([5]), 1, 3), /label\[0\] = 5/);
  assert.throws(() => ops.attentionForward(f(10), f(1), f(30), f(1), null, 1, 1, 1, 10, 3, 0, 0), /not divisible/);
  assert.throws(() => ops.attentionForward(f(10), f(2), f(30), f(1), f(5), 2, 1, 1, 10, 2, 0, 0), /dist \[2P-1,HS\] has 5 elements, expected 15/);
  assert.throws(() => ops.attentionForward(f(40), f(32), f(120), f(4), f(15), 2, 1, 4, 10, 2, 0, 0), /T=4 exceeds/);
  assert.throws(() => ops.attentionBackward(f(30), null, f(10), f(30), f(2), f(15), 2, 1, 1, 10, 2, 0, 0), /both be given/);
  // straight into the addon, bypassing the TypeScript checks
  assert.throws(() => native.matmul_forward(f(1), f(1), f(1), null, 1000, 1000, 1000), /native matmul_forward: out has 1 elements/);
  assert.throws(() => (native.matmul_forward as unknown as (...a: unknown[]) => void)([1, 2], f(1), f(1), null, 1, 1, 1), /must be a Float32Array/);
  assert.throws(() => native.embeddings_forward(f(4), Int32Array.from([-1]), Int32Array.from([0]), f(12), f(8), f(8), 1, 1, 4), /ids\[0\] = -1/);
  assert.throws(() => native.gather_rows(f(2), f(4), Int32Array.from([9]), 2), /idx\[0\] = 9/);
  assert.throws(() => native.attention_backward(f(30), null, f(10), f(30), f(2), f(15), 2, 1, 1, 10, 2, 0, 0), /native attention_backward: dist and ddist/);
  assert.throws(() => native.attention_forward(f(40), f(32), f(120), f(4), f(15), 2, 1, 4, 10, 2, 0, 0), /native attention_forward: sequence length T = 4 exceeds P = 2/);
  assert.throws(() => native.dropout_forward(f(2), f(2), 1.5, 0), /dropout probability/);
  assert.throws(() => native.adamw_step(f(2), f(2), f(2), f(2), Float64Array.from([1, 5, 1, 0]), 1e-3, 0.9, 0.999, 1e-6, 1, true), /outside the parameter buffer/);
});
