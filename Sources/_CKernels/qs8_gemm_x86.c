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

/// Quads q .. q + 3 of 4 rows (each row's 16 bytes at rs[r] + 4q, XORed with `flip`): a 4x4 transpose of
/// 32-bit elements (SSE2, baseline x86-64), so that out[i] holds quad q + i of the 4 rows side by side.
static inline void es_quads4x4(const signed char *const *rs, size_t q, __m128i flip, __m128i out[4]) {
  const __m128i r0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rs[0] + 4 * q)), flip);
  const __m128i r1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rs[1] + 4 * q)), flip);
  const __m128i r2 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rs[2] + 4 * q)), flip);
  const __m128i r3 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rs[3] + 4 * q)), flip);
  const __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpacklo_epi32(r2, r3);
  const __m128i t2 = _mm_unpackhi_epi32(r0, r1), t3 = _mm_unpackhi_epi32(r2, r3);
  out[0] = _mm_unpacklo_epi64(t0, t1); out[1] = _mm_unpackhi_epi64(t0, t1);
  out[2] = _mm_unpacklo_epi64(t2, t3); out[3] = _mm_unpackhi_epi64(t2, t3);
}
#endif
void es_qs8_pack_a12(size_t nseg, const size_t *seg_kq, const signed char *const *rows, size_t kq, unsigned char *ap) {
  (void)kq;
  size_t q0 = 0;
  for (size_t s = 0; s < nseg; s++) {
    const size_t len = seg_kq[s];
    const signed char *const *rs = rows + s * 12;
    size_t q = 0;
#if defined(__x86_64__)
    // 4 quads of 4 rows at a time (es_quads4x4), unsigned.
    const __m128i flip = _mm_set1_epi8((char)0x80);
    for (; q + 4 <= len; q += 4) {
      unsigned char *dst = ap + (q0 + q) * 48;
      for (size_t g = 0; g < 3; g++) {
        __m128i t[4];
        es_quads4x4(rs + 4 * g, q, flip, t);
        for (size_t i = 0; i < 4; i++) _mm_storeu_si128((__m128i *)(dst + 48 * i + 16 * g), t[i]);
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

// AVX2 (no VNNI): exact int8 products through vpmaddwd on int16-widened operands, whose pair sums of
// int8 x int8 cannot saturate. The tile's activations are packed once, sign-extended to int16, in the
// same quad-interleaved order as the VNNI kernels' (ap16[(q * 12 + r) * 4 + t] = a_r[4q + t]), so a row's
// quad is one 8-byte broadcast load. The weights stay int8 where they lie (one 16-byte load widened by
// vpmovsxbw per 4 channels and quad, used by 6 rows). Signed A: no +128, no 128·Σw correction.
__attribute__((target("avx2")))
void es_qs8_pack_a12_s16(size_t nseg, const size_t *seg_kq, const signed char *const *rows, size_t kq, short *ap) {
  (void)kq;
  size_t q0 = 0;
  for (size_t s = 0; s < nseg; s++) {
    const size_t len = seg_kq[s];
    const signed char *const *rs = rows + s * 12;
    size_t q = 0;
    // 4 quads of 4 rows at a time (es_quads4x4), each 16-byte row of the result widened.
    for (; q + 4 <= len; q += 4) {
      short *dst = ap + (q0 + q) * 48;
      for (size_t g = 0; g < 3; g++) {
        __m128i t[4];
        es_quads4x4(rs + 4 * g, q, _mm_setzero_si128(), t);
        for (size_t i = 0; i < 4; i++) _mm256_storeu_si256((__m256i *)(dst + 48 * i + 16 * g), _mm256_cvtepi8_epi16(t[i]));
      }
    }
    for (; q < len; q++) {
      short *dst = ap + (q0 + q) * 48;
      for (size_t r = 0; r < 12; r++)
        for (size_t t = 0; t < 4; t++) dst[r * 4 + t] = rs[r][4 * q + t];
    }
    q0 += len;
  }
}

/// 6 rows (ap16 already offset to the first) x 8 channels (w: the quad's first channel) over kq quads: 12
/// accumulators, each 4 channels x 2 pair sums; folded to 8 channel sums per row at the end.
__attribute__((target("avx2"), always_inline))
static inline void es_qs8_6x8_avx2(size_t rows, size_t kq, const short *ap, const signed char *w, int *c, size_t ldc,
                                   int accumulate) {
  __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
  __m256i a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
  for (size_t q = 0; q < kq; q++) {
    const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + q * 64)));
    const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + q * 64 + 16)));
    const short *aq = ap + q * 48;
#define ES_ROW(r) { long long v_; memcpy(&v_, aq + 4 * r, 8); const __m256i x = _mm256_set1_epi64x(v_); \
      a##r##0 = _mm256_add_epi32(a##r##0, _mm256_madd_epi16(x, w0)); a##r##1 = _mm256_add_epi32(a##r##1, _mm256_madd_epi16(x, w1)); }
    ES_ROW(0) ES_ROW(1) ES_ROW(2) ES_ROW(3) ES_ROW(4) ES_ROW(5)
#undef ES_ROW
  }
  // hadd: [c0 c1 c4 c5 | c2 c3 c6 c7]; the 64-bit permute puts the channels in order.
  const __m256i acc[6] = {
      _mm256_permute4x64_epi64(_mm256_hadd_epi32(a00, a01), 0xD8), _mm256_permute4x64_epi64(_mm256_hadd_epi32(a10, a11), 0xD8),
      _mm256_permute4x64_epi64(_mm256_hadd_epi32(a20, a21), 0xD8), _mm256_permute4x64_epi64(_mm256_hadd_epi32(a30, a31), 0xD8),
      _mm256_permute4x64_epi64(_mm256_hadd_epi32(a40, a41), 0xD8), _mm256_permute4x64_epi64(_mm256_hadd_epi32(a50, a51), 0xD8)};
  for (size_t r = 0; r < rows; r++) {
    __m256i v = acc[r];
    if (accumulate) v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)(c + r * ldc)));
    _mm256_storeu_si256((__m256i *)(c + r * ldc), v);
  }
}

__attribute__((target("avx2")))
void es_qs8_gemm_12x16p__avx2(size_t mr, size_t kq, const short *ap, const signed char *w, int *c, int accumulate) {
  for (size_t r0 = 0; r0 < mr; r0 += 6) {
    const size_t rows = mr - r0 < 6 ? mr - r0 : 6;
    es_qs8_6x8_avx2(rows, kq, ap + r0 * 4, w, c + r0 * 32, 32, accumulate);
    es_qs8_6x8_avx2(rows, kq, ap + r0 * 4, w + 32, c + r0 * 32 + 8, 32, accumulate);
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
void es_qs8_pack_a12_s16(size_t nseg, const size_t *seg_kq, const signed char *const *rows, size_t kq, short *ap) {
  (void)nseg; (void)seg_kq; (void)rows; (void)kq; (void)ap;
  __builtin_trap();
}
void es_qs8_gemm_12x16p__avx2(size_t mr, size_t kq, const short *ap, const signed char *w, int *c, int accumulate) {
  (void)mr; (void)kq; (void)ap; (void)w; (void)c; (void)accumulate;
  __builtin_trap();
}
#endif
