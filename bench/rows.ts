/** Small helpers shared by the diagnostic programs in bench/ that look at rows of a [N, C] matrix. */

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
