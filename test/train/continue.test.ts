/**
 * Continued pretraining: `electra pretrain --init-from DIR` starts from DIR/discriminator and DIR/generator
 * (an earlier run's output) instead of random weights, and refuses what it cannot honour in one clear line.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syntheticVocabulary, writeSyntheticCorpus } from "../../src/data/synthetic.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { toFloat32 } from "../../src/io/tensor-data.js";
import { binaryEntropy } from "../../src/train/pretrain.js";

const cli = join(process.cwd(), "dist", "src", "cli", "main.js");
const dir = mkdtempSync(join(tmpdir(), "electra-continue-"));
writeSyntheticCorpus(join(dir, "corpus.txt"), 200, 3);
writeFileSync(join(dir, "vocab.txt"), syntheticVocabulary().join("\n") + "\n");
writeFileSync(join(dir, "config.json"), JSON.stringify({
  embedding_size: 16, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64,
}));
const common = ["--vocab", join(dir, "vocab.txt"), "--batch-size", "4", "--max-seq-length", "32", "--save-every", "0", "--threads", "1"];

function pretrain(...args: string[]) {
  const env = { ...process.env };
  delete env.ELECTRA_DEBUG;
  return spawnSync(process.execPath, [cli, "pretrain", ...common, ...args], { encoding: "utf8", timeout: 120_000, env });
}

function weights(out: string, part: string): Map<string, Float32Array> {
  const t = readSafetensors(join(out, part, "model.safetensors")).tensors;
  return new Map([...t].map(([k, v]) => [k, toFloat32(v)]));
}

/** Largest |a - b| over all tensors of both maps (which must have the same names and sizes). */
function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let d = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    assert.equal(x.length, y.length, k);
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d;
}

test("--init-from starts from the earlier run's generator and discriminator, not from random weights", { timeout: 240_000 }, () => {
  const a = join(dir, "a"), b = join(dir, "b"), c = join(dir, "c");
  let r = pretrain("--corpus", join(dir, "corpus.txt"), "--config", join(dir, "config.json"), "--generator-fraction", "0.5", "--steps", "3", "--lr", "1e-3", "--seed", "1", "--out", a);
  assert.equal(r.status, 0, r.stderr);
  // every record carries the base-rate loss of its own replaced fraction
  for (const line of readFileSync(join(a, "metrics.jsonl"), "utf8").trim().split("\n")) {
    const rec = JSON.parse(line);
    assert.ok(rec.replaced_fraction > 0 && Math.abs(rec.discriminator_base_loss - binaryEntropy(rec.replaced_fraction)) < 1e-12, line);
  }
  // one step at lr 1e-12 moves no weight by more than ~1e-11: b must equal a, and c (random weights, same seed as a) must not
  const examples = join(a, "examples.bin");
  r = pretrain("--examples", examples, "--init-from", a, "--steps", "1", "--lr", "1e-12", "--seed", "1", "--out", b);
  assert.equal(r.status, 0, r.stderr);
  r = pretrain("--examples", examples, "--config", join(dir, "config.json"), "--generator-fraction", "0.5", "--steps", "1", "--lr", "1e-12", "--seed", "1", "--out", c);
  assert.equal(r.status, 0, r.stderr);
  for (const part of ["discriminator", "generator"]) {
    assert.ok(maxDiff(weights(a, part), weights(b, part)) < 1e-8, `${part}: --init-from did not load ${a}/${part}`);
    assert.ok(maxDiff(weights(a, part), weights(c, part)) > 1e-4, `${part}: three steps at lr 1e-3 left the weights at their init`);
  }
  // the generator's shape came from the folder (fraction 0.5 -> hidden 16), not from a preset
  const genCfg = JSON.parse(readFileSync(join(b, "generator", "config.json"), "utf8"));
  assert.equal(genCfg.hidden_size, 16);
});

test("--init-from refuses --config, and a folder without generator/ or discriminator/, in one line", { timeout: 120_000 }, () => {
  const a = join(dir, "bad");
  let r = pretrain("--corpus", join(dir, "corpus.txt"), "--config", join(dir, "config.json"), "--steps", "1", "--out", a);
  assert.equal(r.status, 0, r.stderr);
  r = pretrain("--examples", join(a, "examples.bin"), "--init-from", a, "--config", "tiny", "--steps", "1", "--out", join(dir, "x"));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr.split("\n")[0], /--init-from takes both architectures from its folders; leave out --config/);
  rmSync(join(a, "generator"), { recursive: true });
  r = pretrain("--examples", join(a, "examples.bin"), "--init-from", a, "--steps", "1", "--out", join(dir, "y"));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr.split("\n")[0], /generator\/config\.json is missing/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  r = pretrain("--examples", join(a, "examples.bin"), "--init-from", join(dir, "nowhere"), "--steps", "1", "--out", join(dir, "z"));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr.split("\n")[0], /--init-from .*nowhere does not exist/);
});

test("--position-embedding-type relative_key: both models get distance tables under transformers' names; --init-from keeps them", { timeout: 240_000 }, () => {
  const a = join(dir, "rel-a"), b = join(dir, "rel-b");
  const rel = ["--config", join(dir, "config.json"), "--position-embedding-type", "relative_key", "--generator-fraction", "0.5"];
  let r = pretrain("--corpus", join(dir, "corpus.txt"), ...rel, "--steps", "3", "--lr", "1e-3", "--seed", "1", "--out", a);
  assert.equal(r.status, 0, r.stderr);
  const examples = join(a, "examples.bin");
  // (that these tables get the right gradients is the parity test's relative-key cases)
  for (const part of ["discriminator", "generator"]) {
    assert.equal(JSON.parse(readFileSync(join(a, part, "config.json"), "utf8")).position_embedding_type, "relative_key", part);
    const w = weights(a, part);
    for (const layer of [0, 1]) {
      const name = `electra.encoder.layer.${layer}.attention.self.distance_embedding.weight`;
      assert.equal(w.get(name)?.length, (2 * 64 - 1) * 16, `${part}: ${name} [2P-1, head size]`);
    }
  }
  r = pretrain("--examples", examples, "--init-from", a, "--steps", "1", "--lr", "1e-12", "--seed", "1", "--out", b);
  assert.equal(r.status, 0, r.stderr);
  for (const part of ["discriminator", "generator"]) assert.ok(maxDiff(weights(a, part), weights(b, part)) < 1e-8, part);
  r = pretrain("--examples", examples, "--init-from", a, "--position-embedding-type", "absolute", "--steps", "1", "--out", join(dir, "rel-x"));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr.split("\n")[0], /leave out --config, --generator-fraction and --position-embedding-type/);
});
