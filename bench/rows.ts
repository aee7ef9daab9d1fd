/** Small helpers shared by the diagnostic programs in bench/ (texts from a GLUE TSV, rows of a [N, C] matrix, ROC AUC). */
import { readFileSync } from "node:fs";

/** The first column of the first n rows after the header of a TSV file (a GLUE file such as SST-2/dev.tsv). */
export function firstColumn(path: string, n: number): string[] {
  return readFileSync(path, "utf8").split("\n").slice(1).filter((l) => l.trim()).slice(0, n).map((l) => l.split("\t")[0]);
}

/** Cosine between rows i and j of m [N, C]. */
export function rowCosine(m: Float32Array, i: number, j: number, C: number): number {
  let d = 0, ni = 0, nj = 0;
  for (let c = 0; c < C; c++) {
    const x = m[i * C + c], y = m[j * C + c];
    d += x * y;
    ni += x * x;
    nj += y * y;
  }
  return d / Math.sqrt(ni * nj);
}

/** Euclidean norm of row i of m [N, C]. */
export function rowNorm(m: Float32Array, i: number, C: number): number {
  let s = 0;
  for (let c = 0; c < C; c++) s += m[i * C + c] * m[i * C + c];
  return Math.sqrt(s);
}

/** P(score of a positive > score of a negative), ties counted half, by the rank-sum (Mann-Whitney) formula. */
export function rocAuc(pos: number[], neg: number[]): number {
  const all = [...pos.map((x) => [x, 1]), ...neg.map((x) => [x, 0])].sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j][0] === all[i][0]) j++;
    const midRank = (i + 1 + j) / 2; // ranks i+1..j share their mean
    for (let k = i; k < j; k++) if (all[k][1]) rankSum += midRank;
    i = j;
  }
  return (rankSum - pos.length * (pos.length + 1) / 2) / (pos.length * neg.length);
}
