// Naive kernels: the plainest loops that compute each op, with libm's erff/expf and double accumulators.
// No BLAS, no threads. They are the yardstick for the fast kernels (test/core/kernels.test.ts runs both
// on odd shapes and compares), not for use in training.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"

namespace electra {
namespace {

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int IC, int OC) {
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      double acc = bias ? bias[o] : 0.0;
      for (int i = 0; i < IC; i++) acc += (double)inp[(int64_t)n * IC + i] * weight[(int64_t)o * IC + i];
      out[(int64_t)n * OC + o] = (float)acc;
    }
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int IC, int OC, bool accumulate) {
  if (dinp)
    for (int n = 0; n < N; n++)
      for (int i = 0; i < IC; i++) {
        double acc = 0;
        for (int o = 0; o < OC; o++) acc += (double)dout[(int64_t)n * OC + o] * weight[(int64_t)o * IC + i];
        float& d = dinp[(int64_t)n * IC + i];
        d = accumulate ? d + (float)acc : (float)acc;
      }
  if (dweight)
    for (int o = 0; o < OC; o++)
      for (int i = 0; i < IC; i++) {
        double acc = 0;
        for (int n = 0; n < N; n++) acc += (double)dout[(int64_t)n * OC + o] * inp[(int64_t)n * IC + i];
        dweight[(int64_t)o * IC + i] += (float)acc;
      }
  if (dbias)
    for (int o = 0; o < OC; o++) {
      double acc = 0;
      for (int n = 0; n < N; n++) acc += dout[(int64_t)n * OC + o];
      dbias[o] += (float)acc;
    }
}

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_grad(double x) {
  return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
}

void bias_gelu_forward(float* out, float* pre, const float* bias, int N, int F) {
  for (int n = 0; n < N; n++)
    for (int f = 0; f < F; f++) {
      float& u = pre[(int64_t)n * F + f];
      if (bias) u += bias[f];
      out[(int64_t)n * F + f] = (float)gelu(u);
    }
}

void gelu_backward(float* dinp, const float* dout, const float* pre, int N, int F) {
  for (int64_t i = 0; i < (int64_t)N * F; i++) dinp[i] = (float)(dout[i] * gelu_grad(pre[i]));
}

void layernorm_forward(float* out, float* sum, float* mean, float* rstd, const float* a, const float* r,
                       const float* weight, const float* bias, int N, int C, float eps) {
  for (int n = 0; n < N; n++) {
    float* s = sum + (int64_t)n * C;
    for (int c = 0; c < C; c++) s[c] = a[(int64_t)n * C + c] + (r ? r[(int64_t)n * C + c] : 0.0f);
    double m = 0, v = 0;
    for (int c = 0; c < C; c++) m += s[c];
    m /= C;
    for (int c = 0; c < C; c++) v += (s[c] - m) * (s[c] - m);
    v /= C;
    double rs = 1.0 / std::sqrt(v + eps);
    for (int c = 0; c < C; c++) out[(int64_t)n * C + c] = (float)((s[c] - m) * rs * weight[c] + bias[c]);
    mean[n] = (float)m;
    rstd[n] = (float)rs;
  }
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* sum,
                        const float* mean, const float* rstd, const float* weight, int N, int C, bool accumulate) {
  for (int n = 0; n < N; n++) {
    const float* x = sum + (int64_t)n * C;
    const float* dy = dout + (int64_t)n * C;
    double dnorm_mean = 0, dnorm_xhat_mean = 0;
    for (int c = 0; c < C; c++) {
      double xhat = (x[c] - mean[n]) * (double)rstd[n];
      double dnorm = (double)dy[c] * weight[c];
      dnorm_mean += dnorm;
      dnorm_xhat_mean += dnorm * xhat;
      if (dweight) dweight[c] += (float)(dy[c] * xhat);
      if (dbias) dbias[c] += dy[c];
    }
    dnorm_mean /= C;
    dnorm_xhat_mean /= C;
    for (int c = 0; c < C; c++) {
      double xhat = (x[c] - mean[n]) * (double)rstd[n];
      double g = rstd[n] * ((double)dy[c] * weight[c] - dnorm_mean - xhat * dnorm_xhat_mean);
      float& d = dinp[(int64_t)n * C + c];
      d = accumulate ? d + (float)g : (float)g;
    }
  }
}

void embeddings_forward(float* out, const int32_t* ids, const int32_t* types, const float* word, const float* pos,
                        const float* type, int B, int T, int E) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      int64_t n = (int64_t)b * T + t;
      for (int e = 0; e < E; e++)
        out[n * E + e] = word[(int64_t)ids[n] * E + e] + (pos ? pos[(int64_t)t * E + e] : 0.0f) + type[(int64_t)types[n] * E + e];
    }
}

void embeddings_backward(float* dword, float* dpos, float* dtype, const float* dout, const int32_t* ids,
                         const int32_t* types, int B, int T, int E, int padding_idx) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      int64_t n = (int64_t)b * T + t;
      for (int e = 0; e < E; e++) {
        float g = dout[n * E + e];
        if (dword && ids[n] != padding_idx) dword[(int64_t)ids[n] * E + e] += g;
        if (dpos) dpos[(int64_t)t * E + e] += g;
        if (dtype) dtype[(int64_t)types[n] * E + e] += g;
      }
    }
}

void attention_forward(float* out, float* probs, const float* qkv, const float* maskbias, const float* dist, int P,
                       int B, int T, int C, int NH, float dropout_p, uint64_t seed) {
  int HS = C / NH;
  double scale = 1.0 / std::sqrt((double)HS);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int i = 0; i < T; i++) {
        float* p = probs + (((int64_t)b * NH + h) * T + i) * T;
        const float* q = qkv + ((int64_t)b * T + i) * 3 * C + h * HS;
        double mx = -INFINITY;
        for (int j = 0; j < T; j++) {
          const float* k = qkv + ((int64_t)b * T + j) * 3 * C + C + h * HS;
          double s = 0;
          for (int d = 0; d < HS; d++) s += (double)q[d] * k[d];
          if (dist)
            for (int d = 0; d < HS; d++) s += (double)q[d] * dist[(int64_t)(i - j + P - 1) * HS + d];
          p[j] = (float)((float)(s * scale) + maskbias[(int64_t)b * T + j]);
          mx = std::max(mx, (double)p[j]);
        }
        double z = 0;
        for (int j = 0; j < T; j++) z += std::exp((double)p[j] - mx);
        for (int j = 0; j < T; j++) p[j] = (float)(std::exp((double)p[j] - mx) / z);
        float* o = out + ((int64_t)b * T + i) * C + h * HS;
        for (int d = 0; d < HS; d++) {
          double acc = 0;
          for (int j = 0; j < T; j++) {
            double pj = p[j];
            if (dropout_p > 0) {
              uint64_t idx = (((uint64_t)b * NH + h) * T + i) * T + j;
              pj = dropout_keep(seed, idx, dropout_p) ? pj / (1.0 - dropout_p) : 0.0;
            }
            acc += pj * qkv[((int64_t)b * T + j) * 3 * C + 2 * C + h * HS + d];
          }
          o[d] = (float)acc;
        }
      }
}

void attention_backward(float* dqkv, float* ddist, const float* dout, const float* qkv, const float* probs,
                        const float* dist, int P, int B, int T, int C, int NH, float dropout_p, uint64_t seed) {
  int HS = C / NH;
  double scale = 1.0 / std::sqrt((double)HS);
  for (int64_t i = 0; i < (int64_t)B * T * 3 * C; i++) dqkv[i] = 0;
  std::vector<double> dp(T), keep(T);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int i = 0; i < T; i++) {
        const float* p = probs + (((int64_t)b * NH + h) * T + i) * T;
        const float* dO = dout + ((int64_t)b * T + i) * C + h * HS;
        for (int j = 0; j < T; j++) {
          keep[j] = 1.0;
          if (dropout_p > 0) {
            uint64_t idx = (((uint64_t)b * NH + h) * T + i) * T + j;
            keep[j] = dropout_keep(seed, idx, dropout_p) ? 1.0 / (1.0 - dropout_p) : 0.0;
          }
          const float* v = qkv + ((int64_t)b * T + j) * 3 * C + 2 * C + h * HS;
          float* dv = dqkv + ((int64_t)b * T + j) * 3 * C + 2 * C + h * HS;
          double acc = 0;
          for (int d = 0; d < HS; d++) {
            acc += (double)dO[d] * v[d];
            dv[d] += (float)(p[j] * keep[j] * dO[d]);
          }
          dp[j] = acc * keep[j];
        }
        double dot = 0;
        for (int j = 0; j < T; j++) dot += dp[j] * p[j];
        const float* q = qkv + ((int64_t)b * T + i) * 3 * C + h * HS;
        float* dq = dqkv + ((int64_t)b * T + i) * 3 * C + h * HS;
        for (int j = 0; j < T; j++) {
          double ds = p[j] * (dp[j] - dot) * scale;
          const float* k = qkv + ((int64_t)b * T + j) * 3 * C + C + h * HS;
          float* dk = dqkv + ((int64_t)b * T + j) * 3 * C + C + h * HS;
          for (int d = 0; d < HS; d++) {
            dq[d] += (float)(ds * k[d]);
            dk[d] += (float)(ds * q[d]);
          }
          if (dist) {
            const float* r = dist + (int64_t)(i - j + P - 1) * HS;
            float* dr = ddist + (int64_t)(i - j + P - 1) * HS;
            for (int d = 0; d < HS; d++) {
              dq[d] += (float)(ds * r[d]);
              dr[d] += (float)(ds * q[d]);
            }
          }
        }
      }
}

void dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed) {
  for (int64_t i = 0; i < n; i++) out[i] = dropout_keep(seed, i, p) ? (float)(inp[i] / (1.0 - p)) : 0.0f;
}
void dropout_backward(float* dinp, const float* dout, int64_t n, float p, uint64_t seed) {
  dropout_forward(dinp, dout, n, p, seed);
}

void crossentropy_forward(float* losses, const float* logits, const int32_t* labels, int N, int V, int ignore_index) {
  for (int n = 0; n < N; n++) {
    if (labels[n] == ignore_index) {
      losses[n] = 0;
      continue;
    }
    const float* x = logits + (int64_t)n * V;
    double mx = -INFINITY, z = 0;
    for (int v = 0; v < V; v++) mx = std::max(mx, (double)x[v]);
    for (int v = 0; v < V; v++) z += std::exp(x[v] - mx);
    losses[n] = (float)(mx + std::log(z) - x[labels[n]]);
  }
}

void crossentropy_backward(float* dlogits, const float* logits, const int32_t* labels, int N, int V, int ignore_index,
                           float scale) {
  std::vector<double> row(V);
  for (int n = 0; n < N; n++) {
    const float* x = logits + (int64_t)n * V;
    float* d = dlogits + (int64_t)n * V;
    if (labels[n] == ignore_index) {
      for (int v = 0; v < V; v++) d[v] = 0;
      continue;
    }
    double mx = -INFINITY, z = 0;
    for (int v = 0; v < V; v++) mx = std::max(mx, (double)x[v]);
    for (int v = 0; v < V; v++) z += (row[v] = std::exp(x[v] - mx));
    int label = labels[n];
    for (int v = 0; v < V; v++) d[v] = (float)((row[v] / z - (v == label ? 1.0 : 0.0)) * scale);
  }
}

void bce_forward(float* losses, const float* logits, const float* targets, const float* weights, int N) {
  for (int n = 0; n < N; n++) {
    double x = logits[n], y = targets[n];
    losses[n] = (float)(weights[n] * (std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::fabs(x)))));
  }
}
void bce_backward(float* dlogits, const float* logits, const float* targets, const float* weights, int N,
                  float scale) {
  for (int n = 0; n < N; n++) {
    double s = 1.0 / (1.0 + std::exp(-(double)logits[n]));
    dlogits[n] = (float)((s - targets[n]) * weights[n] * scale);
  }
}

void mse_forward(float* losses, const float* pred, const float* target, int N) {
  for (int n = 0; n < N; n++) losses[n] = (float)(((double)pred[n] - target[n]) * ((double)pred[n] - target[n]));
}
void mse_backward(float* dpred, const float* pred, const float* target, int N, float scale) {
  for (int n = 0; n < N; n++) dpred[n] = (float)(2.0 * ((double)pred[n] - target[n]) * scale);
}

// ---- int8 (the layout and the quantization of kernels.h) ----

void int8_gemm(int32_t* out, const int8_t* a, const int8_t* packed, const int32_t*, int N, int IC, int OC) {
  const int K4 = int8_k4(IC);
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      int32_t acc = 0;
      for (int k = 0; k < IC; k++) acc += (int32_t)a[(int64_t)n * IC + k] * packed[int8_packed_index(K4, o, k)];
      out[(int64_t)n * OC + o] = acc;
    }
}

void int8_linear_forward(float* out, const float* inp, const int8_t* packed, const int32_t* wsum, const float* wscale,
                         const float* bias, int N, int IC, int OC, bool with_gelu) {
  std::vector<int8_t> q(4 * int8_k4(IC)), row(IC);
  std::vector<int32_t> acc(OC);
  for (int n = 0; n < N; n++) {
    const float as = int8_quantize_row(q.data(), inp + (int64_t)n * IC, IC);
    std::copy(q.begin(), q.begin() + IC, row.begin());
    int8_gemm(acc.data(), row.data(), packed, wsum, 1, IC, OC);
    for (int o = 0; o < OC; o++) {
      const float v = bias ? std::fma((float)acc[o], as * wscale[o], bias[o]) : (float)acc[o] * (as * wscale[o]);
      out[(int64_t)n * OC + o] = with_gelu ? (float)gelu(v) : v;
    }
  }
}

}  // namespace

void int8_pack_weights(int8_t* packed, int32_t* wsum, const int8_t* w, int OC, int IC) {
  const int K4 = int8_k4(IC);
  for (int64_t i = 0; i < int8_packed_size(OC, IC); i++) packed[i] = 0;
  for (int o = 0; o < OC; o++) {
    int32_t s = 0;
    for (int k = 0; k < IC; k++) {
      const int8_t v = w[(int64_t)o * IC + k];
      packed[int8_packed_index(K4, o, k)] = v;
      s += v;
    }
    wsum[o] = s;
  }
}

const Int8Kernels naive_int8 = {"naive", int8_gemm, int8_linear_forward};

// reads the packed layout of kernels.h directly (so the layout itself is under test), double sums
void packed_linear_forward(float* out, const float* inp, const float* packed, const float* bias, int N, int IC, int OC,
                           bool with_gelu) {
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      double acc = 0;
      for (int k = 0; k < IC; k++) acc += (double)inp[(int64_t)n * IC + k] * packed[((int64_t)(o / 16) * IC + k) * 16 + o % 16];
      const float u = (float)(acc + (bias ? bias[o] : 0.0));
      out[(int64_t)n * OC + o] = with_gelu ? (float)gelu(u) : u;
    }
}

void attention_infer(float* out, const float* qkv, const float* maskbias, int B, int T, int C, int NH) {
  std::vector<float> probs((size_t)B * NH * T * T);
  attention_forward(out, probs.data(), qkv, maskbias, nullptr, T, B, T, C, NH, 0.0f, 0);
}

const Kernels naive = {matmul_forward,       matmul_backward,       bias_gelu_forward, gelu_backward,
                       layernorm_forward,    layernorm_backward,    embeddings_forward, embeddings_backward,
                       attention_forward,    attention_backward,    dropout_forward,   dropout_backward,
                       crossentropy_forward, crossentropy_backward, bce_forward,       bce_backward,
                       mse_forward,          mse_backward,          packed_linear_forward,
                       attention_infer};

}  // namespace electra
