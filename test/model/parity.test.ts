/**
 * Parity with the PyTorch reference (../shared/reference/electra_ref.py): for every case in
 * ../shared/reference/fixtures and ../shared/reference/fixtures-heads, and in $ELECTRA_FIXTURES when it is set
 * (a case is NAME.json + NAME.safetensors; its `kind` picks the model), load the weights and inputs, run forward
 * and backward with dropout off, and compare every hidden state, the logits, the loss, every parameter gradient,
 * and every parameter after one AdamW step (`param/*` holds the weights before that step).
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
import { createModel, RunContext, splitSpanLogits, type Batch, type ElectraModel, type ModelKind } from "../../src/model/electra.js";
import { bceLoss, choiceLoss, crossEntropyLoss, mseLoss, spanLoss } from "../../src/model/losses.js";
import type { ParamStore } from "../../src/model/params.js";
import { AdamW } from "../../src/train/optimizer.js";
import { RtdModel, DISCRIMINATOR_PREFIX, GENERATOR_PREFIX } from "../../src/train/rtd.js";
import { useNaiveKernels } from "../../src/core/native.js";
import { Report } from "../helpers/compare.js";

const sharedRef = join(process.cwd(), "..", "shared", "reference");
const sharedDirs = [join(sharedRef, "fixtures"), join(sharedRef, "fixtures-heads")];
const extraDir = process.env.ELECTRA_FIXTURES ? resolve(process.env.ELECTRA_FIXTURES) : null;

interface CaseMeta {
  name: string;
  kind: Exclude<ModelKind, "encoder"> | "pretraining";
  config: Record<string, unknown>;
  batch: number;
  seq: number;
  adamw?: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  disc_weight?: number;
}

const ownDirs = ["relative-key", "heads"].map((d) => join(process.cwd(), "test", "fixtures", d));

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
 * A multiple-choice case whose config leaves summary_last_dropout out (ElectraConfig's default 0.1) or sets it
 * above 0 was written by electra_ref.py's write_case with that dropout ON: the module is in torch's default
 * training mode and only the config's other dropouts are 0. Its head outputs then hold one random mask
 * (../shared/reference/fixtures-heads/multiple-choice-4 is such a case: rerun with summary_last_dropout 0, its
 * logits equal ours to 2e-9; test/fixtures/make-heads.py). Only what precedes the head is comparable.
 */
function summaryDropoutOn(meta: CaseMeta): boolean {
  return meta.kind === "multiple-choice" && ((meta.config.summary_last_dropout as number | undefined) ?? 0.1) > 0;
}

function runModelCase(meta: CaseMeta, t: Map<string, TensorData>, r: Report): void {
  const cfg = parseConfig(meta.config, `${meta.name}.json config`);
  const model: ElectraModel = createModel(meta.kind, cfg);
  const store = model.store;
  loadParams(store, t, "param/");
  const batch = batchOf(t, meta.batch, meta.seq);
  const ctx = new RunContext({ train: false });
  const N = batch.B * batch.T;
  const out = model.forward(ctx, batch);
  out.hidden.forEach((h, k) => r.outputs(`hidden_states.${k}`, h, toFloat32(tensor(t, `output/hidden_states.${k}`))));
  assert.ok(!t.has(`output/hidden_states.${out.hidden.length}`), "the reference has more hidden states than the model");
  if (summaryDropoutOn(meta)) {
    r.notes.push(`${meta.name}: written with summary_last_dropout ${meta.config.summary_last_dropout ?? "0.1 (default)"} in torch's training mode: ` +
      "hidden states compared; the logits, loss and gradients hold one random dropout mask (test/fixtures/heads/ has the case without dropout)");
    return;
  }
  if (model.kind === "question-answering") {
    const { start, end } = splitSpanLogits(out.logits);
    r.outputs("start_logits", start, toFloat32(tensor(t, "output/start_logits")));
    r.outputs("end_logits", end, toFloat32(tensor(t, "output/end_logits")));
  } else {
    r.outputs("logits", out.logits, toFloat32(tensor(t, "output/logits")));
  }

  let loss;
  if (model.kind === "token-classifier") {
    loss = crossEntropyLoss(ctx, out.logits, toInt32(tensor(t, "input/labels")), N, cfg.num_labels);
  } else if (model.kind === "question-answering") {
    loss = spanLoss(ctx, out.logits, toInt32(tensor(t, "input/start_positions")), toInt32(tensor(t, "input/end_positions")), batch.B, batch.T);
  } else if (model.kind === "multiple-choice") {
    const labels = toInt32(tensor(t, "input/labels"));
    loss = choiceLoss(ctx, out.logits, labels, batch.B / labels.length);
  } else if (model.kind === "discriminator") {
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
  // Some gradients are zero in exact arithmetic: a task head's output bias when every row's softmax sums to one
  // (multiple choice: each example's choices; QA: each row's positions), and the last LayerNorm bias behind a
  // per-position head (its gradient is W^T of those zero sums). Both sides then hold float32 rounding noise of
  // the size of the sums' terms, up to ~1e-7 of the case's largest gradient here: no scale to compare against.
  // So every gradient tensor gets an absolute floor of 1e-6 of the case's largest gradient (a wrong gradient is
  // far larger).
  let gmax = 0;
  for (const [key, td] of t) if (key.startsWith("grad/")) for (const v of toFloat32(td)) gmax = Math.max(gmax, Math.abs(v));
  const floor = Math.max(1e-9, 1e-6 * gmax);
  const gradTol = new Map<string, number>();
  let grads = 0;
  for (const [key, td] of t) {
    if (!key.startsWith("grad/")) continue;
    const want = toFloat32(td);
    let mx = 0;
    for (const v of want) mx = Math.max(mx, Math.abs(v));
    gradTol.set(key.slice(5), 1e-4 * mx + floor);
    r.gradient(key, store.g(key.slice(5)), want, 1e-4, floor);
    grads++;
  }
  assert.equal(grads, store.own().length, "every parameter has a reference gradient");
  adamwCheck(meta, t, store, r, "adamw/", gradTol);
}

/**
 * One torch.optim.AdamW step from a fresh optimizer moves each weight by lr * g / (|g| + eps) (bias-corrected
 * m_hat = g, sqrt(v_hat) = |g|), whose slope in g is lr * eps / (|g| + eps)^2: where |g| is near eps, a gradient
 * within its tolerance dg moves the step by up to lr * eps * dg / (|g| + eps)^2. That propagated bound is added
 * to the output tolerance element by element (it is ~0 wherever |g| >> eps).
 */
function adamwCheck(meta: CaseMeta, t: Map<string, TensorData>, store: ParamStore, r: Report, prefix: string, gradTol: Map<string, number>): void {
  const a = meta.adamw;
  if (!a) return;
  const opt = new AdamW(store, { weightDecay: a.weight_decay, beta1: a.betas[0], beta2: a.betas[1], eps: a.eps, biasCorrection: true });
  opt.update(a.lr);
  let n = 0;
  for (const [key, td] of t) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    // a tied name (generator_lm_head.weight) has its gradient under the name that owns the storage
    const own = t.has(`grad/${name}`) ? name : store.spec(name).name;
    const g = toFloat32(tensor(t, `grad/${own}`)), dg = gradTol.get(own) ?? 0;
    r.outputsWithin(key, store.get(name), toFloat32(td), (w, i) => 1e-5 + 1e-4 * Math.abs(w) + (a.lr * a.eps * dg) / (Math.abs(g[i]) + a.eps) ** 2);
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

const sharedCases = sharedDirs.flatMap(listCases);
const extraCases = extraDir ? listCases(extraDir) : [];
const ownCases = ownDirs.flatMap(listCases);

// Without ../shared (a clone on its own) and no ELECTRA_FIXTURES, there is nothing to compare with: skip, saying
// why. A folder that exists, or one named explicitly, must hold cases.
const absent = !existsSync(join(process.cwd(), "..", "shared"))
  ? `../shared is absent beside the repository: no shared PyTorch fixtures to compare with` : false;

test("the shared fixture folders hold every kind", { skip: absent }, () => {
  const kinds = new Set(sharedCases.map((c) => (JSON.parse(readFileSync(join(c.dir, `${c.name}.json`), "utf8")) as CaseMeta).kind));
  for (const k of ["discriminator", "generator", "classifier", "pretraining", "token-classifier", "question-answering", "multiple-choice"]) {
    assert.ok(kinds.has(k as CaseMeta["kind"]), `no case of kind ${k} in ${sharedDirs.join(" or ")}`);
  }
});

test("ELECTRA_FIXTURES, when set, names a folder with cases", { skip: extraDir ? false : "ELECTRA_FIXTURES is not set" }, () => {
  assert.ok(extraCases.length > 0, `no case (NAME.json + NAME.safetensors) in ${extraDir}`);
});

test("the repository's own cases are there (relative_key, multiple choice without dropout)", () => {
  assert.equal(ownCases.length, 3, `the cases in ${ownDirs.join(" and ")}`);
});

for (const kernels of ["fast", "naive"] as const) {
  for (const { dir, name } of [...sharedCases, ...extraCases, ...ownCases]) {
    test(`parity with PyTorch: ${name} (${kernels} kernels)`, (t) => {
      useNaiveKernels(kernels === "naive");
      try {
        const r = runCase(dir, name);
        const line = `${name} [${kernels}]: ${r.checked} tensors, worst output error ${r.worstOutput.toFixed(3)} x tolerance, ` +
          `worst gradient error ${r.worstGrad.toFixed(3)} x tolerance` + r.notes.map((n) => ` (NOTE ${n})`).join("");
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
