// LayerNorm and activation quantization in AVX-512, bit for bit the Swift definitions
// (Kernels/Norms.swift `layerNorm`, Kernels/ActivationQuantizer.swift `quantize`): the float64 sums
// keep the 16 lanes and the combining order of `Norms.sumDouble`/`combine16`, every float operation
// is a separate IEEE operation in the Swift order (contraction off). Contract: include/es_kernels.h.
#include "es_kernels.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

/// Lanes 0..7 and 8..15 of Norms.sumDouble's accumulators: sum of (x - minus) or its square, then combine16.
__attribute__((target("avx512f")))
static inline double es_sum16_avx512(const float *x, size_t n, double minus, int squares) {
  const __m512d mv = _mm512_set1_pd(minus);
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512d a = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), mv);
    __m512d b = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)), mv);
    if (squares) { a = _mm512_mul_pd(a, a); b = _mm512_mul_pd(b, b); }
    lo = _mm512_add_pd(lo, a);
    hi = _mm512_add_pd(hi, b);
  }
  if (i < n) {  // the tail goes to lanes 0, 1, ... as in the Swift loop
    const size_t t = n - i;
    const __mmask8 ml = (__mmask8)(t >= 8 ? 0xFF : (1u << t) - 1), mh = (__mmask8)(t > 8 ? (1u << (t - 8)) - 1 : 0);
    const __m512 v = _mm512_maskz_loadu_ps((__mmask16)((1u << t) - 1), x + i);
    __m512d a = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), mv);
    __m512d b = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))), mv);
    if (squares) { a = _mm512_mul_pd(a, a); b = _mm512_mul_pd(b, b); }
    lo = _mm512_mask_add_pd(lo, ml, lo, a);
    hi = _mm512_mask_add_pd(hi, mh, hi, b);
  }
  const __m512d s8 = _mm512_add_pd(lo, hi);
  const __m256d s4 = _mm256_add_pd(_mm512_castpd512_pd256(s8), _mm512_extractf64x4_pd(s8, 1));
  double w[4];
  _mm256_storeu_pd(w, s4);
  return (w[0] + w[2]) + (w[1] + w[3]);
}

/// Mean and 1/std of one row as Norms.layerNorm computes them.
__attribute__((target("avx512f")))
static inline void es_layernorm_stats(const float *x, size_t n, float eps, float *m, float *rstd) {
  const double mean = es_sum16_avx512(x, n, 0.0, 0) / (double)n;
  const double sq = es_sum16_avx512(x, n, mean, 1);
  *rstd = (float)(1.0 / sqrt(sq / (double)n + (double)eps));
  *m = (float)mean;
}

__attribute__((target("avx512f")))
static inline __m512 es_layernorm16(const float *x, const float *gamma, const float *beta, __m512 m, __m512 r, __mmask16 k) {
  const __m512 v = _mm512_maskz_loadu_ps(k, x);
  return _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(v, m), r), _mm512_maskz_loadu_ps(k, gamma)), _mm512_maskz_loadu_ps(k, beta));
}

static inline __mmask16 es_mask16(size_t left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1); }

/// quantize(v) as QuantParams.quantize: clamp(v * inv) to [-128 - z, 127 - z], round half to even, + z
/// (inv = 1 / scale, computed once in float).
__attribute__((target("avx512f")))
static inline __m512i es_quantize16(__m512 v, __m512 inv, __m512 lo, __m512 hi, __m512i z) {
  const __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, inv), lo), hi);
  return _mm512_add_epi32(_mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), z);
}

__attribute__((target("avx512f")))
void es_layernorm_f32__avx512f(size_t n, const float *x, const float *gamma, const float *beta, float eps, float *y) {
  float m, r;
  es_layernorm_stats(x, n, eps, &m, &r);
  const __m512 mv = _mm512_set1_ps(m), rv = _mm512_set1_ps(r);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 k = es_mask16(n - i);
    _mm512_mask_storeu_ps(y + i, k, es_layernorm16(x + i, gamma + i, beta + i, mv, rv, k));
  }
}

__attribute__((target("avx512f")))
void es_layernorm_qs8__avx512f(size_t n, const float *x, const float *gamma, const float *beta, float eps, float out_scale, int zp,
                               signed char *q) {
  float m, r;
  es_layernorm_stats(x, n, eps, &m, &r);
  const __m512 mv = _mm512_set1_ps(m), rv = _mm512_set1_ps(r), s = _mm512_set1_ps(1.0f / out_scale);
  const __m512 lo = _mm512_set1_ps((float)(-128 - zp)), hi = _mm512_set1_ps((float)(127 - zp));
  const __m512i z = _mm512_set1_epi32(zp);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 k = es_mask16(n - i);
    _mm512_mask_cvtepi32_storeu_epi8(q + i, k, es_quantize16(es_layernorm16(x + i, gamma + i, beta + i, mv, rv, k), s, lo, hi, z));
  }
}

__attribute__((target("avx512f")))
void es_quantize_qs8__avx512f(size_t n, const float *x, float scale, int zp, signed char *q) {
  const __m512 s = _mm512_set1_ps(1.0f / scale), lo = _mm512_set1_ps((float)(-128 - zp)), hi = _mm512_set1_ps((float)(127 - zp));
  const __m512i z = _mm512_set1_epi32(zp);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 k = es_mask16(n - i);
    _mm512_mask_cvtepi32_storeu_epi8(q + i, k, es_quantize16(_mm512_maskz_loadu_ps(k, x + i), s, lo, hi, z));
  }
}

#else
void es_layernorm_f32__avx512f(size_t n, const float *x, const float *gamma, const float *beta, float eps, float *y) {
  (void)n; (void)x; (void)gamma; (void)beta; (void)eps; (void)y;
  __builtin_trap();
}
void es_layernorm_qs8__avx512f(size_t n, const float *x, const float *gamma, const float *beta, float eps, float out_scale, int zp,
                               signed char *q) {
  (void)n; (void)x; (void)gamma; (void)beta; (void)eps; (void)out_scale; (void)zp; (void)q;
  __builtin_trap();
}
void es_quantize_qs8__avx512f(size_t n, const float *x, float scale, int zp, signed char *q) {
  (void)n; (void)x; (void)scale; (void)zp; (void)q;
  __builtin_trap();
}
#endif

// AVX2 (with FMA3; no FMA is used): the arm64 kernels' source (norms_neon_body.h) over neon_sse.h, the same bits.
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include "neon_sse.h"
#define ES_NEON_NAME(base) base##__avx2
#include "norms_neon_body.h"
#pragma clang attribute pop
#else
void es_layernorm_f32__avx2(size_t n, const float *x, const float *gamma, const float *beta, float eps, float *y) {
  (void)n; (void)x; (void)gamma; (void)beta; (void)eps; (void)y;
  __builtin_trap();
}
void es_layernorm_qs8__avx2(size_t n, const float *x, const float *gamma, const float *beta, float eps, float out_scale, int zp,
                            signed char *q) {
  (void)n; (void)x; (void)gamma; (void)beta; (void)eps; (void)out_scale; (void)zp; (void)q;
  __builtin_trap();
}
void es_quantize_qs8__avx2(size_t n, const float *x, float scale, int zp, signed char *q) {
  (void)n; (void)x; (void)scale; (void)zp; (void)q;
  __builtin_trap();
}
#endif

// GroupNorm's per-channel float64 sums over one map row and its affine pass, AVX-512 and AVX2 (x86 only:
// on arm64 the Swift loops already vectorize with NEON, the baseline; on x86-64 they compile for SSE2, two
// doubles an instruction). Bit for bit Kernels/Norms.swift (`GroupNormStatistics.add`, `applyAffine`):
// vectorized across channels, each channel's sum keeps its pixel order; separate IEEE operations.
#if defined(__x86_64__)
__attribute__((target("avx512f")))
void es_groupnorm_sums__avx512f(size_t pixels, size_t channels, const float *x, const double *minus, double *acc) {
  size_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    __m512d s = _mm512_loadu_pd(acc + c);
    const __m512d m = minus ? _mm512_loadu_pd(minus + c) : _mm512_setzero_pd();
    for (size_t p = 0; p < pixels; p++) {
      const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x + p * channels + c));
      if (minus) {
        const __m512d d = _mm512_sub_pd(v, m);
        s = _mm512_add_pd(s, _mm512_mul_pd(d, d));
      } else {
        s = _mm512_add_pd(s, v);
      }
    }
    _mm512_storeu_pd(acc + c, s);
  }
  for (; c < channels; c++) {
    double s = acc[c];
    for (size_t p = 0; p < pixels; p++) {
      if (minus) { const double d = (double)x[p * channels + c] - minus[c]; s += d * d; }
      else s += (double)x[p * channels + c];
    }
    acc[c] = s;
  }
}

__attribute__((target("avx512f")))
void es_affine_rows__avx512f(size_t pixels, size_t channels, const float *x, const float *scale, const float *shift, int relu, float *y) {
  for (size_t p = 0; p < pixels; p++) {
    const float *row = x + p * channels;
    float *out = y + p * channels;
    for (size_t c = 0; c < channels; c += 16) {
      const __mmask16 k = es_mask16(channels - c);
      __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + c), _mm512_maskz_loadu_ps(k, scale + c)),
                               _mm512_maskz_loadu_ps(k, shift + c));
      if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
      _mm512_mask_storeu_ps(out + c, k, v);
    }
  }
}

__attribute__((target("avx2")))
void es_groupnorm_sums__avx2(size_t pixels, size_t channels, const float *x, const double *minus, double *acc) {
  size_t c = 0;
  for (; c + 4 <= channels; c += 4) {
    __m256d s = _mm256_loadu_pd(acc + c);
    const __m256d m = minus ? _mm256_loadu_pd(minus + c) : _mm256_setzero_pd();
    for (size_t p = 0; p < pixels; p++) {
      const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + p * channels + c));
      if (minus) {
        const __m256d d = _mm256_sub_pd(v, m);
        s = _mm256_add_pd(s, _mm256_mul_pd(d, d));
      } else {
        s = _mm256_add_pd(s, v);
      }
    }
    _mm256_storeu_pd(acc + c, s);
  }
  for (; c < channels; c++) {
    double s = acc[c];
    for (size_t p = 0; p < pixels; p++) {
      if (minus) { const double d = (double)x[p * channels + c] - minus[c]; s += d * d; }
      else s += (double)x[p * channels + c];
    }
    acc[c] = s;
  }
}

__attribute__((target("avx2")))
void es_affine_rows__avx2(size_t pixels, size_t channels, const float *x, const float *scale, const float *shift, int relu, float *y) {
  for (size_t p = 0; p < pixels; p++) {
    const float *row = x + p * channels;
    float *out = y + p * channels;
    size_t c = 0;
    for (; c + 8 <= channels; c += 8) {
      __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(row + c), _mm256_loadu_ps(scale + c)), _mm256_loadu_ps(shift + c));
      if (relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
      _mm256_storeu_ps(out + c, v);
    }
    for (; c < channels; c++) {
      const float v = row[c] * scale[c] + shift[c];
      out[c] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
  }
}
#else
void es_groupnorm_sums__avx512f(size_t pixels, size_t channels, const float *x, const double *minus, double *acc) {
  (void)pixels; (void)channels; (void)x; (void)minus; (void)acc;
  __builtin_trap();
}
void es_affine_rows__avx512f(size_t pixels, size_t channels, const float *x, const float *scale, const float *shift, int relu, float *y) {
  (void)pixels; (void)channels; (void)x; (void)scale; (void)shift; (void)relu; (void)y;
  __builtin_trap();
}
void es_groupnorm_sums__avx2(size_t pixels, size_t channels, const float *x, const double *minus, double *acc) {
  (void)pixels; (void)channels; (void)x; (void)minus; (void)acc;
  __builtin_trap();
}
void es_affine_rows__avx2(size_t pixels, size_t channels, const float *x, const float *scale, const float *shift, int relu, float *y) {
  (void)pixels; (void)channels; (void)x; (void)scale; (void)shift; (void)relu; (void)y;
  __builtin_trap();
}
#endif
