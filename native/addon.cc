// The thin N-API glue: unpacks typed arrays and integers, checks every size and index a kernel relies on
// (so a wrong call from JavaScript is a JS exception, never a crash in native code), then calls the kernel
// table in use (fast, or naive for tests). The TypeScript wrappers in src/core/ops.ts check shapes with
// names first; these checks are the last line of defence.
#include <napi.h>
#include <omp.h>

#include <cblas.h>
#include <cmath>
#include <string>
#include <vector>

#include "kernels.h"

using namespace electra;

namespace {

const Kernels* K = fast_level().kernels;
const Utils* U = fast_level().utils;
const Int8Kernels* Q = &fast_int8();

struct F32 {
  float* p = nullptr;
  int64_t n = 0;
};
struct I32 {
  int32_t* p = nullptr;
  int64_t n = 0;
};
struct I8 {
  int8_t* p = nullptr;
  int64_t n = 0;
};

[[noreturn]] void fail(Napi::Env env, const std::string& fn, const std::string& msg) {
  throw Napi::RangeError::New(env, "native " + fn + ": " + msg);
}

F32 f32(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, bool nullable = false) {
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(info.Env(), std::string("native ") + fn + ": " + name + " must be a Float32Array");
  auto a = v.As<Napi::Float32Array>();
  return {a.Data(), (int64_t)a.ElementLength()};
}

I32 i32(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, bool nullable = false) {
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), std::string("native ") + fn + ": " + name + " must be an Int32Array");
  auto a = v.As<Napi::Int32Array>();
  return {a.Data(), (int64_t)a.ElementLength()};
}

I8 i8(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int8_array)
    throw Napi::TypeError::New(info.Env(), std::string("native ") + fn + ": " + name + " must be an Int8Array");
  auto a = v.As<Napi::Int8Array>();
  return {a.Data(), (int64_t)a.ElementLength()};
}

int64_t integer(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, int64_t lo = 0) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("native ") + fn + ": " + name + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d == std::floor(d)) || d < (double)lo || d > 9007199254740991.0)
    fail(info.Env(), fn, std::string(name) + " must be an integer >= " + std::to_string(lo) + ", got " + std::to_string(d));
  return (int64_t)d;
}

int small(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, int64_t lo = 1) {
  int64_t v = integer(info, i, fn, name, lo);
  if (v > (1LL << 30)) fail(info.Env(), fn, std::string(name) + " = " + std::to_string(v) + " is too large");
  return (int)v;
}

float real(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("native ") + fn + ": " + name + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) fail(info.Env(), fn, std::string(name) + " must be finite");
  return (float)d;
}

uint64_t seed_arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  return (uint64_t)integer(info, i, fn, "seed", 0);
}

float prob(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  float p = real(info, i, fn, "dropout probability");
  if (p < 0 || p >= 1) fail(info.Env(), fn, "dropout probability must be in [0, 1), got " + std::to_string(p));
  return p;
}

template <typename A>
void need(const Napi::CallbackInfo& info, const char* fn, const char* name, const A& a, int64_t n, bool nullable = false) {
  if (nullable && a.p == nullptr) return;
  if (a.n != n)
    fail(info.Env(), fn, std::string(name) + " has " + std::to_string(a.n) + " elements, expected " + std::to_string(n));
}

void ids_in_range(const Napi::CallbackInfo& info, const char* fn, const char* name, const I32& a, int64_t hi,
                  int64_t allowed = INT64_MIN) {
  for (int64_t i = 0; i < a.n; i++)
    if ((a.p[i] < 0 || a.p[i] >= hi) && a.p[i] != allowed)
      fail(info.Env(), fn, std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(a.p[i]) +
                               " is outside [0, " + std::to_string(hi) + ")");
}

// ---- ops ----

// matmul_forward(out[N,OC], inp[N,IC], weight[OC,IC], bias[OC]|null, N, IC, OC)
Napi::Value MatmulForward(const Napi::CallbackInfo& info) {
  const char* fn = "matmul_forward";
  auto out = f32(info, 0, fn, "out"), inp = f32(info, 1, fn, "inp"), w = f32(info, 2, fn, "weight"),
       b = f32(info, 3, fn, "bias", true);
  int N = small(info, 4, fn, "N", 0), IC = small(info, 5, fn, "IC"), OC = small(info, 6, fn, "OC");
  need(info, fn, "out", out, (int64_t)N * OC);
  need(info, fn, "inp", inp, (int64_t)N * IC);
  need(info, fn, "weight", w, (int64_t)OC * IC);
  need(info, fn, "bias", b, OC, true);
  if (N > 0) K->matmul_forward(out.p, inp.p, w.p, b.p, N, IC, OC);
  return info.Env().Undefined();
}

// matmul_backward(dinp|null, dweight|null, dbias|null, dout, inp, weight, N, IC, OC, accumulate)
Napi::Value MatmulBackward(const Napi::CallbackInfo& info) {
  const char* fn = "matmul_backward";
  auto dinp = f32(info, 0, fn, "dinp", true), dw = f32(info, 1, fn, "dweight", true), db = f32(info, 2, fn, "dbias", true),
       dout = f32(info, 3, fn, "dout"), inp = f32(info, 4, fn, "inp"), w = f32(info, 5, fn, "weight");
  int N = small(info, 6, fn, "N", 0), IC = small(info, 7, fn, "IC"), OC = small(info, 8, fn, "OC");
  bool acc = info[9].ToBoolean();
  need(info, fn, "dinp", dinp, (int64_t)N * IC, true);
  need(info, fn, "dweight", dw, (int64_t)OC * IC, true);
  need(info, fn, "dbias", db, OC, true);
  need(info, fn, "dout", dout, (int64_t)N * OC);
  need(info, fn, "inp", inp, (int64_t)N * IC);
  need(info, fn, "weight", w, (int64_t)OC * IC);
  if (N > 0) K->matmul_backward(dinp.p, dw.p, db.p, dout.p, inp.p, w.p, N, IC, OC, acc);
  return info.Env().Undefined();
}

// bias_gelu_forward(out[N,F], pre[N,F], bias[F]|null, N, F)
Napi::Value BiasGeluForward(const Napi::CallbackInfo& info) {
  const char* fn = "bias_gelu_forward";
  auto out = f32(info, 0, fn, "out"), pre = f32(info, 1, fn, "pre"), b = f32(info, 2, fn, "bias", true);
  int N = small(info, 3, fn, "N", 0), F = small(info, 4, fn, "F");
  need(info, fn, "out", out, (int64_t)N * F);
  need(info, fn, "pre", pre, (int64_t)N * F);
  need(info, fn, "bias", b, F, true);
  K->bias_gelu_forward(out.p, pre.p, b.p, N, F);
  return info.Env().Undefined();
}

// gelu_backward(dinp[N,F], dout[N,F], pre[N,F], N, F)
Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  const char* fn = "gelu_backward";
  auto dinp = f32(info, 0, fn, "dinp"), dout = f32(info, 1, fn, "dout"), pre = f32(info, 2, fn, "pre");
  int N = small(info, 3, fn, "N", 0), F = small(info, 4, fn, "F");
  need(info, fn, "dinp", dinp, (int64_t)N * F);
  need(info, fn, "dout", dout, (int64_t)N * F);
  need(info, fn, "pre", pre, (int64_t)N * F);
  K->gelu_backward(dinp.p, dout.p, pre.p, N, F);
  return info.Env().Undefined();
}

// layernorm_forward(out, sum, mean, rstd, a, r|null, weight, bias, N, C, eps)
Napi::Value LayernormForward(const Napi::CallbackInfo& info) {
  const char* fn = "layernorm_forward";
  auto out = f32(info, 0, fn, "out"), sum = f32(info, 1, fn, "sum"), mean = f32(info, 2, fn, "mean"),
       rstd = f32(info, 3, fn, "rstd"), a = f32(info, 4, fn, "a"), r = f32(info, 5, fn, "r", true),
       w = f32(info, 6, fn, "weight"), b = f32(info, 7, fn, "bias");
  int N = small(info, 8, fn, "N", 0), C = small(info, 9, fn, "C");
  float eps = real(info, 10, fn, "eps");
  int64_t NC = (int64_t)N * C;
  need(info, fn, "out", out, NC);
  need(info, fn, "sum", sum, NC);
  need(info, fn, "mean", mean, N);
  need(info, fn, "rstd", rstd, N);
  need(info, fn, "a", a, NC);
  need(info, fn, "r", r, NC, true);
  need(info, fn, "weight", w, C);
  need(info, fn, "bias", b, C);
  K->layernorm_forward(out.p, sum.p, mean.p, rstd.p, a.p, r.p, w.p, b.p, N, C, eps);
  return info.Env().Undefined();
}

// layernorm_backward(dinp, dweight|null, dbias|null, dout, sum, mean, rstd, weight, N, C, accumulate)
Napi::Value LayernormBackward(const Napi::CallbackInfo& info) {
  const char* fn = "layernorm_backward";
  auto dinp = f32(info, 0, fn, "dinp"), dw = f32(info, 1, fn, "dweight", true), db = f32(info, 2, fn, "dbias", true),
       dout = f32(info, 3, fn, "dout"), sum = f32(info, 4, fn, "sum"), mean = f32(info, 5, fn, "mean"),
       rstd = f32(info, 6, fn, "rstd"), w = f32(info, 7, fn, "weight");
  int N = small(info, 8, fn, "N", 0), C = small(info, 9, fn, "C");
  bool acc = info[10].ToBoolean();
  int64_t NC = (int64_t)N * C;
  need(info, fn, "dinp", dinp, NC);
  need(info, fn, "dweight", dw, C, true);
  need(info, fn, "dbias", db, C, true);
  need(info, fn, "dout", dout, NC);
  need(info, fn, "sum", sum, NC);
  need(info, fn, "mean", mean, N);
  need(info, fn, "rstd", rstd, N);
  need(info, fn, "weight", w, C);
  K->layernorm_backward(dinp.p, dw.p, db.p, dout.p, sum.p, mean.p, rstd.p, w.p, N, C, acc);
  return info.Env().Undefined();
}

// embeddings_forward(out[B*T,E], ids, types, word[V,E], pos[P,E]|null, type[TV,E], B, T, E)  (null: no positions added)
Napi::Value EmbeddingsForward(const Napi::CallbackInfo& info) {
  const char* fn = "embeddings_forward";
  auto out = f32(info, 0, fn, "out");
  auto ids = i32(info, 1, fn, "ids"), types = i32(info, 2, fn, "types");
  auto word = f32(info, 3, fn, "word"), pos = f32(info, 4, fn, "pos", true), type = f32(info, 5, fn, "type");
  int B = small(info, 6, fn, "B", 0), T = small(info, 7, fn, "T"), E = small(info, 8, fn, "E");
  int64_t N = (int64_t)B * T;
  need(info, fn, "out", out, N * E);
  need(info, fn, "ids", ids, N);
  need(info, fn, "types", types, N);
  if (word.n % E || pos.n % E || type.n % E) fail(info.Env(), fn, "embedding tables must have E columns");
  if (pos.p && T > pos.n / E) fail(info.Env(), fn, "sequence length " + std::to_string(T) + " exceeds " + std::to_string(pos.n / E) + " positions");
  ids_in_range(info, fn, "ids", ids, word.n / E);
  ids_in_range(info, fn, "types", types, type.n / E);
  K->embeddings_forward(out.p, ids.p, types.p, word.p, pos.p, type.p, B, T, E);
  return info.Env().Undefined();
}

// embeddings_backward(dword|null, dpos|null, dtype|null, dout, ids, types, B, T, E, V, P, TV, padding_idx)
Napi::Value EmbeddingsBackward(const Napi::CallbackInfo& info) {
  const char* fn = "embeddings_backward";
  auto dword = f32(info, 0, fn, "dword", true), dpos = f32(info, 1, fn, "dpos", true), dtype = f32(info, 2, fn, "dtype", true),
       dout = f32(info, 3, fn, "dout");
  auto ids = i32(info, 4, fn, "ids"), types = i32(info, 5, fn, "types");
  int B = small(info, 6, fn, "B", 0), T = small(info, 7, fn, "T"), E = small(info, 8, fn, "E");
  int V = small(info, 9, fn, "V"), P = small(info, 10, fn, "P"), TV = small(info, 11, fn, "TV");
  int pad = (int)integer(info, 12, fn, "padding_idx", -1);
  int64_t N = (int64_t)B * T;
  need(info, fn, "dword", dword, (int64_t)V * E, true);
  need(info, fn, "dpos", dpos, (int64_t)P * E, true);
  need(info, fn, "dtype", dtype, (int64_t)TV * E, true);
  need(info, fn, "dout", dout, N * E);
  need(info, fn, "ids", ids, N);
  need(info, fn, "types", types, N);
  if (T > P) fail(info.Env(), fn, "sequence length exceeds positions");
  ids_in_range(info, fn, "ids", ids, V);
  ids_in_range(info, fn, "types", types, TV);
  K->embeddings_backward(dword.p, dpos.p, dtype.p, dout.p, ids.p, types.p, B, T, E, pad);
  return info.Env().Undefined();
}

void attention_sizes(const Napi::CallbackInfo& info, const char* fn, int B, int T, int C, int NH) {
  if (C % NH) fail(info.Env(), fn, "C = " + std::to_string(C) + " is not divisible by NH = " + std::to_string(NH));
}

// The relative-position table of attention: dist[2P-1, HS] (or null), with P >= T.
void attention_dist(const Napi::CallbackInfo& info, const char* fn, const char* name, const F32& t, int P, int T, int HS) {
  if (!t.p) return;
  if (P < T) fail(info.Env(), fn, "sequence length T = " + std::to_string(T) + " exceeds P = " + std::to_string(P));
  need(info, fn, name, t, (int64_t)(2 * P - 1) * HS);
}

// attention_forward(out[B*T,C], probs[B*NH*T*T], qkv[B*T,3C], maskbias[B*T], dist[2P-1,HS] | null, P, B, T, C, NH,
//                   dropout_p, seed)
Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  const char* fn = "attention_forward";
  auto out = f32(info, 0, fn, "out"), probs = f32(info, 1, fn, "probs"), qkv = f32(info, 2, fn, "qkv"),
       mb = f32(info, 3, fn, "maskbias"), dist = f32(info, 4, fn, "dist", true);
  int P = small(info, 5, fn, "P");
  int B = small(info, 6, fn, "B", 0), T = small(info, 7, fn, "T"), C = small(info, 8, fn, "C"), NH = small(info, 9, fn, "NH");
  float p = prob(info, 10, fn);
  uint64_t seed = seed_arg(info, 11, fn);
  attention_sizes(info, fn, B, T, C, NH);
  need(info, fn, "out", out, (int64_t)B * T * C);
  need(info, fn, "probs", probs, (int64_t)B * NH * T * T);
  need(info, fn, "qkv", qkv, (int64_t)B * T * 3 * C);
  need(info, fn, "maskbias", mb, (int64_t)B * T);
  attention_dist(info, fn, "dist", dist, P, T, C / NH);
  K->attention_forward(out.p, probs.p, qkv.p, mb.p, dist.p, P, B, T, C, NH, p, seed);
  return info.Env().Undefined();
}

// attention_infer(out[B*T,C], qkv[B*T,3C], maskbias[B*T], B, T, C, NH): HS = C / NH a multiple of 16
Napi::Value AttentionInfer(const Napi::CallbackInfo& info) {
  const char* fn = "attention_infer";
  auto out = f32(info, 0, fn, "out"), qkv = f32(info, 1, fn, "qkv"), mb = f32(info, 2, fn, "maskbias");
  int B = small(info, 3, fn, "B", 0), T = small(info, 4, fn, "T"), C = small(info, 5, fn, "C"), NH = small(info, 6, fn, "NH");
  attention_sizes(info, fn, B, T, C, NH);
  if ((C / NH) % 16 != 0) fail(info.Env(), fn, "head size " + std::to_string(C / NH) + " is not a multiple of 16");
  need(info, fn, "out", out, (int64_t)B * T * C);
  need(info, fn, "qkv", qkv, (int64_t)B * T * 3 * C);
  need(info, fn, "maskbias", mb, (int64_t)B * T);
  if (B > 0) K->attention_infer(out.p, qkv.p, mb.p, B, T, C, NH);
  return info.Env().Undefined();
}

// attention_backward(dqkv[B*T,3C], ddist[2P-1,HS] | null, dout[B*T,C], qkv, probs, dist | null, P, B, T, C, NH,
//                    dropout_p, seed)
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  const char* fn = "attention_backward";
  auto dqkv = f32(info, 0, fn, "dqkv"), ddist = f32(info, 1, fn, "ddist", true), dout = f32(info, 2, fn, "dout"),
       qkv = f32(info, 3, fn, "qkv"), probs = f32(info, 4, fn, "probs"), dist = f32(info, 5, fn, "dist", true);
  int P = small(info, 6, fn, "P");
  int B = small(info, 7, fn, "B", 0), T = small(info, 8, fn, "T"), C = small(info, 9, fn, "C"), NH = small(info, 10, fn, "NH");
  float p = prob(info, 11, fn);
  uint64_t seed = seed_arg(info, 12, fn);
  attention_sizes(info, fn, B, T, C, NH);
  if (!dist.p != !ddist.p) fail(info.Env(), fn, "dist and ddist must both be given or both be null");
  need(info, fn, "dqkv", dqkv, (int64_t)B * T * 3 * C);
  need(info, fn, "dout", dout, (int64_t)B * T * C);
  need(info, fn, "qkv", qkv, (int64_t)B * T * 3 * C);
  need(info, fn, "probs", probs, (int64_t)B * NH * T * T);
  attention_dist(info, fn, "dist", dist, P, T, C / NH);
  attention_dist(info, fn, "ddist", ddist, P, T, C / NH);
  K->attention_backward(dqkv.p, ddist.p, dout.p, qkv.p, probs.p, dist.p, P, B, T, C, NH, p, seed);
  return info.Env().Undefined();
}

// dropout_forward(out, inp, p, seed) ; dropout_backward(dinp, dout, p, seed)
template <bool Forward>
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  const char* fn = Forward ? "dropout_forward" : "dropout_backward";
  auto out = f32(info, 0, fn, "out"), inp = f32(info, 1, fn, "inp");
  float p = prob(info, 2, fn);
  uint64_t seed = seed_arg(info, 3, fn);
  need(info, fn, "inp", inp, out.n);
  (Forward ? K->dropout_forward : K->dropout_backward)(out.p, inp.p, out.n, p, seed);
  return info.Env().Undefined();
}

// crossentropy_forward(losses[N], logits[N,V], labels[N], N, V, ignore_index)
Napi::Value CrossentropyForward(const Napi::CallbackInfo& info) {
  const char* fn = "crossentropy_forward";
  auto losses = f32(info, 0, fn, "losses"), logits = f32(info, 1, fn, "logits");
  auto labels = i32(info, 2, fn, "labels");
  int N = small(info, 3, fn, "N", 0), V = small(info, 4, fn, "V");
  int ignore = (int)integer(info, 5, fn, "ignore_index", INT32_MIN);
  need(info, fn, "losses", losses, N);
  need(info, fn, "logits", logits, (int64_t)N * V);
  need(info, fn, "labels", labels, N);
  ids_in_range(info, fn, "labels", labels, V, ignore);
  K->crossentropy_forward(losses.p, logits.p, labels.p, N, V, ignore);
  return info.Env().Undefined();
}

// crossentropy_backward(dlogits[N,V], logits[N,V], labels[N], N, V, ignore_index, scale)
Napi::Value CrossentropyBackward(const Napi::CallbackInfo& info) {
  const char* fn = "crossentropy_backward";
  auto dlogits = f32(info, 0, fn, "dlogits"), logits = f32(info, 1, fn, "logits");
  auto labels = i32(info, 2, fn, "labels");
  int N = small(info, 3, fn, "N", 0), V = small(info, 4, fn, "V");
  int ignore = (int)integer(info, 5, fn, "ignore_index", INT32_MIN);
  float scale = real(info, 6, fn, "scale");
  need(info, fn, "dlogits", dlogits, (int64_t)N * V);
  need(info, fn, "logits", logits, (int64_t)N * V);
  need(info, fn, "labels", labels, N);
  ids_in_range(info, fn, "labels", labels, V, ignore);
  K->crossentropy_backward(dlogits.p, logits.p, labels.p, N, V, ignore, scale);
  return info.Env().Undefined();
}

// bce_forward(losses[N], logits[N], targets[N], weights[N]) ; bce_backward(dlogits, logits, targets, weights, scale)
Napi::Value BceForward(const Napi::CallbackInfo& info) {
  const char* fn = "bce_forward";
  auto losses = f32(info, 0, fn, "losses"), logits = f32(info, 1, fn, "logits"), targets = f32(info, 2, fn, "targets"),
       weights = f32(info, 3, fn, "weights");
  need(info, fn, "logits", logits, losses.n);
  need(info, fn, "targets", targets, losses.n);
  need(info, fn, "weights", weights, losses.n);
  K->bce_forward(losses.p, logits.p, targets.p, weights.p, (int)losses.n);
  return info.Env().Undefined();
}
Napi::Value BceBackward(const Napi::CallbackInfo& info) {
  const char* fn = "bce_backward";
  auto dlogits = f32(info, 0, fn, "dlogits"), logits = f32(info, 1, fn, "logits"), targets = f32(info, 2, fn, "targets"),
       weights = f32(info, 3, fn, "weights");
  float scale = real(info, 4, fn, "scale");
  need(info, fn, "logits", logits, dlogits.n);
  need(info, fn, "targets", targets, dlogits.n);
  need(info, fn, "weights", weights, dlogits.n);
  K->bce_backward(dlogits.p, logits.p, targets.p, weights.p, (int)dlogits.n, scale);
  return info.Env().Undefined();
}

// mse_forward(losses[N], pred[N], target[N]) ; mse_backward(dpred, pred, target, scale)
Napi::Value MseForward(const Napi::CallbackInfo& info) {
  const char* fn = "mse_forward";
  auto losses = f32(info, 0, fn, "losses"), pred = f32(info, 1, fn, "pred"), target = f32(info, 2, fn, "target");
  need(info, fn, "pred", pred, losses.n);
  need(info, fn, "target", target, losses.n);
  K->mse_forward(losses.p, pred.p, target.p, (int)losses.n);
  return info.Env().Undefined();
}
Napi::Value MseBackward(const Napi::CallbackInfo& info) {
  const char* fn = "mse_backward";
  auto dpred = f32(info, 0, fn, "dpred"), pred = f32(info, 1, fn, "pred"), target = f32(info, 2, fn, "target");
  float scale = real(info, 3, fn, "scale");
  need(info, fn, "pred", pred, dpred.n);
  need(info, fn, "target", target, dpred.n);
  K->mse_backward(dpred.p, pred.p, target.p, (int)dpred.n, scale);
  return info.Env().Undefined();
}

// gather_rows(out[M,C], inp[N,C], idx[M], C) ; scatter_add_rows(dinp[N,C], dout[M,C], idx[M], C)
template <bool Gather>
Napi::Value Rows(const Napi::CallbackInfo& info) {
  const char* fn = Gather ? "gather_rows" : "scatter_add_rows";
  auto a = f32(info, 0, fn, Gather ? "out" : "dinp"), b = f32(info, 1, fn, Gather ? "inp" : "dout");
  auto idx = i32(info, 2, fn, "idx");
  int C = small(info, 3, fn, "C");
  const F32& small_side = Gather ? a : b;
  const F32& big_side = Gather ? b : a;
  need(info, fn, Gather ? "out" : "dout", small_side, idx.n * C);
  if (big_side.n % C) fail(info.Env(), fn, "row tensor length is not a multiple of C");
  ids_in_range(info, fn, "idx", idx, big_side.n / C);
  if (Gather)
    U->gather_rows(a.p, b.p, idx.p, (int)idx.n, C);
  else
    U->scatter_add_rows(a.p, b.p, idx.p, (int)idx.n, C);
  return info.Env().Undefined();
}

// argmax_rows(out[N] int32, inp[N,V], V)
Napi::Value ArgmaxRows(const Napi::CallbackInfo& info) {
  const char* fn = "argmax_rows";
  auto out = i32(info, 0, fn, "out");
  auto inp = f32(info, 1, fn, "inp");
  int V = small(info, 2, fn, "V");
  need(info, fn, "inp", inp, out.n * V);
  U->argmax_rows(out.p, inp.p, (int)out.n, V);
  return info.Env().Undefined();
}

// gumbel_argmax(out[M] int32, logits[M,V], V, temperature, seed, rowKeys[M] int32 | null)
Napi::Value GumbelArgmax(const Napi::CallbackInfo& info) {
  const char* fn = "gumbel_argmax";
  auto out = i32(info, 0, fn, "out");
  auto logits = f32(info, 1, fn, "logits");
  int V = small(info, 2, fn, "V");
  float temp = real(info, 3, fn, "temperature");
  if (!(temp > 0)) fail(info.Env(), fn, "temperature must be > 0");
  uint64_t seed = seed_arg(info, 4, fn);
  need(info, fn, "logits", logits, out.n * V);
  auto keys = i32(info, 5, fn, "rowKeys", true);
  if (keys.p && keys.n != out.n) fail(info.Env(), fn, "rowKeys has " + std::to_string(keys.n) + " keys for " + std::to_string(out.n) + " rows");
  U->gumbel_argmax(out.p, logits.p, (int)out.n, V, temp, seed, keys.p);
  return info.Env().Undefined();
}

// adamw_step(params, grads, m, v, segments Float64Array [offset, length, lr_scale, wd]*, lr, b1, b2, eps, step, bias_correction)
Napi::Value AdamwStep(const Napi::CallbackInfo& info) {
  const char* fn = "adamw_step";
  auto p = f32(info, 0, fn, "params"), g = f32(info, 1, fn, "grads"), m = f32(info, 2, fn, "m"), v = f32(info, 3, fn, "v");
  need(info, fn, "grads", g, p.n);
  need(info, fn, "m", m, p.n);
  need(info, fn, "v", v, p.n);
  if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(info.Env(), "native adamw_step: segments must be a Float64Array");
  auto segarr = info[4].As<Napi::Float64Array>();
  if (segarr.ElementLength() % 4) fail(info.Env(), fn, "segments must hold [offset, length, lr_scale, weight_decay] quadruples");
  std::vector<Segment> segs(segarr.ElementLength() / 4);
  for (size_t s = 0; s < segs.size(); s++) {
    double off = segarr[4 * s], len = segarr[4 * s + 1];
    if (off < 0 || len < 0 || off != std::floor(off) || len != std::floor(len) || off + len > (double)p.n)
      fail(info.Env(), fn, "segment " + std::to_string(s) + " is outside the parameter buffer");
    segs[s] = {(int64_t)off, (int64_t)len, (float)segarr[4 * s + 2], (float)segarr[4 * s + 3]};
  }
  float lr = real(info, 5, fn, "lr"), b1 = real(info, 6, fn, "beta1"), b2 = real(info, 7, fn, "beta2"),
        eps = real(info, 8, fn, "eps");
  int64_t step = integer(info, 9, fn, "step", 1);
  bool bc = info[10].ToBoolean();
  U->adamw_step(p.p, g.p, m.p, v.p, segs.data(), (int)segs.size(), lr, b1, b2, eps, step, bc);
  return info.Env().Undefined();
}

Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  auto x = f32(info, 0, "sum_squares", "x");
  return Napi::Number::New(info.Env(), U->sum_squares(x.p, x.n));
}
Napi::Value ScaleInplace(const Napi::CallbackInfo& info) {
  auto x = f32(info, 0, "scale_inplace", "x");
  U->scale_inplace(x.p, x.n, real(info, 1, "scale_inplace", "scale"));
  return info.Env().Undefined();
}
Napi::Value CountNonfinite(const Napi::CallbackInfo& info) {
  auto x = f32(info, 0, "count_nonfinite", "x");
  return Napi::Number::New(info.Env(), (double)U->count_nonfinite(x.p, x.n));
}

// align64(a): how many elements of the Float32Array a come before its first 64-byte-aligned element (0..15).
// V8 puts a large buffer at what malloc/mmap gives, 16 bytes past a page, where every other 32-byte vector load
// of a 64-byte row would straddle two cache lines; callers allocate 16 floats more and start there.
Napi::Value Align64(const Napi::CallbackInfo& info) {
  auto a = f32(info, 0, "align64", "a");
  const uintptr_t addr = reinterpret_cast<uintptr_t>(a.p);
  if (addr % 4) fail(info.Env(), "align64", "the array's data is not 4-byte aligned");
  return Napi::Number::New(info.Env(), (double)(((64 - addr % 64) % 64) / 4));
}

// ---- packed float32 weights for inference (native/packed.cc; the layout in kernels.h) ----

// f32_pack_weights(packed[f32_packed_size], w[OC,IC], OC, IC)
Napi::Value F32PackWeights(const Napi::CallbackInfo& info) {
  const char* fn = "f32_pack_weights";
  auto packed = f32(info, 0, fn, "packed"), w = f32(info, 1, fn, "w");
  int OC = small(info, 2, fn, "OC"), IC = small(info, 3, fn, "IC");
  need(info, fn, "packed", packed, f32_packed_size(OC, IC));
  need(info, fn, "w", w, (int64_t)OC * IC);
  f32_pack_weights(packed.p, w.p, OC, IC);
  return info.Env().Undefined();
}

// packed_linear_forward(out[N,OC], inp[N,IC], packed, bias[OC]|null, N, IC, OC, gelu)
Napi::Value PackedLinearForward(const Napi::CallbackInfo& info) {
  const char* fn = "packed_linear_forward";
  auto out = f32(info, 0, fn, "out"), inp = f32(info, 1, fn, "inp"), packed = f32(info, 2, fn, "packed");
  auto b = f32(info, 3, fn, "bias", true);
  int N = small(info, 4, fn, "N", 0), IC = small(info, 5, fn, "IC"), OC = small(info, 6, fn, "OC");
  need(info, fn, "out", out, (int64_t)N * OC);
  need(info, fn, "inp", inp, (int64_t)N * IC);
  need(info, fn, "packed", packed, f32_packed_size(OC, IC));
  need(info, fn, "bias", b, OC, true);
  if (N > 0) K->packed_linear_forward(out.p, inp.p, packed.p, b.p, N, IC, OC, info[7].ToBoolean());
  return info.Env().Undefined();
}

// ---- int8 (native/int8.cc; the packed layout in kernels.h) ----

// int8_pack_weights(packed[int8_packed_size], wsum[OC] int32, w[OC,IC] int8 in [-127, 127], OC, IC)
Napi::Value Int8PackWeights(const Napi::CallbackInfo& info) {
  const char* fn = "int8_pack_weights";
  auto packed = i8(info, 0, fn, "packed");
  auto wsum = i32(info, 1, fn, "wsum");
  auto w = i8(info, 2, fn, "w");
  int OC = small(info, 3, fn, "OC"), IC = small(info, 4, fn, "IC");
  need(info, fn, "packed", packed, int8_packed_size(OC, IC));
  need(info, fn, "wsum", wsum, OC);
  need(info, fn, "w", w, (int64_t)OC * IC);
  for (int64_t i = 0; i < w.n; i++)  // -128 has no negation in int8 (AVX2's sign trick)
    if (w.p[i] == -128) fail(info.Env(), fn, "w[" + std::to_string(i) + "] = -128 is outside [-127, 127]");
  int8_pack_weights(packed.p, wsum.p, w.p, OC, IC);
  return info.Env().Undefined();
}

// the packed weights of int8_gemm / int8_linear_forward: packed, wsum (as int8_pack_weights made them), OC, IC
void int8_weights(const Napi::CallbackInfo& info, const char* fn, const I8& packed, const I32& wsum, int OC, int IC) {
  need(info, fn, "packed", packed, int8_packed_size(OC, IC));
  need(info, fn, "wsum", wsum, OC);
}

// int8_gemm(out[N,OC] int32, a[N,IC] int8, packed, wsum[OC], N, IC, OC)
Napi::Value Int8Gemm(const Napi::CallbackInfo& info) {
  const char* fn = "int8_gemm";
  auto out = i32(info, 0, fn, "out");
  auto a = i8(info, 1, fn, "a"), packed = i8(info, 2, fn, "packed");
  auto wsum = i32(info, 3, fn, "wsum");
  int N = small(info, 4, fn, "N", 0), IC = small(info, 5, fn, "IC"), OC = small(info, 6, fn, "OC");
  need(info, fn, "out", out, (int64_t)N * OC);
  need(info, fn, "a", a, (int64_t)N * IC);
  int8_weights(info, fn, packed, wsum, OC, IC);
  if (N > 0) Q->gemm(out.p, a.p, packed.p, wsum.p, N, IC, OC);
  return info.Env().Undefined();
}

// int8_linear_forward(out[N,OC], inp[N,IC], packed, wsum[OC], wscale[OC], bias[OC]|null, N, IC, OC, gelu)
Napi::Value Int8LinearForward(const Napi::CallbackInfo& info) {
  const char* fn = "int8_linear_forward";
  auto out = f32(info, 0, fn, "out"), inp = f32(info, 1, fn, "inp");
  auto packed = i8(info, 2, fn, "packed");
  auto wsum = i32(info, 3, fn, "wsum");
  auto wscale = f32(info, 4, fn, "wscale"), b = f32(info, 5, fn, "bias", true);
  int N = small(info, 6, fn, "N", 0), IC = small(info, 7, fn, "IC"), OC = small(info, 8, fn, "OC");
  need(info, fn, "out", out, (int64_t)N * OC);
  need(info, fn, "inp", inp, (int64_t)N * IC);
  int8_weights(info, fn, packed, wsum, OC, IC);
  need(info, fn, "wscale", wscale, OC);
  need(info, fn, "bias", b, OC, true);
  bool gelu = info[9].ToBoolean();
  if (N > 0) Q->linear_forward(out.p, inp.p, packed.p, wsum.p, wscale.p, b.p, N, IC, OC, gelu);
  return info.Env().Undefined();
}

Napi::Value Int8Kernel(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), Q->name); }

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = small(info, 0, "set_threads", "threads");
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  return info.Env().Undefined();
}
Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), omp_get_max_threads()); }
Napi::Value UseNaive(const Napi::CallbackInfo& info) {
  K = info[0].ToBoolean() ? &naive : fast_level().kernels;
  Q = info[0].ToBoolean() ? &naive_int8 : &fast_int8();
  return info.Env().Undefined();
}
Napi::Value BlasConfig(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), openblas_get_config()); }
// the instruction-set level of the fast kernels (native/dispatch.cc)
Napi::Value Isa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), fast_level().name); }

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto def = [&](const char* name, Napi::Value (*f)(const Napi::CallbackInfo&)) {
    exports.Set(name, Napi::Function::New(env, f, name));
  };
  def("matmul_forward", MatmulForward);
  def("matmul_backward", MatmulBackward);
  def("bias_gelu_forward", BiasGeluForward);
  def("gelu_backward", GeluBackward);
  def("layernorm_forward", LayernormForward);
  def("layernorm_backward", LayernormBackward);
  def("embeddings_forward", EmbeddingsForward);
  def("embeddings_backward", EmbeddingsBackward);
  def("attention_forward", AttentionForward);
  def("attention_backward", AttentionBackward);
  def("attention_infer", AttentionInfer);
  def("dropout_forward", Dropout<true>);
  def("dropout_backward", Dropout<false>);
  def("crossentropy_forward", CrossentropyForward);
  def("crossentropy_backward", CrossentropyBackward);
  def("bce_forward", BceForward);
  def("bce_backward", BceBackward);
  def("mse_forward", MseForward);
  def("mse_backward", MseBackward);
  def("gather_rows", Rows<true>);
  def("scatter_add_rows", Rows<false>);
  def("argmax_rows", ArgmaxRows);
  def("gumbel_argmax", GumbelArgmax);
  def("adamw_step", AdamwStep);
  def("sum_squares", SumSquares);
  def("scale_inplace", ScaleInplace);
  def("count_nonfinite", CountNonfinite);
  def("set_threads", SetThreads);
  def("get_threads", GetThreads);
  def("use_naive", UseNaive);
  def("blas_config", BlasConfig);
  def("isa", Isa);
  def("align64", Align64);
  def("f32_pack_weights", F32PackWeights);
  def("packed_linear_forward", PackedLinearForward);
  def("int8_pack_weights", Int8PackWeights);
  def("int8_gemm", Int8Gemm);
  def("int8_linear_forward", Int8LinearForward);
  def("int8_kernel", Int8Kernel);
  return exports;
}

NODE_API_MODULE(electra_native, Init)
