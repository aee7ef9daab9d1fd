/**
 * Floating-point operations of one step of each benchmark workload (a multiply-add counts 2), from the
 * model's shapes: what bench.ts divides by the step time to report GFLOP/s, and bench/gemm.ts the list of
 * matrix products it times alone. Counted: every matrix product (linear layers, the attention's Q K^T and
 * P V, the heads, the generator's vocabulary projection over the masked rows); the elementwise work
 * (LayerNorm, GELU, softmax, dropout, the optimizer) is left out, as FLOP counts of transformers usually do.
 * A backward pass costs twice its forward (the input's and the weight's gradients).
 */
import type { ElectraConfig } from "../src/model/config.js";

/** One linear layer's product over the batch: out[N,OC] = in[N,IC] W^T. */
export interface Gemm {
  name: string;
  N: number;
  IC: number;
  OC: number;
}

/** The linear layers of the encoder over N = B*T tokens (embeddings_project, then per layer Q/K/V, out, FFN). */
export function encoderGemms(c: ElectraConfig, N: number): Gemm[] {
  const out: Gemm[] = [];
  const H = c.hidden_size, E = c.embedding_size, I = c.intermediate_size;
  if (E !== H) out.push({ name: "embeddings_project", N, IC: E, OC: H });
  for (let l = 0; l < c.num_hidden_layers; l++) {
    out.push({ name: "qkv", N, IC: H, OC: 3 * H }, { name: "attention.output", N, IC: H, OC: H }, { name: "intermediate", N, IC: H, OC: I }, { name: "output", N, IC: I, OC: H });
  }
  return out;
}

export const gemmFlops = (g: Gemm) => 2 * g.N * g.IC * g.OC;

/** Q K^T and P V of every layer: 2 products of T x T x H per sequence and layer, 2 FLOPs each. */
export function attentionFlops(c: ElectraConfig, B: number, T: number): number {
  return c.num_hidden_layers * B * 2 * (2 * T * T * c.hidden_size);
}

export function encoderForwardFlops(c: ElectraConfig, B: number, T: number): number {
  return encoderGemms(c, B * T).reduce((s, g) => s + gemmFlops(g), 0) + attentionFlops(c, B, T);
}

export interface WorkloadShape {
  what: "infer" | "finetune" | "finetune-token" | "pretrain";
  disc: ElectraConfig;
  gen?: ElectraConfig;
  B: number;
  T: number;
  /** labels of the classifier */
  labels: number;
  /** pretraining: masked rows per step */
  masked?: number;
}

/** The head's products: the two-layer classifier on [CLS], the token classifier, or the pretraining heads. */
function headGemms(w: WorkloadShape): Gemm[] {
  const H = w.disc.hidden_size, N = w.B * w.T;
  if (w.what === "finetune-token") return [{ name: "classifier", N, IC: H, OC: w.labels }];
  if (w.what !== "pretrain") return [{ name: "classifier.dense", N: w.B, IC: H, OC: H }, { name: "classifier.out_proj", N: w.B, IC: H, OC: w.labels }];
  const g = w.gen!, M = w.masked ?? 0;
  return [
    { name: "discriminator_predictions.dense", N, IC: H, OC: H }, { name: "discriminator_predictions.dense_prediction", N, IC: H, OC: 1 },
    { name: "generator_predictions.dense", N: M, IC: g.hidden_size, OC: g.embedding_size }, { name: "generator_lm_head", N: M, IC: g.embedding_size, OC: g.vocab_size },
  ];
}

/** Every linear-layer product of one step's forward pass (the attention's batched products apart). */
export function workloadGemms(w: WorkloadShape): Gemm[] {
  const N = w.B * w.T;
  const enc = [...encoderGemms(w.disc, N), ...(w.what === "pretrain" ? encoderGemms(w.gen!, N) : [])];
  return [...enc, ...headGemms(w)];
}

/** FLOPs of one step: the forward, and for training steps also the backward (twice the forward). */
export function workloadFlops(w: WorkloadShape): number {
  const attention = attentionFlops(w.disc, w.B, w.T) + (w.what === "pretrain" ? attentionFlops(w.gen!, w.B, w.T) : 0);
  const forward = workloadGemms(w).reduce((s, g) => s + gemmFlops(g), 0) + attention;
  return w.what === "infer" ? forward : 3 * forward;
}
