// The subset of NEON intrinsics that the arm64 attention and LayerNorm kernels use (attention_neon_body.h,
// norms_neon_body.h), defined
// over SSE4.1 and FMA3 on x86-64, so that the same kernel source runs on AVX2 machines with the same
// bits: every float operation is the same single IEEE operation on the same lanes (vfmaq_f32 is one
// fused multiply-add either way), integer sums are exact. Only where the arm64 code relies on it:
// narrowing (vmovn_*) of values already clamped into range packs with saturation (equal results), and
// vcvtnq_s32_f32 is vcvtps2dq under the default rounding (nearest, ties to even) on in-range values.
// Include only on x86-64, inside a `#pragma clang attribute push` with target("avx2,fma").
#ifndef ES_NEON_SSE_H
#define ES_NEON_SSE_H
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

typedef __m128 float32x4_t;
typedef __m128 uint32x4_t;     // comparison masks, only fed to vbslq_f32
typedef __m128i int32x4_t;
typedef __m128i int16x8_t;
typedef __m128i int16x4_t;     // the low 64 bits
typedef __m128i int8x16_t;
typedef __m128i int8x8_t;      // the low 64 bits
typedef __m128i int32x2_t;     // the low 64 bits

static inline float32x4_t vdupq_n_f32(float x) { return _mm_set1_ps(x); }
static inline float32x4_t vld1q_f32(const float *p) { return _mm_loadu_ps(p); }
static inline void vst1q_f32(float *p, float32x4_t v) { _mm_storeu_ps(p, v); }
static inline float32x4_t vaddq_f32(float32x4_t a, float32x4_t b) { return _mm_add_ps(a, b); }
static inline float32x4_t vsubq_f32(float32x4_t a, float32x4_t b) { return _mm_sub_ps(a, b); }
static inline float32x4_t vmulq_f32(float32x4_t a, float32x4_t b) { return _mm_mul_ps(a, b); }
static inline float32x4_t vfmaq_f32(float32x4_t a, float32x4_t b, float32x4_t c) { return _mm_fmadd_ps(b, c, a); }
static inline float32x4_t vmaxq_f32(float32x4_t a, float32x4_t b) { return _mm_max_ps(a, b); }
static inline float32x4_t vminq_f32(float32x4_t a, float32x4_t b) { return _mm_min_ps(a, b); }
static inline float32x4_t vabsq_f32(float32x4_t a) { return _mm_andnot_ps(_mm_set1_ps(-0.0f), a); }
static inline float vmaxvq_f32(float32x4_t a) {
  const __m128 m = _mm_max_ps(a, _mm_movehl_ps(a, a));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
#define vgetq_lane_f32(v, lane) _mm_cvtss_f32(_mm_shuffle_ps((v), (v), (lane)))
static inline uint32x4_t vcgeq_f32(float32x4_t a, float32x4_t b) { return _mm_cmpge_ps(a, b); }
static inline float32x4_t vbslq_f32(uint32x4_t m, float32x4_t a, float32x4_t b) { return _mm_blendv_ps(b, a, m); }
static inline int32x4_t vreinterpretq_s32_f32(float32x4_t a) { return _mm_castps_si128(a); }
static inline float32x4_t vreinterpretq_f32_s32(int32x4_t a) { return _mm_castsi128_ps(a); }
#define vshlq_n_s32(v, n) _mm_slli_epi32((v), (n))
static inline float32x4_t vcvtq_f32_s32(int32x4_t a) { return _mm_cvtepi32_ps(a); }
static inline int32x4_t vcvtnq_s32_f32(float32x4_t a) { return _mm_cvtps_epi32(a); }
static inline int32x4_t vdupq_n_s32(int x) { return _mm_set1_epi32(x); }
static inline int32x4_t vld1q_s32(const int *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline int32x4_t vaddq_s32(int32x4_t a, int32x4_t b) { return _mm_add_epi32(a, b); }
static inline int32x4_t vsubq_s32(int32x4_t a, int32x4_t b) { return _mm_sub_epi32(a, b); }
static inline int32x4_t vminq_s32(int32x4_t a, int32x4_t b) { return _mm_min_epi32(a, b); }
static inline int32x4_t vmaxq_s32(int32x4_t a, int32x4_t b) { return _mm_max_epi32(a, b); }
static inline int16x4_t vmovn_s32(int32x4_t a) { return _mm_packs_epi32(a, a); }
static inline int8x8_t vmovn_s16(int16x8_t a) { return _mm_packs_epi16(a, a); }
static inline int16x8_t vcombine_s16(int16x4_t lo, int16x4_t hi) { return _mm_unpacklo_epi64(lo, hi); }
static inline int8x16_t vcombine_s8(int8x8_t lo, int8x8_t hi) { return _mm_unpacklo_epi64(lo, hi); }
static inline int16x4_t vdup_n_s16(short x) { return _mm_set1_epi16(x); }
static inline int8x16_t vld1q_s8(const signed char *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline void vst1q_s8(signed char *p, int8x16_t v) { _mm_storeu_si128((__m128i *)p, v); }
static inline int32x2_t vreinterpret_s32_s8(int8x8_t a) { return a; }
#define vst1_lane_s32(p, v, lane) do { const int es_l_ = _mm_cvtsi128_si32(_mm_srli_si128((v), 4 * (lane))); memcpy((p), &es_l_, 4); } while (0)
typedef __m128d float64x2_t;
typedef __m128 float32x2_t;     // the low 64 bits
static inline float64x2_t vdupq_n_f64(double x) { return _mm_set1_pd(x); }
static inline float64x2_t vaddq_f64(float64x2_t a, float64x2_t b) { return _mm_add_pd(a, b); }
static inline float64x2_t vsubq_f64(float64x2_t a, float64x2_t b) { return _mm_sub_pd(a, b); }
static inline float64x2_t vmulq_f64(float64x2_t a, float64x2_t b) { return _mm_mul_pd(a, b); }
static inline void vst1q_f64(double *p, float64x2_t v) { _mm_storeu_pd(p, v); }
static inline float32x2_t vget_low_f32(float32x4_t a) { return a; }
static inline float64x2_t vcvt_f64_f32(float32x2_t a) { return _mm_cvtps_pd(a); }
static inline float64x2_t vcvt_high_f64_f32(float32x4_t a) { return _mm_cvtps_pd(_mm_movehl_ps(a, a)); }
/// sdot by element: acc[i] += Σ_t a[4i + t] · b[4·lane + t] (exact: int8 products widened to int16 pairs).
#define vdotq_laneq_s32(acc, a, b, lane) es_sdot_lane_sse((acc), (a), _mm_shuffle_epi32((b), (lane) * 0x55))
static inline int32x4_t es_sdot_lane_sse(int32x4_t acc, int8x16_t a, __m128i bq) {
  const __m128i b16 = _mm_cvtepi8_epi16(bq);
  const __m128i lo = _mm_madd_epi16(_mm_cvtepi8_epi16(a), b16), hi = _mm_madd_epi16(_mm_cvtepi8_epi16(_mm_srli_si128(a, 8)), b16);
  return _mm_add_epi32(acc, _mm_hadd_epi32(lo, hi));
}
#endif
