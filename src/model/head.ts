/**
 * What a head is, and an encoder with one head (a Hugging Face `ElectraFor...` class). Each head lives in its
 * own module under heads/, named by the architecture it implements; registry.ts maps architecture names to them.
 */
import type { ElectraConfig } from "./config.js";
import type { Batch, Encoder, EncoderTape, RunContext } from "./encoder.js";
import type { ParamStore } from "./params.js";

/**
 * The short names of the heads (the `kind` of a model and of a reference fixture case). "encoder" is the bare
 * ElectraModel: its "logits" are the last hidden state.
 */
export type ModelKind = "discriminator" | "generator" | "classifier" | "token-classifier" | "question-answering" | "multiple-choice" | "encoder";

/** What every head offers: logits from the last hidden state, and d loss / d hidden state from d loss / d logits. */
export interface Head<Tape> {
  forward(ctx: RunContext, h: Float32Array, batch: Batch, rows: Int32Array | null): { logits: Float32Array; tape: Tape };
  backward(ctx: RunContext, tape: Tape, dlogits: Float32Array): Float32Array;
}

export interface ModelOutput<Tape> {
  logits: Float32Array;
  /** every hidden state: [0] the (projected) embeddings, [i] the output of layer i */
  hidden: Float32Array[];
  enc: EncoderTape;
  tape: Tape;
}

/** An encoder with one head: forward keeps the tapes, backward adds every parameter's gradient into the store. */
export abstract class ElectraWithHead<Tape> {
  abstract readonly kind: ModelKind;
  /** the Hugging Face class name (config.json `architectures[0]`) */
  abstract readonly architecture: string;
  abstract readonly encoder: Encoder;
  abstract readonly head: Head<Tape>;
  abstract readonly cfg: ElectraConfig;
  abstract readonly store: ParamStore;

  /** `rows` (flattened b*T+t indices) limits a generator's vocabulary projection to those positions */
  forward(ctx: RunContext, batch: Batch, rows: Int32Array | null = null): ModelOutput<Tape> {
    const enc = this.encoder.forward(ctx, batch);
    const { logits, tape } = this.head.forward(ctx, enc.hidden[enc.hidden.length - 1], batch, rows);
    return { logits, hidden: enc.hidden, enc, tape };
  }

  backward(ctx: RunContext, out: ModelOutput<Tape>, dlogits: Float32Array): void {
    this.encoder.backward(ctx, out.enc, this.head.backward(ctx, out.tape, dlogits));
  }
}

/** Any model: they differ only in their head, so code that runs one of them needs nothing more. */
export type ElectraModel = ElectraWithHead<unknown>;

/** The dropout of a task head: the config's classifier_dropout, else hidden_dropout_prob (as transformers). */
export function headDropout(cfg: ElectraConfig): number {
  return cfg.classifier_dropout ?? cfg.hidden_dropout_prob;
}
