// Float epilogue of the int8 GEMM (dequantize, activation, residual), AVX-512 and scalar twins that
// give identical bits: separate IEEE operations in the order of the Swift definition
// (Kernels/F32GEMM.swift: Activation.apply and Activation.erf), with contraction off.
#include "es_kernels.h"

#pragma clang fp contract(off)

#define ES_ERF_P0 -2.72614225801306e-10f
#define ES_ERF_P1 2.77068142495902e-08f
#define ES_ERF_P2 -2.10102402082508e-06f
#define ES_ERF_P3 -5.69250639462346e-05f
#define ES_ERF_P4 -7.34990630326855e-04f
#define ES_ERF_P5 -2.95459980854025e-03f
#define ES_ERF_P6 -1.60960333262415e-02f
#define ES_ERF_Q0 -1.45660718464996e-05f
#define ES_ERF_Q1 -2.13374055278905e-04f
#define ES_ERF_Q2 -1.68282697438203e-03f
#define ES_ERF_Q3 -7.37332916720468e-03f
#define ES_ERF_Q4 -1.42647390514189e-02f

static inline float es_erf_scalar(float v) {
  float x = v < -4.0f ? -4.0f : v, x2, p, q;
  x = x > 4.0f ? 4.0f : x;
  x2 = x * x;
  p = ES_ERF_P0;
  p = p * x2 + ES_ERF_P1; p = p * x2 + ES_ERF_P2; p = p * x2 + ES_ERF_P3;
  p = p * x2 + ES_ERF_P4; p = p * x2 + ES_ERF_P5; p = p * x2 + ES_ERF_P6;
  q = ES_ERF_Q0;
  q = q * x2 + ES_ERF_Q1; q = q * x2 + ES_ERF_Q2; q = q * x2 + ES_ERF_Q3; q = q * x2 + ES_ERF_Q4;
  return x * p / q;
}

/// act(float(acc + corr) * scale), scalar.
static inline float es_dequant_act_scalar(int acc, float scale, int act) {
  float v = (float)acc * scale;
  if (act == 1) v = v > 0.0f ? v : 0.0f;
  else if (act == 2) v = v * 0.5f * (1.0f + es_erf_scalar(v * 0.70710678118654752440f));
  return v;
}

void es_qs8_epilogue_f32__scalar(size_t n, const int *acc, const int *corr, const float *scale, int act, const float *residual,
                                 float *y) {
  for (size_t j = 0; j < n; j++) {
    const float v = es_dequant_act_scalar(acc[j] + corr[j], scale[j], act);
    y[j] = residual ? residual[j] + v : v;
  }
}

void es_qs8_epilogue_qs8__scalar(size_t n, const int *acc, const int *corr, const float *scale, int act, float out_scale, int zp,
                                 signed char *q) {
  const float lo = (float)(-128 - zp), hi = (float)(127 - zp), magic = 12582912.0f;  /* 1.5 * 2^23 */
  const float inv = 1.0f / out_scale;
  for (size_t j = 0; j < n; j++) {
    float t = es_dequant_act_scalar(acc[j] + corr[j], scale[j], act) * inv;
    t = t < lo ? lo : t;
    t = t > hi ? hi : t;
    volatile float biased = t + magic;  /* round half to even through the float adder */
    q[j] = (signed char)((int)(biased - magic) + zp);
  }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f")))
static inline __m512 es_erf_avx512(__m512 v) {
  const __m512 x = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-4.0f)), _mm512_set1_ps(4.0f));
  const __m512 x2 = _mm512_mul_ps(x, x);
#define ES_STEP(acc, c) acc = _mm512_add_ps(_mm512_mul_ps(acc, x2), _mm512_set1_ps(c))
  __m512 p = _mm512_set1_ps(ES_ERF_P0);
  ES_STEP(p, ES_ERF_P1); ES_STEP(p, ES_ERF_P2); ES_STEP(p, ES_ERF_P3); ES_STEP(p, ES_ERF_P4); ES_STEP(p, ES_ERF_P5); ES_STEP(p, ES_ERF_P6);
  __m512 q = _mm512_set1_ps(ES_ERF_Q0);
  ES_STEP(q, ES_ERF_Q1); ES_STEP(q, ES_ERF_Q2); ES_STEP(q, ES_ERF_Q3); ES_STEP(q, ES_ERF_Q4);
#undef ES_STEP
  return _mm512_div_ps(_mm512_mul_ps(x, p), q);
}

/// act(float(a) * sc) for 16 lanes (a: accumulators plus correction), in the order of the Swift definition.
__attribute__((target("avx512f"), always_inline))
static inline __m512 es_act_avx512(__m512i a, __m512 sc, int act) {
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), sc);
  if (act == 1) {
    v = _mm512_max_ps(v, _mm512_setzero_ps());
  } else if (act == 2) {
    const __m512 e = es_erf_avx512(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752440f)));
    v = _mm512_mul_ps(_mm512_mul_ps(v, _mm512_set1_ps(0.5f)), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
  }
  return v;
}

/// act(float(acc + corr) * scale) for 16 lanes.
__attribute__((target("avx512f")))
static inline __m512 es_dequant_act_avx512(const int *acc, const int *corr, const float *scale, int act) {
  const __m512i a = _mm512_add_epi32(_mm512_loadu_si512((const void *)acc), _mm512_loadu_si512((const void *)corr));
  return es_act_avx512(a, _mm512_loadu_ps(scale), act);
}

__attribute__((target("avx512f")))
void es_qs8_epilogue_f32__avx512(size_t n, const int *acc, const int *corr, const float *scale, int act, const float *residual,
                                 float *y) {
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512 v = es_dequant_act_avx512(acc + j, corr + j, scale + j, act);
    if (residual) v = _mm512_add_ps(_mm512_loadu_ps(residual + j), v);
    _mm512_storeu_ps(y + j, v);
  }
  if (j < n) es_qs8_epilogue_f32__scalar(n - j, acc + j, corr + j, scale + j, act, residual ? residual + j : 0, y + j);
}
__attribute__((target("avx512f,avx512bw")))
void es_qs8_epilogue_qs8__avx512(size_t n, const int *acc, const int *corr, const float *scale, int act, float out_scale, int zp,
                                 signed char *q) {
  const __m512 lo = _mm512_set1_ps((float)(-128 - zp)), hi = _mm512_set1_ps((float)(127 - zp)), inv = _mm512_set1_ps(1.0f / out_scale);
  const __m512i z = _mm512_set1_epi32(zp);
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 v = es_dequant_act_avx512(acc + j, corr + j, scale + j, act);
    const __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, inv), lo), hi);
    const __m512i r = _mm512_add_epi32(_mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), z);
    _mm_storeu_si128((__m128i *)(q + j), _mm512_cvtepi32_epi8(r));
  }
  if (j < n) es_qs8_epilogue_qs8__scalar(n - j, acc + j, corr + j, scale + j, act, out_scale, zp, q + j);
}

// Whole tiles, column vector outer and rows inner: the correction and scale of 16 channels are loaded
// once per tile, the constants once per call, and the activation is a compile-time constant of each
// inlined body (a call per row re-broadcast ~20 constants and branched on act per vector: measured
// as much time as the GEMM itself on the K = 96 Linears).
__attribute__((target("avx512f,avx512bw"), always_inline))
static inline void es_f32_tile_body(int act, size_t rows, size_t n, const int *acc, size_t lda, const int *corr,
                                    const float *scale, const float *residual, size_t ldr, float *y, size_t ldy) {
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512i cr = _mm512_loadu_si512((const void *)(corr + j));
    const __m512 sc = _mm512_loadu_ps(scale + j);
    for (size_t r = 0; r < rows; r++) {
      __m512 v = es_act_avx512(_mm512_add_epi32(_mm512_loadu_si512((const void *)(acc + r * lda + j)), cr), sc, act);
      if (residual) v = _mm512_add_ps(_mm512_loadu_ps(residual + r * ldr + j), v);
      _mm512_storeu_ps(y + r * ldy + j, v);
    }
  }
  if (j < n) {
    for (size_t r = 0; r < rows; r++)
      es_qs8_epilogue_f32__scalar(n - j, acc + r * lda + j, corr + j, scale + j, act, residual ? residual + r * ldr + j : 0,
                                  y + r * ldy + j);
  }
}

__attribute__((target("avx512f,avx512bw")))
static void es_qs8_epilogue_f32_tile__avx512(size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                                             int act, const float *residual, size_t ldr, float *y, size_t ldy) {
  if (act == 0) es_f32_tile_body(0, rows, n, acc, lda, corr, scale, residual, ldr, y, ldy);
  else if (act == 1) es_f32_tile_body(1, rows, n, acc, lda, corr, scale, residual, ldr, y, ldy);
  else es_f32_tile_body(2, rows, n, acc, lda, corr, scale, residual, ldr, y, ldy);
}

__attribute__((target("avx512f,avx512bw"), always_inline))
static inline void es_qs8_tile_body(int act, size_t rows, size_t n, const int *acc, size_t lda, const int *corr,
                                    const float *scale, float out_scale, int zp, signed char *q, size_t ldq) {
  const __m512 lo = _mm512_set1_ps((float)(-128 - zp)), hi = _mm512_set1_ps((float)(127 - zp)), inv = _mm512_set1_ps(1.0f / out_scale);
  const __m512i z = _mm512_set1_epi32(zp);
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512i cr = _mm512_loadu_si512((const void *)(corr + j));
    const __m512 sc = _mm512_loadu_ps(scale + j);
    for (size_t r = 0; r < rows; r++) {
      const __m512 v = es_act_avx512(_mm512_add_epi32(_mm512_loadu_si512((const void *)(acc + r * lda + j)), cr), sc, act);
      const __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, inv), lo), hi);
      const __m512i rq = _mm512_add_epi32(_mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), z);
      _mm_storeu_si128((__m128i *)(q + r * ldq + j), _mm512_cvtepi32_epi8(rq));
    }
  }
  if (j < n) {
    for (size_t r = 0; r < rows; r++)
      es_qs8_epilogue_qs8__scalar(n - j, acc + r * lda + j, corr + j, scale + j, act, out_scale, zp, q + r * ldq + j);
  }
}

__attribute__((target("avx512f,avx512bw")))
static void es_qs8_epilogue_qs8_tile__avx512(size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                                             int act, float out_scale, int zp, signed char *q, size_t ldq) {
  if (act == 0) es_qs8_tile_body(0, rows, n, acc, lda, corr, scale, out_scale, zp, q, ldq);
  else if (act == 1) es_qs8_tile_body(1, rows, n, acc, lda, corr, scale, out_scale, zp, q, ldq);
  else es_qs8_tile_body(2, rows, n, acc, lda, corr, scale, out_scale, zp, q, ldq);
}

// AVX2 twins of the tile epilogues (8 lanes; the same IEEE operations in the same order; vcvtps2dq rounds
// to nearest even under the default MXCSR, as the scalar magic-number rounding does on clamped values).
__attribute__((target("avx2")))
static inline __m256 es_erf_avx2(__m256 v) {
  const __m256 x = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-4.0f)), _mm256_set1_ps(4.0f));
  const __m256 x2 = _mm256_mul_ps(x, x);
#define ES_STEP(acc, c) acc = _mm256_add_ps(_mm256_mul_ps(acc, x2), _mm256_set1_ps(c))
  __m256 p = _mm256_set1_ps(ES_ERF_P0);
  ES_STEP(p, ES_ERF_P1); ES_STEP(p, ES_ERF_P2); ES_STEP(p, ES_ERF_P3); ES_STEP(p, ES_ERF_P4); ES_STEP(p, ES_ERF_P5); ES_STEP(p, ES_ERF_P6);
  __m256 q = _mm256_set1_ps(ES_ERF_Q0);
  ES_STEP(q, ES_ERF_Q1); ES_STEP(q, ES_ERF_Q2); ES_STEP(q, ES_ERF_Q3); ES_STEP(q, ES_ERF_Q4);
#undef ES_STEP
  return _mm256_div_ps(_mm256_mul_ps(x, p), q);
}

__attribute__((target("avx2"), always_inline))
static inline __m256 es_act_avx2(__m256i a, __m256 sc, int act) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(a), sc);
  if (act == 1) {
    v = _mm256_max_ps(v, _mm256_setzero_ps());
  } else if (act == 2) {
    const __m256 e = es_erf_avx2(_mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752440f)));
    v = _mm256_mul_ps(_mm256_mul_ps(v, _mm256_set1_ps(0.5f)), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  }
  return v;
}

__attribute__((target("avx2"), always_inline))
static inline void es_f32_tile_body_avx2(int act, size_t rows, size_t n, const int *acc, size_t lda, const int *corr,
                                         const float *scale, const float *residual, size_t ldr, float *y, size_t ldy) {
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256i cr = _mm256_loadu_si256((const __m256i *)(corr + j));
    const __m256 sc = _mm256_loadu_ps(scale + j);
    for (size_t r = 0; r < rows; r++) {
      __m256 v = es_act_avx2(_mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(acc + r * lda + j)), cr), sc, act);
      if (residual) v = _mm256_add_ps(_mm256_loadu_ps(residual + r * ldr + j), v);
      _mm256_storeu_ps(y + r * ldy + j, v);
    }
  }
  if (j < n) {
    for (size_t r = 0; r < rows; r++)
      es_qs8_epilogue_f32__scalar(n - j, acc + r * lda + j, corr + j, scale + j, act, residual ? residual + r * ldr + j : 0,
                                  y + r * ldy + j);
  }
}

__attribute__((target("avx2")))
static void es_qs8_epilogue_f32_tile__avx2(size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                                           int act, const float *residual, size_t ldr, float *y, size_t ldy) {
  if (act == 0) es_f32_tile_body_avx2(0, rows, n, acc, lda, corr, scale, residual, ldr, y, ldy);
  else if (act == 1) es_f32_tile_body_avx2(1, rows, n, acc, lda, corr, scale, residual, ldr, y, ldy);
  else es_f32_tile_body_avx2(2, rows, n, acc, lda, corr, scale, residual, ldr, y, ldy);
}

__attribute__((target("avx2"), always_inline))
static inline void es_qs8_tile_body_avx2(int act, size_t rows, size_t n, const int *acc, size_t lda, const int *corr,
                                         const float *scale, float out_scale, int zp, signed char *q, size_t ldq) {
  const __m256 lo = _mm256_set1_ps((float)(-128 - zp)), hi = _mm256_set1_ps((float)(127 - zp)), inv = _mm256_set1_ps(1.0f / out_scale);
  const __m256i z = _mm256_set1_epi32(zp);
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256i cr = _mm256_loadu_si256((const __m256i *)(corr + j));
    const __m256 sc = _mm256_loadu_ps(scale + j);
    for (size_t r = 0; r < rows; r++) {
      const __m256 v = es_act_avx2(_mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(acc + r * lda + j)), cr), sc, act);
      const __m256 t = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v, inv), lo), hi);
      const __m256i rq = _mm256_add_epi32(_mm256_cvtps_epi32(t), z);   // in [-128, 127]: the packs below are exact
      const __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(rq), _mm256_extracti128_si256(rq, 1));
      _mm_storel_epi64((__m128i *)(q + r * ldq + j), _mm_packs_epi16(h, h));
    }
  }
  if (j < n) {
    for (size_t r = 0; r < rows; r++)
      es_qs8_epilogue_qs8__scalar(n - j, acc + r * lda + j, corr + j, scale + j, act, out_scale, zp, q + r * ldq + j);
  }
}

__attribute__((target("avx2")))
static void es_qs8_epilogue_qs8_tile__avx2(size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                                           int act, float out_scale, int zp, signed char *q, size_t ldq) {
  if (act == 0) es_qs8_tile_body_avx2(0, rows, n, acc, lda, corr, scale, out_scale, zp, q, ldq);
  else if (act == 1) es_qs8_tile_body_avx2(1, rows, n, acc, lda, corr, scale, out_scale, zp, q, ldq);
  else es_qs8_tile_body_avx2(2, rows, n, acc, lda, corr, scale, out_scale, zp, q, ldq);
}

#else
static void es_qs8_epilogue_f32_tile__avx512(size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                                             int act, const float *residual, size_t ldr, float *y, size_t ldy) {
  for (size_t r = 0; r < rows; r++)
    es_qs8_epilogue_f32__scalar(n, acc + r * lda, corr, scale, act, residual ? residual + r * ldr : 0, y + r * ldy);
}
static void es_qs8_epilogue_qs8_tile__avx512(size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                                             int act, float out_scale, int zp, signed char *q, size_t ldq) {
  for (size_t r = 0; r < rows; r++) es_qs8_epilogue_qs8__scalar(n, acc + r * lda, corr, scale, act, out_scale, zp, q + r * ldq);
}
void es_qs8_epilogue_qs8__avx512(size_t n, const int *acc, const int *corr, const float *scale, int act, float out_scale, int zp,
                                 signed char *q) {
  es_qs8_epilogue_qs8__scalar(n, acc, corr, scale, act, out_scale, zp, q);
}
#define es_qs8_epilogue_f32_tile__avx2 es_qs8_epilogue_f32_tile__avx512
#define es_qs8_epilogue_qs8_tile__avx2 es_qs8_epilogue_qs8_tile__avx512
void es_qs8_epilogue_f32__avx512(size_t n, const int *acc, const int *corr, const float *scale, int act, const float *residual,
                                 float *y) {
  es_qs8_epilogue_f32__scalar(n, acc, corr, scale, act, residual, y);
}
#endif

#if defined(__aarch64__)
#include <arm_neon.h>

// NEON twins of the tile epilogues: the same IEEE operations in the same order (vdivq_f32 is IEEE
// division; vcvtnq_s32_f32 rounds to nearest, ties to even, as the scalar magic-number rounding does on
// values already clamped into int8 range; contraction is off for this file).
static inline float32x4_t es_erf_neon(float32x4_t v) {
  const float32x4_t x = vminq_f32(vmaxq_f32(v, vdupq_n_f32(-4.0f)), vdupq_n_f32(4.0f));
  const float32x4_t x2 = vmulq_f32(x, x);
#define ES_STEP(acc, c) acc = vaddq_f32(vmulq_f32(acc, x2), vdupq_n_f32(c))
  float32x4_t p = vdupq_n_f32(ES_ERF_P0);
  ES_STEP(p, ES_ERF_P1); ES_STEP(p, ES_ERF_P2); ES_STEP(p, ES_ERF_P3); ES_STEP(p, ES_ERF_P4); ES_STEP(p, ES_ERF_P5); ES_STEP(p, ES_ERF_P6);
  float32x4_t q = vdupq_n_f32(ES_ERF_Q0);
  ES_STEP(q, ES_ERF_Q1); ES_STEP(q, ES_ERF_Q2); ES_STEP(q, ES_ERF_Q3); ES_STEP(q, ES_ERF_Q4);
#undef ES_STEP
  return vdivq_f32(vmulq_f32(x, p), q);
}

static inline float32x4_t es_dequant_act_neon(int32x4_t a, float32x4_t sc, int act) {
  float32x4_t v = vmulq_f32(vcvtq_f32_s32(a), sc);
  if (act == 1) {
    v = vmaxq_f32(v, vdupq_n_f32(0.0f));
  } else if (act == 2) {
    const float32x4_t e = es_erf_neon(vmulq_f32(v, vdupq_n_f32(0.70710678118654752440f)));
    v = vmulq_f32(vmulq_f32(v, vdupq_n_f32(0.5f)), vaddq_f32(vdupq_n_f32(1.0f), e));
  }
  return v;
}

__attribute__((always_inline))
static inline void es_f32_tile_body_neon(int act, size_t rows, size_t n, const int *acc, size_t lda, const int *corr,
                                         const float *scale, const float *residual, size_t ldr, float *y, size_t ldy) {
  size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const int32x4_t cr = vld1q_s32(corr + j);
    const float32x4_t sc = vld1q_f32(scale + j);
    for (size_t r = 0; r < rows; r++) {
      float32x4_t v = es_dequant_act_neon(vaddq_s32(vld1q_s32(acc + r * lda + j), cr), sc, act);
      if (residual) v = vaddq_f32(vld1q_f32(residual + r * ldr + j), v);
      vst1q_f32(y + r * ldy + j, v);
    }
  }
  if (j < n) {
    for (size_t r = 0; r < rows; r++)
      es_qs8_epilogue_f32__scalar(n - j, acc + r * lda + j, corr + j, scale + j, act, residual ? residual + r * ldr + j : 0,
                                  y + r * ldy + j);
  }
}

static void es_qs8_epilogue_f32_tile__neon(size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                                           int act, const float *residual, size_t ldr, float *y, size_t ldy) {
  if (act == 0) es_f32_tile_body_neon(0, rows, n, acc, lda, corr, scale, residual, ldr, y, ldy);
  else if (act == 1) es_f32_tile_body_neon(1, rows, n, acc, lda, corr, scale, residual, ldr, y, ldy);
  else es_f32_tile_body_neon(2, rows, n, acc, lda, corr, scale, residual, ldr, y, ldy);
}

__attribute__((always_inline))
static inline void es_qs8_tile_body_neon(int act, size_t rows, size_t n, const int *acc, size_t lda, const int *corr,
                                         const float *scale, float out_scale, int zp, signed char *q, size_t ldq) {
  const float32x4_t lo = vdupq_n_f32((float)(-128 - zp)), hi = vdupq_n_f32((float)(127 - zp)), inv = vdupq_n_f32(1.0f / out_scale);
  const int32x4_t z = vdupq_n_s32(zp);
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const int32x4_t c0 = vld1q_s32(corr + j), c1 = vld1q_s32(corr + j + 4);
    const float32x4_t s0 = vld1q_f32(scale + j), s1 = vld1q_f32(scale + j + 4);
    for (size_t r = 0; r < rows; r++) {
      const float32x4_t v0 = es_dequant_act_neon(vaddq_s32(vld1q_s32(acc + r * lda + j), c0), s0, act);
      const float32x4_t v1 = es_dequant_act_neon(vaddq_s32(vld1q_s32(acc + r * lda + j + 4), c1), s1, act);
      const int32x4_t r0 = vaddq_s32(vcvtnq_s32_f32(vminq_f32(vmaxq_f32(vmulq_f32(v0, inv), lo), hi)), z);
      const int32x4_t r1 = vaddq_s32(vcvtnq_s32_f32(vminq_f32(vmaxq_f32(vmulq_f32(v1, inv), lo), hi)), z);
      const int16x8_t h = vcombine_s16(vmovn_s32(r0), vmovn_s32(r1));
      vst1_s8(q + r * ldq + j, vmovn_s16(h));
    }
  }
  if (j < n) {
    for (size_t r = 0; r < rows; r++)
      es_qs8_epilogue_qs8__scalar(n - j, acc + r * lda + j, corr + j, scale + j, act, out_scale, zp, q + r * ldq + j);
  }
}

static void es_qs8_epilogue_qs8_tile__neon(size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                                           int act, float out_scale, int zp, signed char *q, size_t ldq) {
  if (act == 0) es_qs8_tile_body_neon(0, rows, n, acc, lda, corr, scale, out_scale, zp, q, ldq);
  else if (act == 1) es_qs8_tile_body_neon(1, rows, n, acc, lda, corr, scale, out_scale, zp, q, ldq);
  else es_qs8_tile_body_neon(2, rows, n, acc, lda, corr, scale, out_scale, zp, q, ldq);
}
#endif

void es_qs8_epilogue_f32_tile(int simd, size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                              int act, const float *residual, size_t ldr, float *y, size_t ldy) {
  if (simd) {
#if defined(__aarch64__)
    es_qs8_epilogue_f32_tile__neon(rows, n, acc, lda, corr, scale, act, residual, ldr, y, ldy);
#else
    if (simd == 2) es_qs8_epilogue_f32_tile__avx2(rows, n, acc, lda, corr, scale, act, residual, ldr, y, ldy);
    else es_qs8_epilogue_f32_tile__avx512(rows, n, acc, lda, corr, scale, act, residual, ldr, y, ldy);
#endif
    return;
  }
  for (size_t r = 0; r < rows; r++)
    es_qs8_epilogue_f32__scalar(n, acc + r * lda, corr, scale, act, residual ? residual + r * ldr : 0, y + r * ldy);
}

void es_qs8_epilogue_qs8_tile(int simd, size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                              int act, float out_scale, int zp, signed char *q, size_t ldq) {
  if (simd) {
#if defined(__aarch64__)
    es_qs8_epilogue_qs8_tile__neon(rows, n, acc, lda, corr, scale, act, out_scale, zp, q, ldq);
#else
    if (simd == 2) es_qs8_epilogue_qs8_tile__avx2(rows, n, acc, lda, corr, scale, act, out_scale, zp, q, ldq);
    else es_qs8_epilogue_qs8_tile__avx512(rows, n, acc, lda, corr, scale, act, out_scale, zp, q, ldq);
#endif
    return;
  }
  for (size_t r = 0; r < rows; r++) es_qs8_epilogue_qs8__scalar(n, acc + r * lda, corr, scale, act, out_scale, zp, q + r * ldq);
}
