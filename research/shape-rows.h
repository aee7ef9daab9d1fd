// The table loop of the tile probes (research/tile-shapes.cc, research/tile-shapes-avx2.cc): ELECTRA-Small's four
// inference shapes at 8 x 128, three rounds; per shape one line of every variant's GFLOP/s, the best of 10 calls,
// each variant's outputs checked against variant 0's bits except the one at `unchecked` (OpenBLAS's sgemm), which
// runs on one thread too (OpenBLAS's OpenMP build does not follow omp_set_num_threads: before this file, the
// probes' sgemm column ran on every thread).
// Included after kernels.cc and packed.cc by the probe.
// run(v, out, in, packed, w, bias, N, IC, OC): variant v on those operands (w: the weights unpacked, [OC, IC]);
// skip(v, OC): true where variant v does not fit OC (printed as "-").
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

extern "C" void openblas_set_num_threads(int);

template <class Run, class Skip>
static void shape_rows(const char* const* names, int NV, int unchecked, Run run, Skip skip) {
  openblas_set_num_threads(1);
  const int shapes[4][3] = {{1024, 256, 768}, {1024, 256, 256}, {1024, 256, 1024}, {1024, 1024, 256}};
  for (int round = 0; round < 3; round++)
    for (const auto& sh : shapes) {
      const int N = sh[0], IC = sh[1], OC = sh[2], reps = 10;
      std::vector<float> in((size_t)N * IC), w((size_t)OC * IC), ref((size_t)N * OC), out((size_t)N * OC), b(OC);
      for (size_t i = 0; i < in.size(); i++) in[i] = std::sin((float)i);
      for (size_t i = 0; i < w.size(); i++) w[i] = std::cos((float)i) * 0.02f;
      for (int i = 0; i < OC; i++) b[i] = 0.001f * i;
      float* pk = static_cast<float*>(aligned_alloc(64, ((size_t)electra::f32_packed_size(OC, IC) * 4 + 63) / 64 * 64));
      electra::f32_pack_weights(pk, w.data(), OC, IC);
      std::printf("%d x %d x %d:", N, IC, OC);
      for (int v = 0; v < NV; v++) {
        if (skip(v, OC)) {
          std::printf("  %s -", names[v]);
          continue;
        }
        double best = 1e9;
        for (int r = 0; r < reps; r++) {
          const auto t0 = std::chrono::steady_clock::now();
          run(v, out.data(), in.data(), pk, w.data(), b.data(), N, IC, OC);
          best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        if (v == 0) ref = out;
        else if (v != unchecked && std::memcmp(ref.data(), out.data(), out.size() * 4)) std::printf(" [%s differs]", names[v]);
        std::printf("  %s %.0f", names[v], 2.0 * N * IC * OC / best / 1e9);
      }
      std::printf(" GFLOP/s\n");
      std::free(pk);
    }
}
