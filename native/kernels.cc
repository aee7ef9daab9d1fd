// Fast kernels: OpenBLAS sgemm for every matrix product, OpenMP over rows (or over batch x heads in
// attention, where each thread runs single-threaded sgemm: the OpenMP build of OpenBLAS does not nest),
// and exp/erf/log written as branch-free polynomials so that the compiler vectorises them (libm's
// erff/expf are scalar calls: a layer of ELECTRA-Small evaluates a million of each). They vectorise only with
// -fno-trapping-math (binding.gyp); `-fopt-info-vec-missed` says "control flow in loop" without it.
// See kernels.h for the dimension legend and each op's contract; naive.cc holds the reference loops.
//
// Portable builds: this file is compiled once per instruction-set level (native/isa/*.cc define ELECTRA_ISA_NS
// and include it; binding.gyp gives each its -m flags) and native/dispatch.cc picks one at run time by the
// CPU's features. Everything here has internal linkage (the anonymous namespace, and Buffer instead of
// std::vector): an out-of-line template copy shared between the levels (a weak symbol) could let the linker
// hand AVX-512 code to a CPU without it. test/core/portable.test.ts checks the objects have no weak symbols.
#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels.h"

#ifndef ELECTRA_ISA_NS
#error "compile kernels.cc through native/isa/kernels_*.cc, which name its instruction-set level"
#endif

namespace electra {
namespace ELECTRA_ISA_NS {
namespace {

// A zero-filled scratch array owned by one scope (what std::vector was used for here; see the header).
template <class T>
class Buffer {
 public:
  explicit Buffer(size_t n) : n_(n), p_(n ? static_cast<T*>(std::calloc(n, sizeof(T))) : nullptr) {
    if (n && !p_) throw std::bad_alloc();
  }
  Buffer(size_t n, T) : Buffer(n) {}  // every caller's fill value is 0
  ~Buffer() { std::free(p_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  T* data() { return p_; }
  T& operator[](size_t i) { return p_[i]; }
  T* begin() { return p_; }
  T* end() { return p_ + n_; }

 private:
  size_t n_;
  T* p_;
};

// ---- vectorisable math ----

// exp(x): Cody-Waite reduction x = n ln2 + r, degree-6 Taylor on |r| <= ln2/2 (relative error < 2e-7);
// 0 below -87 (where expf underflows anyway), clamped above 88.
static inline float fexp(float x) {
  float xc = std::min(std::max(x, -87.0f), 88.0f);
  float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest via 1.5 * 2^23
  float r = std::fma(n, -0.693145751953125f, xc);
  r = std::fma(n, -1.428606765330187045e-06f, r);
  float p = 1.0f / 720;
  p = std::fma(p, r, 1.0f / 120);
  p = std::fma(p, r, 1.0f / 24);
  p = std::fma(p, r, 1.0f / 6);
  p = std::fma(p, r, 0.5f);
  p = std::fma(p, r, 1.0f);
  p = std::fma(p, r, 1.0f);
  int32_t i = ((int32_t)n + 127) << 23;
  float s;
  std::memcpy(&s, &i, 4);
  return x < -87.0f ? 0.0f : p * s;
}

// erf(x): N. Juffa's single-precision minimax approximation (max error 7.6e-8 absolute, measured against
// double erf on [-10, 10] in 1e-4 steps); both branches computed and selected so that it vectorises.
static inline float ferf(float a) {
  float t = std::fabs(a), s = a * a;
  float r = std::fma(0x1.222900p-16f, t, -0x1.91d2ccp-12f);
  float u = std::fma(0x1.fd1336p-09f, t, -0x1.8d6300p-06f);
  r = std::fma(r, s, u);
  r = std::fma(r, t, 0x1.b55cb0p-4f);
  r = std::fma(r, t, 0x1.450aa0p-1f);
  r = std::fma(r, t, 0x1.079d0cp-3f);
  r = std::fma(r, t, t);
  float big = std::copysign(1.0f - fexp(-r), a);
  float q = -0x1.3a1a82p-11f;
  q = std::fma(q, s, 0x1.473f48p-08f);
  q = std::fma(q, s, -0x1.b68bd2p-06f);
  q = std::fma(q, s, 0x1.ce1a46p-04f);
  q = std::fma(q, s, -0x1.8126e0p-02f);
  q = std::fma(q, s, 0x1.06eba6p-03f);
  float small = std::fma(q, a, a);
  return t > 0.921875f ? big : small;
}

// log(x) for x > 0 (normal floats): x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1).
static inline float flog(float x) {
  int32_t i;
  std::memcpy(&i, &x, 4);
  int32_t e = ((i >> 23) & 0xff) - 127;
  int32_t mi = (i & 0x007fffff) | 0x3f800000;
  float m;
  std::memcpy(&m, &mi, 4);
  bool hi = m > 1.41421356f;
  m = hi ? m * 0.5f : m;
  e = hi ? e + 1 : e;
  float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
  float p = 1.0f / 11;
  p = std::fma(p, s2, 1.0f / 9);
  p = std::fma(p, s2, 1.0f / 7);
  p = std::fma(p, s2, 1.0f / 5);
  p = std::fma(p, s2, 1.0f / 3);
  p = std::fma(p, s2, 1.0f);
  return std::fma((float)e, 0.693147180559945f, 2.0f * s * p);
}

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// GELU, exact erf form (bias_gelu_forward; int8.cc's fused int8 layer computes the same bits)
static inline float gelu(float u) { return 0.5f * u * (1.0f + ferf(u * kInvSqrt2)); }

static inline int nthreads_for(int64_t work) { return work < 32768 ? 1 : omp_get_max_threads(); }

// ---- matmul ----

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int IC, int OC) {
  if (bias) {
#pragma omp parallel for num_threads(nthreads_for((int64_t)N * OC))
    for (int n = 0; n < N; n++) std::memcpy(out + (int64_t)n * OC, bias, sizeof(float) * OC);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, weight, IC, bias ? 1.0f : 0.0f, out,
              OC);
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int IC, int OC, bool accumulate) {
  if (dinp)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, weight, IC,
                accumulate ? 1.0f : 0.0f, dinp, IC);
  if (dweight)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
  if (dbias) {
    // column sums: each thread owns a band of columns, rows summed in order (deterministic)
#pragma omp parallel for num_threads(nthreads_for((int64_t)N * OC)) schedule(static)
    for (int o0 = 0; o0 < OC; o0 += 64) {
      int o1 = std::min(OC, o0 + 64);
      float acc[64] = {0};
      for (int n = 0; n < N; n++) {
        const float* d = dout + (int64_t)n * OC;
        for (int o = o0; o < o1; o++) acc[o - o0] += d[o];
      }
      for (int o = o0; o < o1; o++) dbias[o] += acc[o - o0];
    }
  }
}

// ---- GELU ----

void bias_gelu_forward(float* out, float* pre, const float* bias, int N, int F) {
#pragma omp parallel for num_threads(nthreads_for((int64_t)N * F)) schedule(static)
  for (int n = 0; n < N; n++) {
    float* u = pre + (int64_t)n * F;
    float* o = out + (int64_t)n * F;
    if (bias) {
#pragma omp simd
      for (int f = 0; f < F; f++) u[f] += bias[f];
    }
#pragma omp simd
    for (int f = 0; f < F; f++) o[f] = gelu(u[f]);
  }
}

void gelu_backward(float* dinp, const float* dout, const float* pre, int N, int F) {
  int64_t total = (int64_t)N * F;
#pragma omp parallel for simd num_threads(nthreads_for(total)) schedule(static)
  for (int64_t i = 0; i < total; i++) {
    float x = pre[i];
    float cdf = 0.5f * (1.0f + ferf(x * kInvSqrt2));
    float pdf = kInvSqrt2Pi * fexp(-0.5f * x * x);
    dinp[i] = dout[i] * (cdf + x * pdf);
  }
}

// ---- LayerNorm ----

void layernorm_forward(float* out, float* sum, float* mean, float* rstd, const float* a, const float* r,
                       const float* weight, const float* bias, int N, int C, float eps) {
#pragma omp parallel for num_threads(nthreads_for((int64_t)N * C)) schedule(static)
  for (int n = 0; n < N; n++) {
    const float* an = a + (int64_t)n * C;
    float* s = sum + (int64_t)n * C;
    if (r) {
      const float* rn = r + (int64_t)n * C;
#pragma omp simd
      for (int c = 0; c < C; c++) s[c] = an[c] + rn[c];
    } else if (s != an) {
      std::memcpy(s, an, sizeof(float) * C);
    }
    float m = 0;
#pragma omp simd reduction(+ : m)
    for (int c = 0; c < C; c++) m += s[c];
    m /= C;
    float v = 0;
#pragma omp simd reduction(+ : v)
    for (int c = 0; c < C; c++) v += (s[c] - m) * (s[c] - m);
    v /= C;
    float rs = 1.0f / std::sqrt(v + eps);
    float* o = out + (int64_t)n * C;
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = (s[c] - m) * rs * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = rs;
  }
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* sum,
                        const float* mean, const float* rstd, const float* weight, int N, int C, bool accumulate) {
  int nt = nthreads_for((int64_t)N * C);
  Buffer<float> partial((size_t)nt * 2 * C, 0.0f);  // per-thread dweight | dbias, summed in thread order
#pragma omp parallel num_threads(nt)
  {
    float* pw = partial.data() + (size_t)omp_get_thread_num() * 2 * C;
    float* pb = pw + C;
#pragma omp for schedule(static)
    for (int n = 0; n < N; n++) {
      const float* x = sum + (int64_t)n * C;
      const float* dy = dout + (int64_t)n * C;
      float mu = mean[n], rs = rstd[n];
      float dmean = 0, dxmean = 0;
#pragma omp simd reduction(+ : dmean, dxmean)
      for (int c = 0; c < C; c++) {
        float xhat = (x[c] - mu) * rs;
        float dn = dy[c] * weight[c];
        dmean += dn;
        dxmean += dn * xhat;
        pw[c] += dy[c] * xhat;
        pb[c] += dy[c];
      }
      dmean /= C;
      dxmean /= C;
      float* d = dinp + (int64_t)n * C;
      if (accumulate) {
#pragma omp simd
        for (int c = 0; c < C; c++) d[c] += rs * (dy[c] * weight[c] - dmean - (x[c] - mu) * rs * dxmean);
      } else {
#pragma omp simd
        for (int c = 0; c < C; c++) d[c] = rs * (dy[c] * weight[c] - dmean - (x[c] - mu) * rs * dxmean);
      }
    }
  }
  for (int t = 0; t < nt; t++) {
    const float* pw = partial.data() + (size_t)t * 2 * C;
    if (dweight)
      for (int c = 0; c < C; c++) dweight[c] += pw[c];
    if (dbias)
      for (int c = 0; c < C; c++) dbias[c] += pw[C + c];
  }
}

// ---- embeddings ----

void embeddings_forward(float* out, const int32_t* ids, const int32_t* types, const float* word, const float* pos,
                        const float* type, int B, int T, int E) {
#pragma omp parallel for num_threads(nthreads_for((int64_t)B * T * E)) schedule(static)
  for (int64_t n = 0; n < (int64_t)B * T; n++) {
    const float* w = word + (int64_t)ids[n] * E;
    const float* y = type + (int64_t)types[n] * E;
    float* o = out + n * E;
    if (pos) {  // null: relative_key, which adds no position embeddings
      const float* p = pos + (int64_t)(n % T) * E;
#pragma omp simd
      for (int e = 0; e < E; e++) o[e] = w[e] + p[e] + y[e];
    } else {
#pragma omp simd
      for (int e = 0; e < E; e++) o[e] = w[e] + y[e];
    }
  }
}

void embeddings_backward(float* dword, float* dpos, float* dtype, const float* dout, const int32_t* ids,
                         const int32_t* types, int B, int T, int E, int padding_idx) {
  // a scatter-add: rows collide, so it runs in one thread (it is a small share of a step)
  for (int64_t n = 0; n < (int64_t)B * T; n++) {
    const float* g = dout + n * E;
    if (dword && ids[n] != padding_idx) {
      float* w = dword + (int64_t)ids[n] * E;
#pragma omp simd
      for (int e = 0; e < E; e++) w[e] += g[e];
    }
    if (dpos) {
      float* p = dpos + (int64_t)(n % T) * E;
#pragma omp simd
      for (int e = 0; e < E; e++) p[e] += g[e];
    }
    if (dtype) {
      float* y = dtype + (int64_t)types[n] * E;
#pragma omp simd
      for (int e = 0; e < E; e++) y[e] += g[e];
    }
  }
}

// ---- the counter-based generator (kernels.h: hash64, uniform01), many draws at a time ----

#if defined(__AVX2__) && !defined(__AVX512F__)
// 64-bit lane products mod 2^64 from 32-bit ones (AVX2 has no vpmullq, so GCC leaves hash64 scalar at this level:
// dropout and the generator's sampling were 10% of a pretraining step under the CPUID mask, BENCHMARKS.md):
// x c = lo(x) lo(c) + ((hi(x) lo(c) + lo(x) hi(c)) << 32); c_hi holds hi(c) in each lane's low half.
static inline __m256i mul64(__m256i x, __m256i c, __m256i c_hi) {
  const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(x, 32), c), _mm256_mul_epu32(x, c_hi));
  return _mm256_add_epi64(_mm256_mul_epu32(x, c), _mm256_slli_epi64(cross, 32));
}
static inline __m256i hash64_mix(__m256i z) {
  const __m256i m1 = _mm256_set1_epi64x((long long)0xBF58476D1CE4E5B9ULL), m1h = _mm256_srli_epi64(m1, 32);
  const __m256i m2 = _mm256_set1_epi64x((long long)0x94D049BB133111EBULL), m2h = _mm256_srli_epi64(m2, 32);
  z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), m1, m1h);
  z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), m2, m2h);
  return _mm256_srli_epi64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 31)), 40);  // uniform01's 24 bits
}
#endif

// u[j] = uniform01(seed, i0 + j) for j < n, the same bits at every level: integer arithmetic mod 2^64, and 24-bit
// integers convert to float exactly. hash64's z for index i0 + j is its z for i0 plus j times the index's
// multiplier (mod 2^64), so the AVX2 path steps z by additions, 8 indices at a time.
static inline void uniform01_run(float* u, uint64_t seed, uint64_t i0, int n) {
  int j = 0;
#if defined(__AVX2__) && !defined(__AVX512F__)
  const uint64_t K = 0xD1B54A32D192ED03ULL, z0 = seed * 0x9E3779B97F4A7C15ULL + i0 * K + 0x632BE59BD9B4E019ULL;
  // the even indices' lanes in za, the odd ones' in zb: their 24-bit results interleave into 8 floats in order
  __m256i za = _mm256_set_epi64x((long long)(z0 + 6 * K), (long long)(z0 + 4 * K), (long long)(z0 + 2 * K), (long long)z0);
  __m256i zb = _mm256_add_epi64(za, _mm256_set1_epi64x((long long)K));
  const __m256i step = _mm256_set1_epi64x((long long)(8 * K));
  const __m256 scale = _mm256_set1_ps(1.0f / 16777216.0f);
  for (; j + 8 <= n; j += 8) {
    const __m256i bits = _mm256_or_si256(hash64_mix(za), _mm256_slli_epi64(hash64_mix(zb), 32));
    _mm256_storeu_ps(u + j, _mm256_mul_ps(_mm256_cvtepi32_ps(bits), scale));
    za = _mm256_add_epi64(za, step);
    zb = _mm256_add_epi64(zb, step);
  }
#endif
#pragma omp simd
  for (int k = j; k < n; k++) u[k] = uniform01(seed, i0 + k);
}

// dst[j] = src[j] / (1 - p), or 0 where dropout_keep(seed, base + j, p) drops it (dst may be src). At avx2 the
// uniforms are drawn in runs on the stack first (uniform01_run), then the select; elsewhere in one loop, which
// GCC vectorises at avx512 (vpmullq) and which measured 25% faster there than the two passes.
static inline void dropout_rows(float* dst, const float* src, int64_t base, int n, float p, uint64_t seed) {
  const float s = 1.0f / (1.0f - p);
#if defined(__AVX2__) && !defined(__AVX512F__)
  constexpr int kRun = 512;
  alignas(32) float u[kRun];
  for (int j0 = 0; j0 < n; j0 += kRun) {
    const int m = std::min(kRun, n - j0);
    uniform01_run(u, seed, (uint64_t)(base + j0), m);
#pragma omp simd
    for (int j = 0; j < m; j++) dst[j0 + j] = u[j] >= p ? src[j0 + j] * s : 0.0f;
  }
#else
#pragma omp simd
  for (int j = 0; j < n; j++) dst[j] = dropout_keep(seed, (uint64_t)(base + j), p) ? src[j] * s : 0.0f;
#endif
}

// ---- attention ----

// row[0, T) = softmax(row + mb): the attention probabilities of one query (mb: the keys' additive mask bias)
static inline void softmax_masked_row(float* row, const float* mb, int T) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int j = 0; j < T; j++) {
    row[j] += mb[j];
    mx = row[j] > mx ? row[j] : mx;  // a max in any order is the same value
  }
  float z = 0;
#pragma omp simd reduction(+ : z)
  for (int j = 0; j < T; j++) {
    row[j] = fexp(row[j] - mx);
    z += row[j];
  }
  float inv = 1.0f / z;
#pragma omp simd
  for (int j = 0; j < T; j++) row[j] *= inv;
}

// Relative positions (dist != null): the distances i - j of a T-long sequence are rows P-T .. P+T-2 of dist, a
// contiguous block Dsub[2T-1, HS] whose row m is distance m - (T-1). R = scale Q Dsub^T [T, 2T-1] is one sgemm;
// score (i, j) adds R[i, i - j + T - 1].
void attention_forward(float* out, float* probs, const float* qkv, const float* maskbias, const float* dist, int P,
                       int B, int T, int C, int NH, float dropout_p, uint64_t seed) {
  const int HS = C / NH, C3 = 3 * C, M = 2 * T - 1;
  const float scale = 1.0f / std::sqrt((float)HS);
  const float* Dsub = dist ? dist + (int64_t)(P - T) * HS : nullptr;
#pragma omp parallel
  {
    Buffer<float> dropped(dropout_p > 0 ? (size_t)T * T : 0);
    Buffer<float> R(dist ? (size_t)T * M : 0);
#pragma omp for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; bh++) {
      const int b = bh / NH, h = bh % NH;
      const float* q = qkv + (int64_t)b * T * C3 + h * HS;
      const float* k = q + C;
      const float* v = q + 2 * C;
      float* S = probs + (int64_t)bh * T * T;
      const float* mb = maskbias + (int64_t)b * T;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, scale, q, C3, k, C3, 0.0f, S, T);
      if (Dsub) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, M, HS, scale, q, C3, Dsub, HS, 0.0f, R.data(), M);
        for (int i = 0; i < T; i++) {
          const float* r = R.data() + (int64_t)i * M + i + T - 1;  // r[-j] = R[i, i - j + T - 1]
          float* row = S + (int64_t)i * T;
          for (int j = 0; j < T; j++) row[j] += r[-j];
        }
      }
      for (int i = 0; i < T; i++) {
        float* row = S + (int64_t)i * T;
        softmax_masked_row(row, mb, T);
        if (dropout_p > 0) dropout_rows(dropped.data() + (int64_t)i * T, row, ((int64_t)bh * T + i) * T, T, dropout_p, seed);
      }
      const float* P = dropout_p > 0 ? dropped.data() : S;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, 1.0f, P, T, v, C3, 0.0f,
                  out + (int64_t)b * T * C + h * HS, C);
    }
  }
}

void attention_backward(float* dqkv, float* ddist, const float* dout, const float* qkv, const float* probs,
                        const float* dist, int P, int B, int T, int C, int NH, float dropout_p, uint64_t seed) {
  const int HS = C / NH, C3 = 3 * C, M = 2 * T - 1;
  const float scale = 1.0f / std::sqrt((float)HS);
  const float* Dsub = dist ? dist + (int64_t)(P - T) * HS : nullptr;
  // relative positions: each thread sums its heads' dDsub[2T-1, HS] in its own slice of `partial`; a static
  // schedule and a sum in thread order afterwards make the gradient the same bits on every run (as layernorm's)
  const int nt = omp_get_max_threads();
  Buffer<float> partial(dist ? (size_t)nt * M * HS : 0, 0.0f);
#pragma omp parallel num_threads(nt)
  {
    Buffer<float> dP((size_t)T * T);
    Buffer<float> dR(dist ? (size_t)T * M : 0);  // dS scattered back to distances
    float* dD = dist ? partial.data() + (size_t)omp_get_thread_num() * M * HS : nullptr;
    Buffer<float> dropped(dropout_p > 0 ? (size_t)T * T : 0);
#pragma omp for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
      const int b = bh / NH, h = bh % NH;
      const int64_t off = (int64_t)b * T * C3 + h * HS;
      const float *q = qkv + off, *k = q + C, *v = q + 2 * C;
      float *dq = dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
      const float* dO = dout + (int64_t)b * T * C + h * HS;
      const float* P = probs + (int64_t)bh * T * T;
      // dP' = dO V^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, 1.0f, dO, C, v, C3, 0.0f, dP.data(), T);
      const float* Pd = P;
      if (dropout_p > 0) {
        for (int i = 0; i < T; i++) {
          int64_t base = ((int64_t)bh * T + i) * T;
          float* d = dP.data() + (int64_t)i * T;
          dropout_rows(d, d, base, T, dropout_p, seed);
          dropout_rows(dropped.data() + (int64_t)i * T, P + (int64_t)i * T, base, T, dropout_p, seed);
        }
        Pd = dropped.data();
      }
      // dV = P'^T dO
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, 1.0f, Pd, T, dO, C, 0.0f, dv, C3);
      // dS = P * (dP - rowsum(dP * P))
      for (int i = 0; i < T; i++) {
        const float* p = P + (int64_t)i * T;
        float* d = dP.data() + (int64_t)i * T;
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int j = 0; j < T; j++) dot += d[j] * p[j];
#pragma omp simd
        for (int j = 0; j < T; j++) d[j] = p[j] * (d[j] - dot);
      }
      // dQ = scale dS K ; dK = scale dS^T Q
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, scale, dP.data(), T, k, C3, 0.0f, dq, C3);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, scale, dP.data(), T, q, C3, 0.0f, dk, C3);
      if (Dsub) {
        // dR[i, i - j + T - 1] = dS[i, j] ; dQ += scale dR Dsub ; dDsub += scale dR^T Q
        std::fill(dR.begin(), dR.end(), 0.0f);
        for (int i = 0; i < T; i++) {
          float* r = dR.data() + (int64_t)i * M + i + T - 1;
          const float* d = dP.data() + (int64_t)i * T;
          for (int j = 0; j < T; j++) r[-j] = d[j];
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, M, scale, dR.data(), M, Dsub, HS, 1.0f, dq, C3);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, HS, T, scale, dR.data(), M, q, C3, 1.0f, dD, HS);
      }
    }
  }
  if (dist) {
    float* out = ddist + (int64_t)(P - T) * HS;
    for (int t = 0; t < nt; t++) {
      const float* d = partial.data() + (size_t)t * M * HS;
      for (int64_t i = 0; i < (int64_t)M * HS; i++) out[i] += d[i];
    }
  }
}

// ---- dropout ----

void dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed) {
  constexpr int64_t kChunk = 4096;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for num_threads(nthreads_for(n)) schedule(static)
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t i0 = c * kChunk;
    dropout_rows(out + i0, inp + i0, i0, (int)std::min(kChunk, n - i0), p, seed);
  }
}
void dropout_backward(float* dinp, const float* dout, int64_t n, float p, uint64_t seed) {
  dropout_forward(dinp, dout, n, p, seed);
}

// ---- losses ----

void crossentropy_forward(float* losses, const float* logits, const int32_t* labels, int N, int V, int ignore_index) {
#pragma omp parallel for num_threads(nthreads_for((int64_t)N * V)) schedule(static)
  for (int n = 0; n < N; n++) {
    if (labels[n] == ignore_index) {
      losses[n] = 0;
      continue;
    }
    const float* x = logits + (int64_t)n * V;
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) mx = std::max(mx, x[v]);
    float z = 0;
#pragma omp simd reduction(+ : z)
    for (int v = 0; v < V; v++) z += fexp(x[v] - mx);
    losses[n] = (float)((double)mx + std::log((double)z) - x[labels[n]]);
  }
}

void crossentropy_backward(float* dlogits, const float* logits, const int32_t* labels, int N, int V, int ignore_index,
                           float scale) {
#pragma omp parallel for num_threads(nthreads_for((int64_t)N * V)) schedule(static)
  for (int n = 0; n < N; n++) {
    const float* x = logits + (int64_t)n * V;
    float* d = dlogits + (int64_t)n * V;
    if (labels[n] == ignore_index) {
      std::memset(d, 0, sizeof(float) * V);
      continue;
    }
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) mx = std::max(mx, x[v]);
    float z = 0;
#pragma omp simd reduction(+ : z)
    for (int v = 0; v < V; v++) z += fexp(x[v] - mx);
    const float s = scale / z;
    const int label = labels[n];
#pragma omp simd
    for (int v = 0; v < V; v++) d[v] = fexp(x[v] - mx) * s;
    d[label] -= scale;
  }
}

void bce_forward(float* losses, const float* logits, const float* targets, const float* weights, int N) {
  for (int n = 0; n < N; n++) {
    float x = logits[n];
    losses[n] = weights[n] * (std::max(x, 0.0f) - x * targets[n] + std::log1p(std::exp(-std::fabs(x))));
  }
}
void bce_backward(float* dlogits, const float* logits, const float* targets, const float* weights, int N,
                  float scale) {
  for (int n = 0; n < N; n++) {
    float s = 1.0f / (1.0f + std::exp(-logits[n]));
    dlogits[n] = (s - targets[n]) * weights[n] * scale;
  }
}

void mse_forward(float* losses, const float* pred, const float* target, int N) {
  for (int n = 0; n < N; n++) losses[n] = (pred[n] - target[n]) * (pred[n] - target[n]);
}
void mse_backward(float* dpred, const float* pred, const float* target, int N, float scale) {
  for (int n = 0; n < N; n++) dpred[n] = 2.0f * (pred[n] - target[n]) * scale;
}

// native/packed.cc, included after this file
void packed_linear_forward(float* out, const float* inp, const float* packed, const float* bias, int N, int IC, int OC,
                           bool with_gelu);
void attention_infer(float* out, const float* qkv, const float* maskbias, int B, int T, int C, int NH);

const Kernels kernels_table = {matmul_forward,       matmul_backward,       bias_gelu_forward, gelu_backward,
                      layernorm_forward,    layernorm_backward,    embeddings_forward, embeddings_backward,
                      attention_forward,    attention_backward,    dropout_forward,   dropout_backward,
                      crossentropy_forward, crossentropy_backward, bce_forward,       bce_backward,
                      mse_forward,          mse_backward,          packed_linear_forward,
                      attention_infer};

// ---- helpers (the Utils table) ----

void gather_rows(float* out, const float* inp, const int32_t* idx, int M, int C) {
  for (int m = 0; m < M; m++) std::memcpy(out + (int64_t)m * C, inp + (int64_t)idx[m] * C, sizeof(float) * C);
}

void scatter_add_rows(float* dinp, const float* dout, const int32_t* idx, int M, int C) {
  for (int m = 0; m < M; m++) {
    float* d = dinp + (int64_t)idx[m] * C;
    const float* g = dout + (int64_t)m * C;
    for (int c = 0; c < C; c++) d[c] += g[c];
  }
}

void argmax_rows(int32_t* out, const float* inp, int N, int V) {
#pragma omp parallel for num_threads(nthreads_for((int64_t)N * V)) schedule(static)
  for (int n = 0; n < N; n++) {
    const float* x = inp + (int64_t)n * V;
    int best = 0;
    for (int v = 1; v < V; v++)
      if (x[v] > x[best]) best = v;
    out[n] = best;
  }
}

void gumbel_argmax(int32_t* out, const float* logits, int M, int V, float temperature, uint64_t seed, const int32_t* row_keys) {
  const float inv_t = 1.0f / temperature;
#pragma omp parallel
  {
    Buffer<float> noisy(V);
#pragma omp for schedule(static)
    for (int m = 0; m < M; m++) {
      const float* x = logits + (int64_t)m * V;
      const uint64_t base = (row_keys ? (uint64_t)(uint32_t)row_keys[m] : (uint64_t)m) * V;
      float* const u = noisy.data();
      uniform01_run(u, seed, base, V);
#pragma omp simd
      for (int v = 0; v < V; v++) noisy[v] = x[v] * inv_t - flog(-flog(u[v] + 1e-9f) + 1e-9f);
      int best = 0;
      for (int v = 1; v < V; v++)
        if (noisy[v] > noisy[best]) best = v;
      out[m] = best;
    }
  }
}

void adamw_step(float* params, const float* grads, float* m, float* v, const Segment* segs, int nsegs, float lr,
                float beta1, float beta2, float eps, int64_t step, bool bias_correction) {
  const float bc1 = bias_correction ? 1.0f - (float)std::pow((double)beta1, (double)step) : 1.0f;
  const float bc2_sqrt = bias_correction ? (float)std::sqrt(1.0 - std::pow((double)beta2, (double)step)) : 1.0f;
  for (int s = 0; s < nsegs; s++) {
    const Segment& sg = segs[s];
    const float lr_s = lr * sg.lr_scale, wd = sg.weight_decay;
    float* p = params + sg.offset;
    const float* g = grads + sg.offset;
    float* ms = m + sg.offset;
    float* vs = v + sg.offset;
    if (bias_correction) {
      // torch.optim.AdamW: p *= 1 - lr wd; p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)
      const float step_size = lr_s / bc1, decay = 1.0f - lr_s * wd;
#pragma omp parallel for simd num_threads(nthreads_for(sg.length)) schedule(static)
      for (int64_t i = 0; i < sg.length; i++) {
        float gi = g[i];
        float mi = ms[i] = beta1 * ms[i] + (1.0f - beta1) * gi;
        float vi = vs[i] = beta2 * vs[i] + (1.0f - beta2) * gi * gi;
        float pi = p[i] * decay;
        p[i] = pi - step_size * (mi / (std::sqrt(vi) / bc2_sqrt + eps));
      }
    } else {
      // official AdamWeightDecayOptimizer (google-research/electra model/optimization.py)
#pragma omp parallel for simd num_threads(nthreads_for(sg.length)) schedule(static)
      for (int64_t i = 0; i < sg.length; i++) {
        float gi = g[i];
        float mi = ms[i] = beta1 * ms[i] + (1.0f - beta1) * gi;
        float vi = vs[i] = beta2 * vs[i] + (1.0f - beta2) * gi * gi;
        p[i] -= lr_s * (mi / (std::sqrt(vi) + eps) + wd * p[i]);
      }
    }
  }
}

double sum_squares(const float* x, int64_t n) {
  // fixed 4096-element chunks summed in order: the same total whatever the thread count or schedule
  const int64_t nchunks = (n + 4095) / 4096;
  Buffer<double> partial((size_t)nchunks);
#pragma omp parallel for num_threads(nthreads_for(n)) schedule(static)
  for (int64_t c = 0; c < nchunks; c++) {
    const int64_t i0 = c * 4096, i1 = std::min(n, i0 + 4096);
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = i0; i < i1; i++) acc += x[i] * x[i];
    partial[c] = acc;
  }
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

void scale_inplace(float* x, int64_t n, float s) {
#pragma omp parallel for simd num_threads(nthreads_for(n)) schedule(static)
  for (int64_t i = 0; i < n; i++) x[i] *= s;
}

int64_t count_nonfinite(const float* x, int64_t n) {
  int64_t bad = 0;
#pragma omp parallel for reduction(+ : bad) num_threads(nthreads_for(n)) schedule(static)
  for (int64_t i = 0; i < n; i++) bad += std::isfinite(x[i]) ? 0 : 1;
  return bad;
}

}  // namespace

const Kernels kernels = kernels_table;
const Utils utils = {gather_rows, scatter_add_rows, argmax_rows, gumbel_argmax, adamw_step, sum_squares, scale_inplace, count_nonfinite};

}  // namespace ELECTRA_ISA_NS
}  // namespace electra
