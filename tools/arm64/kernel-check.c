// The arm64 int8 GEMM tiers against a scalar reference, in C, without Swift: a quick check of the NEON
// kernels that runs under qemu in seconds (the Swift tests on arm64 take a build of the package first).
//   S=Sources/_CKernels; clang --target=aarch64-linux-gnu --sysroot=ROOTFS -fuse-ld=lld -O2 -I$S/include -I$S \
//     tools/arm64/kernel-check.c $S/qs8_gemm_arm.c $S/cpu.c -o /tmp/kernel-check
//   for cpu in cortex-a72 cortex-a76 max; do qemu-aarch64-static -cpu $cpu -L ROOTFS /tmp/kernel-check; done
// Prints which extensions the CPU model reports and the mismatches (exit 1 if any).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
  printf("%d checks, %d mismatches\n", checks, bad);
  return bad != 0;
}
