// int8 GEMM microkernels for arm64, three tiers over the same packed panel (`qgemm_i8x4_n16`) and the
// same 8x16 tile read through row pointers: baseline NEON (ARMv8.0: widening multiplies), the
// dot-product extension (ARMv8.2 sdot) and the matrix-multiply extension (ARMv8.6 i8mm: smmla).
// They multiply signed a by signed w: c = sum a * w (the "signed A" contract of include/es_kernels.h;
// the caller's per-channel correction has no 128 * sum(w) term for them). Integer math: exact, so
// every tier equals Int8GEMM's reference (KernelsTests, run on arm64 under qemu by tools/arm64).
#include "es_kernels.h"
#include "microkernel.h"

#if defined(__aarch64__)
#include <arm_neon.h>

/// The 4 bytes of activations at a + 4q as a vector of 16 (the k-quad repeated over 4 columns).
static inline int8x16_t es_quad16(const signed char *a, size_t q) {
  int v;
  __builtin_memcpy(&v, a + 4 * q, 4);
  return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

/// One row's int32 results of 16 columns written back (added to c when accumulating).
static inline void es_store16(int *row, int32x4_t v0, int32x4_t v1, int32x4_t v2, int32x4_t v3, int accumulate) {
  if (accumulate) {
    v0 = vaddq_s32(v0, vld1q_s32(row)); v1 = vaddq_s32(v1, vld1q_s32(row + 4));
    v2 = vaddq_s32(v2, vld1q_s32(row + 8)); v3 = vaddq_s32(v3, vld1q_s32(row + 12));
  }
  vst1q_s32(row, v0); vst1q_s32(row + 4, v1); vst1q_s32(row + 8, v2); vst1q_s32(row + 12, v3);
}

// Baseline NEON (every arm64): per pair of k-quads, smull of the first and smlal of the second into int16
// (two products of at most 128 * 127 = 16256 in magnitude: |sum| <= 32512 fits, because packed weights
// are in [-127, 127]), then sadalp into int32 pair sums; 2 rows at a time (8 pair-sum registers per row).
// The XNNPACK "neon-mlal" scheme.
void es_qs8_gemm_8x16__neon(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                            size_t ldc, int accumulate) {
  for (size_t r0 = 0; r0 < mr; r0 += 2) {
    const signed char *p0 = a[r0], *p1 = a[r0 + 1 < mr ? r0 + 1 : r0];
    int32x4_t s0[8], s1[8];
    for (int i = 0; i < 8; i++) { s0[i] = vdupq_n_s32(0); s1[i] = vdupq_n_s32(0); }
    size_t q = 0;
    for (; q + 2 <= kq; q += 2) {
      const signed char *wq = w + q * 64;
      const int8x16_t x0 = es_quad16(p0, q), y0 = es_quad16(p0, q + 1), x1 = es_quad16(p1, q), y1 = es_quad16(p1, q + 1);
#pragma clang loop unroll(full)
      for (int g = 0; g < 4; g++) {
        const int8x16_t u = vld1q_s8(wq + 16 * g), v = vld1q_s8(wq + 64 + 16 * g);
        int16x8_t lo0 = vmull_s8(vget_low_s8(x0), vget_low_s8(u)), hi0 = vmull_high_s8(x0, u);
        int16x8_t lo1 = vmull_s8(vget_low_s8(x1), vget_low_s8(u)), hi1 = vmull_high_s8(x1, u);
        lo0 = vmlal_s8(lo0, vget_low_s8(y0), vget_low_s8(v)); hi0 = vmlal_high_s8(hi0, y0, v);
        lo1 = vmlal_s8(lo1, vget_low_s8(y1), vget_low_s8(v)); hi1 = vmlal_high_s8(hi1, y1, v);
        s0[2 * g] = vpadalq_s16(s0[2 * g], lo0); s0[2 * g + 1] = vpadalq_s16(s0[2 * g + 1], hi0);
        s1[2 * g] = vpadalq_s16(s1[2 * g], lo1); s1[2 * g + 1] = vpadalq_s16(s1[2 * g + 1], hi1);
      }
    }
    if (q < kq) {
      const signed char *wq = w + q * 64;
      const int8x16_t x0 = es_quad16(p0, q), x1 = es_quad16(p1, q);
#pragma clang loop unroll(full)
      for (int g = 0; g < 4; g++) {
        const int8x16_t u = vld1q_s8(wq + 16 * g);
        s0[2 * g] = vpadalq_s16(s0[2 * g], vmull_s8(vget_low_s8(x0), vget_low_s8(u)));
        s0[2 * g + 1] = vpadalq_s16(s0[2 * g + 1], vmull_high_s8(x0, u));
        s1[2 * g] = vpadalq_s16(s1[2 * g], vmull_s8(vget_low_s8(x1), vget_low_s8(u)));
        s1[2 * g + 1] = vpadalq_s16(s1[2 * g + 1], vmull_high_s8(x1, u));
      }
    }
    // s[2g] lanes: (col 4g: t0+t1, t2+t3, col 4g+1: ...); s[2g+1]: cols 4g+2, 4g+3. Pairwise add -> 4 columns.
    es_store16(c + r0 * ldc, vpaddq_s32(s0[0], s0[1]), vpaddq_s32(s0[2], s0[3]), vpaddq_s32(s0[4], s0[5]), vpaddq_s32(s0[6], s0[7]), accumulate);
    if (r0 + 1 < mr)
      es_store16(c + (r0 + 1) * ldc, vpaddq_s32(s1[0], s1[1]), vpaddq_s32(s1[2], s1[3]), vpaddq_s32(s1[4], s1[5]), vpaddq_s32(s1[6], s1[7]),
                 accumulate);
  }
}

// Dot-product extension: one sdot per 4 columns x 4 k, the panel's layout as it is; 4 rows at a time
// (16 accumulators + 4 weight vectors: all 8 rows at once needed 32 accumulators and spilled). Four
// k-quads of a row come in one 16-byte load and each sdot takes its quad as a lane (sdot by element),
// as XNNPACK's c4 neondot kernels do: no broadcast per quad.
__attribute__((target("dotprod")))
void es_qs8_gemm_8x16__neondot(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                               size_t ldc, int accumulate) {
  for (size_t r0 = 0; r0 < mr; r0 += 4) {
    const signed char *rows[4];
    for (size_t r = 0; r < 4; r++) rows[r] = a[r0 + r < mr ? r0 + r : r0];
    int32x4_t acc[4][4];
#pragma clang loop unroll(full)
    for (size_t r = 0; r < 4; r++)
#pragma clang loop unroll(full)
      for (int j = 0; j < 4; j++) acc[r][j] = vdupq_n_s32(0);
    size_t q = 0;
    for (; q + 4 <= kq; q += 4) {
      int8x16_t x[4];
#pragma clang loop unroll(full)
      for (size_t r = 0; r < 4; r++) x[r] = vld1q_s8(rows[r] + 4 * q);
#define ES_QUAD(l) { \
      const signed char *wq = w + (q + l) * 64; \
      const int8x16_t w0 = vld1q_s8(wq), w1 = vld1q_s8(wq + 16), w2 = vld1q_s8(wq + 32), w3 = vld1q_s8(wq + 48); \
      for (size_t r = 0; r < 4; r++) { \
        acc[r][0] = vdotq_laneq_s32(acc[r][0], w0, x[r], l); acc[r][1] = vdotq_laneq_s32(acc[r][1], w1, x[r], l); \
        acc[r][2] = vdotq_laneq_s32(acc[r][2], w2, x[r], l); acc[r][3] = vdotq_laneq_s32(acc[r][3], w3, x[r], l); } }
      ES_QUAD(0) ES_QUAD(1) ES_QUAD(2) ES_QUAD(3)
#undef ES_QUAD
    }
    for (; q < kq; q++) {
      const int8x16_t w0 = vld1q_s8(w + q * 64), w1 = vld1q_s8(w + q * 64 + 16);
      const int8x16_t w2 = vld1q_s8(w + q * 64 + 32), w3 = vld1q_s8(w + q * 64 + 48);
#pragma clang loop unroll(full)
      for (size_t r = 0; r < 4; r++) {
        const int8x16_t x = es_quad16(rows[r], q);
        acc[r][0] = vdotq_s32(acc[r][0], x, w0); acc[r][1] = vdotq_s32(acc[r][1], x, w1);
        acc[r][2] = vdotq_s32(acc[r][2], x, w2); acc[r][3] = vdotq_s32(acc[r][3], x, w3);
      }
    }
    for (size_t r = 0; r < 4 && r0 + r < mr; r++)
      es_store16(c + (r0 + r) * ldc, acc[r][0], acc[r][1], acc[r][2], acc[r][3], accumulate);
  }
}

/// 8 bytes of activations at a + 4q (quads q and q + 1; only quad q when `single`, the rest zero). Each
/// branch copies a constant size (a variable one became a call to memcpy).
static inline int8x8_t es_octet(const signed char *a, size_t q, int single) {
  if (single) {
    int v;
    __builtin_memcpy(&v, a + 4 * q, 4);
    return vreinterpret_s8_s32(vset_lane_s32(v, vdup_n_s32(0), 0));
  }
  long long v;
  __builtin_memcpy(&v, a + 4 * q, 8);
  return vreinterpret_s8_s64(vdup_n_s64(v));
}

/// One step of the i8mm kernel: quads q and q + 1 (or q alone when `single`) of 8 rows into acc.
__attribute__((target("i8mm"), always_inline))
static inline void es_i8mm_step(const signed char *const rows[8], const signed char *wq, size_t q, int single, int32x4_t acc[4][4]) {
  const int32x4_t u0 = vreinterpretq_s32_s8(vld1q_s8(wq)), u1 = vreinterpretq_s32_s8(vld1q_s8(wq + 16));
  const int32x4_t z = vdupq_n_s32(0);
  const int32x4_t v0 = single ? z : vreinterpretq_s32_s8(vld1q_s8(wq + 64)), v1 = single ? z : vreinterpretq_s32_s8(vld1q_s8(wq + 80));
  // Column pairs of this half: (0,1), (2,3) from u0/v0, (4,5), (6,7) from u1/v1: [col j k0..7, col j+1 k0..7].
  const int8x16_t b0 = vreinterpretq_s8_s32(vzip1q_s32(u0, v0)), b1 = vreinterpretq_s8_s32(vzip2q_s32(u0, v0));
  const int8x16_t b2 = vreinterpretq_s8_s32(vzip1q_s32(u1, v1)), b3 = vreinterpretq_s8_s32(vzip2q_s32(u1, v1));
#pragma clang loop unroll(full)
  for (int p = 0; p < 4; p++) {
    const int8x16_t x = vcombine_s8(es_octet(rows[2 * p], q, single), es_octet(rows[2 * p + 1], q, single));
    acc[p][0] = vmmlaq_s32(acc[p][0], x, b0); acc[p][1] = vmmlaq_s32(acc[p][1], x, b1);
    acc[p][2] = vmmlaq_s32(acc[p][2], x, b2); acc[p][3] = vmmlaq_s32(acc[p][3], x, b3);
  }
}

// Matrix-multiply extension: smmla multiplies a 2x8 block of A (two rows, 8 k) by a 2x8 block of W (two
// columns, 8 k) into a 2x2 int32 block. A pair of rows is two 8-byte loads; a pair of columns comes from
// the panel's two quads with one zip of 32-bit lanes (quad q of columns j..j+3 with quad q + 1). Eight rows,
// one half of the 16 columns at a time (16 accumulators).
__attribute__((target("i8mm")))
void es_qs8_gemm_8x16__neoni8mm(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                                size_t ldc, int accumulate) {
  ES_A_ROWS8(signed char);
  const signed char *rows[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
  for (int half = 0; half < 2; half++) {
    int32x4_t acc[4][4];  // [row pair][column pair] = (r0 c0, r0 c1, r1 c0, r1 c1)
#pragma clang loop unroll(full)
    for (int p = 0; p < 4; p++)
#pragma clang loop unroll(full)
      for (int j = 0; j < 4; j++) acc[p][j] = vdupq_n_s32(0);
    size_t q = 0;
    for (; q + 2 <= kq; q += 2) es_i8mm_step(rows, w + q * 64 + 32 * half, q, 0, acc);
    if (q < kq) es_i8mm_step(rows, w + q * 64 + 32 * half, q, 1, acc);
    for (size_t p = 0; p < 4; p++) {
      for (size_t h = 0; h < 2; h++) {
        const size_t r = 2 * p + h;
        if (r >= mr) continue;
        const int64x2_t e0 = vreinterpretq_s64_s32(acc[p][0]), e1 = vreinterpretq_s64_s32(acc[p][1]);
        const int64x2_t e2 = vreinterpretq_s64_s32(acc[p][2]), e3 = vreinterpretq_s64_s32(acc[p][3]);
        int32x4_t lo = vreinterpretq_s32_s64(h ? vuzp2q_s64(e0, e1) : vuzp1q_s64(e0, e1));  // columns 0..3 of the half
        int32x4_t hi = vreinterpretq_s32_s64(h ? vuzp2q_s64(e2, e3) : vuzp1q_s64(e2, e3));  // columns 4..7
        int *row = c + r * ldc + 8 * half;
        if (accumulate) { lo = vaddq_s32(lo, vld1q_s32(row)); hi = vaddq_s32(hi, vld1q_s32(row + 4)); }
        vst1q_s32(row, lo); vst1q_s32(row + 4, hi);
      }
    }
  }
}
#else
// Not arm64: the dispatcher never selects these; they exist so that the symbols link everywhere.
void es_qs8_gemm_8x16__neon(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                            size_t ldc, int accumulate) {
  (void)mr; (void)kq; (void)a; (void)w; (void)c; (void)ldc; (void)accumulate;
  __builtin_trap();
}
void es_qs8_gemm_8x16__neondot(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                               size_t ldc, int accumulate) {
  (void)mr; (void)kq; (void)a; (void)w; (void)c; (void)ldc; (void)accumulate;
  __builtin_trap();
}
void es_qs8_gemm_8x16__neoni8mm(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                                size_t ldc, int accumulate) {
  (void)mr; (void)kq; (void)a; (void)w; (void)c; (void)ldc; (void)accumulate;
  __builtin_trap();
}
#endif
