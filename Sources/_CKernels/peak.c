// Peak-throughput probes for bench/KernelBench: independent chains of one instruction, so the
// measured rate is the machine's issue limit for it. Not used by inference.
#include "es_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

// 20 chains: vpdpbusd has a latency of 5 cycles on 2 ports here, so 10 chains (this probe until session
// 9) measured ~290 GMAC/s where the int8 microkernel alone, with 24 accumulators, ran at ~350.
#define ES_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19)
#define ES_BARRIER __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7), "+v"(c8), \
    "+v"(c9), "+v"(c10), "+v"(c11), "+v"(c12), "+v"(c13), "+v"(c14), "+v"(c15), "+v"(c16), "+v"(c17), "+v"(c18), "+v"(c19))

__attribute__((target("avx512f,avx512bw,avx512vnni")))
int es_peak_vpdpbusd(size_t iterations) {
  const __m512i a = _mm512_set1_epi32(0x01010101), b = _mm512_set1_epi32(0x01020304);
#define ES_DECL(i) __m512i c##i = _mm512_setzero_si512();
  ES_CHAINS(ES_DECL)
#undef ES_DECL
  for (size_t i = 0; i < iterations; i++) {
#define ES_STEP(i) c##i = _mm512_dpbusd_epi32(c##i, a, b);
    ES_CHAINS(ES_STEP)
#undef ES_STEP
    ES_BARRIER;
  }
  __m512i s = _mm512_setzero_si512();
#define ES_SUM(i) s = _mm512_add_epi32(s, c##i);
  ES_CHAINS(ES_SUM)
#undef ES_SUM
  return _mm512_reduce_add_epi32(s);
}

__attribute__((target("avx512f")))
float es_peak_fma512(size_t iterations) {
  const __m512 a = _mm512_set1_ps(1.0001f), b = _mm512_set1_ps(0.9999f);
#define ES_DECL(i) __m512 c##i = _mm512_setzero_ps();
  ES_CHAINS(ES_DECL)
#undef ES_DECL
  for (size_t i = 0; i < iterations; i++) {
#define ES_STEP(i) c##i = _mm512_fmadd_ps(a, b, c##i);
    ES_CHAINS(ES_STEP)
#undef ES_STEP
    ES_BARRIER;
  }
  __m512 s = _mm512_setzero_ps();
#define ES_SUM(i) s = _mm512_add_ps(s, c##i);
  ES_CHAINS(ES_SUM)
#undef ES_SUM
  return _mm512_reduce_add_ps(s);
}

// AVX2 (no VNNI): the exact int8 multiply of the AVX2 tier is vpmaddwd on int16-widened operands (16 MACs:
// 8 lanes of a pair sum); the probe chains it on itself (c = madd(c, b): nothing to hoist out of the loop; a
// probe of madd(a, b) + c had its madd hoisted and measured vpaddd) in 12 chains.
#define ES_CHAINS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ES_BARRIER12 __asm__ volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5), "+x"(c6), "+x"(c7), \
    "+x"(c8), "+x"(c9), "+x"(c10), "+x"(c11))

__attribute__((target("avx2")))
int es_peak_vpmaddwd(size_t iterations) {
  const __m256i b = _mm256_set1_epi16(1);
#define ES_DECL(i) __m256i c##i = _mm256_set1_epi16((short)(i + 1));
  ES_CHAINS12(ES_DECL)
#undef ES_DECL
  for (size_t i = 0; i < iterations; i++) {
#define ES_STEP(i) c##i = _mm256_madd_epi16(c##i, b);
    ES_CHAINS12(ES_STEP)
#undef ES_STEP
    ES_BARRIER12;
  }
  __m256i s = _mm256_setzero_si256();
#define ES_SUM(i) s = _mm256_add_epi32(s, c##i);
  ES_CHAINS12(ES_SUM)
#undef ES_SUM
  return _mm256_extract_epi32(s, 0);
}

__attribute__((target("avx2,fma")))
float es_peak_fma256(size_t iterations) {
  const __m256 a = _mm256_set1_ps(1.0001f), b = _mm256_set1_ps(0.9999f);
#define ES_DECL(i) __m256 c##i = _mm256_setzero_ps();
  ES_CHAINS12(ES_DECL)
#undef ES_DECL
  for (size_t i = 0; i < iterations; i++) {
#define ES_STEP(i) c##i = _mm256_fmadd_ps(a, b, c##i);
    ES_CHAINS12(ES_STEP)
#undef ES_STEP
    ES_BARRIER12;
  }
  __m256 s = _mm256_setzero_ps();
#define ES_SUM(i) s = _mm256_add_ps(s, c##i);
  ES_CHAINS12(ES_SUM)
#undef ES_SUM
  return _mm_cvtss_f32(_mm256_castps256_ps128(s));
}
#else
int es_peak_vpmaddwd(size_t iterations) { (void)iterations; return 0; }
float es_peak_fma256(size_t iterations) { (void)iterations; return 0; }
int es_peak_vpdpbusd(size_t iterations) { (void)iterations; return 0; }
float es_peak_fma512(size_t iterations) { (void)iterations; return 0; }
#endif
