/**
 * Parity with the PyTorch reference (../shared/reference/electra_ref.py): for every case in
 * $ELECTRA_FIXTURES (default ../shared/reference/fixtures; a case is NAME.json + NAME.safetensors), load the
 * weights and inputs, run forward and backward with dropout off, and compare every hidden state, the logits,
 * the loss, every parameter gradient, and every parameter after one AdamW step.
 * Outputs: 1e-5 absolute + 1e-4 relative. Gradients: 1e-4 of the tensor's largest magnitude.
 * Fails when the folder holds no case. Runs with the fast kernels and again with the naive ones.
 * Also runs the cases of test/fixtures/relative-key (position_embedding_type "relative_key", written by
 * test/fixtures/make-relative-key.py with the same reference), which are part of the repository.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { readSafetensors } from "../../src/io/safetensors.js";
import { toFloat32, toInt32, type TensorData } from "../../src/io/tensor-data.js";
import { parseConfig } from "../../src/model/config.js";
import { createModel, RunContext, type Batch, type ElectraModel } from "../../src/model/electra.js";
import { bceLoss, crossEntropyLoss, mseLoss } from "../../src/model/losses.js";
import type { ParamStore } from "../../src/model/params.js";
import { AdamW } from "../../src/train/optimizer.js";
import { RtdModel, DISCRIMINATOR_PREFIX, GENERATOR_PREFIX } from "../../src/train/rtd.js";
import { useNaiveKernels } from "../../src/core/native.js";
import { Report } from "../helpers/compare.js";

const dir = resolve(process.env.ELECTRA_FIXTURES ?? join(process.cwd(), "..", "shared", "reference", "fixtures"));

interface CaseMeta {
  name: string;
  kind: "discriminator" | "generator" | "classifier" | "pretraining";
  config: Record<string, unknown>;
  batch: number;
  seq: number;
  adamw?: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  disc_weight?: number;
}

const ownDir = join(process.cwd(), "test", "fixtures", "relative-key");

function listCases(d: string): { dir: string; name: string }[] {
  if (!existsSync(d)) return [];
  return readdirSync(d).filter((f) => f.endsWith(".json") && existsSync(join(d, f.replace(/\.json$/, ".safetensors"))))
    .map((f) => ({ dir: d, name: f.replace(/\.json$/, "") })).sort((a, b) => a.name.localeCompare(b.name));
}

function tensor(t: Map<string, TensorData>, name: string): TensorData {
  const x = t.get(name);
  if (!x) throw new Error(`fixture lacks ${name}`);
  return x;
}

function loadParams(store: ParamStore, t: Map<string, TensorData>, prefix: string, rename: (n: string) => string = (n) => n): void {
  for (const [key, td] of t) {
    if (!key.startsWith(prefix)) continue;
    const name = rename(key.slice(prefix.length));
    const spec = store.spec(name);
    assert.deepEqual(td.shape, spec.shape, `${key}: fixture shape [${td.shape}] vs model [${spec.shape}]`);
    store.get(name).set(toFloat32(td));
  }
}

function batchOf(t: Map<string, TensorData>, B: number, T: number, idsName = "input/input_ids"): Batch {
  return {
    B, T,
    inputIds: toInt32(tensor(t, idsName)),
    tokenTypeIds: toInt32(tensor(t, "input/token_type_ids")),
    attentionMask: toInt32(tensor(t, "input/attention_mask")),
  };
}

/**
 * The shared fixtures of kind discriminator/generator/classifier were written with `param/*` equal to `adamw/*`
 * bit for bit: electra_ref.py's state_dict() shares storage with the live parameters, and the AdamW step ran
 * before the file was saved. The initial weights are then recovered by inverting that one torch.optim.AdamW
 * step with the reference's own gradients: on a fresh optimizer m_hat = g and sqrt(v_hat) = |g|, so
 * p1 = p0 (1 - lr wd) - lr g / (|g| + eps)  =>  p0 = (p1 + lr g / (|g| + eps)) / (1 - lr wd).
 * Float32 rounding makes p0 exact to about one ulp, far inside the tolerances. Fixtures written correctly
 * (param/ != adamw/) are used as they are.
 */
function paramsAreAfterStep(t: Map<string, TensorData>): boolean {
  for (const [key, td] of t) {
    if (!key.startsWith("param/")) continue;
    const after = t.get("adamw/" + key.slice(6));
    if (!after || Buffer.compare(Buffer.from(td.bytes), Buffer.from(after.bytes)) !== 0) return false;
  }
  return true;
}

function undoAdamwStep(meta: CaseMeta, t: Map<string, TensorData>, store: ParamStore): void {
  const a = meta.adamw!;
  for (const spec of store.own()) {
    const g = toFloat32(tensor(t, `grad/${spec.name}`));
    const p = store.get(spec.name);
    const wd = spec.name.endsWith("bias") || spec.name.includes("LayerNorm") ? 0 : a.weight_decay;
    for (let i = 0; i < p.length; i++) p[i] = (p[i] + (a.lr * g[i]) / (Math.abs(g[i]) + a.eps)) / (1 - a.lr * wd);
  }
}

function runModelCase(meta: CaseMeta, t: Map<string, TensorData>, r: Report): void {
  const cfg = parseConfig(meta.config, `${meta.name}.json config`);
  const model: ElectraModel = createModel(meta.kind as "discriminator" | "generator" | "classifier", cfg);
  const store = model.store;
  loadParams(store, t, "param/");
  if (paramsAreAfterStep(t)) undoAdamwStep(meta, t, store);
  const batch = batchOf(t, meta.batch, meta.seq);
  const ctx = new RunContext({ train: false });
  const N = batch.B * batch.T;
  const out = model.forward(ctx, batch);
  out.hidden.forEach((h, k) => r.outputs(`hidden_states.${k}`, h, toFloat32(tensor(t, `output/hidden_states.${k}`))));
  assert.ok(!t.has(`output/hidden_states.${out.hidden.length}`), "the reference has more hidden states than the model");
  r.outputs("logits", out.logits, toFloat32(tensor(t, "output/logits")));

  let loss;
  if (model.kind === "discriminator") {
    const weights = Float32Array.from(batch.attentionMask);
    loss = bceLoss(ctx, out.logits, toFloat32(tensor(t, "input/labels")), weights);
  } else if (model.kind === "generator") {
    loss = crossEntropyLoss(ctx, out.logits, toInt32(tensor(t, "input/labels")), N, cfg.vocab_size);
  } else if (cfg.num_labels === 1) {
    loss = mseLoss(ctx, out.logits, toFloat32(tensor(t, "input/labels")));
  } else {
    loss = crossEntropyLoss(ctx, out.logits, toInt32(tensor(t, "input/labels")), batch.B, cfg.num_labels);
  }
  r.outputs("loss", [loss.loss], toFloat32(tensor(t, "output/loss")));

  store.zeroGrad();
  model.backward(ctx, out, loss.dlogits);
  let grads = 0;
  for (const [key, td] of t) {
    if (!key.startsWith("grad/")) continue;
    r.gradient(key, store.g(key.slice(5)), toFloat32(td));
    grads++;
  }
  assert.equal(grads, store.own().length, "every parameter has a reference gradient");
  adamwCheck(meta, t, store, r, "param/", "adamw/");
}

function adamwCheck(meta: CaseMeta, t: Map<string, TensorData>, store: ParamStore, r: Report, _p: string, prefix: string): void {
  const a = meta.adamw;
  if (!a) return;
  const opt = new AdamW(store, { weightDecay: a.weight_decay, beta1: a.betas[0], beta2: a.betas[1], eps: a.eps, biasCorrection: true });
  opt.update(a.lr);
  let n = 0;
  for (const [key, td] of t) {
    if (!key.startsWith(prefix)) continue;
    r.outputs(key, store.get(key.slice(prefix.length)), toFloat32(td));
    n++;
  }
  assert.ok(n > 0, "the case has parameters after one AdamW step");
}

function runPretrainingCase(meta: CaseMeta, t: Map<string, TensorData>, r: Report): void {
  const cfgs = meta.config as { discriminator: unknown; generator: unknown };
  const rtd = new RtdModel(parseConfig(cfgs.discriminator, "discriminator config"), parseConfig(cfgs.generator, "generator config"));
  const store = rtd.store;
  // the fixture's generator embedding tables are copies of the discriminator's: load the discriminator's
  loadParams(store, t, "param/discriminator/", (n) => DISCRIMINATOR_PREFIX + n);
  for (const [key, td] of t) {
    if (!key.startsWith("param/generator/")) continue;
    const name = GENERATOR_PREFIX + key.slice("param/generator/".length);
    if (store.spec(name).name !== name) {
      r.outputs(`${key} (shared copy)`, store.get(name), toFloat32(td), 0, 0);
      continue;
    }
    store.get(name).set(toFloat32(td));
  }
  const B = meta.batch, T = meta.seq, N = B * T;
  const batch = batchOf(t, B, T, "input/original_ids");
  const masked = toInt32(tensor(t, "input/masked_positions"));
  const maskId = toInt32(tensor(t, "input/mask_token_id"))[0];
  const sampledAll = toInt32(tensor(t, "input/sampled_ids"));
  const rows: number[] = [];
  const genIn = Int32Array.from(batch.inputIds);
  for (let i = 0; i < N; i++) if (masked[i]) {
    rows.push(i);
    genIn[i] = maskId;
  }
  const maskedRows = Int32Array.from(rows);
  r.outputs("generator_input_ids", genIn, toInt32(tensor(t, "output/generator_input_ids")), 0, 0);
  const ctx = new RunContext({ train: false });
  store.zeroGrad();
  const res = rtd.step(ctx, { batch, generatorInputIds: genIn, maskedRows }, {
    sample: (_logits, M) => Int32Array.from({ length: M }, (_, i) => sampledAll[maskedRows[i]]),
  });
  r.outputs("discriminator_input_ids", res.discriminatorInputIds, toInt32(tensor(t, "output/discriminator_input_ids")), 0, 0);
  r.outputs("replaced_labels", res.replaced, toFloat32(tensor(t, "output/replaced_labels")), 0, 0);
  r.outputs("generator_logits_at_masked", res.generatorLogits, toFloat32(tensor(t, "output/generator_logits_at_masked")));
  r.outputs("discriminator_logits", res.discriminatorLogits, toFloat32(tensor(t, "output/discriminator_logits")));
  r.outputs("generator_loss", [res.generatorLoss], toFloat32(tensor(t, "output/generator_loss")));
  r.outputs("discriminator_loss", [res.discriminatorLoss], toFloat32(tensor(t, "output/discriminator_loss")));
  r.outputs("loss", [res.loss], toFloat32(tensor(t, "output/loss")));
  assert.equal(meta.disc_weight, 50, "the fixture uses the official discriminator weight");

  // gradients: the shared embedding block's gradient is the sum of both models' (see the case's notes)
  const seen = new Set<string>();
  for (const [key, td] of t) {
    if (!key.startsWith("grad/")) continue;
    const [model, ...rest] = key.slice(5).split("/");
    const local = rest.join("/");
    const name = (model === "generator" ? GENERATOR_PREFIX : DISCRIMINATOR_PREFIX) + local;
    const spec = store.spec(name);
    if (spec.name !== name) {
      // shared: compare once, against generator + discriminator
      if (seen.has(spec.name)) continue;
      seen.add(spec.name);
      const other = model === "generator" ? `grad/discriminator/${local}` : `grad/generator/${local}`;
      const want = toFloat32(td);
      const o = toFloat32(tensor(t, other));
      for (let i = 0; i < want.length; i++) want[i] += o[i];
      r.gradient(`${key} + ${other}`, store.g(name), want);
      continue;
    }
    if (local.startsWith("electra.embeddings.") && model === "discriminator") {
      const want = toFloat32(td);
      const o = toFloat32(tensor(t, `grad/generator/${local}`));
      for (let i = 0; i < want.length; i++) want[i] += o[i];
      seen.add(spec.name);
      r.gradient(`${key} + grad/generator/${local}`, store.g(name), want);
      continue;
    }
    r.gradient(key, store.g(name), toFloat32(td));
  }
}

function runCase(dir: string, name: string): Report {
  const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")) as CaseMeta;
  const t = readSafetensors(join(dir, `${name}.safetensors`)).tensors;
  const r = new Report();
  if (meta.kind === "pretraining") runPretrainingCase(meta, t, r);
  else runModelCase(meta, t, r);
  return r;
}

const cases = listCases(dir);
const ownCases = listCases(ownDir);

// Without ../shared (a clone on its own) and no ELECTRA_FIXTURES, there is nothing to compare with: skip, saying
// why. A folder that exists, or one named explicitly, must hold cases.
const absent = !process.env.ELECTRA_FIXTURES && !existsSync(join(process.cwd(), "..", "shared"))
  ? `../shared is absent beside the repository, and ELECTRA_FIXTURES is not set: no PyTorch fixtures to compare with` : false;

test("the fixture folder holds cases", { skip: absent }, () => {
  assert.ok(cases.length > 0, `no case (NAME.json + NAME.safetensors) in ${dir}; set ELECTRA_FIXTURES or check out ../shared`);
  assert.equal(ownCases.length, 2, `the relative_key cases in ${ownDir}`);
});

for (const kernels of ["fast", "naive"] as const) {
  for (const { dir, name } of [...cases, ...ownCases]) {
    test(`parity with PyTorch: ${name} (${kernels} kernels)`, (t) => {
      useNaiveKernels(kernels === "naive");
      try {
        const r = runCase(dir, name);
        const line = `${name} [${kernels}]: ${r.checked} tensors, worst output error ${r.worstOutput.toFixed(3)} x tolerance, ` +
          `worst gradient error ${r.worstGrad.toFixed(3)} x tolerance`;
        t.diagnostic(line);
        console.log(line);
        assert.ok(r.checked > 0, "compared nothing");
        if (r.failures.length) assert.fail(`${name}: ${r.failures.length} tensors differ from PyTorch:\n${r.failures.slice(0, 10).join("\n")}`);
      } finally {
        useNaiveKernels(false);
      }
    });
  }
}
