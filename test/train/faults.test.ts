/**
 * Pretraining under SIGKILL at random points, including between the file operations of a checkpoint write
 * (ELECTRA_FAULT_KILL_AFTER=N, src/io/durable.ts, kills the process right after its N-th file operation) and
 * at random times (in a step, in a metrics write, in a plot). After each kill the run continues with
 * --resume from the newest complete checkpoint, or, when none was complete yet, starts again (--overwrite).
 * Checked: every resume starts exactly at the newest checkpoint seen on disk (nothing checkpointed is lost,
 * never a silent restart); every finished run is bit-identical (weights, metrics) to an uninterrupted one.
 * Also the refusals: a fresh start over a run, a resume with changed options, a damaged checkpoint.
 *
 * FAULT_KILLS=N sets the number of kills (default 12; `npm run test:long` runs 50, BENCHMARKS.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "../helpers/prng.js";
import { pretrainScratch } from "../helpers/pretrain.js";

const cli = join(process.cwd(), "dist", "src", "cli", "main.js");
const KILLS = Math.max(1, Number(process.env.FAULT_KILLS ?? 12) || 12);
const STEPS = 12;

const setup = () => pretrainScratch("electra-faults-");

function args(dir: string, out: string, extra: string[] = []): string[] {
  return [cli, "pretrain", "--corpus", join(dir, "corpus.txt"), "--vocab", join(dir, "vocab.txt"), "--config", join(dir, "config.json"),
    "--steps", String(STEPS), "--save-every", "2", "--log-every", "1", "--out", out, "--seed", "11", "--batch-size", "6",
    "--max-seq-length", "32", "--threads", "2", ...extra];
}

/**
 * The step of the newest committed checkpoint in OUT, found without the product's own rule: the highest step
 * among checkpoint, checkpoint.new and checkpoint.old (checkpoint.tmp is never committed); -1 when none.
 */
function checkpointStep(out: string): number {
  let best = -1;
  for (const name of ["checkpoint", "checkpoint.new", "checkpoint.old"]) {
    const p = join(out, name, "trainer-state.json");
    if (existsSync(p)) best = Math.max(best, JSON.parse(readFileSync(p, "utf8")).step);
  }
  return best;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function run(argv: string[], kill: { afterOps?: number; afterMs?: number }): Promise<Outcome> {
  const env = { ...process.env, ELECTRA_FAULT_KILL_AFTER: kill.afterOps ? String(kill.afterOps) : "" };
  const child = spawn(process.execPath, argv, { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const timer = kill.afterMs ? setTimeout(() => child.kill("SIGKILL"), kill.afterMs) : null;
  return new Promise((resolve) => child.on("close", (code, signal) => {
    if (timer) clearTimeout(timer);
    resolve({ code, signal, stderr });
  }));
}

/** The metrics that must repeat exactly (not the timings). */
function metrics(out: string): unknown[] {
  return readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => {
    const { tokens_per_second: _t, elapsed_seconds: _e, eta_seconds: _a, ...rest } = JSON.parse(l);
    return rest;
  });
}

function sameRun(ref: string, out: string, what: string): void {
  for (const part of ["discriminator", "generator"]) {
    assert.ok(readFileSync(join(ref, part, "model.safetensors")).equals(readFileSync(join(out, part, "model.safetensors"))), `${what}: ${part} weights differ`);
  }
  assert.deepEqual(metrics(out), metrics(ref), `${what}: metrics differ`);
}

test(`pretraining killed at ${KILLS} random points (in and between checkpoint writes) resumes to bit-identical results`, { timeout: 60_000 + KILLS * 15_000 }, async () => {
  const dir = setup();
  const ref = join(dir, "ref");
  const full = spawnSync(process.execPath, args(dir, ref), { encoding: "utf8" });
  assert.equal(full.status, 0, full.stderr);

  const r = mulberry32(20);
  let out = join(dir, "run0"), runs = 0, finished = 0, kills = 0, resumes = 0, restarts = 0, killed = false;
  const tally: string[] = [];
  while (kills < KILLS) {
    const ck = checkpointStep(out);
    const extra = ck >= 0 ? ["--resume"] : existsSync(join(out, "metrics.jsonl")) ? ["--overwrite"] : [];
    // half the kills at a file operation (a run does ~250), half at a time in the process's life (~1 s)
    const kill = r() < 0.5 ? { afterOps: 1 + Math.floor(r() * 260) } : { afterMs: 150 + Math.floor(r() * 1000) };
    const o = await run(args(dir, out, extra), kill);
    runs++;
    if (ck >= 0) {
      resumes++;
      // a run killed before it read the checkpoint says nothing; any other says where it resumed
      const at = /resuming from step (\d+) /.exec(o.stderr);
      if (at || o.signal !== "SIGKILL") assert.equal(Number(at?.[1]), ck, `run ${runs} should resume at the newest checkpoint, step ${ck}:\n${o.stderr}`);
    } else if (killed) restarts++;
    killed = o.signal === "SIGKILL";
    if (o.signal === "SIGKILL") {
      kills++;
      const after = checkpointStep(out);
      assert.ok(after >= ck, `run ${runs}: the checkpoint went back from step ${ck} to ${after}`);
      tally.push(`${"afterOps" in kill ? `op ${kill.afterOps}` : `${kill.afterMs} ms`}: step ${ck} -> ${after}`);
      continue;
    }
    assert.equal(o.code, 0, `run ${runs} failed:\n${o.stderr}`);
    sameRun(ref, out, `run ${runs} (after ${kills} kills)`);
    finished++;
    out = join(dir, `run${finished}`);
  }
  // the last chain, to its end without kills
  for (;;) {
    const ck = checkpointStep(out);
    const extra = ck >= 0 ? ["--resume"] : existsSync(join(out, "metrics.jsonl")) ? ["--overwrite"] : [];
    const o = await run(args(dir, out, extra), {});
    assert.equal(o.code, 0, o.stderr);
    if (ck >= 0) assert.match(o.stderr, new RegExp(`resuming from step ${ck} `));
    sameRun(ref, out, `final run (after ${kills} kills)`);
    finished++;
    break;
  }
  console.log(`# faults: ${kills} kills in ${runs} runs (${resumes} resumes, ${restarts} restarts before any checkpoint), ${finished} finished runs, all bit-identical to the uninterrupted one`);
  console.log(`# faults: ${tally.join("; ")}`);
  rmSync(dir, { recursive: true, force: true });
});

test("refusals: a fresh start over a run, a resume with changed options or without a checkpoint, a damaged checkpoint", { timeout: 120_000 }, () => {
  const dir = setup();
  const out = join(dir, "a");
  const go = (extra: string[], over: string[] = []) => {
    const a = args(dir, out, extra);
    for (let i = 0; i < over.length; i += 2) a[a.indexOf(over[i]) + 1] = over[i + 1];
    return spawnSync(process.execPath, a, { encoding: "utf8" });
  };
  const oneLine = (r: ReturnType<typeof go>, includes: RegExp) => {
    assert.notEqual(r.status, 0);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], includes);
  };
  oneLine(go(["--resume"]), /--resume: .*checkpoint does not exist, there is nothing to resume/);
  assert.equal(go([]).status, 0);
  const before = readFileSync(join(out, "checkpoint", "trainer-state.json"));
  oneLine(go([]), /already holds a pretraining run \(checkpoint, metrics\.jsonl, discriminator, generator\): continue it with --resume, or start again with --overwrite/);
  oneLine(go(["--resume"], ["--steps", "24"]), /--resume: --steps 12 -> 24, --warmup 2 -> 3 \(saved in .*trainer-state\.json -> given now\): use the saved values, or --resume-force/);
  oneLine(go(["--resume"], ["--seed", "3", "--batch-size", "8"]), /--batch-size 6 -> 8, --seed 11 -> 3/);
  oneLine(go(["--resume"], ["--max-seq-length", "16"]), /--resume: --max-seq-length 32 -> 16 \(saved in .*\): these cannot change within a run; start a new run/);
  assert.ok(readFileSync(join(out, "checkpoint", "trainer-state.json")).equals(before), "a refused resume changed the checkpoint");
  // damaged: one byte of the optimizer state, then the state file itself
  const opt = join(out, "checkpoint", "optimizer.safetensors");
  const good = readFileSync(opt);
  const bad = Buffer.from(good);
  bad[bad.length - 3] ^= 0x10;
  writeFileSync(opt, bad);
  oneLine(go(["--resume"]), /optimizer\.safetensors does not match its checksum in .*trainer-state\.json .*: the checkpoint is damaged/);
  writeFileSync(opt, good);
  const state = join(out, "checkpoint", "trainer-state.json");
  writeFileSync(state, before.toString().replace(/"optimizerStep": \d+/, '"optimizerStep": -1'));
  oneLine(go(["--resume"]), /trainer-state\.json: optimizerStep: /);
  writeFileSync(state, before.subarray(0, 100));
  oneLine(go(["--resume"]), /trainer-state\.json is not valid JSON .*: the checkpoint is damaged/);
  // counters a run never writes, and a loader position for another example file: refused, and refused before
  // metrics.jsonl is cut back (a line past the checkpoint, as a kill after step 13 leaves, must survive)
  const edit = (f: (st: { step: number; optimizerStep: number; loader: { cursor: number; examples: number; rngState: number[] } }) => void) => {
    const st = JSON.parse(before.toString());
    f(st);
    writeFileSync(state, JSON.stringify(st));
  };
  const metricsFile = join(out, "metrics.jsonl");
  const lines = readFileSync(metricsFile, "utf8");
  const extra = lines + lines.trim().split("\n").at(-1)!.replace(/"step":\s*12/, '"step":13') + "\n";
  writeFileSync(metricsFile, extra);
  edit((st) => (st.step = 5));
  oneLine(go(["--resume"]), /trainer-state\.json: optimizerStep 12 differs from step 5 \(one update per step\): the checkpoint is damaged/);
  edit((st) => (st.step = st.optimizerStep = 100));
  oneLine(go(["--resume"]), /trainer-state\.json: step 100 is past the run's 12 steps: the checkpoint is damaged/);
  edit((st) => (st.loader.rngState = [0, 0, 0, 0]));
  oneLine(go(["--resume"]), /trainer-state\.json: loader\.rngState is all zeros/);
  edit((st) => (st.loader.examples = st.loader.cursor + 1000));
  oneLine(go(["--resume"]), /trainer-state\.json: loader: the saved position is for \d+ examples, the file .*examples\.bin has \d+: the checkpoint does not fit the example file/);
  assert.equal(readFileSync(metricsFile, "utf8"), extra, "a refused resume changed metrics.jsonl");
  writeFileSync(metricsFile, lines);
  writeFileSync(state, before);
  // forced: the changes are listed and the run continues from the saved step
  const forced = go(["--resume", "--resume-force"], ["--steps", "14"]);
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(forced.stderr, /resuming from step 12 \(.*\) with --steps 12 -> 14; the schedule continues from step 12/);
  const last = metrics(out).at(-1) as { step: number };
  assert.equal(last.step, 14);
  // --overwrite starts again from nothing
  const again = go(["--overwrite"]);
  assert.equal(again.status, 0, again.stderr);
  assert.equal((metrics(out).at(-1) as { step: number }).step, 12);
  rmSync(dir, { recursive: true, force: true });
});
