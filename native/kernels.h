// Kernels of electra-ts: every op is a *_forward / *_backward pair with the same argument order
// (outputs first, then inputs, then sizes), as in karpathy/llm.c.
//
// Dimension legend, used in every shape comment of native/ and src/:
//   B  batch                    T  sequence length           N  rows (B*T, or a gathered subset)
//   C  hidden size              E  embedding size            F  feed-forward (intermediate) size
//   NH attention heads          HS head size (C / NH)        V  vocabulary size
//   P  max positions            TV token types               M  gathered rows (e.g. masked positions)
// Float tensors are contiguous row-major float32, ids are int32. "+=" marks gradients that accumulate
// (so tied weights and gradient accumulation need no extra code); other outputs are overwritten.
//
// Two implementations sit behind one table: `fast` (OpenBLAS sgemm, OpenMP, vectorisable math) and
// `naive` (plain loops, libm, double accumulators), the latter the yardstick the tests hold `fast` to.
// The N-API glue (addon.cc) validates sizes and ids before calling in, so kernels assume valid input.
#pragma once
#include <cmath>
#include <cstdint>

namespace electra {

struct Kernels {
  // out[N,OC] = inp[N,IC] @ weight[OC,IC]^T + bias[OC] (bias may be null)
  void (*matmul_forward)(float* out, const float* inp, const float* weight, const float* bias, int N, int IC, int OC);
  // dinp[N,IC] = (or +=, if accumulate) dout @ weight; dweight[OC,IC] += dout^T @ inp; dbias[OC] += sum_rows(dout).
  // dinp, dweight and dbias may each be null (not needed).
  void (*matmul_backward)(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                          const float* weight, int N, int IC, int OC, bool accumulate);

  // pre[N,F] += bias[F] (bias may be null); out[N,F] = gelu(pre), exact erf form
  void (*bias_gelu_forward)(float* out, float* pre, const float* bias, int N, int F);
  // dinp[N,F] = dout * gelu'(pre); dinp may alias dout
  void (*gelu_backward)(float* dinp, const float* dout, const float* pre, int N, int F);

  // sum[N,C] = a + r (r may be null: then sum = a, which may alias); out = LayerNorm(sum) * weight + bias.
  // mean[N], rstd[N] are saved for the backward pass.
  void (*layernorm_forward)(float* out, float* sum, float* mean, float* rstd, const float* a, const float* r,
                            const float* weight, const float* bias, int N, int C, float eps);
  // dinp[N,C] = (or +=) d LayerNorm / d sum; dweight[C] +=, dbias[C] +=
  void (*layernorm_backward)(float* dinp, float* dweight, float* dbias, const float* dout, const float* sum,
                             const float* mean, const float* rstd, const float* weight, int N, int C, bool accumulate);

  // out[B*T,E] = word[ids] + pos[t] + type[types]   (word[V,E], pos[P,E], type[TV,E])
  void (*embeddings_forward)(float* out, const int32_t* ids, const int32_t* types, const float* word,
                             const float* pos, const float* type, int B, int T, int E);
  // dword[V,E] +=, dpos[P,E] +=, dtype[TV,E] += ; rows looked up with id == padding_idx get no gradient
  void (*embeddings_backward)(float* dword, float* dpos, float* dtype, const float* dout, const int32_t* ids,
                              const int32_t* types, int B, int T, int E, int padding_idx);

  // Multi-head self-attention on packed projections qkv[B*T, 3C] (q | k | v, each head HS wide):
  // probs[B,NH,T,T] = softmax((q_i k_j + q_i dist[i - j + P - 1]) / sqrt(HS) + maskbias[b, key]);
  // out[B*T,C] = dropout(probs) @ v. dist[2P-1, HS] is transformers' relative_key distance embedding, shared by
  // the heads of a layer; null for absolute position embeddings (the term is then absent).
  // probs are saved before dropout; the dropout mask is a pure function of (seed, index).
  void (*attention_forward)(float* out, float* probs, const float* qkv, const float* maskbias, const float* dist,
                            int P, int B, int T, int C, int NH, float dropout_p, uint64_t seed);
  // dqkv[B*T,3C] = d out / d qkv (overwritten); ddist[2P-1, HS] += d out / d dist (when dist is not null)
  void (*attention_backward)(float* dqkv, float* ddist, const float* dout, const float* qkv, const float* probs,
                             const float* dist, int P, int B, int T, int C, int NH, float dropout_p, uint64_t seed);

  // out[n] = keep(seed, i) ? inp[i] / (1 - p) : 0   (in place allowed)
  void (*dropout_forward)(float* out, const float* inp, int64_t n, float p, uint64_t seed);
  void (*dropout_backward)(float* dinp, const float* dout, int64_t n, float p, uint64_t seed);

  // losses[N] = logsumexp(logits[N,V]) - logits[label] (0 where label == ignore_index)
  void (*crossentropy_forward)(float* losses, const float* logits, const int32_t* labels, int N, int V,
                               int ignore_index);
  // dlogits[N,V] = (softmax(logits) - onehot(label)) * scale (0 rows where ignored); dlogits may alias logits
  void (*crossentropy_backward)(float* dlogits, const float* logits, const int32_t* labels, int N, int V,
                                int ignore_index, float scale);

  // losses[N] = weight[i] * BCE(sigmoid(logit), target)   (weight 0/1 masks positions)
  void (*bce_forward)(float* losses, const float* logits, const float* targets, const float* weights, int N);
  // dlogits[N] = (sigmoid(logit) - target) * weight * scale
  void (*bce_backward)(float* dlogits, const float* logits, const float* targets, const float* weights, int N,
                       float scale);

  // losses[N] = (pred - target)^2 ; dpred = 2 (pred - target) * scale
  void (*mse_forward)(float* losses, const float* pred, const float* target, int N);
  void (*mse_backward)(float* dpred, const float* pred, const float* target, int N, float scale);

  // Inference (native/packed.cc): out[N,OC] = inp[N,IC] @ w[OC,IC]^T + bias (bias may be null), w prepacked by
  // f32_pack_weights; with `gelu`, out = gelu(that), exact erf form, as bias_gelu_forward computes it.
  void (*packed_linear_forward)(float* out, const float* inp, const float* packed, const float* bias, int N, int IC,
                                int OC, bool gelu);
  // Inference: out[B*T,C] of attention_forward without dropout or relative positions, keeping no probs (each
  // thread's scores for one head live in its own scratch). Needs HS % 16 == 0 (the caller checks).
  void (*attention_infer)(float* out, const float* qkv, const float* maskbias, int B, int T, int C, int NH);
};

// The packed float32 weights of packed_linear_forward: panels of 16 output channels, each [IC][16],
//   packed[(p * IC + k) * 16 + lane] = w[16 p + lane, k]   (0 past OC)
static inline int f32_panels(int OC) { return (OC + 15) / 16; }
static inline int64_t f32_packed_size(int OC, int IC) { return (int64_t)f32_panels(OC) * IC * 16; }
// the same layout from rows ldw floats apart, each element times scale (attention's keys: w = K, scale 1/sqrt(HS))
static inline void f32_pack_rows(float* packed, const float* w, int64_t ldw, int OC, int IC, float scale) {
  for (int p = 0; p < f32_panels(OC); p++)
    for (int k = 0; k < IC; k++)
      for (int lane = 0; lane < 16; lane++) {
        const int o = 16 * p + lane;
        packed[((int64_t)p * IC + k) * 16 + lane] = o < OC ? scale * w[(int64_t)o * ldw + k] : 0.0f;
      }
}
static inline void f32_pack_weights(float* packed, const float* w, int OC, int IC) { f32_pack_rows(packed, w, IC, OC, IC, 1.0f); }

extern const Kernels naive;

struct Segment {  // a run of parameters with its own learning-rate scale and weight decay
  int64_t offset, length;
  float lr_scale, weight_decay;
};

// ---- helpers with one implementation (no forward/backward pair) ----
struct Utils {
  // out[M,C] = inp[idx[m], :]; dinp[idx[m], :] += dout[m, :]
  void (*gather_rows)(float* out, const float* inp, const int32_t* idx, int M, int C);
  void (*scatter_add_rows)(float* dinp, const float* dout, const int32_t* idx, int M, int C);
  // out[N] = argmax over each row of inp[N,V] (first maximum wins)
  void (*argmax_rows)(int32_t* out, const float* inp, int N, int V);
  // Gumbel-max sampling, as the official sample_from_softmax: argmax(logits / temp - log(-log(u + 1e-9) + 1e-9)),
  // u uniform from a counter-based generator keyed by (seed, row, column); row m's noise is keyed by
  // (seed, key * V + v) with key = row_keys[m] (as unsigned), or m when row_keys is null.
  void (*gumbel_argmax)(int32_t* out, const float* logits, int M, int V, float temperature, uint64_t seed, const int32_t* row_keys);
  // One Adam step over all segments. bias_correction: torch.optim.AdamW; otherwise the official
  // AdamWeightDecayOptimizer (no bias correction): p -= lr * (m / (sqrt(v) + eps) + wd * p).
  void (*adamw_step)(float* params, const float* grads, float* m, float* v, const Segment* segs, int nsegs, float lr,
                     float beta1, float beta2, float eps, int64_t step, bool bias_correction);
  double (*sum_squares)(const float* x, int64_t n);
  void (*scale_inplace)(float* x, int64_t n, float s);
  int64_t (*count_nonfinite)(const float* x, int64_t n);
};

// ---- dynamic int8 inference (native/int8.cc; the naive twin in naive.cc) ----
// Weights are int8 in [-127, 127], one scale per output channel (src/model/quantize.ts), packed once by
// int8_pack_weights into blocks of 16 output channels x 4 inputs, the layout every int8 kernel reads:
//   packed[((ob * K4 + k4) * 16 + lane) * 4 + j] = w[16 ob + lane, 4 k4 + j]   (0 past OC or IC)
// with K4 = ceil(IC / 4) and ceil(OC / 16) blocks; wsum[o] = sum_k w[o, k].
// Activations are quantized per row at run time, symmetric, to int8 in [-127, 127] (int8_quantize_row). The
// int32 sums are exact on every path: VNNI adds 128 to the activations (u8 for vpdpbusd) and subtracts
// 128 wsum; AVX2 multiplies |a| by sign(a) w with vpmaddubsw, whose int16 pair sums (at most 2 * 128 * 127 =
// 32512) cannot saturate, then vpmaddwd; scalar loops add int32 products.
struct Int8Kernels {
  const char* name;  // "vnni", "avx2", "scalar" or "naive"
  // out[N,OC] = a[N,IC] @ w[OC,IC]^T in int32 (any int8 a: |a| <= 128 keeps AVX2's pair sums <= 32512)
  void (*gemm)(int32_t* out, const int8_t* a, const int8_t* packed, const int32_t* wsum, int N, int IC, int OC);
  // out[N,OC] = fma(q[n] @ w^T, ascale[n] * wscale[o], bias[o]), q, ascale = int8_quantize_row(inp[n]); bias may be
  // null; with `gelu`, out = gelu(that), exact erf form (the intermediate layer, fused: inference keeps no pre-GELU)
  void (*linear_forward)(float* out, const float* inp, const int8_t* packed, const int32_t* wsum, const float* wscale,
                         const float* bias, int N, int IC, int OC, bool gelu);
};
extern const Int8Kernels naive_int8;

static inline int int8_k4(int IC) { return (IC + 3) / 4; }
static inline int int8_blocks(int OC) { return (OC + 15) / 16; }
static inline int64_t int8_packed_size(int OC, int IC) { return (int64_t)int8_blocks(OC) * int8_k4(IC) * 64; }
// where w[o, k] lies in the packed layout
static inline int64_t int8_packed_index(int K4, int o, int k) { return (((int64_t)(o / 16) * K4 + k / 4) * 16 + o % 16) * 4 + k % 4; }

// q[0, IC) = clamp(nearbyint(x * (127 / max|x|)), -127, 127), q[IC, 4 K4) = 0; returns the scale max|x| / 127
// (0 for a zero row; NaN, with q = 0, for a row with a NaN or an infinity). One multiply and one rounding per
// element (nothing to contract) and a max (any order), so every level computes the same bits as the naive twin.
static inline float int8_quantize_row(int8_t* q, const float* x, int IC) {
  float amax = 0, probe = 0;  // probe: NaN where x has a NaN or an infinity (x * 0)
#pragma omp simd reduction(max : amax) reduction(+ : probe)
  for (int k = 0; k < IC; k++) {
    const float a = std::fabs(x[k]);
    amax = a > amax ? a : amax;
    probe += x[k] * 0.0f;
  }
  const int padded = 4 * int8_k4(IC);
  if (probe != 0 || amax == 0) {  // (probe is 0 or NaN)
    for (int k = 0; k < padded; k++) q[k] = 0;
    return amax == 0 && probe == 0 ? 0.0f : NAN;
  }
  const float inv = 127.0f / amax;
#pragma omp simd
  for (int k = 0; k < IC; k++) {
    float r = std::nearbyint(x[k] * inv);  // |x| <= amax, so |r| <= 127 but for the rounding of inv: clamp
    r = r < -127.0f ? -127.0f : r;
    q[k] = (int8_t)(r > 127.0f ? 127.0f : r);
  }
  for (int k = IC; k < padded; k++) q[k] = 0;
  return amax / 127.0f;
}

// Packs w[OC,IC] (int8) into the layout above and sums its rows; one implementation, shared by every level.
void int8_pack_weights(int8_t* packed, int32_t* wsum, const int8_t* w, int OC, int IC);

// The fast kernels, compiled once per instruction-set level (native/isa/), and the level dispatch.cc picks
// at load time: the best the CPU has, or ELECTRA_ISA=sse4.2|avx2|avx512 if the CPU has that one.
namespace isa_sse42 { extern const Kernels kernels; extern const Utils utils; extern const Int8Kernels int8; }
namespace isa_avx2 { extern const Kernels kernels; extern const Utils utils; extern const Int8Kernels int8; }
// int8_vnni only where the CPU has AVX512-VNNI (fast_int8 checks); int8 otherwise
namespace isa_avx512 { extern const Kernels kernels; extern const Utils utils; extern const Int8Kernels int8, int8_vnni; }
struct Level {
  const char* name;
  const Kernels* kernels;
  const Utils* utils;
  const Int8Kernels* int8;
};
const Level& fast_level();
// The int8 kernels of the fast level: at the avx512 level the VNNI ones when the CPU has avx512vnni.
const Int8Kernels& fast_int8();

// The counter-based generator behind dropout and sampling: 64 random bits for (seed, index).
static inline uint64_t hash64(uint64_t seed, uint64_t index) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ULL + index * 0xD1B54A32D192ED03ULL + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
// Uniform in [0, 1) with 24 bits, exactly representable in float.
static inline float uniform01(uint64_t seed, uint64_t index) {
  return (float)(hash64(seed, index) >> 40) * (1.0f / 16777216.0f);
}
static inline bool dropout_keep(uint64_t seed, uint64_t index, float p) { return uniform01(seed, index) >= p; }

}  // namespace electra
