/* kernels_avx512.c - AVX-512 (F/BW/VL/DQ) kernels, and the VNNI variants of the integer dots
 * (those carry a target attribute and are only put in the avx512vnni table).
 *
 * Quantized 32-value blocks are processed two per 512-bit register: the two blocks' 64 weight
 * bytes against the matching 64 activation bytes, each 32-bit lane belonging to one block, so
 * one float vector of [d_a x8, d_b x8] scales both.  Signed products use |w| x (y negated where
 * w < 0); without VNNI the bytes go through maddubs + madd, with VNNI through vpdpbusd.  The
 * VNNI panel kernel for batches (gemm16) works the other way round, one 32-bit lane per weight
 * row over repacked rows; see its section.  What is not here falls back to the AVX2 table.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels_impl.h"

static inline float f16(uint16_t h)
{
    return _cvtsh_ss(h);
}

static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- floats ----------------------------------------------------------------------------- */

static float vec_dot_f32(int64_t n, const void *w, const void *x)
{
    const float *a = w, *b = x;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    if (i < n) { /* masked tail, up to 31 values */
        int64_t r = n - i;
        __mmask16 m0 = (__mmask16)(r >= 16 ? 0xFFFF : (1u << r) - 1);
        __mmask16 m1 = (__mmask16)(r > 16 ? (1u << (r - 16)) - 1 : 0);
        s0 =
            _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, a + i), _mm512_maskz_loadu_ps(m0, b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, a + i + 16),
                             _mm512_maskz_loadu_ps(m1, b + i + 16), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static float vec_dot_f16(int64_t n, const void *w, const void *x)
{
    const uint16_t *a = w;
    const float *b = x;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i + 16)));
        s0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i)));
        s0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(b + i), s0);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 w0 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + i));
        s0 = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static float vec_dot_bf16(int64_t n, const void *w, const void *x)
{
    const uint16_t *a = w;
    const float *b = x;
    __m512 s0 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(a + i)));
        s0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), _mm512_loadu_ps(b + i),
                             s0);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, a + i));
        s0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)),
                             _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(s0);
}

/* ---- 32-value blocks, two at a time ------------------------------------------------------ */

/* Q4_0 blocks p[0], p[1] -> 64 signed bytes (values - 8) in value order. */
static inline __m512i q4_0_pair(const struct osr_block_q4_0 *p)
{
    __m256i ab = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)p[1].qs),
                                  _mm_loadu_si128((const __m128i *)p[0].qs));
    __m512i t = _mm512_inserti64x4(_mm512_castsi256_si512(ab), _mm256_srli_epi16(ab, 4), 1);
    t = _mm512_and_si512(t, _mm512_set1_epi8(0xF));
    t = _mm512_shuffle_i64x2(t, t, _MM_SHUFFLE(3, 1, 2, 0)); /* [a lo, a hi, b lo, b hi] */
    return _mm512_sub_epi8(t, _mm512_set1_epi8(8));
}

static inline __m512i load_pair32(const int8_t *a, const int8_t *b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

static inline __m512 scales_pair(float a, float b)
{
    return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

/* Signed x signed bytes summed in groups of four into 16 int32 lanes. */
static inline __m512i dot_ss_bw(__m512i w, __m512i y)
{
    __mmask64 neg = _mm512_movepi8_mask(w);
    __m512i sy = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
    __m512i p = _mm512_maddubs_epi16(_mm512_abs_epi8(w), sy);
    return _mm512_madd_epi16(p, _mm512_set1_epi16(1));
}

__attribute__((target("avx512vnni"))) static inline __m512i dot_ss_vnni(__m512i w, __m512i y)
{
    __mmask64 neg = _mm512_movepi8_mask(w);
    __m512i sy = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), sy);
}

/* The 256-bit single-block tail (odd block counts). */
static inline float dot_ss_256(__m256i w, __m256i y)
{
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(y, w));
    return hsum256(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1))));
}

static inline __m256i q4_0_one(const struct osr_block_q4_0 *p)
{
    const __m128i m4 = _mm_set1_epi8(0xF);
    __m128i b = _mm_loadu_si128((const __m128i *)p->qs);
    __m256i v = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4));
    return _mm256_sub_epi8(v, _mm256_set1_epi8(8));
}

#define DEFINE_Q4_0(name, dot, attr)                                                               \
    attr static float name(int64_t n, const void *w, const void *x)                                \
    {                                                                                              \
        const struct osr_block_q4_0 *a = w;                                                        \
        const struct osr_block_q8_0 *b = x;                                                        \
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                             \
        int64_t nb = n / OSR_QK, i = 0;                                                            \
        for (; i + 4 <= nb; i += 4) {                                                              \
            __m512i d0 = dot(q4_0_pair(a + i), load_pair32(b[i].qs, b[i + 1].qs));                 \
            __m512i d1 = dot(q4_0_pair(a + i + 2), load_pair32(b[i + 2].qs, b[i + 3].qs));         \
            acc0 = _mm512_fmadd_ps(                                                                \
                scales_pair(f16(a[i].d) * f16(b[i].d), f16(a[i + 1].d) * f16(b[i + 1].d)),         \
                _mm512_cvtepi32_ps(d0), acc0);                                                     \
            acc1 = _mm512_fmadd_ps(                                                                \
                scales_pair(f16(a[i + 2].d) * f16(b[i + 2].d), f16(a[i + 3].d) * f16(b[i + 3].d)), \
                _mm512_cvtepi32_ps(d1), acc1);                                                     \
        }                                                                                          \
        for (; i + 2 <= nb; i += 2) {                                                              \
            __m512i d0 = dot(q4_0_pair(a + i), load_pair32(b[i].qs, b[i + 1].qs));                 \
            acc0 = _mm512_fmadd_ps(                                                                \
                scales_pair(f16(a[i].d) * f16(b[i].d), f16(a[i + 1].d) * f16(b[i + 1].d)),         \
                _mm512_cvtepi32_ps(d0), acc0);                                                     \
        }                                                                                          \
        float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));                                 \
        if (i < nb)                                                                                \
            s += f16(a[i].d) * f16(b[i].d) *                                                       \
                 dot_ss_256(q4_0_one(a + i), _mm256_loadu_si256((const __m256i *)b[i].qs));        \
        return s;                                                                                  \
    }

#define DEFINE_Q8_0(name, dot, attr)                                                               \
    attr static float name(int64_t n, const void *w, const void *x)                                \
    {                                                                                              \
        const struct osr_block_q8_0 *a = w;                                                        \
        const struct osr_block_q8_0 *b = x;                                                        \
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                             \
        int64_t nb = n / OSR_QK, i = 0;                                                            \
        for (; i + 4 <= nb; i += 4) {                                                              \
            __m512i d0 =                                                                           \
                dot(load_pair32(a[i].qs, a[i + 1].qs), load_pair32(b[i].qs, b[i + 1].qs));         \
            __m512i d1 =                                                                           \
                dot(load_pair32(a[i + 2].qs, a[i + 3].qs), load_pair32(b[i + 2].qs, b[i + 3].qs)); \
            acc0 = _mm512_fmadd_ps(                                                                \
                scales_pair(f16(a[i].d) * f16(b[i].d), f16(a[i + 1].d) * f16(b[i + 1].d)),         \
                _mm512_cvtepi32_ps(d0), acc0);                                                     \
            acc1 = _mm512_fmadd_ps(                                                                \
                scales_pair(f16(a[i + 2].d) * f16(b[i + 2].d), f16(a[i + 3].d) * f16(b[i + 3].d)), \
                _mm512_cvtepi32_ps(d1), acc1);                                                     \
        }                                                                                          \
        for (; i + 2 <= nb; i += 2) {                                                              \
            __m512i d0 =                                                                           \
                dot(load_pair32(a[i].qs, a[i + 1].qs), load_pair32(b[i].qs, b[i + 1].qs));         \
            acc0 = _mm512_fmadd_ps(                                                                \
                scales_pair(f16(a[i].d) * f16(b[i].d), f16(a[i + 1].d) * f16(b[i + 1].d)),         \
                _mm512_cvtepi32_ps(d0), acc0);                                                     \
        }                                                                                          \
        float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));                                 \
        if (i < nb)                                                                                \
            s += f16(a[i].d) * f16(b[i].d) *                                                       \
                 dot_ss_256(_mm256_loadu_si256((const __m256i *)a[i].qs),                          \
                            _mm256_loadu_si256((const __m256i *)b[i].qs));                         \
        return s;                                                                                  \
    }

#define NO_ATTR
#define VNNI_ATTR __attribute__((target("avx512vnni")))
DEFINE_Q4_0(vec_dot_q4_0, dot_ss_bw, NO_ATTR)
DEFINE_Q4_0(vec_dot_q4_0_vnni, dot_ss_vnni, VNNI_ATTR)
DEFINE_Q8_0(vec_dot_q8_0, dot_ss_bw, NO_ATTR)
DEFINE_Q8_0(vec_dot_q8_0_vnni, dot_ss_vnni, VNNI_ATTR)

/* ---- K-quants (VNNI) ---------------------------------------------------------------------- */

/* Q4_K x Q8_K: two 64-value chunks per step.  Low nibbles of chunks c, c+1 are sub-blocks 2c
 * and 2c+2, high nibbles 2c+1 and 2c+3; per-lane float scales d * sc_j come from a permute of
 * the eight sub-block scales. */
VNNI_ATTR static float vec_dot_q4_k_vnni(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q4_k *a = w;
    const struct osr_block_q8_k *b = x;
    const __m512i m4 = _mm512_set1_epi8(0xF);
    const __m512i idx_lo0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
    const __m512i idx_hi0 = _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m512i four = _mm512_set1_epi32(4);
    __m512 acc = _mm512_setzero_ps();
    float mins = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        uint8_t sc[8], m[8];
        osr_quant_k4_unpack(a[i].scales, sc, m);
        __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)b[i].bsums),
                                       _mm_loadu_si128((const __m128i *)(b[i].bsums + 8)));
        __m128i pm = _mm_madd_epi16(pairs, _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)m)));
        pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, _MM_SHUFFLE(1, 0, 3, 2)));
        pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, _MM_SHUFFLE(2, 3, 0, 1)));
        int summ = _mm_cvtsi128_si32(pm);
        float d = b[i].d * f16(a[i].d);
        mins += b[i].d * f16(a[i].dmin) * (float)summ;
        __m512 scf = _mm512_mul_ps(_mm512_zextps256_ps512(_mm256_cvtepi32_ps(
                                       _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)sc)))),
                                   _mm512_set1_ps(d));
        for (int c = 0; c < 4; c += 2) {
            __m512i q = _mm512_loadu_si512((const void *)(a[i].qs + 32 * c));
            __m512i lo = _mm512_and_si512(q, m4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            __m512i y0 = _mm512_loadu_si512((const void *)(b[i].qs + 64 * c));
            __m512i y1 = _mm512_loadu_si512((const void *)(b[i].qs + 64 * c + 64));
            __m512i ylo = _mm512_shuffle_i64x2(y0, y1, _MM_SHUFFLE(1, 0, 1, 0));
            __m512i yhi = _mm512_shuffle_i64x2(y0, y1, _MM_SHUFFLE(3, 2, 3, 2));
            __m512i dl = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, ylo);
            __m512i dh = _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi, yhi);
            __m512i il = c == 0 ? idx_lo0 : _mm512_add_epi32(idx_lo0, four);
            __m512i ih = c == 0 ? idx_hi0 : _mm512_add_epi32(idx_hi0, four);
            acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(il, scf), _mm512_cvtepi32_ps(dl), acc);
            acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(ih, scf), _mm512_cvtepi32_ps(dh), acc);
        }
    }
    return _mm512_reduce_add_ps(acc) - mins;
}

/* Q6_K x Q8_K: per half (128 values) the four 32-value groups q0..q3 of the layout, two per
 * 512-bit register; unsigned values 0..63 through vpdpbusd, the -32 offset from bsums. */
VNNI_ATTR static float vec_dot_q6_k_vnni(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q6_k *a = w;
    const struct osr_block_q8_k *b = x;
    const __m512i m4 = _mm512_set1_epi8(0xF), m30 = _mm512_set1_epi8(0x30);
    float acc = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        __m512i sum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = a[i].ql + 64 * h, *qh = a[i].qh + 32 * h;
            const int8_t *sc = a[i].scales + 8 * h;
            const int8_t *y = b[i].qs + 128 * h;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
            /* L = [l0, l1]: low nibbles give q0 (from l0) and q1 (from l1) */
            __m512i L = _mm512_inserti64x4(_mm512_castsi256_si512(l0), l1, 1);
            __m512i H = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_slli_epi16(hb, 4)),
                                           _mm256_slli_epi16(hb, 2), 1);
            __m512i H2 =
                _mm512_inserti64x4(_mm512_castsi256_si512(hb), _mm256_srli_epi16(hb, 2), 1);
            __m512i q01 = _mm512_or_si512(_mm512_and_si512(L, m4), _mm512_and_si512(H, m30));
            __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4),
                                          _mm512_and_si512(H2, m30));
            __m512i y01 = _mm512_loadu_si512((const void *)y);
            __m512i y23 = _mm512_loadu_si512((const void *)(y + 64));
            __m512i d01 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q01, y01);
            __m512i d23 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q23, y23);
            /* lanes 4k..4k+3 cover 16 values = scale group k of this half */
            __m512i s01 = _mm512_cvtepi8_epi32(
                _mm_set_epi8(sc[3], sc[3], sc[3], sc[3], sc[2], sc[2], sc[2], sc[2], sc[1], sc[1],
                             sc[1], sc[1], sc[0], sc[0], sc[0], sc[0]));
            __m512i s23 = _mm512_cvtepi8_epi32(
                _mm_set_epi8(sc[7], sc[7], sc[7], sc[7], sc[6], sc[6], sc[6], sc[6], sc[5], sc[5],
                             sc[5], sc[5], sc[4], sc[4], sc[4], sc[4]));
            sum = _mm512_add_epi32(sum, _mm512_mullo_epi32(d01, s01));
            sum = _mm512_add_epi32(sum, _mm512_mullo_epi32(d23, s23));
        }
        __m256i scw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        __m256i bs = _mm256_loadu_si256((const __m256i *)b[i].bsums);
        __m512i off = _mm512_zextsi256_si512(_mm256_madd_epi16(scw, bs));
        int total = _mm512_reduce_add_epi32(sum) - 32 * _mm512_reduce_add_epi32(off);
        acc += b[i].d * f16(a[i].d) * (float)total;
    }
    return acc;
}

/* ---- 4 rows x up to 4 vectors (VNNI) ---------------------------------------------------- *
 * Weights enter vpdpbusd as unsigned bytes (Q4_0: the nibble 0..15, Q8_0: q + 128) and the
 * offset comes back through the accumulator's start value, -offset * sum(y) per lane, which
 * depends only on the activations and so is computed once for all four rows.  The eight fp16
 * scales of four rows x two blocks convert in one instruction; a permute spreads each row's
 * pair over the lanes of its two blocks. */

/* Two Q4_0 blocks -> 64 unsigned nibbles in value order. */
static inline __m512i q4_0_pair_u(const struct osr_block_q4_0 *p)
{
    __m256i ab = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)p[1].qs),
                                  _mm_loadu_si128((const __m128i *)p[0].qs));
    __m512i t = _mm512_inserti64x4(_mm512_castsi256_si512(ab), _mm256_srli_epi16(ab, 4), 1);
    t = _mm512_and_si512(t, _mm512_set1_epi8(0xF));
    return _mm512_shuffle_i64x2(t, t, _MM_SHUFFLE(3, 1, 2, 0));
}

static inline __m512i q8_0_pair_u(const struct osr_block_q8_0 *p)
{
    return _mm512_xor_si512(load_pair32(p[0].qs, p[1].qs), _mm512_set1_epi8((char)0x80));
}

static inline float single_q4_0(const struct osr_block_q4_0 *a, const struct osr_block_q8_0 *b)
{
    return f16(a->d) * f16(b->d) *
           dot_ss_256(q4_0_one(a), _mm256_loadu_si256((const __m256i *)b->qs));
}

static inline float single_q8_0(const struct osr_block_q8_0 *a, const struct osr_block_q8_0 *b)
{
    return f16(a->d) * f16(b->d) *
           dot_ss_256(_mm256_loadu_si256((const __m256i *)a->qs),
                      _mm256_loadu_si256((const __m256i *)b->qs));
}

/* The weight side of both types: Q4_0 and Q8_0 blocks both start with the fp16 d, so only
 * the block size, the unpacking and the offset differ (is_q8 is a constant after inlining). */
static inline __m512i unpack_pair_u(const char *blk, int is_q8)
{
    if (is_q8)
        return q8_0_pair_u((const struct osr_block_q8_0 *)blk);
    return q4_0_pair_u((const struct osr_block_q4_0 *)blk);
}

static inline uint16_t block_d(const char *blk)
{
    uint16_t d;
    memcpy(&d, blk, 2);
    return d;
}

VNNI_ATTR static inline __attribute__((always_inline)) void
gemm4_0(int64_t n, const void *w, size_t row_bytes, const void *x, size_t x_stride, const int nv,
        float *y, int64_t y_stride, const int is_q8)
{
    const size_t bb = is_q8 ? sizeof(struct osr_block_q8_0) : sizeof(struct osr_block_q4_0);
    const char *a[4];
    const struct osr_block_q8_0 *b[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
        a[r] = (const char *)w + (size_t)r * row_bytes;
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        b[v] = (const struct osr_block_q8_0 *)((const char *)x + (size_t)v * x_stride);
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_ps();
    }
    const __m512i idx[4] = {
        _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
        _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3),
        _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5),
        _mm512_setr_epi32(6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7),
    };
    const __m512i off = _mm512_set1_epi8(is_q8 ? (char)0x80 : 8);
    int64_t nb = n / OSR_QK, i = 0;
    for (; i + 2 <= nb; i += 2) {
        __m512i Y[4], Y0[4];
        __m512 DX[4];
        /* built in registers: stores plus a wider reload would stall on store forwarding */
        __m128i xh =
            _mm_setr_epi16((short)b[0][i].d, (short)b[0][i + 1].d, nv > 1 ? (short)b[1][i].d : 0,
                           nv > 1 ? (short)b[1][i + 1].d : 0, nv > 2 ? (short)b[2][i].d : 0,
                           nv > 2 ? (short)b[2][i + 1].d : 0, nv > 3 ? (short)b[3][i].d : 0,
                           nv > 3 ? (short)b[3][i + 1].d : 0);
        __m512 xs = _mm512_zextps256_ps512(_mm256_cvtph_ps(xh));
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            Y[v] = load_pair32(b[v][i].qs, b[v][i + 1].qs);
            Y0[v] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                     _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, Y[v]));
            DX[v] = _mm512_permutexvar_ps(idx[v], xs);
        }
        const char *blk[4];
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++)
            blk[r] = a[r] + (size_t)i * bb;
        __m128i wh = _mm_setr_epi16((short)block_d(blk[0]), (short)block_d(blk[0] + bb),
                                    (short)block_d(blk[1]), (short)block_d(blk[1] + bb),
                                    (short)block_d(blk[2]), (short)block_d(blk[2] + bb),
                                    (short)block_d(blk[3]), (short)block_d(blk[3] + bb));
        __m512 ws = _mm512_zextps256_ps512(_mm256_cvtph_ps(wh));
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            __m512i q = unpack_pair_u(blk[r], is_q8);
            __m512 dw = _mm512_permutexvar_ps(idx[r], ws);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(_mm512_mul_ps(dw, DX[v]),
                                            _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(Y0[v], q, Y[v])),
                                            acc[r][v]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            float s = _mm512_reduce_add_ps(acc[r][v]);
            if (i < nb) {
                const char *blk = a[r] + (size_t)i * bb;
                s += is_q8 ? single_q8_0((const struct osr_block_q8_0 *)blk, b[v] + i)
                           : single_q4_0((const struct osr_block_q4_0 *)blk, b[v] + i);
            }
            y[v * y_stride + r] = s;
        }
    }
}

/* One instance per (type, nv) so the loops unroll and the accumulators stay in registers. */
VNNI_ATTR static void gemm4_q4_0_vnni(int64_t n, const void *w, size_t row_bytes, const void *x,
                                      size_t x_stride, int nv, float *y, int64_t y_stride)
{
    switch (nv) {
    case 1:
        gemm4_0(n, w, row_bytes, x, x_stride, 1, y, y_stride, 0);
        break;
    case 2:
        gemm4_0(n, w, row_bytes, x, x_stride, 2, y, y_stride, 0);
        break;
    case 3:
        gemm4_0(n, w, row_bytes, x, x_stride, 3, y, y_stride, 0);
        break;
    default:
        gemm4_0(n, w, row_bytes, x, x_stride, 4, y, y_stride, 0);
        break;
    }
}

VNNI_ATTR static void gemm4_q8_0_vnni(int64_t n, const void *w, size_t row_bytes, const void *x,
                                      size_t x_stride, int nv, float *y, int64_t y_stride)
{
    switch (nv) {
    case 1:
        gemm4_0(n, w, row_bytes, x, x_stride, 1, y, y_stride, 1);
        break;
    case 2:
        gemm4_0(n, w, row_bytes, x, x_stride, 2, y, y_stride, 1);
        break;
    case 3:
        gemm4_0(n, w, row_bytes, x, x_stride, 3, y, y_stride, 1);
        break;
    default:
        gemm4_0(n, w, row_bytes, x, x_stride, 4, y, y_stride, 1);
        break;
    }
}

/* ---- 16 rows x a whole batch (VNNI panel) ----------------------------------------------- *
 * The 16 rows are repacked, G16_KB blocks at a time, so that 32-bit lane r of the g-th vector
 * of a block holds values 4g..4g+3 of row r as signed bytes (Q4_0: nibble - 8, Q8_0: q); one
 * vpdpbusd then multiplies the 16 rows by four values of one activation vector broadcast from
 * memory, and the accumulator of a vector is directly its 16 outputs.  The activations come
 * from the batch view as unsigned bytes (x + 128); the excess 128 * sum(w) of each row and
 * block is computed at repacking and starts the accumulator, so nothing but the vpdpbusd
 * depends on both sides.  Per vector and block that is 8 vpdpbusd, one conversion, one
 * multiply and one fma for 512 products (gemm4 needs about 32 instructions for them).  Slices
 * after the first add to y. */
#define G16_KB 32 /* blocks per repacked slice: 16 KiB of bytes, stays in L1 */
#define G16_NC 8  /* vectors per register tile */

struct g16_slice {
    int32_t q[G16_KB][8][16]; /* [block][group of four values][row], four int8 each */
    int32_t c[G16_KB][16];    /* -128 * sum of the row's values in the block */
    float d[G16_KB][16];
};

/* The weight types of the panel kernels (a constant after inlining). */
enum { G16_Q4_0, G16_Q8_0, G16_Q5_0 };

/* One block's 32 values as signed bytes in value order. */
static inline __m256i g16_row(const char *blk, const int kind)
{
    if (kind == G16_Q8_0)
        return _mm256_loadu_si256((const __m256i *)(blk + 2));
    const int qs = kind == G16_Q5_0 ? 6 : 2; /* Q5_0: d, then the 32 fifth bits, then nibbles */
    __m128i q = _mm_loadu_si128((const __m128i *)(blk + qs));
    __m256i u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0xF));
    if (kind == G16_Q5_0) {
        uint32_t qh;
        memcpy(&qh, blk + 2, 4);
        u = _mm256_or_si256(u, _mm256_maskz_mov_epi8((__mmask32)qh, _mm256_set1_epi8(16)));
        return _mm256_sub_epi8(u, _mm256_set1_epi8(16));
    }
    return _mm256_sub_epi8(u, _mm256_set1_epi8(8));
}

/* Repacks blocks kb0..kb0+kn of the 16 rows into sl: per block, rows r and r + 8 share a
 * register (low and high half), an 8 x 8 transpose of 32-bit words runs in both halves at once,
 * and a final two-source permute puts row r in lane r.  The 16 scales come in one gather when
 * the row offsets fit its 32-bit indices. */
VNNI_ATTR static inline __attribute__((always_inline)) void
g16_repack(struct g16_slice *sl, const char *w, size_t row_bytes, int64_t kb0, int kn,
           const int kind)
{
    const size_t bb = kind == G16_Q8_0   ? sizeof(struct osr_block_q8_0)
                      : kind == G16_Q5_0 ? sizeof(struct osr_block_q5_0)
                                         : sizeof(struct osr_block_q4_0);
    const int gather = row_bytes <= (size_t)INT32_MAX / 16;
    const __m512i ridx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(gather ? (int)row_bytes : 0));
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    const __m512i ones = _mm512_set1_epi8(1);
    for (int b = 0; b < kn; b++) {
        const char *base = w + (size_t)(kb0 + b) * bb;
        __m512i z[8], t[8], u[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            z[i] = _mm512_inserti64x4(
                _mm512_castsi256_si512(g16_row(base + (size_t)i * row_bytes, kind)),
                g16_row(base + (size_t)(i + 8) * row_bytes, kind), 1);
#pragma GCC unroll 4
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm512_unpacklo_epi32(z[i], z[i + 1]);
            t[i + 1] = _mm512_unpackhi_epi32(z[i], z[i + 1]);
        }
#pragma GCC unroll 2
        for (int i = 0; i < 8; i += 4) {
            u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);         /* word 0 (lanes: 4) */
            u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);     /* word 1 (5) */
            u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]); /* word 2 (6) */
            u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]); /* word 3 (7) */
        }
        __m512i sum = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            __m512i a = _mm512_permutex2var_epi64(u[g], lo, u[g + 4]);
            __m512i c = _mm512_permutex2var_epi64(u[g], hi, u[g + 4]);
            _mm512_store_si512((void *)sl->q[b][g], a);
            _mm512_store_si512((void *)sl->q[b][g + 4], c);
            sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sum, ones, a), ones, c);
        }
        _mm512_store_si512((void *)sl->c[b],
                           _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, 7)));
        if (gather) {
            __m512i dw = _mm512_i32gather_epi32(ridx, (const void *)base, 1);
            _mm512_store_ps(sl->d[b], _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dw)));
        } else {
            for (int r = 0; r < 16; r++)
                sl->d[b][r] = f16(block_d(base + (size_t)r * row_bytes));
        }
    }
}

/* nc (constant after inlining) vectors against a repacked slice: xq and xd point at the
 * slice's first block of the tile's first vector; a block row of the batch is bstride vectors. */
VNNI_ATTR static inline __attribute__((always_inline)) void
g16_tile(const struct g16_slice *sl, int kn, const uint8_t *xq, const float *xd, int64_t bstride,
         const int nc, float *y, int64_t y_stride, int first)
{
    __m512 acc[G16_NC];
#pragma GCC unroll 8
    for (int c = 0; c < nc; c++)
        acc[c] = _mm512_setzero_ps();
    for (int b = 0; b < kn; b++, xq += bstride * OSR_QK, xd += bstride) {
        __m512i s[G16_NC];
        __m512i corr = _mm512_load_si512((const void *)sl->c[b]);
#pragma GCC unroll 8
        for (int c = 0; c < nc; c++)
            s[c] = corr;
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512i wv = _mm512_load_si512((const void *)sl->q[b][g]);
#pragma GCC unroll 8
            for (int c = 0; c < nc; c++) {
                int32_t xv;
                memcpy(&xv, xq + c * OSR_QK + 4 * g, 4);
                s[c] = _mm512_dpbusd_epi32(s[c], _mm512_set1_epi32(xv), wv);
            }
        }
        __m512 dw = _mm512_load_ps(sl->d[b]);
#pragma GCC unroll 8
        for (int c = 0; c < nc; c++)
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[c]),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(xd[c])), acc[c]);
    }
#pragma GCC unroll 8
    for (int c = 0; c < nc; c++) {
        float *yc = y + c * y_stride;
        _mm512_storeu_ps(yc, first ? acc[c] : _mm512_add_ps(_mm512_loadu_ps(yc), acc[c]));
    }
}

VNNI_ATTR static inline __attribute__((always_inline)) void
gemm16_0(int64_t n, const void *w, size_t row_bytes, const struct osr_q8_0_batch *x, int64_t v0,
         int64_t nv, float *y, int64_t y_stride, const int kind)
{
    _Alignas(64) struct g16_slice sl;
    const size_t bb = kind == G16_Q8_0   ? sizeof(struct osr_block_q8_0)
                      : kind == G16_Q5_0 ? sizeof(struct osr_block_q5_0)
                                         : sizeof(struct osr_block_q4_0);
    const int64_t nb = n / OSR_QK, bs = x->nvec;
    for (int64_t kb0 = 0; kb0 < nb; kb0 += G16_KB) {
        int kn = nb - kb0 < G16_KB ? (int)(nb - kb0) : G16_KB;
        g16_repack(&sl, w, row_bytes, kb0, kn, kind);
        int first = kb0 == 0;
        /* The next slice of the 16 rows (or, after the last, the same columns of the 16 rows
         * below, most likely the next panel taken) is prefetched a few lines per tile while
         * this one computes: 16 short streams are more than the hardware prefetchers follow.
         * Addresses as integers: the rows below may lie past the weights (a prefetch of them
         * is harmless, a pointer to them would not be). */
        uintptr_t pf_base = (uintptr_t)w + (size_t)(kb0 + G16_KB) * bb;
        int64_t pf_n = nb - kb0 - G16_KB < G16_KB ? nb - kb0 - G16_KB : G16_KB;
        if (pf_n <= 0) {
            pf_base = (uintptr_t)w + 16 * row_bytes;
            pf_n = nb < G16_KB ? nb : G16_KB;
        }
        size_t pf_row = ((size_t)pf_n * bb + 63) / 64, pf_total = 16 * pf_row, pf = 0;
        size_t pf_step = pf_total / (size_t)(nv / G16_NC + 1) + 1;
        int64_t v = 0;
        for (; v + G16_NC <= nv; v += G16_NC) {
            for (size_t e = pf + pf_step; pf < e && pf < pf_total; pf++)
                _mm_prefetch(
                    (const char *)(pf_base + (pf / pf_row) * row_bytes + (pf % pf_row) * 64),
                    _MM_HINT_T0);
            g16_tile(&sl, kn, x->qs + (kb0 * bs + v0 + v) * OSR_QK, x->d + kb0 * bs + v0 + v, bs,
                     G16_NC, y + v * y_stride, y_stride, first);
        }
        const uint8_t *xv = x->qs + (kb0 * bs + v0 + v) * OSR_QK;
        const float *dv = x->d + kb0 * bs + v0 + v;
        float *yv = y + v * y_stride;
        switch (nv - v) { /* the tail, one instance per width */
        case 1:
            g16_tile(&sl, kn, xv, dv, bs, 1, yv, y_stride, first);
            break;
        case 2:
            g16_tile(&sl, kn, xv, dv, bs, 2, yv, y_stride, first);
            break;
        case 3:
            g16_tile(&sl, kn, xv, dv, bs, 3, yv, y_stride, first);
            break;
        case 4:
            g16_tile(&sl, kn, xv, dv, bs, 4, yv, y_stride, first);
            break;
        case 5:
            g16_tile(&sl, kn, xv, dv, bs, 5, yv, y_stride, first);
            break;
        case 6:
            g16_tile(&sl, kn, xv, dv, bs, 6, yv, y_stride, first);
            break;
        case 7:
            g16_tile(&sl, kn, xv, dv, bs, 7, yv, y_stride, first);
            break;
        default:
            break;
        }
    }
}

VNNI_ATTR static void gemm16_q4_0_vnni(int64_t n, const void *w, size_t row_bytes,
                                       const struct osr_q8_0_batch *x, int64_t v0, int64_t nv,
                                       float *y, int64_t y_stride)
{
    gemm16_0(n, w, row_bytes, x, v0, nv, y, y_stride, G16_Q4_0);
}

VNNI_ATTR static void gemm16_q8_0_vnni(int64_t n, const void *w, size_t row_bytes,
                                       const struct osr_q8_0_batch *x, int64_t v0, int64_t nv,
                                       float *y, int64_t y_stride)
{
    gemm16_0(n, w, row_bytes, x, v0, nv, y, y_stride, G16_Q8_0);
}

VNNI_ATTR static void gemm16_q5_0_vnni(int64_t n, const void *w, size_t row_bytes,
                                       const struct osr_q8_0_batch *x, int64_t v0, int64_t nv,
                                       float *y, int64_t y_stride)
{
    gemm16_0(n, w, row_bytes, x, v0, nv, y, y_stride, G16_Q5_0);
}

/* F16 weights x F32 vectors, 4 rows x up to 4 vectors: each 16-value slice of a row is
 * converted once for all vectors. */
static inline __attribute__((always_inline)) void gemm4_f16_nv(int64_t n, const void *w,
                                                               size_t row_bytes, const void *x,
                                                               size_t x_stride, const int nv,
                                                               float *y, int64_t y_stride)
{
    const uint16_t *a[4];
    const float *b[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
        a[r] = (const uint16_t *)((const char *)w + (size_t)r * row_bytes);
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        b[v] = (const float *)((const char *)x + (size_t)v * x_stride);
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_ps();
    }
    int64_t i = 0;
    for (; i < n; i += 16) {
        __mmask16 m = (__mmask16)(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
        __m512 X[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            X[v] = _mm512_maskz_loadu_ps(m, b[v] + i);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            __m512 W = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a[r] + i));
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(W, X[v], acc[r][v]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            y[v * y_stride + r] = _mm512_reduce_add_ps(acc[r][v]);
    }
}

static void gemm4_f16(int64_t n, const void *w, size_t row_bytes, const void *x, size_t x_stride,
                      int nv, float *y, int64_t y_stride)
{
    switch (nv) {
    case 1:
        gemm4_f16_nv(n, w, row_bytes, x, x_stride, 1, y, y_stride);
        break;
    case 2:
        gemm4_f16_nv(n, w, row_bytes, x, x_stride, 2, y, y_stride);
        break;
    case 3:
        gemm4_f16_nv(n, w, row_bytes, x, x_stride, 3, y, y_stride);
        break;
    default:
        gemm4_f16_nv(n, w, row_bytes, x, x_stride, 4, y, y_stride);
        break;
    }
}

/* ---- Q2_K / Q3_K x Q8_K ------------------------------------------------------------------ */

static inline int hsum256_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* 64 values of a Q2_K/Q3_K half: planes j and j + 1 of the 32 quant bytes q, in value order. */
static inline __m512i planes_2bit(__m256i q, int j)
{
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256i lo = _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * j)), m3);
    __m256i hi = _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * j + 2)), m3);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* int16 scales of sub-blocks g0 .. g0 + 3, each over the 8 madd lanes of its 16 values. */
static inline __m512i scales_4x8(__m512i sc16, int g0)
{
    const __m512i lane_group = _mm512_set_epi32(
        0x00030003, 0x00030003, 0x00030003, 0x00030003, 0x00020002, 0x00020002, 0x00020002,
        0x00020002, 0x00010001, 0x00010001, 0x00010001, 0x00010001, 0, 0, 0, 0);
    __m512i idx = _mm512_add_epi16(lane_group, _mm512_set1_epi16((short)g0));
    return _mm512_permutexvar_epi16(idx, sc16);
}

static float vec_dot_q2_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q2_k *a = w;
    const struct osr_block_q8_k *b = x;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        __m128i raw = _mm_loadu_si128((const __m128i *)a[i].scales);
        __m256i scw = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0xF)));
        __m256i mins =
            _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0xF)));
        __m512i sc16 = _mm512_castsi256_si512(scw);
        __m512i sum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * h));
            for (int j = 0; j < 4; j += 2) {
                __m512i y = _mm512_loadu_si512(b[i].qs + 128 * h + 32 * j);
                __m512i p = _mm512_maddubs_epi16(planes_2bit(q, j), y);
                sum = _mm512_add_epi32(sum, _mm512_madd_epi16(p, scales_4x8(sc16, 8 * h + 2 * j)));
            }
        }
        __m256i bs = _mm256_loadu_si256((const __m256i *)b[i].bsums);
        __m256i mm = _mm256_madd_epi16(mins, bs);
        int summ = hsum256_epi32(mm);
        acc += b[i].d *
               (f16(a[i].d) * (float)_mm512_reduce_add_epi32(sum) - f16(a[i].dmin) * (float)summ);
    }
    return acc;
}

static float vec_dot_q3_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q3_k *a = w;
    const struct osr_block_q8_k *b = x;
    const __m512i four = _mm512_set1_epi8(4);
    float acc = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        int8_t sc[16];
        osr_quant_k3_scales(a[i].scales, sc);
        __m256i scw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        __m512i sc16 = _mm512_castsi256_si512(scw);
        __m256i hb = _mm256_loadu_si256((const __m256i *)a[i].hmask);
        __m512i hb2 = _mm512_inserti64x4(_mm512_castsi256_si512(hb), hb, 1);
        __m512i sum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * h));
            for (int j = 0; j < 4; j += 2) {
                __m512i bits = _mm512_inserti64x4(
                    _mm512_castsi256_si512(_mm256_set1_epi8((char)(1u << (4 * h + j)))),
                    _mm256_set1_epi8((char)(1u << (4 * h + j + 1))), 1);
                __mmask64 set = _mm512_test_epi8_mask(hb2, bits);
                __m512i u = _mm512_or_si512(planes_2bit(q, j), _mm512_maskz_mov_epi8(set, four));
                __m512i y = _mm512_loadu_si512(b[i].qs + 128 * h + 32 * j);
                __m512i p = _mm512_maddubs_epi16(u, y);
                sum = _mm512_add_epi32(sum, _mm512_madd_epi16(p, scales_4x8(sc16, 8 * h + 2 * j)));
            }
        }
        __m256i bs = _mm256_loadu_si256((const __m256i *)b[i].bsums);
        int off = hsum256_epi32(_mm256_madd_epi16(scw, bs)) * 4;
        acc += b[i].d * f16(a[i].d) * (float)(_mm512_reduce_add_epi32(sum) - off);
    }
    return acc;
}

void osr_kernels_fill_avx512(struct osr_kernels *k)
{
    k->vec_dot[OSR_QTYPE_F32] = vec_dot_f32;
    k->vec_dot[OSR_QTYPE_F16] = vec_dot_f16;
    k->vec_dot[OSR_QTYPE_BF16] = vec_dot_bf16;
    k->vec_dot[OSR_QTYPE_Q4_0] = vec_dot_q4_0;
    k->vec_dot[OSR_QTYPE_Q8_0] = vec_dot_q8_0;
    k->vec_dot[OSR_QTYPE_Q2_K] = vec_dot_q2_k;
    k->vec_dot[OSR_QTYPE_Q3_K] = vec_dot_q3_k;
    k->gemm4[OSR_QTYPE_F16] = gemm4_f16;
}

void osr_kernels_fill_avx512vnni(struct osr_kernels *k)
{
    k->vec_dot[OSR_QTYPE_Q4_0] = vec_dot_q4_0_vnni;
    k->vec_dot[OSR_QTYPE_Q8_0] = vec_dot_q8_0_vnni;
    k->vec_dot[OSR_QTYPE_Q4_K] = vec_dot_q4_k_vnni;
    k->vec_dot[OSR_QTYPE_Q6_K] = vec_dot_q6_k_vnni;
    k->gemm4[OSR_QTYPE_Q4_0] = gemm4_q4_0_vnni;
    k->gemm4[OSR_QTYPE_Q8_0] = gemm4_q8_0_vnni;
    k->gemm16[OSR_QTYPE_Q4_0] = gemm16_q4_0_vnni;
    k->gemm16[OSR_QTYPE_Q8_0] = gemm16_q8_0_vnni;
    k->gemm16[OSR_QTYPE_Q5_0] = gemm16_q5_0_vnni;
}
