// Window attention of one window and head in float, AVX-512: S = Q·Kᵀ / √d + bias (+ mask), row softmax,
// O = P·V. Contract: include/es_kernels.h. Portable twin: Sources/Kernels/Attention.swift (Attention.window).
#include "es_kernels.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

/// eˣ as Kernels/FastMath.swift `exp` (Cephes polynomial, separate IEEE operations in the same order).
__attribute__((target("avx512f")))
// The target attribute matters at -O0, where this is not inlined: without it the function takes its
// __m512 argument by the non-AVX-512 ABI (in memory) while its avx512f caller passes it in a register;
// measured: a debug test run crashed here (SIGSEGV on an aligned load) on a Dispatch worker.
__attribute__((target("avx512f")))
static inline __m512 es_exp_avx512(__m512 v) {
  const __m512 x = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
  const __m512 magic = _mm512_set1_ps(12582912.0f);
  const __m512 n = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), magic), magic);
  const __m512 r = _mm512_add_ps(_mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f))),
                                 _mm512_mul_ps(n, _mm512_set1_ps(2.12194440e-4f)));
#define ES_STEP(c) p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(c))
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  ES_STEP(1.3981999507e-3f); ES_STEP(8.3334519073e-3f); ES_STEP(4.1665795894e-2f); ES_STEP(1.6666665459e-1f);
  ES_STEP(5.0000001201e-1f);
#undef ES_STEP
  const __m512 y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r), _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(_mm512_castps_si512(_mm512_add_ps(n, _mm512_set1_ps(12582912.0f + 127.0f))), 23);
  return _mm512_mul_ps(y, _mm512_castsi512_ps(bits));
}

static inline __mmask16 es_tail(size_t count) { return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1); }

__attribute__((target("avx512f")))
void es_window_attention_f32__avx512f(size_t n, size_t hd, const float *const *q, const float *const *k,
                                      const float *const *v, const float *bias, const float *mask, float sqrt_d,
                                      float *const *out, float *scratch) {
  const size_t np = (n + 15) / 16 * 16;
  float *kt = scratch, *s = scratch + hd * np;            // kᵀ: hd x np (zero beyond n); s: 4 x np
  for (size_t d = 0; d < hd; d++) {
    for (size_t j = 0; j < n; j++) kt[d * np + j] = k[j][d];
    for (size_t j = n; j < np; j++) kt[d * np + j] = 0.0f;
  }
  const __m512 div = _mm512_set1_ps(sqrt_d), ninf = _mm512_set1_ps(-INFINITY);
  size_t rows[4];
  size_t i = 0;
  while (i < n) {
    // The next (up to) 4 query slots with an output.
    size_t m = 0;
    for (; i < n && m < 4; i++) if (out[i]) rows[m++] = i;
    if (m == 0) break;
    const float *qr[4];
    for (size_t r = 0; r < 4; r++) qr[r] = q[rows[r < m ? r : 0]];
    // S rows: 4 rows x 4 column vectors per pass.
    for (size_t j0 = 0; j0 < np; j0 += 64) {
      const size_t nv = (np - j0) / 16 < 4 ? (np - j0) / 16 : 4;
      __m512 acc[4][4];
      for (size_t r = 0; r < 4; r++) for (size_t c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
      for (size_t d = 0; d < hd; d++) {
        const float *kd = kt + d * np + j0;
        __m512 kv[4];
        for (size_t c = 0; c < nv; c++) kv[c] = _mm512_loadu_ps(kd + 16 * c);
        for (size_t r = 0; r < 4; r++) {
          const __m512 x = _mm512_set1_ps(qr[r][d]);
          for (size_t c = 0; c < nv; c++) acc[r][c] = _mm512_fmadd_ps(x, kv[c], acc[r][c]);
        }
      }
      for (size_t r = 0; r < m; r++) {
        const float *br = bias + rows[r] * n, *mr = mask ? mask + rows[r] * n : 0;
        for (size_t c = 0; c < nv; c++) {
          const size_t j = j0 + 16 * c;
          const __mmask16 t = es_tail(n > j ? n - j : 0);
          __m512 x = _mm512_add_ps(_mm512_div_ps(acc[r][c], div), _mm512_maskz_loadu_ps(t, br + j));
          if (mr) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(t, mr + j));
          _mm512_storeu_ps(s + r * np + j, _mm512_mask_blend_ps(t, ninf, x));
        }
      }
    }
    // Softmax per row (padding columns are −inf: exp gives 0).
    for (size_t r = 0; r < m; r++) {
      float *sr = s + r * np;
      __m512 mx = ninf;
      for (size_t j = 0; j < np; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(sr + j));
      const __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
      __m512 sum = _mm512_setzero_ps();
      for (size_t j = 0; j < np; j += 16) {
        const __m512 e = _mm512_maskz_mov_ps(es_tail(n > j ? n - j : 0), es_exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(sr + j), mv)));
        _mm512_storeu_ps(sr + j, e);
        sum = _mm512_add_ps(sum, e);
      }
      const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
      for (size_t j = 0; j < np; j += 16) _mm512_storeu_ps(sr + j, _mm512_mul_ps(_mm512_loadu_ps(sr + j), inv));
    }
    // O rows: 4 rows x up to 4 vectors of the head dimension per pass.
    for (size_t d0 = 0; d0 < hd; d0 += 64) {
      const size_t left = hd - d0, nv = (left + 15) / 16 < 4 ? (left + 15) / 16 : 4;
      __m512 acc[4][4];
      __mmask16 tm[4];
      for (size_t c = 0; c < 4; c++) tm[c] = es_tail(left > 16 * c ? left - 16 * c : 0);
      for (size_t r = 0; r < 4; r++) for (size_t c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
      for (size_t j = 0; j < n; j++) {
        const float *vj = v[j] + d0;
        __m512 vv[4];
        for (size_t c = 0; c < nv; c++) vv[c] = _mm512_maskz_loadu_ps(tm[c], vj + 16 * c);
        for (size_t r = 0; r < 4; r++) {
          const __m512 p = _mm512_set1_ps(s[r * np + j]);
          for (size_t c = 0; c < nv; c++) acc[r][c] = _mm512_fmadd_ps(p, vv[c], acc[r][c]);
        }
      }
      for (size_t r = 0; r < m; r++) {
        for (size_t c = 0; c < nv; c++) _mm512_mask_storeu_ps(out[rows[r]] + d0 + 16 * c, tm[c], acc[r][c]);
      }
    }
  }
}
#else
void es_window_attention_f32__avx512f(size_t n, size_t hd, const float *const *q, const float *const *k,
                                      const float *const *v, const float *bias, const float *mask, float sqrt_d,
                                      float *const *out, float *scratch) {
  (void)n; (void)hd; (void)q; (void)k; (void)v; (void)bias; (void)mask; (void)sqrt_d; (void)out; (void)scratch;
  __builtin_trap();
}
#endif
