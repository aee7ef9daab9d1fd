// The fast kernels at the avx2 instruction-set level (flags in binding.gyp); see kernels.cc and int8.cc.
#define ELECTRA_ISA_NS isa_avx2
#include "../kernels.cc"
#include "../int8.cc"
