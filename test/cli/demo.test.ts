/**
 * The built-in demo end to end at a small size: pretraining, curves, the two Hugging Face folders, then the
 * generated fine-tuning task from the pretrained discriminator and from random weights, with the scores printed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSafetensors } from "../../src/io/safetensors.js";
import { toFloat32 } from "../../src/io/tensor-data.js";
import { discriminatorPriorBias } from "../../src/train/pretrain.js";

const cli = join(process.cwd(), "dist", "src", "cli", "main.js");

test("electra demo pretrains, draws the curves, fine-tunes both ways and prints the scores", { timeout: 300_000 }, () => {
  const out = join(mkdtempSync(join(tmpdir(), "electra-demo-")), "demo");
  const r = spawnSync(process.execPath, [cli, "demo", "--out", out, "--steps", "4", "--task-examples", "64", "--threads", "2"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  for (const f of ["training.png", "training.svg", "metrics.jsonl", "discriminator/config.json", "generator/model.safetensors",
    "task/train.tsv", "task/dev.tsv", "finetuned/model/config.json", "finetuned/metrics.json", "finetuned-from-random/metrics.json"]) {
    assert.ok(existsSync(join(out, f)), `${f} missing`);
  }
  assert.ok(!existsSync(join(out, "finetuned-from-random", "model")), "the random-weights baseline keeps no model");
  const pre = JSON.parse(readFileSync(join(out, "finetuned", "metrics.json"), "utf8"));
  const rnd = JSON.parse(readFileSync(join(out, "finetuned-from-random", "metrics.json"), "utf8"));
  assert.equal(pre.init, "pretrained");
  assert.equal(rnd.init, "random");
  assert.equal(pre.seeds.length, 3);
  // the printed scores are the metrics files' medians
  const line = (label: string) => r.stdout.split("\n").find((l) => l.includes(label)) ?? "";
  assert.match(line("from the pretrained discriminator:"), new RegExp(`:\\s+${pre.median.accuracy.toFixed(3)} \\(seeds `));
  assert.match(line("from random weights:"), new RegExp(`:\\s+${rnd.median.accuracy.toFixed(3)} \\(seeds `));
  assert.match(r.stdout, /curves: .*training\.png/);
  // the fine-tuned model keeps the generated task's label names
  const cfg = JSON.parse(readFileSync(join(out, "finetuned", "model", "config.json"), "utf8"));
  assert.deepEqual(cfg.id2label, { 0: "domestic", 1: "wild" });
  assert.match(r.stdout, /\(labels: 0 = domestic, 1 = wild\)/);
});

test("pretrain starts the discriminator's output bias at the prior unless --disc-bias-init zero", { timeout: 120_000 }, () => {
  const base = mkdtempSync(join(tmpdir(), "electra-bias-"));
  const demo = spawnSync(process.execPath, [cli, "demo", "--out", join(base, "d"), "--steps", "1", "--no-finetune", "--threads", "1"], { encoding: "utf8" });
  assert.equal(demo.status, 0, demo.stderr);
  const bias = (how: string) => {
    const out = join(base, how);
    // lr 1e-12: one step moves the bias by ~1e-12, far below the tolerance
    const r = spawnSync(process.execPath, [cli, "pretrain", "--corpus", join(base, "d", "corpus", "generated.txt"), "--vocab", join(base, "d", "vocab.txt"),
      "--config", "tiny", "--steps", "1", "--lr", "1e-12", "--batch-size", "4", "--max-seq-length", "32", "--save-every", "0",
      "--disc-bias-init", how, "--out", out, "--threads", "1"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const t = readSafetensors(join(out, "discriminator", "model.safetensors")).tensors.get("discriminator_predictions.dense_prediction.bias")!;
    return toFloat32(t)[0];
  };
  assert.ok(Math.abs(discriminatorPriorBias(0.15) - Math.log(0.15 / 0.85)) < 1e-12);
  const prior = bias("prior");
  assert.ok(Math.abs(prior - Math.log(0.15 / 0.85)) < 1e-6, `prior: ${prior}`);
  assert.ok(Math.abs(bias("zero")) < 1e-6);
});
