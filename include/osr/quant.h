/* quant.h - the ggml tensor element types: ids, block layouts, sizes, fp16/bf16 conversion.
 *
 * The numeric values of enum osr_qtype are the ggml type ids stored in GGUF tensor infos, and
 * each block struct is byte-for-byte the on-disk layout of that type, so model weights are read
 * straight from the mmapped file.  Every layout carries a static assertion on its size.
 *
 * A quantized row of n values is n / block_values blocks laid end to end; n must be a multiple
 * of the block size (osr_quant_row_bytes returns 0 otherwise).
 *
 * Thread rules: everything here is pure and thread-safe.
 */
#ifndef OSR_QUANT_H
#define OSR_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ggml type ids (ggml.h enum ggml_type; the same numbers as the GGUF reader's type enum, so a
 * tensor's type converts by a cast).  Ids not listed here (4, 5 removed long ago; the
 * IQ* and integer types) are valid in a GGUF file but unsupported by our kernels. */
enum osr_qtype {
    OSR_QTYPE_F32 = 0,
    OSR_QTYPE_F16 = 1,
    OSR_QTYPE_Q4_0 = 2,
    OSR_QTYPE_Q4_1 = 3,
    OSR_QTYPE_Q5_0 = 6,
    OSR_QTYPE_Q5_1 = 7,
    OSR_QTYPE_Q8_0 = 8,
    OSR_QTYPE_Q8_1 = 9,
    OSR_QTYPE_Q2_K = 10,
    OSR_QTYPE_Q3_K = 11,
    OSR_QTYPE_Q4_K = 12,
    OSR_QTYPE_Q5_K = 13,
    OSR_QTYPE_Q6_K = 14,
    OSR_QTYPE_Q8_K = 15,
    OSR_QTYPE_BF16 = 30,
    OSR_QTYPE_COUNT = 31 /* one past the largest id we know; tables are indexed by id */
};

#define OSR_QK 32    /* values per block of the 32-value types (Q4_0 ... Q8_1) */
#define OSR_QK_K 256 /* values per super-block of the K-quants */
#define OSR_K_SCALE_SIZE 12

/* All fp16/bf16 fields are stored as raw uint16_t bits (little endian, like the file). */

/* Q4_0: x = d * (q - 8), q in 0..15.  qs[j] holds value j in its low nibble and value j + 16
 * in its high nibble. */
struct osr_block_q4_0 {
    uint16_t d;
    uint8_t qs[OSR_QK / 2];
};
_Static_assert(sizeof(struct osr_block_q4_0) == 18, "q4_0 block is 18 bytes");

/* Q4_1: x = d * q + m, q in 0..15; nibble order as Q4_0. */
struct osr_block_q4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qs[OSR_QK / 2];
};
_Static_assert(sizeof(struct osr_block_q4_1) == 20, "q4_1 block is 20 bytes");

/* Q5_0: x = d * (q - 16), q in 0..31: the low four bits as Q4_0, bit 4 of value j is bit j of
 * the little-endian 32-bit word qh. */
struct osr_block_q5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[OSR_QK / 2];
};
_Static_assert(sizeof(struct osr_block_q5_0) == 22, "q5_0 block is 22 bytes");

/* Q5_1: x = d * q + m, q in 0..31, bits as Q5_0. */
struct osr_block_q5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[OSR_QK / 2];
};
_Static_assert(sizeof(struct osr_block_q5_1) == 24, "q5_1 block is 24 bytes");

/* Q8_0: x = d * q. */
struct osr_block_q8_0 {
    uint16_t d;
    int8_t qs[OSR_QK];
};
_Static_assert(sizeof(struct osr_block_q8_0) == 34, "q8_0 block is 34 bytes");

/* Q8_1 (activations): x = d * q, and s = d * sum(q) (both fp16). */
struct osr_block_q8_1 {
    uint16_t d;
    uint16_t s;
    int8_t qs[OSR_QK];
};
_Static_assert(sizeof(struct osr_block_q8_1) == 36, "q8_1 block is 36 bytes");

/* Q2_K: 16 sub-blocks of 16 values; scales[g] = scale (low 4 bits) | min (high 4 bits) of
 * sub-block g; x = d * sc_g * q - dmin * m_g, q in 0..3.  Value v (g = v / 16) sits in bits
 * 2 * ((v % 128) / 32) of qs[32 * (v / 128) + v % 32]: each 32-byte half of qs holds 128 values,
 * four 2-bit planes of 32. */
struct osr_block_q2_k {
    uint8_t scales[OSR_QK_K / 16];
    uint8_t qs[OSR_QK_K / 4];
    uint16_t d;
    uint16_t dmin;
};
_Static_assert(sizeof(struct osr_block_q2_k) == 84, "q2_K block is 84 bytes");

/* Q3_K: 16 sub-blocks of 16 values, x = d * (s_g - 32) * q, q in -4..3 stored as two low bits
 * (placed as in Q2_K) and a high bit: hmask[v % 32] bit v / 32 set means q = low, clear means
 * q = low - 4.  The 16 6-bit s_g are packed in scales[12]: low nibbles in bytes 0..7 (g < 8:
 * low nibble of byte g, else high nibble of byte g - 8), high two bits in bytes 8..11 (bits
 * 2 * (g / 4) of byte 8 + g % 4); see osr_quant_k3_scales. */
struct osr_block_q3_k {
    uint8_t hmask[OSR_QK_K / 8];
    uint8_t qs[OSR_QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
};
_Static_assert(sizeof(struct osr_block_q3_k) == 110, "q3_K block is 110 bytes");

/* Q4_K: 8 sub-blocks of 32 values; sub-block j has a 6-bit scale sc_j and 6-bit min m_j packed
 * in scales[12] (see osr_quant_k4_scale_min); x = d * sc_j * q - dmin * m_j, q in 0..15.
 * Values 64c .. 64c+31 are the low nibbles of qs[32c .. 32c+31], values 64c+32 .. 64c+63 the
 * high nibbles of the same bytes. */
struct osr_block_q4_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[OSR_K_SCALE_SIZE];
    uint8_t qs[OSR_QK_K / 2];
};
_Static_assert(sizeof(struct osr_block_q4_k) == 144, "q4_K block is 144 bytes");

/* Q5_K: as Q4_K plus a fifth bit: bit 4 of value 64c + l (l < 32) is bit 2c of qh[l], of value
 * 64c + 32 + l it is bit 2c + 1 of qh[l]. q in 0..31. */
struct osr_block_q5_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[OSR_K_SCALE_SIZE];
    uint8_t qh[OSR_QK_K / 8];
    uint8_t qs[OSR_QK_K / 2];
};
_Static_assert(sizeof(struct osr_block_q5_k) == 176, "q5_K block is 176 bytes");

/* Q6_K: 16 sub-blocks of 16 values with int8 scales; x = d * sc * (q - 32), q in 0..63.
 * For each half h (128 values) and l < 32, with L = ql + 64h, H = qh + 32h:
 *   value 128h + l      = L[l]      & 15 | (H[l] >> 0 & 3) << 4
 *   value 128h + l + 32 = L[l + 32] & 15 | (H[l] >> 2 & 3) << 4
 *   value 128h + l + 64 = L[l]      >> 4 | (H[l] >> 4 & 3) << 4
 *   value 128h + l + 96 = L[l + 32] >> 4 | (H[l] >> 6 & 3) << 4
 * and value v uses scales[v / 16]. */
struct osr_block_q6_k {
    uint8_t ql[OSR_QK_K / 2];
    uint8_t qh[OSR_QK_K / 4];
    int8_t scales[OSR_QK_K / 16];
    uint16_t d;
};
_Static_assert(sizeof(struct osr_block_q6_k) == 210, "q6_K block is 210 bytes");

/* Q8_K (activations): x = d * q with a float d; bsums[i] = sum of qs[16i .. 16i+15]. */
struct osr_block_q8_k {
    float d;
    int8_t qs[OSR_QK_K];
    int16_t bsums[OSR_QK_K / 16];
};
_Static_assert(sizeof(struct osr_block_q8_k) == 292, "q8_K block is 292 bytes");

struct osr_qtype_info {
    const char *name;        /* "q4_0", "f16", ... as ggml names them */
    int block_values;        /* values per block (1 for the float types) */
    size_t block_bytes;      /* bytes per block */
    bool has_kernels;        /* dequantize + vec_dot exist for it as a weight type */
    enum osr_qtype dot_type; /* the activation type its vec_dot takes (see KERNELS.md) */
};

/* Returns the description of type id t, or NULL for an id we do not know (any uint32 from a
 * file may be passed). */
const struct osr_qtype_info *osr_quant_type_info(uint32_t t);

/* Returns the bytes of a row of n values of type t, or 0 when t is unknown, n is not a multiple
 * of the block size, or the size would overflow. */
size_t osr_quant_row_bytes(uint32_t t, int64_t n);

/* Decodes the 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block's scales[12]. */
static inline void osr_quant_k4_scale_min(const uint8_t *s, int j, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* All eight scales and mins of a Q4_K/Q5_K block at once (same result as calling
 * osr_quant_k4_scale_min for j = 0..7), with 32-bit word operations. */
static inline void osr_quant_k4_unpack(const uint8_t *s, uint8_t sc[8], uint8_t m[8])
{
    uint32_t u0, u1, u2, t;
    memcpy(&u0, s, 4);
    memcpy(&u1, s + 4, 4);
    memcpy(&u2, s + 8, 4);
    t = u0 & 0x3F3F3F3Fu;
    memcpy(sc, &t, 4);
    t = (u2 & 0x0F0F0F0Fu) | (((u0 >> 6) & 0x03030303u) << 4);
    memcpy(sc + 4, &t, 4);
    t = u1 & 0x3F3F3F3Fu;
    memcpy(m, &t, 4);
    t = ((u2 >> 4) & 0x0F0F0F0Fu) | (((u1 >> 6) & 0x03030303u) << 4);
    memcpy(m + 4, &t, 4);
}

/* The 16 signed scales (s_g - 32, in -32..31) of a Q3_K block's scales[12]. */
static inline void osr_quant_k3_scales(const uint8_t *s, int8_t out[16])
{
    for (int g = 0; g < 16; g++) {
        int lo = g < 8 ? (s[g] & 0xF) : (s[g - 8] >> 4);
        int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
        out[g] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

/* IEEE binary16 <-> binary32.  Exact for every half (subnormals, infinities, NaN payloads);
 * float -> half rounds to nearest even, overflows to infinity and keeps NaN a NaN. */
static inline float osr_quant_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    uint32_t bits;
    float f;
    if (exp == 0) {
        f = (float)mant * 0x1p-24f; /* zero or subnormal: exact in float */
        memcpy(&bits, &f, 4);
        bits |= sign;
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    }
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t osr_quant_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax > 0x7F800000u) /* NaN: keep the top payload bits and make sure it stays a NaN */
        return (uint16_t)(sign | 0x7E00 | ((ax >> 13) & 0x3FF));
    if (ax >= 0x477FF000u) /* >= 65520 rounds to infinity (and infinity itself) */
        return (uint16_t)(sign | 0x7C00);
    if (ax < 0x38800000u) {
        /* Below the smallest normal half: adding 0.5 puts the half subnormal quantum (2^-24) at
         * the last mantissa bit of a float, so the FPU's own round-to-even does the work. */
        float a, t;
        memcpy(&a, &ax, 4);
        t = a + 0.5f;
        uint32_t tb;
        memcpy(&tb, &t, 4);
        return (uint16_t)(sign | (tb - 0x3F000000u));
    }
    uint32_t odd = (ax >> 13) & 1;
    ax += 0xC8000000u + 0xFFF + odd; /* rebias exponent (-112 << 23) and round to even */
    return (uint16_t)(sign | (ax >> 13));
}

/* bfloat16 <-> binary32: bf16 is the top half of a float.  float -> bf16 rounds to nearest
 * even and turns a NaN into a quiet NaN. */
static inline float osr_quant_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t osr_quant_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7FFF + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

#endif
