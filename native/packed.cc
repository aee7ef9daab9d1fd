// The float32 linear layer of inference on prepacked weights: out[N,OC] = inp[N,IC] @ w^T + bias, optionally
// GELU'd in the same pass (the intermediate layer), w packed once, at load time, into panels of 16 output
// channels (kernels.h: f32_pack_weights). Why not sgemm: OpenBLAS packs both operands on every call; at the
// shapes of a web request (N = 16 rows) that copy of the weights costs as much as the product, and at 8 x 128
// a bias and GELU pass over memory follow each call. This is what onnxruntime's MLAS does (prepacked B, fused
// epilogue); llm.c's matmul_forward is the same register-tile idea.
//
// The tiles: at the avx2 level 6 rows x 16 channels in 12 ymm accumulators (per input k: 2 loads of the panel, 6
// broadcasts, 12 fmas), on the inputs in place. At the avx512 level the linear layer is laid out as GotoBLAS
// lays out a GEMM: each task's inputs copied into tile order, a 12 x 32 tile over two panels in 24 zmm
// accumulators (below: linear_task), and attention's products on the same tile, their queries and probabilities
// copied alike; a layer of a few rows runs a 12 x 16 tile on its inputs in place. Each output is one chain of
// fmas in k order from 0, then + bias, then GELU, in the avx2 and avx512 tiles: the same bits at either level,
// for any thread count or schedule (tested; the sse4.2 tile multiplies and adds).
// Included after kernels.cc by native/isa/*.cc (one copy per instruction-set level, internal linkage); the sse4.2
// level runs the 6 x 16 tile in plain loops.
#include <immintrin.h>

#include <array>
#include <cstdlib>
#include <new>
#include <utility>

#ifndef ELECTRA_ISA_NS
#error "compile packed.cc through native/isa/kernels_*.cc, which name its instruction-set level"
#endif

namespace electra {
namespace ELECTRA_ISA_NS {
namespace {

#if defined(__AVX512F__)
constexpr int kMR = 12;  // rows per register tile: 12 zmm accumulators of 16 channels (24 in the linear layer's two-panel tile)
#else
constexpr int kMR = 6;  // rows per register tile: 12 ymm accumulators (6 rows x 2 x 8 channels)
#endif
// rows per task, a multiple of kMR: the task's inputs (rows x kKC floats, 96 KB) stay in L2 while its panels
// pass under them. (Copying them into tile order first, as GotoBLAS does, measured 2-3% slower at avx2, the copy
// costing more than the tiles' strided input streams; at avx512 it pays, with the two-panel tile: linear_task.)
constexpr int kRowBlock = 96;

// One register tile computes out[r, c0 + j] (+)= sum_k a(r, k) * b[k * 16 + j] (+ bias[c0 + j]) for r < MR,
// j < 16, k < K, storing the columns below ncols, from rows a[r * lda + k]; b is a panel of packed weights or
// attention's packed keys / values, 16 floats a row. `load`: start from out's values (the sums of the previous K
// block) instead of 0; a sum continued from its stored float is the same float as one never stored, so the
// blocks change no bits.
// The weights' panel is fetched kPrefetch inputs (128 lines, 8 KB) ahead of the tile: a web request's 16 rows
// spend ~1000 cycles on a 16 KB panel block, too few for the hardware prefetcher to keep up with memory. A
// prefetch past the panel's end is harmless: it never faults. At 1 x 16 on Zen 5, avx512: 3.6-4.4 ms -> 2.1-2.4
// ms a pass. A layer of more rows reuses each block from L1 and runs its in-place tiles without it (in_place_task).
constexpr int kPrefetch = 128;

struct TileArgs {
  float* out;  // row 0 of the tile's rows
  int ldo;
  const float* a;
  int lda;
  const float* b;  // a panel's rows, 16 floats apart
  int K;
  const float* bias;  // indexed by column, or null
  int c0, ncols;
  bool load;
};

#if defined(__AVX512F__)
// one zmm per row holds the panel's 16 channels: per input k, 1 load of the panel and MR fmas, each with its
// row's input broadcast from memory; the columns past ncols masked off in the loads and stores. Each output
// is the same chain of fmas as at the avx2 level, so both give the same bits.
template <int MR, bool PF>
void tile(const TileArgs& t) {
  __m512 acc[MR];
  const int n = t.ncols - t.c0;
  const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++) acc[r] = t.load ? _mm512_maskz_loadu_ps(m, t.out + (int64_t)r * t.ldo + t.c0) : _mm512_setzero_ps();
  const float* b = t.b;
  for (int k = 0; k < t.K; k++, b += 16) {
    if (PF) _mm_prefetch((const char*)(b + kPrefetch * 16), _MM_HINT_T0);
    const __m512 bv = _mm512_loadu_ps(b);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(t.a[(int64_t)r * t.lda + k]), bv, acc[r]);
  }
  const __m512 bb = t.bias ? _mm512_maskz_loadu_ps(m, t.bias + t.c0) : _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++) _mm512_mask_storeu_ps(t.out + (int64_t)r * t.ldo + t.c0, m, t.bias ? _mm512_add_ps(acc[r], bb) : acc[r]);
}
#elif defined(__AVX2__) && defined(__FMA__)
// The operands are read once into locals and stepped by pointer each k (a by one input, b by one panel row),
// the rows' offsets held in registers: per k 2 loads, 6 broadcasts, 12 fmas and the loop's two adds and
// compare. (The first form read TileArgs through its reference in the loop and indexed a(r, k) as
// a[r * lda + k], one lea per broadcast and K reloaded each k: alone, one thread on the Xeon, 12-25% slower than
// research/tile-shapes-avx2.cc's tile_v in its slow minutes, 1-3% in its fast ones; now within 0-3% in both.)
template <int MR, bool PF>
void tile(const TileArgs& t) {
  float* const out = t.out + t.c0;
  const int64_t ldo = t.ldo, lda = t.lda;
  const int n = std::min(16, t.ncols - t.c0);
  const bool full = n == 16;
  __m256 acc[MR][2];
  alignas(32) float s[MR][16];
  if (!t.load) {
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  } else if (full) {
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      acc[r][0] = _mm256_loadu_ps(out + r * ldo);
      acc[r][1] = _mm256_loadu_ps(out + r * ldo + 8);
    }
  } else {
    for (int r = 0; r < MR; r++)
      for (int j = 0; j < 16; j++) s[r][j] = j < n ? out[r * ldo + j] : 0.0f;
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      acc[r][0] = _mm256_load_ps(s[r]);
      acc[r][1] = _mm256_load_ps(s[r] + 8);
    }
  }
  const float* a = t.a;
  const float* b = t.b;
  const float* const bend = b + (int64_t)t.K * 16;
  for (; b != bend; b += 16, a++) {
    if (PF) _mm_prefetch((const char*)(b + kPrefetch * 16), _MM_HINT_T0);
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      const __m256 x = _mm256_broadcast_ss(a + r * lda);
      acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  const float* const bias = t.bias ? t.bias + t.c0 : nullptr;
  if (full) {  // all 16 columns: the bias added in vectors, stored straight
    const __m256 bb0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 bb1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      _mm256_storeu_ps(out + r * ldo, bias ? _mm256_add_ps(acc[r][0], bb0) : acc[r][0]);
      _mm256_storeu_ps(out + r * ldo + 8, bias ? _mm256_add_ps(acc[r][1], bb1) : acc[r][1]);
    }
    return;
  }
  // the sums leave the registers in one unrolled run of stores (an epilogue that indexed acc in a loop would
  // make GCC keep acc in memory, stored on every k)
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) {
    _mm256_store_ps(s[r], acc[r][0]);
    _mm256_store_ps(s[r] + 8, acc[r][1]);
  }
  for (int r = 0; r < MR; r++)
    for (int j = 0; j < n; j++) out[r * ldo + j] = bias ? s[r][j] + bias[j] : s[r][j];
}
#else
template <int MR, bool>
void tile(const TileArgs& t) {
  float acc[MR][16] = {};
  const int n = std::min(16, t.ncols - t.c0);
  if (t.load)
    for (int r = 0; r < MR; r++)
      for (int j = 0; j < n; j++) acc[r][j] = t.out[(int64_t)r * t.ldo + t.c0 + j];
  for (int k = 0; k < t.K; k++)
    for (int r = 0; r < MR; r++) {
      const float x = t.a[(int64_t)r * t.lda + k];
#pragma omp simd
      for (int j = 0; j < 16; j++) acc[r][j] += x * t.b[(int64_t)k * 16 + j];  // no fma at this level (libm's is slow)
    }
  for (int r = 0; r < MR; r++)
    for (int j = 0; j < n; j++) t.out[(int64_t)r * t.ldo + t.c0 + j] = t.bias ? acc[r][j] + t.bias[t.c0 + j] : acc[r][j];
}
#endif

using Tile = void (*)(const TileArgs&);
template <bool PF, int... I>
constexpr std::array<Tile, kMR + 1> tiles_upto(std::integer_sequence<int, I...>) {
  return {nullptr, tile<I + 1, PF>...};
}
// kTiles[prefetch][r]: r rows, with or without the weights' prefetch
constexpr std::array<Tile, kMR + 1> kTiles[2] = {tiles_upto<false>(std::make_integer_sequence<int, kMR>{}),
                                                 tiles_upto<true>(std::make_integer_sequence<int, kMR>{})};

// rows [r0, r1) of out[., ldo] = a[., lda] @ b (+ bias) for the 16-column panel at c0, in tiles of kMR rows
static inline void panel_rows(TileArgs t, int r0, int r1, bool prefetch = true) {
  for (int r = r0; r < r1; r += kMR) {
    TileArgs u = t;
    u.out = t.out + (int64_t)r * t.ldo;
    u.a = t.a + (int64_t)r * t.lda;
    kTiles[prefetch][std::min(kMR, r1 - r)](u);
  }
}

// K blocks of the linear layer: a panel's slice of kKC inputs is 16 KB, which stays in L1 while the row tiles
// of the task pass over it
constexpr int kKC = 256;

// one task of the linear layer: rows [r0, r1) x panels [p0, p1), the tiles reading the inputs in place (the
// avx2 and sse4.2 levels' layer; at avx512, a layer of one row block). `prefetch`: the weights' software
// prefetch (kPrefetch), for a layer of one row block only, whose weights stream from memory; a layer of more
// rows reuses each panel's K block from L1, where the prefetch is one more load per k for nothing: at avx2 on
// the Xeon, the forward pass at 8 x 128 0.998-1.029x the time with it (same-process A/B, BENCHMARKS.md).
static void in_place_task(float* out, const float* inp, const float* packed, const float* bias, int IC, int OC, bool with_gelu,
                          int r0, int r1, int p0, int p1, bool prefetch) {
  for (int k0 = 0; k0 < IC; k0 += kKC) {
    const int kc = std::min(kKC, IC - k0);
    const bool last = k0 + kc == IC;
    for (int p = p0; p < p1; p++)
      panel_rows({out, OC, inp + k0, IC, packed + ((int64_t)p * IC + k0) * 16, kc, last ? bias : nullptr, 16 * p, OC, k0 > 0}, r0, r1, prefetch);
  }
  // GELU in a pass over the task's outputs, still in cache, in runs long enough to vectorise well (at avx2, GELU
  // in the tile's epilogue measured slower than this pass: 32 vs 14 ms of a forward pass at 8 x 128 on one core)
  if (with_gelu) {
    const int c0 = 16 * p0, c1 = std::min(OC, 16 * p1);
    for (int r = r0; r < r1; r++) {
      float* o = out + (int64_t)r * OC;
#pragma omp simd
      for (int c = c0; c < c1; c++) o[c] = gelu(o[c]);
    }
  }
}

#if defined(__AVX512F__)
// The avx512 linear layer, as GotoBLAS lays out a GEMM: each task's inputs (its row block's K block) are first
// copied per tile of kMR rows into [k][row] order, so a tile's broadcasts read one sequential stream (12 floats a
// k) instead of 12 rows 1-4 KiB apart; and the tile spans two panels, 12 x 32 in 24 zmm accumulators, so each
// broadcast feeds two fmas (per k: 2 panel loads, 12 broadcasts, 24 fmas). One core of Zen 5, ELECTRA-Small's
// four shapes at 8 x 128 (research/tile-shapes.cc): 12 x 16 on inputs in place 143-192 GFLOP/s, the same tile on
// packed inputs 152-185, 12 x 32 on packed inputs 181-206, OpenBLAS's own sgemm 177-206. Each output is still
// one chain of fmas in k order, + bias, then GELU: the bits of the avx2 level's tile (tested).
constexpr int kNP = 2;  // panels per tile

struct PackedTileArgs {
  float* out;         // row 0 of the tile's rows
  int ldo;
  const float* ap;    // the tile's packed inputs: ap[k * MR + r]
  int K;
  const float* b;     // the first panel's K block (row stride 16); panel q at b + q * ps
  int64_t ps;
  const float* bias;  // indexed by column, or null
  int c0, ncols;
  bool load;          // start from out's values (the previous K block's sums)
  bool gelu;          // GELU after the bias (the last K block of the intermediate layer)
};

template <int MR, int NP>
void packed_tile(const PackedTileArgs& t) {
  __m512 acc[MR][NP];
  __mmask16 m[NP];
#pragma GCC unroll 2
  for (int q = 0; q < NP; q++) {
    const int n = t.ncols - t.c0 - 16 * q;
    m[q] = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
  }
#pragma GCC unroll 12
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
    for (int q = 0; q < NP; q++)
      acc[r][q] = t.load ? _mm512_maskz_loadu_ps(m[q], t.out + (int64_t)r * t.ldo + t.c0 + 16 * q) : _mm512_setzero_ps();
  const float* b = t.b;
  const float* ap = t.ap;
  for (int k = 0; k < t.K; k++, b += 16, ap += MR) {
    __m512 bv[NP];
#pragma GCC unroll 2
    for (int q = 0; q < NP; q++) {
      _mm_prefetch((const char*)(b + q * t.ps + kPrefetch * 16), _MM_HINT_T0);
      bv[q] = _mm512_loadu_ps(b + q * t.ps);
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      const __m512 x = _mm512_set1_ps(ap[r]);
#pragma GCC unroll 2
      for (int q = 0; q < NP; q++) acc[r][q] = _mm512_fmadd_ps(x, bv[q], acc[r][q]);
    }
  }
  __m512 bb[NP];  // added only where there is a bias: + 0 would turn a sum of -0 into +0, which the avx2 tile keeps
#pragma GCC unroll 2
  for (int q = 0; q < NP; q++) bb[q] = t.bias ? _mm512_maskz_loadu_ps(m[q], t.bias + t.c0 + 16 * q) : _mm512_setzero_ps();
  if (t.gelu) {  // GELU on the sums as they leave the registers: no second pass over the layer's outputs (at
                 // 8 x 128, half the GELU's time on one Zen 5 core: 6 ms instead of 12 a forward pass)
    alignas(64) float s[MR][16 * NP];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
      for (int q = 0; q < NP; q++) _mm512_store_ps(s[r] + 16 * q, t.bias ? _mm512_add_ps(acc[r][q], bb[q]) : acc[r][q]);
    for (int r = 0; r < MR; r++) {
#pragma omp simd
      for (int j = 0; j < 16 * NP; j++) s[r][j] = gelu(s[r][j]);
      for (int q = 0; q < NP; q++) _mm512_mask_storeu_ps(t.out + (int64_t)r * t.ldo + t.c0 + 16 * q, m[q], _mm512_load_ps(s[r] + 16 * q));
    }
    return;
  }
#pragma GCC unroll 12
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
    for (int q = 0; q < NP; q++)
      _mm512_mask_storeu_ps(t.out + (int64_t)r * t.ldo + t.c0 + 16 * q, m[q], t.bias ? _mm512_add_ps(acc[r][q], bb[q]) : acc[r][q]);
}

using PackedTile = void (*)(const PackedTileArgs&);
template <int NP, int... I>
constexpr std::array<PackedTile, kMR + 1> packed_tiles_upto(std::integer_sequence<int, I...>) {
  return {nullptr, packed_tile<I + 1, NP>...};
}
// kPackedTiles[np - 1][r]: r rows, np panels
constexpr std::array<PackedTile, kMR + 1> kPackedTiles[kNP] = {packed_tiles_upto<1>(std::make_integer_sequence<int, kMR>{}),
                                                               packed_tiles_upto<2>(std::make_integer_sequence<int, kMR>{})};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// out[j] = column j of the 16 x 16 block in[0..15] (rows): the unpack / shuffle network of llvm's and MLAS's
// transposes, in registers
static inline void transpose16(const __m512 in[16], __m512 out[16]) {
  __m512 u[16], t[16];
#pragma GCC unroll 8
  for (int r = 0; r < 16; r += 2) {  // per 128-bit lane l: rows r, r+1 interleaved at columns 4l..4l+3
    u[r] = _mm512_unpacklo_ps(in[r], in[r + 1]);
    u[r + 1] = _mm512_unpackhi_ps(in[r], in[r + 1]);
  }
#pragma GCC unroll 4
  for (int g = 0; g < 16; g += 4) {  // t[g + c], lane l: rows g..g+3 at column 4l + c
    t[g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(u[g]), _mm512_castps_pd(u[g + 2])));
    t[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(u[g]), _mm512_castps_pd(u[g + 2])));
    t[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(u[g + 1]), _mm512_castps_pd(u[g + 3])));
    t[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(u[g + 1]), _mm512_castps_pd(u[g + 3])));
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; c++) {  // column 4l + c: rows 0..15 in order
    const __m512 v0 = _mm512_shuffle_f32x4(t[c], t[4 + c], 0x88), w0 = _mm512_shuffle_f32x4(t[c], t[4 + c], 0xDD);
    const __m512 v1 = _mm512_shuffle_f32x4(t[8 + c], t[12 + c], 0x88), w1 = _mm512_shuffle_f32x4(t[8 + c], t[12 + c], 0xDD);
    out[c] = _mm512_shuffle_f32x4(v0, v1, 0x88);
    out[4 + c] = _mm512_shuffle_f32x4(w0, w1, 0x88);
    out[8 + c] = _mm512_shuffle_f32x4(v0, v1, 0xDD);
    out[12 + c] = _mm512_shuffle_f32x4(w0, w1, 0xDD);
  }
}

// The inputs of a tile of mr rows, kc of them from each row of a[., lda], copied into [k][row] order at ap.
// (GCC 12 warns of its own intrinsics' `__Y = __Y` in the transpose, its bug 105593, fixed in GCC 13.)
static inline void pack_tile_inputs(float* ap, const float* a, int64_t lda, int mr, int kc) {
  if (mr == kMR) {
    // 16 inputs at a time: the 12 rows' 16 floats (and 4 zero rows) transposed in registers, each column's 12
    // floats one masked store. The scalar copy in this order took 11% of the layer's time at 8 x 128.
    int k = 0;
    for (; k + 16 <= kc; k += 16) {
      __m512 t[16], c[16];
#pragma GCC unroll 16
      for (int r = 0; r < 16; r++) t[r] = r < kMR ? _mm512_loadu_ps(a + (int64_t)r * lda + k) : _mm512_setzero_ps();
      transpose16(t, c);
#pragma GCC unroll 16
      for (int j = 0; j < 16; j++) _mm512_mask_storeu_ps(ap + (int64_t)(k + j) * kMR, 0x0FFF, c[j]);
    }
    for (; k < kc; k++)
#pragma GCC unroll 12
      for (int r = 0; r < kMR; r++) ap[(int64_t)k * kMR + r] = a[(int64_t)r * lda + k];
  } else {
    for (int k = 0; k < kc; k++, ap += mr)
      for (int r = 0; r < mr; r++) ap[r] = a[(int64_t)r * lda + k];
  }
}

// f32_pack_rows(packed, w, ldw, OC, IC, scale) (kernels.h) with the 16 x 16 transpose: attention's keys, [T, HS]
// rows 3C floats apart, into panels of 16 keys. The scalar loop's gather took a third of attention_infer's time.
static inline void pack_rows_transposed(float* packed, const float* w, int64_t ldw, int OC, int IC, float scale) {
  const __m512 sc = _mm512_set1_ps(scale);
  for (int p = 0; p < f32_panels(OC); p++) {
    float* pp = packed + (int64_t)p * IC * 16;
    const int rows = std::min(16, OC - 16 * p);
    const float* wp = w + (int64_t)16 * p * ldw;
    int k = 0;
    for (; k + 16 <= IC; k += 16) {
      __m512 t[16], c[16];
#pragma GCC unroll 16
      for (int r = 0; r < 16; r++) t[r] = r < rows ? _mm512_mul_ps(sc, _mm512_loadu_ps(wp + (int64_t)r * ldw + k)) : _mm512_setzero_ps();
      transpose16(t, c);
#pragma GCC unroll 16
      for (int j = 0; j < 16; j++) _mm512_storeu_ps(pp + (int64_t)(k + j) * 16, c[j]);
    }
    for (; k < IC; k++)
      for (int lane = 0; lane < 16; lane++) pp[(int64_t)k * 16 + lane] = lane < rows ? scale * wp[(int64_t)lane * ldw + k] : 0.0f;
  }
}
#pragma GCC diagnostic pop

constexpr bool kPackInputs = true;

// Each task packs its row block's K block (rows x kKC, 96 KB) into its thread's scratch, where it stays in L2
// while the task's panels pass (packed all at once before the tasks, the layer ran 15% slower at 8 x 128: the
// copy is out of L2 by the time a task reads it). A layer of one row block (up to 96 rows: a web request's 16)
// is not packed: its tasks split it by panels, each would copy the same rows, and at 16-64 rows the weights
// stream from memory, where two panels' streams measured slower than one. It runs the 12 x 16 tile on its inputs
// in place (one core, 12 layers of 16 rows: 2.0-2.1 ms in place, 2.1-2.5 packed in one panel per tile, 2.7-3.1
// packed in two; 32 rows 3.7, 3.8, 4.2 ms; at 96 rows 10.5, 10.4, 10.1 and at 128 13.9, 13.8, 13.2).
// one task: rows [r0, r1) x panels [p0, p1) of the layer; scratch: this thread's kRowBlock x kKC floats, or
// null to read the inputs in place
static void linear_task(float* out, const float* inp, float* scratch, const float* packed, const float* bias, int IC, int OC,
                        bool with_gelu, int r0, int r1, int p0, int p1, bool prefetch) {
  if (!scratch) return in_place_task(out, inp, packed, bias, IC, OC, with_gelu, r0, r1, p0, p1, prefetch);
  for (int k0 = 0; k0 < IC; k0 += kKC) {
    const int kc = std::min(kKC, IC - k0);
    const bool last = k0 + kc == IC;
    for (int r = r0; r < r1; r += kMR) pack_tile_inputs(scratch + (int64_t)(r - r0) * kc, inp + (int64_t)r * IC + k0, IC, std::min(kMR, r1 - r), kc);
    for (int p = p0; p < p1; p += kNP) {
      const int np = std::min(kNP, p1 - p);
      for (int r = r0; r < r1; r += kMR)
        kPackedTiles[np - 1][std::min(kMR, r1 - r)]({out + (int64_t)r * OC, OC, scratch + (int64_t)(r - r0) * kc, kc,
                                                     packed + ((int64_t)p * IC + k0) * 16, (int64_t)IC * 16, last ? bias : nullptr,
                                                     16 * p, OC, k0 > 0, last && with_gelu});
    }
  }
}
#else
constexpr int kNP = 1;  // panels per tile
constexpr bool kPackInputs = false;

static void linear_task(float* out, const float* inp, float*, const float* packed, const float* bias, int IC, int OC,
                        bool with_gelu, int r0, int r1, int p0, int p1, bool prefetch) {
  in_place_task(out, inp, packed, bias, IC, OC, with_gelu, r0, r1, p0, p1, prefetch);
}
#endif

// Floats a thread keeps between calls, grown as needed, 64-byte aligned. (Not a std::vector: its member functions
// are weak symbols, which the linker may share between the levels' copies of this file, test/core/portable.test.ts.)
struct Scratch {
  float* p = nullptr;
  size_t n = 0;
  ~Scratch() { std::free(p); }
  float* get(size_t need) {
    if (need <= n) return p;
    std::free(p);
    n = 0;
    p = static_cast<float*>(std::aligned_alloc(64, (need * sizeof(float) + 63) / 64 * 64));
    if (!p) throw std::bad_alloc();
    n = need;
    return p;
  }
};

void packed_linear_forward(float* out, const float* inp, const float* packed, const float* bias, int N, int IC, int OC,
                           bool with_gelu) {
  const int rb = kRowBlock, panels = f32_panels(OC), row_blocks = (N + rb - 1) / rb;
  const int nt = (int64_t)N * IC * OC < 262144 ? 1 : omp_get_max_threads();
  // enough tasks (row block x range of panels) for the threads to even out: at least 8 per thread, so that the
  // last to finish waits for at most an eighth of its share (8 x 128 at 2 threads: 11 row blocks alone would leave
  // one thread 6 blocks to the other's 5). Each task walks its panels in turn (in pairs where it packs its
  // inputs), every row tile of the block against them while their K block is in L1.
  // The tasks' packed inputs (kPackInputs, a layer of more than one row block), grown as needed and kept: this
  // thread's next layers reuse the memory.
  const bool pack = kPackInputs && row_blocks > 1;
  const int want = std::min(panels, std::max(1, (8 * nt + row_blocks - 1) / row_blocks)), align = pack ? kNP : 1;
  const int per = ((panels + want - 1) / want + align - 1) / align * align;  // a packed task's panels start a tile
  const int ranges = (panels + per - 1) / per;
  static thread_local Scratch scratch;
  float* sp = pack ? scratch.get((size_t)nt * kRowBlock * kKC) : nullptr;
  const bool prefetch = row_blocks == 1;  // in_place_task
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int t = 0; t < row_blocks * ranges; t++) {
    const int r0 = (t / ranges) * rb, r1 = std::min(N, r0 + rb);
    const int p0 = (t % ranges) * per, p1 = std::min(panels, p0 + per);
    linear_task(out, inp, pack ? sp + (int64_t)omp_get_thread_num() * kRowBlock * kKC : nullptr, packed, bias, IC, OC, with_gelu, r0, r1, p0, p1, prefetch);
  }
}

// Per (batch, head), on the thread's scratch: Kp = scale K^T in panels of 16 keys (zero past T; the weights'
// layout: f32_pack_rows, or at avx512 pack_rows_transposed, the same floats), then for each tile of kMR queries: their scores S = Q Kp (the tiles above, K = HS;
// kMR x T floats, in L1), softmax over each row with the mask bias (kernels.cc's, as attention_forward), out = S Vp,
// Vp = V in panels of 16 columns (K = T):
// V's own rows lie 3C floats apart, a stride that maps a panel's 128 rows onto 4 of L1's 64 sets. scale =
// 1/sqrt(HS) is folded into Kp: exact when HS is a power of 4 (ELECTRA's 64), else one rounding apart from
// scaling the sums.
void attention_infer(float* out, const float* qkv, const float* maskbias, int B, int T, int C, int NH) {
  const int HS = C / NH, C3 = 3 * C, keys = f32_panels(T);
  const float scale = 1.0f / std::sqrt((float)HS);
  // a web request's attention (16 tokens: ~0.1 MFLOP a layer) is over before a second thread would wake
  const int64_t work = (int64_t)B * NH * T * T * HS;
  const int nt = work < (1 << 20) ? 1 : std::min(omp_get_max_threads(), B * NH);
  // each thread's Kp | Vp | S (| Qp | Pp: avx512), allocated here: a throw inside the parallel region would end
  // the process
#if defined(__AVX512F__)
  const size_t packed_tiles = (size_t)kMR * (HS + T);  // Qp, Pp below: under the same #if
#else
  const size_t packed_tiles = 0;
#endif
  const size_t per_thread = (size_t)keys * HS * 16 + (size_t)T * HS + (size_t)kMR * T + packed_tiles;
  Buffer<float> scratch(per_thread * nt);
#pragma omp parallel num_threads(nt)
  {
    float* const Kp = scratch.data() + per_thread * omp_get_thread_num();
    float* const Vp = Kp + (size_t)keys * HS * 16;
    float* const S = Vp + (size_t)T * HS;
#if defined(__AVX512F__)
    float* const Qp = S + (size_t)kMR * T;  // the tile's queries, packed
    float* const Pp = Qp + (size_t)kMR * HS;  // its probabilities, packed
#endif
#pragma omp for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; bh++) {
      const int b = bh / NH, h = bh % NH;
      const float* q = qkv + (int64_t)b * T * C3 + h * HS;
      const float* k = q + C;
      const float* v = q + 2 * C;
#if defined(__AVX512F__)
      pack_rows_transposed(Kp, k, C3, T, HS, scale);  // the keys as a linear layer's weights: [T, HS]
#else
      f32_pack_rows(Kp, k, C3, T, HS, scale);  // the keys as a linear layer's weights: [T, HS]
#endif
      for (int j = 0; j < T; j++)
        for (int p = 0; p < HS / 16; p++) std::memcpy(Vp + ((size_t)p * T + j) * 16, v + (int64_t)j * C3 + 16 * p, 64);
      const float* mb = maskbias + (int64_t)b * T;
      float* o = out + (int64_t)b * T * C + h * HS;
      // one tile of queries at a time: its scores (kMR x T, in L1), their softmax, their output
      for (int i0 = 0; i0 < T; i0 += kMR) {
        const int mr = std::min(kMR, T - i0);
#if defined(__AVX512F__)
        // as the linear layer: the tile's queries, then its probabilities, packed into [k][row] order, under the
        // 12 x 32 two-panel tile (the 12 x 16 tile on them in place: 12 broadcasts from 12 rows and one load per 12
        // fmas, bound by the loads)
        pack_tile_inputs(Qp, q + (int64_t)i0 * C3, C3, mr, HS);
        for (int p = 0; p < keys; p += kNP)
          kPackedTiles[std::min(kNP, keys - p) - 1][mr]({S, T, Qp, HS, Kp + (size_t)p * HS * 16, (int64_t)HS * 16, nullptr, 16 * p, T, false, false});
        for (int r = 0; r < mr; r++) softmax_masked_row(S + (size_t)r * T, mb, T);
        pack_tile_inputs(Pp, S, T, mr, T);
        for (int p = 0; p < HS / 16; p += kNP)
          kPackedTiles[std::min(kNP, HS / 16 - p) - 1][mr]({o + (int64_t)i0 * C, C, Pp, T, Vp + (size_t)p * T * 16, (int64_t)T * 16, nullptr, 16 * p, HS, false, false});
#else
        // no prefetch: Kp and Vp were just written, in this core's cache (with it: 1.00-1.02x the time, BENCHMARKS.md)
        const Tile tl = kTiles[false][mr];
        for (int p = 0; p < keys; p++) tl({S, T, q + (int64_t)i0 * C3, C3, Kp + (size_t)p * HS * 16, HS, nullptr, 16 * p, T, false});
        for (int r = 0; r < mr; r++) softmax_masked_row(S + (size_t)r * T, mb, T);
        for (int p = 0; p < HS / 16; p++) tl({o + (int64_t)i0 * C, C, S, T, Vp + (size_t)p * T * 16, T, nullptr, 16 * p, HS, false});
#endif
      }
    }
  }
}

}  // namespace
}  // namespace ELECTRA_ISA_NS
}  // namespace electra
