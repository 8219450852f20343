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

// arm64: Advanced SIMD (NEON) is part of the architecture; the dot-product (ARMv8.2 FEAT_DotProd) and
// int8 matrix-multiply (ARMv8.6 FEAT_I8MM) extensions are optional: Linux reports them in the
// hardware-capability bits of the auxiliary vector, Apple platforms in hw.optional.arm sysctls.
#if defined(__aarch64__)
int es_cpu_has_neon(void) { return 1; }
#else
int es_cpu_has_neon(void) { return 0; }
#endif

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif
int es_cpu_has_neon_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
int es_cpu_has_neon_i8mm(void) { return (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0; }
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
static int es_sysctl_flag(const char *name) {
  int v = 0;
  size_t n = sizeof(v);
  return sysctlbyname(name, &v, &n, 0, 0) == 0 && v != 0;
}
int es_cpu_has_neon_dotprod(void) { return es_sysctl_flag("hw.optional.arm.FEAT_DotProd"); }
int es_cpu_has_neon_i8mm(void) { return es_sysctl_flag("hw.optional.arm.FEAT_I8MM"); }
#else
int es_cpu_has_neon_dotprod(void) { return 0; }
int es_cpu_has_neon_i8mm(void) { return 0; }
#endif
