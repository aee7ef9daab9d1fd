/** A held-out validation split of a training set (`--validation-split`), for any task's examples. */
import { Rng } from "../core/rng.js";

/**
 * Splits rows into train and validation, deterministically for a given `seed` (an integer): a
 * Fisher–Yates shuffle with the project's seeded generator (src/core/rng.ts) picks `round(n * fraction)` rows (at least 1,
 * at most n - 1) for validation. Both sides keep the rows' original order. Throws unless
 * 0 < fraction < 1 and there are at least 2 rows.
 */
export function splitValidation<T>(
  rows: readonly T[],
  fraction: number,
  seed: number,
): { train: T[]; validation: T[] } {
  if (!(fraction > 0 && fraction < 1)) {
    throw new Error(`splitValidation: fraction must be strictly between 0 and 1, got ${fraction}`);
  }
  if (!Number.isInteger(seed)) throw new Error(`splitValidation: seed must be an integer, got ${seed}`);
  const n = rows.length;
  if (n < 2) throw new Error(`splitValidation: need at least 2 rows to split, got ${n}`);
  const k = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
  const idx = Array.from({ length: n }, (_, i) => i);
  new Rng(seed).shuffle(idx);
  const inValidation = new Uint8Array(n);
  for (let i = 0; i < k; i++) inValidation[idx[i]!] = 1;
  const train: T[] = [];
  const validation: T[] = [];
  for (let i = 0; i < n; i++) (inValidation[i] ? validation : train).push(rows[i]!);
  return { train, validation };
}
