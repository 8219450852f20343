// CPU feature query for runtime kernel dispatch (no global state: each call asks the CPU).
#include "es_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
int es_cpu_has_avx2_fma(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
int es_cpu_has_avx512f(void) { return __builtin_cpu_supports("avx512f"); }
int es_cpu_has_avx512vnni(void) {
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
}
#else
int es_cpu_has_avx2_fma(void) { return 0; }
int es_cpu_has_avx512f(void) { return 0; }
int es_cpu_has_avx512vnni(void) { return 0; }
#endif

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
int es_cpu_has_neon_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
int es_cpu_has_neon_dotprod(void) {
  int v = 0;
  size_t n = sizeof(v);
  return sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &n, 0, 0) == 0 && v != 0;
}
#else
int es_cpu_has_neon_dotprod(void) { return 0; }
#endif
