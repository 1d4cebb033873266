/* Tests for the compute kernels.
 *
 * The scalar table is checked against first principles (exact fp16/bf16 values, dot products
 * equal to the dot of the dequantized vectors, quantization error bounds); every other table
 * the CPU supports is checked against the scalar one on random data of many sizes, with the
 * tolerances documented in docs/internals/KERNELS.md.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/err.h"
#include "osr/kernels.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static float rng_uniform(void) /* [0, 1) */
{
    return (float)(rng_next() >> 40) / (float)(1 << 24);
}

static float rng_normal(void) /* approximately N(0, 1) */
{
    float s = 0.0f;
    for (int i = 0; i < 6; i++)
        s += rng_uniform();
    return (s - 3.0f) * 1.41421356f;
}

static void fill_normal(float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = rng_normal() * scale;
}

static float bits_f(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static uint32_t f_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static const enum osr_qtype weight_types[] = {
    OSR_QTYPE_F32,  OSR_QTYPE_F16,  OSR_QTYPE_BF16, OSR_QTYPE_Q4_0, OSR_QTYPE_Q4_1,
    OSR_QTYPE_Q5_0, OSR_QTYPE_Q5_1, OSR_QTYPE_Q8_0, OSR_QTYPE_Q2_K, OSR_QTYPE_Q3_K,
    OSR_QTYPE_Q4_K, OSR_QTYPE_Q5_K, OSR_QTYPE_Q6_K,
};
#define N_WEIGHT_TYPES (sizeof(weight_types) / sizeof(weight_types[0]))

static const struct osr_kernels *scalar(void)
{
    return osr_kernels_for_isa(OSR_ISA_SCALAR);
}

/* ---- types -------------------------------------------------------------------------------- */

static void test_type_ids_and_sizes(void)
{
    struct {
        uint32_t id;
        const char *name;
        int bv;
        size_t bb;
    } want[] = {
        {0, "f32", 1, 4},       {1, "f16", 1, 2},       {2, "q4_0", 32, 18},
        {3, "q4_1", 32, 20},    {6, "q5_0", 32, 22},    {7, "q5_1", 32, 24},
        {8, "q8_0", 32, 34},    {9, "q8_1", 32, 36},    {10, "q2_K", 256, 84},
        {11, "q3_K", 256, 110}, {12, "q4_K", 256, 144}, {13, "q5_K", 256, 176},
        {14, "q6_K", 256, 210}, {15, "q8_K", 256, 292}, {30, "bf16", 1, 2},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct osr_qtype_info *ti = osr_quant_type_info(want[i].id);
        REQUIRE(ti != NULL);
        CHECK_STR_EQ(ti->name, want[i].name);
        CHECK_INT_EQ(ti->block_values, want[i].bv);
        CHECK_INT_EQ(ti->block_bytes, want[i].bb);
    }
    CHECK(osr_quant_type_info(4) == NULL);
    CHECK(osr_quant_type_info(16) == NULL);
    CHECK(osr_quant_type_info(31) == NULL);
    CHECK(osr_quant_type_info(0xFFFFFFFFu) == NULL);
    CHECK_INT_EQ(osr_quant_row_bytes(OSR_QTYPE_Q4_0, 64), 36);
    CHECK_INT_EQ(osr_quant_row_bytes(OSR_QTYPE_Q4_0, 33), 0);
    CHECK_INT_EQ(osr_quant_row_bytes(OSR_QTYPE_Q6_K, 512), 420);
    CHECK_INT_EQ(osr_quant_row_bytes(OSR_QTYPE_F16, 7), 14);
    CHECK_INT_EQ(osr_quant_row_bytes(OSR_QTYPE_F32, -1), 0);
    CHECK_INT_EQ(osr_quant_row_bytes(OSR_QTYPE_F32, INT64_MAX), 0);
}

static void test_k4_scale_unpack(void)
{
    int bad = 0;
    for (int rep = 0; rep < 2000; rep++) {
        uint8_t s[12], sc[8], m[8];
        for (int i = 0; i < 12; i++)
            s[i] = (uint8_t)rng_next();
        osr_quant_k4_unpack(s, sc, m);
        for (int j = 0; j < 8; j++) {
            uint8_t a, b;
            osr_quant_k4_scale_min(s, j, &a, &b);
            bad += a != sc[j] || b != m[j] || a > 63 || b > 63;
        }
    }
    CHECK_INT_EQ(bad, 0);
}

static void test_dispatch(void)
{
    const struct osr_kernels *k = osr_kernels_get();
    REQUIRE(k != NULL);
    CHECK(osr_kernels_for_isa(k->isa) == k);
    CHECK(scalar() != NULL);
    CHECK(osr_kernels_by_name("scalar") == scalar());
    CHECK(osr_kernels_by_name("nonsense") == NULL);
    CHECK(osr_kernels_for_isa(OSR_ISA_COUNT) == NULL);
    for (int i = 0; i < OSR_ISA_COUNT; i++) {
        const struct osr_kernels *t = osr_kernels_for_isa((enum osr_isa)i);
        if (!t) {
            fprintf(stderr, "note: isa %d not supported on this CPU (not tested)\n", i);
            continue;
        }
        CHECK_INT_EQ(t->isa, i);
        for (size_t w = 0; w < N_WEIGHT_TYPES; w++) {
            CHECK(t->vec_dot[weight_types[w]] != NULL);
            CHECK(t->dequantize[weight_types[w]] != NULL);
        }
        CHECK(t->rmsnorm && t->softmax && t->silu && t->swiglu && t->add && t->mul && t->scale &&
              t->axpy && t->axpy_f16);
    }
    const char *env = getenv("OSR_KERNELS");
    if (env && osr_kernels_by_name(env))
        CHECK_STR_EQ(k->name, env);
}

/* ---- fp16 / bf16 -------------------------------------------------------------------------- */

static void test_fp16_known_values(void)
{
    struct {
        float f;
        uint16_t h;
    } exact[] = {
        {0.0f, 0x0000},      {-0.0f, 0x8000},         {1.0f, 0x3C00},
        {-2.0f, 0xC000},     {0.5f, 0x3800},          {65504.0f, 0x7BFF},
        {0x1p-14f, 0x0400},  {0x1p-24f, 0x0001},      {0x3FFp-24f, 0x03FF},
        {-0x1p-24f, 0x8001}, {1.0009765625f, 0x3C01}, {0.333251953125f, 0x3555},
    };
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        CHECK_INT_EQ(osr_quant_f32_to_f16(exact[i].f), exact[i].h);
        CHECK(f_bits(osr_quant_f16_to_f32(exact[i].h)) == f_bits(exact[i].f));
    }
    /* rounding */
    CHECK_INT_EQ(osr_quant_f32_to_f16(65519.0f), 0x7BFF);
    CHECK_INT_EQ(osr_quant_f32_to_f16(65520.0f), 0x7C00);
    CHECK_INT_EQ(osr_quant_f32_to_f16(1e10f), 0x7C00);
    CHECK_INT_EQ(osr_quant_f32_to_f16(-1e10f), 0xFC00);
    CHECK_INT_EQ(osr_quant_f32_to_f16(INFINITY), 0x7C00);
    CHECK_INT_EQ(osr_quant_f32_to_f16(-INFINITY), 0xFC00);
    CHECK_INT_EQ(osr_quant_f32_to_f16(0x1p-25f), 0x0000);        /* tie to even: 0 */
    CHECK_INT_EQ(osr_quant_f32_to_f16(0x1.8p-24f), 0x0002);      /* tie to even: 2 */
    CHECK_INT_EQ(osr_quant_f32_to_f16(0x1.000002p-25f), 0x0001); /* just above the tie */
    CHECK_INT_EQ(osr_quant_f32_to_f16(1.0f + 0x1p-11f), 0x3C00); /* tie to even */
    CHECK_INT_EQ(osr_quant_f32_to_f16(1.0f + 0x3p-11f), 0x3C02); /* tie to even (up) */
    CHECK_INT_EQ(osr_quant_f32_to_f16(0x1.ffep-15f), 0x0400);    /* rounds up to a normal */
    CHECK_INT_EQ(osr_quant_f32_to_f16(1e-10f), 0x0000);
    CHECK(isinf(osr_quant_f16_to_f32(0x7C00)) && osr_quant_f16_to_f32(0x7C00) > 0);
    CHECK(isinf(osr_quant_f16_to_f32(0xFC00)) && osr_quant_f16_to_f32(0xFC00) < 0);
    uint16_t hn = osr_quant_f32_to_f16(NAN);
    CHECK((hn & 0x7C00) == 0x7C00 && (hn & 0x3FF) != 0);
    hn = osr_quant_f32_to_f16(bits_f(0x7F800001u)); /* signalling NaN with a low payload */
    CHECK((hn & 0x7C00) == 0x7C00 && (hn & 0x3FF) != 0);
    CHECK(isnan(osr_quant_f16_to_f32(0x7E00)));
    CHECK(isnan(osr_quant_f16_to_f32(0xFC01)));

    /* every half survives the round trip through float */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = osr_quant_f16_to_f32((uint16_t)h);
        uint16_t back = osr_quant_f32_to_f16(f);
        if (isnan(f) ? !((back & 0x7C00) == 0x7C00 && (back & 0x3FF)) : back != h)
            bad++;
    }
    CHECK_INT_EQ(bad, 0);
}

static void test_bf16_known_values(void)
{
    CHECK_INT_EQ(osr_quant_f32_to_bf16(1.0f), 0x3F80);
    CHECK_INT_EQ(osr_quant_f32_to_bf16(-2.0f), 0xC000);
    CHECK_INT_EQ(osr_quant_f32_to_bf16(bits_f(0x3F808000u)), 0x3F80); /* tie, even stays */
    CHECK_INT_EQ(osr_quant_f32_to_bf16(bits_f(0x3F818000u)), 0x3F82); /* tie, odd rounds up */
    CHECK_INT_EQ(osr_quant_f32_to_bf16(bits_f(0x3F808001u)), 0x3F81);
    CHECK_INT_EQ(osr_quant_f32_to_bf16(INFINITY), 0x7F80);
    CHECK_INT_EQ(osr_quant_f32_to_bf16(bits_f(0x7F7FFFFFu)), 0x7F80); /* max float rounds up */
    CHECK_INT_EQ(osr_quant_f32_to_bf16(bits_f(0x00000001u)), 0x0000); /* subnormal */
    CHECK_INT_EQ(osr_quant_f32_to_bf16(bits_f(0x00010000u)), 0x0001);
    uint16_t bn = osr_quant_f32_to_bf16(bits_f(0x7F800001u));
    CHECK((bn & 0x7F80) == 0x7F80 && (bn & 0x7F) != 0);
    CHECK(osr_quant_bf16_to_f32(0x3F80) == 1.0f);
    CHECK(osr_quant_bf16_to_f32(0xC2F7) == -123.5f);
    CHECK(isnan(osr_quant_bf16_to_f32(0x7FC0)));
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = osr_quant_bf16_to_f32((uint16_t)h);
        if (!isnan(f) && osr_quant_f32_to_bf16(f) != h)
            bad++;
    }
    CHECK_INT_EQ(bad, 0);
}

/* The SIMD fp16/bf16 converters give the same bits as the scalar ones. */
static void test_float_conversions_all_isas(void)
{
    enum { N = 1000 };
    static float x[N], back_s[N], back_k[N];
    static uint16_t hs[N], hk[N];
    for (int i = 0; i < N; i++)
        x[i] = rng_normal() * (i < 500 ? 1.0f : 1e-5f); /* the tail reaches subnormal halves */
    x[3] = 70000.0f;
    x[4] = -INFINITY;
    x[5] = 0x1p-25f;
    for (int isa = 1; isa < OSR_ISA_COUNT; isa++) {
        const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
        if (!k)
            continue;
        enum osr_qtype ts[] = {OSR_QTYPE_F16, OSR_QTYPE_BF16};
        for (int t = 0; t < 2; t++) {
            for (int n = 0; n <= N; n += n < 40 ? 1 : 321) {
                memset(hs, 0, sizeof(hs));
                memset(hk, 0, sizeof(hk));
                scalar()->quantize[ts[t]](x, hs, n);
                k->quantize[ts[t]](x, hk, n);
                scalar()->dequantize[ts[t]](hs, back_s, n);
                k->dequantize[ts[t]](hs, back_k, n);
                if (memcmp(hs, hk, sizeof(hs)) != 0 ||
                    memcmp(back_s, back_k, (size_t)n * sizeof(float)) != 0) {
                    fprintf(stderr, "%s: %s conversion differs at n=%d\n", k->name,
                            ts[t] == OSR_QTYPE_F16 ? "f16" : "bf16", n);
                    CHECK(0);
                    break;
                }
            }
            CHECK(1);
        }
    }
}

/* ---- quantization ------------------------------------------------------------------------- */

/* Bound on the relative RMS error of quantize -> dequantize for N(0, s^2) data. */
static double roundtrip_bound(enum osr_qtype t)
{
    switch (t) {
    case OSR_QTYPE_F32:
        return 0.0;
    case OSR_QTYPE_F16:
        return 5e-4;
    case OSR_QTYPE_BF16:
        return 4e-3;
    case OSR_QTYPE_Q8_0:
        return 0.01;
    case OSR_QTYPE_Q8_1:
        return 0.01;
    case OSR_QTYPE_Q8_K:
        return 0.012;
    case OSR_QTYPE_Q6_K:
        return 0.04;
    case OSR_QTYPE_Q5_0:
    case OSR_QTYPE_Q5_1:
    case OSR_QTYPE_Q5_K:
        return 0.065;
    case OSR_QTYPE_Q3_K:
        return 0.22; /* 8 levels per 16 values */
    case OSR_QTYPE_Q2_K:
        return 0.40; /* 4 levels per 16 values */
    default:
        return 0.13; /* 4-bit types */
    }
}

static void test_quantize_roundtrip(void)
{
    enum { N = 4096 };
    static float x[N], y[N];
    static uint8_t q[N * 4];
    enum osr_qtype types[] = {OSR_QTYPE_F32,  OSR_QTYPE_F16,  OSR_QTYPE_BF16, OSR_QTYPE_Q4_0,
                              OSR_QTYPE_Q4_1, OSR_QTYPE_Q5_0, OSR_QTYPE_Q5_1, OSR_QTYPE_Q8_0,
                              OSR_QTYPE_Q8_1, OSR_QTYPE_Q2_K, OSR_QTYPE_Q3_K, OSR_QTYPE_Q4_K,
                              OSR_QTYPE_Q5_K, OSR_QTYPE_Q6_K, OSR_QTYPE_Q8_K};
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        fill_normal(x, N, 0.02f);
        x[7] = 0.3f; /* an outlier, as real weights have */
        memset(q, 0, sizeof(q));
        scalar()->quantize[types[t]](x, q, N);
        scalar()->dequantize[types[t]](q, y, N);
        double err = 0.0, ref = 0.0;
        for (int i = 0; i < N; i++) {
            err += (double)(x[i] - y[i]) * (x[i] - y[i]);
            ref += (double)x[i] * x[i];
        }
        double rel = sqrt(err / ref);
        if (rel > roundtrip_bound(types[t]))
            fprintf(stderr, "%s: round trip error %g > %g\n", osr_quant_type_info(types[t])->name,
                    rel, roundtrip_bound(types[t]));
        CHECK(rel <= roundtrip_bound(types[t]));
        if (types[t] != OSR_QTYPE_F32)
            CHECK(rel > 0.0); /* it really quantized */
        /* all zeros: every type gives zeros back, no NaN from a zero scale */
        memset(x, 0, sizeof(x));
        scalar()->quantize[types[t]](x, q, N);
        scalar()->dequantize[types[t]](q, y, N);
        int nonzero = 0;
        for (int i = 0; i < N; i++)
            nonzero += y[i] != 0.0f;
        CHECK_INT_EQ(nonzero, 0);
    }
}

/* The activation quantizers of every table give the same blocks as the scalar ones. */
static void test_activation_quantizers_all_isas(void)
{
    enum { N = 2048 };
    static float x[N];
    static uint8_t qs[N * 2], qk[N * 2];
    enum osr_qtype types[] = {OSR_QTYPE_Q8_0, OSR_QTYPE_Q8_1, OSR_QTYPE_Q8_K};
    for (int isa = 1; isa < OSR_ISA_COUNT; isa++) {
        const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
        if (!k)
            continue;
        for (size_t t = 0; t < 3; t++) {
            fill_normal(x, N, 1.0f);
            x[100] = 0.0f;
            memset(x + 256, 0, 256 * sizeof(float)); /* zero blocks */
            memset(qs, 0, sizeof(qs));
            memset(qk, 0, sizeof(qk));
            scalar()->quantize[types[t]](x, qs, N);
            k->quantize[types[t]](x, qk, N);
            CHECK(memcmp(qs, qk, osr_quant_row_bytes(types[t], N)) == 0);
        }
    }
}

/* ---- dot products ------------------------------------------------------------------------- */

/* Makes a weight row of type t and the matching activation row (in the dot type) from random
 * data; returns the float vectors the quantized rows stand for in wf / xf. */
static void make_dot_inputs(enum osr_qtype t, int64_t n, void *w, void *xq, float *wf, float *xf,
                            float *tmp)
{
    const struct osr_qtype_info *ti = osr_quant_type_info(t);
    fill_normal(tmp, n, 0.02f);
    scalar()->quantize[t](tmp, w, n);
    scalar()->dequantize[t](w, wf, n);
    fill_normal(tmp, n, 1.0f);
    if (n > 3)
        tmp[3] = 6.0f;
    scalar()->quantize[ti->dot_type](tmp, xq, n);
    scalar()->dequantize[ti->dot_type](xq, xf, n);
}

/* Relative tolerance of an ISA's dot against the scalar one, as a fraction of sum |w_i x_i|.
 * Both compute the same integer block sums; only the float accumulation order differs. */
static double dot_tolerance(enum osr_qtype t)
{
    return t == OSR_QTYPE_F32 || t == OSR_QTYPE_F16 || t == OSR_QTYPE_BF16 ? 2e-6 * 8 : 1e-5;
}

/* The Q4_1/Q5_1 x Q8_1 dots use the activation's fp16 block sum s = d * sum(q), which is
 * rounded: allow 2^-10 of |m * s| per block on top. */
static double q8_1_allowance(enum osr_qtype t, int64_t n, const void *w, const void *xq)
{
    if (t != OSR_QTYPE_Q4_1 && t != OSR_QTYPE_Q5_1)
        return 0.0;
    const struct osr_block_q8_1 *x = xq;
    double a = 0.0;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        uint16_t m = t == OSR_QTYPE_Q4_1 ? ((const struct osr_block_q4_1 *)w)[b].m
                                         : ((const struct osr_block_q5_1 *)w)[b].m;
        double sum = 0.0;
        for (int j = 0; j < OSR_QK; j++)
            sum += x[b].qs[j];
        a += fabs(osr_quant_f16_to_f32(m) * osr_quant_f16_to_f32(x[b].d) * sum);
    }
    return a * 0x1p-10;
}

/* Returns 1 when the scalar dot of (w, xq) equals the double-precision dot of what
 * dequantize says the two rows hold, within 1e-5 of sum |w_i x_i|; *mag gets that sum. */
static int dot_matches_dequantized(enum osr_qtype t, int64_t n, const void *w, const void *xq,
                                   double *mag)
{
    static float wf[4096 + 256], xf[4096 + 256];
    const struct osr_qtype_info *ti = osr_quant_type_info(t);
    scalar()->dequantize[t](w, wf, n);
    scalar()->dequantize[ti->dot_type](xq, xf, n);
    double exact = 0.0;
    *mag = 0.0;
    for (int64_t i = 0; i < n; i++) {
        exact += (double)wf[i] * xf[i];
        *mag += fabs((double)wf[i] * xf[i]);
    }
    float ref = scalar()->vec_dot[t](n, w, xq);
    if (fabs(ref - exact) <= 1e-5 * *mag + q8_1_allowance(t, n, w, xq) + 1e-30)
        return 1;
    fprintf(stderr, "%s n=%lld: scalar dot %.9g, dequantized dot %.9g\n", ti->name, (long long)n,
            ref, exact);
    return 0;
}

static void test_vec_dot(void)
{
    enum { NMAX = 256 * 17 };
    static float tmp[NMAX], wf[NMAX], xf[NMAX];
    static uint8_t w[NMAX * 4], xq[NMAX * 4];
    for (size_t ti_i = 0; ti_i < N_WEIGHT_TYPES; ti_i++) {
        enum osr_qtype t = weight_types[ti_i];
        const struct osr_qtype_info *ti = osr_quant_type_info(t);
        int bv = ti->block_values;
        int64_t sizes[40];
        int ns = 0;
        if (bv == 1) {
            for (int i = 1; i <= 40; i++)
                sizes[ns++] = i;
            sizes[ns - 1] = 4097; /* big and odd */
            sizes[ns - 2] = 1000;
            sizes[ns - 3] = 257;
        } else {
            for (int i = 1; i <= 17; i++)
                sizes[ns++] = (int64_t)bv * i;
            if (bv == 32)
                sizes[ns++] = 32 * 128;
        }
        int bad_ref = 0, bad_isa = 0;
        for (int si = 0; si < ns; si++) {
            int64_t n = sizes[si];
            make_dot_inputs(t, n, w, xq, wf, xf, tmp);
            double mag;
            /* The scalar dot is the dot of what dequantize says the blocks hold: this ties the
             * dot kernels to the layouts. */
            if (!dot_matches_dequantized(t, n, w, xq, &mag) && !bad_ref++)
                fprintf(stderr, "(first mismatch above)\n");
            float ref = scalar()->vec_dot[t](n, w, xq);
            for (int isa = 1; isa < OSR_ISA_COUNT; isa++) {
                const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
                if (!k)
                    continue;
                float got = k->vec_dot[t](n, w, xq);
                if (!(fabs(got - ref) <= dot_tolerance(t) * mag + 1e-30)) {
                    if (!bad_isa++)
                        fprintf(stderr, "%s %s n=%lld: dot %.9g, scalar %.9g (mag %g)\n", k->name,
                                ti->name, (long long)n, got, ref, mag);
                }
            }
        }
        CHECK_INT_EQ(bad_ref, 0);
        CHECK_INT_EQ(bad_isa, 0);
    }
}

/* Extreme blocks: the largest magnitudes the formats allow must not saturate any SIMD path. */
static void test_vec_dot_extremes(void)
{
    enum { N = 512 };
    static uint8_t w[N * 4], xq[N * 4];
    static float tmp[N];
    for (size_t ti_i = 0; ti_i < N_WEIGHT_TYPES; ti_i++) {
        enum osr_qtype t = weight_types[ti_i];
        const struct osr_qtype_info *ti = osr_quant_type_info(t);
        for (int sign = -1; sign <= 1; sign += 2) {
            for (int i = 0; i < N; i++)
                tmp[i] = (float)sign * (i % 2 ? 1.0f : -1.0f) * 0.5f;
            scalar()->quantize[t](tmp, w, N);
            for (int i = 0; i < N; i++)
                tmp[i] = (i % 2 ? 1.0f : -1.0f) * 3.0f;
            scalar()->quantize[ti->dot_type](tmp, xq, N);
            double mag;
            CHECK(dot_matches_dequantized(t, N, w, xq, &mag));
            CHECK(mag > 0.5 * 1.5 * N); /* the blocks really hold large values */
            float ref = scalar()->vec_dot[t](N, w, xq);
            for (int isa = 1; isa < OSR_ISA_COUNT; isa++) {
                const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
                if (k)
                    CHECK(fabsf(k->vec_dot[t](N, w, xq) - ref) <= 1e-5f * fabsf(ref));
            }
        }
    }
}

/* Weight blocks of random bytes (every bit pattern of the quants, Q8_0's -128, any Q6_K scale)
 * with unit fp16 scales, against activations at full scale: the SIMD paths must still match
 * the scalar integer sums, so nothing saturates or drops a bit. */
static void test_vec_dot_random_bits(void)
{
    enum { N = 1024 };
    static uint8_t w[N * 2], xq[N * 2];
    static float tmp[N];
    const enum osr_qtype types[] = {OSR_QTYPE_Q4_0, OSR_QTYPE_Q4_1, OSR_QTYPE_Q5_0, OSR_QTYPE_Q5_1,
                                    OSR_QTYPE_Q8_0, OSR_QTYPE_Q2_K, OSR_QTYPE_Q3_K, OSR_QTYPE_Q4_K,
                                    OSR_QTYPE_Q5_K, OSR_QTYPE_Q6_K};
    for (size_t ti_i = 0; ti_i < sizeof(types) / sizeof(types[0]); ti_i++) {
        enum osr_qtype t = types[ti_i];
        const struct osr_qtype_info *ti = osr_quant_type_info(t);
        int bad = 0;
        for (int rep = 0; rep < 20; rep++) {
            for (size_t i = 0; i < sizeof(w); i++)
                w[i] = (uint8_t)rng_next();
            size_t nb = N / (size_t)ti->block_values;
            for (size_t b = 0; b < nb; b++) {
                uint8_t *blk = w + b * ti->block_bytes;
                const uint8_t one[2] = {0x00, 0x3C}, half[2] = {0x00, 0x38};
                if (t == OSR_QTYPE_Q6_K) {
                    memcpy(blk + 208, one, 2);
                } else if (t == OSR_QTYPE_Q2_K) { /* d, dmin at the end */
                    memcpy(blk + 80, one, 2);
                    memcpy(blk + 82, half, 2);
                } else if (t == OSR_QTYPE_Q3_K) {
                    memcpy(blk + 108, one, 2);
                } else {
                    memcpy(blk, one, 2);
                    if (t == OSR_QTYPE_Q4_1 || t == OSR_QTYPE_Q5_1 || t == OSR_QTYPE_Q4_K ||
                        t == OSR_QTYPE_Q5_K)
                        memcpy(blk + 2, half, 2);
                }
            }
            for (int i = 0; i < N; i++)
                tmp[i] = (rng_next() & 1 ? 1.0f : -1.0f) * (0.9f + 0.1f * rng_uniform());
            scalar()->quantize[ti->dot_type](tmp, xq, N);
            double mag;
            bad += !dot_matches_dequantized(t, N, w, xq, &mag);
            float ref = scalar()->vec_dot[t](N, w, xq);
            for (int isa = 1; isa < OSR_ISA_COUNT; isa++) {
                const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
                if (!k)
                    continue;
                float got = k->vec_dot[t](N, w, xq);
                if (!(fabs(got - ref) <= 1e-5 * mag)) {
                    if (!bad)
                        fprintf(stderr, "%s %s random bits: %g vs scalar %g\n", k->name, ti->name,
                                got, ref);
                    bad++;
                }
            }
        }
        CHECK_INT_EQ(bad, 0);
    }
}

/* The 4-row kernels against the scalar dot, for every vector count, and independent of it. */
static void test_gemm4(void)
{
    enum { NMAX = 256 * 7, NV = 4 };
    static float tmp[NMAX];
    static uint8_t w[4 * (NMAX * 4 + 8)], xq[NV * (NMAX * 4 + 8)];
    for (int isa = 0; isa < OSR_ISA_COUNT; isa++) {
        const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
        if (!k)
            continue;
        for (int t = 0; t < OSR_QTYPE_COUNT; t++) {
            if (!k->gemm4[t])
                continue;
            const struct osr_qtype_info *ti = osr_quant_type_info((uint32_t)t);
            int bad = 0;
            int64_t step = ti->block_values == 1 ? 37 : ti->block_values * 3;
            for (int64_t n = ti->block_values; n <= NMAX; n += step) {
                size_t rb = osr_quant_row_bytes((uint32_t)t, n) + 8; /* padded strides */
                size_t xs = osr_quant_row_bytes(ti->dot_type, n) + 8;
                for (int r = 0; r < 4; r++) {
                    fill_normal(tmp, n, 0.02f);
                    scalar()->quantize[t](tmp, w + r * rb, n);
                }
                for (int v = 0; v < NV; v++) {
                    fill_normal(tmp, n, 1.0f);
                    scalar()->quantize[ti->dot_type](tmp, xq + v * xs, n);
                }
                float y4[NV * 5], y1[NV * 5];
                k->gemm4[t](n, w, rb, xq, xs, NV, y4, 5);
                for (int r = 0; r < 4; r++) {
                    for (int v = 0; v < NV; v++) {
                        double mag;
                        dot_matches_dequantized((enum osr_qtype)t, n, w + r * rb, xq + v * xs,
                                                &mag);
                        float ref = scalar()->vec_dot[t](n, w + r * rb, xq + v * xs);
                        bad += !(fabs(y4[v * 5 + r] - ref) <= 1e-5 * mag);
                    }
                }
                for (int nv = 1; nv < NV; nv++) { /* same numbers with fewer vectors */
                    k->gemm4[t](n, w, rb, xq + (size_t)(NV - nv) * xs, xs, nv, y1, 5);
                    for (int r = 0; r < 4; r++)
                        bad += y1[r] != y4[(NV - nv) * 5 + r];
                }
            }
            if (bad)
                fprintf(stderr, "%s gemm4 %s: %d mismatches\n", k->name, ti->name, bad);
            CHECK_INT_EQ(bad, 0);
        }
    }
}

/* The 16-row panel kernels against the scalar dot: several repacked slices (n up to 70
 * blocks), every tile width and tail (nvec 1..19), and each vector's result independent of
 * the others in the batch. */
static void test_gemm16(void)
{
    enum { NB = 70, NMAX = NB * 32, NV = 19, RS = 21 };
    static float tmp[NMAX];
    static uint8_t w[16 * (NB * 34 + 6)], xq[NV * (NB * 34 + 10)];
    static float bd[NV * NB];
    static uint8_t bq[NV * NB * 32];
    static float yall[NV * RS], ysub[NV * RS];
    int tested = 0;
    for (int isa = 0; isa < OSR_ISA_COUNT; isa++) {
        const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
        if (!k)
            continue;
        for (int t = 0; t < OSR_QTYPE_COUNT; t++) {
            if (!k->gemm16[t])
                continue;
            const struct osr_qtype_info *ti = osr_quant_type_info((uint32_t)t);
            CHECK(ti->dot_type == OSR_QTYPE_Q8_0);
            int bad = 0;
            for (int64_t nb = 1; nb <= NB; nb += 23) {
                int64_t n = nb * 32;
                size_t rb = osr_quant_row_bytes((uint32_t)t, n) + 6; /* padded strides */
                size_t xs = osr_quant_row_bytes(OSR_QTYPE_Q8_0, n) + 10;
                for (int r = 0; r < 16; r++) {
                    fill_normal(tmp, n, r == 3 ? 2.0f : 0.02f); /* one row with large values */
                    scalar()->quantize[t](tmp, w + r * rb, n);
                }
                struct osr_q8_0_batch bt = {.qs = bq, .d = bd, .nvec = NV};
                for (int v = 0; v < NV; v++) {
                    fill_normal(tmp, n, v == 5 ? 30.0f : 1.0f);
                    scalar()->quantize[OSR_QTYPE_Q8_0](tmp, xq + v * xs, n);
                    /* in two pieces, as the matmul's threads do */
                    osr_kernels_q8_0_batch_fill(&bt, xq + v * xs, v, 0, nb / 2);
                    osr_kernels_q8_0_batch_fill(&bt, xq + v * xs + (size_t)(nb / 2) * 34, v, nb / 2,
                                                nb - nb / 2);
                }
                memset(yall, 0, sizeof(yall));
                k->gemm16[t](n, w, rb, &bt, 0, NV, yall, RS);
                for (int v = 0; v < NV; v++) {
                    for (int r = 0; r < 16; r++) {
                        double mag;
                        dot_matches_dequantized((enum osr_qtype)t, n, w + r * rb, xq + v * xs,
                                                &mag);
                        float ref = scalar()->vec_dot[t](n, w + r * rb, xq + v * xs);
                        bad += !(fabs(yall[v * RS + r] - ref) <= 1e-5 * mag);
                    }
                    for (int r = 16; r < RS; r++) /* nothing written past the 16 rows */
                        bad += yall[v * RS + r] != 0.0f;
                }
                for (int nv = 1; nv < NV; nv += 3) { /* vectors 2.. alone: the same bits */
                    int v0 = 2, cnt = nv < NV - v0 ? nv : NV - v0;
                    k->gemm16[t](n, w, rb, &bt, v0, cnt, ysub, RS);
                    for (int v = 0; v < cnt; v++)
                        bad += memcmp(ysub + v * RS, yall + (v0 + v) * RS, 16 * sizeof(float)) != 0;
                }
            }
            if (bad)
                fprintf(stderr, "%s gemm16 %s: %d mismatches\n", k->name, ti->name, bad);
            CHECK_INT_EQ(bad, 0);
            tested++;
        }
    }
    if (!tested)
        printf("skipping gemm16: no table on this CPU has a panel kernel\n");
}

/* ---- elementwise -------------------------------------------------------------------------- */

static int close_rel(const float *a, const float *b, int64_t n, double rel, double abs_tol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - b[i]) <= rel * fabs((double)b[i]) + abs_tol))
            return 0;
    return 1;
}

static void test_elementwise(void)
{
    enum { N = 1000 };
    static float a[N], b[N], ys[N], yk[N];
    static uint16_t h[N];
    const struct osr_kernels *s = scalar();
    for (int isa = 1; isa < OSR_ISA_COUNT; isa++) {
        const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
        if (!k)
            continue;
        int bad = 0;
        for (int64_t n = 1; n <= N; n += n < 20 ? 1 : 97) {
            fill_normal(a, n, 3.0f);
            fill_normal(b, n, 3.0f);
            s->quantize[OSR_QTYPE_F16](b, h, n);
            s->add(ys, a, b, n);
            k->add(yk, a, b, n);
            bad += !close_rel(yk, ys, n, 0, 0);
            s->mul(ys, a, b, n);
            k->mul(yk, a, b, n);
            bad += !close_rel(yk, ys, n, 0, 0);
            s->scale(ys, a, 0.37f, n);
            k->scale(yk, a, 0.37f, n);
            bad += !close_rel(yk, ys, n, 0, 0);
            memcpy(ys, b, (size_t)n * 4);
            memcpy(yk, b, (size_t)n * 4);
            s->axpy(ys, 0.7f, a, n);
            k->axpy(yk, 0.7f, a, n);
            bad += !close_rel(yk, ys, n, 1e-6, 1e-6);
            memcpy(ys, a, (size_t)n * 4);
            memcpy(yk, a, (size_t)n * 4);
            s->axpy_f16(ys, -1.3f, h, n);
            k->axpy_f16(yk, -1.3f, h, n);
            bad += !close_rel(yk, ys, n, 1e-6, 1e-6);
            s->rmsnorm(ys, a, b, n, 1e-5f);
            k->rmsnorm(yk, a, b, n, 1e-5f);
            bad += !close_rel(yk, ys, n, 1e-5, 1e-7);
            s->rmsnorm(ys, a, NULL, n, 1e-6f);
            k->rmsnorm(yk, a, NULL, n, 1e-6f);
            bad += !close_rel(yk, ys, n, 1e-5, 1e-7);
            /* wide range for exp: silu sees -60 .. 60, softmax logits spread over 40 */
            fill_normal(a, n, 20.0f);
            a[0] = -120.0f;
            s->silu(ys, a, n);
            k->silu(yk, a, n);
            bad += !close_rel(yk, ys, n, 4e-6, 1e-30);
            s->swiglu(ys, a, b, n);
            k->swiglu(yk, a, b, n);
            bad += !close_rel(yk, ys, n, 4e-6, 1e-30);
            memcpy(ys, a, (size_t)n * 4);
            if (n > 2)
                ys[1] = -INFINITY; /* a masked attention position */
            memcpy(yk, ys, (size_t)n * 4);
            s->softmax(ys, n);
            k->softmax(yk, n);
            bad += !close_rel(yk, ys, n, 1e-5, 1e-12);
            if (bad) {
                fprintf(stderr, "%s: elementwise op differs at n=%lld\n", k->name, (long long)n);
                break;
            }
        }
        CHECK_INT_EQ(bad, 0);
    }
    /* the scalar ops against first principles */
    float v[4] = {1.0f, 2.0f, 3.0f, 4.0f}, o[4];
    s->rmsnorm(o, v, NULL, 4, 0.0f);
    CHECK(fabsf(o[3] - 4.0f / sqrtf(7.5f)) < 1e-6f);
    s->softmax(v, 4);
    CHECK(fabsf(v[0] + v[1] + v[2] + v[3] - 1.0f) < 1e-6f);
    CHECK(fabsf(v[3] / v[2] - expf(1.0f)) < 1e-5f);
    float sx[3] = {0.0f, 1.0f, -1.0f}, so[3];
    s->silu(so, sx, 3);
    CHECK(so[0] == 0.0f && fabsf(so[1] - 0.7310586f) < 1e-6f && fabsf(so[2] + 0.2689414f) < 1e-6f);
}

static void test_rope(void)
{
    enum { HEADS = 3, DIM = 8 };
    float x[HEADS * DIM], y[HEADS * DIM];
    fill_normal(x, HEADS * DIM, 1.0f);
    memcpy(y, x, sizeof(x));
    struct osr_rope rp = {
        .n_rot = DIM, .freq_base = 10000.0f, .freq_scale = 1.0f, .attn_factor = 1.0f};
    osr_kernels_rope(y, HEADS, DIM, 0, &rp);
    CHECK(memcmp(x, y, sizeof(x)) == 0); /* position 0: identity */

    for (int neox = 0; neox <= 1; neox++) {
        memcpy(y, x, sizeof(x));
        int64_t pos = 7;
        struct osr_rope r6 = {
            .n_rot = 6, .neox = neox, .freq_base = 100.0f, .freq_scale = 0.5f, .attn_factor = 1.0f};
        osr_kernels_rope(y, HEADS, DIM, pos, &r6);
        int bad = 0;
        for (int h = 0; h < HEADS; h++) {
            const float *xi = x + h * DIM;
            const float *yi = y + h * DIM;
            for (int i = 0; i < 3; i++) {
                double theta = (double)pos * 0.5 * pow(100.0, -2.0 * i / 6.0);
                int a = neox ? i : 2 * i, b = neox ? i + 3 : 2 * i + 1;
                double ya = xi[a] * cos(theta) - xi[b] * sin(theta);
                double yb = xi[a] * sin(theta) + xi[b] * cos(theta);
                bad += fabs(ya - yi[a]) > 1e-5 || fabs(yb - yi[b]) > 1e-5;
            }
            bad += yi[6] != xi[6] || yi[7] != xi[7]; /* beyond n_rot: untouched */
        }
        CHECK_INT_EQ(bad, 0);
    }
    /* frequency factors divide the angle */
    float ff[4] = {1.0f, 2.0f, 4.0f, 8.0f};
    float p[8] = {1, 0, 1, 0, 1, 0, 1, 0};
    struct osr_rope rf = {.n_rot = 8,
                          .freq_base = 10000.0f,
                          .freq_scale = 1.0f,
                          .attn_factor = 2.0f,
                          .freq_factors = ff};
    osr_kernels_rope(p, 1, 8, 3, &rf);
    double th3 = 3.0 * pow(10000.0, -6.0 / 8.0) / 8.0;
    CHECK(fabs(p[6] - 2.0 * cos(th3)) < 1e-6 && fabs(p[7] - 2.0 * sin(th3)) < 1e-6);
}

/* ---- matmul ------------------------------------------------------------------------------- */

static void test_matmul(void)
{
    enum { ROWS = 67, COLS = 512, NV = 9 }; /* 9 vectors: a panel tile of 8 and a tail */
    static float wsrc[ROWS * COLS], x[NV * COLS], y1[NV * ROWS], y2[NV * ROWS], wf[COLS];
    static uint8_t w[ROWS * COLS * 4];
    static uint8_t scratch[NV * COLS * 3];
    struct osr_threadpool *tp2 = NULL, *tp3 = NULL;
    REQUIRE(osr_threadpool_new(2, &tp2) == OSR_OK);
    REQUIRE(osr_threadpool_new(3, &tp3) == OSR_OK);
    fill_normal(wsrc, ROWS * COLS, 0.02f);
    fill_normal(x, NV * COLS, 1.0f);
    for (size_t ti_i = 0; ti_i < N_WEIGHT_TYPES; ti_i++) {
        enum osr_qtype t = weight_types[ti_i];
        size_t rb = osr_quant_row_bytes(t, COLS);
        for (int r = 0; r < ROWS; r++)
            scalar()->quantize[t](wsrc + r * COLS, w + r * rb, COLS);
        size_t need = osr_kernels_matmul_scratch(t, COLS, NV);
        REQUIRE(need <= sizeof(scratch));
        for (int isa = 0; isa < OSR_ISA_COUNT; isa++) {
            const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
            if (!k)
                continue;
            for (int nv = 1; nv <= NV; nv += NV - 1) {
                CHECK_INT_EQ(osr_kernels_matmul(k, NULL, t, w, rb, ROWS, COLS, x, nv, y1, scratch,
                                                sizeof(scratch)),
                             OSR_OK);
                /* equals the vec_dot of each row, and that is near the float product */
                int bad = 0;
                const struct osr_qtype_info *ti = osr_quant_type_info(t);
                static uint8_t xq[COLS * 2];
                for (int v = 0; v < nv; v++) {
                    const void *xv = x + v * COLS;
                    if (ti->dot_type != OSR_QTYPE_F32) {
                        k->quantize[ti->dot_type](x + v * COLS, xq, COLS);
                        xv = xq;
                    }
                    for (int r = 0; r < ROWS; r++) {
                        float d = k->vec_dot[t](COLS, w + r * rb, xv);
                        scalar()->dequantize[t](w + r * rb, wf, COLS);
                        double e = 0.0, mag = 0.0;
                        for (int c = 0; c < COLS; c++) {
                            e += (double)wf[c] * x[v * COLS + c];
                            mag += fabs((double)wf[c] * x[v * COLS + c]);
                        }
                        /* gemm4 may sum in another order than vec_dot */
                        bad += fabs(d - y1[v * ROWS + r]) > 1e-5 * mag;
                        bad += fabs(e - d) > 0.02 * mag; /* activation quantization error */
                    }
                }
                if (bad)
                    fprintf(stderr, "%s %s: matmul differs\n", k->name, ti->name);
                CHECK_INT_EQ(bad, 0);
                /* same result with 2 and 3 threads */
                struct osr_threadpool *pools[2] = {tp2, tp3};
                for (int p = 0; p < 2; p++) {
                    memset(y2, 0, sizeof(y2));
                    CHECK_INT_EQ(osr_kernels_matmul(k, pools[p], t, w, rb, ROWS, COLS, x, nv, y2,
                                                    scratch, sizeof(scratch)),
                                 OSR_OK);
                    CHECK(memcmp(y1, y2, (size_t)(nv * ROWS) * sizeof(float)) == 0);
                }
            }
        }
    }
    /* prepare once, multiply twice: the same numbers as the one-shot matmul */
    for (size_t ti_i = 0; ti_i < N_WEIGHT_TYPES; ti_i++) {
        enum osr_qtype t = weight_types[ti_i];
        const struct osr_kernels *kk = osr_kernels_get();
        size_t rb = osr_quant_row_bytes(t, COLS);
        for (int r = 0; r < ROWS; r++)
            scalar()->quantize[t](wsrc + r * COLS, w + r * rb, COLS);
        CHECK_INT_EQ(
            osr_kernels_matmul(kk, tp2, t, w, rb, ROWS, COLS, x, NV, y1, scratch, sizeof(scratch)),
            OSR_OK);
        memset(scratch, 0xAB, sizeof(scratch));
        CHECK_INT_EQ(osr_kernels_matmul_prepare(kk, tp3, t, COLS, x, NV, scratch, sizeof(scratch)),
                     OSR_OK);
        const void *xq = osr_kernels_matmul_scratch(t, COLS, NV) ? (const void *)scratch : x;
        for (int rep = 0; rep < 2; rep++) {
            memset(y2, 0, sizeof(y2));
            CHECK_INT_EQ(
                osr_kernels_matmul_prepared(kk, rep ? tp2 : NULL, t, w, rb, ROWS, COLS, xq, NV, y2),
                OSR_OK);
            CHECK(memcmp(y1, y2, sizeof(y1)) == 0);
        }
    }
    const struct osr_kernels *k = osr_kernels_get();
    CHECK_INT_EQ(osr_kernels_matmul_prepare(k, NULL, OSR_QTYPE_Q4_0, 33, x, 1, scratch, 100),
                 OSR_EINVAL);
    CHECK_INT_EQ(osr_kernels_matmul_prepare(k, NULL, OSR_QTYPE_Q4_0, 64, x, 1, scratch, 67),
                 OSR_EINVAL);
    CHECK_INT_EQ(osr_kernels_matmul_prepared(k, NULL, OSR_QTYPE_Q4_0, w, 36, 1, 64, NULL, 1, y1),
                 OSR_EINVAL);
    /* argument errors */
    CHECK_INT_EQ(osr_kernels_matmul(k, NULL, OSR_QTYPE_Q4_0, w, 18, 1, 33, x, 1, y1, scratch,
                                    sizeof(scratch)),
                 OSR_EINVAL);
    CHECK_INT_EQ(osr_kernels_matmul(k, NULL, OSR_QTYPE_Q4_0, w, 17, 1, 32, x, 1, y1, scratch,
                                    sizeof(scratch)),
                 OSR_EINVAL);
    CHECK_INT_EQ(osr_kernels_matmul(k, NULL, OSR_QTYPE_Q4_0, w, 18, 1, 32, x, 1, y1, scratch, 33),
                 OSR_EINVAL);
    CHECK_INT_EQ(osr_kernels_matmul(k, NULL, OSR_QTYPE_Q8_K, w, 292, 1, 256, x, 1, y1, scratch,
                                    sizeof(scratch)),
                 OSR_EINVAL);
    CHECK_INT_EQ(osr_kernels_matmul(k, NULL, (enum osr_qtype)5, w, 84, 1, 256, x, 1, y1, scratch,
                                    sizeof(scratch)),
                 OSR_EINVAL);
    CHECK_INT_EQ(osr_kernels_matmul_scratch(OSR_QTYPE_F16, 100, 3), 0);
    /* a batch of Q8_0 activations also holds its block-major copy, 64-byte aligned */
    CHECK_INT_EQ(osr_kernels_matmul_scratch(OSR_QTYPE_Q4_0, 64, 8), 576 + 8 * 2 * (32 + 4));
    CHECK_INT_EQ(osr_kernels_matmul_scratch(OSR_QTYPE_Q4_0, 64, 7), 7 * 68); /* no view */
    CHECK_INT_EQ(osr_kernels_matmul_scratch(OSR_QTYPE_Q4_0, 64, 3), 3 * 68);
    CHECK_INT_EQ(osr_kernels_matmul_scratch(OSR_QTYPE_Q6_K, 512, 2), 2 * 584);
    CHECK(osr_kernels_matmul_scratch(OSR_QTYPE_Q6_K, 100, 2) == (size_t)-1);
    osr_threadpool_free(tp2);
    osr_threadpool_free(tp3);
}

TEST_MAIN(test_type_ids_and_sizes, test_k4_scale_unpack, test_dispatch, test_fp16_known_values,
          test_bf16_known_values, test_float_conversions_all_isas, test_quantize_roundtrip,
          test_activation_quantizers_all_isas, test_vec_dot, test_vec_dot_extremes,
          test_vec_dot_random_bits, test_gemm4, test_gemm16, test_elementwise, test_rope,
          test_matmul)
