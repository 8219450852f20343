// Exact integer Winograd F(2x2, 3x3) for the int8 3x3 convs (Kernels/Int8Winograd.swift), AVX2: the 16
// small GEMMs of transformed activations (int16) by transformed weights (int16) with vpmaddwd, and the
// input and output transforms vectorized over channels. Integer throughout: the result equals the direct
// conv's exactly. Contract: include/es_kernels.h. Portable twins: Int8Winograd.swift.
#include "es_kernels.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2")))
void es_wino_gemm_6x16__avx2(size_t mr, size_t kp, const short *const *v, const short *u, int *c) {
  __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
  __m256i a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
  const short *v0 = v[0], *v1 = v[1 < mr ? 1 : 0], *v2 = v[2 < mr ? 2 : 0], *v3 = v[3 < mr ? 3 : 0], *v4 = v[4 < mr ? 4 : 0],
              *v5 = v[5 < mr ? 5 : 0];
  for (size_t p = 0; p < kp; p++) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i *)(u + p * 32)), w1 = _mm256_loadu_si256((const __m256i *)(u + p * 32 + 16));
#define ES_ROW(r) { int x_; memcpy(&x_, v##r + 2 * p, 4); const __m256i x = _mm256_set1_epi32(x_); \
    a##r##0 = _mm256_add_epi32(a##r##0, _mm256_madd_epi16(x, w0)); a##r##1 = _mm256_add_epi32(a##r##1, _mm256_madd_epi16(x, w1)); }
    ES_ROW(0) ES_ROW(1) ES_ROW(2) ES_ROW(3) ES_ROW(4) ES_ROW(5)
#undef ES_ROW
  }
  const __m256i acc[6][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41}, {a50, a51}};
  for (size_t r = 0; r < mr; r++) {
    _mm256_storeu_si256((__m256i *)(c + r * 16), acc[r][0]);
    _mm256_storeu_si256((__m256i *)(c + r * 16 + 8), acc[r][1]);
  }
}

__attribute__((target("avx2")))
void es_wino_input_16__avx2(size_t cin, const signed char *const *d, short *v, size_t ldv) {
  size_t c = 0;
  for (; c + 16 <= cin; c += 16) {
    __m256i x[16];
    for (int i = 0; i < 16; i++) x[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(d[i] + c)));
    __m256i t[16];
    for (int j = 0; j < 4; j++) {   // rows: Bᵀ d
      t[0 * 4 + j] = _mm256_sub_epi16(x[0 * 4 + j], x[2 * 4 + j]);
      t[1 * 4 + j] = _mm256_add_epi16(x[1 * 4 + j], x[2 * 4 + j]);
      t[2 * 4 + j] = _mm256_sub_epi16(x[2 * 4 + j], x[1 * 4 + j]);
      t[3 * 4 + j] = _mm256_sub_epi16(x[1 * 4 + j], x[3 * 4 + j]);
    }
    for (int i = 0; i < 4; i++) {   // columns: (Bᵀ d) B
      _mm256_storeu_si256((__m256i *)(v + (i * 4 + 0) * ldv + c), _mm256_sub_epi16(t[i * 4 + 0], t[i * 4 + 2]));
      _mm256_storeu_si256((__m256i *)(v + (i * 4 + 1) * ldv + c), _mm256_add_epi16(t[i * 4 + 1], t[i * 4 + 2]));
      _mm256_storeu_si256((__m256i *)(v + (i * 4 + 2) * ldv + c), _mm256_sub_epi16(t[i * 4 + 2], t[i * 4 + 1]));
      _mm256_storeu_si256((__m256i *)(v + (i * 4 + 3) * ldv + c), _mm256_sub_epi16(t[i * 4 + 1], t[i * 4 + 3]));
    }
  }
  for (; c < cin; c++) {
    short x[16], t[16];
    for (int i = 0; i < 16; i++) x[i] = d[i][c];
    for (int j = 0; j < 4; j++) {
      t[j] = (short)(x[j] - x[8 + j]); t[4 + j] = (short)(x[4 + j] + x[8 + j]);
      t[8 + j] = (short)(x[8 + j] - x[4 + j]); t[12 + j] = (short)(x[4 + j] - x[12 + j]);
    }
    for (int i = 0; i < 4; i++) {
      v[(i * 4 + 0) * ldv + c] = (short)(t[i * 4] - t[i * 4 + 2]); v[(i * 4 + 1) * ldv + c] = (short)(t[i * 4 + 1] + t[i * 4 + 2]);
      v[(i * 4 + 2) * ldv + c] = (short)(t[i * 4 + 2] - t[i * 4 + 1]); v[(i * 4 + 3) * ldv + c] = (short)(t[i * 4 + 1] - t[i * 4 + 3]);
    }
  }
}
#else
void es_wino_gemm_6x16__avx2(size_t mr, size_t kp, const short *const *v, const short *u, int *c) {
  (void)mr; (void)kp; (void)v; (void)u; (void)c;
  __builtin_trap();
}
void es_wino_input_16__avx2(size_t cin, const signed char *const *d, short *v, size_t ldv) {
  (void)cin; (void)d; (void)v; (void)ldv;
  __builtin_trap();
}
#endif
