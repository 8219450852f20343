// LayerNorm for arm64 (NEON, every arm64), bit for bit the Swift definition (Kernels/Norms.swift
// `layerNorm`, `layerNormQuantized`) and so the AVX-512 twins: float64 sums in the 16 lanes of
// `Norms.sumDouble` (eight 2-lane registers; the tail into lanes 0, 1, ... as the Swift loop) combined as
// `combine16`, every float operation a separate IEEE operation in the Swift order (contraction off), the
// int8 output as QuantParams.quantize (clamp, round half to even, + zero point). The source is
// norms_neon_body.h, shared with the AVX2 tier (norms_x86.c, through neon_sse.h).
// Contract: include/es_kernels.h.
#include "es_kernels.h"

#pragma clang fp contract(off)

#if defined(__aarch64__)
#include <arm_neon.h>

#define ES_NEON_NAME(base) base##__neon
#include "norms_neon_body.h"
#else
void es_layernorm_f32__neon(size_t n, const float *x, const float *gamma, const float *beta, float eps, float *y) {
  (void)n; (void)x; (void)gamma; (void)beta; (void)eps; (void)y;
  __builtin_trap();
}
void es_layernorm_qs8__neon(size_t n, const float *x, const float *gamma, const float *beta, float eps, float out_scale, int zp,
                            signed char *q) {
  (void)n; (void)x; (void)gamma; (void)beta; (void)eps; (void)out_scale; (void)zp; (void)q;
  __builtin_trap();
}
void es_quantize_qs8__neon(size_t n, const float *x, float scale, int zp, signed char *q) {
  (void)n; (void)x; (void)scale; (void)zp; (void)q;
  __builtin_trap();
}
#endif
