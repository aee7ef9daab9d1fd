/**
 * Do the word embeddings of tokens the corpus never has drift together during pretraining?
 *
 *   node dist-research/research/embedding-drift.js MODEL_DIR EXAMPLES.bin
 *
 * Splits the rows of `electra.embeddings.word_embeddings.weight` (specials left out) into tokens that occur
 * in the example file and tokens that do not, and prints for each group the mean cosine of 4000 random
 * pairs of rows (about 0 at the random init) and the root-mean-square row norm. A group whose rows moved
 * the same way shows a clearly higher mean cosine than the other (BENCHMARKS.md, issue 5).
 */
import { readHfFolder } from "../src/io/hf-folder.js";
import { toFloat32 } from "../src/io/tensor-data.js";
import { ExampleFile } from "../src/data/pretrain-builder.js";
import { Rng } from "../src/core/rng.js";
import { SPECIAL_TOKENS } from "../src/data/tokenizer.js";
import { rowCosine } from "./rows.js";

const PAIRS = 4000;

function main(): void {
  const [modelDir, examplesPath] = process.argv.slice(2);
  if (!modelDir || !examplesPath) {
    console.error("usage: node dist-research/research/embedding-drift.js MODEL_DIR EXAMPLES.bin");
    process.exit(2);
  }
  const t = readHfFolder(modelDir).tensors.get("electra.embeddings.word_embeddings.weight");
  if (!t || t.shape.length !== 2) throw new Error(`${modelDir} has no 2-D electra.embeddings.word_embeddings.weight`);
  const [V, E] = t.shape;
  const w = toFloat32(t);
  const ef = ExampleFile.open(examplesPath);
  const seen = new Uint8Array(V);
  for (let i = 0; i < ef.count; i++) {
    const ids = ef.read(i).inputIds;
    for (let k = 0; k < ids.length; k++) if (ids[k] < V) seen[ids[k]] = 1;
  }
  ef.close();
  const groups: [string, number[]][] = [["never in the examples", []], ["in the examples", []]];
  for (let v = SPECIAL_TOKENS.length; v < V; v++) groups[seen[v]][1].push(v);
  const rng = new Rng(12345);
  const cos = (a: number, b: number): number => rowCosine(w, a, b, E);
  for (const [name, rows] of groups) {
    if (rows.length < 2) {
      console.log(JSON.stringify({ group: name, rows: rows.length }));
      continue;
    }
    let c = 0;
    for (let n = 0; n < PAIRS; n++) {
      const a = rows[Math.floor(rng.uniform() * rows.length)];
      let b = a;
      while (b === a) b = rows[Math.floor(rng.uniform() * rows.length)];
      c += cos(a, b);
    }
    let sq = 0;
    for (const v of rows) for (let i = 0; i < E; i++) sq += w[v * E + i] ** 2;
    console.log(JSON.stringify({ group: name, rows: rows.length, mean_pair_cosine: +(c / PAIRS).toFixed(4), rms_row_norm: +Math.sqrt(sq / rows.length).toFixed(4) }));
  }
}

main();
