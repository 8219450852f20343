// Mask2Former's multi-scale deformable attention sampling, x86-64 AVX2+FMA and AVX-512 (16 channels a step): the definition and its contract are
// Kernels/DeformableAttention.swift (`sample`); every float step below is the same IEEE operation in the same
// order (the sampling coordinates in scalar code, the four corners folded by fused multiply-adds and the
// attention weight applied by a product and a sum, 8 channels at a time), so the same bits.
// Contract: include/es_kernels.h.
#include "es_kernels.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

/// One sample of one head: its four corner rows (NULL outside the map) and weights, and the attention weight.
typedef struct { const char *c[4]; float w[4]; float a; } es_msda_sample;

/// 8 values of a corner row from c as floats: float values as they are; int8 values dequantized as
/// QuantParams.dequantize (scale * float(v - zero_point)).
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 es_msda_load8(const void *row, size_t c, int int8, __m256 scale, __m256i zp) {
  if (!int8) return _mm256_loadu_ps((const float *)row + c);
  long long bits;
  __builtin_memcpy(&bits, (const signed char *)row + c, 8);
  const __m256i v = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(bits)), zp);
  return _mm256_mul_ps(scale, _mm256_cvtepi32_ps(v));
}

/// The `count` samples of query q, head m from the `first`-th (level-major, then point): corner rows and weights
/// (scalar, the definition's operations).
__attribute__((always_inline))
static inline void es_msda_prepare(size_t q, size_t m, size_t first, size_t count, size_t heads, size_t hd, size_t points, const void *value,
                                   size_t elem, const long *height, const long *width, const long *start, const float *loc,
                                   const float *attn, size_t n, es_msda_sample *s) {
  const size_t ld = heads * hd;
  for (size_t k = 0; k < count; k++) {
    const size_t lp = first + k, l = lp / points;
    const long h = height[l], w = width[l];
    const size_t i = (q * heads + m) * n + lp;
    const float gx = 2.0f * loc[2 * i] - 1.0f, gy = 2.0f * loc[2 * i + 1] - 1.0f;
    const float x = fmaf(gx + 1.0f, (float)w / 2.0f, -0.5f), y = fmaf(gy + 1.0f, (float)h / 2.0f, -0.5f);
    const float fx = floorf(x), fy = floorf(y);
    const float wx = x - fx, ex = 1.0f - wx, ny = y - fy, sy = 1.0f - ny;
    s[k].w[0] = sy * ex; s[k].w[1] = sy * wx; s[k].w[2] = ny * ex; s[k].w[3] = ny * wx;
    s[k].a = attn[i];
    // fx, fy are integral; far-away points are clamped before the conversion (as the definition does).
    const long x0 = (long)(fx >= -2.0f ? (fx <= (float)(w + 1) ? fx : (float)(w + 1)) : -2.0f);
    const long y0 = (long)(fy >= -2.0f ? (fy <= (float)(h + 1) ? fy : (float)(h + 1)) : -2.0f);
    const char *base = (const char *)value + ((size_t)start[l] * ld + m * hd) * elem;
    for (int cy = 0; cy < 2; cy++) {
      for (int cx = 0; cx < 2; cx++) {
        const long yy = y0 + cy, xx = x0 + cx;
        s[k].c[2 * cy + cx] = yy >= 0 && yy < h && xx >= 0 && xx < w ? base + (size_t)(yy * w + xx) * ld * elem : 0;
      }
    }
  }
}

/// Channels c.. of the samples, 8 at a time, then one at a time: acc += a·(c0·w0 + c1·w1 + c2·w2 + c3·w3) with
/// the first product and three fused multiply-adds, per channel (the AVX-512 tier's 16-lane loop ends here).
__attribute__((target("avx2,fma"), always_inline))
static inline void es_msda_tail8(size_t c, size_t hd, size_t count, const es_msda_sample *s, int int8, float scale, int zero_point,
                                 float *o) {
  const __m256 vscale = _mm256_set1_ps(scale);
  const __m256i vzp = _mm256_set1_epi32(zero_point);
  for (; c + 8 <= hd; c += 8) {
    __m256 acc = _mm256_loadu_ps(o + c);
    for (size_t k = 0; k < count; k++) {
      const es_msda_sample *t = &s[k];
      const __m256 z = _mm256_setzero_ps();
      __m256 v = _mm256_mul_ps(t->c[0] ? es_msda_load8(t->c[0], c, int8, vscale, vzp) : z, _mm256_set1_ps(t->w[0]));
      v = _mm256_fmadd_ps(t->c[1] ? es_msda_load8(t->c[1], c, int8, vscale, vzp) : z, _mm256_set1_ps(t->w[1]), v);
      v = _mm256_fmadd_ps(t->c[2] ? es_msda_load8(t->c[2], c, int8, vscale, vzp) : z, _mm256_set1_ps(t->w[2]), v);
      v = _mm256_fmadd_ps(t->c[3] ? es_msda_load8(t->c[3], c, int8, vscale, vzp) : z, _mm256_set1_ps(t->w[3]), v);
      acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(t->a), v));
    }
    _mm256_storeu_ps(o + c, acc);
  }
  for (; c < hd; c++) {
    float acc = o[c];
    for (size_t k = 0; k < count; k++) {
      const es_msda_sample *t = &s[k];
      float cv[4];
      for (int j = 0; j < 4; j++) {
        cv[j] = !t->c[j] ? 0.0f : int8 ? scale * (float)((int)((const signed char *)t->c[j])[c] - zero_point) : ((const float *)t->c[j])[c];
      }
      float v = cv[0] * t->w[0];
      v = fmaf(cv[1], t->w[1], v);
      v = fmaf(cv[2], t->w[2], v);
      v = fmaf(cv[3], t->w[3], v);
      acc = acc + t->a * v;
    }
    o[c] = acc;
  }
}

/// 16 values of a corner row as floats (es_msda_load8's operations on 16 lanes).
__attribute__((target("avx512f"), always_inline))
static inline __m512 es_msda_load16(const void *row, size_t c, int int8, __m512 scale, __m512i zp) {
  if (!int8) return _mm512_loadu_ps((const float *)row + c);
  const __m512i v = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)((const signed char *)row + c))), zp);
  return _mm512_mul_ps(scale, _mm512_cvtepi32_ps(v));
}

/// The outer loops over queries q0 ..< q1, heads and chunks of samples, with `CHANNELS` the channel loop.
#define ES_MSDA_LOOPS(CHANNELS) \
  const size_t ld = heads * hd, n = levels * points, elem = int8 ? 1 : 4; \
  es_msda_sample s[64]; \
  const size_t chunk = n < 64 ? n : 64; \
  for (size_t q = q0; q < q1; q++) { \
    for (size_t m = 0; m < heads; m++) { \
      float *o = out + q * ld + m * hd; \
      for (size_t c = 0; c < hd; c++) o[c] = 0.0f; \
      for (size_t first = 0; first < n; first += chunk) { \
        const size_t count = n - first < chunk ? n - first : chunk; \
        es_msda_prepare(q, m, first, count, heads, hd, points, value, elem, height, width, start, loc, attn, n, s); \
        CHANNELS \
      } \
    } \
  }

__attribute__((target("avx2,fma"), always_inline))
static inline void es_msda_core(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const void *value, int int8,
                                float scale, int zero_point, const long *height, const long *width, const long *start, const float *loc,
                                const float *attn, float *out) {
  ES_MSDA_LOOPS(es_msda_tail8(0, hd, count, s, int8, scale, zero_point, o);)
}

/// AVX-512: 16 channels at a time (the same operations per lane), then the AVX2 tail.
__attribute__((target("avx2,fma,avx512f"), always_inline))
static inline void es_msda_core512(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const void *value, int int8,
                                   float scale, int zero_point, const long *height, const long *width, const long *start, const float *loc,
                                   const float *attn, float *out) {
  const __m512 vscale = _mm512_set1_ps(scale);
  const __m512i vzp = _mm512_set1_epi32(zero_point);
  ES_MSDA_LOOPS({
    size_t c = 0;
    for (; c + 16 <= hd; c += 16) {
      __m512 acc = _mm512_loadu_ps(o + c);
      for (size_t k = 0; k < count; k++) {
        const es_msda_sample *t = &s[k];
        const __m512 z = _mm512_setzero_ps();
        __m512 v = _mm512_mul_ps(t->c[0] ? es_msda_load16(t->c[0], c, int8, vscale, vzp) : z, _mm512_set1_ps(t->w[0]));
        v = _mm512_fmadd_ps(t->c[1] ? es_msda_load16(t->c[1], c, int8, vscale, vzp) : z, _mm512_set1_ps(t->w[1]), v);
        v = _mm512_fmadd_ps(t->c[2] ? es_msda_load16(t->c[2], c, int8, vscale, vzp) : z, _mm512_set1_ps(t->w[2]), v);
        v = _mm512_fmadd_ps(t->c[3] ? es_msda_load16(t->c[3], c, int8, vscale, vzp) : z, _mm512_set1_ps(t->w[3]), v);
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(t->a), v));
      }
      _mm512_storeu_ps(o + c, acc);
    }
    es_msda_tail8(c, hd, count, s, int8, scale, zero_point, o);
  })
}
#undef ES_MSDA_LOOPS

__attribute__((target("avx2,fma,avx512f")))
void es_msda_f32__avx512(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const float *value,
                         const long *height, const long *width, const long *start, const float *loc, const float *attn, float *out) {
  es_msda_core512(q0, q1, heads, hd, levels, points, value, 0, 1.0f, 0, height, width, start, loc, attn, out);
}

__attribute__((target("avx2,fma,avx512f")))
void es_msda_qs8__avx512(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const signed char *value, float scale,
                         int zero_point, const long *height, const long *width, const long *start, const float *loc, const float *attn,
                         float *out) {
  es_msda_core512(q0, q1, heads, hd, levels, points, value, 1, scale, zero_point, height, width, start, loc, attn, out);
}

__attribute__((target("avx2,fma")))
void es_msda_f32__avx2(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const float *value,
                       const long *height, const long *width, const long *start, const float *loc, const float *attn, float *out) {
  es_msda_core(q0, q1, heads, hd, levels, points, value, 0, 1.0f, 0, height, width, start, loc, attn, out);
}

__attribute__((target("avx2,fma")))
void es_msda_qs8__avx2(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const signed char *value, float scale,
                       int zero_point, const long *height, const long *width, const long *start, const float *loc, const float *attn,
                       float *out) {
  es_msda_core(q0, q1, heads, hd, levels, points, value, 1, scale, zero_point, height, width, start, loc, attn, out);
}
#else
void es_msda_f32__avx512(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const float *value,
                         const long *height, const long *width, const long *start, const float *loc, const float *attn, float *out) {
  (void)q0; (void)q1; (void)heads; (void)hd; (void)levels; (void)points; (void)value; (void)height; (void)width; (void)start;
  (void)loc; (void)attn; (void)out;
  __builtin_trap();
}
void es_msda_qs8__avx512(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const signed char *value, float scale,
                         int zero_point, const long *height, const long *width, const long *start, const float *loc, const float *attn,
                         float *out) {
  (void)q0; (void)q1; (void)heads; (void)hd; (void)levels; (void)points; (void)value; (void)scale; (void)zero_point; (void)height;
  (void)width; (void)start; (void)loc; (void)attn; (void)out;
  __builtin_trap();
}
void es_msda_qs8__avx2(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const signed char *value, float scale,
                       int zero_point, const long *height, const long *width, const long *start, const float *loc, const float *attn,
                       float *out) {
  (void)q0; (void)q1; (void)heads; (void)hd; (void)levels; (void)points; (void)value; (void)scale; (void)zero_point; (void)height;
  (void)width; (void)start; (void)loc; (void)attn; (void)out;
  __builtin_trap();
}
void es_msda_f32__avx2(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const float *value,
                       const long *height, const long *width, const long *start, const float *loc, const float *attn, float *out) {
  (void)q0; (void)q1; (void)heads; (void)hd; (void)levels; (void)points; (void)value; (void)height; (void)width; (void)start;
  (void)loc; (void)attn; (void)out;
  __builtin_trap();
}
#endif
