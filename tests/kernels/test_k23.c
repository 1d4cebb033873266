/* test_k23.c - the Q2_K and Q3_K layouts, checked independently of the kernels' own unpacking.
 *
 * The reference here walks a block the way ggml's dequantizer describes it (two halves of 128
 * values; per half four 2-bit shifts, each giving 16 values of one sub-block from quant bytes
 * 0..15 and 16 of the next from bytes 16..31; for Q3_K a high-bit mask that moves to the next
 * bit every 32 values and scales unpacked with 32-bit word masks), over blocks of random bytes
 * with set fp16 scales.  Every kernel table must dequantize to exactly these values, and its
 * dot with a Q8_K row must equal the reference values dotted with the row's integers. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "osr/kernels.h"
#include "osr/quant.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void ref_q2_k(const uint8_t *blk, float *y)
{
    float d = osr_quant_f16_to_f32((uint16_t)(blk[80] | blk[81] << 8));
    float dmin = osr_quant_f16_to_f32((uint16_t)(blk[82] | blk[83] << 8));
    const uint8_t *scales = blk, *q = blk + 16;
    int is = 0;
    for (int half = 0; half < 2; half++, q += 32) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int part = 0; part < 2; part++, is++) {
                float dl = d * (float)(scales[is] & 0xF), ml = dmin * (float)(scales[is] >> 4);
                for (int l = 0; l < 16; l++)
                    *y++ = dl * (float)((q[16 * part + l] >> shift) & 3) - ml;
            }
        }
    }
}

static void ref_q3_k(const uint8_t *blk, float *y)
{
    const uint8_t *hm = blk, *q = blk + 32;
    uint32_t aux[4];
    memcpy(aux, blk + 96, 12);
    uint32_t tmp = aux[2];
    const uint32_t k1 = 0x03030303u, k2 = 0x0f0f0f0fu;
    aux[2] = ((aux[0] >> 4) & k2) | (((tmp >> 4) & k1) << 4);
    aux[3] = ((aux[1] >> 4) & k2) | (((tmp >> 6) & k1) << 4);
    aux[0] = (aux[0] & k2) | (((tmp >> 0) & k1) << 4);
    aux[1] = (aux[1] & k2) | (((tmp >> 2) & k1) << 4);
    int8_t sc[16];
    memcpy(sc, aux, 16);
    float d = osr_quant_f16_to_f32((uint16_t)(blk[108] | blk[109] << 8));
    uint8_t m = 1;
    int is = 0;
    for (int half = 0; half < 2; half++, q += 32) {
        for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1)) {
            for (int part = 0; part < 2; part++, is++) {
                float dl = d * (float)(sc[is] - 32);
                for (int l = 0; l < 16; l++) {
                    int k = 16 * part + l;
                    int v = ((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4);
                    *y++ = dl * (float)v;
                }
            }
        }
    }
}

static void check_type(enum osr_qtype t, size_t bb, void (*ref)(const uint8_t *, float *))
{
    enum { NB = 6, N = NB * 256 };
    static uint8_t w[NB * 110];
    static float want[N], got[N], xf[N];
    static uint8_t xq[NB * 292];
    for (size_t i = 0; i < NB * bb; i++)
        w[i] = (uint8_t)next();
    for (int b = 0; b < NB; b++) {
        uint8_t *blk = w + (size_t)b * bb;
        uint16_t d = osr_quant_f32_to_f16(0.01f * (float)(b + 1));
        if (t == OSR_QTYPE_Q2_K) {
            uint16_t dm = osr_quant_f32_to_f16(0.003f * (float)(b + 1));
            memcpy(blk + 80, &d, 2);
            memcpy(blk + 82, &dm, 2);
        } else {
            memcpy(blk + 108, &d, 2);
        }
        ref(blk, want + 256 * b);
    }
    for (int i = 0; i < N; i++)
        xf[i] = sinf(0.37f * (float)i) + 0.25f * cosf(1.3f * (float)i);
    const struct osr_kernels *s = osr_kernels_for_isa(OSR_ISA_SCALAR);
    s->quantize[OSR_QTYPE_Q8_K](xf, xq, N);
    /* the reference dot: dequantized values against the Q8_K integers and scales */
    double dot = 0, mag = 0;
    for (int b = 0; b < NB; b++) {
        float dx;
        memcpy(&dx, xq + (size_t)b * 292, 4);
        for (int l = 0; l < 256; l++) {
            double v = (double)want[256 * b + l] * dx * (int8_t)xq[(size_t)b * 292 + 4 + l];
            dot += v;
            mag += fabs(v);
        }
    }
    for (int isa = 0; isa < OSR_ISA_COUNT; isa++) {
        const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
        if (!k)
            continue;
        REQUIRE(k->dequantize[t] && k->vec_dot[t]);
        k->dequantize[t](w, got, N);
        int bad = 0;
        for (int i = 0; i < N; i++)
            bad += got[i] != want[i];
        if (bad)
            fprintf(stderr, "%s %s: %d values differ from the reference\n", k->name,
                    osr_quant_type_info(t)->name, bad);
        CHECK_INT_EQ(bad, 0);
        float v = k->vec_dot[t](N, w, xq);
        if (!(fabs(v - dot) <= 1e-5 * mag))
            fprintf(stderr, "%s %s: dot %.9g, reference %.9g\n", k->name,
                    osr_quant_type_info(t)->name, v, dot);
        CHECK(fabs(v - dot) <= 1e-5 * mag);
    }
    CHECK(mag > 1.0); /* the blocks hold real values */
}

static void test_q2_k_layout(void)
{
    check_type(OSR_QTYPE_Q2_K, 84, ref_q2_k);
}

static void test_q3_k_layout(void)
{
    check_type(OSR_QTYPE_Q3_K, 110, ref_q3_k);
}

/* A hand-made Q3_K block: every scale byte pattern decoded by osr_quant_k3_scales as the
 * layout says (6-bit s_g minus 32). */
static void test_q3_k_scales(void)
{
    uint8_t s[12];
    for (int g = 0; g < 12; g++)
        s[g] = 0;
    /* s_0 = 63 (low nibble 15 in byte 0, high bits 3 in byte 8 bits 0-1), s_9 = 33 (low nibble
     * 1 in the high nibble of byte 1, high bits 2 in byte 9 bits 4-5), s_15 = 0 */
    s[0] = 0x0F;
    s[8] = 0x03;
    s[1] = 0x10;
    s[9] = 0x20;
    int8_t out[16];
    osr_quant_k3_scales(s, out);
    CHECK_INT_EQ(out[0], 31);
    CHECK_INT_EQ(out[9], 1);
    CHECK_INT_EQ(out[15], -32);
    CHECK_INT_EQ(out[1], -32);
}

TEST_MAIN(test_q2_k_layout, test_q3_k_layout, test_q3_k_scales)
