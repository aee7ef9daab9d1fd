/**
 * The one module that loads the native addon: build/Release/electra_native.node when it was built from
 * native/ here (node-gyp), else the prebuilt binary the package ships in prebuilds/linux-x64/ (found by
 * node-gyp-build, with OpenBLAS and its runtime beside it). It loads on first use, so importing the
 * package for its file readers (safetensors, PyTorch, TensorFlow) needs no addon. Nothing else imports the
 * .node file; everything else calls the shape-checked wrappers in ops.ts.
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { availableParallelism } from "node:os";

type F32 = Float32Array;
type F32n = Float32Array | null;
type I32 = Int32Array;

/** The raw addon interface; argument order mirrors native/kernels.h. Prefer the wrappers in ops.ts. */
export interface NativeAddon {
  matmul_forward(out: F32, inp: F32, weight: F32, bias: F32n, N: number, IC: number, OC: number): void;
  matmul_backward(dinp: F32n, dweight: F32n, dbias: F32n, dout: F32, inp: F32, weight: F32, N: number, IC: number, OC: number, accumulate: boolean): void;
  bias_gelu_forward(out: F32, pre: F32, bias: F32n, N: number, F: number): void;
  gelu_backward(dinp: F32, dout: F32, pre: F32, N: number, F: number): void;
  layernorm_forward(out: F32, sum: F32, mean: F32, rstd: F32, a: F32, r: F32n, weight: F32, bias: F32, N: number, C: number, eps: number): void;
  layernorm_backward(dinp: F32, dweight: F32n, dbias: F32n, dout: F32, sum: F32, mean: F32, rstd: F32, weight: F32, N: number, C: number, accumulate: boolean): void;
  embeddings_forward(out: F32, ids: I32, types: I32, word: F32, pos: F32n, type: F32, B: number, T: number, E: number): void;
  embeddings_backward(dword: F32n, dpos: F32n, dtype: F32n, dout: F32, ids: I32, types: I32, B: number, T: number, E: number, V: number, P: number, TV: number, paddingIdx: number): void;
  attention_forward(out: F32, probs: F32, qkv: F32, maskbias: F32, dist: F32 | null, P: number, B: number, T: number, C: number, NH: number,
    dropoutP: number, seed: number): void;
  attention_backward(dqkv: F32, ddist: F32 | null, dout: F32, qkv: F32, probs: F32, dist: F32 | null, P: number, B: number, T: number, C: number,
    NH: number, dropoutP: number, seed: number): void;
  dropout_forward(out: F32, inp: F32, p: number, seed: number): void;
  dropout_backward(dinp: F32, dout: F32, p: number, seed: number): void;
  crossentropy_forward(losses: F32, logits: F32, labels: I32, N: number, V: number, ignoreIndex: number): void;
  crossentropy_backward(dlogits: F32, logits: F32, labels: I32, N: number, V: number, ignoreIndex: number, scale: number): void;
  bce_forward(losses: F32, logits: F32, targets: F32, weights: F32): void;
  bce_backward(dlogits: F32, logits: F32, targets: F32, weights: F32, scale: number): void;
  mse_forward(losses: F32, pred: F32, target: F32): void;
  mse_backward(dpred: F32, pred: F32, target: F32, scale: number): void;
  gather_rows(out: F32, inp: F32, idx: I32, C: number): void;
  scatter_add_rows(dinp: F32, dout: F32, idx: I32, C: number): void;
  argmax_rows(out: I32, inp: F32, V: number): void;
  gumbel_argmax(out: I32, logits: F32, V: number, temperature: number, seed: number, rowKeys: I32 | null): void;
  adamw_step(params: F32, grads: F32, m: F32, v: F32, segments: Float64Array, lr: number, beta1: number, beta2: number, eps: number, step: number, biasCorrection: boolean): void;
  sum_squares(x: F32): number;
  scale_inplace(x: F32, s: number): void;
  count_nonfinite(x: F32): number;
  set_threads(n: number): void;
  get_threads(): number;
  use_naive(on: boolean): void;
  blas_config(): string;
  /** the instruction-set level of the fast kernels: "sse4.2", "avx2" or "avx512" (native/dispatch.cc) */
  isa(): string;
  align64(a: F32): number;
  f32_pack_weights(packed: F32, w: F32, OC: number, IC: number): void;
  attention_infer(out: F32, qkv: F32, maskbias: F32, B: number, T: number, C: number, NH: number): void;
  packed_linear_forward(out: F32, inp: F32, packed: F32, bias: F32n, N: number, IC: number, OC: number, gelu: boolean): void;
  int8_pack_weights(packed: Int8Array, wsum: I32, w: Int8Array, OC: number, IC: number): void;
  int8_gemm(out: I32, a: Int8Array, packed: Int8Array, wsum: I32, N: number, IC: number, OC: number): void;
  int8_linear_forward(out: F32, inp: F32, packed: Int8Array, wsum: I32, wscale: F32, bias: F32n, N: number, IC: number, OC: number, gelu: boolean): void;
  /** the int8 kernels in use: "vnni", "avx2", "scalar" (sse4.2) or "naive" (native/int8.cc) */
  int8_kernel(): string;
}

/** The folder with package.json and binding.gyp (build/Release holds the addons). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "binding.gyp"))) return dir;
    dir = resolve(dir, "..");
  }
  throw new Error("electra-ts: cannot find the package root (binding.gyp) above " + fileURLToPath(import.meta.url));
}

function load(): NativeAddon {
  // OpenMP threads spin between parallel regions (libgomp: ~300k spins by default) before they sleep. On a
  // machine shared with other busy processes (or with V8's GC threads) that spinning takes cores from real
  // work: measured here, a fine-tuning step ran 10x slower beside another training process. A short spin
  // keeps the fast wake-up of a busy loop without the cost. libgomp reads this when the addon loads it, so
  // it is set before; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) process.env.GOMP_SPINCOUNT = "20000";
  const root = packageRoot();
  const require = createRequire(import.meta.url);
  const gypBuild = require("node-gyp-build") as { resolve(dir: string): string };
  let path: string;
  try {
    // a source build by name: node-gyp-build takes the first .node in build/Release, and the MPI addon may be there too
    const own = join(root, "build", "Release", "electra_native.node");
    path = existsSync(own) ? own : gypBuild.resolve(root);
  } catch {
    throw new Error(`electra-ts: no native addon for ${process.platform}-${process.arch} in ${root} (neither build/Release nor a matching prebuild): ` +
      "build it with `npm rebuild electra-ts` (needs g++, make, python3 and libopenblas-openmp-dev) or `bash setup.sh` in a clone");
  }
  let addon: NativeAddon;
  try {
    addon = require(path) as NativeAddon;
  } catch (e) {
    throw new Error(`electra-ts: cannot load the native addon ${path}: ${(e as Error).message}. ` +
      "A source build needs OpenBLAS (apt-get install libopenblas-openmp-dev): run `npm rebuild electra-ts`, or `bash setup.sh` in a clone.");
  }
  // threads for native kernels and OpenBLAS: ELECTRA_THREADS, else OMP_NUM_THREADS, else all cores
  const env = process.env.ELECTRA_THREADS ?? process.env.OMP_NUM_THREADS;
  const n = env ? Number(env) : availableParallelism();
  addon.set_threads(Number.isInteger(n) && n > 0 ? n : availableParallelism());
  return addon;
}

let loaded: NativeAddon | null = null;

/** The addon, loaded on first use (see the header). */
export function addon(): NativeAddon {
  return (loaded ??= load());
}

/** The addon's functions; the first call of any loads it. */
export const native: NativeAddon = new Proxy({} as NativeAddon, {
  get: (_, name: string) => (addon() as unknown as Record<string, unknown>)[name],
});

/** Threads for native kernels and OpenBLAS (default: ELECTRA_THREADS, else OMP_NUM_THREADS, else all cores). */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`threads must be a positive integer, got ${n}`);
  native.set_threads(n);
}
export function getThreads(): number {
  return native.get_threads();
}

/** Switches every kernel to the naive loops of native/naive.cc (tests) or back to the fast ones. */
export function useNaiveKernels(on: boolean): void {
  native.use_naive(on);
}
