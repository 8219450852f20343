// The arm64 int8 GEMM tiers, the NEON f32 GEMM, the NEON int8 epilogues, float attentions, LayerNorm and quantization against scalar references, in C, without Swift: a quick check of the NEON
// kernels that runs under qemu in seconds (the Swift tests on arm64 take a build of the package first).
//   S=Sources/_CKernels; clang --target=aarch64-linux-gnu --sysroot=ROOTFS -fuse-ld=lld -O2 -I$S/include -I$S \
//     tools/arm64/kernel-check.c $S/qs8_gemm_arm.c $S/f32_gemm_arm.c $S/qs8_epilogue.c $S/attention_arm.c $S/norms_arm.c $S/cpu.c -lm -o OUT
//   for cpu in cortex-a72 cortex-a76 max; do qemu-aarch64-static -cpu $cpu -L ROOTFS OUT; done
// Prints which extensions the CPU model reports and the mismatches (exit 1 if any).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "es_kernels.h"
#pragma clang fp contract(off)

// The Swift definitions (Kernels/FastMath.swift exp, Kernels/Attention.swift softmaxRow, window and dense,
// Kernels/Norms.swift layerNormRow, Quant/QuantParams.swift quantize) transcribed operation by operation.
static float ref_exp(float v) {
  float x = v < -87.3f ? -87.3f : v;
  x = x > 88.7f ? 88.7f : x;
  const float magic = 12582912.0f, n = (x * 1.44269504088896341f + magic) - magic;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f; p = p * r + 8.3334519073e-3f; p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f; p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  float sc, t = n + (magic + 127.0f);
  unsigned bits; memcpy(&bits, &t, 4); bits <<= 23; memcpy(&sc, &bits, 4);
  return y * sc;
}
static void ref_softmax(float *s, size_t n) {
  float mx = -INFINITY, lanes[16] = {0};
  for (size_t j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
  for (size_t j = 0; j < n; j++) { const float t = s[j] - mx; s[j] = t >= -87.0f ? ref_exp(t) : 0.0f; lanes[j % 16] += s[j]; }
  for (int w = 8; w >= 1; w /= 2) for (int l = 0; l < w; l++) lanes[l] += lanes[l + w];
  const float inv = 1.0f / lanes[0];
  for (size_t j = 0; j < n; j++) s[j] = s[j] * inv;
}
/// One query row: s_j = (q·k_j) * scale (+ bias_j) (+ mask_j), softmax, out = Σ p_j v_j.
static void ref_attention_row(size_t nk, size_t hd, const float *qi, const float *const *k, const float *const *v, const float *bias,
                              const float *mask, float scale, float *out) {
  float s[256];
  for (size_t j = 0; j < nk; j++) {
    float a = 0.0f;
    for (size_t d = 0; d < hd; d++) a = fmaf(qi[d], k[j][d], a);
    a = a * scale;
    if (bias) a = a + bias[j];
    if (mask) a = a + mask[j];
    s[j] = a;
  }
  ref_softmax(s, nk);
  for (size_t d = 0; d < hd; d++) out[d] = 0.0f;
  for (size_t j = 0; j < nk; j++) for (size_t d = 0; d < hd; d++) out[d] = fmaf(s[j], v[j][d], out[d]);
}
static float ref_symmetric_row(const float *x, size_t count, signed char *q) {
  float m = 0.0f;
  for (size_t d = 0; d < count; d++) { const float a = fabsf(x[d]); m = a > m ? a : m; }
  const float inv = m == 0.0f ? 0.0f : 127.0f / m;
  for (size_t d = 0; d < count; d++) { float t = nearbyintf(x[d] * inv); t = t < -127.0f ? -127.0f : t > 127.0f ? 127.0f : t; q[d] = (signed char)t; }
  return m / 127.0f;
}
/// Attention.windowInt8, the definition, for head dimension 32.
static void ref_window_int8(size_t n, const float *const *q, const float *const *k, const float *const *v, const float *bias,
                            const float *mask, float inv_sqrt_d, float *const *out) {
  signed char q8[64 * 32], k8[64 * 32], v8[64 * 32];
  float sq[64], sk[64], sv[64], s[64], e[64];
  unsigned char p8[64];
  for (size_t j = 0; j < n; j++) { sq[j] = ref_symmetric_row(q[j], 32, q8 + j * 32); sk[j] = ref_symmetric_row(k[j], 32, k8 + j * 32); sv[j] = ref_symmetric_row(v[j], 32, v8 + j * 32); }
  for (size_t i = 0; i < n; i++) {
    if (!out[i]) continue;
    const float a = sq[i] * inv_sqrt_d;
    float mx = -INFINITY, lanes[16] = {0}, mp = 0.0f;
    for (size_t j = 0; j < n; j++) {
      int acc = 0;
      for (size_t d = 0; d < 32; d++) acc += q8[i * 32 + d] * k8[j * 32 + d];
      float x = (float)acc * (a * sk[j]) + bias[i * n + j];
      if (mask) x = x + mask[i * n + j];
      s[j] = x;
      mx = x > mx ? x : mx;
    }
    for (size_t j = 0; j < n; j++) {
      const float t = s[j] - mx;
      e[j] = t < -87.0f ? 0.0f : ref_exp(t);
      lanes[j % 16] += e[j];
      e[j] = e[j] * sv[j];
      mp = e[j] > mp ? e[j] : mp;
    }
    for (int w = 8; w >= 1; w /= 2) for (int l = 0; l < w; l++) lanes[l] += lanes[l + w];
    const float inv = mp == 0.0f ? 0.0f : 255.0f / mp;
    for (size_t j = 0; j < n; j++) { float t = nearbyintf(e[j] * inv); t = t < 0.0f ? 0.0f : t > 255.0f ? 255.0f : t; p8[j] = (unsigned char)t; }
    const float f = mp / (255.0f * lanes[0]);
    for (size_t d = 0; d < 32; d++) { int acc = 0; for (size_t j = 0; j < n; j++) acc += p8[j] * v8[j * 32 + d]; out[i][d] = (float)acc * f; }
  }
}
static float frand(float scale) { return (float)(rand() % 20001 - 10000) / 10000.0f * scale; }
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
  // Float attention, window (row pointers, bias, shift mask, some slots without output) and dense (strided rows).
  for (int trial = 0; trial < 200; trial++) {
    const size_t n = 1 + rand() % 150, hd = trial % 4 == 0 ? 1 + rand() % 40 : 32;
    float *buf = malloc(3 * n * hd * sizeof(float)), *bias = malloc(n * n * sizeof(float)), *mask = malloc(n * n * sizeof(float));
    float *o1 = calloc(n * hd, sizeof(float)), *o2 = calloc(n * hd, sizeof(float)), *scratch = malloc((hd + 4) * ((n + 63) / 64 * 64) * sizeof(float));
    const float *q[150], *k[150], *v[150]; float *out[150];
    for (size_t i = 0; i < 3 * n * hd; i++) buf[i] = frand(trial % 5 == 0 ? 30.0f : 2.0f);
    for (size_t i = 0; i < n * n; i++) { bias[i] = frand(3.0f); mask[i] = rand() % 3 == 0 ? -100.0f : 0.0f; }
    for (size_t i = 0; i < n; i++) { q[i] = buf + i * hd; k[i] = buf + (n + i) * hd; v[i] = buf + (2 * n + i) * hd; out[i] = rand() % 7 ? o2 + i * hd : 0; }
    const int masked = trial % 2;
    const float sqrt_d = sqrtf((float)hd);
    for (size_t i = 0; i < n; i++) if (out[i]) ref_attention_row(n, hd, q[i], k, v, bias + i * n, masked ? mask + i * n : 0, 1.0f / sqrt_d, o1 + i * hd);
    es_window_attention_f32__neon(n, hd, q, k, v, bias, masked ? mask : 0, sqrt_d, out, scratch);
    checks++;
    if (memcmp(o1, o2, n * hd * sizeof(float)) != 0) { if (bad < 5) printf("window attention trial %d n %zu hd %zu differs\n", trial, n, hd); bad++; }
    // dense: nq queries of q's first rows against all n keys, heads of hd in rows of ld = hd + 3 floats.
    const size_t ld = hd + 3, nq = 1 + rand() % 100;
    float *Q = malloc(nq * ld * sizeof(float)), *KV = malloc(2 * n * ld * sizeof(float)), *d1 = calloc(nq * ld, sizeof(float)), *d2 = calloc(nq * ld, sizeof(float));
    for (size_t i = 0; i < nq * ld; i++) Q[i] = frand(2.0f);
    for (size_t i = 0; i < 2 * n * ld; i++) KV[i] = frand(2.0f);
    const float *kr[150], *vr[150];
    for (size_t j = 0; j < n; j++) { kr[j] = KV + j * ld; vr[j] = KV + (n + j) * ld; }
    // Odd trials: Mask2Former's masked form, 0 / -inf per (query, key), every row open to key 0 at least.
    float *dmask = malloc(nq * n * sizeof(float));
    for (size_t i = 0; i < nq * n; i++) dmask[i] = i % n != 0 && rand() % 3 == 0 ? -INFINITY : 0.0f;
    const float *dm = masked ? dmask : 0;
    for (size_t i = 0; i < nq; i++) ref_attention_row(n, hd, Q + i * ld, kr, vr, 0, dm ? dm + i * n : 0, 0.125f, d1 + i * ld);
    es_dense_attention_f32__neon(nq, n, hd, Q, KV, KV + n * ld, ld, 0.125f, dm, d2, scratch);
    checks++;
    if (memcmp(d1, d2, nq * ld * sizeof(float)) != 0) { if (bad < 5) printf("dense attention trial %d nq %zu nk %zu hd %zu differs\n", trial, nq, n, hd); bad++; }
    free(buf); free(bias); free(mask); free(o1); free(o2); free(scratch); free(Q); free(KV); free(d1); free(d2); free(dmask);
  }
  // int8 window attention (sdot): head dimension 32, up to 64 tokens.
  for (int trial = 0; trial < (has[1] ? 300 : 0); trial++) {
    const size_t n = 1 + rand() % 64, hd = 32;
    float buf[3 * 64 * 32], bias[64 * 64], mask[64 * 64], o1[64 * 32] = {0}, o2[64 * 32] = {0};
    static unsigned char scratch[65536];
    const float *q[64], *k[64], *v[64]; float *r1[64], *r2[64];
    const float big = trial % 5 == 0 ? 30.0f : 2.0f;
    for (size_t i = 0; i < 3 * n * hd; i++) buf[i] = frand(big);
    if (trial % 7 == 0) for (size_t i = 0; i < hd; i++) buf[i] = 0.0f;     // a zero row: scale 0
    for (size_t i = 0; i < n * n; i++) { bias[i] = frand(3.0f); mask[i] = rand() % 3 == 0 ? -100.0f : 0.0f; }
    for (size_t i = 0; i < n; i++) {
      q[i] = buf + i * hd; k[i] = buf + (n + i) * hd; v[i] = buf + (2 * n + i) * hd;
      const int on = rand() % 7 != 0;
      r1[i] = on ? o1 + i * hd : 0; r2[i] = on ? o2 + i * hd : 0;
    }
    const int masked = trial % 2;
    const float inv_sqrt_d = 1.0f / sqrtf(32.0f);
    ref_window_int8(n, q, k, v, bias, masked ? mask : 0, inv_sqrt_d, r1);
    es_window_attention_qs8__neondot(n, q, k, v, bias, masked ? mask : 0, inv_sqrt_d, r2, scratch);
    checks++;
    if (memcmp(o1, o2, n * hd * sizeof(float)) != 0) { if (bad < 5) printf("int8 window attention trial %d n %zu differs\n", trial, n); bad++; }
  }
  // LayerNorm (float and int8 out) and quantization: float64 sums in 16 lanes, combine16, separate float operations.
  for (int trial = 0; trial < 300; trial++) {
    const size_t n = 1 + rand() % 800;
    float x[800], g[800], b[800], y1[800], y2[800];
    signed char q1[800], q2[800], q3[800];
    const float off = frand(50.0f);
    for (size_t i = 0; i < n; i++) { x[i] = off + frand(trial % 3 == 0 ? 100.0f : 1.0f); g[i] = frand(2.0f); b[i] = frand(1.0f); }
    double l[16] = {0};
    for (size_t i = 0; i < n; i++) l[i % 16] += (double)x[i];
    for (int j = 0; j < 8; j++) l[j] += l[j + 8];
    for (int j = 0; j < 4; j++) l[j] += l[j + 4];
    const double mean = ((l[0] + l[2]) + (l[1] + l[3])) / (double)n;
    memset(l, 0, sizeof l);
    for (size_t i = 0; i < n; i++) { const double d = (double)x[i] - mean; l[i % 16] += d * d; }
    for (int j = 0; j < 8; j++) l[j] += l[j + 8];
    for (int j = 0; j < 4; j++) l[j] += l[j + 4];
    const float eps = 1e-5f, rstd = (float)(1.0 / sqrt(((l[0] + l[2]) + (l[1] + l[3])) / (double)n + (double)eps)), m = (float)mean;
    const float scale = 0.01f + (float)(rand() % 1000) / 500.0f;
    const int zp = rand() % 41 - 20;
    for (size_t i = 0; i < n; i++) {
      y1[i] = (x[i] - m) * rstd * g[i] + b[i];
      float t = nearbyintf(y1[i] * (1.0f / scale)) + (float)zp;
      q1[i] = (signed char)(t < -128.0f ? -128.0f : t > 127.0f ? 127.0f : t);
    }
    es_layernorm_f32__neon(n, x, g, b, eps, y2);
    es_layernorm_qs8__neon(n, x, g, b, eps, scale, zp, q2);
    es_quantize_qs8__neon(n, y1, scale, zp, q3);
    checks += 3;
    if (memcmp(y1, y2, n * sizeof(float)) != 0) { if (bad < 5) printf("layernorm trial %d n %zu differs\n", trial, n); bad++; }
    if (memcmp(q1, q2, n) != 0) { if (bad < 5) printf("layernorm int8 trial %d n %zu differs\n", trial, n); bad++; }
    if (memcmp(q1, q3, n) != 0) { if (bad < 5) printf("quantize trial %d n %zu differs\n", trial, n); bad++; }
  }
  printf("%d checks, %d mismatches\n", checks, bad);
  return bad != 0;
}
