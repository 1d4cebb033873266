/* kernels_scalar.c - the reference kernels: plain C for every type and op, no SIMD.
 *
 * This is the definition every vectorized kernel is tested against, so it favours the obvious
 * formula over speed: dequantization follows the block layouts of quant.h value by value, dot
 * products use exact integer sums per block and one float multiply per block (as the SIMD
 * versions do), and the elementwise ops accumulate in double.
 *
 * The weight quantizers here are straightforward reference quantizers (min/max per block, the
 * K-quants' sub-block scales quantized against the largest one); they produce valid blocks of
 * the exact on-disk layout, good for tests, but not ggml's error-minimizing search.  The
 * activation quantizers (Q8_0, Q8_1, Q8_K) are the ones the engine uses at run time; the SIMD
 * tables keep them unless they have a faster version that gives the same blocks.
 */
#include <math.h>
#include <string.h>

#include "kernels_impl.h"

#define F16(h) osr_quant_f16_to_f32(h)

/* ---- float types ---------------------------------------------------------------------- */

static void dequantize_f32(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static void quantize_f32(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static void dequantize_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = F16(s[i]);
}

static void quantize_f16(const float *src, void *dst, int64_t n)
{
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = osr_quant_f32_to_f16(src[i]);
}

static void dequantize_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = osr_quant_bf16_to_f32(s[i]);
}

static void quantize_bf16(const float *src, void *dst, int64_t n)
{
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = osr_quant_f32_to_bf16(src[i]);
}

/* ---- 32-value block types ------------------------------------------------------------- */

/* The value of largest magnitude, with its sign (ggml's symmetric types scale by it). */
static float signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void quantize_q4_0(const float *src, void *dst, int64_t n)
{
    struct osr_block_q4_0 *y = dst;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        const float *x = src + b * OSR_QK;
        float d = signed_absmax(x, OSR_QK) / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = osr_quant_f32_to_f16(d);
        for (int j = 0; j < OSR_QK / 2; j++) {
            int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + 16] * id + 8.5f);
            q0 = q0 > 15 ? 15 : q0 < 0 ? 0 : q0;
            q1 = q1 > 15 ? 15 : q1 < 0 ? 0 : q1;
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void dequantize_q4_0(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q4_0 *x = src;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        float d = F16(x[b].d);
        float *y = dst + b * OSR_QK;
        for (int j = 0; j < OSR_QK / 2; j++) {
            y[j] = d * (float)((x[b].qs[j] & 0xF) - 8);
            y[j + 16] = d * (float)((x[b].qs[j] >> 4) - 8);
        }
    }
}

static void min_max(const float *x, int n, float *mn, float *mx)
{
    *mn = x[0];
    *mx = x[0];
    for (int j = 1; j < n; j++) {
        *mn = x[j] < *mn ? x[j] : *mn;
        *mx = x[j] > *mx ? x[j] : *mx;
    }
}

static void quantize_q4_1(const float *src, void *dst, int64_t n)
{
    struct osr_block_q4_1 *y = dst;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        const float *x = src + b * OSR_QK;
        float mn, mx;
        min_max(x, OSR_QK, &mn, &mx);
        float d = (mx - mn) / 15.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = osr_quant_f32_to_f16(d);
        y[b].m = osr_quant_f32_to_f16(mn);
        for (int j = 0; j < OSR_QK / 2; j++) {
            int q0 = (int)((x[j] - mn) * id + 0.5f), q1 = (int)((x[j + 16] - mn) * id + 0.5f);
            q0 = q0 > 15 ? 15 : q0 < 0 ? 0 : q0;
            q1 = q1 > 15 ? 15 : q1 < 0 ? 0 : q1;
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void dequantize_q4_1(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q4_1 *x = src;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        float d = F16(x[b].d), m = F16(x[b].m);
        float *y = dst + b * OSR_QK;
        for (int j = 0; j < OSR_QK / 2; j++) {
            y[j] = d * (float)(x[b].qs[j] & 0xF) + m;
            y[j + 16] = d * (float)(x[b].qs[j] >> 4) + m;
        }
    }
}

static uint32_t load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void quantize_q5_0(const float *src, void *dst, int64_t n)
{
    struct osr_block_q5_0 *y = dst;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        const float *x = src + b * OSR_QK;
        float d = signed_absmax(x, OSR_QK) / -16.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        y[b].d = osr_quant_f32_to_f16(d);
        for (int j = 0; j < OSR_QK / 2; j++) {
            int q0 = (int)(x[j] * id + 16.5f), q1 = (int)(x[j + 16] * id + 16.5f);
            q0 = q0 > 31 ? 31 : q0 < 0 ? 0 : q0;
            q1 = q1 > 31 ? 31 : q1 < 0 ? 0 : q1;
            y[b].qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + 16);
        }
        store_u32(y[b].qh, qh);
    }
}

static void dequantize_q5_0(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q5_0 *x = src;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        float d = F16(x[b].d);
        uint32_t qh = load_u32(x[b].qh);
        float *y = dst + b * OSR_QK;
        for (int j = 0; j < OSR_QK / 2; j++) {
            int q0 = (x[b].qs[j] & 0xF) | (int)((qh >> j & 1) << 4);
            int q1 = (x[b].qs[j] >> 4) | (int)((qh >> (j + 16) & 1) << 4);
            y[j] = d * (float)(q0 - 16);
            y[j + 16] = d * (float)(q1 - 16);
        }
    }
}

static void quantize_q5_1(const float *src, void *dst, int64_t n)
{
    struct osr_block_q5_1 *y = dst;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        const float *x = src + b * OSR_QK;
        float mn, mx;
        min_max(x, OSR_QK, &mn, &mx);
        float d = (mx - mn) / 31.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        y[b].d = osr_quant_f32_to_f16(d);
        y[b].m = osr_quant_f32_to_f16(mn);
        for (int j = 0; j < OSR_QK / 2; j++) {
            int q0 = (int)((x[j] - mn) * id + 0.5f), q1 = (int)((x[j + 16] - mn) * id + 0.5f);
            q0 = q0 > 31 ? 31 : q0 < 0 ? 0 : q0;
            q1 = q1 > 31 ? 31 : q1 < 0 ? 0 : q1;
            y[b].qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + 16);
        }
        store_u32(y[b].qh, qh);
    }
}

static void dequantize_q5_1(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q5_1 *x = src;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        float d = F16(x[b].d), m = F16(x[b].m);
        uint32_t qh = load_u32(x[b].qh);
        float *y = dst + b * OSR_QK;
        for (int j = 0; j < OSR_QK / 2; j++) {
            int q0 = (x[b].qs[j] & 0xF) | (int)((qh >> j & 1) << 4);
            int q1 = (x[b].qs[j] >> 4) | (int)((qh >> (j + 16) & 1) << 4);
            y[j] = d * (float)q0 + m;
            y[j + 16] = d * (float)q1 + m;
        }
    }
}

/* An activation value already scaled to the int8 range, rounded to nearest even.  A row with
 * an infinity or NaN (a hostile model can produce them) gives NaN here: it becomes 0 rather than
 * an undefined conversion. */
static int8_t round_q8(float v)
{
    if (isnan(v))
        return 0;
    return (int8_t)nearbyintf(fminf(127.0f, fmaxf(-127.0f, v)));
}

static void quantize_q8_0(const float *src, void *dst, int64_t n)
{
    struct osr_block_q8_0 *y = dst;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        const float *x = src + b * OSR_QK;
        float amax = 0.0f;
        for (int j = 0; j < OSR_QK; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = osr_quant_f32_to_f16(d);
        for (int j = 0; j < OSR_QK; j++)
            y[b].qs[j] = round_q8(x[j] * id);
    }
}

static void dequantize_q8_0(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q8_0 *x = src;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        float d = F16(x[b].d);
        for (int j = 0; j < OSR_QK; j++)
            dst[b * OSR_QK + j] = d * (float)x[b].qs[j];
    }
}

static void quantize_q8_1(const float *src, void *dst, int64_t n)
{
    struct osr_block_q8_1 *y = dst;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        const float *x = src + b * OSR_QK;
        float amax = 0.0f;
        for (int j = 0; j < OSR_QK; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < OSR_QK; j++) {
            y[b].qs[j] = round_q8(x[j] * id);
            sum += y[b].qs[j];
        }
        y[b].d = osr_quant_f32_to_f16(d);
        y[b].s = osr_quant_f32_to_f16(d * (float)sum);
    }
}

static void dequantize_q8_1(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q8_1 *x = src;
    for (int64_t b = 0; b < n / OSR_QK; b++) {
        float d = F16(x[b].d);
        for (int j = 0; j < OSR_QK; j++)
            dst[b * OSR_QK + j] = d * (float)x[b].qs[j];
    }
}

/* ---- K-quants -------------------------------------------------------------------------- */

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void pack_k4_scales(uint8_t *s, const uint8_t *sc, const uint8_t *m)
{
    memset(s, 0, OSR_K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] |= sc[j];
            s[j + 4] |= m[j];
        } else {
            s[j + 4] = (uint8_t)((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
            s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            s[j] |= (uint8_t)((m[j] >> 4) << 6);
        }
    }
}

/* Shared by Q4_K (levels 15) and Q5_K (levels 31): per 32-value sub-block an affine map with a
 * non-negative min, scales and mins quantized to 6 bits against the largest. */
static void quantize_k_affine(const float *x, int levels, uint16_t *dd, uint16_t *dmin,
                              uint8_t *scales, uint8_t q[OSR_QK_K])
{
    float sub_scale[8], sub_min[8], max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; j++) {
        float mn, mx;
        min_max(x + 32 * j, 32, &mn, &mx);
        mn = mn > 0.0f ? 0.0f : mn;
        sub_scale[j] = (mx - mn) / (float)levels;
        sub_min[j] = -mn;
        max_scale = fmaxf(max_scale, sub_scale[j]);
        max_min = fmaxf(max_min, sub_min[j]);
    }
    *dd = osr_quant_f32_to_f16(max_scale / 63.0f);
    *dmin = osr_quant_f32_to_f16(max_min / 63.0f);
    float d = F16(*dd), dm = F16(*dmin);
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = (uint8_t)(d > 0.0f ? clampi((int)lroundf(sub_scale[j] / d), 0, 63) : 0);
        m[j] = (uint8_t)(dm > 0.0f ? clampi((int)lroundf(sub_min[j] / dm), 0, 63) : 0);
        float es = d * (float)sc[j], em = dm * (float)m[j];
        for (int l = 0; l < 32; l++) {
            int v = es > 0.0f ? (int)lroundf((x[32 * j + l] + em) / es) : 0;
            q[32 * j + l] = (uint8_t)clampi(v, 0, levels);
        }
    }
    pack_k4_scales(scales, sc, m);
}

static void quantize_q4_k(const float *src, void *dst, int64_t n)
{
    struct osr_block_q4_k *y = dst;
    uint8_t q[OSR_QK_K];
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        quantize_k_affine(src + b * OSR_QK_K, 15, &y[b].d, &y[b].dmin, y[b].scales, q);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[b].qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
    }
}

static void dequantize_q4_k(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q4_k *x = src;
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        float d = F16(x[b].d), dmin = F16(x[b].dmin);
        float *y = dst + b * OSR_QK_K;
        for (int c = 0; c < 4; c++) {
            uint8_t sc0, m0, sc1, m1;
            osr_quant_k4_scale_min(x[b].scales, 2 * c, &sc0, &m0);
            osr_quant_k4_scale_min(x[b].scales, 2 * c + 1, &sc1, &m1);
            const uint8_t *q = x[b].qs + 32 * c;
            for (int l = 0; l < 32; l++) {
                y[64 * c + l] = d * (float)sc0 * (float)(q[l] & 0xF) - dmin * (float)m0;
                y[64 * c + 32 + l] = d * (float)sc1 * (float)(q[l] >> 4) - dmin * (float)m1;
            }
        }
    }
}

static void quantize_q5_k(const float *src, void *dst, int64_t n)
{
    struct osr_block_q5_k *y = dst;
    uint8_t q[OSR_QK_K];
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        quantize_k_affine(src + b * OSR_QK_K, 31, &y[b].d, &y[b].dmin, y[b].scales, q);
        memset(y[b].qh, 0, sizeof(y[b].qh));
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
                y[b].qs[32 * c + l] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
                y[b].qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
            }
        }
    }
}

static void dequantize_q5_k(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q5_k *x = src;
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        float d = F16(x[b].d), dmin = F16(x[b].dmin);
        float *y = dst + b * OSR_QK_K;
        for (int c = 0; c < 4; c++) {
            uint8_t sc0, m0, sc1, m1;
            osr_quant_k4_scale_min(x[b].scales, 2 * c, &sc0, &m0);
            osr_quant_k4_scale_min(x[b].scales, 2 * c + 1, &sc1, &m1);
            const uint8_t *q = x[b].qs + 32 * c;
            for (int l = 0; l < 32; l++) {
                int lo = (q[l] & 0xF) | (((x[b].qh[l] >> (2 * c)) & 1) << 4);
                int hi = (q[l] >> 4) | (((x[b].qh[l] >> (2 * c + 1)) & 1) << 4);
                y[64 * c + l] = d * (float)sc0 * (float)lo - dmin * (float)m0;
                y[64 * c + 32 + l] = d * (float)sc1 * (float)hi - dmin * (float)m1;
            }
        }
    }
}

/* The 2-bit planes shared by Q2_K and Q3_K: value v in bits 2 * ((v % 128) / 32) of byte
 * 32 * (v / 128) + v % 32. */
static void pack_2bit(const uint8_t q[OSR_QK_K], uint8_t qs[OSR_QK_K / 4])
{
    memset(qs, 0, OSR_QK_K / 4);
    for (int v = 0; v < OSR_QK_K; v++)
        qs[32 * (v / 128) + v % 32] |= (uint8_t)((q[v] & 3) << (2 * ((v % 128) / 32)));
}

static int get_2bit(const uint8_t *qs, int v)
{
    return (qs[32 * (v / 128) + v % 32] >> (2 * ((v % 128) / 32))) & 3;
}

/* Q2_K: per 16-value sub-block an affine map with a non-negative min; 4-bit scales and mins
 * against the largest of each. */
static void quantize_q2_k(const float *src, void *dst, int64_t n)
{
    struct osr_block_q2_k *y = dst;
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        const float *x = src + b * OSR_QK_K;
        float sub_scale[16], sub_min[16], max_scale = 0.0f, max_min = 0.0f;
        for (int g = 0; g < 16; g++) {
            float mn, mx;
            min_max(x + 16 * g, 16, &mn, &mx);
            mn = mn > 0.0f ? 0.0f : mn;
            sub_scale[g] = (mx - mn) / 3.0f;
            sub_min[g] = -mn;
            max_scale = fmaxf(max_scale, sub_scale[g]);
            max_min = fmaxf(max_min, sub_min[g]);
        }
        y[b].d = osr_quant_f32_to_f16(max_scale / 15.0f);
        y[b].dmin = osr_quant_f32_to_f16(max_min / 15.0f);
        float d = F16(y[b].d), dm = F16(y[b].dmin);
        uint8_t q[OSR_QK_K];
        for (int g = 0; g < 16; g++) {
            /* the scale rounds up so the sub-block's largest value stays within 3 steps */
            int sc = d > 0.0f ? clampi((int)ceilf(sub_scale[g] / d), 0, 15) : 0;
            int m = dm > 0.0f ? clampi((int)lroundf(sub_min[g] / dm), 0, 15) : 0;
            y[b].scales[g] = (uint8_t)(sc | (m << 4));
            float es = d * (float)sc, em = dm * (float)m;
            for (int l = 0; l < 16; l++) {
                int v = es > 0.0f ? (int)lroundf((x[16 * g + l] + em) / es) : 0;
                q[16 * g + l] = (uint8_t)clampi(v, 0, 3);
            }
        }
        pack_2bit(q, y[b].qs);
    }
}

static void dequantize_q2_k(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q2_k *x = src;
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        float d = F16(x[b].d), dmin = F16(x[b].dmin);
        for (int v = 0; v < OSR_QK_K; v++) {
            uint8_t sc = x[b].scales[v / 16];
            dst[b * OSR_QK_K + v] =
                d * (float)(sc & 0xF) * (float)get_2bit(x[b].qs, v) - dmin * (float)(sc >> 4);
        }
    }
}

/* Q3_K: symmetric per 16-value sub-block, q in -4..3, 6-bit scales (stored + 32) against the
 * largest. */
static void quantize_q3_k(const float *src, void *dst, int64_t n)
{
    struct osr_block_q3_k *y = dst;
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        const float *x = src + b * OSR_QK_K;
        float sub[16], maxs = 0.0f;
        for (int g = 0; g < 16; g++) {
            float amax = 0.0f;
            for (int l = 0; l < 16; l++)
                amax = fmaxf(amax, fabsf(x[16 * g + l]));
            sub[g] = amax / 4.0f;
            maxs = fmaxf(maxs, sub[g]);
        }
        y[b].d = osr_quant_f32_to_f16(maxs / 31.0f);
        float d = F16(y[b].d);
        uint8_t q[OSR_QK_K];
        memset(y[b].scales, 0, sizeof(y[b].scales));
        memset(y[b].hmask, 0, sizeof(y[b].hmask));
        for (int g = 0; g < 16; g++) {
            int sc = d > 0.0f ? clampi((int)lroundf(sub[g] / d), 0, 31) : 0;
            int s6 = sc + 32;
            if (g < 8)
                y[b].scales[g] |= (uint8_t)(s6 & 0xF);
            else
                y[b].scales[g - 8] |= (uint8_t)((s6 & 0xF) << 4);
            y[b].scales[8 + g % 4] |= (uint8_t)((s6 >> 4) << (2 * (g / 4)));
            float es = d * (float)sc;
            for (int l = 0; l < 16; l++) {
                int v = 16 * g + l;
                int qv = es > 0.0f ? clampi((int)lroundf(x[v] / es), -4, 3) : 0;
                q[v] = (uint8_t)((qv + 4) & 3);
                if (qv + 4 >= 4)
                    y[b].hmask[v % 32] |= (uint8_t)(1u << (v / 32));
            }
        }
        pack_2bit(q, y[b].qs);
    }
}

/* The signed 3-bit value v (-4..3) of a Q3_K block. */
static int get_q3(const struct osr_block_q3_k *x, int v)
{
    return get_2bit(x->qs, v) - ((x->hmask[v % 32] >> (v / 32)) & 1 ? 0 : 4);
}

static void dequantize_q3_k(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q3_k *x = src;
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        float d = F16(x[b].d);
        int8_t sc[16];
        osr_quant_k3_scales(x[b].scales, sc);
        for (int v = 0; v < OSR_QK_K; v++)
            dst[b * OSR_QK_K + v] = d * (float)sc[v / 16] * (float)get_q3(&x[b], v);
    }
}

static void quantize_q6_k(const float *src, void *dst, int64_t n)
{
    struct osr_block_q6_k *y = dst;
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        const float *x = src + b * OSR_QK_K;
        float sub[16], maxs = 0.0f;
        for (int g = 0; g < 16; g++) {
            float amax = 0.0f;
            for (int l = 0; l < 16; l++)
                amax = fmaxf(amax, fabsf(x[16 * g + l]));
            sub[g] = amax / 31.0f;
            maxs = fmaxf(maxs, sub[g]);
        }
        y[b].d = osr_quant_f32_to_f16(maxs / 127.0f);
        float d = F16(y[b].d);
        uint8_t q[OSR_QK_K];
        for (int g = 0; g < 16; g++) {
            int sc = d > 0.0f ? clampi((int)lroundf(sub[g] / d), 0, 127) : 0;
            y[b].scales[g] = (int8_t)sc;
            float es = d * (float)sc;
            for (int l = 0; l < 16; l++) {
                int v = es > 0.0f ? (int)lroundf(x[16 * g + l] / es) : 0;
                q[16 * g + l] = (uint8_t)(clampi(v, -32, 31) + 32);
            }
        }
        for (int h = 0; h < 2; h++) {
            uint8_t *ql = y[b].ql + 64 * h, *qh = y[b].qh + 32 * h;
            const uint8_t *qq = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((qq[l] & 0xF) | ((qq[l + 64] & 0xF) << 4));
                ql[l + 32] = (uint8_t)((qq[l + 32] & 0xF) | ((qq[l + 96] & 0xF) << 4));
                qh[l] = (uint8_t)((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) |
                                  ((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
            }
        }
    }
}

/* Unpacks the 256 6-bit values (0..63) of a Q6_K block. */
static void unpack_q6_k(const struct osr_block_q6_k *x, uint8_t q[OSR_QK_K])
{
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = x->ql + 64 * h, *qh = x->qh + 32 * h;
        uint8_t *qq = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            qq[l] = (uint8_t)((ql[l] & 0xF) | ((qh[l] & 3) << 4));
            qq[l + 32] = (uint8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
            qq[l + 64] = (uint8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
            qq[l + 96] = (uint8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
        }
    }
}

static void dequantize_q6_k(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q6_k *x = src;
    uint8_t q[OSR_QK_K];
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        float d = F16(x[b].d);
        unpack_q6_k(&x[b], q);
        for (int v = 0; v < OSR_QK_K; v++)
            dst[b * OSR_QK_K + v] = d * (float)x[b].scales[v / 16] * (float)(q[v] - 32);
    }
}

static void quantize_q8_k(const float *src, void *dst, int64_t n)
{
    struct osr_block_q8_k *y = dst;
    for (int64_t b = 0; b < n / OSR_QK_K; b++) {
        const float *x = src + b * OSR_QK_K;
        float amax = 0.0f;
        for (int j = 0; j < OSR_QK_K; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = d;
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) {
                int v = round_q8(x[16 * g + l] * id);
                y[b].qs[16 * g + l] = (int8_t)v;
                sum += v;
            }
            y[b].bsums[g] = (int16_t)sum;
        }
    }
}

static void dequantize_q8_k(const void *src, float *dst, int64_t n)
{
    const struct osr_block_q8_k *x = src;
    for (int64_t b = 0; b < n / OSR_QK_K; b++)
        for (int j = 0; j < OSR_QK_K; j++)
            dst[b * OSR_QK_K + j] = x[b].d * (float)x[b].qs[j];
}

/* ---- dot products ---------------------------------------------------------------------- */

static float vec_dot_f32(int64_t n, const void *w, const void *x)
{
    const float *a = w, *b = x;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return (float)s;
}

static float vec_dot_f16(int64_t n, const void *w, const void *x)
{
    const uint16_t *a = w;
    const float *b = x;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)F16(a[i]) * b[i];
    return (float)s;
}

static float vec_dot_bf16(int64_t n, const void *w, const void *x)
{
    const uint16_t *a = w;
    const float *b = x;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)osr_quant_bf16_to_f32(a[i]) * b[i];
    return (float)s;
}

static float vec_dot_q4_0(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q4_0 *a = w;
    const struct osr_block_q8_0 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK; i++) {
        int sum = 0;
        for (int j = 0; j < 16; j++) {
            sum += ((a[i].qs[j] & 0xF) - 8) * b[i].qs[j];
            sum += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
        }
        s += F16(a[i].d) * F16(b[i].d) * (float)sum;
    }
    return s;
}

static float vec_dot_q4_1(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q4_1 *a = w;
    const struct osr_block_q8_1 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK; i++) {
        int sum = 0;
        for (int j = 0; j < 16; j++) {
            sum += (a[i].qs[j] & 0xF) * b[i].qs[j];
            sum += (a[i].qs[j] >> 4) * b[i].qs[j + 16];
        }
        s += F16(a[i].d) * F16(b[i].d) * (float)sum + F16(a[i].m) * F16(b[i].s);
    }
    return s;
}

static float vec_dot_q5_0(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q5_0 *a = w;
    const struct osr_block_q8_0 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK; i++) {
        uint32_t qh = load_u32(a[i].qh);
        int sum = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = (a[i].qs[j] & 0xF) | (int)((qh >> j & 1) << 4);
            int q1 = (a[i].qs[j] >> 4) | (int)((qh >> (j + 16) & 1) << 4);
            sum += (q0 - 16) * b[i].qs[j] + (q1 - 16) * b[i].qs[j + 16];
        }
        s += F16(a[i].d) * F16(b[i].d) * (float)sum;
    }
    return s;
}

static float vec_dot_q5_1(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q5_1 *a = w;
    const struct osr_block_q8_1 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK; i++) {
        uint32_t qh = load_u32(a[i].qh);
        int sum = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = (a[i].qs[j] & 0xF) | (int)((qh >> j & 1) << 4);
            int q1 = (a[i].qs[j] >> 4) | (int)((qh >> (j + 16) & 1) << 4);
            sum += q0 * b[i].qs[j] + q1 * b[i].qs[j + 16];
        }
        s += F16(a[i].d) * F16(b[i].d) * (float)sum + F16(a[i].m) * F16(b[i].s);
    }
    return s;
}

static float vec_dot_q8_0(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q8_0 *a = w;
    const struct osr_block_q8_0 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK; i++) {
        int sum = 0;
        for (int j = 0; j < OSR_QK; j++)
            sum += a[i].qs[j] * b[i].qs[j];
        s += F16(a[i].d) * F16(b[i].d) * (float)sum;
    }
    return s;
}

static float vec_dot_q4_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q4_k *a = w;
    const struct osr_block_q8_k *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        int sumq = 0, summ = 0;
        for (int c = 0; c < 4; c++) {
            uint8_t sc0, m0, sc1, m1;
            osr_quant_k4_scale_min(a[i].scales, 2 * c, &sc0, &m0);
            osr_quant_k4_scale_min(a[i].scales, 2 * c + 1, &sc1, &m1);
            const uint8_t *q = a[i].qs + 32 * c;
            const int8_t *y = b[i].qs + 64 * c;
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; l++) {
                s0 += (q[l] & 0xF) * y[l];
                s1 += (q[l] >> 4) * y[l + 32];
            }
            sumq += sc0 * s0 + sc1 * s1;
            summ += m0 * (b[i].bsums[4 * c] + b[i].bsums[4 * c + 1]) +
                    m1 * (b[i].bsums[4 * c + 2] + b[i].bsums[4 * c + 3]);
        }
        s += b[i].d * (F16(a[i].d) * (float)sumq - F16(a[i].dmin) * (float)summ);
    }
    return s;
}

static float vec_dot_q5_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q5_k *a = w;
    const struct osr_block_q8_k *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        int sumq = 0, summ = 0;
        for (int c = 0; c < 4; c++) {
            uint8_t sc0, m0, sc1, m1;
            osr_quant_k4_scale_min(a[i].scales, 2 * c, &sc0, &m0);
            osr_quant_k4_scale_min(a[i].scales, 2 * c + 1, &sc1, &m1);
            const uint8_t *q = a[i].qs + 32 * c;
            const int8_t *y = b[i].qs + 64 * c;
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; l++) {
                int lo = (q[l] & 0xF) | (((a[i].qh[l] >> (2 * c)) & 1) << 4);
                int hi = (q[l] >> 4) | (((a[i].qh[l] >> (2 * c + 1)) & 1) << 4);
                s0 += lo * y[l];
                s1 += hi * y[l + 32];
            }
            sumq += sc0 * s0 + sc1 * s1;
            summ += m0 * (b[i].bsums[4 * c] + b[i].bsums[4 * c + 1]) +
                    m1 * (b[i].bsums[4 * c + 2] + b[i].bsums[4 * c + 3]);
        }
        s += b[i].d * (F16(a[i].d) * (float)sumq - F16(a[i].dmin) * (float)summ);
    }
    return s;
}

static float vec_dot_q2_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q2_k *a = w;
    const struct osr_block_q8_k *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        int sumq = 0, summ = 0;
        for (int g = 0; g < 16; g++) {
            int sg = 0;
            for (int l = 0; l < 16; l++)
                sg += get_2bit(a[i].qs, 16 * g + l) * b[i].qs[16 * g + l];
            sumq += (a[i].scales[g] & 0xF) * sg;
            summ += (a[i].scales[g] >> 4) * b[i].bsums[g];
        }
        s += b[i].d * (F16(a[i].d) * (float)sumq - F16(a[i].dmin) * (float)summ);
    }
    return s;
}

static float vec_dot_q3_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q3_k *a = w;
    const struct osr_block_q8_k *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        int8_t sc[16];
        osr_quant_k3_scales(a[i].scales, sc);
        int sum = 0;
        for (int g = 0; g < 16; g++) {
            int sg = 0;
            for (int l = 0; l < 16; l++)
                sg += get_q3(&a[i], 16 * g + l) * b[i].qs[16 * g + l];
            sum += sc[g] * sg;
        }
        s += b[i].d * F16(a[i].d) * (float)sum;
    }
    return s;
}

static float vec_dot_q6_k(int64_t n, const void *w, const void *x)
{
    const struct osr_block_q6_k *a = w;
    const struct osr_block_q8_k *b = x;
    uint8_t q[OSR_QK_K];
    float s = 0.0f;
    for (int64_t i = 0; i < n / OSR_QK_K; i++) {
        unpack_q6_k(&a[i], q);
        int sum = 0;
        for (int g = 0; g < 16; g++) {
            int sg = 0;
            for (int l = 0; l < 16; l++)
                sg += (q[16 * g + l] - 32) * b[i].qs[16 * g + l];
            sum += a[i].scales[g] * sg;
        }
        s += b[i].d * F16(a[i].d) * (float)sum;
    }
    return s;
}

/* ---- elementwise ----------------------------------------------------------------------- */

static void add(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

static void mul(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] * b[i];
}

static void scale(float *y, const float *x, float s, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * s;
}

static void axpy(float *y, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

static void axpy_f16(float *y, float a, const uint16_t *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * F16(x[i]);
}

static void rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * r * (w ? w[i] : 1.0f);
}

static void softmax(float *x, int64_t n)
{
    float max = x[0];
    for (int64_t i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

static void silu(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] / (1.0f + expf(-x[i]));
}

static void swiglu(float *y, const float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void osr_kernels_fill_scalar(struct osr_kernels *k)
{
    memset(k, 0, sizeof(*k));
    k->isa = OSR_ISA_SCALAR;
    k->name = "scalar";

#define TYPE(id, suffix)                                                                           \
    k->dequantize[id] = dequantize_##suffix;                                                       \
    k->quantize[id] = quantize_##suffix;
    TYPE(OSR_QTYPE_F32, f32)
    TYPE(OSR_QTYPE_F16, f16)
    TYPE(OSR_QTYPE_BF16, bf16)
    TYPE(OSR_QTYPE_Q4_0, q4_0)
    TYPE(OSR_QTYPE_Q4_1, q4_1)
    TYPE(OSR_QTYPE_Q5_0, q5_0)
    TYPE(OSR_QTYPE_Q5_1, q5_1)
    TYPE(OSR_QTYPE_Q8_0, q8_0)
    TYPE(OSR_QTYPE_Q8_1, q8_1)
    TYPE(OSR_QTYPE_Q2_K, q2_k)
    TYPE(OSR_QTYPE_Q3_K, q3_k)
    TYPE(OSR_QTYPE_Q4_K, q4_k)
    TYPE(OSR_QTYPE_Q5_K, q5_k)
    TYPE(OSR_QTYPE_Q6_K, q6_k)
    TYPE(OSR_QTYPE_Q8_K, q8_k)
#undef TYPE

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
