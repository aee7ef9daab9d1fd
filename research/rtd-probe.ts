/**
 * Can a discriminator spot replaced word pieces, on fixed corruptions that do not depend on any generator?
 * So discriminators from different runs or steps compare (the pretraining log's discriminator loss cannot:
 * its task gets harder as the generator improves).
 *
 *   node dist-research/research/rtd-probe.js DISC_DIR|random:DISC_DIR TEXT_FILE [N]
 *
 * Takes the first column of the first N (512) rows after the header of TEXT_FILE (a GLUE TSV such as
 * SST-2/dev.tsv) and replaces 15% of the word pieces in two ways, printing a line for each:
 *   "uniform":   random non-special vocabulary entries (mostly rare pieces: identity alone gives them away
 *                to a model that knows word frequencies);
 *   "same-text": pieces drawn from the same texts (replaced and original pieces then have the same
 *                frequencies, so only context can tell them apart: the contextual knowledge pretraining is for).
 * Each line: the mean P(replaced) on replaced and on original pieces, the recall at 0.5 and the ROC AUC
 * (0.5: no better than chance). Measurements in BENCHMARKS.md (issue 5, fourth measurement).
 */
import { RunContext } from "../src/model/electra.js";
import { SPECIAL_TOKENS } from "../src/data/tokenizer.js";
import { Rng } from "../src/core/rng.js";
import { padBatch as pack } from "../src/data/batching.js";
import { probeSetup, rocAuc } from "./rows.js";

const REPLACE = 0.15;

async function main(): Promise<void> {
  const { model, tk, enc } = await probeSetup("node dist-research/research/rtd-probe.js DISC_DIR|random:DISC_DIR TEXT_FILE [N]", 512, "discriminator");
  const V = tk.vocabSize;
  const pieces: number[] = [];
  for (const e of enc) for (let t = 1; t < e.length - 1; t++) pieces.push(e.inputIds[t]);
  const draws: Record<string, (rng: Rng) => number> = {
    uniform: (rng) => SPECIAL_TOKENS.length + Math.floor(rng.uniform() * (V - SPECIAL_TOKENS.length)),
    "same-text": (rng) => pieces[Math.floor(rng.uniform() * pieces.length)],
  };
  for (const [name, draw] of Object.entries(draws)) {
    const { batch } = pack(enc.map((e) => ({ ids: e.inputIds.subarray(0, e.length), types: e.tokenTypeIds.subarray(0, e.length) })));
    const { B, T, inputIds } = batch;
    const label = new Uint8Array(B * T);
    const rng = new Rng(3);
    enc.forEach((e, b) => {
      for (let t = 1; t < e.length - 1; t++) {
        if (rng.uniform() >= REPLACE) continue;
        const id = draw(rng);
        inputIds[b * T + t] = id;
        label[b * T + t] = id !== e.inputIds[t] ? 1 : 0; // drawing the original piece is no replacement
      }
    });
    const { logits } = model.forward(new RunContext({ train: false }), batch);
    const pos: number[] = [], neg: number[] = [];
    enc.forEach((e, b) => {
      for (let t = 1; t < e.length - 1; t++) (label[b * T + t] ? pos : neg).push(logits[b * T + t]);
    });
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    const mean = (a: number[]) => a.reduce((s, x) => s + sig(x), 0) / a.length;
    console.log(JSON.stringify({
      replacements: name, replaced: pos.length, original: neg.length, p_replaced_on_replaced: +mean(pos).toFixed(4),
      p_replaced_on_original: +mean(neg).toFixed(4), recall: +(pos.filter((x) => x > 0).length / pos.length).toFixed(4), auc: +rocAuc(pos, neg).toFixed(4),
    }));
  }
}

main();
