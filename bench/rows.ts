/** Small helpers shared by the diagnostic programs in bench/ (texts from a GLUE TSV, rows of a [N, C] matrix). */
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
