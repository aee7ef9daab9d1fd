// Probe (not part of the product): the multiply-accumulate rate one core reaches with the instruction mix of each
// inner loop, from registers only (no memory), to tell what the CPU allows from what the kernels reach. Used for
// BENCHMARKS.md (issue 18, fourth session, on a Zen 1 machine). Build and run from the repository root:
//   g++ -std=c++17 -O2 -mavx2 -mfma -o /tmp/mac-rates research/mac-rates.cc && /tmp/mac-rates
// (add -mavx512f for the zmm line)
// fp32:      12 independent ymm fma chains (native/packed.cc's 6 x 16 tile: 8 MACs an fma)
// fp32 zmm:  24 independent zmm fma chains (the avx512 level's 12 x 32 tile: 16 MACs an fma)
// int8 avx2: native/int8.cc's loop per row and 4 inputs, 16 channels (64 MACs): vpabsb, 2 vpsignb, 2 vpmaddubsw,
//            2 vpmaddwd (x ones), 2 vpaddd, on 4 rows in flight as the kernel has
// int8 no-widen: the same without the vpmaddwd widening (not exact; the bound if widening were free)
// Every accumulator reaches the printed checksum, so the compiler cannot drop any of the work. On Zen 1
// (2026-12-02): fp32 18.8-19.5 GMAC/s, int8 13.5-14.5, no-widen 18.2-20.2: there the int8 mix cannot beat fp32.
// On a Sapphire Rapids-class Xeon (sixth session): fp32 zmm 62-74 GMAC/s (125-148 GFLOP/s a core).
#include <immintrin.h>

#include <chrono>
#include <cstdio>

static double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int main() {
  const long n = 100000000;
  for (int round = 0; round < 2; round++) {
    {
      __m256 a[12];
      for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps(i * 1e-3f);
      const __m256 b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
      auto t0 = std::chrono::steady_clock::now();
      for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
      }
      const double s = seconds(t0);
      float o = 0, t[8];
      for (int i = 0; i < 12; i++) _mm256_storeu_ps(t, a[i]), o += t[0];
      std::printf("fp32 fma          %6.1f GMAC/s  (%g)\n", n * 12.0 * 8 / s / 1e9, o);
    }
#if defined(__AVX512F__)
    {
      __m512 a[24];
      for (int i = 0; i < 24; i++) a[i] = _mm512_set1_ps(i * 1e-3f);
      const __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
      auto t0 = std::chrono::steady_clock::now();
      for (long k = 0; k < n / 2; k++) {
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
      }
      const double s = seconds(t0);
      float o = 0;
      for (int i = 0; i < 24; i++) o += _mm512_reduce_add_ps(a[i]);
      std::printf("fp32 fma zmm      %6.1f GMAC/s  (%g)\n", n / 2 * 24.0 * 16 / s / 1e9, o);
    }
#endif
    for (int widen = 1; widen >= 0; widen--) {
      __m256i acc[4][2], av[4];
      for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256(), av[r] = _mm256_set1_epi8(r - 2);
      __m256i w0 = _mm256_set1_epi8(3), w1 = _mm256_set1_epi8(-5);
      const __m256i ones = _mm256_set1_epi16(1);
      auto t0 = std::chrono::steady_clock::now();
      for (long k = 0; k < n / 4; k++) {
        __asm__ volatile("" : "+x"(av[0]), "+x"(av[1]), "+x"(av[2]), "+x"(av[3]), "+x"(w0), "+x"(w1));
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
          const __m256i mag = _mm256_abs_epi8(av[r]);
          __m256i p0 = _mm256_maddubs_epi16(mag, _mm256_sign_epi8(w0, av[r]));
          __m256i p1 = _mm256_maddubs_epi16(mag, _mm256_sign_epi8(w1, av[r]));
          if (widen) p0 = _mm256_madd_epi16(p0, ones), p1 = _mm256_madd_epi16(p1, ones);
          acc[r][0] = _mm256_add_epi32(acc[r][0], p0);
          acc[r][1] = _mm256_add_epi32(acc[r][1], p1);
        }
      }
      const double s = seconds(t0);
      int o = 0, t[8];
      for (int r = 0; r < 4; r++)
        for (int h = 0; h < 2; h++) _mm256_storeu_si256((__m256i*)t, acc[r][h]), o += t[0];
      std::printf("int8 avx2%s %6.1f GMAC/s  (%d)\n", widen ? "         " : " no-widen", n / 4 * 4.0 * 64 / s / 1e9, o);
    }
  }
}
