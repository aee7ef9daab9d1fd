/**
 * How much could a discriminator gain from the piece just before each piece? An upper reference for the
 * pretraining log's "advantage" (the base-rate entropy minus the discriminator loss).
 *
 *   node dist-research/research/bigram-headroom.js EXAMPLES_BIN [REPLACED_FRACTION]
 *
 * Fits an interpolated bigram model P(x | previous piece) = 0.7 count(prev, x) / count(prev) + 0.3 unigram(x)
 * on the example file (the pieces a pretraining run sees; in-sample, as the discriminator sees them too), then
 * replaces each inner piece with probability REPLACED_FRACTION (0.1275 = 15% chosen x 85% [MASK]ed) by a draw
 * from the unigram distribution (a generator that has learned word frequencies and nothing else) and scores the
 * Bayes detector that knows both distributions. Prints its loss, the base-rate loss (binary entropy of
 * the replaced fraction) and their difference.
 * Measurements in BENCHMARKS.md (issue 5, fifth measurement).
 */
import { ExampleFile } from "../src/data/pretrain-builder.js";
import { Rng } from "../src/core/rng.js";
import { binaryEntropy } from "../src/train/pretrain.js";

const LAMBDA = 0.7;

function main(): void {
  const [path, fracArg] = process.argv.slice(2);
  if (!path) {
    console.error("usage: node dist-research/research/bigram-headroom.js EXAMPLES_BIN [REPLACED_FRACTION]");
    process.exit(2);
  }
  const rho = Number(fracArg ?? 0.15 * 0.85);
  const f = ExampleFile.open(path);
  const V = f.vocabSize;
  const uni = new Float64Array(V), prevCount = new Float64Array(V), pair = new Map<number, number>();
  const seqs: Int32Array[] = [];
  let n = 0;
  for (let i = 0; i < f.count; i++) {
    const e = f.read(i);
    const ids = e.inputIds.slice(0, e.length);
    seqs.push(ids);
    for (let t = 1; t < ids.length; t++) {
      uni[ids[t]]++;
      prevCount[ids[t - 1]]++;
      pair.set(ids[t - 1] * V + ids[t], (pair.get(ids[t - 1] * V + ids[t]) ?? 0) + 1);
      n++;
    }
  }
  for (let x = 0; x < V; x++) uni[x] /= n;
  const cdf = new Float64Array(V);
  for (let x = 0, s = 0; x < V; x++) cdf[x] = s += uni[x];
  const rng = new Rng(1);
  const drawUnigram = (): number => {
    const r = rng.uniform() * cdf[V - 1];
    let lo = 0, hi = V - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let bayes = 0, replaced = 0, m = 0;
  for (const ids of seqs) {
    for (let t = 1; t < ids.length - 1; t++) {
      let x = ids[t], y = 0;
      if (rng.uniform() < rho) {
        const z = drawUnigram();
        if (z !== x) { x = z; y = 1; }
      }
      const prev = ids[t - 1];
      const bigram = LAMBDA * (pair.get(prev * V + x) ?? 0) / Math.max(prevCount[prev], 1) + (1 - LAMBDA) * uni[x];
      const p = rho * uni[x] / (rho * uni[x] + (1 - rho) * bigram);
      bayes -= y ? Math.log(p) : Math.log(1 - p);
      replaced += y;
      m++;
    }
  }
  const base = binaryEntropy(replaced / m); // what "always the base rate" scores, as in the pretraining log
  console.log(JSON.stringify({ pieces: m, replaced_fraction: +(replaced / m).toFixed(4), bigram_detector_loss: +(bayes / m).toFixed(4), base_rate_loss: +base.toFixed(4), advantage: +(base - bayes / m).toFixed(4) }));
}

main();
