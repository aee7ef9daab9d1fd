/**
 * A corpus where word order is everything: can a model learn to look at its neighbour?
 *
 *   node dist-research/research/copy-toy.js DIR
 *
 * Writes DIR/vocab.txt (the 5 special tokens and 1000 words w0..w999) and DIR/corpus.txt: 3000 documents of
 * 8 lines, each line 4-10 random words written twice in a row ("w582 w582 w867 w867 ..."). A masked word is
 * its neighbour's copy, so a masked-LM that attends to the next or previous piece gets nearly all of them
 * right; a bag-of-words model can only guess among the words of its sequence. Then, for example:
 *   electra pretrain --corpus DIR/corpus.txt --vocab DIR/vocab.txt --config tiny --generator-fraction 1 \
 *     --max-seq-length 64 --batch-size 32 --steps 1500 --warmup 100 --lr 1e-3 --out DIR/run
 * and read the log's "mlm acc". Measurements in BENCHMARKS.md (issue 5, fifth measurement).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../src/core/rng.js";
import { SPECIAL_TOKENS } from "../src/data/tokenizer.js";

const WORDS = 1000, DOCUMENTS = 3000, LINES = 8;

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node dist-research/research/copy-toy.js DIR");
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "vocab.txt"), [...SPECIAL_TOKENS, ...Array.from({ length: WORDS }, (_, i) => `w${i}`)].join("\n") + "\n");
const rng = new Rng(1);
const lines: string[] = [];
for (let d = 0; d < DOCUMENTS; d++) {
  for (let l = 0; l < LINES; l++) {
    const words: string[] = [];
    const n = 4 + Math.floor(rng.uniform() * 7);
    for (let k = 0; k < n; k++) {
      const w = `w${Math.floor(rng.uniform() * WORDS)}`;
      words.push(w, w);
    }
    lines.push(words.join(" "));
  }
  lines.push("");
}
writeFileSync(join(dir, "corpus.txt"), lines.join("\n"));
console.log(`wrote ${join(dir, "corpus.txt")} (${DOCUMENTS} documents) and ${join(dir, "vocab.txt")} (${WORDS} words)`);
