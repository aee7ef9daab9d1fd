/**
 * Data-parallel pretraining on this machine (issue 19, BENCHMARKS.md): the same run (ELECTRA-Small's shapes, the
 * vocabulary padded to 30522 entries, global batch 2 x B of 128 tokens, the same steps) as
 *   one process x 2 threads, batch 2B     (shared-memory threads)
 *   mpirun -np 2 x 1 thread, batch B      (two ranks, gradients summed by MPI_Allreduce), and the same with the
 *                                         discriminator's gradients reduced during the generator's backward pass
 *   one process x 1 thread, batch B       (one rank's compute alone: the figure the scaling estimate starts from)
 * and the all-reduce alone over the model's gradient buffer (mpirun -np 2, 1 thread). Prints one JSON line each.
 *
 *   npm run build && node dist/bench/mpi.js [--batch 8] [--steps 12] [--config small]
 *   (as root: OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
 * Internal: node dist/bench/mpi.js --allreduce N (under mpirun) times the sum of N floats.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getWorld } from "../src/core/mpi.js";
import { syntheticVocabulary, writeSyntheticCorpus } from "../src/data/synthetic.js";
import { parseConfig } from "../src/model/config.js";
import { generatorConfig, PRESETS } from "../src/train/pretrain.js";
import { RtdModel } from "../src/train/rtd.js";

const { values: a } = parseArgs({
  options: { batch: { type: "string", default: "8" }, steps: { type: "string", default: "12" }, config: { type: "string", default: "small" }, allreduce: { type: "string" } },
});
const cli = join(process.cwd(), "dist", "src", "cli", "main.js");

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

if (a.allreduce) {
  // under mpirun: the sum of N floats, 7 times after a barrier each, the median
  const world = getWorld();
  const buf = new Float32Array(Number(a.allreduce)).fill(1);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    world.sum([new Float64Array(1)], "barrier");
    const t = performance.now();
    for (let o = 0; o < buf.length; o += 1 << 22) world.startSum(buf.subarray(o, Math.min(o + (1 << 22), buf.length)));
    world.wait("all-reduce");
    times.push((performance.now() - t) / 1000);
  }
  if (world.rank === 0) console.log(JSON.stringify({ what: "allreduce", floats: buf.length, megabytes: (buf.length * 4) / 1e6, seconds: median(times) }));
  const { endWorld } = await import("../src/core/mpi.js");
  endWorld();
} else {
  const B = Number(a.batch), steps = Number(a.steps);
  const dir = mkdtempSync(join(tmpdir(), "electra-mpi-bench-"));
  writeSyntheticCorpus(join(dir, "corpus.txt"), 3000, 1);
  // the real vocabulary's size, so that the embeddings (and the gradient buffer) have ELECTRA-Small's size
  const vocab = syntheticVocabulary();
  for (let i = vocab.length; i < 30522; i++) vocab.push(`[unused${i}]`);
  writeFileSync(join(dir, "vocab.txt"), vocab.join("\n") + "\n");
  const disc = parseConfig({ ...PRESETS[a.config!].model, vocab_size: vocab.length });
  const params = new RtdModel(disc, generatorConfig(disc, PRESETS[a.config!].generatorFraction)).store.size;
  const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1", OMPI_MCA_rmaps_base_oversubscribe: "1", OMPI_MCA_btl: "self,vader" };
  const base = (out: string, batch: number, threads: number) => [cli, "pretrain", "--corpus", join(dir, "corpus.txt"), "--vocab", join(dir, "vocab.txt"),
    "--config", a.config!, "--steps", String(steps), "--save-every", "0", "--log-every", "1", "--seed", "1", "--max-seq-length", "128",
    "--batch-size", String(batch), "--threads", String(threads), "--out", join(dir, out), "--overwrite"];
  const ranks = (out: string) => ["-np", "2", "--bind-to", "core", process.execPath, ...base(out, B, 1)];
  const runs: [string, string, string[], Record<string, string>][] = [
    ["1 process x 2 threads", process.execPath, base("threads", 2 * B, 2), {}],
    ["2 ranks x 1 thread", "mpirun", ranks("ranks"), {}],
    ["2 ranks x 1 thread, overlapped (ELECTRA_MPI_OVERLAP=1)", "mpirun", ranks("overlap"), { ELECTRA_MPI_OVERLAP: "1" }],
    ["1 process x 1 thread (one rank's compute)", process.execPath, base("one", B, 1), {}],
  ];
  for (const [what, cmd, argv, more] of runs) {
    const r = spawnSync(cmd, argv, { env: { ...env, ...more }, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${what} failed:\n${r.stderr}`);
    const out = argv[argv.indexOf("--out") + 1];
    const recs = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const timed = recs.slice(2); // two warm-up steps
    const stepSeconds = timed.map((x, i) => x.elapsed_seconds - (i ? timed[i - 1] : recs[1]).elapsed_seconds);
    console.log(JSON.stringify({
      what, global_batch: recs[0].global_batch_size, params, gradient_megabytes: (params * 4) / 1e6,
      tokens_per_second: Math.round(median(timed.map((x) => x.tokens_per_second))), seconds_per_step: +median(stepSeconds).toFixed(3),
      ...(recs[0].allreduce_seconds !== undefined ? { allreduce_seconds_per_step: +median(timed.map((x) => x.allreduce_seconds)).toFixed(4) } : {}),
      final_loss: recs[recs.length - 1].loss,
    }));
  }
  const ar = spawnSync("mpirun", ["-np", "2", "--bind-to", "core", process.execPath, join(process.cwd(), "dist", "bench", "mpi.js"), "--allreduce", String(params)], { env, encoding: "utf8" });
  if (ar.status !== 0) throw new Error(`allreduce failed:\n${ar.stderr}`);
  process.stdout.write(ar.stdout);
}
