// Probe (not part of the product): any CBLAS library's sgemm on the training workloads' shapes (ELECTRA-Small at
// 8 x 128: bench/flops.ts's workloadGemms, each with the two backward products as native/kernels.cc's
// matmul_forward / matmul_backward call them), the library loaded with dlopen after main starts, so that
// bench/as-avx2.sh's CPUID mask is in place before the library picks its kernels (a library linked at build time
// reads CPUID in its constructor, before the mask's). Used for BENCHMARKS.md (issue 18: OpenBLAS against BLIS).
//   g++ -O2 -o /tmp/blas-shapes research/blas-shapes.cc -ldl
//   OMP_NUM_THREADS=2 BLIS_NUM_THREADS=2 [bash bench/as-avx2.sh] /tmp/blas-shapes LIBRARY.so shapes|finetune|pretrain
//     LIBRARY: /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0, /usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4
//   shapes: each shape's forward, input-gradient and weight-gradient products alone, median of 21 calls (warm cache);
//   finetune | pretrain: the workload's products in the model's order, every layer its own buffers, median of 5 passes.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
static sgemm_t sgemm;

struct Shape { int N, IC, OC, count; };
struct Buffers { Shape s; float *x, *w, *y, *dx, *dw; };

static float* filled(size_t n) {
  float* p = static_cast<float*>(aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
  for (size_t i = 0; i < n; i++) p[i] = 0.1f * std::sin((float)i);
  return p;
}
static Buffers buffers(Shape s) {
  return {s, filled((size_t)s.N * s.IC), filled((size_t)s.OC * s.IC), filled((size_t)s.N * s.OC), filled((size_t)s.N * s.IC),
          filled((size_t)s.OC * s.IC)};
}
// product 0: y = x w^T; 1: dx = y w; 2: dw += y^T x (y stands in for the output gradient)
static void product(const Buffers& b, int which) {
  const Shape& s = b.s;
  if (which == 0) sgemm(RowMajor, NoTrans, Trans, s.N, s.OC, s.IC, 1.f, b.x, s.IC, b.w, s.IC, 0.f, b.y, s.OC);
  if (which == 1) sgemm(RowMajor, NoTrans, NoTrans, s.N, s.IC, s.OC, 1.f, b.y, s.OC, b.w, s.IC, 0.f, b.dx, s.IC);
  if (which == 2) sgemm(RowMajor, Trans, NoTrans, s.OC, s.IC, s.N, 1.f, b.y, s.OC, b.x, s.IC, 1.f, b.dw, s.IC);
}
static double seconds(void (*f)(void*), void* arg) {
  const auto t0 = std::chrono::steady_clock::now();
  f(arg);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: blas-shapes LIBRARY.so shapes|finetune|pretrain\n");
    return 2;
  }
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h || !(sgemm = reinterpret_cast<sgemm_t>(dlsym(h, "cblas_sgemm")))) {
    std::fprintf(stderr, "blas-shapes: %s\n", dlerror());
    return 1;
  }
  const std::vector<Shape> finetune = {{1024, 128, 256, 1}, {1024, 256, 768, 12}, {1024, 256, 256, 12}, {1024, 256, 1024, 12}, {1024, 1024, 256, 12}};
  std::vector<Shape> pretrain = finetune;
  pretrain[2].count = 13;  // and the discriminator head's dense layer
  // the generator (hidden 64: bench/sizes.ts), its head on the 154 masked rows and the tied vocabulary projection
  // (the discriminator head's 256 -> 1 product left out)
  for (Shape s : std::vector<Shape>{{1024, 128, 64, 1}, {1024, 64, 192, 12}, {1024, 64, 64, 12}, {1024, 64, 256, 12}, {1024, 256, 64, 12},
                                    {154, 64, 128, 1}, {154, 128, 30522, 1}})
    pretrain.push_back(s);
  const std::string mode = argv[2];
  if (mode == "shapes") {
    std::vector<Shape> all = pretrain;
    for (const Shape& s : all) {
      Buffers b = buffers(s);
      std::printf("%5d x %5d x %5d:", s.N, s.IC, s.OC);
      for (int which = 0; which < 3; which++) {
        std::vector<double> t;
        for (int r = 0; r < 21; r++) {
          const auto t0 = std::chrono::steady_clock::now();
          product(b, which);
          t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        std::printf("  %s %6.1f", which == 0 ? "forward" : which == 1 ? "dinp" : "dweight", 2.0 * s.N * s.IC * s.OC / median(t) / 1e9);
      }
      std::printf(" GFLOP/s\n");
    }
    return 0;
  }
  if (mode != "finetune" && mode != "pretrain") {
    std::fprintf(stderr, "blas-shapes: mode must be shapes, finetune or pretrain, got %s\n", argv[2]);
    return 2;
  }
  std::vector<Buffers> bs;
  double flops = 0;
  for (const Shape& s : mode == "finetune" ? finetune : pretrain)
    for (int c = 0; c < s.count; c++) {
      bs.push_back(buffers(s));
      flops += 6.0 * s.N * s.IC * s.OC;
    }
  auto pass = [](void* p) {
    for (const Buffers& b : *static_cast<std::vector<Buffers>*>(p))
      for (int which = 0; which < 3; which++) product(b, which);
  };
  pass(&bs);
  std::vector<double> t;
  for (int r = 0; r < 5; r++) t.push_back(seconds(pass, &bs));
  std::printf("%s: %.1f GFLOP/s\n", mode.c_str(), flops / median(t) / 1e9);
}
