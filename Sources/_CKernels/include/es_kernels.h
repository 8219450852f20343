// _CKernels: ISA-specific microkernels and the CPU feature query. Not API: only Sources/Kernels imports it.
// Every function here has a portable Swift twin in Sources/Kernels, and a test pins one to the other.
#ifndef ES_KERNELS_H
#define ES_KERNELS_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 if the running CPU (and OS) supports the named extension, else 0. Always 0 off x86-64.
int es_cpu_has_avx2_fma(void);
int es_cpu_has_avx512f(void);
int es_cpu_has_avx512vnni(void);
int es_cpu_has_neon(void);
int es_cpu_has_neon_dotprod(void);
int es_cpu_has_neon_i8mm(void);

/// f32 GEMM microkernels: C[r][j] (+)= sum_k a[r][k] * b[k*NR + j] for r < mr, j < nr.
/// - a: MR row pointers (rows >= mr may repeat a[0]; they are computed and discarded), each kc contiguous floats.
/// - b: packed panel, kc rows of exactly NR floats (columns >= nr are zero padding).
/// - c: row stride ldc floats; only r < mr, j < nr are read (if accumulate) and written.
/// Each call sums k ascending from zero with one fused multiply-add per k, then adds c if accumulate.
/// The portable Swift kernel does the same (`addingProduct`), so every tier gives the same bits as
/// F32GEMM's reference, independent of the thread count.
void es_f32_gemm_8x32__avx512f(size_t mr, size_t nr, size_t kc, const float *const *a, const float *b, float *c,
                               size_t ldc, int accumulate);
void es_f32_gemm_6x16__avx2(size_t mr, size_t nr, size_t kc, const float *const *a, const float *b, float *c,
                            size_t ldc, int accumulate);
/// arm64 NEON (every arm64), the same contract; traps elsewhere.
void es_f32_gemm_6x16__neon(size_t mr, size_t nr, size_t kc, const float *const *a, const float *b, float *c,
                            size_t ldc, int accumulate);

/// int8 GEMM microkernels over one packed panel (`qgemm_i8x4_n16`, docs/FORMAT.md), reading A through row
/// pointers (the AVX2 and NEON tiers; AVX-512 VNNI packs A first, below):
/// c[r][j] (+)= sum_q sum_t (a[r][4q+t] + 128) * w[q*64 + j*4 + t] for r < mr <= 8, j < 16, q < kq.
/// - a: 8 row pointers of signed int8 activations (rows >= mr may repeat a[0]), each readable for 4*kq bytes;
///   the +128 turns them into the unsigned operand of vpdpbusd (callers subtract 128 * column sums).
/// - w: kq * 64 bytes of signed int8 weights; c: int32, row stride ldc. Integer math: exact.
/// arm64, the "signed A" contract: c[r][j] (+)= sum_q sum_t a[r][4q+t] * w[q*64 + j*4 + t] (no +128: callers'
/// corrections omit the 128 * column sums for these tiers); otherwise as above. Weights must lie in
/// [-127, 127] (QGEMMPacking's symmetric quantization): the baseline tier sums two int8 products in int16.
/// Exact. neon: ARMv8.0 smull/smlal/sadalp; neondot: sdot (FEAT_DotProd); neoni8mm: smmla (FEAT_I8MM).
/// They trap off arm64.
void es_qs8_gemm_8x16__neon(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                            size_t ldc, int accumulate);
void es_qs8_gemm_8x16__neondot(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                               size_t ldc, int accumulate);
void es_qs8_gemm_8x16__neoni8mm(size_t mr, size_t kq, const signed char *const *a, const signed char *w, int *c,
                                size_t ldc, int accumulate);

/// Packed-A int8 GEMM (AVX-512 VNNI), 12 rows: the tile's A is first packed by es_qs8_pack_a12 into
/// ap[(q * 12 + r) * 4 + t] = (unsigned)(a_r[4q + t] + 128): quad after quad, the 12 rows of each quad
/// side by side, over all K (the segments in order: seg_kq[s] quads of 4 from rows[s * 12 + r], 12 row
/// pointers per segment, rows past the tile repeating a real row; kq = the sum of seg_kq, unused). Then
/// per panel (12x16p) or pair of panels (12x32p: w0, w1 the two panels' groups of 64 bytes), over kq
/// quads (ap and w already offset to the first quad):
/// c[r][j] (+)= sum_q sum_t ap[(q * 12 + r) * 4 + t] * w[q*64 + j*4 + t] for r < mr <= 12, row stride 32
/// ints, added to c when accumulate. Same sums as es_qs8_gemm_8x16 (callers subtract 128 * column sums); exact.
void es_qs8_pack_a12(size_t nseg, const size_t *seg_kq, const signed char *const *rows, size_t kq, unsigned char *ap);
void es_qs8_gemm_12x32p__avx512vnni(size_t mr, size_t kq, const unsigned char *ap, const signed char *w0,
                                    const signed char *w1, int *c, int accumulate);
void es_qs8_gemm_12x16p__avx512vnni(size_t mr, size_t kq, const unsigned char *ap, const signed char *w, int *c,
                                    int accumulate);
/// Packed-A int8 GEMM for AVX2 (no VNNI), the "signed A" contract (no +128): es_qs8_pack_a12_s16 packs as
/// es_qs8_pack_a12 but sign-extended to int16 (ap[(q * 12 + r) * 4 + t] = a_r[4q + t]); then
/// c[r][j] (+)= sum_q sum_t ap[(q * 12 + r) * 4 + t] * w[q*64 + j*4 + t] for r < mr <= 12, j < 16, row stride
/// 32 ints (vpmaddwd on int16: exact). Trap off x86-64.
void es_qs8_pack_a12_s16(size_t nseg, const size_t *seg_kq, const signed char *const *rows, size_t kq, short *ap);
void es_qs8_gemm_12x16p__avx2(size_t mr, size_t kq, const short *ap, const signed char *w, int *c, int accumulate);

/// int8 GEMM float epilogue over one tile row: y[j] = act(float(acc[j] + corr[j]) * scale[j]) (+ residual[j]),
/// act 0 = identity, 1 = ReLU, 2 = GELU with the rational erf of Kernels/F32GEMM.swift (`Activation.erf`).
/// Every operation is a separate IEEE float operation in the same order as the Swift definition (no
/// FMA contraction), so the AVX-512 and scalar versions give identical bits.
/// corr: the per-channel integer correction (bias and zero points), added in the same pass (a separate
/// pass over the tile was measured to stall the vector loads on store forwarding).
void es_qs8_epilogue_f32__avx512(size_t n, const int *acc, const int *corr, const float *scale, int act, const float *residual,
                                 float *y);
void es_qs8_epilogue_f32__scalar(size_t n, const int *acc, const int *corr, const float *scale, int act, const float *residual,
                                 float *y);

/// int8 GEMM epilogue handing int8 to the next layer: v as above (no residual), then
/// q[j] = clamp(roundHalfEven(v * (1 / out_scale)) clamped to [-128 - zp, 127 - zp]) + zp (QuantParams.quantize).
void es_qs8_epilogue_qs8__avx512(size_t n, const int *acc, const int *corr, const float *scale, int act, float out_scale, int zp,
                                 signed char *q);
void es_qs8_epilogue_qs8__scalar(size_t n, const int *acc, const int *corr, const float *scale, int act, float out_scale, int zp,
                                 signed char *q);

/// A whole tile of rows x n accumulators (row stride lda, read only): the row epilogue above on each row; simd 1 picks the
/// AVX-512 twin on x86-64 (the caller checks AVX-512F) or the NEON twin on arm64, simd 2 the AVX2 twin (the caller checks
/// AVX2), 0 the scalar loop (identical bits). residual and y, or q, have
/// their own row strides.
void es_qs8_epilogue_f32_tile(int simd, size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                              int act, const float *residual, size_t ldr, float *y, size_t ldy);
void es_qs8_epilogue_qs8_tile(int simd, size_t rows, size_t n, const int *acc, size_t lda, const int *corr, const float *scale,
                              int act, float out_scale, int zp, signed char *q, size_t ldq);

/// Swin window attention of one window and one head, float, AVX-512 (twin: Kernels/Attention.swift, Attention.window):
/// for each query slot i < n with out[i] != NULL, s_j = (q_i · k_j) * (1 / sqrt_d) + bias[i*n + j] (+ mask[i*n + j]),
/// p = Attention.softmaxRow(s), out[i][d] = sum_j p_j * v_j[d] for d < hd (dot products as FMAs in ascending
/// order). q, k, v, out: n row pointers to hd floats each. scratch: (hd + 4) * roundup(n, 64) floats.
/// The same bits as the portable definition.
void es_window_attention_f32__avx512f(size_t n, size_t hd, const float *const *q, const float *const *k,
                                      const float *const *v, const float *bias, const float *mask, float sqrt_d,
                                      float *const *out, float *scratch);

/// Swin window attention of one window and head in int8 (AVX-512 VNNI), head dimension 32 and n <= 64:
/// bit for bit Kernels/Attention.swift `windowInt8` (its contract), q, k, v, out as for the float form;
/// inv_sqrt_d = 1 / sqrt(32) as a float; scratch: Attention.windowInt8ScratchBytes bytes.
void es_window_attention_qs8__avx512vnni(size_t n, const float *const *q, const float *const *k, const float *const *v,
                                         const float *bias, const float *mask, float inv_sqrt_d, float *const *out, void *scratch);

/// The same on arm64 with sdot (FEAT_DotProd; traps off arm64): bit for bit `windowInt8`, scratch as above.
void es_window_attention_qs8__neondot(size_t n, const float *const *q, const float *const *k, const float *const *v,
                                      const float *bias, const float *mask, float inv_sqrt_d, float *const *out, void *scratch);

/// DETR's attention of one head, float, AVX-512 (twin: Kernels/Attention.swift, Attention.dense): rows of q
/// (nq), k and v (nk) and out, row stride ld floats: s_j = (q_i · k_j) * scale (+ mask[i·nk + j] when mask is not
/// NULL: 0 or -inf, Mask2Former's masked attention; no row entirely -inf), p = Attention.softmaxRow(s), out[i][t] = sum_j p_j * v_j[t] for t < hd (written, not accumulated; FMA dot
/// products in ascending order). scratch: (hd + 4) * roundup(nk, 64) floats. The same bits as the portable
/// definition.
void es_dense_attention_f32__avx512f(size_t nq, size_t nk, size_t hd, const float *q, const float *k, const float *v, size_t ld,
                                     float scale, const float *mask, float *out, float *scratch);

/// arm64 NEON twins of the two float attentions (same contracts and bits; traps off arm64). scratch: as above
/// (they use hd * roundup(nk, 16) + 4 * roundup(nk, 16) floats of it).
void es_window_attention_f32__neon(size_t n, size_t hd, const float *const *q, const float *const *k, const float *const *v,
                                   const float *bias, const float *mask, float sqrt_d, float *const *out, float *scratch);
void es_dense_attention_f32__neon(size_t nq, size_t nk, size_t hd, const float *q, const float *k, const float *v, size_t ld,
                                  float scale, const float *mask, float *out, float *scratch);
/// x86-64 AVX2+FMA twins of the three arm64 attentions (float window, float DETR: attention_avx2.c, the NEON code
/// with 8-lane vectors; int8 window: the same source over neon_sse.h), contracts, scratch and bits; trap off x86-64.
void es_window_attention_f32__avx2(size_t n, size_t hd, const float *const *q, const float *const *k, const float *const *v,
                                   const float *bias, const float *mask, float sqrt_d, float *const *out, float *scratch);
void es_dense_attention_f32__avx2(size_t nq, size_t nk, size_t hd, const float *q, const float *k, const float *v, size_t ld,
                                  float scale, const float *mask, float *out, float *scratch);
void es_window_attention_qs8__avx2(size_t n, const float *const *q, const float *const *k, const float *const *v,
                                   const float *bias, const float *mask, float inv_sqrt_d, float *const *out, void *scratch);

/// LayerNorm of one row of n floats, AVX-512 (twin: Kernels/Norms.swift, Norms.layerNorm, same bits):
/// float64 mean and variance summed as Norms.sumDouble (16 lanes, combine16), y = (x - m) * rstd * gamma + beta.
/// The _qs8 form writes quantize(y) (QuantParams.quantize with out_scale, zp) instead of y.
void es_layernorm_f32__avx512f(size_t n, const float *x, const float *gamma, const float *beta, float eps, float *y);
void es_layernorm_qs8__avx512f(size_t n, const float *x, const float *gamma, const float *beta, float eps, float out_scale, int zp,
                               signed char *q);
/// q[i] = QuantParams.quantize(x[i]) for i < n (twin: ActivationQuantizer.quantize, same bits).
void es_quantize_qs8__avx512f(size_t n, const float *x, float scale, int zp, signed char *q);

/// arm64 NEON twins of the three above (same bits; trap off arm64).
void es_layernorm_f32__neon(size_t n, const float *x, const float *gamma, const float *beta, float eps, float *y);
void es_layernorm_qs8__neon(size_t n, const float *x, const float *gamma, const float *beta, float eps, float out_scale, int zp,
                            signed char *q);
void es_quantize_qs8__neon(size_t n, const float *x, float scale, int zp, signed char *q);
/// x86-64 AVX2 twins of the three (the NEON source over neon_sse.h; same bits; trap off x86-64).
void es_layernorm_f32__avx2(size_t n, const float *x, const float *gamma, const float *beta, float eps, float *y);
void es_layernorm_qs8__avx2(size_t n, const float *x, const float *gamma, const float *beta, float eps, float out_scale, int zp,
                            signed char *q);
void es_quantize_qs8__avx2(size_t n, const float *x, float scale, int zp, signed char *q);

/// GroupNorm over one map row, x86-64 AVX-512 and AVX2 (twins: Kernels/Norms.swift, same bits; trap off x86-64).
/// Sums: for each channel c < channels, acc[c] += (double)x[p * channels + c] over p < pixels in ascending p
/// (minus NULL), or acc[c] += d * d with d = (double)x[p * channels + c] - minus[c]; acc is not zeroed.
void es_groupnorm_sums__avx512f(size_t pixels, size_t channels, const float *x, const double *minus, double *acc);
void es_groupnorm_sums__avx2(size_t pixels, size_t channels, const float *x, const double *minus, double *acc);
/// Affine: y[p * channels + c] = x[p * channels + c] * scale[c] + shift[c], then max(., 0) if relu (y may be x).
void es_affine_rows__avx512f(size_t pixels, size_t channels, const float *x, const float *scale, const float *shift, int relu, float *y);
void es_affine_rows__avx2(size_t pixels, size_t channels, const float *x, const float *scale, const float *shift, int relu, float *y);

/// Exact integer Winograd F(2x2, 3x3) (Kernels/Int8Winograd.swift), AVX2; trap off x86-64.
/// GEMM of one transform position: c[r][j] = sum_p sum_t v[r][2p + t] * u[p * 32 + j * 2 + t] for r < mr <= 6,
/// j < 16, p < kp (channel pairs), c row stride 16 ints; v: 6 row pointers (rows >= mr may repeat v[0]), int16.
void es_wino_gemm_6x16__avx2(size_t mr, size_t kp, const short *const *v, const short *u, int *c);
/// Input transform of one 4x4 tile: d[16] pointers to the tile's pixels (row-major, cin int8 each) ->
/// v[e * ldv + c] = (Bᵀ d B)[e] per channel c < cin, int16 (|.| <= 4 * 128).
void es_wino_input_16__avx2(size_t cin, const signed char *const *d, short *v, size_t ldv);

/// *counter += 1 atomically (relaxed order: it only hands out loop items), returning the value before.
long es_atomic_fetch_increment(long *counter);

/// One item of a pool loop: fn(ctx, item, worker).
typedef void (*es_pool_fn)(void *ctx, long item, long worker);
/// Runs fn(ctx, i, w) for every i < count on `workers` threads (the caller is worker 0, the pool's persistent
/// threads the others; items handed out by an atomic counter) and returns when all are done. Returns -1
/// without running anything when the pool is busy with another caller's loop or workers is < 2 or > 64
/// (the caller then runs the loop another way), else 0.
int es_pool_run(long count, long workers, es_pool_fn fn, void *ctx);
/// No pool loop follows soon (a forward pass ended): the pool's threads waiting for the next loop go to sleep
/// now instead of spinning first, leaving the cores to other threads (a batch's output writer). The next
/// es_pool_run wakes them and restores the spin.
void es_pool_rest(void);
/// This thread's scratch buffer of slot 0..3 with at least `bytes` bytes, 64-byte aligned (grow-only: contents
/// are not kept when it grows; freed when the thread ends), or NULL if memory ran out.
void *es_thread_scratch(int slot, size_t bytes);

/// Peak probes for bench/KernelBench: `iterations` × 10 independent vpdpbusd (64 MACs each) or
/// 512-bit FMAs (16 each). Return a value so the work is not optimized away. 0 off x86-64.
int es_peak_vpdpbusd(size_t iterations);
float es_peak_fma512(size_t iterations);
/// AVX2: `iterations` x 12 independent vpmaddwd (16 int8-range MACs each) or 256-bit FMAs (8 each).
int es_peak_vpmaddwd(size_t iterations);
float es_peak_fma256(size_t iterations);

/// Mask2Former's multi-scale deformable attention sampling for queries q0 ..< q1, x86-64 AVX2+FMA (twin:
/// Kernels/DeformableAttention.swift `sample`, the same bits; traps off x86-64). value: tokens x (heads * hd), level
/// l's height[l] x width[l] tokens from token start[l]; loc: queries x heads x levels x points x 2 (x, y normalized);
/// attn: queries x heads x levels x points; out: queries x (heads * hd), written. The __avx512 twins run 16
/// channels per step (AVX-512F; the same operations per lane, so the same bits).
void es_msda_f32__avx512(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const float *value,
                         const long *height, const long *width, const long *start, const float *loc, const float *attn, float *out);
void es_msda_qs8__avx512(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const signed char *value, float scale,
                         int zero_point, const long *height, const long *width, const long *start, const float *loc, const float *attn,
                         float *out);
void es_msda_f32__avx2(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const float *value,
                       const long *height, const long *width, const long *start, const float *loc, const float *attn, float *out);
/// The same on int8 values (row stride heads * hd), each dequantized as scale * (float)(v - zero_point) (twin:
/// DeformableAttention.runInt8).
void es_msda_qs8__avx2(size_t q0, size_t q1, size_t heads, size_t hd, size_t levels, size_t points, const signed char *value, float scale,
                       int zero_point, const long *height, const long *width, const long *start, const float *loc, const float *attn,
                       float *out);

#ifdef __cplusplus
}
#endif
#endif
