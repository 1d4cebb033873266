/* kernels_avx2.c - AVX2 + FMA + F16C kernels (compiled with those flags; reached only through
 * the table, on CPUs that have them).
 *
 * Quantized dot products work one block at a time in 8-bit integers: the weight's values are
 * unpacked to bytes, multiplied against the activation bytes with maddubs (unsigned x signed,
 * pairs summed to 16 bits), widened to 32 bits with madd, and each block's integer sum is
 * scaled by the product of the two block scales into a float accumulator.  Signed x signed
 * products use the usual sign trick (|w| x sign(w)*y).  None of the sums can saturate for the
 * value ranges the block types allow (|q8| <= 127).  The panel kernel for batches (gemm16)
 * repacks 16 weight rows so that one 32-bit lane holds one row; see its section.
 *
 * Float elementwise ops use an exp with a degree-6 polynomial after range reduction, accurate
 * to a few ulp; see KERNELS.md for the tolerances the tests hold them to.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels_impl.h"

#define RND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float f16(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* ---- float types ------------------------------------------------------------------------ */

static void dequantize_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
    for (; i < n; i++)
        dst[i] = osr_quant_f16_to_f32(s[i]);
}

static void quantize_f16(const float *src, void *dst, int64_t n)
{
    uint16_t *d = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(d + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        d[i] = osr_quant_f32_to_f16(src[i]);
}

static inline __m256 load_bf16(const uint16_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

static void dequantize_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, load_bf16(s + i));
    for (; i < n; i++)
        dst[i] = osr_quant_bf16_to_f32(s[i]);
}

static float vec_dot_f32(int64_t n, const void *w, const void *x)
{
    const float *a = w, *b = x;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static float vec_dot_f16(int64_t n, const void *w, const void *x)
{
    const uint16_t *a = w;
    const float *b = x;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i))),
                             _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 8))),
                             _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 16))),
                             _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 24))),
                             _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i))),
                             _mm256_loadu_ps(b + i), s0);
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        s += f16(a[i]) * b[i];
    return s;
}

static float vec_dot_bf16(int64_t n, const void *w, const void *x)
{
    const uint16_t *a = w;
    const float *b = x;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(load_bf16(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(load_bf16(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(load_bf16(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum_ps(_mm256_add_ps(s0, s1));
    for (; i < n; i++)
        s += osr_quant_bf16_to_f32(a[i]) * b[i];
    return s;
}

/* ---- 32-value blocks -------------------------------------------------------------------- */

/* 16 bytes of nibbles -> 32 bytes: low nibbles (values 0..15) then high nibbles (16..31). */
static inline __m256i unpack_nibbles(const uint8_t *qs)
{
    const __m128i m4 = _mm_set1_epi8(0xF);
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4));
}

/* The 32 bits at p -> 32 bytes, 0xFF where the bit is set. */
static inline __m256i bits_to_bytes(const uint8_t *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* Sum of u[i] * s[i] (u unsigned bytes, s signed) as 8 int32 lanes, as floats. */
static inline __m256 dot_us(__m256i u, __m256i s)
{
    __m256i p = _mm256_maddubs_epi16(u, s);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* Sum of a[i] * b[i] for signed bytes (|a| <= 127 or b never -128). */
static inline __m256 dot_ss(__m256i a, __m256i b)
{
    return dot_us(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

static float vec_dot_q4_0(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q4_0 *a = w;
    const struct osr_block_q8_0 *b = x;
    const __m256i off = _mm256_set1_epi8(8);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t nb = n / OSR_QK, i = 0;
    for (; i + 2 <= nb; i += 2) {
        __m256i q0 = _mm256_sub_epi8(unpack_nibbles(a[i].qs), off);
        __m256i q1 = _mm256_sub_epi8(unpack_nibbles(a[i + 1].qs), off);
        __m256i y0 = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256i y1 = _mm256_loadu_si256((const __m256i *)b[i + 1].qs);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), dot_ss(q0, y0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i + 1].d) * f16(b[i + 1].d)), dot_ss(q1, y1),
                               acc1);
    }
    for (; i < nb; i++) {
        __m256i q0 = _mm256_sub_epi8(unpack_nibbles(a[i].qs), off);
        __m256i y0 = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), dot_ss(q0, y0), acc0);
    }
    return hsum_ps(_mm256_add_ps(acc0, acc1));
}

static float vec_dot_q4_1(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q4_1 *a = w;
    const struct osr_block_q8_1 *b = x;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK; i++) {
        __m256i q = unpack_nibbles(a[i].qs);
        __m256i y = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), dot_us(q, y), acc);
        mins += f16(a[i].m) * f16(b[i].s);
    }
    return hsum_ps(acc) + mins;
}

static float vec_dot_q5_0(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q5_0 *a = w;
    const struct osr_block_q8_0 *b = x;
    const __m256i off = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / OSR_QK; i++) {
        __m256i hb = _mm256_and_si256(bits_to_bytes(a[i].qh), off);
        __m256i q = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(a[i].qs), hb), off);
        __m256i y = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), dot_ss(q, y), acc);
    }
    return hsum_ps(acc);
}

static float vec_dot_q5_1(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q5_1 *a = w;
    const struct osr_block_q8_1 *b = x;
    const __m256i bit4 = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK; i++) {
        __m256i hb = _mm256_and_si256(bits_to_bytes(a[i].qh), bit4);
        __m256i q = _mm256_or_si256(unpack_nibbles(a[i].qs), hb);
        __m256i y = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), dot_us(q, y), acc);
        mins += f16(a[i].m) * f16(b[i].s);
    }
    return hsum_ps(acc) + mins;
}

static float vec_dot_q8_0(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q8_0 *a = w;
    const struct osr_block_q8_0 *b = x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t nb = n / OSR_QK, i = 0;
    for (; i + 2 <= nb; i += 2) {
        __m256i q0 = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256i q1 = _mm256_loadu_si256((const __m256i *)a[i + 1].qs);
        __m256i y0 = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256i y1 = _mm256_loadu_si256((const __m256i *)b[i + 1].qs);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), dot_ss(q0, y0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i + 1].d) * f16(b[i + 1].d)), dot_ss(q1, y1),
                               acc1);
    }
    for (; i < nb; i++) {
        __m256i q0 = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256i y0 = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), dot_ss(q0, y0), acc0);
    }
    return hsum_ps(_mm256_add_ps(acc0, acc1));
}

/* Same blocks as the scalar quantizer: max |x|, d = amax / 127, q = round-to-even(x / d). */
static void quantize_q8_0(const float *src, void *dst, int64_t n)
{
    struct osr_block_q8_0 *y = dst;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        const float *x = src + b * OSR_QK;
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        __m256 m =
            _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absmask), _mm256_and_ps(v1, absmask)),
                          _mm256_max_ps(_mm256_and_ps(v2, absmask), _mm256_and_ps(v3, absmask)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = osr_quant_f32_to_f16(d);
        __m256 vid = _mm256_set1_ps(id);
        __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, vid), RND));
        __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, vid), RND));
        __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, vid), RND));
        __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, vid), RND));
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[b].qs, p);
    }
}

/* ---- 4 rows x up to 4 vectors ----------------------------------------------------------- *
 * The weights of a block are unpacked once and used against every vector; the activations
 * are loaded once and used by every row.  Vectors go two at a time so that the 8
 * accumulators and the operands fit the 16 ymm registers.  (A Q8_0 version measured slower
 * than vec_dot: it has no unpacking to share.) */

/* Q4_0: unsigned nibbles x y through maddubs, minus 8 * sum(y) per lane (shared by rows). */
static inline __attribute__((always_inline)) void gemm4_q4_0_pass(int64_t n, const char *w,
                                                                  size_t row_bytes, const char *x,
                                                                  size_t x_stride, const int nv,
                                                                  float *y, int64_t y_stride)
{
    const __m256i ones = _mm256_set1_epi16(1), eight = _mm256_set1_epi8(8);
    __m256 acc[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < n / OSR_QK; i++) {
        __m256i Y[2], Ys[2];
        float dx[2];
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            const struct osr_block_q8_0 *b =
                (const struct osr_block_q8_0 *)(x + (size_t)v * x_stride) + i;
            Y[v] = _mm256_loadu_si256((const __m256i *)b->qs);
            dx[v] = f16(b->d);
            Ys[v] = _mm256_madd_epi16(_mm256_maddubs_epi16(eight, Y[v]), ones);
        }
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const struct osr_block_q4_0 *blk =
                (const struct osr_block_q4_0 *)(w + (size_t)r * row_bytes) + i;
            float dw = f16(blk->d);
            __m256i q = unpack_nibbles(blk->qs);
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++) {
                __m256i d =
                    _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q, Y[v]), ones), Ys[v]);
                acc[r][v] =
                    _mm256_fmadd_ps(_mm256_set1_ps(dw * dx[v]), _mm256_cvtepi32_ps(d), acc[r][v]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            y[v * y_stride + r] = hsum_ps(acc[r][v]);
    }
}

static void gemm4_q4_0(int64_t n, const void *w, size_t row_bytes, const void *x, size_t x_stride,
                       int nv, float *y, int64_t y_stride)
{
    for (int v = 0; v < nv; v += 2) {
        const char *xv = (const char *)x + (size_t)v * x_stride;
        if (nv - v >= 2)
            gemm4_q4_0_pass(n, w, row_bytes, xv, x_stride, 2, y + v * y_stride, y_stride);
        else
            gemm4_q4_0_pass(n, w, row_bytes, xv, x_stride, 1, y + v * y_stride, y_stride);
    }
}

/* F16 x F32: each 8-value slice of a row is converted once for both vectors of a pass. */
static inline __attribute__((always_inline)) void gemm4_f16_pass(int64_t n, const char *w,
                                                                 size_t row_bytes, const float *x,
                                                                 size_t x_stride, const int nv,
                                                                 float *y, int64_t y_stride)
{
    __m256 acc[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm256_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 X[2];
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            X[v] = _mm256_loadu_ps((const float *)((const char *)x + (size_t)v * x_stride) + i);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const uint16_t *a = (const uint16_t *)(w + (size_t)r * row_bytes);
            __m256 W = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i)));
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm256_fmadd_ps(W, X[v], acc[r][v]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
        const uint16_t *a = (const uint16_t *)(w + (size_t)r * row_bytes);
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            const float *b = (const float *)((const char *)x + (size_t)v * x_stride);
            float s = hsum_ps(acc[r][v]);
            for (int64_t k = i; k < n; k++)
                s += f16(a[k]) * b[k];
            y[v * y_stride + r] = s;
        }
    }
}

static void gemm4_f16(int64_t n, const void *w, size_t row_bytes, const void *x, size_t x_stride,
                      int nv, float *y, int64_t y_stride)
{
    for (int v = 0; v < nv; v += 2) {
        const float *xv = (const float *)((const char *)x + (size_t)v * x_stride);
        if (nv - v >= 2)
            gemm4_f16_pass(n, w, row_bytes, xv, x_stride, 2, y + v * y_stride, y_stride);
        else
            gemm4_f16_pass(n, w, row_bytes, xv, x_stride, 1, y + v * y_stride, y_stride);
    }
}

/* Same blocks as the scalar Q8_K quantizer (d = max|x| / 127 as a float, round-to-even), with
 * the 16-value sums taken from the packed bytes. */
static void quantize_q8_k(const float *src, void *dst, int64_t n)
{
    struct osr_block_q8_k *y = dst;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        const float *x = src + b * OSR_QK_K;
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < OSR_QK_K; j += 8)
            m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + j), absmask));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float d = _mm_cvtss_f32(m4) / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = d;
        __m256 vid = _mm256_set1_ps(id);
        for (int j = 0; j < OSR_QK_K; j += 32) {
            __m256i i0 = _mm256_cvtps_epi32(
                _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j), vid), RND));
            __m256i i1 = _mm256_cvtps_epi32(
                _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), vid), RND));
            __m256i i2 = _mm256_cvtps_epi32(
                _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), vid), RND));
            __m256i i3 = _mm256_cvtps_epi32(
                _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), vid), RND));
            __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            p = _mm256_permutevar8x32_epi32(p, perm);
            _mm256_storeu_si256((__m256i *)(y[b].qs + j), p);
            /* lanes 0..3 of the 4-byte sums hold values j..j+15, lanes 4..7 the next 16 */
            /* maddubs(1 unsigned, q signed) sums signed byte pairs */
            __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, p), ones16);
            s4 = _mm256_hadd_epi32(s4, s4);
            s4 = _mm256_hadd_epi32(s4, s4);
            y[b].bsums[j / 16] = (int16_t)_mm256_cvtsi256_si32(s4);
            y[b].bsums[j / 16 + 1] = (int16_t)_mm256_extract_epi32(s4, 4);
        }
    }
}

/* ---- K-quants --------------------------------------------------------------------------- */

static inline int hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* sum over sub-blocks j of m_j * (bsums[2j] + bsums[2j+1]) */
static inline int k4_mins(const uint8_t *m, const int16_t *bsums)
{
    __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                                   _mm_loadu_si128((const __m128i *)(bsums + 8)));
    __m128i p = _mm_madd_epi16(pairs, _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)m)));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(1, 0, 3, 2)));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(p);
}

static float vec_dot_q4_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q4_k *a = w;
    const struct osr_block_q8_k *b = x;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        uint8_t sc[8], m[8];
        osr_quant_k4_unpack(a[i].scales, sc, m);
        __m256i sum = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * c));
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i y0 = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c));
            __m256i y1 = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c + 32));
            __m256i p0 =
                _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), _mm256_set1_epi16(sc[2 * c]));
            __m256i p1 =
                _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), _mm256_set1_epi16(sc[2 * c + 1]));
            sum = _mm256_add_epi32(sum, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * f16(a[i].d)), _mm256_cvtepi32_ps(sum), acc);
        mins += b[i].d * f16(a[i].dmin) * (float)k4_mins(m, b[i].bsums);
    }
    return hsum_ps(acc) - mins;
}

static float vec_dot_q5_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q5_k *a = w;
    const struct osr_block_q8_k *b = x;
    const __m256i m4 = _mm256_set1_epi8(0xF), bit4 = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        uint8_t sc[8], m[8];
        osr_quant_k4_unpack(a[i].scales, sc, m);
        __m256i hb = _mm256_loadu_si256((const __m256i *)a[i].qh);
        __m256i sum = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i b0 = _mm256_set1_epi8((char)(1 << (2 * c)));
            __m256i b1 = _mm256_set1_epi8((char)(1 << (2 * c + 1)));
            __m256i h0 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, b0), b0), bit4);
            __m256i h1 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, b1), b1), bit4);
            __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * c));
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
            __m256i y0 = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c));
            __m256i y1 = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c + 32));
            __m256i p0 =
                _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), _mm256_set1_epi16(sc[2 * c]));
            __m256i p1 =
                _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), _mm256_set1_epi16(sc[2 * c + 1]));
            sum = _mm256_add_epi32(sum, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * f16(a[i].d)), _mm256_cvtepi32_ps(sum), acc);
        mins += b[i].d * f16(a[i].dmin) * (float)k4_mins(m, b[i].bsums);
    }
    return hsum_ps(acc) - mins;
}

/* Two int16 scales, one per 16-value half of a 32-byte vector, as madd operands. */
static inline __m256i scale_pair(const int8_t *sc)
{
    return _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]));
}

static float vec_dot_q6_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q6_k *a = w;
    const struct osr_block_q8_k *b = x;
    const __m256i m4 = _mm256_set1_epi8(0xF), m30 = _mm256_set1_epi8(0x30);
    float acc = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        __m256i sum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = a[i].ql + 64 * h, *qh = a[i].qh + 32 * h;
            const int8_t *sc = a[i].scales + 8 * h, *y = b[i].qs + 128 * h;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                         _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                         _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                         _mm256_and_si256(hb, m30));
            __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                         _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
            __m256i p0 = _mm256_maddubs_epi16(q0, _mm256_loadu_si256((const __m256i *)y));
            __m256i p1 = _mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)(y + 32)));
            __m256i p2 = _mm256_maddubs_epi16(q2, _mm256_loadu_si256((const __m256i *)(y + 64)));
            __m256i p3 = _mm256_maddubs_epi16(q3, _mm256_loadu_si256((const __m256i *)(y + 96)));
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p0, scale_pair(sc)));
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p1, scale_pair(sc + 2)));
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p2, scale_pair(sc + 4)));
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p3, scale_pair(sc + 6)));
        }
        /* the -32 offset: 32 * sum_g sc_g * bsums_g */
        __m256i scw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        __m256i bs = _mm256_loadu_si256((const __m256i *)b[i].bsums);
        int off = hsum_epi32(_mm256_madd_epi16(scw, bs)) * 32;
        float s = (float)(hsum_epi32(sum) - off);
        acc += b[i].d * f16(a[i].d) * s;
    }
    return acc;
}

/* The 32 two-bit values of plane j (0..3) of a 32-byte Q2_K/Q3_K quant half. */
static inline __m256i plane_2bit(__m256i q, int j)
{
    return _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * j)), _mm256_set1_epi8(3));
}

/* Q2_K x Q8_K: per 32 values (one plane of one half, two sub-blocks) maddubs of the 2-bit
 * values against the activations, madd by the two 4-bit scales; the mins go through bsums. */
static float vec_dot_q2_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q2_k *a = w;
    const struct osr_block_q8_k *b = x;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        int8_t sc[16];
        __m128i raw = _mm_loadu_si128((const __m128i *)a[i].scales);
        _mm_storeu_si128((__m128i *)sc, _mm_and_si128(raw, _mm_set1_epi8(0xF)));
        __m256i sum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * h));
            const int8_t *y = b[i].qs + 128 * h;
            for (int j = 0; j < 4; j++) {
                __m256i p = _mm256_maddubs_epi16(plane_2bit(q, j),
                                                 _mm256_loadu_si256((const __m256i *)(y + 32 * j)));
                sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, scale_pair(sc + 8 * h + 2 * j)));
            }
        }
        __m256i mins =
            _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0xF)));
        __m256i bs = _mm256_loadu_si256((const __m256i *)b[i].bsums);
        int summ = hsum_epi32(_mm256_madd_epi16(mins, bs));
        acc += b[i].d * (f16(a[i].d) * (float)hsum_epi32(sum) - f16(a[i].dmin) * (float)summ);
    }
    return acc;
}

/* Q3_K x Q8_K: the values as unsigned u = low | high << 2 (0..7, q = u - 4) through maddubs
 * and the signed scales, minus 4 * sum_g sc_g * bsums_g for the offset. */
static float vec_dot_q3_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q3_k *a = w;
    const struct osr_block_q8_k *b = x;
    const __m256i four = _mm256_set1_epi8(4);
    float acc = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        int8_t sc[16];
        osr_quant_k3_scales(a[i].scales, sc);
        __m256i hb = _mm256_loadu_si256((const __m256i *)a[i].hmask);
        __m256i sum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * h));
            const int8_t *y = b[i].qs + 128 * h;
            for (int j = 0; j < 4; j++) {
                __m256i bit = _mm256_set1_epi8((char)(1u << (4 * h + j)));
                __m256i hi =
                    _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, bit), bit), four);
                __m256i u = _mm256_or_si256(plane_2bit(q, j), hi);
                __m256i p =
                    _mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)(y + 32 * j)));
                sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, scale_pair(sc + 8 * h + 2 * j)));
            }
        }
        __m256i scw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        __m256i bs = _mm256_loadu_si256((const __m256i *)b[i].bsums);
        int off = hsum_epi32(_mm256_madd_epi16(scw, bs)) * 4;
        acc += b[i].d * f16(a[i].d) * (float)(hsum_epi32(sum) - off);
    }
    return acc;
}

/* ---- elementwise ------------------------------------------------------------------------ */

/* e^x for a vector: x = k ln2 + r, |r| <= ln2/2, e^r by a degree-6 Taylor polynomial (error
 * below 2e-7 relative), 2^k put into the exponent.  Below -87.3 the result is 0; above 88.7 it
 * saturates to about 2^128 without producing inf from the polynomial. */
static inline __m256 exp_ps(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.72283f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* 2^k in two halves so that k = 128 does not overflow the exponent field */
    __m256i ki = _mm256_cvtps_epi32(k);
    __m256i k1 = _mm256_srai_epi32(ki, 1), k2 = _mm256_sub_epi32(ki, k1);
    __m256 s1 =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, _mm256_set1_epi32(127)), 23));
    __m256 s2 =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, _mm256_set1_epi32(127)), 23));
    p = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    return _mm256_andnot_ps(under, p);
}

static void add(float *y, const float *a, const float *b, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++)
        y[i] = a[i] + b[i];
}

static void mul(float *y, const float *a, const float *b, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++)
        y[i] = a[i] * b[i];
}

static void scale(float *y, const float *x, float s, int64_t n)
{
    __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    for (; i < n; i++)
        y[i] = x[i] * s;
}

static void axpy(float *y, float a, const float *x, int64_t n)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

static void axpy_f16(float *y, float a, const uint16_t *x, int64_t n)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, xv, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++)
        y[i] += a * f16(x[i]);
}

static void rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        s0 = _mm256_fmadd_ps(a, a, s0);
        s1 = _mm256_fmadd_ps(b, b, s1);
    }
    double ss = hsum_ps(_mm256_add_ps(s0, s1));
    for (; i < n; i++)
        ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    __m256 vr = _mm256_set1_ps(r);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vr);
        if (w)
            v = _mm256_mul_ps(v, _mm256_loadu_ps(w + i));
        _mm256_storeu_ps(y + i, v);
    }
    for (; i < n; i++)
        y[i] = x[i] * r * (w ? w[i] : 1.0f);
}

static void softmax(float *x, int64_t n)
{
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float max = _mm_cvtss_f32(m4);
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;
    __m256 vm = _mm256_set1_ps(max), vs = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        vs = _mm256_add_ps(vs, e);
    }
    double sum = hsum_ps(vs);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    scale(x, x, (float)(1.0 / sum), n);
}

static inline __m256 silu_ps(__m256 x)
{
    __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

static void silu(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, silu_ps(_mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        y[i] = x[i] / (1.0f + expf(-x[i]));
}

static void swiglu(float *y, const float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(
            y + i, _mm256_mul_ps(silu_ps(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
    for (; i < n; i++)
        y[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

/* ---- 16 rows x a whole batch (panel) ------------------------------------------------------ *
 * The AVX2 form of the VNNI panel kernel in kernels_avx512.c (same batch view, same item):
 * 16 rows are two registers of 8 lanes, lane r of register g holding values 4g..4g+3 of row
 * r.  Without vpdpbusd the products go through maddubs + madd, which needs an unsigned side:
 * the repacked slice keeps |w| next to w, and the activation (the batch view's x + 128, flipped
 * back to signed) takes w's sign, so every pair sum stays below 2^15 (|w| <= 128, |x| <= 127).
 * 16 registers allow 2 vectors per tile. */
#define P16_KB 16 /* blocks per repacked slice: 16 KiB of bytes and signs */
#define P16_NC 2  /* vectors per register tile */

struct p16_slice {
    int32_t q[P16_KB][8][16]; /* [block][group of four values][row], four int8 each */
    int32_t a[P16_KB][8][16]; /* the same, absolute values */
    float d[P16_KB][16];
};

/* The weight types of the panel kernels (a constant after inlining). */
enum { P16_Q4_0, P16_Q8_0, P16_Q5_0 };

static inline __m256i p16_row(const char *blk, const int kind)
{
    if (kind == P16_Q8_0)
        return _mm256_loadu_si256((const __m256i *)(blk + 2));
    if (kind == P16_Q5_0) { /* d, the 32 fifth bits, the nibbles */
        const __m256i off = _mm256_set1_epi8(16);
        __m256i hb = _mm256_and_si256(bits_to_bytes((const uint8_t *)blk + 2), off);
        return _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles((const uint8_t *)blk + 6), hb), off);
    }
    return _mm256_sub_epi8(unpack_nibbles((const uint8_t *)blk + 2), _mm256_set1_epi8(8));
}

/* Rows h*8..h*8+7 of blocks kb0..kb0+kn into sl, by an 8 x 8 transpose of 32-bit words. */
static inline __attribute__((always_inline)) void p16_repack(struct p16_slice *sl, const char *w,
                                                             size_t row_bytes, int64_t kb0, int kn,
                                                             const int kind)
{
    const size_t bb = kind == P16_Q8_0   ? sizeof(struct osr_block_q8_0)
                      : kind == P16_Q5_0 ? sizeof(struct osr_block_q5_0)
                                         : sizeof(struct osr_block_q4_0);
    for (int b = 0; b < kn; b++) {
        const char *base = w + (size_t)(kb0 + b) * bb;
        for (int h = 0; h < 2; h++) {
            __m256i z[8], t[8], u[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                z[i] = p16_row(base + (size_t)(h * 8 + i) * row_bytes, kind);
#pragma GCC unroll 4
            for (int i = 0; i < 8; i += 2) {
                t[i] = _mm256_unpacklo_epi32(z[i], z[i + 1]);
                t[i + 1] = _mm256_unpackhi_epi32(z[i], z[i + 1]);
            }
#pragma GCC unroll 2
            for (int i = 0; i < 8; i += 4) {
                u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
                u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
                u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
                u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
            }
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) {
                __m256i lo = _mm256_permute2x128_si256(u[g], u[g + 4], 0x20);
                __m256i hi = _mm256_permute2x128_si256(u[g], u[g + 4], 0x31);
                _mm256_store_si256((__m256i *)&sl->q[b][g][h * 8], lo);
                _mm256_store_si256((__m256i *)&sl->q[b][g + 4][h * 8], hi);
                _mm256_store_si256((__m256i *)&sl->a[b][g][h * 8], _mm256_abs_epi8(lo));
                _mm256_store_si256((__m256i *)&sl->a[b][g + 4][h * 8], _mm256_abs_epi8(hi));
            }
        }
        for (int r = 0; r < 16; r++) {
            uint16_t d;
            memcpy(&d, base + (size_t)r * row_bytes, 2);
            sl->d[b][r] = f16(d);
        }
    }
}

static inline __attribute__((always_inline)) void p16_tile(const struct p16_slice *sl, int kn,
                                                           const uint8_t *xq, const float *xd,
                                                           int64_t bstride, const int nc, float *y,
                                                           int64_t y_stride, int first)
{
    const __m256i ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8((char)0x80);
    __m256 acc[P16_NC][2];
#pragma GCC unroll 2
    for (int c = 0; c < nc; c++)
        acc[c][0] = acc[c][1] = _mm256_setzero_ps();
    for (int b = 0; b < kn; b++, xq += bstride * OSR_QK, xd += bstride) {
        __m256i s[P16_NC][2];
#pragma GCC unroll 2
        for (int c = 0; c < nc; c++)
            s[c][0] = s[c][1] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m256i w0 = _mm256_load_si256((const __m256i *)&sl->q[b][g][0]);
            __m256i w1 = _mm256_load_si256((const __m256i *)&sl->q[b][g][8]);
            __m256i a0 = _mm256_load_si256((const __m256i *)&sl->a[b][g][0]);
            __m256i a1 = _mm256_load_si256((const __m256i *)&sl->a[b][g][8]);
#pragma GCC unroll 2
            for (int c = 0; c < nc; c++) {
                int32_t xv;
                memcpy(&xv, xq + c * OSR_QK + 4 * g, 4);
                __m256i x = _mm256_xor_si256(_mm256_set1_epi32(xv), flip);
                s[c][0] = _mm256_add_epi32(
                    s[c][0],
                    _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(x, w0)), ones));
                s[c][1] = _mm256_add_epi32(
                    s[c][1],
                    _mm256_madd_epi16(_mm256_maddubs_epi16(a1, _mm256_sign_epi8(x, w1)), ones));
            }
        }
        __m256 d0 = _mm256_load_ps(&sl->d[b][0]), d1 = _mm256_load_ps(&sl->d[b][8]);
#pragma GCC unroll 2
        for (int c = 0; c < nc; c++) {
            __m256 dx = _mm256_broadcast_ss(xd + c);
            acc[c][0] =
                _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[c][0]), _mm256_mul_ps(d0, dx), acc[c][0]);
            acc[c][1] =
                _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[c][1]), _mm256_mul_ps(d1, dx), acc[c][1]);
        }
    }
#pragma GCC unroll 2
    for (int c = 0; c < nc; c++) {
        float *yc = y + c * y_stride;
        if (first) {
            _mm256_storeu_ps(yc, acc[c][0]);
            _mm256_storeu_ps(yc + 8, acc[c][1]);
        } else {
            _mm256_storeu_ps(yc, _mm256_add_ps(_mm256_loadu_ps(yc), acc[c][0]));
            _mm256_storeu_ps(yc + 8, _mm256_add_ps(_mm256_loadu_ps(yc + 8), acc[c][1]));
        }
    }
}

static inline __attribute__((always_inline)) void
gemm16_0(int64_t n, const void *w, size_t row_bytes, const struct osr_q8_0_batch *x, int64_t v0,
         int64_t nv, float *y, int64_t y_stride, const int kind)
{
    _Alignas(64) struct p16_slice sl;
    const int64_t nb = n / OSR_QK, bs = x->nvec;
    for (int64_t kb0 = 0; kb0 < nb; kb0 += P16_KB) {
        int kn = nb - kb0 < P16_KB ? (int)(nb - kb0) : P16_KB;
        p16_repack(&sl, w, row_bytes, kb0, kn, kind);
        int first = kb0 == 0;
        int64_t v = 0;
        for (; v + P16_NC <= nv; v += P16_NC)
            p16_tile(&sl, kn, x->qs + (kb0 * bs + v0 + v) * OSR_QK, x->d + kb0 * bs + v0 + v, bs,
                     P16_NC, y + v * y_stride, y_stride, first);
        if (v < nv)
            p16_tile(&sl, kn, x->qs + (kb0 * bs + v0 + v) * OSR_QK, x->d + kb0 * bs + v0 + v, bs, 1,
                     y + v * y_stride, y_stride, first);
    }
}

static void gemm16_q4_0(int64_t n, const void *w, size_t row_bytes, const struct osr_q8_0_batch *x,
                        int64_t v0, int64_t nv, float *y, int64_t y_stride)
{
    gemm16_0(n, w, row_bytes, x, v0, nv, y, y_stride, P16_Q4_0);
}

static void gemm16_q8_0(int64_t n, const void *w, size_t row_bytes, const struct osr_q8_0_batch *x,
                        int64_t v0, int64_t nv, float *y, int64_t y_stride)
{
    gemm16_0(n, w, row_bytes, x, v0, nv, y, y_stride, P16_Q8_0);
}

static void gemm16_q5_0(int64_t n, const void *w, size_t row_bytes, const struct osr_q8_0_batch *x,
                        int64_t v0, int64_t nv, float *y, int64_t y_stride)
{
    gemm16_0(n, w, row_bytes, x, v0, nv, y, y_stride, P16_Q5_0);
}

void osr_kernels_fill_avx2(struct osr_kernels *k)
{
    k->dequantize[OSR_QTYPE_F16] = dequantize_f16;
    k->quantize[OSR_QTYPE_F16] = quantize_f16;
    k->dequantize[OSR_QTYPE_BF16] = dequantize_bf16;
    k->quantize[OSR_QTYPE_Q8_0] = quantize_q8_0;
    k->quantize[OSR_QTYPE_Q8_K] = quantize_q8_k;

    k->vec_dot[OSR_QTYPE_F32] = vec_dot_f32;
    k->vec_dot[OSR_QTYPE_F16] = vec_dot_f16;
    k->vec_dot[OSR_QTYPE_BF16] = vec_dot_bf16;
    k->vec_dot[OSR_QTYPE_Q4_0] = vec_dot_q4_0;
    k->vec_dot[OSR_QTYPE_Q4_1] = vec_dot_q4_1;
    k->vec_dot[OSR_QTYPE_Q5_0] = vec_dot_q5_0;
    k->vec_dot[OSR_QTYPE_Q5_1] = vec_dot_q5_1;
    k->vec_dot[OSR_QTYPE_Q8_0] = vec_dot_q8_0;
    k->vec_dot[OSR_QTYPE_Q2_K] = vec_dot_q2_k;
    k->vec_dot[OSR_QTYPE_Q3_K] = vec_dot_q3_k;
    k->vec_dot[OSR_QTYPE_Q4_K] = vec_dot_q4_k;
    k->vec_dot[OSR_QTYPE_Q5_K] = vec_dot_q5_k;
    k->vec_dot[OSR_QTYPE_Q6_K] = vec_dot_q6_k;
    k->gemm4[OSR_QTYPE_Q4_0] = gemm4_q4_0;
    k->gemm4[OSR_QTYPE_F16] = gemm4_f16;
    k->gemm16[OSR_QTYPE_Q4_0] = gemm16_q4_0;
    k->gemm16[OSR_QTYPE_Q8_0] = gemm16_q8_0;
    k->gemm16[OSR_QTYPE_Q5_0] = gemm16_q5_0;

    k->add = add;
    k->mul = mul;
    k->scale = scale;
    k->axpy = axpy;
    k->axpy_f16 = axpy_f16;
    k->rmsnorm = rmsnorm;
    k->softmax = softmax;
    k->silu = silu;
    k->swiglu = swiglu;
}
