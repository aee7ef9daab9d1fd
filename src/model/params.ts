/**
 * All parameters of one or more models live in ONE Float32Array and their gradients in another
 * (llm.c's habit), so the optimizer, clipping and checkpointing are single loops over flat buffers.
 * Each parameter is a named view (Hugging Face name and shape). Aliases let two names share storage:
 * the generator's lm_head weight and its word embeddings, or the generator's embedding block and the
 * discriminator's during pretraining; their gradients then add up in the shared slot by construction.
 */
import { Rng } from "../core/rng.js";

export interface ParamSpec {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  /** Depth for layer-wise learning-rate decay: 0 embeddings, i + 1 encoder layer i, L + 2 heads. */
  depth: number;
}

export class ParamStore {
  private specs: ParamSpec[] = [];
  private byName = new Map<string, ParamSpec>();
  private aliasOf = new Map<string, string>();
  private total = 0;
  private _data: Float32Array | null = null;
  private _grad: Float32Array | null = null;

  /** Declares a parameter; storage is allocated by finalize(). */
  declare(name: string, shape: number[], depth: number): void {
    if (this._data) throw new Error(`ParamStore: cannot declare ${name} after finalize()`);
    if (this.byName.has(name) || this.aliasOf.has(name)) throw new Error(`ParamStore: ${name} declared twice`);
    const size = shape.reduce((a, b) => a * b, 1);
    const spec = { name, shape: [...shape], offset: this.total, size, depth };
    this.specs.push(spec);
    this.byName.set(name, spec);
    this.total += size;
  }

  /** Makes `name` another name for the storage of `target`. */
  alias(name: string, target: string): void {
    if (this.byName.has(name) || this.aliasOf.has(name)) throw new Error(`ParamStore: ${name} declared twice`);
    this.aliasOf.set(name, this.resolveName(target));
  }

  finalize(): void {
    if (this._data) return;
    this._data = new Float32Array(this.total);
    this._grad = new Float32Array(this.total);
  }

  get data(): Float32Array {
    if (!this._data) throw new Error("ParamStore: not finalized");
    return this._data;
  }
  get grad(): Float32Array {
    if (!this._grad) throw new Error("ParamStore: not finalized");
    return this._grad;
  }
  get size(): number {
    return this.total;
  }

  private resolveName(name: string): string {
    return this.aliasOf.get(name) ?? name;
  }

  has(name: string): boolean {
    return this.byName.has(this.resolveName(name));
  }

  spec(name: string): ParamSpec {
    const s = this.byName.get(this.resolveName(name));
    if (!s) throw new Error(`ParamStore: no parameter named ${name}`);
    return s;
  }

  /** The parameter's values (a view into the flat buffer). */
  get(name: string): Float32Array {
    const s = this.spec(name);
    return this.data.subarray(s.offset, s.offset + s.size);
  }

  /** The parameter's gradient (a view into the flat gradient buffer). */
  g(name: string): Float32Array {
    const s = this.spec(name);
    return this.grad.subarray(s.offset, s.offset + s.size);
  }

  /** A view spanning consecutive parameters (e.g. query|key|value weights as one [3C, C] matrix). */
  span(first: string, last: string, which: "data" | "grad" = "data"): Float32Array {
    const a = this.spec(first), b = this.spec(last);
    if (b.offset < a.offset) throw new Error(`ParamStore: ${last} comes before ${first}`);
    const buf = which === "data" ? this.data : this.grad;
    return buf.subarray(a.offset, b.offset + b.size);
  }

  /** Parameters with their own storage, in layout order. */
  own(): readonly ParamSpec[] {
    return this.specs;
  }

  /** Every name (own and aliases) with the spec it resolves to. */
  allNames(): [string, ParamSpec][] {
    const out: [string, ParamSpec][] = this.specs.map((s) => [s.name, s]);
    for (const [a, t] of this.aliasOf) out.push([a, this.byName.get(t)!]);
    return out;
  }

  zeroGrad(): void {
    this.grad.fill(0);
  }
}

/** Hugging Face's rule for which parameters get no weight decay (official code: LayerNorm, layer_norm, bias). */
export function isNoDecay(name: string): boolean {
  return name.endsWith("bias") || name.includes("LayerNorm") || name.includes("layer_norm");
}

/**
 * transformers' _init_weights for ELECTRA: Linear and Embedding weights ~ N(0, initializer_range), biases 0,
 * LayerNorm weight 1 and bias 0, the padding row of the word embeddings 0. `only` limits it to some parameters
 * (the others are left as they are, their pages untouched).
 */
export function initParams(store: ParamStore, initializerRange: number, seed: number, paddingRows: Map<string, number> = new Map(),
  only: (name: string) => boolean = () => true): void {
  const rng = new Rng(seed);
  for (const s of store.own()) {
    if (!only(s.name)) continue;
    const v = store.get(s.name);
    if (s.name.endsWith("LayerNorm.weight")) v.fill(1);
    else if (s.name.endsWith("bias")) v.fill(0);
    else for (let i = 0; i < v.length; i++) v[i] = rng.normal() * initializerRange;
    const pad = paddingRows.get(s.name);
    if (pad !== undefined) v.fill(0, pad * s.shape[1], (pad + 1) * s.shape[1]);
  }
}
