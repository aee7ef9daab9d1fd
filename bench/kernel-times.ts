/**
 * The element-wise kernels timed alone (one thread, the best of 30 calls each), for comparing two builds of
 * the addon in alternating runs (BENCHMARKS.md, issue 21: -march=native against the portable build):
 *   node dist/bench/kernel-times.js [PATH/TO/electra_native.node]   (default: this checkout's build/Release)
 * GELU forward and backward on 1024 x 1024, LayerNorm (+ residual) on 1024 x 256, attention forward at
 * B=8, T=128, C=256, 4 heads, cross-entropy forward + backward over 64 rows of 8192; milliseconds.
 */
import { createRequire } from "node:module";
import { resolve } from "node:path";
import type { NativeAddon } from "../src/core/native.js";

const a = createRequire(import.meta.url)(resolve(process.argv[2] ?? "build/Release/electra_native.node")) as NativeAddon;
a.set_threads(1);
let seed = 1;
const rnd = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
const best = (f: () => void) => {
  let ms = Infinity;
  for (let i = 0; i < 30; i++) {
    const t = process.hrtime.bigint();
    f();
    ms = Math.min(ms, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return +ms.toFixed(3);
};
const N = 1024, F = 1024, C = 256, NH = 4, B = 8, T = 128, V = 8192, M = 64;
const pre = rnd(N * F), out = new Float32Array(N * F), bias = rnd(F);
const qkv = rnd(B * T * 3 * C), probs = new Float32Array(B * NH * T * T), ao = new Float32Array(B * T * C), mb = new Float32Array(B * T);
const x = rnd(N * C), r = rnd(N * C), lo = new Float32Array(N * C), sum = new Float32Array(N * C), mean = new Float32Array(N), rstd = new Float32Array(N), w = rnd(C), bb = rnd(C);
const logits = rnd(M * V), labels = Int32Array.from({ length: M }, (_, i) => i), losses = new Float32Array(M), dl = new Float32Array(M * V);
console.log(JSON.stringify({
  isa: a.isa(),
  gelu: best(() => a.bias_gelu_forward(out, pre.slice(), bias, N, F)),
  gelu_backward: best(() => a.gelu_backward(out, pre, pre, N, F)),
  layernorm: best(() => a.layernorm_forward(lo, sum, mean, rstd, x, r, w, bb, N, C, 1e-12)),
  attention: best(() => a.attention_forward(ao, probs, qkv, mb, null, 512, B, T, C, NH, 0, 1)),
  crossentropy: best(() => {
    a.crossentropy_forward(losses, logits, labels, M, V, -100);
    a.crossentropy_backward(dl, logits, labels, M, V, -100, 1);
  }),
}));
