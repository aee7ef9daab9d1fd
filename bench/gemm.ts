/**
 * The rate this machine's sgemm reaches on a workload's own matrix shapes: every linear-layer product of one
 * step (bench/flops.ts's workloadGemms; for training steps also the two backward products of each, as
 * matmul_backward computes them), timed alone through the same kernels the model calls, with the same
 * threads. bench.ts's GFLOP/s divided by this rate is how close a workload runs to what the GEMMs allow.
 * Inference multiplies prepacked weights (native/packed.cc, as Electra.load sets up), so `--what infer` times
 * that kernel (its weights packed once, outside the timing), `--sgemm` OpenBLAS's sgemm on the same shapes, and
 * `--dtype int8` the int8 linear layer (native/int8.cc: activations quantized per row, int32 sums, dequantized)
 * on them, its weights quantized and packed as `electra quantize` leaves the encoder's (the two small head products
 * too, which the model runs in float32); its GFLOP/s count the same FLOPs.
 *
 *   node dist/bench/gemm.js --what infer|finetune|finetune-token|pretrain [--batch 8] [--seq 128] [--threads 2] [--steps 5]
 *     [--sgemm | --dtype int8]
 */
import { parseArgs } from "node:util";
import { getThreads, setThreads } from "../src/core/native.js";
import { alignedFloat32 } from "../src/core/arena.js";
import { int8LinearForward, int8PackWeights, matmulBackward, matmulForward, packedLinearForward, packWeights } from "../src/core/ops.js";
import { quantizeWeight } from "../src/io/quantized.js";
import { parseConfig } from "../src/model/config.js";
import { gemmFlops, workloadGemms, type WorkloadShape } from "./flops.js";
import { SMALL, SMALL_GENERATOR, stepTimes } from "./sizes.js";

const { values: args } = parseArgs({
  options: {
    what: { type: "string", default: "infer" }, batch: { type: "string", default: "8" }, seq: { type: "string", default: "128" },
    threads: { type: "string", default: "2" }, steps: { type: "string", default: "5" }, sgemm: { type: "boolean", default: false },
    dtype: { type: "string", default: "fp32" },
  },
});
const what = args.what as WorkloadShape["what"];
if (!["infer", "finetune", "finetune-token", "pretrain"].includes(what)) throw new Error(`--what must be infer, finetune, finetune-token or pretrain, got ${what}`);
const B = Number(args.batch), T = Number(args.seq), steps = Number(args.steps);
setThreads(Number(args.threads));

const shape: WorkloadShape = {
  what, disc: parseConfig(SMALL), gen: parseConfig(SMALL_GENERATOR), B, T, labels: what === "finetune-token" ? 9 : 2, masked: Math.round(0.15 * B * T),
};
const gemms = workloadGemms(shape);
const train = what !== "infer";
if (args.dtype !== "fp32" && args.dtype !== "int8") throw new Error(`--dtype must be fp32 or int8, got ${args.dtype}`);
const int8 = args.dtype === "int8";
if (int8 && (train || args.sgemm)) throw new Error("--dtype int8 times inference's int8 layer: only with --what infer, without --sgemm");
const packed = !train && !args.sgemm && !int8;
/** an aligned array filled in place (map would return a fresh, unaligned one) */
const filled = (n: number, f: (i: number) => number) => {
  const a = alignedFloat32(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
};
const buffers = gemms.map((g) => ({
  // 64-byte aligned, as the model's arena hands out
  g, inp: filled(g.N * g.IC, (i) => Math.sin(i)), weight: filled(g.OC * g.IC, (i) => Math.cos(i) * 0.02),
  out: alignedFloat32(g.N * g.OC), dinp: alignedFloat32(g.N * g.IC), dweight: alignedFloat32(g.OC * g.IC),
})).map((b) => {
  const q = int8 ? quantizeWeight(b.weight, b.g.OC, b.g.IC) : null;
  return { ...b, packed: packed ? packWeights(b.weight, b.g.OC, b.g.IC) : null, int8: q ? int8PackWeights(q.q, q.scale, b.g.OC, b.g.IC) : null };
});
const once = () => {
  for (const b of buffers) {
    if (b.int8) int8LinearForward(b.out, b.inp, b.int8, null, b.g.N, b.g.IC, b.g.OC);
    else if (b.packed) packedLinearForward(b.out, b.inp, b.packed, null, b.g.N, b.g.IC, b.g.OC);
    else matmulForward(b.out, b.inp, b.weight, null, b.g.N, b.g.IC, b.g.OC);
    if (train) matmulBackward(b.dinp, b.dweight, null, b.out, b.inp, b.weight, b.g.N, b.g.IC, b.g.OC);
  }
};
const { median } = stepTimes(once, steps, 1);
const flops = gemms.reduce((s, g) => s + gemmFlops(g), 0) * (train ? 3 : 1);
console.log(JSON.stringify({ impl: `${int8 ? "int8_linear_forward" : packed ? "packed_linear_forward" : "sgemm"} on the workload's shapes`, what, batch: B, seq: T, threads: getThreads(), gemms: gemms.length * (train ? 3 : 1), seconds: +median.toFixed(5), gflops_per_second: +(flops / median / 1e9).toFixed(1) }));
