// Probe (not part of the product): loop orders and register tiles for native/packed.cc's avx2 linear layer, one
// thread, best of 10 calls each, on ELECTRA-Small's four inference shapes at 8 x 128 (N = 1024 rows). Variants:
//   base   packed.cc's loop order (the 6 x 16 tile on its inputs in place, weight panel in L1) with this probe's
//          own tile (tile_v), with the weights' software prefetch
//   nopf   packed_linear_forward as built: packed.cc's own tile, which since 77684ab runs without the prefetch at
//          8 x 128 (so base against nopf is tile_v against packed.cc's tile, not the prefetch alone)
//   mlasN  MLAS's loop order: per K block, per block of N panels, each 6-row strip of inputs (6 KB, in L1) against
//          the block's panels in turn, the panels streaming from L2
//   pa     the inputs packed per 6-row tile ([k][6]), as the avx512 level's layer
//   t3x32  3 rows x two panels (12 accumulators; per k 4 panel loads, 3 broadcasts)
//   sgemm  OpenBLAS's sgemm, one thread (set OPENBLAS_CORETYPE=HASWELL for its AVX2 kernels on an AVX-512 CPU)
// Each output is one fma chain in k order in every variant, so all give packed.cc's bits (checked here).
//   g++ -std=c++17 -O3 -fopenmp -fno-trapping-math -mavx2 -mfma -mf16c -Inative \
//     -I/usr/include/x86_64-linux-gnu/openblas-openmp -o /tmp/tile-shapes-avx2 research/tile-shapes-avx2.cc \
//     -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas
//   OPENBLAS_CORETYPE=HASWELL /tmp/tile-shapes-avx2
#define ELECTRA_ISA_NS isa_avx2
#include "../native/kernels.cc"
#include "../native/packed.cc"
#include <vector>

#include "shape-rows.h"

using namespace electra;
using namespace electra::isa_avx2;

// rows x (NP panels) tile: out[r, c0 + j] (+)= sum_k a(r, k) b(k, j); a(r, k) = a[r * lda + k * ldk] (in place:
// ldk 1; packed: lda 1, ldk MR)
template <int MR, int NP, bool PF>
static void tile_v(float* out, int ldo, const float* a, int64_t lda, int64_t ldk, int K, const float* b, int64_t ps,
                   const float* bias, int c0, bool load) {
  __m256 acc[MR][2 * NP];
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int q = 0; q < 2 * NP; q++) acc[r][q] = load ? _mm256_loadu_ps(out + (int64_t)r * ldo + c0 + 8 * q) : _mm256_setzero_ps();
  for (int k = 0; k < K; k++, b += 16, a += ldk) {
    __m256 bv[2 * NP];
#pragma GCC unroll 2
    for (int q = 0; q < NP; q++) {
      if (PF) _mm_prefetch((const char*)(b + q * ps + kPrefetch * 16), _MM_HINT_T0);
      bv[2 * q] = _mm256_loadu_ps(b + q * ps);
      bv[2 * q + 1] = _mm256_loadu_ps(b + q * ps + 8);
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      const __m256 x = _mm256_broadcast_ss(a + r * lda);
#pragma GCC unroll 4
      for (int q = 0; q < 2 * NP; q++) acc[r][q] = _mm256_fmadd_ps(x, bv[q], acc[r][q]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int q = 0; q < 2 * NP; q++) {
      const __m256 v = bias ? _mm256_add_ps(acc[r][q], _mm256_loadu_ps(bias + c0 + 8 * q)) : acc[r][q];
      _mm256_storeu_ps(out + (int64_t)r * ldo + c0 + 8 * q, v);
    }
}

// shapes divide: N % 6 == 0 not needed below (1024 = 170 * 6 + 4): the last rows run the base tile
template <int MR, int NP, bool PF, bool PACK>
static void linear_order_base(float* out, const float* inp, const float* packed, const float* bias, int N, int IC, int OC) {
  const int panels = OC / 16, RB = 96;
  std::vector<float> ap((size_t)RB * kKC);
  for (int r0 = 0; r0 < N; r0 += RB) {
    const int r1 = std::min(N, r0 + RB), full = r0 + (r1 - r0) / MR * MR;
    for (int k0 = 0; k0 < IC; k0 += kKC) {
      const int kc = std::min(kKC, IC - k0);
      const bool last = k0 + kc == IC;
      if (PACK)
        for (int r = r0; r < full; r += MR)
          for (int k = 0; k < kc; k++)
            for (int i = 0; i < MR; i++) ap[(size_t)(r - r0) * kc + (size_t)k * MR + i] = inp[(int64_t)(r + i) * IC + k0 + k];
      for (int p = 0; p < panels; p += NP) {
        const float* b = packed + ((int64_t)p * IC + k0) * 16;
        for (int r = r0; r < full; r += MR) {
          if (PACK) tile_v<MR, NP, PF>(out + (int64_t)r * OC, OC, ap.data() + (size_t)(r - r0) * kc, 1, MR, kc, b, (int64_t)IC * 16, last ? bias : nullptr, 16 * p, k0 > 0);
          else tile_v<MR, NP, PF>(out + (int64_t)r * OC, OC, inp + (int64_t)r * IC + k0, IC, 1, kc, b, (int64_t)IC * 16, last ? bias : nullptr, 16 * p, k0 > 0);
        }
        if (full < r1)
          for (int q = 0; q < NP; q++)
            panel_rows({out, OC, inp + k0, IC, packed + ((int64_t)(p + q) * IC + k0) * 16, kc, last ? bias : nullptr, 16 * (p + q), OC, k0 > 0}, full, r1, PF);
      }
    }
  }
}

// MLAS's order: K block, block of NB panels, 6-row strip, panel
template <int NB, bool PF>
static void linear_mlas(float* out, const float* inp, const float* packed, const float* bias, int N, int IC, int OC) {
  const int panels = OC / 16, full = N / 6 * 6;
  for (int k0 = 0; k0 < IC; k0 += kKC) {
    const int kc = std::min(kKC, IC - k0);
    const bool last = k0 + kc == IC;
    for (int p0 = 0; p0 < panels; p0 += NB) {
      const int p1 = std::min(panels, p0 + NB);
      for (int r = 0; r < full; r += 6)
        for (int p = p0; p < p1; p++)
          tile_v<6, 1, PF>(out + (int64_t)r * OC, OC, inp + (int64_t)r * IC + k0, IC, 1, kc, packed + ((int64_t)p * IC + k0) * 16, 0,
                           last ? bias : nullptr, 16 * p, k0 > 0);
      for (int p = p0; p < p1; p++)
        panel_rows({out, OC, inp + k0, IC, packed + ((int64_t)p * IC + k0) * 16, kc, last ? bias : nullptr, 16 * p, OC, k0 > 0}, full, N, PF);
    }
  }
}

int main() {
  omp_set_num_threads(1);
  const char* names[] = {"base", "nopf", "mlas4", "mlas8", "mlas16", "mlas8nopf", "pa", "t3x32", "sgemm"};
  shape_rows(
      names, 9, 8,
      [](int v, float* out, const float* in, const float* pk, const float* w, const float* b, int N, int IC, int OC) {
        switch (v) {
          case 0: linear_order_base<6, 1, true, false>(out, in, pk, b, N, IC, OC); break;
          case 1: packed_linear_forward(out, in, pk, b, N, IC, OC, false); break;
          case 2: linear_mlas<4, true>(out, in, pk, b, N, IC, OC); break;
          case 3: linear_mlas<8, true>(out, in, pk, b, N, IC, OC); break;
          case 4: linear_mlas<16, true>(out, in, pk, b, N, IC, OC); break;
          case 5: linear_mlas<8, false>(out, in, pk, b, N, IC, OC); break;
          case 6: linear_order_base<6, 1, true, true>(out, in, pk, b, N, IC, OC); break;
          case 7: linear_order_base<3, 2, true, false>(out, in, pk, b, N, IC, OC); break;
          case 8: cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, in, IC, w, IC, 0.0f, out, OC); break;
        }
      },
      [](int, int) { return false; });
}
