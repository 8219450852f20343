// Window attention of one window and head in float, AVX-512: S = Q·Kᵀ · (1/√d) + bias (+ mask), row softmax,
// O = P·V, with the same bits as the definition in Sources/Kernels/Attention.swift (Attention.window,
// Attention.dense, Attention.softmaxRow): FMA dot products in ascending order, separate IEEE operations
// everywhere else (contraction off). Contract: include/es_kernels.h.
#include "es_kernels.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

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

/// Σ of 16 lanes as Attention.softmaxRow and Attention.windowInt8 add them: halves folded onto each other (8, 4, 2, 1).
__attribute__((target("avx512f")))
static inline float es_fold16(__m512 v) {
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

static inline __mmask16 es_tail(size_t count) { return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1); }

/// The next (up to) 4 query slots from *i on with an output (out[slot] set): their indices in rows[], how
/// many (0 when none is left); *i moves past them.
static inline size_t es_next_rows(size_t n, float *const *out, size_t *i, size_t rows[4]) {
  size_t m = 0;
  for (; *i < n && m < 4; (*i)++) if (out[*i]) rows[m++] = *i;
  return m;
}

/// Rows of q, k, v or out: through row pointers (a window's slots; a NULL out row is not computed) or
/// `ld` floats apart from `base`.
typedef struct { const float *const *rows; const float *base; size_t ld; } es_rows;
static inline const float *es_row(es_rows r, size_t i) { return r.rows ? r.rows[i] : r.base + i * r.ld; }

static void es_attention_rows_f32(size_t nq, size_t nk, size_t hd, es_rows q, es_rows k, es_rows v, const float *bias, const float *mask,
                                  float scale, float *const *out_rows, float *out_base, size_t out_ld, float *scratch);

/// Scores of 4 query rows against 64 keys: a[r][c] lane l = sum_d qr[r][d] * kt[d * ldk + 16c + l] (kt: the keys
/// transposed, one row of ldk floats per head dimension), one FMA per d in ascending d.
__attribute__((target("avx512f"), always_inline))
static inline void es_qk_4x64(const float *const qr[4], const float *kt, size_t ldk, size_t hd, __m512 a[4][4]) {
#pragma clang loop unroll(full)
  for (size_t r = 0; r < 4; r++)
#pragma clang loop unroll(full)
    for (size_t c = 0; c < 4; c++) a[r][c] = _mm512_setzero_ps();
  for (size_t d = 0; d < hd; d++) {
    const float *kd = kt + d * ldk;
    const __m512 k0 = _mm512_loadu_ps(kd), k1 = _mm512_loadu_ps(kd + 16), k2 = _mm512_loadu_ps(kd + 32), k3 = _mm512_loadu_ps(kd + 48);
#pragma clang loop unroll(full)
    for (size_t r = 0; r < 4; r++) {
      const __m512 x = _mm512_set1_ps(qr[r][d]);
      a[r][0] = _mm512_fmadd_ps(x, k0, a[r][0]); a[r][1] = _mm512_fmadd_ps(x, k1, a[r][1]);
      a[r][2] = _mm512_fmadd_ps(x, k2, a[r][2]); a[r][3] = _mm512_fmadd_ps(x, k3, a[r][3]);
    }
  }
}

// The shape every Swin block here has (head dimension 32, window of at most 8x8 tokens), with fixed
// loop bounds so the 16 score and 8 output accumulators stay in registers (the general loop below
// keeps them in stack arrays). Softmax runs on the score registers; scores are scaled by 1/sqrt(d);
// a probability whose exponent argument is below -87 (a
// masked pair: mask -100) is 0 instead of a value near FLT_MIN, whose products with v are denormal
// (measured: the shifted blocks, whose masks make them, ran twice as long as the plain ones).
__attribute__((target("avx512f")))
static void es_window_attention_hd32(size_t n, const float *const *q, const float *const *k, const float *const *v,
                                     const float *bias, const float *mask, float sqrt_d, float *const *out, float *scratch) {
  float *kt = scratch, *pr = scratch + 32 * 64;            // kᵀ: 32 x 64 (zero beyond n); probabilities: 4 x 64
  for (size_t j = 0; j < n; j++) {
    const float *kj = k[j];
    for (size_t d = 0; d < 32; d++) kt[d * 64 + j] = kj[d];
  }
  for (size_t d = 0; d < 32; d++) for (size_t j = n; j < 64; j++) kt[d * 64 + j] = 0.0f;
  const __m512 scale = _mm512_set1_ps(1.0f / sqrt_d), ninf = _mm512_set1_ps(-INFINITY), floor = _mm512_set1_ps(-87.0f);
  __mmask16 tail[4];
  for (size_t c = 0; c < 4; c++) tail[c] = es_tail(n > 16 * c ? n - 16 * c : 0);
  size_t rows[4];
  size_t i = 0;
  while (i < n) {
    const size_t m = es_next_rows(n, out, &i, rows);
    if (m == 0) break;
    const float *qr[4];
    for (size_t r = 0; r < 4; r++) qr[r] = q[rows[r < m ? r : 0]];
    __m512 a[4][4];
    es_qk_4x64(qr, kt, 64, 32, a);
#pragma clang loop unroll(full)
    for (size_t r = 0; r < 4; r++) {
      if (r >= m) continue;
      const float *br = bias + rows[r] * n, *mr = mask ? mask + rows[r] * n : 0;
      __m512 sc[4];
#pragma clang loop unroll(full)
      for (size_t c = 0; c < 4; c++) {
        __m512 x = _mm512_add_ps(_mm512_mul_ps(a[r][c], scale), _mm512_maskz_loadu_ps(tail[c], br + 16 * c));
        if (mr) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(tail[c], mr + 16 * c));
        sc[c] = _mm512_mask_blend_ps(tail[c], ninf, x);
      }
      const __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(sc[0], sc[1]), _mm512_max_ps(sc[2], sc[3]))));
      __m512 sum = _mm512_setzero_ps();
#pragma clang loop unroll(full)
      for (size_t c = 0; c < 4; c++) {
        const __m512 t = _mm512_sub_ps(sc[c], mv);
        sc[c] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, floor, _CMP_GE_OQ), es_exp_avx512(t));
        sum = _mm512_add_ps(sum, sc[c]);
      }
      const __m512 inv = _mm512_set1_ps(1.0f / es_fold16(sum));
#pragma clang loop unroll(full)
      for (size_t c = 0; c < 4; c++) _mm512_storeu_ps(pr + r * 64 + 16 * c, _mm512_mul_ps(sc[c], inv));
    }
    __m512 o[4][2];
#pragma clang loop unroll(full)
    for (size_t r = 0; r < 4; r++) { o[r][0] = _mm512_setzero_ps(); o[r][1] = _mm512_setzero_ps(); }
    for (size_t j = 0; j < n; j++) {
      const __m512 v0 = _mm512_loadu_ps(v[j]), v1 = _mm512_loadu_ps(v[j] + 16);
#pragma clang loop unroll(full)
      for (size_t r = 0; r < 4; r++) {
        const __m512 p = _mm512_set1_ps(pr[r * 64 + j]);
        o[r][0] = _mm512_fmadd_ps(p, v0, o[r][0]); o[r][1] = _mm512_fmadd_ps(p, v1, o[r][1]);
      }
    }
    for (size_t r = 0; r < m; r++) {
      _mm512_storeu_ps(out[rows[r]], o[r][0]);
      _mm512_storeu_ps(out[rows[r]] + 16, o[r][1]);
    }
  }
}

__attribute__((target("avx512f")))
void es_window_attention_f32__avx512f(size_t n, size_t hd, const float *const *q, const float *const *k,
                                      const float *const *v, const float *bias, const float *mask, float sqrt_d,
                                      float *const *out, float *scratch) {
  if (hd == 32 && n <= 64) {
    es_window_attention_hd32(n, q, k, v, bias, mask, sqrt_d, out, scratch);
    return;
  }
  const es_rows qr = {q, 0, 0}, kr = {k, 0, 0}, vr = {v, 0, 0};
  es_attention_rows_f32(n, n, hd, qr, kr, vr, bias, mask, 1.0f / sqrt_d, out, 0, 0, scratch);
}

/// softmax(q·kᵀ · scale + bias (+ mask))·v for nq query rows against nk keys (any head dimension), the
/// scores of 4 rows at a time in scratch: (hd + 4) * roundup(nk, 64) floats. DETR's attention and the
/// windows the register form below does not take (more than 64 tokens: Swin-B's window 12).
__attribute__((target("avx512f")))
static void es_attention_rows_f32(size_t nq, size_t nk, size_t hd, es_rows q, es_rows k, es_rows v, const float *bias, const float *mask,
                                  float scale, float *const *out_rows, float *out_base, size_t out_ld, float *scratch) {
  const size_t np = (nk + 63) / 64 * 64, nd = (hd + 15) / 16;
  float *kt = scratch, *s = scratch + hd * np;            // kᵀ: hd x np (zero beyond nk); scores: 4 x np
  for (size_t j = 0; j < nk; j++) { const float *kj = es_row(k, j); for (size_t d = 0; d < hd; d++) kt[d * np + j] = kj[d]; }
  for (size_t d = 0; d < hd; d++) for (size_t j = nk; j < np; j++) kt[d * np + j] = 0.0f;
  const __m512 sv = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-INFINITY);
  size_t rows[4], i = 0;
  while (i < nq) {
    size_t m = 0;
    if (out_rows) m = es_next_rows(nq, out_rows, &i, rows);
    else for (; i < nq && m < 4; i++) rows[m++] = i;
    if (m == 0) break;
    const float *qr[4];
    for (size_t r = 0; r < 4; r++) qr[r] = es_row(q, rows[r < m ? r : 0]);
    for (size_t j0 = 0; j0 < np; j0 += 64) {
      __m512 a[4][4];
      es_qk_4x64(qr, kt + j0, np, hd, a);
#pragma clang loop unroll(full)
      for (size_t r = 0; r < 4; r++) {
        if (r >= m) continue;
        const float *br = bias ? bias + rows[r] * nk : 0, *mr = mask ? mask + rows[r] * nk : 0;
#pragma clang loop unroll(full)
        for (size_t c = 0; c < 4; c++) {
          const size_t j = j0 + 16 * c;
          const __mmask16 t = es_tail(nk > j ? nk - j : 0);
          __m512 x = _mm512_mul_ps(a[r][c], sv);
          if (br) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(t, br + j));
          if (mr) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(t, mr + j));
          _mm512_storeu_ps(s + r * np + j, _mm512_mask_blend_ps(t, ninf, x));
        }
      }
    }
    for (size_t r = 0; r < m; r++) {
      float *sr = s + r * np;
      __m512 mx = ninf;
      for (size_t j = 0; j < np; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(sr + j));
      const __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
      __m512 sum = _mm512_setzero_ps();
      for (size_t j = 0; j < np; j += 16) {
        const __m512 t = _mm512_sub_ps(_mm512_loadu_ps(sr + j), mv);
        const __m512 e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, _mm512_set1_ps(-87.0f), _CMP_GE_OQ), es_exp_avx512(t));
        _mm512_storeu_ps(sr + j, e);
        sum = _mm512_add_ps(sum, e);
      }
      const __m512 inv = _mm512_set1_ps(1.0f / es_fold16(sum));
      for (size_t j = 0; j < np; j += 16) _mm512_storeu_ps(sr + j, _mm512_mul_ps(_mm512_loadu_ps(sr + j), inv));
    }
    for (size_t d0 = 0; d0 < nd; d0 += 2) {
      // Head dimensions past hd (a tail of 16) are masked; the second vector may be all mask.
      const __mmask16 t0 = es_tail(hd - 16 * d0), t1 = es_tail(hd > 16 * (d0 + 1) ? hd - 16 * (d0 + 1) : 0);
      __m512 o[4][2];
#pragma clang loop unroll(full)
      for (size_t r = 0; r < 4; r++) { o[r][0] = _mm512_setzero_ps(); o[r][1] = _mm512_setzero_ps(); }
      for (size_t j = 0; j < nk; j++) {
        const float *vj = es_row(v, j) + 16 * d0;
        const __m512 v0 = _mm512_maskz_loadu_ps(t0, vj), v1 = _mm512_maskz_loadu_ps(t1, vj + 16);
#pragma clang loop unroll(full)
        for (size_t r = 0; r < 4; r++) {
          const __m512 p = _mm512_set1_ps(s[r * np + j]);
          o[r][0] = _mm512_fmadd_ps(p, v0, o[r][0]); o[r][1] = _mm512_fmadd_ps(p, v1, o[r][1]);
        }
      }
      for (size_t r = 0; r < m; r++) {
        float *dst = (out_rows ? out_rows[rows[r]] : out_base + rows[r] * out_ld) + 16 * d0;
        _mm512_mask_storeu_ps(dst, t0, o[r][0]);
        _mm512_mask_storeu_ps(dst + 16, t1, o[r][1]);
      }
    }
  }
}

/// DETR's attention of one head (contract: include/es_kernels.h).
__attribute__((target("avx512f")))
void es_dense_attention_f32__avx512f(size_t nq, size_t nk, size_t hd, const float *q, const float *k, const float *v, size_t ld,
                                     float scale, const float *mask, float *out, float *scratch) {
  const es_rows qr = {0, q, ld}, kr = {0, k, ld}, vr = {0, v, ld};
  es_attention_rows_f32(nq, nk, hd, qr, kr, vr, 0, mask, scale, 0, out, ld, scratch);
}
// int8 window attention (head dimension 32, up to 64 tokens), VNNI: the definition and its contract are
// Kernels/Attention.swift `windowInt8`; every float step below is the same IEEE operation in the same order.

/// Row of 32 floats to int8 (Attention.symmetricRow) into dst (as unsigned q + 128 if `unsigned_out`):
/// returns the scale m/127; *sum = the sum of the 32 int8 values.
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static inline float es_symmetric_row32(const float *x, signed char *dst, int unsigned_out, int *sum) {
  const __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
  const float m = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
  const __m512 iv = _mm512_set1_ps(m == 0.0f ? 0.0f : 127.0f / m);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  const __m512i qa = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvt_roundps_epi32(_mm512_mul_ps(a, iv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), lo), hi);
  const __m512i qb = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvt_roundps_epi32(_mm512_mul_ps(b, iv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), lo), hi);
  __m128i ba = _mm512_cvtepi32_epi8(qa), bb = _mm512_cvtepi32_epi8(qb);
  if (unsigned_out) { ba = _mm_xor_si128(ba, _mm_set1_epi8((char)0x80)); bb = _mm_xor_si128(bb, _mm_set1_epi8((char)0x80)); }
  _mm_storeu_si128((__m128i *)dst, ba);
  _mm_storeu_si128((__m128i *)(dst + 16), bb);
  if (sum) *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
  return m / 127.0f;
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
void es_window_attention_qs8__avx512vnni(size_t n, const float *const *q, const float *const *k, const float *const *v,
                                         const float *bias, const float *mask, float inv_sqrt_d, float *const *out, void *scratch) {
  unsigned char *base = (unsigned char *)scratch;
  signed char *kp = (signed char *)base;                 // K packed: [8 groups][64 keys][4]
  signed char *vp = (signed char *)(base + 2048);        // V packed: [16 groups of 4 keys][32 d][4]
  unsigned char *qu = base + 4096;                       // q + 128: [64][32]
  float *sq = (float *)(base + 6144), *sk = sq + 64, *sv = sk + 64;
  int *kcol = (int *)(sv + 64);                          // Σ_d k8[j][d]
  unsigned char *p8 = (unsigned char *)(kcol + 64);      // [4][64]
  signed char *v8 = (signed char *)(p8 + 256);           // v rows: [64][32]
  const size_t vg = (n + 3) / 4;
  memset(kp + n * 4, 0, 2048 - n * 4);                   // keys past n in every group (rewritten below for j < n)
  memset(v8 + n * 32, 0, (vg * 4 - n) * 32);
  for (size_t j = 0; j < n; j++) {
    signed char row[32];
    sq[j] = es_symmetric_row32(q[j], (signed char *)(qu + j * 32), 1, 0);
    sk[j] = es_symmetric_row32(k[j], row, 0, &kcol[j]);
    for (size_t g = 0; g < 8; g++) memcpy(kp + (g * 64 + j) * 4, row + 4 * g, 4);
    sv[j] = es_symmetric_row32(v[j], v8 + j * 32, 0, 0);
  }
  for (size_t j = n; j < 64; j++) { sk[j] = 0.0f; sv[j] = 0.0f; kcol[j] = 0; }
  // V interleaved by groups of 4 keys: vp[g][d][t] = v8[4g + t][d].
  for (size_t g = 0; g < vg; g++) {
    for (size_t h = 0; h < 2; h++) {
      const __m128i r0 = _mm_loadu_si128((const __m128i *)(v8 + (4 * g) * 32 + 16 * h)), r1 = _mm_loadu_si128((const __m128i *)(v8 + (4 * g + 1) * 32 + 16 * h));
      const __m128i r2 = _mm_loadu_si128((const __m128i *)(v8 + (4 * g + 2) * 32 + 16 * h)), r3 = _mm_loadu_si128((const __m128i *)(v8 + (4 * g + 3) * 32 + 16 * h));
      const __m128i a0 = _mm_unpacklo_epi8(r0, r1), a1 = _mm_unpackhi_epi8(r0, r1), b0 = _mm_unpacklo_epi8(r2, r3), b1 = _mm_unpackhi_epi8(r2, r3);
      signed char *dst = vp + (g * 32 + 16 * h) * 4;
      _mm_storeu_si128((__m128i *)dst, _mm_unpacklo_epi16(a0, b0));
      _mm_storeu_si128((__m128i *)(dst + 16), _mm_unpackhi_epi16(a0, b0));
      _mm_storeu_si128((__m128i *)(dst + 32), _mm_unpacklo_epi16(a1, b1));
      _mm_storeu_si128((__m128i *)(dst + 48), _mm_unpackhi_epi16(a1, b1));
    }
  }
  __mmask16 tail[4];
  for (size_t c = 0; c < 4; c++) tail[c] = es_tail(n > 16 * c ? n - 16 * c : 0);
  // The slots with an output, then four phases, each a short loop over all of them (one long body per
  // group of 4 rows was measured latency-bound: the softmax's reductions and divisions in a chain, 60 %
  // of the call): scores and their maximum, exponentials with their sum and maximum, the unsigned
  // probabilities, then P·V.
  float *sc = (float *)(v8 + 64 * 32);                   // scores, then e * sv: [64][64]
  unsigned char *pu = (unsigned char *)(sc + 64 * 64);   // p8 rows: [64][64]
  float *rmax = (float *)(pu + 64 * 64), *rtot = rmax + 64, *rmp = rtot + 64;
  size_t act[64], na = 0;
  for (size_t i = 0; i < n; i++) if (out[i]) act[na++] = i;
  for (size_t i = na; i < ((na + 3) & ~(size_t)3); i++) act[i] = act[0];
  const __m512 ninf = _mm512_set1_ps(-INFINITY), floor = _mm512_set1_ps(-87.0f);
  for (size_t a0 = 0; a0 < na; a0 += 4) {
    const size_t m = na - a0 < 4 ? na - a0 : 4;
    const size_t *rows = act + a0;
    const unsigned char *qr[4];
    for (size_t r = 0; r < 4; r++) qr[r] = qu + rows[r] * 32;
    __m512i a[4][4];
#pragma clang loop unroll(full)
    for (size_t r = 0; r < 4; r++)
#pragma clang loop unroll(full)
      for (size_t c = 0; c < 4; c++) a[r][c] = _mm512_setzero_si512();
#pragma clang loop unroll(full)
    for (size_t g = 0; g < 8; g++) {
      const signed char *kg = kp + g * 256;
      const __m512i k0 = _mm512_loadu_si512((const void *)kg), k1 = _mm512_loadu_si512((const void *)(kg + 64));
      const __m512i k2 = _mm512_loadu_si512((const void *)(kg + 128)), k3 = _mm512_loadu_si512((const void *)(kg + 192));
#pragma clang loop unroll(full)
      for (size_t r = 0; r < 4; r++) {
        int w;
        memcpy(&w, qr[r] + 4 * g, 4);
        const __m512i x = _mm512_set1_epi32(w);
        a[r][0] = _mm512_dpbusd_epi32(a[r][0], x, k0); a[r][1] = _mm512_dpbusd_epi32(a[r][1], x, k1);
        a[r][2] = _mm512_dpbusd_epi32(a[r][2], x, k2); a[r][3] = _mm512_dpbusd_epi32(a[r][3], x, k3);
      }
    }
#pragma clang loop unroll(full)
    for (size_t r = 0; r < 4; r++) {
      if (r >= m) continue;
      const float *br = bias + rows[r] * n, *mr = mask ? mask + rows[r] * n : 0;
      const __m512 av = _mm512_set1_ps(sq[rows[r]] * inv_sqrt_d);
      float *srow = sc + (a0 + r) * 64;
      __m512 mx = ninf;
#pragma clang loop unroll(full)
      for (size_t c = 0; c < 4; c++) {
        const __m512i acc = _mm512_sub_epi32(a[r][c], _mm512_slli_epi32(_mm512_loadu_si512((const void *)(kcol + 16 * c)), 7));
        __m512 x = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_mul_ps(av, _mm512_loadu_ps(sk + 16 * c))),
                                 _mm512_maskz_loadu_ps(tail[c], br + 16 * c));
        if (mr) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(tail[c], mr + 16 * c));
        x = _mm512_mask_blend_ps(tail[c], ninf, x);
        _mm512_storeu_ps(srow + 16 * c, x);
        mx = _mm512_max_ps(mx, x);
      }
      rmax[a0 + r] = _mm512_reduce_max_ps(mx);
    }
  }
  for (size_t r = 0; r < na; r++) {
    float *srow = sc + r * 64;
    const __m512 mv = _mm512_set1_ps(rmax[r]);
    __m512 sum = _mm512_setzero_ps(), pmax = _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (size_t c = 0; c < 4; c++) {
      const __m512 t = _mm512_sub_ps(_mm512_loadu_ps(srow + 16 * c), mv);
      const __m512 e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, floor, _CMP_GE_OQ), es_exp_avx512(t));
      sum = _mm512_add_ps(sum, e);
      const __m512 p = _mm512_mul_ps(e, _mm512_loadu_ps(sv + 16 * c));
      _mm512_storeu_ps(srow + 16 * c, p);
      pmax = _mm512_max_ps(pmax, p);
    }
    rtot[r] = es_fold16(sum);
    rmp[r] = _mm512_reduce_max_ps(pmax);
  }
  for (size_t r = 0; r < na; r++) {
    const float mp = rmp[r];
    const __m512 inv = _mm512_set1_ps(mp == 0.0f ? 0.0f : 255.0f / mp);
#pragma clang loop unroll(full)
    for (size_t c = 0; c < 4; c++) {
      __m512i u = _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(sc + r * 64 + 16 * c), inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      u = _mm512_min_epi32(_mm512_max_epi32(u, _mm512_setzero_si512()), _mm512_set1_epi32(255));
      _mm_storeu_si128((__m128i *)(pu + r * 64 + 16 * c), _mm512_cvtepi32_epi8(u));
    }
    rtot[r] = mp / (255.0f * rtot[r]);
  }
  for (size_t a0 = 0; a0 < na; a0 += 4) {
    const size_t m = na - a0 < 4 ? na - a0 : 4;
    __m512i o[4][2];
#pragma clang loop unroll(full)
    for (size_t r = 0; r < 4; r++) { o[r][0] = _mm512_setzero_si512(); o[r][1] = _mm512_setzero_si512(); }
    for (size_t g = 0; g < vg; g++) {
      const __m512i v0 = _mm512_loadu_si512((const void *)(vp + g * 128)), v1 = _mm512_loadu_si512((const void *)(vp + g * 128 + 64));
#pragma clang loop unroll(full)
      for (size_t r = 0; r < 4; r++) {
        int w;
        memcpy(&w, pu + (a0 + (r < m ? r : 0)) * 64 + 4 * g, 4);
        const __m512i x = _mm512_set1_epi32(w);
        o[r][0] = _mm512_dpbusd_epi32(o[r][0], x, v0); o[r][1] = _mm512_dpbusd_epi32(o[r][1], x, v1);
      }
    }
    for (size_t r = 0; r < m; r++) {
      const __m512 fv = _mm512_set1_ps(rtot[a0 + r]);
      float *dst = out[act[a0 + r]];
      _mm512_storeu_ps(dst, _mm512_mul_ps(_mm512_cvtepi32_ps(o[r][0]), fv));
      _mm512_storeu_ps(dst + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(o[r][1]), fv));
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
void es_dense_attention_f32__avx512f(size_t nq, size_t nk, size_t hd, const float *q, const float *k, const float *v, size_t ld,
                                     float scale, const float *mask, float *out, float *scratch) {
  (void)nq; (void)nk; (void)hd; (void)q; (void)k; (void)v; (void)ld; (void)scale; (void)mask; (void)out; (void)scratch;
  __builtin_trap();
}
void es_window_attention_qs8__avx512vnni(size_t n, const float *const *q, const float *const *k, const float *const *v,
                                         const float *bias, const float *mask, float inv_sqrt_d, float *const *out, void *scratch) {
  (void)n; (void)q; (void)k; (void)v; (void)bias; (void)mask; (void)inv_sqrt_d; (void)out; (void)scratch;
  __builtin_trap();
}
#endif

// AVX2 (with FMA3): the arm64 int8 window attention (attention_neon_body.h) over neon_sse.h, 4 float lanes
// per SSE vector with the same operations, so the same bits as the NEON and VNNI tiers and the definition.
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include "neon_sse.h"
#define ES_NEON_NAME(base) base##__avx2
#define ES_DOTPROD_TARGET
#define ES_INT8_ONLY   // the float attentions: attention_avx2.c, with 8-lane vectors
#include "attention_neon_body.h"
#pragma clang attribute pop
#else
void es_window_attention_qs8__avx2(size_t n, const float *const *q, const float *const *k, const float *const *v,
                                   const float *bias, const float *mask, float inv_sqrt_d, float *const *out, void *scratch) {
  (void)n; (void)q; (void)k; (void)v; (void)bias; (void)mask; (void)inv_sqrt_d; (void)out; (void)scratch;
  __builtin_trap();
}
#endif
