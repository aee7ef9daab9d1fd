// Fast int8 kernels for dynamic int8 inference: an int8 GEMM with exact int32 sums on the packed weights of
// kernels.h (blocks of 16 output channels x 4 inputs), and the linear layer around it (activations quantized
// per row, the product dequantized with the row's and the channel's scales, plus the bias). Included after
// kernels.cc by native/isa/kernels_*.cc, so compiled once per instruction-set level, with internal linkage
// (kernels.cc's header says why). Which kernel each level has:
//   avx512  VNNI (vpdpbusd on zmm: 16 channels x 4 inputs per instruction, int32 sums, nothing saturates), used
//           only where the CPU has avx512vnni (dispatch.cc's fast_int8); the AVX2 kernel below otherwise.
//           The VNNI functions alone carry target("avx512vnni"): the level's other code cannot be given a
//           VNNI instruction by the compiler, so it still runs on an AVX-512 CPU without VNNI.
//   avx2    vpmaddubsw(|a|, sign(a) w): |a| <= 128 (quantized activations are within [-127, 127]) and |w| <= 127,
//           so the int16 pair sums (at most 2 * 128 * 127 = 32512 < 32767) never saturate, where a + 128 as u8
//           times w could reach 2 * 255 * 127 = 64770; vpmaddwd with ones widens them to int32. |a| is taken
//           once per task (Epilogue::amag), not in every tile of every block: per row and 4 inputs of 16
//           channels 6 ops on the two vector ports that take them instead of 7 (the int8 forward at 8 x 128,
//           avx2, 1.06-1.12x; BENCHMARKS.md).
//   sse4.2  plain loops (int32 products), as the naive twin.
// Every path computes the same int32 sums; test/core/int8.test.ts checks them against the naive kernels.
#include <immintrin.h>

#ifndef ELECTRA_ISA_NS
#error "compile int8.cc through native/isa/kernels_*.cc, which name its instruction-set level"
#endif

namespace electra {
namespace ELECTRA_ISA_NS {
namespace {

// A task of the parallel loop (run_tasks): up to kRowsPerTask rows by a range of 16-channel blocks; the tile
// kernels walk it 4 blocks (64 channels) at a time, in tiles of MR rows (their accumulators in registers),
// while those blocks' weights stay in cache.
constexpr int kRowsPerTask = 48;

// What a tile does with its int32 sums: store them (gemm), or dequantize, add the bias and store floats (linear).
struct Epilogue {
  int32_t* iout;        // gemm: out[N,OC] int32, else null
  float* fout;          // linear: out[N,OC] float
  const float* ascale;  // [N]
  const float* wscale;  // [OC]
  const float* bias;    // [OC] or null
  const int32_t* wsum;  // [OC] (VNNI: the sums less 128 wsum)
  int OC;
  const uint8_t* amag;  // AVX2: |a| of the tile kernel's rows, laid out as they are, else null
};

// The float a linear layer writes for an exact sum, in every kernel and the naive twin: a fused multiply-add
// with the bias (a product and a sum are contracted differently at each level; one fma is one rounding
// everywhere, in hardware or libm), a plain product without one.
static inline float dequantize(int32_t acc, float as, float ws, const float* bias, int o) {
  return bias ? std::fma((float)acc, as * ws, bias[o]) : (float)acc * (as * ws);
}

#if !defined(__AVX2__)
// ---- scalar: the sse4.2 level's kernel ----

void gemm_tile_scalar(const Epilogue& e, const int8_t* a, int lda, const int8_t* packed, int K4, int r0, int rows,
                      int b0, int nb) {
  for (int r = r0; r < r0 + rows; r++) {
    const int8_t* ar = a + (int64_t)r * lda;
    for (int b = b0; b < b0 + nb; b++) {
      const int8_t* wb = packed + (int64_t)b * K4 * 64;
      int32_t acc[16] = {0};
      for (int k4 = 0; k4 < K4; k4++)
        for (int lane = 0; lane < 16; lane++)
          for (int j = 0; j < 4; j++) acc[lane] += (int32_t)ar[4 * k4 + j] * wb[k4 * 64 + lane * 4 + j];
      for (int lane = 0; lane < 16 && 16 * b + lane < e.OC; lane++) {
        const int o = 16 * b + lane;
        if (e.iout) e.iout[(int64_t)r * e.OC + o] = acc[lane];
        else e.fout[(int64_t)r * e.OC + o] = dequantize(acc[lane], e.ascale[r], e.wscale[o], e.bias, o);
      }
    }
  }
}
#endif

#if defined(__AVX2__)
// ---- AVX2: vpmaddubsw on |a| and sign(a) w, no saturation (see the header) ----

// rows MR x one block of 16 channels (two ymm of 8)
template <int MR>
inline void block_avx2(const Epilogue& e, const int8_t* a, int lda, const int8_t* wb, int K4, int r0, int b) {
  __m256i acc[MR][2];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  for (int k4 = 0; k4 < K4; k4++) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + k4 * 64));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + k4 * 64 + 32));
    #pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      int32_t four, four_mag;
      std::memcpy(&four, a + (int64_t)(r0 + r) * lda + 4 * k4, 4);
      std::memcpy(&four_mag, e.amag + (int64_t)(r0 + r) * lda + 4 * k4, 4);
      const __m256i av = _mm256_set1_epi32(four), mag = _mm256_set1_epi32(four_mag);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(mag, _mm256_sign_epi8(w0, av)), ones));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(mag, _mm256_sign_epi8(w1, av)), ones));
    }
  }
  const int o0 = 16 * b, n = std::min(16, e.OC - o0);
  #pragma GCC unroll 16
  for (int r = 0; r < MR; r++) {
    alignas(32) int32_t s[16];
    _mm256_store_si256(reinterpret_cast<__m256i*>(s), acc[r][0]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(s + 8), acc[r][1]);
    const int row = r0 + r;
    if (e.iout) {
      std::memcpy(e.iout + (int64_t)row * e.OC + o0, s, sizeof(int32_t) * n);
    } else if (n == 16) {
      // dequantize() in vectors: fma((float)acc, as * ws, bias), or the product alone: the same roundings
      float* out = e.fout + (int64_t)row * e.OC + o0;
      const __m256 as = _mm256_set1_ps(e.ascale[row]);
      for (int h = 0; h < 2; h++) {
        const __m256 x = _mm256_cvtepi32_ps(acc[r][h]), sc = _mm256_mul_ps(as, _mm256_loadu_ps(e.wscale + o0 + 8 * h));
        _mm256_storeu_ps(out + 8 * h, e.bias ? _mm256_fmadd_ps(x, sc, _mm256_loadu_ps(e.bias + o0 + 8 * h)) : _mm256_mul_ps(x, sc));
      }
    } else {
      float* out = e.fout + (int64_t)row * e.OC + o0;
      const float as = e.ascale[row];
      for (int l = 0; l < n; l++) out[l] = dequantize(s[l], as, e.wscale[o0 + l], e.bias, o0 + l);
    }
  }
}

void gemm_tile_avx2(const Epilogue& e, const int8_t* a, int lda, const int8_t* packed, int K4, int r0, int rows,
                    int b0, int nb) {
  constexpr int MR = 4;
  for (int b = b0; b < b0 + nb; b++) {
    const int8_t* wb = packed + (int64_t)b * K4 * 64;
    int r = r0;
    for (; r + MR <= r0 + rows; r += MR) block_avx2<MR>(e, a, lda, wb, K4, r, b);
    switch (r0 + rows - r) {
      case 3: block_avx2<3>(e, a, lda, wb, K4, r, b); break;
      case 2: block_avx2<2>(e, a, lda, wb, K4, r, b); break;
      case 1: block_avx2<1>(e, a, lda, wb, K4, r, b); break;
      default: break;
    }
  }
}
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__)
// ---- AVX512-VNNI: vpdpbusd on (a + 128) as u8 and w as s8; the sums less 128 wsum[o] ----
#define ELECTRA_VNNI __attribute__((target("avx512vnni"), always_inline)) inline

// acc += the 4-products of u8 a and s8 w (vpdpbusd), in place. As inline asm: from the intrinsic GCC 12 makes two
// register copies around each vpdpbusd (and spills some accumulators), a third of the kernel's speed.
ELECTRA_VNNI void dpbusd(__m512i& acc, __m512i a, __m512i w) { asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(w)); }

// rows MR x NB blocks of 16 channels (one zmm each): MR * NB accumulators, kept in registers as the loops over
// them unroll completely (the pragmas: GCC's own limits leave 6 x 4 rolled, the accumulators then on the stack)
template <int MR, int NB>
ELECTRA_VNNI void block_vnni(const Epilogue& e, const uint8_t* a, int lda, const int8_t* packed, int K4, int r0, int b0) {
  __m512i acc[MR][NB];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; r++)
    #pragma GCC unroll 16
    for (int j = 0; j < NB; j++) acc[r][j] = _mm512_setzero_si512();
  const int8_t* wb = packed + (int64_t)b0 * K4 * 64;
  for (int k4 = 0; k4 < K4; k4++) {
    __m512i w[NB];
    #pragma GCC unroll 16
    for (int j = 0; j < NB; j++) w[j] = _mm512_loadu_si512(wb + ((int64_t)j * K4 + k4) * 64);
    #pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      int32_t four;
      std::memcpy(&four, a + (int64_t)(r0 + r) * lda + 4 * k4, 4);
      const __m512i av = _mm512_set1_epi32(four);
      #pragma GCC unroll 16
      for (int j = 0; j < NB; j++) dpbusd(acc[r][j], av, w[j]);
    }
  }
  __mmask16 m[NB];
  __m512i off[NB];
  __m512 ws[NB], bias[NB];
  #pragma GCC unroll 16
  for (int j = 0; j < NB; j++) {
    const int o0 = 16 * (b0 + j), n = std::min(16, e.OC - o0);
    m[j] = (__mmask16)((1u << n) - 1);
    // the maskz forms: GCC 12 warns of _mm512_undefined_* in the unmasked ones
    off[j] = _mm512_maskz_slli_epi32(m[j], _mm512_maskz_loadu_epi32(m[j], e.wsum + o0), 7);  // 128 wsum
    ws[j] = e.iout ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m[j], e.wscale + o0);
    bias[j] = e.bias ? _mm512_maskz_loadu_ps(m[j], e.bias + o0) : _mm512_setzero_ps();
  }
  #pragma GCC unroll 16
  for (int r = 0; r < MR; r++) {
    const int64_t at = (int64_t)(r0 + r) * e.OC + 16 * b0;
    const __m512 as = e.iout ? _mm512_setzero_ps() : _mm512_set1_ps(e.ascale[r0 + r]);
    #pragma GCC unroll 16
    for (int j = 0; j < NB; j++) {
      const __m512i sum = _mm512_sub_epi32(acc[r][j], off[j]);
      if (e.iout) {
        _mm512_mask_storeu_epi32(e.iout + at + 16 * j, m[j], sum);
      } else {
        // dequantize(): fma((float)acc, as * ws, bias), or the product alone
        const __m512 x = _mm512_maskz_cvtepi32_ps(m[j], sum), sc = _mm512_mul_ps(as, ws[j]);
        _mm512_mask_storeu_ps(e.fout + at + 16 * j, m[j], e.bias ? _mm512_fmadd_ps(x, sc, bias[j]) : _mm512_mul_ps(x, sc));
      }
    }
  }
}

template <int NB>
ELECTRA_VNNI void rows_vnni(const Epilogue& e, const uint8_t* a, int lda, const int8_t* packed, int K4, int r0, int rows,
                            int b0) {
  constexpr int MR = NB >= 4 ? 6 : 8;  // MR * NB accumulators + NB weights + 1 broadcast within 32 zmm
  int r = r0;
  for (; r + MR <= r0 + rows; r += MR) block_vnni<MR, NB>(e, a, lda, packed, K4, r, b0);
  switch (r0 + rows - r) {
    case 7: block_vnni<7, NB>(e, a, lda, packed, K4, r, b0); break;
    case 6: block_vnni<6, NB>(e, a, lda, packed, K4, r, b0); break;
    case 5: block_vnni<5, NB>(e, a, lda, packed, K4, r, b0); break;
    case 4: block_vnni<4, NB>(e, a, lda, packed, K4, r, b0); break;
    case 3: block_vnni<3, NB>(e, a, lda, packed, K4, r, b0); break;
    case 2: block_vnni<2, NB>(e, a, lda, packed, K4, r, b0); break;
    case 1: block_vnni<1, NB>(e, a, lda, packed, K4, r, b0); break;
    default: break;
  }
}

// a: the rows + 128 (gemm_with / linear_with with Offset), as u8
__attribute__((target("avx512vnni"))) void gemm_tile_vnni(const Epilogue& e, const int8_t* a, int lda,
                                                           const int8_t* packed, int K4, int r0, int rows, int b0, int nb) {
  const uint8_t* u = reinterpret_cast<const uint8_t*>(a);
  switch (nb) {
    case 4: rows_vnni<4>(e, u, lda, packed, K4, r0, rows, b0); break;
    case 3: rows_vnni<3>(e, u, lda, packed, K4, r0, rows, b0); break;
    case 2: rows_vnni<2>(e, u, lda, packed, K4, r0, rows, b0); break;
    default: rows_vnni<1>(e, u, lda, packed, K4, r0, rows, b0); break;
  }
}
#undef ELECTRA_VNNI
#endif

// ---- the level's gemm and linear layer over its tile kernel ----
// Offset: the tile kernel takes the activations + 128 (VNNI's u8 operand); Mag: also their magnitudes |a| (AVX2's)

using TileKernel = void (*)(const Epilogue&, const int8_t*, int, const int8_t*, int, int, int, int, int);

// The product, as tasks of kRowsPerTask rows x a range of blocks, in one parallel loop with dynamic scheduling
// and no barrier inside: each task quantizes its own rows (inp, linear) or copies them (a, gemm) into its
// thread's buffer (+ 128 with Offset: VNNI's u8 operand; their |a| beside them with Mag), then runs the tile
// kernel. On a machine shared with other busy processes a descheduled thread then delays no phase of the others;
// the row blocks are split by columns too when they are fewer than twice the threads (B = 1), at the cost of
// quantizing a row once per range (1/64 of its products or less). Each output element belongs to one task,
// computed the same way whichever thread runs it: the same bits for any thread count and schedule.
template <TileKernel Tile, bool Offset, bool Mag>
void run_tasks(const float* inp, const int8_t* a, int32_t* iout, float* fout, const int8_t* packed, const int32_t* wsum,
               const float* wscale, const float* bias, int N, int IC, int OC, bool with_gelu) {
  const int K4 = int8_k4(IC), lda = 4 * K4, blocks = int8_blocks(OC);
  const int nt = (int64_t)N * IC * OC < 262144 ? 1 : omp_get_max_threads();
  const int row_tasks = (N + kRowsPerTask - 1) / kRowsPerTask;
  const int ranges = std::min(blocks, (2 * nt + row_tasks - 1) / row_tasks), per = (blocks + ranges - 1) / ranges;
  const int tasks = row_tasks * ranges;
#pragma omp parallel num_threads(nt)
  {
    Buffer<int8_t> q((size_t)kRowsPerTask * lda);  // the task's rows, padded to 4 K4 (the pads meet zero weights)
    Buffer<uint8_t> mag(Mag ? (size_t)kRowsPerTask * lda : 0);  // their magnitudes (Mag)
    Buffer<float> ascale(kRowsPerTask);
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < tasks; t++) {
      const int r0 = (t / ranges) * kRowsPerTask, rows = std::min(kRowsPerTask, N - r0);
      const int b0 = (t % ranges) * per, b1 = std::min(blocks, b0 + per);
      for (int r = 0; r < rows; r++) {
        int8_t* row = q.data() + (size_t)r * lda;
        if (inp) ascale[r] = int8_quantize_row(row, inp + (int64_t)(r0 + r) * IC, IC);
        else std::memcpy(row, a + (int64_t)(r0 + r) * IC, IC);
        if (Mag) {
          uint8_t* m = mag.data() + (size_t)r * lda;
#pragma omp simd
          for (int k = 0; k < lda; k++) m[k] = (uint8_t)(row[k] < 0 ? -row[k] : row[k]);
        }
        if (Offset) {
          uint8_t* u = reinterpret_cast<uint8_t*>(row);
#pragma omp simd
          for (int k = 0; k < IC; k++) u[k] ^= 0x80;
        }
      }
      // the tile kernels count rows from the task's first
      const Epilogue e{iout ? iout + (int64_t)r0 * OC : nullptr, fout ? fout + (int64_t)r0 * OC : nullptr, ascale.data(), wscale, bias, wsum, OC, Mag ? mag.data() : nullptr};
      for (int b = b0; b < b1; b += 4) Tile(e, q.data(), lda, packed, K4, 0, rows, b, std::min(4, b1 - b));
      if (with_gelu) {  // the task's outputs, still in cache
        const int o0 = 16 * b0, o1 = std::min(OC, 16 * b1);
        for (int r = 0; r < rows; r++) {
          float* o = fout + (int64_t)(r0 + r) * OC;
#pragma omp simd
          for (int c = o0; c < o1; c++) o[c] = gelu(o[c]);
        }
      }
    }
  }
}

template <TileKernel Tile, bool Offset, bool Mag = false>
void gemm_with(int32_t* out, const int8_t* a, const int8_t* packed, const int32_t* wsum, int N, int IC, int OC) {
  run_tasks<Tile, Offset, Mag>(nullptr, a, out, nullptr, packed, wsum, nullptr, nullptr, N, IC, OC, false);
}

template <TileKernel Tile, bool Offset, bool Mag = false>
void linear_with(float* out, const float* inp, const int8_t* packed, const int32_t* wsum, const float* wscale,
                 const float* bias, int N, int IC, int OC, bool with_gelu) {
  run_tasks<Tile, Offset, Mag>(inp, nullptr, nullptr, out, packed, wsum, wscale, bias, N, IC, OC, with_gelu);
}

}  // namespace

#if defined(__AVX2__)
const Int8Kernels int8 = {"avx2", gemm_with<gemm_tile_avx2, false, true>, linear_with<gemm_tile_avx2, false, true>};
#else
const Int8Kernels int8 = {"scalar", gemm_with<gemm_tile_scalar, false>, linear_with<gemm_tile_scalar, false>};
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__)
const Int8Kernels int8_vnni = {"vnni", gemm_with<gemm_tile_vnni, true>, linear_with<gemm_tile_vnni, true>};
#endif

}  // namespace ELECTRA_ISA_NS
}  // namespace electra
