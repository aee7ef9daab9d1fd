// An LD_PRELOAD library that makes an AVX-512 CPU look like an AVX2 one to the process (bench/as-avx2.sh): CPUID
// reports no AVX-512 (any subset), AVX-512 VNNI, AVX-VNNI, AVX512-BF16/FP16 or AMX, so that every library that
// picks its kernels from CPUID (electra-ts's dispatch, OpenBLAS, onnxruntime's MLAS) picks its AVX2 ones. Used to
// compare the AVX2 code paths of electra-ts and onnxruntime in one run on an AVX-512 machine, when no AVX2 machine
// is at hand: a proxy (the core still runs them at its own clock, caches and ports), not a figure for an AVX2 CPU.
// How: Linux's CPUID faulting (arch_prctl ARCH_SET_CPUID, 0; the CPU needs the cpuid_fault flag) turns every CPUID
// into a SIGSEGV, which the handler below answers: the real CPUID run with faulting briefly off, the bits masked,
// the instruction skipped. The process's own SIGSEGV handlers (Node's, V8's) are kept and called for every other
// fault: sigaction is wrapped so that they do not replace this one (a handler set by signal(), or by a raw
// rt_sigaction system call, would: not Node's way). Faulting is per thread, inherited by the threads
// created after; the constructor runs after the libraries linked at start-up (which is why the libraries that pick
// their kernels at dlopen time, as Node's addons, see the mask; a program linked to OpenBLAS directly does not).
// Written by hand: no library does this (Intel's SDE emulates, at a hundred times the cost).
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dlfcn.h>
#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static struct sigaction prev;
static int installed;
typedef int (*sigaction_fn)(int, const struct sigaction*, struct sigaction*);
static sigaction_fn real_sigaction(void) {
  static sigaction_fn f;
  if (!f) f = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  return f;
}
// the process's own SIGSEGV handler (Node's, V8's) is kept as `prev`, called for every fault that is not CPUID
int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (sig != SIGSEGV || !installed) return real_sigaction()(sig, act, old);
  if (old) *old = prev;
  if (act) prev = *act;
  return 0;
}

static void fatal(const char* what) {
  (void)!write(2, what, strlen(what));
  _exit(134);
}

static void on_segv(int sig, siginfo_t* si, void* ctx) {
  ucontext_t* uc = (ucontext_t*)ctx;
  greg_t* g = uc->uc_mcontext.gregs;
  // a faulting CPUID is a #GP: SI_KERNEL, the instruction at RIP readable; anything else goes to the process's own
  // handler, or takes its default action
  const unsigned char* ip = (const unsigned char*)g[REG_RIP];
  if (si->si_code != SI_KERNEL || ip[0] != 0x0F || ip[1] != 0xA2) {
    if (prev.sa_flags & SA_SIGINFO) { prev.sa_sigaction(sig, si, ctx); return; }
    if (prev.sa_handler == SIG_IGN) return;
    if (prev.sa_handler != SIG_DFL) { prev.sa_handler(sig); return; }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    real_sigaction()(SIGSEGV, &dfl, NULL);
    if (si->si_code <= 0) raise(sig);  // sent, not a fault: send it again, now fatal
    return;                            // a fault recurs on return, now fatal
  }
  unsigned leaf = (unsigned)g[REG_RAX], sub = (unsigned)g[REG_RCX], a, b, c, d;
  if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1) != 0) fatal("cpuid-avx2: ARCH_SET_CPUID 1 failed\n");
  __cpuid_count(leaf, sub, a, b, c, d);
  if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) fatal("cpuid-avx2: ARCH_SET_CPUID 0 failed\n");
  if (leaf == 7 && sub == 0) {  // AVX512 F DQ IFMA PF ER CD BW VL; VBMI VBMI2 VNNI BITALG VPOPCNTDQ; 4VNNIW 4FMAPS
                                // VP2INTERSECT, AMX-BF16, AVX512-FP16, AMX-TILE, AMX-INT8
    b &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
    c &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
    d &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
  } else if (leaf == 7 && sub == 1) {  // AVX-VNNI, AVX512-BF16, AMX-FP16, AVX-IFMA; AMX-COMPLEX, AVX10
    a &= ~((1u << 4) | (1u << 5) | (1u << 21) | (1u << 23));
    d &= ~((1u << 8) | (1u << 19));
  } else if (leaf == 0x24) {  // AVX10's own leaf
    a = b = c = d = 0;
  }
  g[REG_RAX] = a; g[REG_RBX] = b; g[REG_RCX] = c; g[REG_RDX] = d;
  g[REG_RIP] += 2;
}

__attribute__((constructor)) static void init(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  real_sigaction()(SIGSEGV, &sa, &prev);
  installed = 1;
  if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) { perror("cpuid-avx2: ARCH_SET_CPUID"); exit(1); }
}
