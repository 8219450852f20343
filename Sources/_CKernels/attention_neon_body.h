// The arm64 attention kernels' source (float window and DETR attention; int8 window attention with sdot by
// element), included by attention_arm.c with <arm_neon.h> (names __neon, the int8 one __neondot) and by
// attention_x86.c with neon_sse.h (names __avx2): one source, the same bits on both (the definitions are
// Kernels/Attention.swift's). Needs ES_NEON_NAME(base) and ES_DOTPROD_TARGET defined by the includer;
// ES_INT8_ONLY leaves the float attentions out (x86 has 8-lane ones: attention_avx2.c).
// Float tiles of 4 query rows x 16 keys (16 accumulators of the 32 vector registers) for Q·Kᵀ and 4 rows
// x 16 head dimensions for P·V; every score one FMA chain over the head dimension in ascending order,
// separate IEEE operations everywhere else (the includer turns contraction off), the softmax sum in 16
// lanes (j mod 16) folded by halves.
#include <math.h>

/// eˣ as Kernels/FastMath.swift `exp` (Cephes polynomial, separate IEEE operations in the same order).
static inline float32x4_t es_exp_neon(float32x4_t v) {
  const float32x4_t x = vminq_f32(vmaxq_f32(v, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.7f));
  const float32x4_t magic = vdupq_n_f32(12582912.0f);
  const float32x4_t n = vsubq_f32(vaddq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)), magic), magic);
  const float32x4_t r = vaddq_f32(vsubq_f32(x, vmulq_f32(n, vdupq_n_f32(0.693359375f))), vmulq_f32(n, vdupq_n_f32(2.12194440e-4f)));
#define ES_STEP(c) p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(c))
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  ES_STEP(1.3981999507e-3f); ES_STEP(8.3334519073e-3f); ES_STEP(4.1665795894e-2f); ES_STEP(1.6666665459e-1f);
  ES_STEP(5.0000001201e-1f);
#undef ES_STEP
  const float32x4_t y = vaddq_f32(vaddq_f32(vmulq_f32(vmulq_f32(p, r), r), r), vdupq_n_f32(1.0f));
  const int32x4_t bits = vshlq_n_s32(vreinterpretq_s32_f32(vaddq_f32(n, vdupq_n_f32(12582912.0f + 127.0f))), 23);
  return vmulq_f32(y, vreinterpretq_f32_s32(bits));
}

/// exp(t), or 0 where t < -87 (Attention.softmaxRow).
static inline float32x4_t es_exp_floor_neon(float32x4_t t) {
  return vbslq_f32(vcgeq_f32(t, vdupq_n_f32(-87.0f)), es_exp_neon(t), vdupq_n_f32(0.0f));
}

/// Rows of q, k, v or out: through row pointers (a window's slots; a NULL out row is not computed) or
/// `ld` floats apart from `base`.
typedef struct { const float *const *rows; const float *base; size_t ld; } es_rows_neon;
static inline const float *es_row_neon(es_rows_neon r, size_t i) { return r.rows ? r.rows[i] : r.base + i * r.ld; }

/// Up to 16 floats from p (count of them; the rest `fill`) as 4 vectors.
static inline void es_load16_neon(const float *p, size_t count, float fill, float32x4_t v[4]) {
  if (count >= 16) {
    v[0] = vld1q_f32(p); v[1] = vld1q_f32(p + 4); v[2] = vld1q_f32(p + 8); v[3] = vld1q_f32(p + 12);
    return;
  }
  float t[16];
  for (size_t i = 0; i < 16; i++) t[i] = i < count ? p[i] : fill;
  v[0] = vld1q_f32(t); v[1] = vld1q_f32(t + 4); v[2] = vld1q_f32(t + 8); v[3] = vld1q_f32(t + 12);
}

#if !defined(ES_INT8_ONLY)
/// softmax(q·kᵀ · scale + bias (+ mask))·v for nq query rows against nk keys (any head dimension), 4 rows at a
/// time; scratch: kᵀ (hd x np, np = nk rounded up to 16) then 4 score rows of np.
static void es_attention_rows_neon(size_t nq, size_t nk, size_t hd, es_rows_neon q, es_rows_neon k, es_rows_neon v,
                                   const float *bias, const float *mask, float scale, float *const *out_rows, float *out_base,
                                   size_t out_ld, float *scratch) {
  const size_t np = (nk + 15) / 16 * 16;
  float *kt = scratch, *s = scratch + hd * np;
  for (size_t j = 0; j < nk; j++) { const float *kj = es_row_neon(k, j); for (size_t d = 0; d < hd; d++) kt[d * np + j] = kj[d]; }
  for (size_t d = 0; d < hd; d++) for (size_t j = nk; j < np; j++) kt[d * np + j] = 0.0f;
  const float32x4_t sv = vdupq_n_f32(scale);
  size_t rows[4], i = 0;
  while (i < nq) {
    size_t m = 0;
    if (out_rows) { for (; i < nq && m < 4; i++) if (out_rows[i]) rows[m++] = i; }
    else for (; i < nq && m < 4; i++) rows[m++] = i;
    if (m == 0) break;
    const float *qr[4];
    for (size_t r = 0; r < 4; r++) qr[r] = es_row_neon(q, rows[r < m ? r : 0]);
    for (size_t j0 = 0; j0 < np; j0 += 16) {
      float32x4_t a[4][4];
#pragma clang loop unroll(full)
      for (size_t r = 0; r < 4; r++)
#pragma clang loop unroll(full)
        for (size_t c = 0; c < 4; c++) a[r][c] = vdupq_n_f32(0.0f);
      for (size_t d = 0; d < hd; d++) {
        const float *kd = kt + d * np + j0;
        const float32x4_t k0 = vld1q_f32(kd), k1 = vld1q_f32(kd + 4), k2 = vld1q_f32(kd + 8), k3 = vld1q_f32(kd + 12);
#pragma clang loop unroll(full)
        for (size_t r = 0; r < 4; r++) {
          const float32x4_t x = vdupq_n_f32(qr[r][d]);
          a[r][0] = vfmaq_f32(a[r][0], x, k0); a[r][1] = vfmaq_f32(a[r][1], x, k1);
          a[r][2] = vfmaq_f32(a[r][2], x, k2); a[r][3] = vfmaq_f32(a[r][3], x, k3);
        }
      }
      const size_t left = nk - j0 < 16 ? nk - j0 : 16;
      for (size_t r = 0; r < m; r++) {
        float32x4_t b[4], mk[4];
        if (bias) es_load16_neon(bias + rows[r] * nk + j0, left, 0.0f, b);
        if (mask) es_load16_neon(mask + rows[r] * nk + j0, left, 0.0f, mk);
        float *dst = s + r * np + j0;
#pragma clang loop unroll(full)
        for (size_t c = 0; c < 4; c++) {
          float32x4_t x = vmulq_f32(a[r][c], sv);
          if (bias) x = vaddq_f32(x, b[c]);
          if (mask) x = vaddq_f32(x, mk[c]);
          vst1q_f32(dst + 4 * c, x);
        }
        for (size_t j = left; j < 16; j++) dst[j] = -INFINITY;
      }
    }
    for (size_t r = 0; r < m; r++) {
      float *sr = s + r * np;
      float32x4_t mx = vdupq_n_f32(-INFINITY);
      for (size_t j = 0; j < np; j += 4) mx = vmaxq_f32(mx, vld1q_f32(sr + j));
      const float32x4_t mv = vdupq_n_f32(vmaxvq_f32(mx));
      float32x4_t l0 = vdupq_n_f32(0.0f), l1 = l0, l2 = l0, l3 = l0;   // lanes 0-3, 4-7, 8-11, 12-15 of j mod 16
      for (size_t j = 0; j < np; j += 16) {
        const float32x4_t e0 = es_exp_floor_neon(vsubq_f32(vld1q_f32(sr + j), mv));
        const float32x4_t e1 = es_exp_floor_neon(vsubq_f32(vld1q_f32(sr + j + 4), mv));
        const float32x4_t e2 = es_exp_floor_neon(vsubq_f32(vld1q_f32(sr + j + 8), mv));
        const float32x4_t e3 = es_exp_floor_neon(vsubq_f32(vld1q_f32(sr + j + 12), mv));
        vst1q_f32(sr + j, e0); vst1q_f32(sr + j + 4, e1); vst1q_f32(sr + j + 8, e2); vst1q_f32(sr + j + 12, e3);
        l0 = vaddq_f32(l0, e0); l1 = vaddq_f32(l1, e1); l2 = vaddq_f32(l2, e2); l3 = vaddq_f32(l3, e3);
      }
      // Folded by halves as softmaxRow: + 8, + 4, then lanes (0 + 2) + (1 + 3).
      const float32x4_t s4 = vaddq_f32(vaddq_f32(l0, l2), vaddq_f32(l1, l3));
      const float total = (vgetq_lane_f32(s4, 0) + vgetq_lane_f32(s4, 2)) + (vgetq_lane_f32(s4, 1) + vgetq_lane_f32(s4, 3));
      const float32x4_t inv = vdupq_n_f32(1.0f / total);
      for (size_t j = 0; j < np; j += 4) vst1q_f32(sr + j, vmulq_f32(vld1q_f32(sr + j), inv));
    }
    for (size_t d0 = 0; d0 < hd; d0 += 16) {
      const size_t w = hd - d0 < 16 ? hd - d0 : 16, wv = w / 4;    // whole vectors; the rest of w below, by fmaf
      float32x4_t o[4][4];
#pragma clang loop unroll(full)
      for (size_t r = 0; r < 4; r++)
#pragma clang loop unroll(full)
        for (size_t c = 0; c < 4; c++) o[r][c] = vdupq_n_f32(0.0f);
      float ot[4][3] = {{0}};
      if (wv == 4) {
        for (size_t j = 0; j < nk; j++) {
          const float *vj = es_row_neon(v, j) + d0;
          const float32x4_t v0 = vld1q_f32(vj), v1 = vld1q_f32(vj + 4), v2 = vld1q_f32(vj + 8), v3 = vld1q_f32(vj + 12);
#pragma clang loop unroll(full)
          for (size_t r = 0; r < 4; r++) {
            const float32x4_t p = vdupq_n_f32(s[r * np + j]);
            o[r][0] = vfmaq_f32(o[r][0], p, v0); o[r][1] = vfmaq_f32(o[r][1], p, v1);
            o[r][2] = vfmaq_f32(o[r][2], p, v2); o[r][3] = vfmaq_f32(o[r][3], p, v3);
          }
        }
      } else {
        for (size_t j = 0; j < nk; j++) {
          const float *vj = es_row_neon(v, j) + d0;
          for (size_t r = 0; r < 4; r++) {
            const float pj = s[r * np + j];
            const float32x4_t p = vdupq_n_f32(pj);
            for (size_t c = 0; c < wv; c++) o[r][c] = vfmaq_f32(o[r][c], p, vld1q_f32(vj + 4 * c));
            for (size_t t = 4 * wv; t < w; t++) ot[r][t - 4 * wv] = fmaf(pj, vj[t], ot[r][t - 4 * wv]);
          }
        }
      }
      for (size_t r = 0; r < m; r++) {
        float *dst = (out_rows ? out_rows[rows[r]] : out_base + rows[r] * out_ld) + d0;
        for (size_t c = 0; c < wv; c++) vst1q_f32(dst + 4 * c, o[r][c]);
        for (size_t t = 4 * wv; t < w; t++) dst[t] = ot[r][t - 4 * wv];
      }
    }
  }
}

void ES_NEON_NAME(es_window_attention_f32)(size_t n, size_t hd, const float *const *q, const float *const *k, const float *const *v,
                                   const float *bias, const float *mask, float sqrt_d, float *const *out, float *scratch) {
  const es_rows_neon qr = {q, 0, 0}, kr = {k, 0, 0}, vr = {v, 0, 0};
  es_attention_rows_neon(n, n, hd, qr, kr, vr, bias, mask, 1.0f / sqrt_d, out, 0, 0, scratch);
}

void ES_NEON_NAME(es_dense_attention_f32)(size_t nq, size_t nk, size_t hd, const float *q, const float *k, const float *v, size_t ld,
                                  float scale, const float *mask, float *out, float *scratch) {
  const es_rows_neon qr = {0, q, ld}, kr = {0, k, ld}, vr = {0, v, ld};
  es_attention_rows_neon(nq, nk, hd, qr, kr, vr, 0, mask, scale, 0, out, ld, scratch);
}
#endif

// int8 window attention (head dimension 32, up to 64 tokens), arm64 sdot (FEAT_DotProd): the definition and
// its contract are Kernels/Attention.swift `windowInt8`; every float step below is the same IEEE operation in
// the same order, the integer sums are exact. sdot multiplies signed by signed: Q·Kᵀ directly, P·V with the
// unsigned probabilities shifted to p8 - 128 and 128 · Σ_j v8_j[d] added back (exact).
/// Row of 32 floats to int8 (Attention.symmetricRow) at dst; returns the scale m/127.
static inline float es_symmetric_row32_neon(const float *x, signed char *dst) {
  float32x4_t v[8], mx = vdupq_n_f32(0.0f);
  for (int c = 0; c < 8; c++) { v[c] = vld1q_f32(x + 4 * c); mx = vmaxq_f32(mx, vabsq_f32(v[c])); }
  const float m = vmaxvq_f32(mx);
  const float32x4_t iv = vdupq_n_f32(m == 0.0f ? 0.0f : 127.0f / m);
  int16x8_t h[4];
  for (int c = 0; c < 4; c++) {
    const int32x4_t a = vminq_s32(vmaxq_s32(vcvtnq_s32_f32(vmulq_f32(v[2 * c], iv)), vdupq_n_s32(-127)), vdupq_n_s32(127));
    const int32x4_t b = vminq_s32(vmaxq_s32(vcvtnq_s32_f32(vmulq_f32(v[2 * c + 1], iv)), vdupq_n_s32(-127)), vdupq_n_s32(127));
    h[c] = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
  }
  vst1q_s8(dst, vcombine_s8(vmovn_s16(h[0]), vmovn_s16(h[1])));
  vst1q_s8(dst + 16, vcombine_s8(vmovn_s16(h[2]), vmovn_s16(h[3])));
  return m / 127.0f;
}

ES_DOTPROD_TARGET
void ES_NEON_NAME(es_window_attention_qs8)(size_t n, const float *const *q, const float *const *k, const float *const *v,
                                      const float *bias, const float *mask, float inv_sqrt_d, float *const *out, void *scratch) {
  unsigned char *base = (unsigned char *)scratch;
  signed char *kp = (signed char *)base;                 // K packed: [8 groups of 4 d][64 keys][4]
  signed char *vp = (signed char *)(base + 2048);        // V packed: [16 groups of 4 keys][32 d][4]
  signed char *q8 = (signed char *)(base + 4096);        // q rows: [64][32]
  signed char *v8 = (signed char *)(base + 6144);        // v rows: [64][32]
  float *sq = (float *)(base + 8192), *sk = sq + 64, *sv = sk + 64, *sc = sv + 64;   // sc: one score row of 64
  int *vsum = (int *)(sc + 64);                          // Σ_j v8_j[d]
  signed char *ps = (signed char *)(vsum + 32);          // p8 - 128 of one row: [64]
  const size_t vg = (n + 3) / 4;
  for (size_t i = 0; i < 2048; i++) { kp[i] = 0; v8[i] = 0; }
  for (size_t j = 0; j < n; j++) {
    signed char row[32];
    sq[j] = es_symmetric_row32_neon(q[j], q8 + j * 32);
    sk[j] = es_symmetric_row32_neon(k[j], row);
    for (size_t g = 0; g < 8; g++) __builtin_memcpy(kp + (g * 64 + j) * 4, row + 4 * g, 4);
    sv[j] = es_symmetric_row32_neon(v[j], v8 + j * 32);
  }
  for (size_t j = n; j < 64; j++) { sk[j] = 0.0f; sv[j] = 0.0f; }
  for (size_t d = 0; d < 32; d++) { int s = 0; for (size_t j = 0; j < n; j++) s += v8[j * 32 + d]; vsum[d] = s * 128; }
  for (size_t g = 0; g < vg; g++)
    for (size_t d = 0; d < 32; d++)
      for (size_t t = 0; t < 4; t++) vp[(g * 32 + d) * 4 + t] = v8[(4 * g + t) * 32 + d];
  const size_t nb = (n + 15) / 16;                       // blocks of 16 keys
  for (size_t i = 0; i < n; i++) {
    if (!out[i]) continue;
    const int8x16_t qa = vld1q_s8(q8 + i * 32), qb = vld1q_s8(q8 + i * 32 + 16);
    const float32x4_t av = vdupq_n_f32(sq[i] * inv_sqrt_d);
    const float *br = bias + i * n, *mr = mask ? mask + i * n : 0;
    float32x4_t mx = vdupq_n_f32(-INFINITY);
    for (size_t b = 0; b < nb; b++) {
      int32x4_t a[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
#pragma clang loop unroll(full)
      for (size_t g = 0; g < 8; g++) {
        const signed char *kg = kp + (g * 64 + 16 * b) * 4;
#pragma clang loop unroll(full)
        for (size_t c = 0; c < 4; c++) {
          const int8x16_t kv = vld1q_s8(kg + 16 * c);
          switch (g) {
          case 0: a[c] = vdotq_laneq_s32(a[c], kv, qa, 0); break;
          case 1: a[c] = vdotq_laneq_s32(a[c], kv, qa, 1); break;
          case 2: a[c] = vdotq_laneq_s32(a[c], kv, qa, 2); break;
          case 3: a[c] = vdotq_laneq_s32(a[c], kv, qa, 3); break;
          case 4: a[c] = vdotq_laneq_s32(a[c], kv, qb, 0); break;
          case 5: a[c] = vdotq_laneq_s32(a[c], kv, qb, 1); break;
          case 6: a[c] = vdotq_laneq_s32(a[c], kv, qb, 2); break;
          default: a[c] = vdotq_laneq_s32(a[c], kv, qb, 3); break;
          }
        }
      }
      const size_t left = n - 16 * b < 16 ? n - 16 * b : 16;
      float32x4_t bv[4], mk[4];
      es_load16_neon(br + 16 * b, left, 0.0f, bv);
      if (mr) es_load16_neon(mr + 16 * b, left, 0.0f, mk);
#pragma clang loop unroll(full)
      for (size_t c = 0; c < 4; c++) {
        float32x4_t x = vaddq_f32(vmulq_f32(vcvtq_f32_s32(a[c]), vmulq_f32(av, vld1q_f32(sk + 16 * b + 4 * c))), bv[c]);
        if (mr) x = vaddq_f32(x, mk[c]);
        vst1q_f32(sc + 16 * b + 4 * c, x);
      }
      for (size_t j = left; j < 16; j++) sc[16 * b + j] = -INFINITY;
      for (size_t c = 0; c < 4; c++) mx = vmaxq_f32(mx, vld1q_f32(sc + 16 * b + 4 * c));
    }
    const float32x4_t mv = vdupq_n_f32(vmaxvq_f32(mx));
    float32x4_t l[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}, pm = vdupq_n_f32(0.0f);
    for (size_t b = 0; b < nb; b++)
      for (size_t c = 0; c < 4; c++) {
        const float32x4_t e = es_exp_floor_neon(vsubq_f32(vld1q_f32(sc + 16 * b + 4 * c), mv));
        l[c] = vaddq_f32(l[c], e);
        const float32x4_t p = vmulq_f32(e, vld1q_f32(sv + 16 * b + 4 * c));
        vst1q_f32(sc + 16 * b + 4 * c, p);
        pm = vmaxq_f32(pm, p);
      }
    const float32x4_t s4 = vaddq_f32(vaddq_f32(l[0], l[2]), vaddq_f32(l[1], l[3]));
    const float total = (vgetq_lane_f32(s4, 0) + vgetq_lane_f32(s4, 2)) + (vgetq_lane_f32(s4, 1) + vgetq_lane_f32(s4, 3));
    const float mp = vmaxvq_f32(pm);
    const float32x4_t inv = vdupq_n_f32(mp == 0.0f ? 0.0f : 255.0f / mp);
    for (size_t j = 0; j < 16 * nb; j += 4) {
      const int32x4_t u = vminq_s32(vmaxq_s32(vcvtnq_s32_f32(vmulq_f32(vld1q_f32(sc + j), inv)), vdupq_n_s32(0)), vdupq_n_s32(255));
      const int8x8_t h = vmovn_s16(vcombine_s16(vmovn_s32(vsubq_s32(u, vdupq_n_s32(128))), vdup_n_s16(0)));
      vst1_lane_s32((int32_t *)(void *)(ps + j), vreinterpret_s32_s8(h), 0);
    }
    int32x4_t o[8];
    for (size_t c = 0; c < 8; c++) o[c] = vld1q_s32(vsum + 4 * c);
    for (size_t g = 0; g < vg; g++) {
      const int8x16_t pv = vld1q_s8(ps + 16 * (g / 4));
      const signed char *vg4 = vp + g * 128;
#pragma clang loop unroll(full)
      for (size_t c = 0; c < 8; c++) {
        const int8x16_t w = vld1q_s8(vg4 + 16 * c);
        switch (g % 4) {
        case 0: o[c] = vdotq_laneq_s32(o[c], w, pv, 0); break;
        case 1: o[c] = vdotq_laneq_s32(o[c], w, pv, 1); break;
        case 2: o[c] = vdotq_laneq_s32(o[c], w, pv, 2); break;
        default: o[c] = vdotq_laneq_s32(o[c], w, pv, 3); break;
        }
      }
    }
    const float32x4_t f = vdupq_n_f32(mp / (255.0f * total));
    for (size_t c = 0; c < 8; c++) vst1q_f32(out[i] + 4 * c, vmulq_f32(vcvtq_f32_s32(o[c]), f));
  }
}
