/**
 * Does a pretrained model use word order? Three measurements that a bag-of-words model fails:
 *
 *   node dist-research/research/order-probe.js MODEL_DIR|random:MODEL_DIR TEXT_FILE [N]
 *
 * MODEL_DIR is a generator (ElectraForMaskedLM) or discriminator (ElectraForPreTraining) folder; "random:"
 * gives the same config at transformers' random init. Texts: the first column of the first N (256) rows after
 * the header of TEXT_FILE (a GLUE TSV such as SST-2/dev.tsv). One JSON line each:
 *   "attention": per layer, the mean attention weight a piece gives the piece before it and the piece after
 *                it, and the mean entropy of its attention row, next to a uniform row's (1/length, log length).
 *                Trained BERT-style encoders have heads that put most of their weight on a neighbour.
 *                Also the [CLS] row's (what the classification heads read): its weight on itself and on the
 *                final [SEP], and its entropy (at random init it is near-uniform: the mean of the pieces).
 *   "positions": the mean cosine between the position embeddings of neighbouring positions (learned position
 *                embeddings of a trained encoder vary smoothly: near 1; at random init: near 0) and their
 *                mean norm next to the word embeddings'. For a relative_key model (no position embeddings
 *                added), the same for its first layer's distance embeddings of distances -D..D instead.
 *   "order":     a generator's masked-LM loss at the same 15% of pieces (all [MASK]) with the texts in their
 *                order and with each text's pieces shuffled (the shuffled loss is higher only if the model
 *                uses order); a discriminator's ROC AUC of "this piece is in a shuffled text" from its
 *                replaced-token logits (0.5: order makes no difference to it).
 * Measurements in BENCHMARKS.md (issue 5, fifth measurement).
 */
import { RunContext } from "../src/model/electra.js";
import { SPECIAL_TOKENS } from "../src/data/tokenizer.js";
import * as ops from "../src/core/ops.js";
import { Rng } from "../src/core/rng.js";
import { padBatch as pack } from "../src/data/batching.js";
import { probeSetup, rocAuc, rowCosine, rowNorm } from "./rows.js";

const MASK_FRACTION = 0.15;

async function main(): Promise<void> {
  const { folder, model, kind, tk, enc } = await probeSetup("node dist-research/research/order-probe.js MODEL_DIR|random:MODEL_DIR TEXT_FILE [N]", 256, "auto");
  const texts = enc.map((e) => Array.from(e.inputIds.subarray(0, e.length)));
  const inner = (n: number) => Array.from({ length: Math.max(0, n - 2) }, (_, i) => i + 1); // positions between [CLS] and [SEP]
  const NH = folder.config.num_attention_heads, C = folder.config.embedding_size;

  // attention locality, on the texts as they are
  const intact = pack(texts.map((ids) => ({ ids: Int32Array.from(ids), types: new Int32Array(ids.length) }))).batch;
  const out = model.forward(new RunContext({ train: false }), intact, kind === "generator" ? Int32Array.from([0]) : null);
  const T = intact.T;
  // entropy of the first len weights of an attention row (the rest are padding)
  const entropy = (row: Float32Array, len: number) => {
    let e = 0;
    for (let j = 0; j < len; j++) if (row[j] > 0) e -= row[j] * Math.log(row[j]);
    return e;
  };
  const layers = out.enc.layers.map((L) => {
    const probRow = (b: number, h: number, i: number) => L.probs.subarray(((b * NH + h) * T + i) * T, ((b * NH + h) * T + i + 1) * T);
    let prev = 0, next = 0, ent = 0, uniform = 0, uniformEnt = 0, n = 0;
    let clsSelf = 0, clsSep = 0, clsEnt = 0, clsUniformEnt = 0, nc = 0;
    texts.forEach((ids, b) => {
      for (let h = 0; h < NH; h++) {
        const row = probRow(b, h, 0);
        clsSelf += row[0];
        clsSep += row[ids.length - 1];
        clsEnt += entropy(row, ids.length);
        clsUniformEnt += Math.log(ids.length);
        nc++;
      }
      for (const i of inner(ids.length)) {
        for (let h = 0; h < NH; h++) {
          const row = probRow(b, h, i);
          prev += row[i - 1];
          next += row[i + 1];
          ent += entropy(row, ids.length);
          uniform += 1 / ids.length;
          uniformEnt += Math.log(ids.length);
          n++;
        }
      }
    });
    return { prev: +(prev / n).toFixed(4), next: +(next / n).toFixed(4), entropy: +(ent / n).toFixed(3), uniform: +(uniform / n).toFixed(4), uniform_entropy: +(uniformEnt / n).toFixed(3),
      cls_self: +(clsSelf / nc).toFixed(4), cls_sep: +(clsSep / nc).toFixed(4), cls_entropy: +(clsEnt / nc).toFixed(3), cls_uniform_entropy: +(clsUniformEnt / nc).toFixed(3) };
  });
  console.log(JSON.stringify({ probe: "attention", layers }));

  // position embeddings (absolute), or the first layer's distance embeddings (relative_key)
  const relative = folder.config.position_embedding_type === "relative_key";
  const word = model.store.get("electra.embeddings.word_embeddings.weight");
  let adj = 0, pn = 0, wn = 0;
  const P = Math.min(T, folder.config.max_position_embeddings) - 1;
  const table = relative ? model.store.get("electra.encoder.layer.0.attention.self.distance_embedding.weight") : model.store.get("electra.embeddings.position_embeddings.weight");
  const width = relative ? folder.config.hidden_size / NH : C;
  const rows = relative ? Array.from({ length: 2 * P - 1 }, (_, k) => folder.config.max_position_embeddings - P + k) : Array.from({ length: P }, (_, k) => k + 1);
  for (let k = 0; k + 1 < rows.length; k++) {
    adj += rowCosine(table, rows[k], rows[k + 1], width) / (rows.length - 1);
    pn += rowNorm(table, rows[k], width) / (rows.length - 1);
  }
  const wordRows = folder.config.vocab_size - SPECIAL_TOKENS.length;
  for (let r = SPECIAL_TOKENS.length; r < folder.config.vocab_size; r++) wn += rowNorm(word, r, C) / wordRows;
  console.log(JSON.stringify({ probe: "positions", table: relative ? "layer 0 distance_embedding" : "position_embeddings", positions: P,
    neighbour_cosine: +adj.toFixed(4), position_norm: +pn.toFixed(4), word_norm: +wn.toFixed(4) }));

  // order: the same texts with their inner pieces shuffled
  const rng = new Rng(11);
  const shuffled = texts.map((ids) => {
    const mid = ids.slice(1, -1);
    for (let i = mid.length - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform() * (i + 1));
      [mid[i], mid[j]] = [mid[j], mid[i]];
    }
    return [ids[0], ...mid, ids[ids.length - 1]];
  });
  if (kind === "generator") {
    const maskAt = texts.map((ids) => inner(ids.length).filter(() => rng.uniform() < MASK_FRACTION));
    const loss = (set: number[][]) => {
      const { batch } = pack(set.map((ids, b) => {
        const x = Int32Array.from(ids);
        for (const t of maskAt[b]) x[t] = tk.maskId;
        return { ids: x, types: new Int32Array(ids.length) };
      }));
      const rows: number[] = [], targets: number[] = [];
      set.forEach((ids, b) => maskAt[b].forEach((t) => { rows.push(b * batch.T + t); targets.push(ids[t]); }));
      const { logits } = model.forward(new RunContext({ train: false }), batch, Int32Array.from(rows));
      const losses = new Float32Array(targets.length);
      ops.crossentropyForward(losses, logits, Int32Array.from(targets), targets.length, folder.config.vocab_size);
      return { loss: losses.reduce((s, x) => s + x, 0) / targets.length, masked: targets.length };
    };
    const a = loss(texts), b = loss(shuffled);
    console.log(JSON.stringify({ probe: "order", masked: a.masked, mlm_loss_in_order: +a.loss.toFixed(4), mlm_loss_shuffled: +b.loss.toFixed(4) }));
  } else {
    const logitsOf = (set: number[][]) => {
      const { batch } = pack(set.map((ids) => ({ ids: Int32Array.from(ids), types: new Int32Array(ids.length) })));
      const { logits } = model.forward(new RunContext({ train: false }), batch);
      return set.flatMap((ids, b) => inner(ids.length).map((t) => logits[b * batch.T + t]));
    };
    console.log(JSON.stringify({ probe: "order", pieces: texts.reduce((s, x) => s + Math.max(0, x.length - 2), 0), auc_shuffled_vs_in_order: +rocAuc(logitsOf(shuffled), logitsOf(texts)).toFixed(4) }));
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
