/** The `electra inspect` / `electra convert` commands, end to end through the CLI. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readHfFolder } from "../../src/io/hf-folder.js";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { exportTensors } from "../../src/io/hf-folder.js";
import { parseConfig } from "../../src/model/config.js";
import { createModel } from "../../src/model/electra.js";
import type { TensorData } from "../../src/io/tensor-data.js";
import { writeTfCheckpoint } from "../helpers/tf-writer.js";
import { hfToTf } from "../../src/io/tf/names.js";
import { sharedPath, skipUnless } from "../helpers/paths.js";

const cli = join(process.cwd(), "dist", "src", "cli", "main.js");
const fixtures = sharedPath("reference", "fixtures");
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

test("safetensors -> .bin (zip and legacy) -> safetensors is bit-identical; inspect agrees across formats", { skip: skipUnless(fixtures) }, () => {
  const dir = mkdtempSync(join(tmpdir(), "electra-convert-"));
  const src = join(fixtures, "weights.safetensors");
  for (const legacy of [false, true]) {
    const bin = join(dir, legacy ? "legacy.bin" : "zip.bin"), back = join(dir, legacy ? "back-legacy.safetensors" : "back.safetensors");
    assert.equal(run("convert", src, bin, ...(legacy ? ["--legacy"] : [])).status, 0);
    assert.equal(run("convert", bin, back).status, 0);
    assert.ok(readFileSync(back).equals(readFileSync(src)), "round trip changed the bytes");
  }
  const lines = (f: string) => run("inspect", f).stdout.trim().split("\n").map((l) => JSON.parse(l));
  const a = lines(src), b = lines(join(fixtures, "weights-legacy.bin")), c = lines(join(fixtures, "weights-zip.bin"));
  assert.equal(a.length, 43);
  const key = (x: { name: string; dtype: string; shape: number[]; sha256: string }[]) => x.map((t) => `${t.name} ${t.dtype} ${t.shape} ${t.sha256}`).sort();
  assert.deepEqual(key(b), key(a));
  assert.deepEqual(key(c), key(a));
  for (const t of a) assert.match(t.sha256, /^[0-9a-f]{64}$/);
});

test("a TF-named ELECTRA checkpoint converts to Hugging Face folders for both parts, matching the source model", { skip: skipUnless(fixtures) }, () => {
  const dir = mkdtempSync(join(tmpdir(), "electra-tf-"));
  const fx = readSafetensors(join(fixtures, "pretraining-step.safetensors")).tensors;
  const meta = JSON.parse(readFileSync(join(fixtures, "pretraining-step.json"), "utf8"));
  const part = (p: string) => new Map([...fx].filter(([k]) => k.startsWith(`param/${p}/`)).map(([k, v]) => [k.slice(`param/${p}/`.length), v] as [string, TensorData]));
  const tf = new Map([...hfToTf(part("discriminator"), "discriminator"), ...hfToTf(part("generator"), "generator")]);
  tf.set("global_step", { dtype: "I64", shape: [], bytes: new Uint8Array(8) });
  writeTfCheckpoint(join(dir, "model.ckpt-100"), tf);
  for (const p of ["discriminator", "generator"]) {
    writeFileSync(join(dir, `${p}.json`), JSON.stringify(meta.config[p]));
    const out = join(dir, `hf-${p}`);
    const r = run("convert", join(dir, "model.ckpt-100"), out, "--part", p, "--config", join(dir, `${p}.json`));
    assert.equal(r.status, 0, r.stderr);
    const folder = readHfFolder(out);
    const want = part(p);
    for (const [name, t] of want) {
      if (name === "generator_lm_head.weight") continue;
      const got = folder.tensors.get(name);
      assert.ok(got, `${p}: ${name} missing`);
      assert.deepEqual(got.shape, t.shape, name);
      assert.ok(Buffer.from(got.bytes).equals(Buffer.from(t.bytes)), `${p}: ${name} differs`);
    }
  }
  const bad = run("convert", join(dir, "model.ckpt-100"), join(dir, "x"), "--config", join(dir, "generator.json"));
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /needs --part discriminator\|generator/);
});

test("convert and inspect fail with one clear line on bad input", () => {
  const dir = mkdtempSync(join(tmpdir(), "electra-bad-"));
  writeFileSync(join(dir, "junk.safetensors"), "not a checkpoint at all");
  const r = run("inspect", join(dir, "junk.safetensors"));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^electra: .*junk\.safetensors/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  const u = run("convert", "--bogus-flag", "a", "b");
  assert.notEqual(u.status, 0);
  assert.match(u.stderr, /unknown option '--bogus-flag'/);
  // a config naming no architecture is still checked against the encoder: a folder that cannot load is not written
  const small = { vocab_size: 10, embedding_size: 8, hidden_size: 16, num_attention_heads: 2, intermediate_size: 32, num_hidden_layers: 1, max_position_embeddings: 8 };
  const model = createModel("ElectraForPreTraining", parseConfig(small));
  writeSafetensors(join(dir, "w.safetensors"), exportTensors(model.store));
  writeFileSync(join(dir, "wrong.json"), JSON.stringify({ ...small, hidden_size: 32 }));
  const c = run("convert", join(dir, "w.safetensors"), join(dir, "folder"), "--config", join(dir, "wrong.json"));
  assert.equal(c.status, 1);
  assert.match(c.stderr, /^electra: cannot load .*w\.safetensors: the model's config says hidden_size 32; the weights have hidden_size 16/);
  assert.equal(c.stderr.trim().split("\n").length, 1, c.stderr);
  assert.equal(existsSync(join(dir, "folder")), false);
  writeFileSync(join(dir, "right.json"), JSON.stringify(small));
  const ok = run("convert", join(dir, "w.safetensors"), join(dir, "folder"), "--config", join(dir, "right.json"));
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(readHfFolder(join(dir, "folder")).tensors.size, exportTensors(model.store).size);
});
