/**
 * How distinct are a model's token states, layer by layer?
 *
 *   node dist-research/research/representations.js MODEL_DIR|random:MODEL_DIR TEXT_FILE [N]
 *
 * Runs the encoder of MODEL_DIR (or, with "random:", the same config at transformers' random init) over the
 * first N (256) rows after the header of TEXT_FILE (a GLUE TSV: the first column is used) and prints, for the
 * embedding output (layer 0) and each layer: the mean cosine of random pairs of token states from different
 * sentences (near 1: every token collapsed onto one direction), the participation ratio (trace C)^2 / trace(C^2)
 * of the states' covariance C (how many directions carry the variance; hidden_size at most), and the mean
 * cosine between the [CLS] states of different sentences. Measurements in BENCHMARKS.md (issue 5).
 */
import { RunContext } from "../src/model/electra.js";
import { Rng } from "../src/core/rng.js";
import { padBatch as pack } from "../src/data/batching.js";
import { probeSetup, rowCosine } from "./rows.js";

async function main(): Promise<void> {
  const { folder, model, enc } = await probeSetup("node dist-research/research/representations.js MODEL_DIR|random:MODEL_DIR TEXT_FILE [N]", 256, "discriminator");
  const { batch } = pack(enc.map((e) => ({ ids: e.inputIds.subarray(0, e.length), types: e.tokenTypeIds.subarray(0, e.length) })));
  const { B, T } = batch, C = folder.config.hidden_size;
  const { hidden } = model.forward(new RunContext({ train: false }), batch);
  const rows: number[] = [];
  enc.forEach((e, b) => {
    for (let t = 1; t < e.length - 1; t++) rows.push(b * T + t);
  });
  const rng = new Rng(7);
  hidden.forEach((h, layer) => {
    let cos = 0, n = 0;
    while (n < 4000) {
      const a = rows[Math.floor(rng.uniform() * rows.length)], b = rows[Math.floor(rng.uniform() * rows.length)];
      if (Math.floor(a / T) === Math.floor(b / T)) continue;
      cos += rowCosine(h, a, b, C);
      n++;
    }
    const mean = new Float64Array(C);
    for (const r of rows) for (let c = 0; c < C; c++) mean[c] += h[r * C + c] / rows.length;
    const cov = new Float64Array(C * C);
    for (const r of rows) {
      for (let i = 0; i < C; i++) {
        const xi = h[r * C + i] - mean[i];
        for (let j = 0; j < C; j++) cov[i * C + j] += xi * (h[r * C + j] - mean[j]);
      }
    }
    let tr = 0, tr2 = 0;
    for (let i = 0; i < C; i++) tr += cov[i * C + i];
    for (let i = 0; i < C * C; i++) tr2 += cov[i] * cov[i];
    let ccos = 0, cn = 0;
    for (let a = 0; a < B; a++) {
      for (let b = a + 1; b < B; b++) {
        ccos += rowCosine(h, a * T, b * T, C);
        cn++;
      }
    }
    console.log(JSON.stringify({ layer, mean_pair_cosine: +(cos / n).toFixed(4), participation_ratio: +(tr * tr / tr2).toFixed(2), cls_pair_cosine: +(ccos / cn).toFixed(4) }));
  });
}

main();
