// Probe (not part of the product): two builds of electra-ts in one process, their passes interleaved, so that the
// host's noise (on these shared machines the same binary runs 1.3x apart an hour apart) hits both alike; prints
// each side's median and the median of the pairwise ratios (old / new: above 1, the new build is faster). Used for
// BENCHMARKS.md (issue 18, sixth session). Both roots built (`node-gyp rebuild && npx tsc -p .`), e.g. the previous
// commit in a second worktree (`git worktree add /work/old HEAD~1`, its node_modules linked to this one's):
//   node research/ab-forward.mjs OLD_ROOT NEW_ROOT forward|attention B T THREADS PAIRS [fp32|int8]
// forward: ELECTRA-Small classification, tape-less, packed weights (as bench/bench.ts --what infer);
// attention: attention_infer alone on one layer's shapes (C 256, 4 heads).
// The model is built here as bench/bench.ts builds its infer workload, not by a helper of bench/: each root's own
// code is loaded, and a helper added now would be missing from the older commits this probe compares against.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [oldRoot, newRoot, what, B, T, threads, pairs, dtype = "fp32"] = process.argv.slice(2);
const whole = (x) => /^[1-9]\d*$/.test(x ?? "");
if (!newRoot || !["forward", "attention"].includes(what) || ![B, T, threads, pairs].every(whole) || !["fp32", "int8"].includes(dtype)) {
  console.error("usage: node research/ab-forward.mjs OLD_ROOT NEW_ROOT forward|attention B T THREADS PAIRS [fp32|int8]");
  process.exit(2);
}

async function side(root) {
  const m = async (p) => import(pathToFileURL(resolve(root, "dist", p)).href);
  const { setThreads } = await m("src/core/native.js");
  setThreads(+threads);
  const { Rng } = await m("src/core/rng.js");
  const rng = new Rng(0), N = +B * +T;
  if (what === "attention") {
    const ops = await m("src/core/ops.js");
    const C = 256, NH = 4;
    const qkv = Float32Array.from({ length: N * 3 * C }, () => rng.normal()), mb = new Float32Array(N), o = new Float32Array(N * C);
    return () => ops.attentionInfer(o, qkv, mb, +B, +T, C, NH);
  }
  const { parseConfig } = await m("src/model/config.js");
  const { createModel, RunContext } = await m("src/model/electra.js");
  const { initParams } = await m("src/model/params.js");
  const { attachInt8 } = await m("src/model/quantize.js");
  const { quantizeWeight } = await m("src/io/quantized.js");
  const { SMALL } = await m("bench/sizes.js");
  const batch = { B: +B, T: +T, inputIds: Int32Array.from({ length: N }, () => rng.randint(1000, 29999)), tokenTypeIds: new Int32Array(N), attentionMask: new Int32Array(N).fill(1) };
  const cfg = parseConfig({ ...SMALL, num_labels: 2 });
  const model = createModel("classifier", cfg);
  if (dtype === "int8") {
    const linear = new Set(model.encoder.linearGroups().flat());
    initParams(model.store, cfg.initializer_range, 1, new Map(), (n) => !linear.has(n));
    attachInt8(model, (name) => {
      const [OC, IC] = model.store.spec(name).shape;
      return quantizeWeight(Float32Array.from({ length: OC * IC }, () => rng.normal() * cfg.initializer_range), OC, IC);
    });
  } else {
    initParams(model.store, cfg.initializer_range, 1);
    model.encoder.packForInference();
  }
  const ctx = new RunContext({ train: false, seed: 1, tape: false });
  return () => { ctx.arena.reset(); model.forward(ctx, batch); };
}

const a = await side(oldRoot), b = await side(newRoot);
// warm-up: V8 compiles a pass over its first few hundred runs (bench/bench.ts, --warmup)
for (let i = 0; i < (+B * +T <= 256 ? 300 : 5); i++) a(), b();
const ta = [], tb = [];
for (let i = 0; i < +pairs; i++) {
  for (const [f, ts] of i % 2 ? [[a, ta], [b, tb]] : [[b, tb], [a, ta]]) {
    const t = performance.now();
    f();
    ts.push(performance.now() - t);
  }
}
const median = (x) => [...x].sort((p, q) => p - q)[x.length >> 1];
console.log(JSON.stringify({ what, dtype, B: +B, T: +T, threads: +threads, pairs: +pairs, old_ms: +median(ta).toFixed(3), new_ms: +median(tb).toFixed(3), old_over_new: +median(ta.map((x, i) => x / tb[i])).toFixed(3) }));
