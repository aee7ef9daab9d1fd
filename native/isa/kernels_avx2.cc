// The fast kernels at the avx2 instruction-set level (flags in binding.gyp); see kernels.cc, int8.cc and packed.cc.
#define ELECTRA_ISA_NS isa_avx2
#include "../kernels.cc"
#include "../int8.cc"
#include "../packed.cc"
