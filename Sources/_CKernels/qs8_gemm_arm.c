// int8 GEMM microkernel for arm64 with the dot-product extension (sdot). Same contract as the x86
// kernels (include/es_kernels.h): c += sum (a + 128) * w; sdot multiplies signed by signed, so the
// kernel adds 128 * sum(w) over the same k range, computed with a second sdot against ones.
// Compile-checked with `clang --target=aarch64-linux-gnu -march=armv8.2-a+dotprod`; not yet run on
// arm64 hardware (see README, known gaps).
#include "es_kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

__attribute__((target("dotprod")))
void es_qs8_gemm_8x16__neondot(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                               size_t ldc, int accumulate) {
  int32x4_t acc[8][4];
  int32x4_t wsum[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
  const int8x16_t ones = vdupq_n_s8(1);
  for (size_t r = 0; r < 8; r++) for (int j = 0; j < 4; j++) acc[r][j] = vdupq_n_s32(0);
  for (size_t q = 0; q < kq; q++) {
    // 64 bytes: 16 columns x 4 k; each 16-byte vector holds 4 columns x 4 k, the layout sdot wants.
    const int8x16_t w0 = vld1q_s8(w + q * 64), w1 = vld1q_s8(w + q * 64 + 16);
    const int8x16_t w2 = vld1q_s8(w + q * 64 + 32), w3 = vld1q_s8(w + q * 64 + 48);
    wsum[0] = vdotq_s32(wsum[0], w0, ones); wsum[1] = vdotq_s32(wsum[1], w1, ones);
    wsum[2] = vdotq_s32(wsum[2], w2, ones); wsum[3] = vdotq_s32(wsum[3], w3, ones);
    for (size_t r = 0; r < mr; r++) {
      int v;
      __builtin_memcpy(&v, a[r] + 4 * q, 4);
      const int8x16_t x = vreinterpretq_s8_s32(vdupq_n_s32(v));
      acc[r][0] = vdotq_s32(acc[r][0], x, w0); acc[r][1] = vdotq_s32(acc[r][1], x, w1);
      acc[r][2] = vdotq_s32(acc[r][2], x, w2); acc[r][3] = vdotq_s32(acc[r][3], x, w3);
    }
  }
  for (size_t r = 0; r < mr; r++) {
    int *row = c + r * ldc;
    for (int j = 0; j < 4; j++) {
      int32x4_t v = vaddq_s32(acc[r][j], vshlq_n_s32(wsum[j], 7));  /* + 128 * sum(w) */
      if (accumulate) v = vaddq_s32(v, vld1q_s32(row + 4 * j));
      vst1q_s32(row + 4 * j, v);
    }
  }
}
#else
void es_qs8_gemm_8x16__neondot(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                               size_t ldc, int accumulate) {
  (void)mr; (void)kq; (void)a; (void)w; (void)c; (void)ldc; (void)accumulate;
  __builtin_trap();
}
#endif
