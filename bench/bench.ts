/**
 * Times ELECTRA-Small workloads, the same ones ../shared/reference/electra_ref.py times in PyTorch:
 *   infer     sequence-classification forward (no dropout, no tape kept beyond the arena)
 *   finetune  forward + cross-entropy + backward + clipping (1.0) + AdamW, dropout on
 *   finetune-token  the same step for ElectraForTokenClassification (9 tags at every position, as CoNLL-2003 NER);
 *             the reference has no token workload: --compare times its `finetune`, the figure issue 16 compares to
 *   pretrain  generator (1/4 width) on the masked input + Gumbel sampling + discriminator + both backward
 *             passes + clipping + AdamW, embeddings shared
 * and prints one JSON line (tokens_per_second, seconds_per_step = the median of --steps timed steps after
 * --warmup untimed ones (default 2), p50 / p99 of the steps, peak RSS). A fresh process's p99 at B=1 is V8
 * compiling the pass in its first few hundred runs; `--warmup 300` times the steady state a server reaches after
 * `electra serve --warmup` (BENCHMARKS.md, tail latency). With --compare, runs the PyTorch reference right after,
 * in the same process tree and on the same threads, and adds its figures and the ratio.
 * `--dtype int8` (infer): the encoder's Linear layers in dynamic int8 (src/model/quantize.ts), their weights
 * made as int8 directly (a float32 copy of them never resident, as when a quantized folder loads).
 *
 *   npm run bench -- --what infer|finetune|finetune-token|pretrain [--batch 8] [--seq 128] [--threads 2] [--steps 5] [--warmup 2] [--dtype fp32|int8] [--compare]
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { native, setThreads, getThreads } from "../src/core/native.js";
import { Rng } from "../src/core/rng.js";
import { parseConfig } from "../src/model/config.js";
import { createModel, RunContext, type Batch, ElectraForSequenceClassification } from "../src/model/electra.js";
import { crossEntropyLoss } from "../src/model/losses.js";
import { initParams } from "../src/model/params.js";
import { attachInt8, parseDtype } from "../src/model/quantize.js";
import { quantizeWeight } from "../src/io/quantized.js";
import { AdamW, clipGradNorm } from "../src/train/optimizer.js";
import { RtdModel } from "../src/train/rtd.js";
import { workloadFlops } from "./flops.js";
import { SMALL, SMALL_GENERATOR, stepTimes } from "./sizes.js";

const MASK_ID = 103;

const { values: args } = parseArgs({
  options: {
    what: { type: "string", default: "infer" },
    batch: { type: "string", default: "8" },
    seq: { type: "string", default: "128" },
    threads: { type: "string", default: "2" },
    steps: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    compare: { type: "boolean", default: false },
    // the reference's OpenMP spin: PyTorch's default, or the GOMP_SPINCOUNT electra-ts sets for itself (BENCHMARKS.md, issue 18)
    "peer-spin": { type: "string", default: "default" },
    dtype: { type: "string", default: "fp32" },
  },
});
const what = args.what!;
const B = Number(args.batch), T = Number(args.seq), threads = Number(args.threads), steps = Number(args.steps);
if (!/^\d+$/.test(args.warmup!)) throw new Error(`--warmup must be a whole number of steps, got "${args.warmup}"`);
const warmup = Number(args.warmup);
if (!["infer", "finetune", "finetune-token", "pretrain"].includes(what)) throw new Error(`--what must be infer, finetune, finetune-token or pretrain, got ${what}`);
const dtype = parseDtype(args.dtype!);
if (dtype === "int8" && what !== "infer") throw new Error("--dtype int8 is for --what infer (int8 models run inference only)");
// the environment before the addon loads (src/core/native.ts then sets GOMP_SPINCOUNT for this process)
const peerEnv = { ...process.env };
if (args["peer-spin"] !== "default" && args["peer-spin"] !== "same") throw new Error(`--peer-spin must be default or same, got ${args["peer-spin"]}`);
setThreads(threads);
if (args["peer-spin"] === "same" && process.env.GOMP_SPINCOUNT !== undefined) peerEnv.GOMP_SPINCOUNT = process.env.GOMP_SPINCOUNT;

const rng = new Rng(0);
const N = B * T;
const batch: Batch = {
  B, T,
  inputIds: Int32Array.from({ length: N }, () => rng.randint(1000, 29999)),
  tokenTypeIds: new Int32Array(N),
  attentionMask: new Int32Array(N).fill(1),
};

function makeStep(): () => void {
  if (what === "finetune-token") {
    const L = 9;
    const model = createModel("ElectraForTokenClassification", parseConfig({ ...SMALL, num_labels: L }));
    initParams(model.store, 0.02, 1);
    const ctx = new RunContext({ train: true, seed: 1 });
    // as real data: [CLS], [SEP] and continuation pieces carry no label (-100)
    const labels = Int32Array.from({ length: N }, (_, i) => (i % T === 0 || i % T === T - 1 || rng.uniform() < 0.3 ? -100 : rng.randint(0, L - 1)));
    const opt = new AdamW(model.store, { weightDecay: 0.01, biasCorrection: true });
    return () => {
      ctx.arena.reset();
      model.store.zeroGrad();
      const out = model.forward(ctx, batch);
      const loss = crossEntropyLoss(ctx, out.logits, labels, N, L);
      model.backward(ctx, out, loss.dlogits);
      clipGradNorm(model.store.grad, 1.0);
      opt.update(1e-4);
    };
  }
  if (what === "infer" || what === "finetune") {
    const cfg = parseConfig({ ...SMALL, num_labels: 2 });
    const model = createModel("classifier", cfg) as ElectraForSequenceClassification;
    if (dtype === "int8") {
      const linear = new Set(model.encoder.linearGroups().flat());
      initParams(model.store, cfg.initializer_range, 1, new Map(), (n) => !linear.has(n));
      attachInt8(model, (name) => {
        const [OC, IC] = model.store.spec(name).shape;
        return quantizeWeight(Float32Array.from({ length: OC * IC }, () => rng.normal() * cfg.initializer_range), OC, IC);
      });
    } else {
      initParams(model.store, cfg.initializer_range, 1);
      if (what === "infer") model.encoder.packForInference(); // as Electra.load does
    }
    const ctx = new RunContext({ train: what === "finetune", seed: 1, tape: what !== "infer" });
    if (what === "infer") {
      return () => {
        ctx.arena.reset();
        model.forward(ctx, batch);
      };
    }
    const labels = Int32Array.from({ length: B }, () => rng.randint(0, 1));
    const opt = new AdamW(model.store, { weightDecay: 0.01, biasCorrection: true });
    return () => {
      ctx.arena.reset();
      model.store.zeroGrad();
      const out = model.forward(ctx, batch);
      const loss = crossEntropyLoss(ctx, out.logits, labels, B, 2);
      model.backward(ctx, out, loss.dlogits);
      clipGradNorm(model.store.grad, 1.0);
      opt.update(1e-4);
    };
  }
  const rtd = new RtdModel(parseConfig(SMALL), parseConfig(SMALL_GENERATOR));
  initParams(rtd.store, 0.02, 1);
  const ctx = new RunContext({ train: true, seed: 1 });
  const opt = new AdamW(rtd.store, { weightDecay: 0.01 });
  return () => {
    ctx.arena.reset();
    rtd.store.zeroGrad();
    const rows: number[] = [];
    const genIn = Int32Array.from(batch.inputIds);
    for (let i = 0; i < N; i++) if (rng.uniform() < 0.15) {
      rows.push(i);
      genIn[i] = MASK_ID;
    }
    rtd.step(ctx, { batch, generatorInputIds: genIn, maskedRows: Int32Array.from(rows) });
    clipGradNorm(rtd.store.grad, 1.0);
    opt.update(5e-4);
  };
}

const { median, p99 } = stepTimes(makeStep(), steps, warmup);
const result: Record<string, unknown> = {
  impl: "electra-ts", what, dtype, batch: B, seq: T, threads: getThreads(), warmup_steps: warmup, seconds_per_step: +median.toFixed(5),
  p50_seconds: +median.toFixed(5), p99_seconds: +p99.toFixed(5),
  tokens_per_second: +(N / median).toFixed(1), peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  // the matrix products' FLOPs per step (bench/flops.ts) over the step time; bench/gemm.ts gives the rate to compare with
  gflops_per_second: +(workloadFlops({ what: what as "infer", disc: parseConfig(SMALL), gen: parseConfig(SMALL_GENERATOR), B, T, labels: what === "finetune-token" ? 9 : 2, masked: Math.round(0.15 * N) }) / median / 1e9).toFixed(1),
  isa: native.isa(), ...(dtype === "int8" ? { int8_kernel: native.int8_kernel() } : {}),
};

if (args.compare) {
  const ref = resolve(process.cwd(), "..", "shared", "reference", "electra_ref.py");
  if (!existsSync(ref)) {
    result.reference = `skipped: ${ref} is absent`;
  } else {
    const refWhat = what === "finetune-token" ? "finetune" : what;
    const r = spawnSync("/usr/bin/python3", [ref, "bench", "--what", refWhat, "--batch", String(B), "--seq", String(T), "--threads", String(threads), "--steps", String(steps)],
      { encoding: "utf8", env: peerEnv });
    const line = r.stdout.trim().split("\n").pop() ?? "";
    try {
      const ref = JSON.parse(line) as { tokens_per_second: number; seconds_per_step: number };
      result.reference = { ...ref, warmup_steps: 2 }; // electra_ref.py bench: 2 warm-up steps, not settable
      result.ratio = +((result.tokens_per_second as number) / ref.tokens_per_second).toFixed(2);
    } catch {
      result.reference = `failed: ${(r.stderr || line).trim().split("\n").pop()}`;
    }
  }
}
console.log(JSON.stringify(result));
