// Float attention for arm64 (NEON, every arm64): Swin window attention of one window and head, and DETR's
// attention of one head, with the same bits as the definitions in Sources/Kernels/Attention.swift
// (Attention.window, Attention.dense, Attention.softmaxRow) and so as the AVX-512 twins; and the int8
// window attention with sdot (FEAT_DotProd). The source is attention_neon_body.h, shared with the AVX2 tier
// (attention_x86.c, through neon_sse.h). Contract: include/es_kernels.h.
#include "es_kernels.h"

#pragma clang fp contract(off)

#if defined(__aarch64__)
#include <arm_neon.h>
#define ES_NEON_NAME(base) base##__neon
#define ES_DOTPROD_TARGET __attribute__((target("dotprod")))
#define es_window_attention_qs8__neon es_window_attention_qs8__neondot
#include "attention_neon_body.h"
#else
void es_window_attention_f32__neon(size_t n, size_t hd, const float *const *q, const float *const *k, const float *const *v,
                                   const float *bias, const float *mask, float sqrt_d, float *const *out, float *scratch) {
  (void)n; (void)hd; (void)q; (void)k; (void)v; (void)bias; (void)mask; (void)sqrt_d; (void)out; (void)scratch;
  __builtin_trap();
}
void es_dense_attention_f32__neon(size_t nq, size_t nk, size_t hd, const float *q, const float *k, const float *v, size_t ld,
                                  float scale, const float *mask, float *out, float *scratch) {
  (void)nq; (void)nk; (void)hd; (void)q; (void)k; (void)v; (void)ld; (void)scale; (void)mask; (void)out; (void)scratch;
  __builtin_trap();
}
void es_window_attention_qs8__neondot(size_t n, const float *const *q, const float *const *k, const float *const *v,
                                      const float *bias, const float *mask, float inv_sqrt_d, float *const *out, void *scratch) {
  (void)n; (void)q; (void)k; (void)v; (void)bias; (void)mask; (void)inv_sqrt_d; (void)out; (void)scratch;
  __builtin_trap();
}
#endif
