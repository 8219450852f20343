// The arm64 LayerNorm and quantize kernels' source, included by norms_arm.c with <arm_neon.h> (names __neon)
// and by norms_x86.c with neon_sse.h (names __avx2): one source, the same bits on both (the definitions are
// Kernels/Norms.swift's and QuantParams.quantize). Needs ES_NEON_NAME(base) defined by the includer, and
// contraction off.
#include <math.h>

/// Norms.sumDouble: Σ (x - minus) or Σ (x - minus)² over 16 lanes (i mod 16), then combine16.
static inline double es_sum16_neon(const float *x, size_t n, double minus, int squares) {
  const float64x2_t mv = vdupq_n_f64(minus);
  float64x2_t acc[8];
  for (int l = 0; l < 8; l++) acc[l] = vdupq_n_f64(0.0);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
#pragma clang loop unroll(full)
    for (int h = 0; h < 4; h++) {
      const float32x4_t v = vld1q_f32(x + i + 4 * h);
      float64x2_t a = vsubq_f64(vcvt_f64_f32(vget_low_f32(v)), mv), b = vsubq_f64(vcvt_high_f64_f32(v), mv);
      if (squares) { a = vmulq_f64(a, a); b = vmulq_f64(b, b); }
      acc[2 * h] = vaddq_f64(acc[2 * h], a);
      acc[2 * h + 1] = vaddq_f64(acc[2 * h + 1], b);
    }
  }
  double l[16];
  for (int h = 0; h < 8; h++) vst1q_f64(l + 2 * h, acc[h]);
  for (size_t j = 0; i < n; i++, j++) {
    const double d = (double)x[i] - minus;
    l[j] += squares ? d * d : d;
  }
  for (int j = 0; j < 8; j++) l[j] += l[j + 8];
  for (int j = 0; j < 4; j++) l[j] += l[j + 4];
  return (l[0] + l[2]) + (l[1] + l[3]);
}

/// Mean and 1/std of one row as Norms.layerNormRow computes them.
static inline void es_layernorm_stats_neon(const float *x, size_t n, float eps, float *m, float *rstd) {
  const double mean = es_sum16_neon(x, n, 0.0, 0) / (double)n;
  const double sq = es_sum16_neon(x, n, mean, 1);
  *rstd = (float)(1.0 / sqrt(sq / (double)n + (double)eps));
  *m = (float)mean;
}

static inline float32x4_t es_layernorm4_neon(float32x4_t v, const float *gamma, const float *beta, float32x4_t m, float32x4_t r) {
  return vaddq_f32(vmulq_f32(vmulq_f32(vsubq_f32(v, m), r), vld1q_f32(gamma)), vld1q_f32(beta));
}

static inline float es_layernorm1(float v, float gamma, float beta, float m, float r) { return (v - m) * r * gamma + beta; }

void ES_NEON_NAME(es_layernorm_f32)(size_t n, const float *x, const float *gamma, const float *beta, float eps, float *y) {
  float m, r;
  es_layernorm_stats_neon(x, n, eps, &m, &r);
  const float32x4_t mv = vdupq_n_f32(m), rv = vdupq_n_f32(r);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, es_layernorm4_neon(vld1q_f32(x + i), gamma + i, beta + i, mv, rv));
  for (; i < n; i++) y[i] = es_layernorm1(x[i], gamma[i], beta[i], m, r);
}

/// QuantParams.quantize of 4 values: clamp(v * inv) to [lo, hi] = [-128 - zp, 127 - zp], round half to even, + zp.
static inline int32x4_t es_quantize4_neon(float32x4_t v, float32x4_t inv, float32x4_t lo, float32x4_t hi, int32x4_t z) {
  return vaddq_s32(vcvtnq_s32_f32(vminq_f32(vmaxq_f32(vmulq_f32(v, inv), lo), hi)), z);
}

static inline signed char es_quantize1(float v, float inv, float lo, float hi, int zp) {
  float t = v * inv;
  t = t > lo ? t : lo;
  t = t < hi ? t : hi;
  return (signed char)((int)nearbyintf(t) + zp);
}

/// 4 int32 values already in [-128, 127] to int8 at q.
static inline void es_store4_s8(int32x4_t v, signed char *q) {
  const int8x8_t b = vmovn_s16(vcombine_s16(vmovn_s32(v), vdup_n_s16(0)));
  vst1_lane_s32((int32_t *)(void *)q, vreinterpret_s32_s8(b), 0);
}

void ES_NEON_NAME(es_layernorm_qs8)(size_t n, const float *x, const float *gamma, const float *beta, float eps, float out_scale, int zp,
                            signed char *q) {
  float m, r;
  es_layernorm_stats_neon(x, n, eps, &m, &r);
  const float inv = 1.0f / out_scale, lo = (float)(-128 - zp), hi = (float)(127 - zp);
  const float32x4_t mv = vdupq_n_f32(m), rv = vdupq_n_f32(r), iv = vdupq_n_f32(inv), lv = vdupq_n_f32(lo), hv = vdupq_n_f32(hi);
  const int32x4_t z = vdupq_n_s32(zp);
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    es_store4_s8(es_quantize4_neon(es_layernorm4_neon(vld1q_f32(x + i), gamma + i, beta + i, mv, rv), iv, lv, hv, z), q + i);
  for (; i < n; i++) q[i] = es_quantize1(es_layernorm1(x[i], gamma[i], beta[i], m, r), inv, lo, hi, zp);
}

void ES_NEON_NAME(es_quantize_qs8)(size_t n, const float *x, float scale, int zp, signed char *q) {
  const float inv = 1.0f / scale, lo = (float)(-128 - zp), hi = (float)(127 - zp);
  const float32x4_t iv = vdupq_n_f32(inv), lv = vdupq_n_f32(lo), hv = vdupq_n_f32(hi);
  const int32x4_t z = vdupq_n_s32(zp);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) es_store4_s8(es_quantize4_neon(vld1q_f32(x + i), iv, lv, hv, z), q + i);
  for (; i < n; i++) q[i] = es_quantize1(x[i], inv, lo, hi, zp);
}
