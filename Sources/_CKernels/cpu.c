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
