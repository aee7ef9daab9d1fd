/**
 * Gradients in training mode: dropout masks are a pure function of the run's seed, so a forward pass can be
 * repeated exactly, and the analytic gradients (dropout in the embeddings, attention probabilities, both
 * residual branches and the classifier head) must match central differences of the float32 forward itself.
 * Float32 differences are noisy, hence the looser tolerance: a wrong mask in backward gives O(1) errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/core/rng.js";
import { parseConfig } from "../../src/model/config.js";
import { ElectraForSequenceClassification, RunContext, type Batch } from "../../src/model/electra.js";
import { crossEntropyLoss } from "../../src/model/losses.js";
import { ParamStore } from "../../src/model/params.js";

test("finite differences in training mode, dropout 0.3 everywhere", () => {
  const cfg = parseConfig({
    vocab_size: 23, embedding_size: 6, hidden_size: 10, num_attention_heads: 2, intermediate_size: 14, num_hidden_layers: 2,
    max_position_embeddings: 8, hidden_dropout_prob: 0.3, attention_probs_dropout_prob: 0.3, num_labels: 3,
  });
  const store = new ParamStore();
  const model = new ElectraForSequenceClassification(cfg, store);
  store.finalize();
  const rng = new Rng(1);
  for (const s of store.own()) {
    const v = store.get(s.name);
    for (let i = 0; i < v.length; i++) v[i] = (s.name.endsWith("LayerNorm.weight") ? 1 : 0) + rng.normal() * 0.4;
  }
  const B = 2, T = 6;
  const batch: Batch = {
    B, T, inputIds: Int32Array.from({ length: B * T }, () => rng.randint(1, 22)), tokenTypeIds: new Int32Array(B * T),
    attentionMask: Int32Array.from({ length: B * T }, (_, i) => (i % T < 5 || i < T ? 1 : 0)),
  };
  const labels = Int32Array.from([2, 0]);
  const lossAt = (grad: boolean): number => {
    const ctx = new RunContext({ train: true, seed: 77 });
    const out = model.forward(ctx, batch);
    const l = crossEntropyLoss(ctx, out.logits, labels, B, 3);
    if (grad) {
      store.zeroGrad();
      model.backward(ctx, out, l.dlogits);
    }
    return l.loss;
  };
  const base = lossAt(true);
  assert.equal(lossAt(false), base, "the same seed gives the same dropout masks");
  const failures: string[] = [];
  const h = 2e-3;
  for (const s of store.own()) {
    const g = store.g(s.name), p = store.get(s.name);
    let gmax = 0;
    for (let i = 0; i < g.length; i++) gmax = Math.max(gmax, Math.abs(g[i]));
    for (let k = 0; k < Math.min(4, p.length); k++) {
      const i = rng.randint(0, p.length - 1), x0 = p[i];
      p[i] = x0 + h;
      const up = lossAt(false);
      p[i] = x0 - h;
      const down = lossAt(false);
      p[i] = x0;
      const num = (up - down) / (2 * h);
      if (!(Math.abs(num - g[i]) <= 2e-2 * gmax + 2e-4)) failures.push(`${s.name}[${i}]: analytic ${g[i]} vs numeric ${num}`);
    }
  }
  assert.deepEqual(failures, []);
});
