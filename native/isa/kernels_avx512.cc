// The fast kernels at the avx512 instruction-set level (flags in binding.gyp); see kernels.cc.
#define ELECTRA_ISA_NS isa_avx512
#include "../kernels.cc"
