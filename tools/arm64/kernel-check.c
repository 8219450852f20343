// The arm64 int8 GEMM tiers, the NEON f32 GEMM and the NEON int8 epilogues against scalar references, in C, without Swift: a quick check of the NEON
// kernels that runs under qemu in seconds (the Swift tests on arm64 take a build of the package first).
//   S=Sources/_CKernels; clang --target=aarch64-linux-gnu --sysroot=ROOTFS -fuse-ld=lld -O2 -I$S/include -I$S \
//     tools/arm64/kernel-check.c $S/qs8_gemm_arm.c $S/f32_gemm_arm.c $S/qs8_epilogue.c $S/cpu.c -lm -o OUT
//   for cpu in cortex-a72 cortex-a76 max; do qemu-aarch64-static -cpu $cpu -L ROOTFS OUT; done
// Prints which extensions the CPU model reports and the mismatches (exit 1 if any).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "es_kernels.h"
typedef void (*kern)(size_t, size_t, const signed char *const *, const signed char *, int *, size_t, int);
int main(void) {
  kern ks[3] = {es_qs8_gemm_8x16__neon, es_qs8_gemm_8x16__neondot, es_qs8_gemm_8x16__neoni8mm};
  int has[3] = {es_cpu_has_neon(), es_cpu_has_neon_dotprod(), es_cpu_has_neon_i8mm()};
  printf("neon %d dotprod %d i8mm %d\n", has[0], has[1], has[2]);
  srand(3);
  int bad = 0, checks = 0;
  for (int trial = 0; trial < 300; trial++) {
    size_t mr = 1 + rand() % 8, kq = 1 + rand() % 40, ldc = 16 + rand() % 5;
    int accumulate = rand() % 2;
    signed char *A[8]; signed char *w = malloc(kq * 64);
    for (int r = 0; r < 8; r++) { A[r] = malloc(4 * kq + 8); for (size_t i = 0; i < 4 * kq + 8; i++) A[r][i] = (signed char)(rand() % 256 - 128); }
    if (trial % 3 == 0) for (size_t i = 0; i < 4 * kq; i++) A[0][i] = -128;
    for (size_t i = 0; i < kq * 64; i++) w[i] = (signed char)(rand() % 255 - 127);
    if (trial % 3 == 0) for (size_t i = 0; i < kq * 64; i++) w[i] = (i & 1) ? -127 : 127;
    int ref[8 * 32], init[8 * 32];
    for (int i = 0; i < 8 * 32; i++) init[i] = rand() % 1000 - 500;
    for (size_t r = 0; r < mr; r++) for (int j = 0; j < 16; j++) {
      long long s = accumulate ? init[r * ldc + j] : 0;
      for (size_t q = 0; q < kq; q++) for (int t = 0; t < 4; t++) s += A[r][4 * q + t] * w[q * 64 + j * 4 + t];
      ref[r * ldc + j] = (int)s;
    }
    for (int k = 0; k < 3; k++) {
      if (!has[k]) continue;
      int c[8 * 32]; memcpy(c, init, sizeof c);
      ks[k]((size_t)mr, kq, (const signed char *const *)A, w, c, ldc, accumulate);
      checks++;
      for (size_t r = 0; r < mr; r++) for (int j = 0; j < 16; j++) if (c[r * ldc + j] != ref[r * ldc + j]) { if (bad < 5) printf("kernel %d trial %d mr %zu kq %zu r %zu j %d: %d vs %d\n", k, trial, mr, kq, r, j, c[r*ldc+j], ref[r*ldc+j]); bad++; }
    }
    for (int r = 0; r < 8; r++) free(A[r]);
    free(w);
  }
  // f32: one fmaf per k ascending from zero, then + c when accumulating: the same bits.
  for (int trial = 0; trial < 200; trial++) {
    size_t mr = 1 + rand() % 6, nr = 1 + rand() % 16, kc = 1 + rand() % 300, ldc = 16 + rand() % 3;
    int accumulate = rand() % 2;
    float *A[6], *B = malloc(kc * 16 * sizeof(float)), init[6 * 19], c[6 * 19], ref[6 * 19];
    for (int r = 0; r < 6; r++) { A[r] = malloc(kc * sizeof(float)); for (size_t k = 0; k < kc; k++) A[r][k] = (float)(rand() % 20001 - 10000) / 3777.0f; }
    for (size_t i = 0; i < kc * 16; i++) B[i] = (float)(rand() % 20001 - 10000) / 4999.0f;
    for (int i = 0; i < 6 * 19; i++) init[i] = c[i] = ref[i] = (float)(rand() % 2001 - 1000) / 7.0f;
    for (size_t r = 0; r < mr; r++) for (size_t j = 0; j < nr; j++) {
      float acc = 0.0f;
      for (size_t k = 0; k < kc; k++) acc = fmaf(A[r][k], B[k * 16 + j], acc);
      ref[r * ldc + j] = accumulate ? acc + init[r * ldc + j] : acc;
    }
    es_f32_gemm_6x16__neon(mr, nr, kc, (const float *const *)A, B, c, ldc, accumulate);
    checks++;
    if (memcmp(c, ref, sizeof c) != 0) { if (bad < 5) printf("f32 neon trial %d mr %zu nr %zu kc %zu differs\n", trial, mr, nr, kc); bad++; }
    for (int r = 0; r < 6; r++) free(A[r]);
    free(B);
  }
  // Epilogues: the NEON tiles (simd = 1) against the scalar ones, every activation, float and int8 out.
  for (int trial = 0; trial < 300; trial++) {
    size_t rows = 1 + rand() % 12, n = 1 + rand() % 40, lda = 40;
    int act = trial % 3, zp = rand() % 200 - 100;
    int accv[12 * 40], corr[40]; float scale[40], res[12 * 40], y1[12 * 40], y2[12 * 40]; signed char q1[12 * 40], q2[12 * 40];
    for (int i = 0; i < 12 * 40; i++) { accv[i] = rand() % 200001 - 100000; res[i] = (float)(rand() % 2001 - 1000) / 300.0f; }
    for (int i = 0; i < 40; i++) { corr[i] = rand() % 20001 - 10000; scale[i] = (float)(rand() % 1000 + 1) / 3e6f; }
    float out_scale = (float)(rand() % 1000 + 1) / 9000.0f;
    memset(y1, 0, sizeof y1); memset(y2, 0, sizeof y2); memset(q1, 0, sizeof q1); memset(q2, 0, sizeof q2);
    es_qs8_epilogue_f32_tile(0, rows, n, accv, lda, corr, scale, act, (trial & 4) ? res : 0, 40, y1, 40);
    es_qs8_epilogue_f32_tile(1, rows, n, accv, lda, corr, scale, act, (trial & 4) ? res : 0, 40, y2, 40);
    es_qs8_epilogue_qs8_tile(0, rows, n, accv, lda, corr, scale, act, out_scale, zp, q1, 40);
    es_qs8_epilogue_qs8_tile(1, rows, n, accv, lda, corr, scale, act, out_scale, zp, q2, 40);
    checks += 2;
    if (memcmp(y1, y2, sizeof y1) != 0) { if (bad < 5) printf("f32 epilogue trial %d act %d differs\n", trial, act); bad++; }
    if (memcmp(q1, q2, sizeof q1) != 0) { if (bad < 5) printf("int8 epilogue trial %d act %d differs\n", trial, act); bad++; }
  }
  printf("%d checks, %d mismatches\n", checks, bad);
  return bad != 0;
}
