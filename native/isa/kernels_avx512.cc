// The fast kernels at the avx512 instruction-set level (flags in binding.gyp); see kernels.cc, int8.cc and packed.cc.
#define ELECTRA_ISA_NS isa_avx512
#include "../kernels.cc"
#include "../int8.cc"
#include "../packed.cc"
