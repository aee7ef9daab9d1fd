/**
 * A bump allocator for activations (llm.c keeps one allocation for all activations; shapes change here
 * with dynamic padding, so the arena grows to the largest step seen and is reused from then on). Every
 * buffer starts on a 64-byte boundary (a cache line).
 * Buffers handed out are NOT zeroed: every kernel that writes into one overwrites it, and the few
 * accumulators ask for `zeros`.
 */
import { native } from "./native.js";

/**
 * A zeroed Float32Array of n elements whose data starts on a 64-byte boundary, a cache line (native align64 says
 * why): the arena's chunks, so that its 16-float offsets are too, and the packed inference weights.
 */
export function alignedFloat32(n: number): Float32Array {
  const raw = new Float32Array(n + 16);
  const skip = native.align64(raw);
  return raw.subarray(skip, skip + n);
}

export class Arena implements MarkableArena {
  private chunks: Float32Array[] = [];
  private cur: Float32Array;
  private off = 0;
  private used = 0;
  private peak = 0;

  constructor(initialFloats = 1 << 20) {
    this.cur = alignedFloat32(initialFloats);
  }

  alloc(n: number): Float32Array {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`Arena.alloc: bad size ${n}`);
    const aligned = (this.off + 15) & ~15; // 64-byte alignment for vector loads
    if (aligned + n > this.cur.length) {
      this.chunks.push(this.cur);
      this.cur = alignedFloat32(Math.max(n + 16, this.cur.length * 2));
      this.off = 0;
      return this.alloc(n);
    }
    this.off = aligned + n;
    this.used += n;
    this.peak = Math.max(this.peak, this.used);
    return this.cur.subarray(aligned, aligned + n);
  }

  zeros(n: number): Float32Array {
    const a = this.alloc(n);
    a.fill(0);
    return a;
  }

  /** Frees everything handed out; after growth, the next round uses one chunk big enough for all of it. */
  reset(): void {
    if (this.chunks.length) {
      const total = this.chunks.reduce((s, c) => s + c.length, this.cur.length);
      this.chunks = [];
      this.cur = alignedFloat32(total);
    }
    this.off = 0;
    this.used = 0;
  }

  /** A point to come back to: release(mark) frees everything allocated after it (stack discipline). */
  mark(): ArenaMark {
    return { chunks: this.chunks.length, off: this.off, used: this.used };
  }

  release(m: ArenaMark): void {
    // after a growth the old chunk is retired; the floats handed out since stay valid until reset()
    if (m.chunks !== this.chunks.length) return;
    this.off = m.off;
    this.used = m.used;
  }

  /** Largest number of floats in use at once since construction. */
  get peakFloats(): number {
    return this.peak;
  }
}

export interface ArenaMark {
  chunks: number;
  off: number;
  used: number;
}

export interface MarkableArena {
  mark(): ArenaMark;
  release(m: ArenaMark): void;
}
