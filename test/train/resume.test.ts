/**
 * Exact resume: a pretraining run killed with SIGKILL between two checkpoints and resumed with --resume ends
 * with the same weights, bit for bit, as a run that was never interrupted (same seed, same threads); with
 * absolute positions and with relative_key (whose distance-table gradient is a reduction over threads).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pretrainScratch } from "../helpers/pretrain.js";

const cli = join(process.cwd(), "dist", "src", "cli", "main.js");

function args(out: string, dir: string, extra: string[] = []): string[] {
  return [cli, "pretrain", "--corpus", join(dir, "corpus.txt"), "--vocab", join(dir, "vocab.txt"), "--config", join(dir, "config.json"),
    "--steps", "16", "--save-every", "5", "--log-every", "1", "--out", out, "--seed", "11", "--batch-size", "6", "--max-seq-length", "32",
    "--threads", "2", ...extra];
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

async function killAndResume(positions: "absolute" | "relative_key"): Promise<void> {
  const dir = pretrainScratch("electra-resume-", { position_embedding_type: positions });
  const a = join(dir, "a"), b = join(dir, "b");
  const full = spawnSync(process.execPath, args(a, dir), { encoding: "utf8" });
  assert.equal(full.status, 0, full.stderr);

  // run b: kill it once the step-5 checkpoint exists and step 7 has been logged (mid-way to the next checkpoint)
  const child = spawn(process.execPath, args(b, dir), { stdio: "ignore" });
  let killedAt = -1;
  for (let i = 0; i < 2000 && killedAt < 0; i++) {
    await sleep(5);
    const m = join(b, "metrics.jsonl");
    if (!existsSync(m) || !existsSync(join(b, "checkpoint", "trainer-state.json"))) continue;
    const lines = readFileSync(m, "utf8").trim().split("\n").filter(Boolean);
    const last = lines.length ? JSON.parse(lines[lines.length - 1]).step : 0;
    if (last >= 7) {
      child.kill("SIGKILL");
      killedAt = last;
    }
  }
  await new Promise((r) => child.on("exit", r));
  assert.ok(killedAt >= 7 && killedAt < 16, `killed at step ${killedAt}`);
  const state = JSON.parse(readFileSync(join(b, "checkpoint", "trainer-state.json"), "utf8"));
  assert.ok(state.step >= 5 && state.step < 16, `checkpoint at step ${state.step}`);
  assert.ok(!existsSync(join(b, "discriminator")), "the killed run did not finish");

  const resumed = spawnSync(process.execPath, args(b, dir, ["--resume"]), { encoding: "utf8" });
  assert.equal(resumed.status, 0, resumed.stderr);
  for (const part of ["discriminator", "generator"]) {
    const x = readFileSync(join(a, part, "model.safetensors")), y = readFileSync(join(b, part, "model.safetensors"));
    assert.ok(x.equals(y), `${part} weights differ after resume`);
  }
  const ma = readFileSync(join(a, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const mb = readFileSync(join(b, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(mb.map((r) => r.step), ma.map((r) => r.step));
  assert.deepEqual(mb.map((r) => r.loss), ma.map((r) => r.loss));
  if (positions === "relative_key") {
    const cfg = JSON.parse(readFileSync(join(b, "discriminator", "config.json"), "utf8"));
    assert.equal(cfg.position_embedding_type, "relative_key");
  }
}

test("a run killed with SIGKILL between checkpoints and resumed ends bit-identical to an uninterrupted run", { timeout: 240_000 }, () =>
  killAndResume("absolute"));

test("the same with relative_key positions", { timeout: 240_000 }, () => killAndResume("relative_key"));
