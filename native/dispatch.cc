// Picks the fast kernels' instruction-set level once, at load time, from the CPU's features
// (__builtin_cpu_supports reads CPUID): AVX-512 (F, BW, DQ, VL), else AVX2 with FMA, else SSE4.2.
// The int8 kernels of the avx512 level use VNNI only where the CPU has avx512vnni (fast_int8).
// ELECTRA_ISA=sse4.2|avx2|avx512 asks for a level; one the CPU lacks is refused (it would crash with an
// illegal instruction) and the best available is used, with a warning on stderr.
// Built with the baseline x86-64 flags, so that it runs on every CPU.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels.h"

namespace electra {
namespace {

const Level kLevels[] = {
    {"sse4.2", &isa_sse42::kernels, &isa_sse42::utils, &isa_sse42::int8},
    {"avx2", &isa_avx2::kernels, &isa_avx2::utils, &isa_avx2::int8},
    {"avx512", &isa_avx512::kernels, &isa_avx512::utils, &isa_avx512::int8},
};

int best_supported() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return 2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
  return 0;
}

int choose() {
  const int best = best_supported();
  const char* want = std::getenv("ELECTRA_ISA");
  if (!want || !*want) return best;
  for (int i = 0; i < 3; i++) {
    if (std::strcmp(want, kLevels[i].name) != 0) continue;
    if (i <= best) return i;
    std::fprintf(stderr, "electra-ts: ELECTRA_ISA=%s, but this CPU lacks it; using %s\n", want, kLevels[best].name);
    return best;
  }
  std::fprintf(stderr, "electra-ts: ELECTRA_ISA=%s is not one of sse4.2, avx2, avx512; using %s\n", want, kLevels[best].name);
  return best;
}

}  // namespace

const Level& fast_level() {
  static const Level& chosen = kLevels[choose()];
  return chosen;
}

// VNNI is a separate CPUID bit (Skylake-X has AVX-512 without it): its kernels run only where the CPU says so
const Int8Kernels& fast_int8() {
  static const Int8Kernels& chosen =
      fast_level().int8 == &isa_avx512::int8 && __builtin_cpu_supports("avx512vnni") ? isa_avx512::int8_vnni : *fast_level().int8;
  return chosen;
}

}  // namespace electra
