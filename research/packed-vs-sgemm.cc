// Probe (not part of the product): native/packed.cc's float32 linear layer against OpenBLAS's cblas_sgemm on
// ELECTRA-Small's inference GEMM shapes at 8 x 128, one thread, twice each. Used for BENCHMARKS.md (issue 18,
// third session). Build and run from the repository root:
//   g++ -std=c++17 -O3 -fopenmp -fno-trapping-math -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c \
//     -Inative -I/usr/include/x86_64-linux-gnu/openblas-openmp -o /tmp/packed-vs-sgemm research/packed-vs-sgemm.cc \
//     -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas
//   OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /tmp/packed-vs-sgemm      # env -u OPENBLAS_CORETYPE: its own kernels
#define ELECTRA_ISA_NS isa_avx512
#include "../native/kernels.cc"
#include "../native/packed.cc"
#include <chrono>
#include <cstdio>
#include <vector>

int main() {
  using namespace electra;
  using namespace electra::isa_avx512;
  omp_set_num_threads(1);
  const int shapes[4][3] = {{1024, 256, 768}, {1024, 256, 256}, {1024, 256, 1024}, {1024, 1024, 256}};
  for (int round = 0; round < 2; round++)
    for (const auto& sh : shapes) {
      const int N = sh[0], IC = sh[1], OC = sh[2], reps = 20;
      std::vector<float> in((size_t)N * IC, 0.01f), w((size_t)OC * IC, 0.02f), out((size_t)N * OC), b(OC);
      float* pk = static_cast<float*>(aligned_alloc(64, ((size_t)f32_packed_size(OC, IC) * 4 + 63) / 64 * 64));
      f32_pack_weights(pk, w.data(), OC, IC);
      auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; r++) packed_linear_forward(out.data(), in.data(), pk, b.data(), N, IC, OC, false);
      const double s1 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; r++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, in.data(), IC, w.data(), IC, 0.0f, out.data(), OC);
      const double s2 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double gflop = 2.0 * N * IC * OC * reps / 1e9;
      std::printf("%d x %d x %d: packed %.1f GFLOP/s, sgemm %.1f GFLOP/s\n", N, IC, OC, gflop / s1, gflop / s2);
      std::free(pk);
    }
}
