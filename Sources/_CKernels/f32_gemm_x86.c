// f32 GEMM microkernels for x86-64: broadcast-A x packed-B outer products with FMA.
// Layout and contract: include/es_kernels.h. Portable twin: Sources/Kernels/F32GEMM+Portable.swift.
#include "es_kernels.h"
#include "microkernel.h"

#if defined(__x86_64__)
#include <immintrin.h>

// One row of a 32-column tile written back (masked to the tile's columns), added to C when accumulating.
__attribute__((target("avx512f"), always_inline))
static inline void es_f32_store_row32(float *row, __m512 lo, __m512 hi, __mmask16 m0, __mmask16 m1, int accumulate) {
  if (accumulate) {
    lo = _mm512_add_ps(lo, _mm512_maskz_loadu_ps(m0, row));
    hi = _mm512_add_ps(hi, _mm512_maskz_loadu_ps(m1, row + 16));
  }
  _mm512_mask_storeu_ps(row, m0, lo);
  _mm512_mask_storeu_ps(row + 16, m1, hi);
}

__attribute__((target("avx512f")))
void es_f32_gemm_8x32__avx512f(size_t mr, size_t nr, size_t kc, const float *const *a, const float *b, float *c,
                               size_t ldc, int accumulate) {
  const __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1u);
  const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1u);
  ES_A_ROWS8(float);
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
  for (size_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    b += 32;
#define ES_ROW(r) { const __m512 x = _mm512_set1_ps(a##r[k]); c##r##0 = _mm512_fmadd_ps(x, b0, c##r##0); \
                    c##r##1 = _mm512_fmadd_ps(x, b1, c##r##1); }
    ES_ROW(0) ES_ROW(1) ES_ROW(2) ES_ROW(3) ES_ROW(4) ES_ROW(5) ES_ROW(6) ES_ROW(7)
#undef ES_ROW
  }
  __m512 acc[8][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
  for (size_t r = 0; r < mr; r++) es_f32_store_row32(c + r * ldc, acc[r][0], acc[r][1], m0, m1, accumulate);
}

__attribute__((target("avx2,fma")))
void es_f32_gemm_6x16__avx2(size_t mr, size_t nr, size_t kc, const float *const *a, const float *b, float *c,
                            size_t ldc, int accumulate) {
  ES_A_ROWS6(float);
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (size_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    b += 16;
#define ES_ROW(r) { const __m256 x = _mm256_broadcast_ss(a##r + k); c##r##0 = _mm256_fmadd_ps(x, b0, c##r##0); \
                    c##r##1 = _mm256_fmadd_ps(x, b1, c##r##1); }
    ES_ROW(0) ES_ROW(1) ES_ROW(2) ES_ROW(3) ES_ROW(4) ES_ROW(5)
#undef ES_ROW
  }
  float tile[6][16] __attribute__((aligned(32)));
  _mm256_store_ps(tile[0], c00); _mm256_store_ps(tile[0] + 8, c01);
  _mm256_store_ps(tile[1], c10); _mm256_store_ps(tile[1] + 8, c11);
  _mm256_store_ps(tile[2], c20); _mm256_store_ps(tile[2] + 8, c21);
  _mm256_store_ps(tile[3], c30); _mm256_store_ps(tile[3] + 8, c31);
  _mm256_store_ps(tile[4], c40); _mm256_store_ps(tile[4] + 8, c41);
  _mm256_store_ps(tile[5], c50); _mm256_store_ps(tile[5] + 8, c51);
  for (size_t r = 0; r < mr; r++) {
    float *row = c + r * ldc;
    for (size_t j = 0; j < nr; j++) row[j] = accumulate ? row[j] + tile[r][j] : tile[r][j];
  }
}

#else
// Not x86-64: the dispatcher never selects these; they exist so that the symbols link everywhere.
void es_f32_gemm_8x32__avx512f(size_t mr, size_t nr, size_t kc, const float *const *a, const float *b, float *c,
                               size_t ldc, int accumulate) {
  (void)mr; (void)nr; (void)kc; (void)a; (void)b; (void)c; (void)ldc; (void)accumulate;
  __builtin_trap();
}
void es_f32_gemm_6x16__avx2(size_t mr, size_t nr, size_t kc, const float *const *a, const float *b, float *c,
                            size_t ldc, int accumulate) {
  (void)mr; (void)nr; (void)kc; (void)a; (void)b; (void)c; (void)ldc; (void)accumulate;
  __builtin_trap();
}
#endif
