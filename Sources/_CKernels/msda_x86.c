// Mask2Former's multi-scale deformable attention sampling, x86-64 AVX2+FMA: the definition and its contract are
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
typedef struct { const float *c[4]; float w[4]; float a; } es_msda_sample;

__attribute__((target("avx2,fma")))
void es_msda_f32__avx2(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const float *value,
                       const long *height, const long *width, const long *start, const float *loc, const float *attn, float *out) {
  const size_t ld = heads * hd, n = levels * points;
  es_msda_sample s[64];
  const size_t chunk = n < 64 ? n : 64;
  for (size_t q = q0; q < q1; q++) {
    for (size_t m = 0; m < heads; m++) {
      float *o = out + q * ld + m * hd;
      for (size_t c = 0; c < hd; c++) o[c] = 0.0f;
      for (size_t first = 0; first < n; first += chunk) {
        const size_t count = n - first < chunk ? n - first : chunk;
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
          const float *base = value + (size_t)start[l] * ld + m * hd;
          for (int cy = 0; cy < 2; cy++) {
            for (int cx = 0; cx < 2; cx++) {
              const long yy = y0 + cy, xx = x0 + cx;
              s[k].c[2 * cy + cx] = yy >= 0 && yy < h && xx >= 0 && xx < w ? base + (size_t)(yy * w + xx) * ld : 0;
            }
          }
        }
        size_t c = 0;
        for (; c + 8 <= hd; c += 8) {
          __m256 acc = _mm256_loadu_ps(o + c);
          for (size_t k = 0; k < count; k++) {
            const es_msda_sample *t = &s[k];
            const __m256 z = _mm256_setzero_ps();
            __m256 v = _mm256_mul_ps(t->c[0] ? _mm256_loadu_ps(t->c[0] + c) : z, _mm256_set1_ps(t->w[0]));
            v = _mm256_fmadd_ps(t->c[1] ? _mm256_loadu_ps(t->c[1] + c) : z, _mm256_set1_ps(t->w[1]), v);
            v = _mm256_fmadd_ps(t->c[2] ? _mm256_loadu_ps(t->c[2] + c) : z, _mm256_set1_ps(t->w[2]), v);
            v = _mm256_fmadd_ps(t->c[3] ? _mm256_loadu_ps(t->c[3] + c) : z, _mm256_set1_ps(t->w[3]), v);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(t->a), v));
          }
          _mm256_storeu_ps(o + c, acc);
        }
        for (; c < hd; c++) {
          float acc = o[c];
          for (size_t k = 0; k < count; k++) {
            const es_msda_sample *t = &s[k];
            float v = (t->c[0] ? t->c[0][c] : 0.0f) * t->w[0];
            v = fmaf(t->c[1] ? t->c[1][c] : 0.0f, t->w[1], v);
            v = fmaf(t->c[2] ? t->c[2][c] : 0.0f, t->w[2], v);
            v = fmaf(t->c[3] ? t->c[3][c] : 0.0f, t->w[3], v);
            acc = acc + t->a * v;
          }
          o[c] = acc;
        }
      }
    }
  }
}
#else
void es_msda_f32__avx2(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const float *value,
                       const long *height, const long *width, const long *start, const float *loc, const float *attn, float *out) {
  (void)q0; (void)q1; (void)heads; (void)hd; (void)levels; (void)points; (void)value; (void)height; (void)width; (void)start;
  (void)loc; (void)attn; (void)out;
  __builtin_trap();
}
#endif
