/**
 * Shape-checked wrappers over the native kernels (see native/kernels.h for the dimension legend:
 * B batch, T sequence, N rows, C hidden, E embedding, F FFN, NH heads, HS head size, V vocabulary).
 * Every wrapper checks each buffer's length against the dimensions it is given and names the op and the
 * argument in its error, before anything reaches native code. Forward and backward take their
 * arguments in the same order; "+=" marks gradients that accumulate.
 */
import { alignedFloat32 } from "./arena.js";
import { native } from "./native.js";

type F32 = Float32Array;

export class ShapeError extends Error {
  override name = "ShapeError";
}

function check(a: F32 | Int32Array | Int8Array | null, n: number, op: string, arg: string, dims: string): void {
  if (a === null) return;
  if (a.length !== n) throw new ShapeError(`${op}: ${arg} has ${a.length} elements, expected ${n} (${dims})`);
}

function dims(d: Record<string, number>): string {
  for (const [k, v] of Object.entries(d)) {
    if (!Number.isInteger(v) || v < 0) throw new ShapeError(`dimension ${k} = ${v} is not a non-negative integer`);
  }
  return Object.entries(d).map(([k, v]) => `${k}=${v}`).join(", ");
}

/** out[N,OC] = inp[N,IC] @ weight[OC,IC]^T + bias[OC] */
export function matmulForward(out: F32, inp: F32, weight: F32, bias: F32 | null, N: number, IC: number, OC: number): void {
  const d = dims({ N, IC, OC });
  check(out, N * OC, "matmul_forward", "out [N,OC]", d);
  check(inp, N * IC, "matmul_forward", "inp [N,IC]", d);
  check(weight, OC * IC, "matmul_forward", "weight [OC,IC]", d);
  check(bias, OC, "matmul_forward", "bias [OC]", d);
  native.matmul_forward(out, inp, weight, bias, N, IC, OC);
}

/** dinp[N,IC] = (or += if accumulate) dout @ weight; dweight[OC,IC] += dout^T inp; dbias[OC] += colsum(dout) */
export function matmulBackward(dinp: F32 | null, dweight: F32 | null, dbias: F32 | null, dout: F32, inp: F32, weight: F32,
  N: number, IC: number, OC: number, accumulate = false): void {
  const d = dims({ N, IC, OC });
  check(dinp, N * IC, "matmul_backward", "dinp [N,IC]", d);
  check(dweight, OC * IC, "matmul_backward", "dweight [OC,IC]", d);
  check(dbias, OC, "matmul_backward", "dbias [OC]", d);
  check(dout, N * OC, "matmul_backward", "dout [N,OC]", d);
  check(inp, N * IC, "matmul_backward", "inp [N,IC]", d);
  check(weight, OC * IC, "matmul_backward", "weight [OC,IC]", d);
  native.matmul_backward(dinp, dweight, dbias, dout, inp, weight, N, IC, OC, accumulate);
}

/**
 * A linear layer's float32 weights packed for inference (native/kernels.h: panels of 16 output channels, each
 * [IC][16]); packed once when a model is loaded for inference, so they go stale if the weights change.
 */
export interface PackedWeights {
  packed: F32;
  OC: number;
  IC: number;
}

/** Packs weight[OC,IC] for packedLinearForward. */
export function packWeights(weight: F32, OC: number, IC: number): PackedWeights {
  const d = dims({ OC, IC });
  check(weight, OC * IC, "f32_pack_weights", "weight [OC,IC]", d);
  const packed = alignedFloat32(Math.ceil(OC / 16) * 16 * IC);
  native.f32_pack_weights(packed, weight, OC, IC);
  return { packed, OC, IC };
}

/**
 * out[N,OC] = inp[N,IC] @ W^T + bias[OC] on packed weights (inference); with `gelu`, out = gelu(that), the
 * bits of biasGeluForward's GELU of the same sum.
 */
export function packedLinearForward(out: F32, inp: F32, w: PackedWeights, bias: F32 | null, N: number, IC: number, OC: number, gelu = false): void {
  checkPackedLinear("packed_linear_forward", out, inp, w, bias, N, IC, OC);
  native.packed_linear_forward(out, inp, w.packed, bias, N, IC, OC, gelu);
}

/** The shapes of a linear layer on weights packed ahead (float32 or int8): theirs [OC,IC], out, inp, bias. */
function checkPackedLinear(op: string, out: F32, inp: F32, w: { OC: number; IC: number }, bias: F32 | null, N: number, IC: number, OC: number): void {
  const d = dims({ N, IC, OC });
  if (w.IC !== IC || w.OC !== OC) throw new ShapeError(`${op}: weights are [${w.OC},${w.IC}], expected [OC,IC] (${d})`);
  check(out, N * OC, op, "out [N,OC]", d);
  check(inp, N * IC, op, "inp [N,IC]", d);
  check(bias, OC, op, "bias [OC]", d);
}

/**
 * A linear layer's int8 weights as the int8 kernels read them (native/kernels.h): w[OC,IC] in [-127, 127]
 * packed in blocks of 16 output channels x 4 inputs, each channel's sum, and each channel's scale
 * (weight = w * scale[o]).
 */
export interface Int8Weights {
  packed: Int8Array;
  wsum: Int32Array;
  scale: F32;
  OC: number;
  IC: number;
}

/** Packs int8 weights w[OC,IC] (in [-127, 127]) with their per-channel scales for int8LinearForward. */
export function int8PackWeights(w: Int8Array, scale: F32, OC: number, IC: number): Int8Weights {
  const d = dims({ OC, IC });
  check(w, OC * IC, "int8_pack_weights", "w [OC,IC]", d);
  check(scale, OC, "int8_pack_weights", "scale [OC]", d);
  const packed = new Int8Array(Math.ceil(OC / 16) * Math.ceil(IC / 4) * 64), wsum = new Int32Array(OC);
  native.int8_pack_weights(packed, wsum, w, OC, IC);
  return { packed, wsum, scale, OC, IC };
}

/** out[N,OC] (int32, exact) = a[N,IC] (int8) @ w^T */
export function int8Gemm(out: Int32Array, a: Int8Array, w: Int8Weights, N: number): void {
  const { OC, IC } = w, d = dims({ N, IC, OC });
  check(out, N * OC, "int8_gemm", "out [N,OC]", d);
  check(a, N * IC, "int8_gemm", "a [N,IC]", d);
  native.int8_gemm(out, a, w.packed, w.wsum, N, IC, OC);
}

/**
 * out[N,OC] = inp[N,IC] @ (w * scale)^T + bias in int8: each row of inp quantized (symmetric, max|x| / 127),
 * int32 sums, dequantized with the row's and the channel's scales; with `gelu`, GELU of that (exact erf form,
 * the bits of biasGeluForward), in the same pass.
 */
export function int8LinearForward(out: F32, inp: F32, w: Int8Weights, bias: F32 | null, N: number, IC: number, OC: number, gelu = false): void {
  checkPackedLinear("int8_linear_forward", out, inp, w, bias, N, IC, OC);
  native.int8_linear_forward(out, inp, w.packed, w.wsum, w.scale, bias, N, IC, OC, gelu);
}

/** pre[N,F] += bias; out[N,F] = gelu(pre) (exact erf form) */
export function biasGeluForward(out: F32, pre: F32, bias: F32 | null, N: number, F: number): void {
  const d = dims({ N, F });
  check(out, N * F, "bias_gelu_forward", "out [N,F]", d);
  check(pre, N * F, "bias_gelu_forward", "pre [N,F]", d);
  check(bias, F, "bias_gelu_forward", "bias [F]", d);
  native.bias_gelu_forward(out, pre, bias, N, F);
}

/** dinp[N,F] = dout * gelu'(pre) (dinp may be dout) */
export function geluBackward(dinp: F32, dout: F32, pre: F32, N: number, F: number): void {
  const d = dims({ N, F });
  check(dinp, N * F, "gelu_backward", "dinp [N,F]", d);
  check(dout, N * F, "gelu_backward", "dout [N,F]", d);
  check(pre, N * F, "gelu_backward", "pre [N,F]", d);
  native.gelu_backward(dinp, dout, pre, N, F);
}

/** sum[N,C] = a + r (r null: sum = a); out = LayerNorm(sum) * weight + bias; saves mean[N], rstd[N] */
export function layernormForward(out: F32, sum: F32, mean: F32, rstd: F32, a: F32, r: F32 | null, weight: F32, bias: F32,
  N: number, C: number, eps: number): void {
  const d = dims({ N, C });
  for (const [x, name] of [[out, "out"], [sum, "sum"], [a, "a"], [r, "r"]] as const) check(x, N * C, "layernorm_forward", `${name} [N,C]`, d);
  check(mean, N, "layernorm_forward", "mean [N]", d);
  check(rstd, N, "layernorm_forward", "rstd [N]", d);
  check(weight, C, "layernorm_forward", "weight [C]", d);
  check(bias, C, "layernorm_forward", "bias [C]", d);
  native.layernorm_forward(out, sum, mean, rstd, a, r, weight, bias, N, C, eps);
}

/** dinp[N,C] = (or +=) d/d sum; dweight[C] +=; dbias[C] += */
export function layernormBackward(dinp: F32, dweight: F32 | null, dbias: F32 | null, dout: F32, sum: F32, mean: F32, rstd: F32,
  weight: F32, N: number, C: number, accumulate = false): void {
  const d = dims({ N, C });
  for (const [x, name] of [[dinp, "dinp"], [dout, "dout"], [sum, "sum"]] as const) check(x, N * C, "layernorm_backward", `${name} [N,C]`, d);
  check(dweight, C, "layernorm_backward", "dweight [C]", d);
  check(dbias, C, "layernorm_backward", "dbias [C]", d);
  check(mean, N, "layernorm_backward", "mean [N]", d);
  check(rstd, N, "layernorm_backward", "rstd [N]", d);
  check(weight, C, "layernorm_backward", "weight [C]", d);
  native.layernorm_backward(dinp, dweight, dbias, dout, sum, mean, rstd, weight, N, C, accumulate);
}

function checkIds(ids: Int32Array, hi: number, op: string, arg: string, allowed?: number): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if ((v < 0 || v >= hi) && v !== allowed) throw new RangeError(`${op}: ${arg}[${i}] = ${v} is outside [0, ${hi})`);
  }
}

/** out[B*T,E] = word[ids] + pos[t] + type[types]  (word[V,E], pos[P,E] or null for none (relative_key), type[TV,E]) */
export function embeddingsForward(out: F32, ids: Int32Array, types: Int32Array, word: F32, pos: F32 | null, type: F32,
  B: number, T: number, E: number, V: number, P: number, TV: number): void {
  const d = dims({ B, T, E, V, P, TV });
  check(out, B * T * E, "embeddings_forward", "out [B*T,E]", d);
  check(ids, B * T, "embeddings_forward", "ids [B*T]", d);
  check(types, B * T, "embeddings_forward", "token types [B*T]", d);
  check(word, V * E, "embeddings_forward", "word [V,E]", d);
  check(pos, P * E, "embeddings_forward", "pos [P,E]", d);
  check(type, TV * E, "embeddings_forward", "type [TV,E]", d);
  if (T > P) throw new ShapeError(`embeddings_forward: sequence length T=${T} exceeds max_position_embeddings P=${P}`);
  checkIds(ids, V, "embeddings_forward", "token id");
  checkIds(types, TV, "embeddings_forward", "token type id");
  native.embeddings_forward(out, ids, types, word, pos, type, B, T, E);
}

/** dword[V,E] +=, dpos[P,E] +=, dtype[TV,E] += (rows of padding_idx get nothing) */
export function embeddingsBackward(dword: F32 | null, dpos: F32 | null, dtype: F32 | null, dout: F32, ids: Int32Array, types: Int32Array,
  B: number, T: number, E: number, V: number, P: number, TV: number, paddingIdx: number): void {
  const d = dims({ B, T, E, V, P, TV });
  check(dword, V * E, "embeddings_backward", "dword [V,E]", d);
  check(dpos, P * E, "embeddings_backward", "dpos [P,E]", d);
  check(dtype, TV * E, "embeddings_backward", "dtype [TV,E]", d);
  check(dout, B * T * E, "embeddings_backward", "dout [B*T,E]", d);
  check(ids, B * T, "embeddings_backward", "ids [B*T]", d);
  check(types, B * T, "embeddings_backward", "token types [B*T]", d);
  native.embeddings_backward(dword, dpos, dtype, dout, ids, types, B, T, E, V, P, TV, paddingIdx);
}

/** The relative_key table checks: dist[2P-1, HS] and T <= P, or no table. */
function checkDist(t: F32 | null, P: number, T: number, HS: number, fn: string, name: string, d: string): void {
  if (t === null) return;
  if (T > P) throw new ShapeError(`${fn}: sequence length T=${T} exceeds max_position_embeddings P=${P}`);
  check(t, (2 * P - 1) * HS, fn, `${name} [2P-1,HS]`, d);
}

/**
 * out[B*T,C] = dropout(softmax((q k^T + q dist[i-j+P-1]) / sqrt(HS) + maskbias)) v over qkv[B*T,3C];
 * probs[B,NH,T,T] saved. dist[2P-1,HS] is a layer's relative_key distance embedding, null for absolute positions.
 */
export function attentionForward(out: F32, probs: F32, qkv: F32, maskbias: F32, dist: F32 | null, P: number,
  B: number, T: number, C: number, NH: number, dropoutP: number, seed: number): void {
  const d = dims({ B, T, C, NH, P });
  if (NH === 0 || C % NH !== 0) throw new ShapeError(`attention_forward: C=${C} is not divisible by NH=${NH}`);
  check(out, B * T * C, "attention_forward", "out [B*T,C]", d);
  check(probs, B * NH * T * T, "attention_forward", "probs [B,NH,T,T]", d);
  check(qkv, B * T * 3 * C, "attention_forward", "qkv [B*T,3C]", d);
  check(maskbias, B * T, "attention_forward", "maskbias [B,T]", d);
  checkDist(dist, P, T, C / NH, "attention_forward", "dist", d);
  native.attention_forward(out, probs, qkv, maskbias, dist, P, B, T, C, NH, dropoutP, seed);
}

/**
 * Inference: out[B*T,C] of attentionForward without dropout or relative positions, keeping no probs; the head
 * size C / NH must be a multiple of 16 (attentionInferFits).
 */
export function attentionInfer(out: F32, qkv: F32, maskbias: F32, B: number, T: number, C: number, NH: number): void {
  const d = dims({ B, T, C, NH });
  if (!attentionInferFits(C, NH)) throw new ShapeError(`attention_infer: head size C/NH = ${C}/${NH} is not a multiple of 16`);
  check(out, B * T * C, "attention_infer", "out [B*T,C]", d);
  check(qkv, B * T * 3 * C, "attention_infer", "qkv [B*T,3C]", d);
  check(maskbias, B * T, "attention_infer", "maskbias [B,T]", d);
  native.attention_infer(out, qkv, maskbias, B, T, C, NH);
}

/** Whether attentionInfer takes heads of C / NH (a multiple of 16: its tiles are 16 wide). */
export function attentionInferFits(C: number, NH: number): boolean {
  return NH > 0 && C % NH === 0 && (C / NH) % 16 === 0;
}

/** dqkv[B*T,3C] = d out / d qkv; ddist[2P-1,HS] += d out / d dist (both tables null for absolute positions) */
export function attentionBackward(dqkv: F32, ddist: F32 | null, dout: F32, qkv: F32, probs: F32, dist: F32 | null, P: number,
  B: number, T: number, C: number, NH: number, dropoutP: number, seed: number): void {
  const d = dims({ B, T, C, NH, P });
  if (NH === 0 || C % NH !== 0) throw new ShapeError(`attention_backward: C=${C} is not divisible by NH=${NH}`);
  if ((dist === null) !== (ddist === null)) throw new ShapeError("attention_backward: dist and ddist must both be given or both be null");
  check(dqkv, B * T * 3 * C, "attention_backward", "dqkv [B*T,3C]", d);
  check(dout, B * T * C, "attention_backward", "dout [B*T,C]", d);
  check(qkv, B * T * 3 * C, "attention_backward", "qkv [B*T,3C]", d);
  check(probs, B * NH * T * T, "attention_backward", "probs [B,NH,T,T]", d);
  checkDist(dist, P, T, C / NH, "attention_backward", "dist", d);
  checkDist(ddist, P, T, C / NH, "attention_backward", "ddist", d);
  native.attention_backward(dqkv, ddist, dout, qkv, probs, dist, P, B, T, C, NH, dropoutP, seed);
}

export function dropoutForward(out: F32, inp: F32, p: number, seed: number): void {
  check(inp, out.length, "dropout_forward", "inp", `n=${out.length}`);
  native.dropout_forward(out, inp, p, seed);
}
export function dropoutBackward(dinp: F32, dout: F32, p: number, seed: number): void {
  check(dout, dinp.length, "dropout_backward", "dout", `n=${dinp.length}`);
  native.dropout_backward(dinp, dout, p, seed);
}

/** losses[N] = -log softmax(logits[N,V])[label]; 0 where label == ignoreIndex */
export function crossentropyForward(losses: F32, logits: F32, labels: Int32Array, N: number, V: number, ignoreIndex = -100): void {
  const d = dims({ N, V });
  check(losses, N, "crossentropy_forward", "losses [N]", d);
  check(logits, N * V, "crossentropy_forward", "logits [N,V]", d);
  check(labels, N, "crossentropy_forward", "labels [N]", d);
  checkIds(labels, V, "crossentropy_forward", "label", ignoreIndex);
  native.crossentropy_forward(losses, logits, labels, N, V, ignoreIndex);
}
/** dlogits[N,V] = (softmax - onehot) * scale; may be the logits buffer itself */
export function crossentropyBackward(dlogits: F32, logits: F32, labels: Int32Array, N: number, V: number, ignoreIndex: number, scale: number): void {
  const d = dims({ N, V });
  check(dlogits, N * V, "crossentropy_backward", "dlogits [N,V]", d);
  check(logits, N * V, "crossentropy_backward", "logits [N,V]", d);
  check(labels, N, "crossentropy_backward", "labels [N]", d);
  checkIds(labels, V, "crossentropy_backward", "label", ignoreIndex);
  native.crossentropy_backward(dlogits, logits, labels, N, V, ignoreIndex, scale);
}

/** losses[N] = weights * BCE-with-logits(logits, targets) */
export function bceForward(losses: F32, logits: F32, targets: F32, weights: F32): void {
  const n = `N=${losses.length}`;
  check(logits, losses.length, "bce_forward", "logits [N]", n);
  check(targets, losses.length, "bce_forward", "targets [N]", n);
  check(weights, losses.length, "bce_forward", "weights [N]", n);
  native.bce_forward(losses, logits, targets, weights);
}
export function bceBackward(dlogits: F32, logits: F32, targets: F32, weights: F32, scale: number): void {
  const n = `N=${dlogits.length}`;
  check(logits, dlogits.length, "bce_backward", "logits [N]", n);
  check(targets, dlogits.length, "bce_backward", "targets [N]", n);
  check(weights, dlogits.length, "bce_backward", "weights [N]", n);
  native.bce_backward(dlogits, logits, targets, weights, scale);
}

export function mseForward(losses: F32, pred: F32, target: F32): void {
  check(pred, losses.length, "mse_forward", "pred [N]", `N=${losses.length}`);
  check(target, losses.length, "mse_forward", "target [N]", `N=${losses.length}`);
  native.mse_forward(losses, pred, target);
}
export function mseBackward(dpred: F32, pred: F32, target: F32, scale: number): void {
  check(pred, dpred.length, "mse_backward", "pred [N]", `N=${dpred.length}`);
  check(target, dpred.length, "mse_backward", "target [N]", `N=${dpred.length}`);
  native.mse_backward(dpred, pred, target, scale);
}

/** out[M,C] = inp[idx, :] */
export function gatherRows(out: F32, inp: F32, idx: Int32Array, C: number): void {
  check(out, idx.length * C, "gather_rows", "out [M,C]", `M=${idx.length}, C=${C}`);
  if (inp.length % C !== 0) throw new ShapeError(`gather_rows: inp length ${inp.length} is not a multiple of C=${C}`);
  checkIds(idx, inp.length / C, "gather_rows", "row index");
  native.gather_rows(out, inp, idx, C);
}
/** dinp[idx, :] += dout[M,C] */
export function scatterAddRows(dinp: F32, dout: F32, idx: Int32Array, C: number): void {
  check(dout, idx.length * C, "scatter_add_rows", "dout [M,C]", `M=${idx.length}, C=${C}`);
  if (dinp.length % C !== 0) throw new ShapeError(`scatter_add_rows: dinp length ${dinp.length} is not a multiple of C=${C}`);
  checkIds(idx, dinp.length / C, "scatter_add_rows", "row index");
  native.scatter_add_rows(dinp, dout, idx, C);
}

export function argmaxRows(out: Int32Array, inp: F32, V: number): void {
  check(inp, out.length * V, "argmax_rows", "inp [N,V]", `N=${out.length}, V=${V}`);
  native.argmax_rows(out, inp, V);
}

/**
 * Gumbel-max samples of each row of logits[M,V] (official sample_from_softmax), keyed by seed and, with rowKeys,
 * row m's noise by rowKeys[m] instead of m (so a row draws the same noise in whatever batch it is).
 */
export function gumbelArgmax(out: Int32Array, logits: F32, V: number, temperature: number, seed: number, rowKeys: Int32Array | null = null): void {
  check(logits, out.length * V, "gumbel_argmax", "logits [M,V]", `M=${out.length}, V=${V}`);
  if (rowKeys && rowKeys.length !== out.length) throw new ShapeError(`gumbel_argmax: ${rowKeys.length} row keys for ${out.length} rows`);
  native.gumbel_argmax(out, logits, V, temperature, seed, rowKeys);
}

export function sumSquares(x: F32): number {
  return native.sum_squares(x);
}
export function scaleInplace(x: F32, s: number): void {
  native.scale_inplace(x, s);
}
export function countNonfinite(x: F32): number {
  return native.count_nonfinite(x);
}
