/**
 * A small seeded random generator (xoshiro128**, seeded through splitmix32) whose whole state is
 * four 32-bit words, so it can be saved in a checkpoint and restored for an exact resume.
 * Math.random is never used for anything that affects results.
 */
function splitmix32(x: number): [number, number] {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [x, (z ^ (z >>> 16)) >>> 0];
}

/** murmur3's 32-bit finaliser: every input bit reaches every output bit. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A seed (unsigned 32-bit) from a seed and integer keys, e.g. (run seed, step, example): a hash, so that the
 * streams of neighbouring keys are unrelated. Noise drawn from it depends on what the keys name, not on the
 * order in which a batch was put together (data-parallel ranks and one process draw the same).
 */
export function keyedSeed(seed: number, ...keys: number[]): number {
  let h = fmix32((seed | 0) ^ 0x9e3779b9);
  for (const k of keys) {
    if (!Number.isInteger(k) || k < 0 || k > 0xffffffff) throw new RangeError(`keyedSeed: key ${k} is not an unsigned 32-bit integer`);
    h = fmix32((h + 0x9e3779b9) ^ fmix32(k + 0x7f4a7c15));
  }
  return h;
}

export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number = 0) {
    let x = seed | 0;
    for (let i = 0; i < 4; i++) {
      const [nx, v] = splitmix32(x);
      x = nx;
      this.s[i] = v;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [lo, hi] inclusive (Python's random.randint semantics). */
  randint(lo: number, hi: number): number {
    if (!(hi >= lo)) throw new Error(`randint: empty range [${lo}, ${hi}]`);
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(a: T[] | Int32Array | Uint32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      const t = a[i];
      a[i] = a[j];
      a[j] = t as never;
    }
  }

  /** The state as four numbers (JSON-safe), for checkpoints. */
  getState(): number[] {
    return Array.from(this.s);
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4 || !state.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
      throw new Error(`Rng.setState: expected four unsigned 32-bit integers, got ${JSON.stringify(state)}`);
    }
    this.s.set(state);
  }

  /** An Rng seeded by keyedSeed(seed, ...keys). */
  static keyed(seed: number, ...keys: number[]): Rng {
    return new Rng(keyedSeed(seed, ...keys));
  }

  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
