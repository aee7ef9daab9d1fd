/**
 * The library API for inference on a Hugging Face ELECTRA folder:
 *
 *   const m = await Electra.load("path/to/model");        // config.json + weights + vocab.txt / tokenizer.json
 *   await m.classify(["a great film", "a dull film"]);    // ElectraForSequenceClassification folders
 *   await m.detect(["the quick brown fox fake over the lazy dog"]);  // discriminators: replaced tokens
 *   await m.fillMask(["the quick brown [MASK] jumps"]);   // generators: top-k for each [MASK]
 *   await m.embed(["a sentence"]);                        // any folder: mean-pooled last hidden state
 *
 * Inputs are batched (dynamic padding to the longest in each batch) and run with dropout off.
 */
import { existsSync } from "node:fs";
import { setThreads } from "../core/native.js";
import { WordPieceTokenizer } from "../data/tokenizer.js";
import { loadIntoStore, readHfFolder } from "../io/hf-folder.js";
import type { ElectraConfig } from "../model/config.js";
import { createModel, RunContext, type Batch, type ElectraModel, type ModelKind } from "../model/electra.js";

export type TextInput = string | readonly [string, string];

export interface Classification {
  label: string;
  /** probability of the label (softmax), or the regression value when the model has one output */
  score: number;
  /** every label's probability (empty for regression) */
  scores: Record<string, number>;
}

export interface DetectedToken {
  token: string;
  /** P(replaced) from the discriminator */
  probability: number;
  replaced: boolean;
}

export interface MaskCandidate {
  token: string;
  id: number;
  probability: number;
}

export interface LoadOptions {
  /** force a model kind instead of reading config.json's architectures */
  kind?: ModelKind;
  threads?: number;
  /** inputs per forward pass (default 32) */
  batchSize?: number;
  /** longest input in tokens (default: max_position_embeddings, at most 512) */
  maxLength?: number;
}

const ARCH_KIND: Record<string, ModelKind> = {
  ElectraForSequenceClassification: "classifier",
  ElectraForPreTraining: "discriminator",
  ElectraForMaskedLM: "generator",
};

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

function softmax(row: ArrayLike<number>): Float64Array {
  let mx = -Infinity;
  for (let i = 0; i < row.length; i++) mx = Math.max(mx, row[i]);
  const out = new Float64Array(row.length);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += out[i] = Math.exp(row[i] - mx);
  for (let i = 0; i < row.length; i++) out[i] /= z;
  return out;
}

export class Electra {
  readonly batchSize: number;
  readonly maxLength: number;

  private constructor(readonly dir: string, readonly kind: ModelKind, readonly config: ElectraConfig, readonly model: ElectraModel,
    readonly tokenizer: WordPieceTokenizer, opts: LoadOptions) {
    this.batchSize = opts.batchSize ?? 32;
    this.maxLength = Math.min(opts.maxLength ?? config.max_position_embeddings, config.max_position_embeddings);
  }

  /** Loads a Hugging Face folder; the model kind comes from config.json's architectures unless given. */
  static async load(dir: string, opts: LoadOptions = {}): Promise<Electra> {
    if (opts.threads) setThreads(opts.threads);
    const folder = readHfFolder(dir);
    const arch = Array.isArray(folder.rawConfig.architectures) ? String(folder.rawConfig.architectures[0]) : "";
    const kind = opts.kind ?? ARCH_KIND[arch];
    if (!kind) {
      throw new Error(`${dir}: config.json's architectures (${JSON.stringify(folder.rawConfig.architectures ?? null)}) name no ELECTRA head; pass kind ("classifier", "discriminator" or "generator")`);
    }
    if (!folder.tokenizerFile || !existsSync(folder.tokenizerFile)) throw new Error(`${dir} has neither vocab.txt nor tokenizer.json`);
    const tokenizer = WordPieceTokenizer.load(folder.tokenizerFile);
    if (tokenizer.vocabSize > folder.config.vocab_size) {
      throw new Error(`${folder.tokenizerFile} has ${tokenizer.vocabSize} tokens but the model only ${folder.config.vocab_size}`);
    }
    const model = createModel(kind, folder.config);
    loadIntoStore(model.store, folder.tensors, { source: folder.weightsFile });
    return new Electra(dir, kind, folder.config, model, tokenizer, opts);
  }

  private need(kind: ModelKind, what: string): void {
    if (this.kind !== kind) throw new Error(`${what} needs a ${kind} model; ${this.dir} holds a ${this.kind}`);
  }

  /** Tokenizes inputs ([CLS] A [SEP] (B [SEP]), truncated to maxLength) into padded batches of batchSize. */
  private async *batches(inputs: readonly TextInput[]): AsyncGenerator<{ batch: Batch; lengths: number[]; start: number }> {
    for (let start = 0; start < inputs.length; start += this.batchSize) {
      const chunk = inputs.slice(start, start + this.batchSize);
      const enc = await this.tokenizer.encodePairBatch(chunk.map((x) => (typeof x === "string" ? [x, null] as const : [x[0], x[1]] as const)), this.maxLength);
      yield { ...pack(enc.map((e) => ({ ids: e.inputIds.subarray(0, e.length), types: e.tokenTypeIds.subarray(0, e.length) }))), start };
    }
  }

  private forward(batch: Batch, rows: Int32Array | null = null) {
    return this.model.forward(new RunContext({ train: false }), batch, rows);
  }

  /** Labels and scores of a sequence classifier (texts or sentence pairs). */
  async classify(inputs: readonly TextInput[]): Promise<Classification[]> {
    this.need("classifier", "classify");
    const L = this.config.num_labels;
    const names = Array.from({ length: L }, (_, i) => this.config.id2label?.[String(i)] ?? (L === 1 ? "score" : `LABEL_${i}`));
    const out: Classification[] = [];
    for await (const { batch } of this.batches(inputs)) {
      const { logits } = this.forward(batch);
      for (let b = 0; b < batch.B; b++) {
        const row = logits.subarray(b * L, (b + 1) * L);
        if (L === 1) {
          out.push({ label: names[0], score: row[0], scores: {} });
          continue;
        }
        const p = softmax(row);
        let best = 0;
        for (let i = 1; i < L; i++) if (p[i] > p[best]) best = i;
        out.push({ label: names[best], score: p[best], scores: Object.fromEntries(names.map((n, i) => [n, p[i]])) });
      }
    }
    return out;
  }

  /** Replaced-token detection: each token with the discriminator's P(replaced) ([CLS]/[SEP] left out). */
  async detect(inputs: readonly TextInput[], threshold = 0.5): Promise<DetectedToken[][]> {
    this.need("discriminator", "detect");
    const out: DetectedToken[][] = [];
    for await (const { batch, lengths } of this.batches(inputs)) {
      const { logits } = this.forward(batch);
      for (let b = 0; b < batch.B; b++) {
        const toks: DetectedToken[] = [];
        for (let t = 0; t < lengths[b]; t++) {
          const id = batch.inputIds[b * batch.T + t];
          if (id === this.tokenizer.clsId || id === this.tokenizer.sepId) continue;
          const p = sigmoid(logits[b * batch.T + t]);
          toks.push({ token: this.tokenizer.idToToken(id) ?? `[${id}]`, probability: p, replaced: p > threshold });
        }
        out.push(toks);
      }
    }
    return out;
  }

  /** The generator's top-k tokens for every [MASK] in each text (the literal "[MASK]" marks a position). */
  async fillMask(texts: readonly string[], topK = 5): Promise<MaskCandidate[][][]> {
    this.need("generator", "fillMask");
    const tk = this.tokenizer;
    const out: MaskCandidate[][][] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      const chunk = texts.slice(start, start + this.batchSize);
      // encode the pieces between the markers, so that any vocabulary (with or without [MASK] as an added token) works
      const seqs: { ids: Int32Array; types: Int32Array }[] = [];
      for (const text of chunk) {
        const pieces = await tk.encodeBatch(text.split("[MASK]"));
        const ids: number[] = [tk.clsId];
        pieces.forEach((p, i) => {
          if (i > 0) ids.push(tk.maskId);
          ids.push(...p);
        });
        if (ids.length > this.maxLength - 1) throw new Error(`"${text.slice(0, 40)}..." is longer than ${this.maxLength} tokens`);
        ids.push(tk.sepId);
        seqs.push({ ids: Int32Array.from(ids), types: new Int32Array(ids.length) });
      }
      const { batch } = pack(seqs);
      const rows: number[] = [];
      for (let i = 0; i < batch.B * batch.T; i++) if (batch.inputIds[i] === tk.maskId && batch.attentionMask[i]) rows.push(i);
      const perText: MaskCandidate[][][] = chunk.map(() => []);
      if (rows.length) {
        const { logits } = this.forward(batch, Int32Array.from(rows));
        const V = this.config.vocab_size;
        rows.forEach((r, m) => {
          const p = softmax(logits.subarray(m * V, (m + 1) * V));
          const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a]).slice(0, topK);
          perText[Math.floor(r / batch.T)].push(order.map((id) => ({ token: tk.idToToken(id) ?? `[${id}]`, id, probability: p[id] })));
        });
      }
      out.push(...perText);
    }
    return out;
  }

  /** Sentence vectors: the last hidden state mean-pooled over real tokens ("mean"), or the [CLS] state ("cls"). */
  async embed(inputs: readonly TextInput[], pooling: "mean" | "cls" = "mean"): Promise<Float32Array[]> {
    const C = this.config.hidden_size;
    const out: Float32Array[] = [];
    for await (const { batch, lengths } of this.batches(inputs)) {
      const { hidden } = this.forward(batch);
      const h = hidden[hidden.length - 1];
      for (let b = 0; b < batch.B; b++) {
        const v = new Float32Array(C);
        const n = pooling === "cls" ? 1 : lengths[b];
        for (let t = 0; t < n; t++) {
          const row = h.subarray((b * batch.T + t) * C, (b * batch.T + t + 1) * C);
          for (let c = 0; c < C; c++) v[c] += row[c] / n;
        }
        out.push(v);
      }
    }
    return out;
  }
}

/** Pads sequences to the longest into one batch. */
export function pack(seqs: { ids: Int32Array; types: Int32Array }[]): { batch: Batch; lengths: number[] } {
  const B = seqs.length, T = Math.max(1, ...seqs.map((s) => s.ids.length));
  const inputIds = new Int32Array(B * T), tokenTypeIds = new Int32Array(B * T), attentionMask = new Int32Array(B * T);
  seqs.forEach((s, b) => {
    inputIds.set(s.ids, b * T);
    tokenTypeIds.set(s.types, b * T);
    attentionMask.fill(1, b * T, b * T + s.ids.length);
  });
  return { batch: { B, T, inputIds, tokenTypeIds, attentionMask }, lengths: seqs.map((s) => s.ids.length) };
}
