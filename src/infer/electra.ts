/**
 * The library API for inference on a Hugging Face ELECTRA folder:
 *
 *   const m = await Electra.load("path/to/model");        // config.json + weights + vocab.txt / tokenizer.json
 *   await m.classify(["a great film", "a dull film"]);    // ElectraForSequenceClassification folders
 *   await m.ner(["Angela Merkel visited Paris."]);       // ElectraForTokenClassification: entities, offsets
 *   await m.answer([{ question: "Who?", context: "..." }]); // ElectraForQuestionAnswering: spans, every window
 *   await m.choose([{ context: "...", choices: ["a", "b"] }]); // ElectraForMultipleChoice: choice scores
 *   await m.detect(["the quick brown fox fake over the lazy dog"]);  // discriminators: replaced tokens
 *   await m.fillMask(["the quick brown [MASK] jumps"]);   // generators: top-k for each [MASK]
 *   await m.embed(["a sentence"]);                        // any folder: mean-pooled last hidden state
 *
 * The head comes from config.json's `architectures` through the model registry (src/model/registry.ts); a folder
 * without one, or with ["ElectraModel"], is a bare encoder (embed). `--model` may be a `finetune --out` folder.
 * Inputs are batched (dynamic padding to the longest in each batch) and run with dropout off.
 */
import { existsSync } from "node:fs";
import { setThreads } from "../core/native.js";
import { padBatch, type Sequence } from "../data/batching.js";
import { WordPieceTokenizer } from "../data/tokenizer.js";
import { modelDir, readHfFolder } from "../io/hf-folder.js";
import type { ElectraConfig } from "../model/config.js";
import { RunContext, type Batch } from "../model/encoder.js";
import type { ElectraModel, ModelKind } from "../model/head.js";
import { loadWeights, type Dtype } from "../model/quantize.js";
import { ALL_HEAD_PREFIXES, ARCHITECTURES, createModel, findArchitecture, getArchitecture } from "../model/registry.js";
import { featurizeChoices } from "../tasks/multiple-choice.js";
import { featureOutputs } from "../tasks/outputs.js";
import { decodeSpans, featurizeSpans, QA_MAX_QUERY_LENGTH, QA_MAX_SEQ_LENGTH, type QaOptions } from "../tasks/question-answering.js";
import {
  aggregateTokens, parseAggregationStrategy, type AggregationStrategy, type GroupedEntity, type TokenEntity, type TokenInput,
} from "./token-aggregation.js";

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

/** An entity (or, with aggregation "none", a token) found by `ner`: offsets are UTF-16 indices into the input. */
export type Entity = GroupedEntity | TokenEntity;

export interface NerOptions {
  /** transformers' aggregation strategies (default "simple"; transformers' pipeline defaults to "none") */
  aggregation?: AggregationStrategy;
  /** labels left out (default ["O"]) */
  ignoreLabels?: string[];
}

export interface QaInput {
  question: string;
  context: string;
}

export interface Answer {
  answer: string;
  /** the answer's probability among the n-best spans (and the null answer, with allowNull) */
  score: number;
  /** UTF-16 offsets into the context: context.slice(start, end) === answer (-1 for the null answer) */
  start: number;
  end: number;
}

export interface AnswerOptions extends QaOptions {
  /** answers per question (default 1) */
  topK?: number;
  /** SQuAD 2.0 models: let "" (no answer) compete (default false) */
  allowNull?: boolean;
}

export interface ChoiceInput {
  context: string;
  choices: readonly string[];
}

export interface ChoiceResult {
  /** index of the best choice */
  choice: number;
  /** softmax over the choices */
  scores: number[];
}

export interface LoadOptions {
  /** force a model kind instead of reading config.json's architectures */
  kind?: ModelKind;
  threads?: number;
  /** inputs per forward pass (default 32) */
  batchSize?: number;
  /** longest input in tokens (default: tokenizer_config.json's model_max_length, the length a fine-tuned model was trained at; else max_position_embeddings) */
  maxLength?: number;
  /**
   * "int8": the encoder's Linear layers in int8 (dynamic quantization: src/model/quantize.ts), a float32 folder
   * quantized as it loads; "fp32": float32, a quantized folder dequantized. Default: what the folder holds.
   */
  dtype?: Dtype;
}

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
  /** one run context for every forward pass: its arena is reset, not reallocated, per batch */
  private readonly ctx = new RunContext({ train: false, tape: false });

  private constructor(readonly dir: string, readonly kind: ModelKind, readonly config: ElectraConfig, readonly model: ElectraModel,
    readonly tokenizer: WordPieceTokenizer, readonly dtype: Dtype, opts: LoadOptions, modelMaxLength?: number) {
    this.batchSize = opts.batchSize ?? 32;
    this.maxLength = Math.min(opts.maxLength ?? modelMaxLength ?? config.max_position_embeddings, config.max_position_embeddings);
  }

  /**
   * Loads a Hugging Face folder (or a `finetune --out` folder); the head comes from config.json's architectures
   * unless `kind` is given. No architectures, or ["ElectraModel"]: the bare encoder (any head's weights ignored).
   */
  static async load(dir: string, opts: LoadOptions = {}): Promise<Electra> {
    if (opts.threads) setThreads(opts.threads);
    const d = modelDir(dir);
    const folder = readHfFolder(d, { int8: "keep" });
    const named = folder.rawConfig.architectures;
    let arch = opts.kind ? getArchitecture(opts.kind) : findArchitecture(named);
    if (!arch) {
      if (named !== undefined && !(Array.isArray(named) && named.length === 0)) {
        throw new Error(`${d}: config.json's architectures (${JSON.stringify(named)}) name no ELECTRA head (known: ${ARCHITECTURES.map((a) => a.name).join(", ")}); pass kind`);
      }
      arch = getArchitecture("ElectraModel");
    }
    if (!folder.tokenizerFile || !existsSync(folder.tokenizerFile)) throw new Error(`${d} has neither vocab.txt nor tokenizer.json`);
    const tokenizer = WordPieceTokenizer.forModel(folder.tokenizerFile, folder.config.vocab_size, d);
    const config: ElectraConfig = arch.completeConfig?.(folder.config, (n) => folder.tensors.has(n)) ?? { ...folder.config };
    const model = createModel(arch.name, config);
    // a bare encoder takes the encoder of any folder; a head must find its own weights
    const { dtype } = loadWeights(model, folder, { dtype: opts.dtype, allowUnexpected: arch.kind === "encoder" ? ALL_HEAD_PREFIXES : [] });
    // float32: the Linear weights packed once for the inference kernel (this object never trains)
    if (dtype === "fp32") model.encoder.packForInference();
    return new Electra(d, arch.kind, config, model, tokenizer, dtype, opts, folder.modelMaxLength);
  }

  private need(kind: ModelKind, what: string): void {
    if (this.kind !== kind) throw new Error(`${what} needs a ${kind} model; ${this.dir} holds a ${this.kind}`);
  }

  /** Tokenizes inputs ([CLS] A [SEP] (B [SEP]), truncated to maxLength) into padded batches of batchSize. */
  private async *batches(inputs: readonly TextInput[]): AsyncGenerator<{ batch: Batch; lengths: number[]; start: number }> {
    for (let start = 0; start < inputs.length; start += this.batchSize) {
      const chunk = inputs.slice(start, start + this.batchSize);
      const enc = await this.tokenizer.encodePairBatch(chunk.map((x) => (typeof x === "string" ? [x, null] as const : [x[0], x[1]] as const)), this.maxLength);
      yield { ...padBatch(enc.map((e) => ({ ids: e.inputIds.subarray(0, e.length), types: e.tokenTypeIds.subarray(0, e.length) })), this.tokenizer.padId), start };
    }
  }

  /** One forward pass; its outputs live in the shared arena until the next call, so callers copy what they keep. */
  private forward(batch: Batch, rows: Int32Array | null = null) {
    this.ctx.arena.reset();
    return this.model.forward(this.ctx, batch, rows);
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

  /**
   * fillMask's input for one text: [CLS], the pieces between the literal "[MASK]"s (a mask id for each) and [SEP].
   * The pieces are encoded apart, so that any vocabulary (with or without [MASK] as an added token) works.
   */
  async maskedIds(text: string): Promise<Int32Array> {
    const tk = this.tokenizer;
    const pieces = await tk.encodeBatch(text.split("[MASK]"));
    const ids: number[] = [tk.clsId];
    pieces.forEach((p, i) => {
      if (i > 0) ids.push(tk.maskId);
      ids.push(...p);
    });
    ids.push(tk.sepId);
    return Int32Array.from(ids);
  }

  /** The context tokens each of answer()'s windows has room for after `question` (below 1: none, the question is too long). */
  async contextRoom(question: string): Promise<number> {
    const [q] = await this.tokenizer.encodeBatch([question]);
    return Math.min(QA_MAX_SEQ_LENGTH, this.maxLength) - Math.min(q.length, QA_MAX_QUERY_LENGTH) - 3;
  }

  /** The generator's top-k tokens for every [MASK] in each text (the literal "[MASK]" marks a position). */
  async fillMask(texts: readonly string[], topK = 5): Promise<MaskCandidate[][][]> {
    this.need("generator", "fillMask");
    const tk = this.tokenizer;
    const out: MaskCandidate[][][] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      const chunk = texts.slice(start, start + this.batchSize);
      const seqs: { ids: Int32Array; types: Int32Array }[] = [];
      for (const text of chunk) {
        const ids = await this.maskedIds(text);
        if (ids.length > this.maxLength) throw new Error(`"${text.slice(0, 40)}..." is longer than ${this.maxLength} tokens`);
        seqs.push({ ids, types: new Int32Array(ids.length) });
      }
      const { batch } = padBatch(seqs, tk.padId);
      const rows: number[] = [];
      for (let i = 0; i < batch.B * batch.T; i++) if (batch.inputIds[i] === tk.maskId && batch.attentionMask[i]) rows.push(i);
      const perText: MaskCandidate[][][] = chunk.map(() => []);
      if (rows.length) {
        const { logits } = this.forward(batch, Int32Array.from(rows));
        const V = this.config.vocab_size;
        rows.forEach((r, m) => {
          const p = softmax(logits.subarray(m * V, (m + 1) * V));
          const order = topIndices(p, topK);
          perText[Math.floor(r / batch.T)].push(order.map((id) => ({ token: tk.idToToken(id) ?? `[${id}]`, id, probability: p[id] })));
        });
      }
      out.push(...perText);
    }
    return out;
  }

  /**
   * Named entities (any token classifier): each text is tokenized with character offsets, cut into windows of
   * maxLength - 2 tokens when longer, run through the model, and post-processed as transformers'
   * TokenClassificationPipeline does (src/infer/token-aggregation.ts). `start` / `end` index the input string
   * (UTF-16, so `text.slice(start, end)` is the entity's text); `word` is the decoded tokens, as transformers.
   */
  async ner(texts: readonly string[], opts: NerOptions = {}): Promise<Entity[][]> {
    this.need("token-classifier", "ner");
    const aggregation = parseAggregationStrategy(opts.aggregation ?? "simple");
    const tk = this.tokenizer, L = this.config.num_labels;
    const id2label = Array.from({ length: L }, (_, i) => this.config.id2label?.[String(i)] ?? `LABEL_${i}`);
    const W = this.maxLength - 2;
    if (W < 1) throw new Error(`maxLength ${this.maxLength} leaves no room for tokens`);
    const enc = await tk.encodeWithOffsets([...texts]);
    // windows: [text index, first token, end token), cut before a word's first piece (never inside a word, unless
    // one word is longer than a window)
    const windows: [number, number, number][] = [];
    enc.forEach((e, i) => {
      if (e.ids.length === 0) windows.push([i, 0, 0]);
      for (let s = 0; s < e.ids.length;) {
        let end = Math.min(e.ids.length, s + W);
        while (end < e.ids.length && end > s + 1 && e.tokens[end].startsWith("##")) end--;
        if (end < e.ids.length && e.tokens[end].startsWith("##")) end = Math.min(e.ids.length, s + W); // a word longer than the window
        windows.push([i, s, end]);
        s = end;
      }
    });
    const perText: Entity[][] = texts.map(() => []);
    const toUtf16 = texts.map(utf16Offsets);
    for (let w0 = 0; w0 < windows.length; w0 += this.batchSize) {
      const part = windows.slice(w0, w0 + this.batchSize);
      const seqs: Sequence[] = part.map(([i, s, e]) => {
        const ids = new Int32Array(e - s + 2);
        ids[0] = tk.clsId;
        ids.set(enc[i].ids.subarray(s, e), 1);
        ids[ids.length - 1] = tk.sepId;
        return { ids, types: new Int32Array(ids.length) };
      });
      const { batch } = padBatch(seqs, tk.padId);
      const { logits } = this.forward(batch);
      part.forEach(([i, s, e], b) => {
        const n = e - s + 2;
        const tokens: TokenInput[] = [{ token: "[CLS]", id: tk.clsId, offsets: null, special: true }];
        for (let t = s; t < e; t++) tokens.push({ token: enc[i].tokens[t], id: enc[i].ids[t], offsets: enc[i].offsets[t], special: false });
        tokens.push({ token: "[SEP]", id: tk.sepId, offsets: null, special: true });
        const rows = logits.slice(b * batch.T * L, (b * batch.T + n) * L);
        const found = aggregateTokens(texts[i], tokens, rows, id2label, { aggregation, ignoreLabels: opts.ignoreLabels, unkTokenId: tk.unkId });
        for (const x of found) {
          if ("index" in x) x.index += s; // the token's position in the whole text's input ([CLS] = 0)
          perText[i].push(toUtf16[i](x));
        }
      });
    }
    return perText;
  }

  /**
   * Extractive answers: each context is tokenized with character offsets and covered by sliding windows
   * (max_seq_length 384 or the model's maxLength, --doc-stride 128), every window is run, and the spans are
   * decoded as SQuAD fine-tuning does (n-best over all windows, max answer length 30). Returns topK answers per
   * question, best first.
   */
  async answer(inputs: readonly QaInput[], opts: AnswerOptions = {}): Promise<Answer[][]> {
    this.need("question-answering", "answer");
    const maxSeq = Math.min(QA_MAX_SEQ_LENGTH, this.maxLength);
    const features = await featurizeSpans(this.tokenizer, inputs, maxSeq, opts);
    const outputs = featureOutputs(this.model, this.ctx, features, { perPosition: true, width: 2 }, this.batchSize, this.tokenizer.padId);
    const preds = decodeSpans(outputs, features, inputs.map((x) => x.context), !!opts.allowNull, { ...opts, nBest: Math.max(opts.nBest ?? 20, opts.topK ?? 1) });
    return preds.map((p, i) => {
      const toUtf16 = utf16Offsets(inputs[i].context);
      return p.nbest.filter((x) => opts.allowNull || x.start >= 0).slice(0, opts.topK ?? 1).map((x) => {
        const span = toUtf16({ start: x.start >= 0 ? x.start : null, end: x.end >= 0 ? x.end : null });
        return { answer: x.text, score: x.probability, start: span.start ?? -1, end: span.end ?? -1 };
      });
    });
  }

  /** Multiple choice: the softmax over each context's choices and the best one. */
  async choose(inputs: readonly ChoiceInput[]): Promise<ChoiceResult[]> {
    this.need("multiple-choice", "choose");
    for (const [i, x] of inputs.entries()) if (!(x.choices.length >= 1)) throw new Error(`input ${i} has no choices`);
    const features = await featurizeChoices(this.tokenizer, inputs, this.maxLength);
    const outputs = featureOutputs(this.model, this.ctx, features, { perPosition: false, width: 1 }, this.batchSize, this.tokenizer.padId);
    return outputs.map((o) => {
      const p = softmax(o);
      let best = 0;
      for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
      return { choice: best, scores: Array.from(p) };
    });
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

/**
 * The indices of the k largest values, largest first, ties in index order: what a stable sort of all the
 * indices by value gives, cut to k, in one pass (O(n k), not O(n log n): a vocabulary of 30522 per [MASK]).
 */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const top: number[] = [];
  if (k < 1) return top;
  for (let j = 0; j < values.length; j++) {
    const v = values[j];
    if (top.length === k && !(v > values[top[k - 1]])) continue;
    let at = top.length < k ? top.push(j) - 1 : k - 1;
    while (at > 0 && values[top[at - 1]] < v) {
      top[at] = top[at - 1];
      at--;
    }
    top[at] = j;
  }
  return top;
}

/**
 * The converter of `text`'s code-point offsets (the tokenizers package's) to UTF-16 indices, built once per text:
 * the identity where the text has no surrogate pairs, else a table of each code point's UTF-16 index.
 */
function utf16Offsets(text: string): <E extends { start: number | null; end: number | null }>(e: E) => E {
  if (!/[\uD800-\uDFFF]/.test(text)) return (e) => e;
  const at: number[] = [0];
  for (const ch of text) at.push(at[at.length - 1] + ch.length);
  return (e) => ({ ...e, start: e.start === null ? null : at[e.start], end: e.end === null ? null : at[e.end] });
}
