// Probe (not part of the product): register-tile shapes for native/packed.cc's avx512 linear layer, one thread,
// best of several repetitions each; used for BENCHMARKS.md (issue 18, fifth session). Variants:
//   base     packed.cc's packed_linear_forward as built (or as in -DPACKED_CC's file: an older packed.cc, from
//            b4e6144 on: the probe builds TileArgs without the ldb that earlier ones had)
//   pa16     the row block's inputs packed per 12-row tile ([k][12], GotoBLAS's A panel), 12 x 16 tile
//   pa32     the same packed inputs, 12 x 32 tile (two weight panels: each broadcast feeds two fmas)
//   pa48     8 x 48 tile (three panels), inputs packed per 8 rows; pa64: 6 x 64; *k128/k512: K blocks of 128/512;
//   *r48/r192: row blocks of 48/192 rows
// `tile-shapes` alone: each of ELECTRA-Small's four inference shapes at 8 x 128 on warm caches, three rounds.
// `tile-shapes N [THREADS]`: an encoder's 48 products on N rows, 12 layers with their own weights (38 MB), each input just
// written by the previous product, as the model leaves the caches; base, pa32, pa32k128, pa16 in turn, 15 rounds.
// Each output is one fma chain in k order in every variant, so all give packed.cc's bits (checked here).
// Build and run from the repository root:
//   g++ -std=c++17 -O3 -fopenmp -fno-trapping-math -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c \
//     -Inative -I/usr/include/x86_64-linux-gnu/openblas-openmp -o /tmp/tile-shapes research/tile-shapes.cc \
//     -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas
//   /tmp/tile-shapes [N]                  # env -u OPENBLAS_CORETYPE: sgemm with OpenBLAS's own kernels
#define ELECTRA_ISA_NS isa_avx512
#include "../native/kernels.cc"
#ifndef PACKED_CC
#define PACKED_CC "../native/packed.cc"
#endif
#include PACKED_CC  // -DPACKED_CC='"/path/to/an/older/packed.cc"': that one as "base"
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "shape-rows.h"

using namespace electra;
using namespace electra::isa_avx512;

// ap: MR x K packed inputs, ap[k * MR + r]; b: NP panels of 16 (panel stride ps floats, row stride 16)
template <int MR, int NP>
static void tile_pa(float* out, int ldo, const float* ap, int K, const float* b, int64_t ps, const float* bias, int c0, bool load) {
  __m512 acc[MR][NP];
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int q = 0; q < NP; q++) acc[r][q] = load ? _mm512_loadu_ps(out + (int64_t)r * ldo + c0 + 16 * q) : _mm512_setzero_ps();
  for (int k = 0; k < K; k++, b += 16, ap += MR) {
    __m512 bv[NP];
#pragma GCC unroll 4
    for (int q = 0; q < NP; q++) {
      _mm_prefetch((const char*)(b + q * ps + kPrefetch * 16), _MM_HINT_T0);
      bv[q] = _mm512_loadu_ps(b + q * ps);
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      const __m512 x = _mm512_set1_ps(ap[r]);
#pragma GCC unroll 4
      for (int q = 0; q < NP; q++) acc[r][q] = _mm512_fmadd_ps(x, bv[q], acc[r][q]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int q = 0; q < NP; q++) {
      const __m512 v = bias ? _mm512_add_ps(acc[r][q], _mm512_loadu_ps(bias + c0 + 16 * q)) : acc[r][q];
      _mm512_storeu_ps(out + (int64_t)r * ldo + c0 + 16 * q, v);
    }
}

// full tiles only (the probe's shapes divide: N = 1024 rows is a multiple of neither 12 nor 96, so the last
// rows run the base tile); rows per block RB, a multiple of MR
template <int MR, int NP, int RB, int KC = kKC>
static void linear_pa(float* out, const float* inp, const float* packed, const float* bias, int N, int IC, int OC) {
  const int panels = OC / 16;
  std::vector<float> ap((size_t)RB * KC);
  for (int r0 = 0; r0 < N; r0 += RB) {
    const int r1 = std::min(N, r0 + RB), full = r0 + (r1 - r0) / MR * MR;
    for (int k0 = 0; k0 < IC; k0 += KC) {
      const int kc = std::min(KC, IC - k0);
      const bool last = k0 + kc == IC;
      for (int r = r0; r < full; r += MR)  // pack: tile t's inputs at ap[t * MR * kc], [k][MR]
        for (int k = 0; k < kc; k++)
          for (int i = 0; i < MR; i++) ap[(size_t)(r - r0) * kc + (size_t)k * MR + i] = inp[(int64_t)(r + i) * IC + k0 + k];
      for (int p = 0; p < panels; p += NP) {
        const float* b = packed + ((int64_t)p * IC + k0) * 16;
        for (int r = r0; r < full; r += MR)
          tile_pa<MR, NP>(out + (int64_t)r * OC, OC, ap.data() + (size_t)(r - r0) * kc, kc, b, (int64_t)IC * 16, last ? bias : nullptr, 16 * p, k0 > 0);
        if (full < r1)
          for (int q = 0; q < NP; q++)
            panel_rows({out, OC, inp + k0, IC, packed + ((int64_t)(p + q) * IC + k0) * 16, kc, last ? bias : nullptr, 16 * (p + q), OC, k0 > 0}, full, r1);
      }
    }
  }
}

// a forward pass's linear layers in ELECTRA-Small's order, 12 layers with their own weights (38 MB, more than
// this L3's share), each input the output the previous product just wrote: the caches as the model leaves them
template <class F>
static double encoder_pass(F&& linear, int N, std::vector<float*>& w, std::vector<float>& h, std::vector<float>& qkv,
                           std::vector<float>& ctx, std::vector<float>& ff, const float* bias) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int l = 0; l < 12; l++) {
    linear(qkv.data(), h.data(), w[4 * l], bias, N, 256, 768);
    for (int r = 0; r < N; r++) std::memcpy(&ctx[(size_t)r * 256], &qkv[(size_t)r * 768 + 512], 1024);  // attention's output stands in
    linear(h.data(), ctx.data(), w[4 * l + 1], bias, N, 256, 256);
    linear(ff.data(), h.data(), w[4 * l + 2], bias, N, 256, 1024);
    linear(h.data(), ff.data(), w[4 * l + 3], bias, N, 1024, 256);
    for (auto& v : h) v *= 0.5f;  // LayerNorm stands in: keeps the values bounded
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int main(int argc, char** argv) {
  omp_set_num_threads(1);
  if (argc > 1) {  // tile-shapes N [THREADS]: the encoder pass on N rows, each variant in turn, 15 rounds
    const int N = std::atoi(argv[1]);
    omp_set_num_threads(argc > 2 ? std::atoi(argv[2]) : 1);  // packed.cc's layer only: the others are one thread
    const int oc[4] = {768, 256, 1024, 256}, ic[4] = {256, 256, 256, 1024};
    std::vector<float*> w;
    for (int l = 0; l < 12; l++)
      for (int j = 0; j < 4; j++) {
        std::vector<float> raw((size_t)oc[j] * ic[j]);
        for (size_t i = 0; i < raw.size(); i++) raw[i] = std::cos((float)(i + l * 7 + j)) * 0.05f;
        float* pk = static_cast<float*>(aligned_alloc(64, ((size_t)f32_packed_size(oc[j], ic[j]) * 4 + 63) / 64 * 64));
        f32_pack_weights(pk, raw.data(), oc[j], ic[j]);
        w.push_back(pk);
      }
    std::vector<float> h((size_t)N * 256), qkv((size_t)N * 768), ctx((size_t)N * 256), ff((size_t)N * 1024), bias(1024, 0.01f);
    const char* vn[] = {"base", "pa32", "pa32k128", "pa16"};
    std::vector<double> best(4, 1e9), sum(4, 0);
    for (int round = 0; round < 15; round++)
      for (int v = 0; v < 4; v++) {
        for (size_t i = 0; i < h.size(); i++) h[i] = std::sin((float)i);
        double s = 0;
        switch (v) {
          case 0: s = encoder_pass([](auto... a) { packed_linear_forward(a..., false); }, N, w, h, qkv, ctx, ff, bias.data()); break;
          case 1: s = encoder_pass([](auto... a) { linear_pa<12, 2, 96>(a...); }, N, w, h, qkv, ctx, ff, bias.data()); break;
          case 2: s = encoder_pass([](auto... a) { linear_pa<12, 2, 96, 128>(a...); }, N, w, h, qkv, ctx, ff, bias.data()); break;
          case 3: s = encoder_pass([](auto... a) { linear_pa<12, 1, 96>(a...); }, N, w, h, qkv, ctx, ff, bias.data()); break;
        }
        best[v] = std::min(best[v], s);
        sum[v] += s;
      }
    const double gflop = 12.0 * 2 * N * (256.0 * 768 + 256 * 256 + 2 * 256 * 1024) / 1e9;
    for (int v = 0; v < 4; v++) std::printf("%s: best %.1f ms (%.0f GFLOP/s), mean %.1f ms\n", vn[v], best[v] * 1e3, gflop / best[v], sum[v] / 15 * 1e3);
    return 0;
  }
  const char* names[] = {"base", "pa16", "pa32", "pa48", "sgemm", "pa32k128", "pa64", "pa32r48", "pa32r192", "pa32k512"};
  shape_rows(
      names, 10, 4,
      [](int v, float* out, const float* in, const float* pk, const float* w, const float* b, int N, int IC, int OC) {
        switch (v) {
          case 0: packed_linear_forward(out, in, pk, b, N, IC, OC, false); break;
          case 1: linear_pa<12, 1, 96>(out, in, pk, b, N, IC, OC); break;
          case 2: linear_pa<12, 2, 96>(out, in, pk, b, N, IC, OC); break;
          case 3: linear_pa<8, 3, 96>(out, in, pk, b, N, IC, OC); break;
          case 5: linear_pa<12, 2, 96, 128>(out, in, pk, b, N, IC, OC); break;
          case 6: linear_pa<6, 4, 96>(out, in, pk, b, N, IC, OC); break;
          case 7: linear_pa<12, 2, 48>(out, in, pk, b, N, IC, OC); break;
          case 8: linear_pa<12, 2, 192>(out, in, pk, b, N, IC, OC); break;
          case 9: linear_pa<12, 2, 96, 512>(out, in, pk, b, N, IC, OC); break;
          case 4: cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, in, IC, w, IC, 0.0f, out, OC); break;
        }
      },
      [](int v, int OC) { return (v == 3 && OC % 48) || (v == 6 && OC % 64); });
}
