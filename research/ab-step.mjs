// Probe (not part of the product): a training step of ELECTRA-Small at 8 x 128, 2 threads (as bench/bench.ts
// builds it), timed with the environment variable VAR unset and set, alternating step by step in one process
// (which goes first alternating too), for a probe build whose native code reads VAR on each call (getenv):
// the host's noise then hits both sides alike. Prints each side's mean and the median of the pairwise ratios
// (unset / set: above 1, the variant under VAR is faster). Used for BENCHMARKS.md (issue 18, 2026-12-03, third
// session: BLIS through dlopen, the backward products side by side).
//   node research/ab-step.mjs finetune|pretrain VAR PAIRS
import { setThreads } from "../dist/src/core/native.js";
import { Rng } from "../dist/src/core/rng.js";
import { parseConfig } from "../dist/src/model/config.js";
import { createModel, RunContext } from "../dist/src/model/electra.js";
import { crossEntropyLoss } from "../dist/src/model/losses.js";
import { initParams } from "../dist/src/model/params.js";
import { AdamW, clipGradNorm } from "../dist/src/train/optimizer.js";
import { RtdModel } from "../dist/src/train/rtd.js";
import { SMALL, SMALL_GENERATOR } from "../dist/bench/sizes.js";
const [what = "finetune", v = "EXP_CONC", pairsS = "20"] = process.argv.slice(2);
const pairs = Number(pairsS);
setThreads(2);
const rng = new Rng(0), B = 8, T = 128, N = B * T;
const batch = { B, T, inputIds: Int32Array.from({ length: N }, () => rng.randint(1000, 29999)), tokenTypeIds: new Int32Array(N), attentionMask: new Int32Array(N).fill(1) };
let step;
if (what === "finetune") {
  const model = createModel("classifier", parseConfig({ ...SMALL, num_labels: 2 }));
  initParams(model.store, 0.02, 1);
  const ctx = new RunContext({ train: true, seed: 1 });
  const labels = Int32Array.from({ length: B }, () => rng.randint(0, 1));
  const opt = new AdamW(model.store, { weightDecay: 0.01, biasCorrection: true });
  step = () => { ctx.arena.reset(); model.store.zeroGrad(); const out = model.forward(ctx, batch); const loss = crossEntropyLoss(ctx, out.logits, labels, B, 2); model.backward(ctx, out, loss.dlogits); clipGradNorm(model.store.grad, 1.0); opt.update(1e-4); };
} else {
  const rtd = new RtdModel(parseConfig(SMALL), parseConfig(SMALL_GENERATOR));
  initParams(rtd.store, 0.02, 1);
  const ctx = new RunContext({ train: true, seed: 1 });
  const opt = new AdamW(rtd.store, { weightDecay: 0.01 });
  step = () => { ctx.arena.reset(); rtd.store.zeroGrad(); const rows = []; const genIn = Int32Array.from(batch.inputIds);
    for (let i = 0; i < N; i++) if (rng.uniform() < 0.15) { rows.push(i); genIn[i] = 103; }
    rtd.step(ctx, { batch, generatorInputIds: genIn, maskedRows: Int32Array.from(rows) }); clipGradNorm(rtd.store.grad, 1.0); opt.update(5e-4); };
}
const time = () => { const t = process.hrtime.bigint(); step(); return Number(process.hrtime.bigint() - t) / 1e6; };
for (let i = 0; i < 2; i++) time();
const r = []; let ta = 0, tb = 0;
for (let i = 0; i < pairs; i++) {
  const first = i % 2;
  let a, b;
  if (first) { delete process.env[v]; a = time(); process.env[v] = "1"; b = time(); }
  else { process.env[v] = "1"; b = time(); delete process.env[v]; a = time(); }
  r.push(a / b); ta += a; tb += b;
}
r.sort((x, y) => x - y);
console.log(JSON.stringify({ what, var: v, unset_ms: +(ta / pairs).toFixed(1), set_ms: +(tb / pairs).toFixed(1), median_unset_over_set: +r[pairs >> 1].toFixed(3) }));
