// Float attention for x86-64 AVX2+FMA (Swin windows of any size, DETR): the arm64 float kernel of
// attention_neon_body.h with 8-lane vectors (two per 16-key block instead of four), the same operations
// per lane in the same order, so the same bits (the softmax's 16 lanes folded 8 + 8, then as the NEON
// code folds its 4-lane halves). The int8 window attention stays on the shared source (attention_x86.c).
// Contract: include/es_kernels.h.
#include "es_kernels.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
/// eˣ as Kernels/FastMath.swift `exp` (Cephes polynomial, separate IEEE operations in the same order).
static inline __m256 es_exp_avx2(__m256 v) {
  const __m256 x = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
  const __m256 magic = _mm256_set1_ps(12582912.0f);
  const __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), magic), magic);
  const __m256 r = _mm256_add_ps(_mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f))), _mm256_mul_ps(n, _mm256_set1_ps(2.12194440e-4f)));
#define ES_STEP(c) p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(c))
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  ES_STEP(1.3981999507e-3f); ES_STEP(8.3334519073e-3f); ES_STEP(4.1665795894e-2f); ES_STEP(1.6666665459e-1f);
  ES_STEP(5.0000001201e-1f);
#undef ES_STEP
  const __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, r), r), r), _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_castps_si256(_mm256_add_ps(n, _mm256_set1_ps(12582912.0f + 127.0f))), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}

/// exp(t), or 0 where t < -87 (Attention.softmaxRow).
static inline __m256 es_exp_floor_avx2(__m256 t) {
  return _mm256_blendv_ps(_mm256_setzero_ps(), es_exp_avx2(t), _mm256_cmp_ps(t, _mm256_set1_ps(-87.0f), _CMP_GE_OQ));
}

/// Rows of q, k, v or out: through row pointers (a window's slots; a NULL out row is not computed) or
/// `ld` floats apart from `base`.
typedef struct { const float *const *rows; const float *base; size_t ld; } es_rows_avx2;
static inline const float *es_row_avx2(es_rows_avx2 r, size_t i) { return r.rows ? r.rows[i] : r.base + i * r.ld; }

/// Up to 16 floats from p (count of them; the rest `fill`) as 2 vectors.
static inline void es_load16_avx2(const float *p, size_t count, float fill, __m256 v[2]) {
  if (count >= 16) {
    v[0] = _mm256_loadu_ps(p); v[1] = _mm256_loadu_ps(p + 8);
    return;
  }
  float t[16];
  for (size_t i = 0; i < 16; i++) t[i] = i < count ? p[i] : fill;
  v[0] = _mm256_loadu_ps(t); v[1] = _mm256_loadu_ps(t + 8);
}

/// softmax(q·kᵀ · scale + bias (+ mask))·v for nq query rows against nk keys (any head dimension), 4 rows at a
/// time; scratch: kᵀ (hd x np, np = nk rounded up to 16) then 4 score rows of np.
static void es_attention_rows_avx2(size_t nq, size_t nk, size_t hd, es_rows_avx2 q, es_rows_avx2 k, es_rows_avx2 v,
                                   const float *bias, const float *mask, float scale, float *const *out_rows, float *out_base,
                                   size_t out_ld, float *scratch) {
  const size_t np = (nk + 15) / 16 * 16;
  float *kt = scratch, *s = scratch + hd * np;
  for (size_t j = 0; j < nk; j++) { const float *kj = es_row_avx2(k, j); for (size_t d = 0; d < hd; d++) kt[d * np + j] = kj[d]; }
  for (size_t d = 0; d < hd; d++) for (size_t j = nk; j < np; j++) kt[d * np + j] = 0.0f;
  const __m256 sv = _mm256_set1_ps(scale);
  size_t rows[4], i = 0;
  while (i < nq) {
    size_t m = 0;
    if (out_rows) { for (; i < nq && m < 4; i++) if (out_rows[i]) rows[m++] = i; }
    else for (; i < nq && m < 4; i++) rows[m++] = i;
    if (m == 0) break;
    const float *qr[4];
    for (size_t r = 0; r < 4; r++) qr[r] = es_row_avx2(q, rows[r < m ? r : 0]);
    for (size_t j0 = 0; j0 < np; j0 += 16) {
      __m256 a[4][2];
#pragma clang loop unroll(full)
      for (size_t r = 0; r < 4; r++) { a[r][0] = _mm256_setzero_ps(); a[r][1] = _mm256_setzero_ps(); }
      for (size_t d = 0; d < hd; d++) {
        const float *kd = kt + d * np + j0;
        const __m256 k0 = _mm256_loadu_ps(kd), k1 = _mm256_loadu_ps(kd + 8);
#pragma clang loop unroll(full)
        for (size_t r = 0; r < 4; r++) {
          const __m256 x = _mm256_set1_ps(qr[r][d]);
          a[r][0] = _mm256_fmadd_ps(x, k0, a[r][0]); a[r][1] = _mm256_fmadd_ps(x, k1, a[r][1]);
        }
      }
      const size_t left = nk - j0 < 16 ? nk - j0 : 16;
      for (size_t r = 0; r < m; r++) {
        __m256 b[2], mk[2];
        if (bias) es_load16_avx2(bias + rows[r] * nk + j0, left, 0.0f, b);
        if (mask) es_load16_avx2(mask + rows[r] * nk + j0, left, 0.0f, mk);
        float *dst = s + r * np + j0;
#pragma clang loop unroll(full)
        for (size_t c = 0; c < 2; c++) {
          __m256 x = _mm256_mul_ps(a[r][c], sv);
          if (bias) x = _mm256_add_ps(x, b[c]);
          if (mask) x = _mm256_add_ps(x, mk[c]);
          _mm256_storeu_ps(dst + 8 * c, x);
        }
        for (size_t j = left; j < 16; j++) dst[j] = -INFINITY;
      }
    }
    for (size_t r = 0; r < m; r++) {
      float *sr = s + r * np;
      __m256 mx = _mm256_set1_ps(-INFINITY);
      for (size_t j = 0; j < np; j += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(sr + j));
      __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
      m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
      const __m256 mv = _mm256_set1_ps(_mm_cvtss_f32(_mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1))));
      __m256 l0 = _mm256_setzero_ps(), l1 = l0;   // lanes 0-7 and 8-15 of j mod 16
      for (size_t j = 0; j < np; j += 16) {
        const __m256 e0 = es_exp_floor_avx2(_mm256_sub_ps(_mm256_loadu_ps(sr + j), mv));
        const __m256 e1 = es_exp_floor_avx2(_mm256_sub_ps(_mm256_loadu_ps(sr + j + 8), mv));
        _mm256_storeu_ps(sr + j, e0); _mm256_storeu_ps(sr + j + 8, e1);
        l0 = _mm256_add_ps(l0, e0); l1 = _mm256_add_ps(l1, e1);
      }
      // Folded by halves as softmaxRow: + 8, + 4, then lanes (0 + 2) + (1 + 3).
      const __m256 s8 = _mm256_add_ps(l0, l1);
      const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
      float f[4];
      _mm_storeu_ps(f, s4);
      const float total = (f[0] + f[2]) + (f[1] + f[3]);
      const __m256 inv = _mm256_set1_ps(1.0f / total);
      for (size_t j = 0; j < np; j += 8) _mm256_storeu_ps(sr + j, _mm256_mul_ps(_mm256_loadu_ps(sr + j), inv));
    }
    for (size_t d0 = 0; d0 < hd; d0 += 16) {
      const size_t w = hd - d0 < 16 ? hd - d0 : 16, wv = w / 8;    // whole vectors; the rest of w below, by fmaf
      __m256 o[4][2];
#pragma clang loop unroll(full)
      for (size_t r = 0; r < 4; r++) { o[r][0] = _mm256_setzero_ps(); o[r][1] = _mm256_setzero_ps(); }
      float ot[4][7] = {{0}};
      if (wv == 2) {
        for (size_t j = 0; j < nk; j++) {
          const float *vj = es_row_avx2(v, j) + d0;
          const __m256 v0 = _mm256_loadu_ps(vj), v1 = _mm256_loadu_ps(vj + 8);
#pragma clang loop unroll(full)
          for (size_t r = 0; r < 4; r++) {
            const __m256 p = _mm256_set1_ps(s[r * np + j]);
            o[r][0] = _mm256_fmadd_ps(p, v0, o[r][0]); o[r][1] = _mm256_fmadd_ps(p, v1, o[r][1]);
          }
        }
      } else {
        for (size_t j = 0; j < nk; j++) {
          const float *vj = es_row_avx2(v, j) + d0;
          for (size_t r = 0; r < 4; r++) {
            const float pj = s[r * np + j];
            const __m256 p = _mm256_set1_ps(pj);
            for (size_t c = 0; c < wv; c++) o[r][c] = _mm256_fmadd_ps(p, _mm256_loadu_ps(vj + 8 * c), o[r][c]);
            for (size_t t = 8 * wv; t < w; t++) ot[r][t - 8 * wv] = fmaf(pj, vj[t], ot[r][t - 8 * wv]);
          }
        }
      }
      for (size_t r = 0; r < m; r++) {
        float *dst = (out_rows ? out_rows[rows[r]] : out_base + rows[r] * out_ld) + d0;
        for (size_t c = 0; c < wv; c++) _mm256_storeu_ps(dst + 8 * c, o[r][c]);
        for (size_t t = 8 * wv; t < w; t++) dst[t] = ot[r][t - 8 * wv];
      }
    }
  }
}

void es_window_attention_f32__avx2(size_t n, size_t hd, const float *const *q, const float *const *k, const float *const *v,
                                   const float *bias, const float *mask, float sqrt_d, float *const *out, float *scratch) {
  const es_rows_avx2 qr = {q, 0, 0}, kr = {k, 0, 0}, vr = {v, 0, 0};
  es_attention_rows_avx2(n, n, hd, qr, kr, vr, bias, mask, 1.0f / sqrt_d, out, 0, 0, scratch);
}

void es_dense_attention_f32__avx2(size_t nq, size_t nk, size_t hd, const float *q, const float *k, const float *v, size_t ld,
                                  float scale, const float *mask, float *out, float *scratch) {
  const es_rows_avx2 qr = {0, q, ld}, kr = {0, k, ld}, vr = {0, v, ld};
  es_attention_rows_avx2(nq, nk, hd, qr, kr, vr, 0, mask, scale, 0, out, ld, scratch);
}
#pragma clang attribute pop
#else
void es_window_attention_f32__avx2(size_t n, size_t hd, const float *const *q, const float *const *k, const float *const *v,
                                   const float *bias, const float *mask, float sqrt_d, float *const *out, float *scratch) {
  (void)n; (void)hd; (void)q; (void)k; (void)v; (void)bias; (void)mask; (void)sqrt_d; (void)out; (void)scratch;
  __builtin_trap();
}
void es_dense_attention_f32__avx2(size_t nq, size_t nk, size_t hd, const float *q, const float *k, const float *v, size_t ld,
                                  float scale, const float *mask, float *out, float *scratch) {
  (void)nq; (void)nk; (void)hd; (void)q; (void)k; (void)v; (void)ld; (void)scale; (void)mask; (void)out; (void)scratch;
  __builtin_trap();
}
#endif
