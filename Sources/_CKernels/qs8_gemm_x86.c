// int8 GEMM microkernels for x86-64 (AVX-512 VNNI: vpdpbusd, u8 x s8 -> s32 without saturation).
// Layout and contract: include/es_kernels.h. Portable twin: Sources/Kernels/Int8GEMM+Portable.swift.
#include "es_kernels.h"
#include "microkernel.h"

#include <string.h>

// The packed-A kernels (12x32p, 12x16p): the tile's activations are first copied once into `ap` as
// unsigned bytes, interleaved by k-quad: the 4 bytes of rows 0..11 for quad 0, then for quad 1, ...
// (48 bytes per quad over every segment), so the inner loop reads one sequential stream (one pointer,
// twelve broadcasts at fixed offsets) instead of twelve rows kq·4 bytes apart, and there is no XOR to
// unsigned per row and k-quad (it shared the vector ports with vpdpbusd). One pass over the whole K
// (every conv tap) with the sums kept in registers.
#if defined(__x86_64__)
#include <emmintrin.h>
#endif
void es_qs8_pack_a12(size_t nseg, const size_t *seg_kq, const signed char *const *rows, size_t kq, unsigned char *ap) {
  (void)kq;
  size_t q0 = 0;
  for (size_t s = 0; s < nseg; s++) {
    const size_t len = seg_kq[s];
    const signed char *const *rs = rows + s * 12;
    size_t q = 0;
#if defined(__x86_64__)
    // 4 quads of 4 rows at a time: a 4x4 transpose of 32-bit elements (SSE2, baseline x86-64).
    const __m128i flip = _mm_set1_epi8((char)0x80);
    for (; q + 4 <= len; q += 4) {
      unsigned char *dst = ap + (q0 + q) * 48;
      for (size_t g = 0; g < 3; g++) {
        const __m128i r0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rs[4 * g] + 4 * q)), flip);
        const __m128i r1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rs[4 * g + 1] + 4 * q)), flip);
        const __m128i r2 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rs[4 * g + 2] + 4 * q)), flip);
        const __m128i r3 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rs[4 * g + 3] + 4 * q)), flip);
        const __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpacklo_epi32(r2, r3);
        const __m128i t2 = _mm_unpackhi_epi32(r0, r1), t3 = _mm_unpackhi_epi32(r2, r3);
        _mm_storeu_si128((__m128i *)(dst + 16 * g), _mm_unpacklo_epi64(t0, t1));
        _mm_storeu_si128((__m128i *)(dst + 48 + 16 * g), _mm_unpackhi_epi64(t0, t1));
        _mm_storeu_si128((__m128i *)(dst + 96 + 16 * g), _mm_unpacklo_epi64(t2, t3));
        _mm_storeu_si128((__m128i *)(dst + 144 + 16 * g), _mm_unpackhi_epi64(t2, t3));
      }
    }
#endif
    for (; q < len; q++) {
      unsigned char *dst = ap + (q0 + q) * 48;
      for (size_t r = 0; r < 12; r++)
        for (size_t t = 0; t < 4; t++) dst[r * 4 + t] = (unsigned char)rs[r][4 * q + t] ^ 0x80u;
    }
    q0 += len;
  }
}

#if defined(__x86_64__)
#include <immintrin.h>

// Row i of the packed tile, quad q: 4 unsigned bytes at ap + (q * 12 + i) * 4.
#define ES_A(i) ({ int v_; memcpy(&v_, ap + (q * 12 + (size_t)(i)) * 4, 4); _mm512_set1_epi32(v_); })

__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline))
static inline void es_s32_store16(int *row, __m512i v, int accumulate) {
  if (accumulate) v = _mm512_add_epi32(v, _mm512_loadu_si512((const void *)row));
  _mm512_storeu_si512((void *)row, v);
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
void es_qs8_gemm_12x32p__avx512vnni(size_t mr, size_t kq, const unsigned char *ap, const signed char *w0,
                                    const signed char *w1, int *c, int accumulate) {
  __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  __m512i c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
  __m512i c80 = c00, c81 = c00, c90 = c00, c91 = c00, ca0 = c00, ca1 = c00, cb0 = c00, cb1 = c00;
  for (size_t q = 0; q < kq; q++) {
    const __m512i v0 = _mm512_loadu_si512((const void *)(w0 + q * 64)), v1 = _mm512_loadu_si512((const void *)(w1 + q * 64));
#define ES_ROW(r, i) { const __m512i x = ES_A(i); c##r##0 = _mm512_dpbusd_epi32(c##r##0, x, v0); c##r##1 = _mm512_dpbusd_epi32(c##r##1, x, v1); }
    ES_ROW(0, 0) ES_ROW(1, 1) ES_ROW(2, 2) ES_ROW(3, 3) ES_ROW(4, 4) ES_ROW(5, 5)
    ES_ROW(6, 6) ES_ROW(7, 7) ES_ROW(8, 8) ES_ROW(9, 9) ES_ROW(a, 10) ES_ROW(b, 11)
#undef ES_ROW
  }
  __m512i acc[12][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51},
                        {c60, c61}, {c70, c71}, {c80, c81}, {c90, c91}, {ca0, ca1}, {cb0, cb1}};
  for (size_t r = 0; r < mr; r++) {
    es_s32_store16(c + r * 32, acc[r][0], accumulate);
    es_s32_store16(c + r * 32 + 16, acc[r][1], accumulate);
  }
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
void es_qs8_gemm_12x16p__avx512vnni(size_t mr, size_t kq, const unsigned char *ap, const signed char *w, int *c,
                                    int accumulate) {
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0;
  __m512i ca = c0, cb = c0;
  for (size_t q = 0; q < kq; q++) {
    const __m512i wv = _mm512_loadu_si512((const void *)(w + q * 64));
#define ES_ROW(r, i) { c##r = _mm512_dpbusd_epi32(c##r, ES_A(i), wv); }
    ES_ROW(0, 0) ES_ROW(1, 1) ES_ROW(2, 2) ES_ROW(3, 3) ES_ROW(4, 4) ES_ROW(5, 5)
    ES_ROW(6, 6) ES_ROW(7, 7) ES_ROW(8, 8) ES_ROW(9, 9) ES_ROW(a, 10) ES_ROW(b, 11)
#undef ES_ROW
  }
  __m512i acc[12] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, ca, cb};
  for (size_t r = 0; r < mr; r++) es_s32_store16(c + r * 32, acc[r], accumulate);
}
#undef ES_A

__attribute__((target("avx2")))
void es_qs8_gemm_8x16__avx2(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                            size_t ldc, int accumulate) {
  // Rows in groups of up to 3: 3 rows x 4 accumulators (each holding pair sums of 4 columns) + 4
  // widened weight vectors fit the 16 ymm registers.
  for (size_t r0 = 0; r0 < mr; r0 += 3) {
    const size_t rows = mr - r0 < 3 ? mr - r0 : 3;
    const signed char *p0 = a[r0], *p1 = a[r0 + (1 < rows ? 1 : 0)], *p2 = a[r0 + (2 < rows ? 2 : 0)];
    __m256i s00 = _mm256_setzero_si256(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00;
    __m256i s20 = s00, s21 = s00, s22 = s00, s23 = s00;
    for (size_t q = 0; q < kq; q++) {
      const __m128i *wq = (const __m128i *)(w + q * 64);
      const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(wq)), w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(wq + 1));
      const __m256i w2 = _mm256_cvtepi8_epi16(_mm_loadu_si128(wq + 2)), w3 = _mm256_cvtepi8_epi16(_mm_loadu_si128(wq + 3));
#define ES_ROW(r) { int v; memcpy(&v, p##r + 4 * q, 4); \
      const __m256i x = _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(v ^ (int)0x80808080u))); \
      s##r##0 = _mm256_add_epi32(s##r##0, _mm256_madd_epi16(x, w0)); s##r##1 = _mm256_add_epi32(s##r##1, _mm256_madd_epi16(x, w1)); \
      s##r##2 = _mm256_add_epi32(s##r##2, _mm256_madd_epi16(x, w2)); s##r##3 = _mm256_add_epi32(s##r##3, _mm256_madd_epi16(x, w3)); }
      ES_ROW(0) ES_ROW(1) ES_ROW(2)
#undef ES_ROW
    }
    __m256i acc[3][4] = {{s00, s01, s02, s03}, {s10, s11, s12, s13}, {s20, s21, s22, s23}};
    for (size_t r = 0; r < rows; r++) {
      int *row = c + (r0 + r) * ldc;
      for (int chunk = 0; chunk < 4; chunk++) {
        int t[8];
        _mm256_storeu_si256((__m256i *)t, acc[r][chunk]);
        for (int j = 0; j < 4; j++) {
          const int v = t[2 * j] + t[2 * j + 1];
          row[chunk * 4 + j] = accumulate ? row[chunk * 4 + j] + v : v;
        }
      }
    }
  }
}

#else
void es_qs8_gemm_12x32p__avx512vnni(size_t mr, size_t kq, const unsigned char *ap, const signed char *w0,
                                    const signed char *w1, int *c, int accumulate) {
  (void)mr; (void)kq; (void)ap; (void)w0; (void)w1; (void)c; (void)accumulate;
  __builtin_trap();
}
void es_qs8_gemm_12x16p__avx512vnni(size_t mr, size_t kq, const unsigned char *ap, const signed char *w, int *c,
                                    int accumulate) {
  (void)mr; (void)kq; (void)ap; (void)w; (void)c; (void)accumulate;
  __builtin_trap();
}
void es_qs8_gemm_8x16__avx2(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                            size_t ldc, int accumulate) {
  (void)mr; (void)kq; (void)a; (void)w; (void)c; (void)ldc; (void)accumulate;
  __builtin_trap();
}
#endif
