/**
 * Finite-difference gradient checks. An independent float64 implementation of the ELECTRA forward pass
 * (plain loops, written from the transformers definition, sharing no code with src/) computes the loss;
 * central differences on it give numeric gradients, which the analytic float32 gradients of src/model must
 * match. Odd shapes on purpose: sizes that are no multiple of any vector width, padded positions, a row
 * whose keys are all masked but one, an embeddings_project, every head.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/core/rng.js";
import { parseConfig, type ElectraConfig } from "../../src/model/config.js";
import { createModel, RunContext, type Batch, type ElectraModel } from "../../src/model/electra.js";
import { bceLoss, choiceLoss, crossEntropyLoss, mseLoss, spanLoss } from "../../src/model/losses.js";

type P = Map<string, Float64Array>;

// ---------------------------------------------------------------- float64 reference (independent)
function linear(x: number[][], w: Float64Array, b: Float64Array | null, out: number): number[][] {
  return x.map((row) => Array.from({ length: out }, (_, o) => {
    let s = b ? b[o] : 0;
    for (let i = 0; i < row.length; i++) s += row[i] * w[o * row.length + i];
    return s;
  }));
}
function layerNorm(x: number[][], g: Float64Array, b: Float64Array, eps: number): number[][] {
  return x.map((row) => {
    const m = row.reduce((a, c) => a + c, 0) / row.length;
    const v = row.reduce((a, c) => a + (c - m) ** 2, 0) / row.length;
    return row.map((c, i) => ((c - m) / Math.sqrt(v + eps)) * g[i] + b[i]);
  });
}
function erf(x: number): number {
  // float64 erf: Maclaurin series below 2.5 (terms stay under e^6.25, so no cancellation to speak of),
  // the continued fraction of erfc above (evaluated backwards over 80 terms)
  const t = Math.abs(x);
  if (t < 2.5) {
    let sum = 0, term = t;
    for (let n = 0; n < 120; n++) {
      sum += term / (2 * n + 1);
      term *= (-t * t) / (n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let k = t;
  for (let n = 80; n >= 1; n--) k = t + n / 2 / k;
  return Math.sign(x) * (1 - Math.exp(-t * t) / (Math.sqrt(Math.PI) * k));
}
const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

function refEncoder(c: ElectraConfig, p: P, batch: Batch, pre: string): number[][] {
  const { B, T } = batch, E = c.embedding_size, C = c.hidden_size, NH = c.num_attention_heads, HS = C / NH;
  const w = p.get(`${pre}embeddings.word_embeddings.weight`)!, pos = p.get(`${pre}embeddings.position_embeddings.weight`)!;
  const ty = p.get(`${pre}embeddings.token_type_embeddings.weight`)!;
  let x: number[][] = [];
  for (let n = 0; n < B * T; n++) {
    const id = batch.inputIds[n], t = n % T, tt = batch.tokenTypeIds[n];
    x.push(Array.from({ length: E }, (_, e) => w[id * E + e] + pos[t * E + e] + ty[tt * E + e]));
  }
  x = layerNorm(x, p.get(`${pre}embeddings.LayerNorm.weight`)!, p.get(`${pre}embeddings.LayerNorm.bias`)!, c.layer_norm_eps);
  if (E !== C) x = linear(x, p.get(`${pre}embeddings_project.weight`)!, p.get(`${pre}embeddings_project.bias`)!, C);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const L = `${pre}encoder.layer.${l}.`;
    const q = linear(x, p.get(L + "attention.self.query.weight")!, p.get(L + "attention.self.query.bias")!, C);
    const k = linear(x, p.get(L + "attention.self.key.weight")!, p.get(L + "attention.self.key.bias")!, C);
    const v = linear(x, p.get(L + "attention.self.value.weight")!, p.get(L + "attention.self.value.bias")!, C);
    const att = x.map(() => new Array<number>(C).fill(0));
    for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let i = 0; i < T; i++) {
      const s: number[] = [];
      for (let j = 0; j < T; j++) {
        let d = 0;
        for (let e = 0; e < HS; e++) d += q[b * T + i][h * HS + e] * k[b * T + j][h * HS + e];
        s.push(batch.attentionMask[b * T + j] ? d / Math.sqrt(HS) : -Infinity);
      }
      const mx = Math.max(...s);
      const ex = s.map((z) => (z === -Infinity && mx === -Infinity ? 1 : Math.exp(z - mx)));
      const Z = ex.reduce((a2, c2) => a2 + c2, 0);
      for (let e = 0; e < HS; e++) {
        let acc = 0;
        for (let j = 0; j < T; j++) acc += (ex[j] / Z) * v[b * T + j][h * HS + e];
        att[b * T + i][h * HS + e] = acc;
      }
    }
    const ao = linear(att, p.get(L + "attention.output.dense.weight")!, p.get(L + "attention.output.dense.bias")!, C);
    const h1 = layerNorm(ao.map((r, n) => r.map((z, i) => z + x[n][i])), p.get(L + "attention.output.LayerNorm.weight")!, p.get(L + "attention.output.LayerNorm.bias")!, c.layer_norm_eps);
    const g = linear(h1, p.get(L + "intermediate.dense.weight")!, p.get(L + "intermediate.dense.bias")!, c.intermediate_size).map((r) => r.map(gelu));
    const f = linear(g, p.get(L + "output.dense.weight")!, p.get(L + "output.dense.bias")!, C);
    x = layerNorm(f.map((r, n) => r.map((z, i) => z + h1[n][i])), p.get(L + "output.LayerNorm.weight")!, p.get(L + "output.LayerNorm.bias")!, c.layer_norm_eps);
  }
  return x;
}

const logSoftmaxAt = (row: number[], k: number) => {
  const mx = Math.max(...row);
  return row[k] - mx - Math.log(row.reduce((a, z) => a + Math.exp(z - mx), 0));
};

/** Mean softmax cross-entropy over the rows whose label is not -100. */
function meanCrossEntropy(z: number[][], labels: Int32Array): number {
  let s = 0, n = 0;
  z.forEach((r, i) => {
    if (labels[i] === -100) return;
    s -= logSoftmaxAt(r, labels[i]);
    n++;
  });
  return s / n;
}

function refLoss(kind: string, c: ElectraConfig, p: P, batch: Batch, labels: { ints?: Int32Array; floats?: Float32Array }): number {
  const h = refEncoder(c, p, batch, "electra.");
  const { B, T } = batch;
  if (kind === "discriminator") {
    const d = linear(h, p.get("discriminator_predictions.dense.weight")!, p.get("discriminator_predictions.dense.bias")!, c.hidden_size).map((r) => r.map(gelu));
    const z = linear(d, p.get("discriminator_predictions.dense_prediction.weight")!, p.get("discriminator_predictions.dense_prediction.bias")!, 1);
    let s = 0, n = 0;
    z.forEach((r, i) => {
      if (!batch.attentionMask[i]) return;
      const x = r[0], y = labels.floats![i];
      s += Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
      n++;
    });
    return s / n;
  }
  if (kind === "generator") {
    const g = linear(h, p.get("generator_predictions.dense.weight")!, p.get("generator_predictions.dense.bias")!, c.embedding_size).map((r) => r.map(gelu));
    const ln = layerNorm(g, p.get("generator_predictions.LayerNorm.weight")!, p.get("generator_predictions.LayerNorm.bias")!, c.layer_norm_eps);
    return meanCrossEntropy(linear(ln, p.get("electra.embeddings.word_embeddings.weight")!, p.get("generator_lm_head.bias")!, c.vocab_size), labels.ints!);
  }
  if (kind === "token-classifier") {
    return meanCrossEntropy(linear(h, p.get("classifier.weight")!, p.get("classifier.bias")!, c.num_labels), labels.ints!);
  }
  if (kind === "question-answering") {
    const z = linear(h, p.get("qa_outputs.weight")!, p.get("qa_outputs.bias")!, 2);
    let s = 0;
    for (let b = 0; b < B; b++) {
      for (let side = 0; side < 2; side++) s -= logSoftmaxAt(Array.from({ length: T }, (_, t) => z[b * T + t][side]), labels.ints![2 * b + side]) / (2 * B);
    }
    return s;
  }
  if (kind === "multiple-choice") {
    const first = Array.from({ length: B }, (_, b) => h[b * T]);
    const g = linear(first, p.get("sequence_summary.summary.weight")!, p.get("sequence_summary.summary.bias")!, c.hidden_size).map((r) => r.map(gelu));
    const z = linear(g, p.get("classifier.weight")!, p.get("classifier.bias")!, 1).map((r) => r[0]);
    const nc = B / labels.ints!.length;
    let s = 0;
    labels.ints!.forEach((y, e) => (s -= logSoftmaxAt(z.slice(e * nc, (e + 1) * nc), y)));
    return s / labels.ints!.length;
  }
  const first = Array.from({ length: B }, (_, b) => h[b * T]);
  let z: number[][];
  if (c.classifier_head === "official") z = linear(first, p.get("classifier.out_proj.weight")!, p.get("classifier.out_proj.bias")!, c.num_labels);
  else {
    const d = linear(first, p.get("classifier.dense.weight")!, p.get("classifier.dense.bias")!, c.hidden_size).map((r) => r.map(gelu));
    z = linear(d, p.get("classifier.out_proj.weight")!, p.get("classifier.out_proj.bias")!, c.num_labels);
  }
  if (c.num_labels === 1) return z.reduce((s, r, b) => s + (r[0] - labels.floats![b]) ** 2, 0) / B;
  return -z.reduce((s, r, b) => s + logSoftmaxAt(r, labels.ints![b]), 0) / B;
}

// ---------------------------------------------------------------- the check
type Kind = "discriminator" | "generator" | "classifier" | "token-classifier" | "question-answering" | "multiple-choice";

function setup(extra: Record<string, unknown>, kind: Kind, seed: number) {
  const cfg = parseConfig({
    vocab_size: 37, embedding_size: 7, hidden_size: 15, num_attention_heads: 3, intermediate_size: 23, num_hidden_layers: 2,
    max_position_embeddings: 16, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, layer_norm_eps: 1e-12, ...extra,
  });
  const model = createModel(kind, cfg);
  const rng = new Rng(seed);
  for (const s of model.store.own()) {
    const v = model.store.get(s.name);
    for (let i = 0; i < v.length; i++) v[i] = (s.name.endsWith("LayerNorm.weight") ? 1 : 0) + rng.normal() * 0.3;
  }
  const B = kind === "multiple-choice" ? 4 : 3, T = 9, N = B * T; // multiple choice: 2 examples x 2 choices
  const batch: Batch = {
    B, T,
    inputIds: Int32Array.from({ length: N }, () => rng.randint(1, 36)),
    tokenTypeIds: Int32Array.from({ length: N }, (_, i) => (i % T > 4 ? 1 : 0)),
    attentionMask: Int32Array.from({ length: N }, (_, i) => {
      const b = Math.floor(i / T), t = i % T;
      return b === 0 || b === 3 ? 1 : b === 1 ? (t < 6 ? 1 : 0) : t === 0 ? 1 : 0; // padding; a row with one visible key
    }),
  };
  for (let i = 0; i < N; i++) if (!batch.attentionMask[i]) batch.inputIds[i] = 0; // [PAD]
  return { cfg, model, batch, rng };
}

function analytic(model: ElectraModel, batch: Batch, kind: string, cfg: ElectraConfig, labels: { ints?: Int32Array; floats?: Float32Array }): number {
  const ctx = new RunContext();
  const out = model.forward(ctx, batch);
  const N = batch.B * batch.T;
  const loss = kind === "discriminator" ? bceLoss(ctx, out.logits, labels.floats!, Float32Array.from(batch.attentionMask))
    : kind === "generator" ? crossEntropyLoss(ctx, out.logits, labels.ints!, N, cfg.vocab_size)
    : kind === "token-classifier" ? crossEntropyLoss(ctx, out.logits, labels.ints!, N, cfg.num_labels)
    : kind === "question-answering" ? spanLoss(ctx, out.logits, labels.ints!.filter((_, i) => i % 2 === 0), labels.ints!.filter((_, i) => i % 2 === 1), batch.B, batch.T)
    : kind === "multiple-choice" ? choiceLoss(ctx, out.logits, labels.ints!, batch.B / labels.ints!.length)
    : cfg.num_labels === 1 ? mseLoss(ctx, out.logits, labels.floats!)
    : crossEntropyLoss(ctx, out.logits, labels.ints!, batch.B, cfg.num_labels);
  model.store.zeroGrad();
  model.backward(ctx, out, loss.dlogits);
  return loss.loss;
}

function check(name: string, extra: Record<string, unknown>, kind: Kind, seed: number) {
  test(`finite differences: ${name}`, () => {
    const { cfg, model, batch, rng } = setup(extra, kind, seed);
    const N = batch.B * batch.T;
    const labels = kind === "discriminator" ? { floats: Float32Array.from({ length: N }, () => (rng.uniform() < 0.3 ? 1 : 0)) }
      : kind === "generator" ? { ints: Int32Array.from({ length: N }, (_, i) => (batch.attentionMask[i] && rng.uniform() < 0.5 ? rng.randint(0, 36) : -100)) }
      : kind === "token-classifier" ? { ints: Int32Array.from({ length: N }, (_, i) => (batch.attentionMask[i] && i % batch.T !== 0 && rng.uniform() < 0.7 ? rng.randint(0, cfg.num_labels - 1) : -100)) }
      // start, end per row (interleaved); row 0 points at [CLS] (unanswerable), row 2 at its only real token
      : kind === "question-answering" ? { ints: Int32Array.from({ length: 2 * batch.B }, (_, i) => (i < 2 || i >= 4 ? 0 : rng.randint(1, 5))) }
      : kind === "multiple-choice" ? { ints: Int32Array.from([1, 0]) }
      : cfg.num_labels === 1 ? { floats: Float32Array.from({ length: batch.B }, () => rng.normal()) }
      : { ints: Int32Array.from({ length: batch.B }, () => rng.randint(0, cfg.num_labels - 1)) };
    const ours = analytic(model, batch, kind, cfg, labels);
    const store = model.store;
    const p: P = new Map(store.allNames().map(([n]) => [n, Float64Array.from(store.get(n))]));
    // aliases share one Float64Array, as they share storage
    for (const [n, spec] of store.allNames()) if (spec.name !== n) p.set(n, p.get(spec.name)!);
    const ref = refLoss(kind, cfg, p, batch, labels);
    assert.ok(Math.abs(ours - ref) <= 1e-5 + 1e-4 * Math.abs(ref), `loss: ours ${ours} vs float64 reference ${ref}`);
    const h = 1e-5;
    const failures: string[] = [];
    for (const spec of store.own()) {
      const g = store.g(spec.name), x = p.get(spec.name)!;
      let gmax = 0;
      for (let i = 0; i < g.length; i++) gmax = Math.max(gmax, Math.abs(g[i]));
      // word_embeddings row 0 is [PAD] (padding_idx 0): torch defines its lookup gradient as zero, while the float64
      // loss moves with it wherever padded positions reach the loss (QA: the softmax runs over every position)
      const lo = spec.name.endsWith("word_embeddings.weight") && kind === "question-answering" ? cfg.embedding_size : 0;
      const picks = new Set<number>([lo, x.length - 1]);
      while (picks.size < Math.min(x.length - lo, 5)) picks.add(rng.randint(lo, x.length - 1));
      for (const i of picks) {
        const x0 = x[i];
        x[i] = x0 + h;
        const up = refLoss(kind, cfg, p, batch, labels);
        x[i] = x0 - h;
        const down = refLoss(kind, cfg, p, batch, labels);
        x[i] = x0;
        const num = (up - down) / (2 * h);
        if (!(Math.abs(num - g[i]) <= 1e-3 * gmax + 1e-6)) failures.push(`${spec.name}[${i}]: analytic ${g[i]} vs numeric ${num}`);
      }
    }
    assert.deepEqual(failures, [], failures.slice(0, 8).join("\n"));
  });
}

check("discriminator with embeddings_project", {}, "discriminator", 1);
check("discriminator without projection", { embedding_size: 15 }, "discriminator", 2);
check("generator (tied lm head)", {}, "generator", 3);
check("classifier, Hugging Face head", { num_labels: 3 }, "classifier", 4);
check("classifier, official one-layer head", { num_labels: 3, classifier_head: "official" }, "classifier", 5);
check("regressor", { num_labels: 1 }, "classifier", 6);
check("token classifier", { num_labels: 4 }, "token-classifier", 7);
check("question answering", {}, "question-answering", 8);
check("multiple choice (2 examples x 2 choices)", { summary_last_dropout: 0 }, "multiple-choice", 9);
