/**
 * The README's JavaScript example runs as written: it is copied verbatim into a scratch folder that has
 * ./dist (a link to the build) and small models at runs/demo/discriminator and runs/demo/generator (what the
 * Quickstart's demo leaves there, here with random weights and the demo's vocabulary), then run with node.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syntheticVocabulary } from "../src/data/synthetic.js";
import { saveHfFolder } from "../src/io/hf-folder.js";
import { parseConfig } from "../src/model/config.js";
import { createModel } from "../src/model/electra.js";
import { initParams } from "../src/model/params.js";
import { PRESETS } from "../src/train/pretrain.js";

test("the README's library example runs as written", () => {
  const readme = readFileSync("README.md", "utf8");
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 1, "the README has a js example");
  const dir = mkdtempSync(join(tmpdir(), "electra-readme-"));
  symlinkSync(join(process.cwd(), "dist"), join(dir, "dist"));
  const vocab = join(dir, "vocab.txt");
  writeFileSync(vocab, syntheticVocabulary().join("\n") + "\n");
  // the demo's sizes: the tiny preset with the demo's vocabulary and 64 positions
  const cfg = parseConfig({ ...PRESETS.tiny.model, vocab_size: syntheticVocabulary().length });
  for (const [kind, arch] of [["discriminator", "ElectraForPreTraining"], ["generator", "ElectraForMaskedLM"]] as const) {
    const m = createModel(kind, cfg);
    initParams(m.store, 0.02, 1);
    saveHfFolder(join(dir, "runs", "demo", kind), m.store, cfg, { architecture: arch, tokenizerFiles: [vocab] });
  }
  blocks.forEach((code, i) => {
    writeFileSync(join(dir, `example${i}.mjs`), code);
    const r = spawnSync(process.execPath, [`example${i}.mjs`], { cwd: dir, encoding: "utf8", env: { ...process.env, ELECTRA_THREADS: "1" } });
    assert.equal(r.status, 0, `README example ${i} failed:\n${r.stderr}`);
    assert.match(r.stdout, /^the:0\.\d\d loyal:0\.\d\d dog:0\.\d\d barks:/);
    assert.match(r.stdout, /\n128\n$/);
  });
});
