// f32 GEMM microkernel for arm64 (NEON, every arm64): broadcast-A x packed-B outer products with fused
// multiply-adds, 6 rows x 16 columns (24 accumulators + 4 B vectors in the 32 vector registers).
// Contract: include/es_kernels.h (the f32 microkernels: one FMA per k ascending from zero, then + c),
// so its results equal every other tier's bit for bit (F32GEMMAgreement, run on arm64 under qemu).
#include "es_kernels.h"
#include "microkernel.h"

#if defined(__aarch64__)
#include <arm_neon.h>

void es_f32_gemm_6x16__neon(size_t mr, size_t nr, size_t kc, const float *const *a, const float *b, float *c,
                            size_t ldc, int accumulate) {
  ES_A_ROWS6(float);
  const float *rows[6] = {a0, a1, a2, a3, a4, a5};
  float32x4_t acc[6][4];
#pragma clang loop unroll(full)
  for (int r = 0; r < 6; r++)
#pragma clang loop unroll(full)
    for (int j = 0; j < 4; j++) acc[r][j] = vdupq_n_f32(0.0f);
  for (size_t k = 0; k < kc; k++) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
    b += 16;
#pragma clang loop unroll(full)
    for (int r = 0; r < 6; r++) {
      const float32x4_t x = vdupq_n_f32(rows[r][k]);
      acc[r][0] = vfmaq_f32(acc[r][0], x, b0); acc[r][1] = vfmaq_f32(acc[r][1], x, b1);
      acc[r][2] = vfmaq_f32(acc[r][2], x, b2); acc[r][3] = vfmaq_f32(acc[r][3], x, b3);
    }
  }
  for (size_t r = 0; r < mr; r++) {
    float *row = c + r * ldc;
    if (nr == 16) {
      for (int j = 0; j < 4; j++) {
        float32x4_t v = acc[r][j];
        if (accumulate) v = vaddq_f32(v, vld1q_f32(row + 4 * j));
        vst1q_f32(row + 4 * j, v);
      }
    } else {
      float t[16];
      for (int j = 0; j < 4; j++) vst1q_f32(t + 4 * j, acc[r][j]);
      for (size_t j = 0; j < nr; j++) row[j] = accumulate ? t[j] + row[j] : t[j];
    }
  }
}
#else
void es_f32_gemm_6x16__neon(size_t mr, size_t nr, size_t kc, const float *const *a, const float *b, float *c,
                            size_t ldc, int accumulate) {
  (void)mr; (void)nr; (void)kc; (void)a; (void)b; (void)c; (void)ldc; (void)accumulate;
  __builtin_trap();
}
#endif
