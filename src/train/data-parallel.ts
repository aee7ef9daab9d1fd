/**
 * Data parallelism over an MPI world (src/core/mpi.ts): every rank computes the gradient of its shard of the
 * global batch, weighted by the shard's share of the global loss's denominators, so that the SUM over ranks
 * (MPI_Allreduce over the flat gradient buffer) is the gradient of the global batch, as one process with the
 * global batch would compute it; the optimizer then runs identically on every rank.
 */
import { createHash } from "node:crypto";
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { World } from "../core/mpi.js";

/** Elements per all-reduce bucket (16 MiB of float32): buckets go in a fixed order, the buffer's. */
export const BUCKET_ELEMENTS = 1 << 22;

/**
 * Sums the ranks' gradients, bucket by bucket, and keeps the time it took. With an early range (a part of the
 * buffer whose gradients are final before the backward pass ends), its buckets come first and start() queues
 * them at once, so that they are reduced while the rest is computed (overlap); the buckets and their order are
 * the same whether start() is called or not, so ranks may differ in that.
 */
export class GradientReducer {
  /** wall seconds spent in reduce() since the last take() */
  private seconds = 0;
  private readonly first: [number, number][];
  private readonly rest: [number, number][];
  private started = false;

  constructor(readonly world: World, readonly grad: Float32Array, early: [number, number] | null = null, readonly bucketElements = BUCKET_ELEMENTS) {
    if (!Number.isInteger(bucketElements) || bucketElements < 1) throw new Error(`bucket size ${bucketElements} must be a positive integer`);
    const [lo, hi] = early ?? [0, 0];
    const cut = (a: number, b: number) => {
      const out: [number, number][] = [];
      for (let x = a; x < b; x += bucketElements) out.push([x, Math.min(x + bucketElements, b)]);
      return out;
    };
    this.first = cut(lo, hi);
    this.rest = [...cut(0, lo), ...cut(hi, grad.length)];
  }

  private queue(buckets: [number, number][]): void {
    for (const [a, b] of buckets) this.world.startSum(this.grad.subarray(a, b));
  }

  /** queues the early range's buckets (their gradients must be final) */
  start(): void {
    if (this.world.size === 1 || this.started) return;
    this.queue(this.first);
    this.started = true;
  }

  /** every rank's gradient summed into each rank's buffer */
  reduce(): void {
    if (this.world.size === 1) return;
    const t = performance.now();
    this.start();
    this.queue(this.rest);
    this.world.wait("gradient all-reduce");
    this.started = false;
    this.seconds += (performance.now() - t) / 1000;
  }

  /** seconds spent reducing (after the backward pass) since the last call */
  take(): number {
    const s = this.seconds;
    this.seconds = 0;
    return s;
  }
}

/** local / global, 0 when the global count is 0 (a shard's share of a mean over the global batch). */
export function share(local: number, global: number): number {
  return global > 0 ? local / global : 0;
}

/** Sums numbers over the ranks (a window of metrics, counts): one small all-reduce. */
export function sumOverRanks(world: World, values: number[], what = "metrics all-reduce"): number[] {
  if (world.size === 1) return values;
  const a = Float64Array.from(values);
  world.sum([a], what);
  return Array.from(a);
}

/**
 * A check of the ranks' agreement (ELECTRA_PARAM_DIGESTS=DIR, used by test/train/mpi.test.ts): after every
 * optimizer update each rank appends "step sha256-of-the-parameters" to DIR/rank-R.txt. Null when unset.
 */
export function parameterDigests(world: World): ((step: number, data: Float32Array) => void) | null {
  const dir = process.env.ELECTRA_PARAM_DIGESTS;
  if (!dir) return null;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `rank-${world.rank}.txt`);
  return (step, data) => {
    const h = createHash("sha256").update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest("hex");
    appendFileSync(file, `${step} ${h}\n`);
  };
}
