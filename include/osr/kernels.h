/* kernels.h - the compute kernels of the local inference engine, chosen once per process.
 *
 * A struct osr_kernels is a table of function pointers for one instruction set: scalar (the
 * reference every other table is tested against), AVX2+FMA+F16C, AVX-512 (F/BW/VL/DQ) and
 * AVX-512 with VNNI.  osr_kernels_get picks the best table the CPU supports the first time it
 * is called; the environment variable OSR_KERNELS=scalar|avx2|avx512|avx512vnni forces one
 * (falling back to the best supported one, with a warning, when the CPU lacks it).
 *
 * Weights are rows of any type with has_kernels (see quant.h) read in place; activations are
 * float vectors, quantized on the fly to the weight type's dot_type for the dot products.
 * Sizes passed as n must be multiples of the type's block size; the table functions do not
 * check (they are the inner loop), osr_kernels_matmul does.
 *
 * Thread rules: the tables are immutable and shared; every function is reentrant.
 */
#ifndef OSR_KERNELS_H
#define OSR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "osr/quant.h"
#include "osr/threadpool.h"

enum osr_isa {
    OSR_ISA_SCALAR = 0,
    OSR_ISA_AVX2 = 1,
    OSR_ISA_AVX512 = 2,
    OSR_ISA_AVX512VNNI = 3,
    OSR_ISA_COUNT
};

/* dst[0..n) = the n values of the blocks at src. */
typedef void (*osr_dequantize_fn)(const void *src, float *dst, int64_t n);
/* Blocks at dst = src[0..n) quantized. */
typedef void (*osr_quantize_fn)(const float *src, void *dst, int64_t n);
/* Returns the dot product of n values: w in the weight type, x in its dot_type. */
typedef float (*osr_vec_dot_fn)(int64_t n, const void *w, const void *x);

/* Dots of 4 weight rows (row r at (char *)w + r * row_bytes) against nv activation vectors
 * (1 <= nv <= 4, vector v at (char *)x + v * x_stride): y[v * y_stride + r] = dot(row r,
 * vector v).  Shares activation loads and scale conversions across rows; each result is the
 * same whatever nv is, but may differ from vec_dot in the last bits (summation order). */
typedef void (*osr_gemm4_fn)(int64_t n, const void *w, size_t row_bytes, const void *x,
                             size_t x_stride, int nv, float *y, int64_t y_stride);

/* A batch of Q8_0 activation vectors in block-major order, for the panel kernels: the 32
 * values of block b of vector v, each plus 128 (so unsigned bytes), at
 * qs + (b * nvec + v) * 32, and its scale as a float at d[b * nvec + v], so the vectors of a
 * register tile sit at fixed offsets from one pointer.  Borrowed views into the matmul scratch. */
struct osr_q8_0_batch {
    uint8_t *qs;
    float *d;
    int64_t nvec;
};

/* The smallest batch that goes through the panel kernels: below it, repacking 16 rows for
 * a few vectors costs more than it saves (measured: 2 and 4 vectors slower than gemm4, 8 about
 * even, 16 much faster). */
#define OSR_GEMM16_MIN_NVEC 8

/* Dots of 16 weight rows (row r at (char *)w + r * row_bytes, n values) against vectors
 * v0..v0+nv of the batch x: y[(v - v0) * y_stride + r] = dot(row r, vector v).  The rows are
 * repacked on the stack (about 20 KiB) a slice of blocks at a time so that one 32-bit lane
 * holds one row, and each slice is reused against every vector.  A vector's result does not
 * depend on v0 or nv; it may differ from vec_dot in the last bits (summation order). */
typedef void (*osr_gemm16_fn)(int64_t n, const void *w, size_t row_bytes,
                              const struct osr_q8_0_batch *x, int64_t v0, int64_t nv, float *y,
                              int64_t y_stride);

struct osr_kernels {
    enum osr_isa isa;
    const char *name; /* "scalar", "avx2", "avx512", "avx512vnni" */

    /* Indexed by type id; NULL where a type has no such kernel. */
    osr_dequantize_fn dequantize[OSR_QTYPE_COUNT];
    osr_quantize_fn quantize[OSR_QTYPE_COUNT];
    osr_vec_dot_fn vec_dot[OSR_QTYPE_COUNT]; /* by weight type */
    osr_gemm4_fn gemm4[OSR_QTYPE_COUNT];     /* by weight type; NULL: matmul uses vec_dot */
    /* by weight type, Q8_0 activations only; NULL: batches use gemm4.  OSR_GEMM16=off clears
     * these in every table (to compare or rule out the panel path). */
    osr_gemm16_fn gemm16[OSR_QTYPE_COUNT];

    /* Elementwise ops on float vectors of length n (any n >= 0).  y may equal an input. */
    void (*add)(float *y, const float *a, const float *b, int64_t n);
    void (*mul)(float *y, const float *a, const float *b, int64_t n);
    void (*scale)(float *y, const float *x, float s, int64_t n);
    /* y += a * x */
    void (*axpy)(float *y, float a, const float *x, int64_t n);
    /* y += a * x with x in fp16 (the KV cache's V rows). */
    void (*axpy_f16)(float *y, float a, const uint16_t *x, int64_t n);
    /* y = x / sqrt(mean(x^2) + eps) * w   (w may be NULL: no weight) */
    void (*rmsnorm)(float *y, const float *x, const float *w, int64_t n, float eps);
    /* x = softmax(x) in place; returns nothing.  n >= 1. */
    void (*softmax)(float *x, int64_t n);
    /* y = x * sigmoid(x) */
    void (*silu)(float *y, const float *x, int64_t n);
    /* y = silu(gate) * up */
    void (*swiglu)(float *y, const float *gate, const float *up, int64_t n);
};

/* Returns the table chosen for this process (never NULL). */
const struct osr_kernels *osr_kernels_get(void);

/* Returns the table for isa, or NULL when this CPU cannot run it.  For tests and benchmarks. */
const struct osr_kernels *osr_kernels_for_isa(enum osr_isa isa);

/* Returns the table named name ("scalar", "avx2", ...), or NULL when unknown or unsupported. */
const struct osr_kernels *osr_kernels_by_name(const char *name);

/* Bytes of scratch osr_kernels_matmul needs for nvec activation vectors of cols values against
 * weights of type wtype (0 when it needs none), or (size_t)-1 for an unsupported combination. */
size_t osr_kernels_matmul_scratch(enum osr_qtype wtype, int64_t cols, int64_t nvec);

/* Copies nblocks Q8_0 blocks of vector v, starting at its block b0, from blocks into the
 * batch view bt (values plus 128, scales as floats). */
void osr_kernels_q8_0_batch_fill(const struct osr_q8_0_batch *bt, const void *blocks, int64_t v,
                                 int64_t b0, int64_t nblocks);

/* The batch view of prepared activations inside the matmul scratch: the scratch of a batch
 * (nvec >= OSR_GEMM16_MIN_NVEC) whose dot_type is Q8_0 holds, after the quantized vectors and
 * rounded up to 64 bytes, the same values in block-major order (nvec * cols bytes) and then
 * nvec * cols / 32 float scales.  Fills *out and returns 1 for the scratch xq, or returns 0 when
 * this combination has no batch view. */
int osr_kernels_prepared_batch(const void *xq, enum osr_qtype wtype, int64_t cols, int64_t nvec,
                               struct osr_q8_0_batch *out);

/* y = W x for nvec vectors at once:
 *   W: rows rows of cols values of type wtype, row r at (char *)w + r * row_bytes (borrowed;
 *      typically the mmapped file); x: nvec vectors of cols floats, vector v at x + v * cols;
 *   y: nvec vectors of rows floats, y[v * rows + r] = dot(W row r, x vector v).
 * scratch (borrowed, scratch_bytes >= osr_kernels_matmul_scratch) holds the quantized
 * activations.  Work is split over the threads of tp (NULL: the caller only) by row ranges;
 * the result does not depend on the thread count.  Allocates nothing.
 * Returns OSR_OK, or OSR_EINVAL for a type without kernels, cols not a multiple of the block
 * size, a row_bytes too small, or too little scratch. */
int osr_kernels_matmul(const struct osr_kernels *k, struct osr_threadpool *tp, enum osr_qtype wtype,
                       const void *w, size_t row_bytes, int64_t rows, int64_t cols, const float *x,
                       int64_t nvec, float *y, void *scratch, size_t scratch_bytes);

/* Quantizes nvec vectors of cols floats at x (vector v at x + v * cols) into scratch exactly as
 * osr_kernels_matmul would for weights of type wtype, so several matmuls over the same input
 * (attention Q/K/V, FFN gate/up) share one quantization.  When the weight type's dot_type is
 * F32 there is nothing to do (scratch need is 0) and the prepared activations are x itself.
 * Returns OSR_OK or OSR_EINVAL (as osr_kernels_matmul). */
int osr_kernels_matmul_prepare(const struct osr_kernels *k, struct osr_threadpool *tp,
                               enum osr_qtype wtype, int64_t cols, const float *x, int64_t nvec,
                               void *scratch, size_t scratch_bytes);

/* osr_kernels_matmul over activations already prepared by osr_kernels_matmul_prepare (for any
 * weight type with the same dot_type and the same cols): xq is that scratch, or x for the
 * float types.  Borrows everything; allocates nothing. */
int osr_kernels_matmul_prepared(const struct osr_kernels *k, struct osr_threadpool *tp,
                                enum osr_qtype wtype, const void *w, size_t row_bytes, int64_t rows,
                                int64_t cols, const void *xq, int64_t nvec, float *y);

struct osr_rope {
    int n_rot;                 /* dimensions rotated per head: even, <= head_dim */
    int neox;                  /* 0: pairs (2i, 2i+1) (llama); 1: (i, i + n_rot/2) (neox, qwen2,
                                * phi3, gemma) */
    float freq_base;           /* e.g. 10000 */
    float freq_scale;          /* linear position scaling; 1 = none */
    float attn_factor;         /* multiplies cos and sin (YaRN/longrope magnitude); 1 = none */
    const float *freq_factors; /* n_rot/2 divisors of the angles (llama 3, longrope) or NULL */
    float ext_factor;          /* YaRN extrapolation mix; 0 = off (plain interpolation) */
    float corr_dims[2];        /* YaRN ramp [low, high] in pair indices (with ext_factor) */
};

/* RoPE in place on n_heads heads of head_dim floats at x (head h at x + h * head_dim) for
 * position pos.  With e_i = pos * freq_base^(-2i/n_rot) / freq_factors[i] (the unscaled,
 * "extrapolated" angle of pair i):
 *   ext_factor 0: theta_i = freq_scale * e_i, and cos/sin are scaled by attn_factor;
 *   YaRN (ext_factor != 0), as ggml defines it:
 *     ramp_i  = 1 - clamp((i - low) / max(0.001, high - low), 0, 1), low/high = corr_dims
 *     mix_i   = ramp_i * ext_factor
 *     theta_i = freq_scale * e_i * (1 - mix_i) + e_i * mix_i
 *     cos/sin scaled by attn_factor * (1 + 0.1 ln(1 / freq_scale)).
 * Scalar on purpose: the sin/cos dominate and are computed once per call for all heads. */
void osr_kernels_rope(float *x, int n_heads, int head_dim, int64_t pos, const struct osr_rope *p);

/* YaRN's correction range for osr_rope.corr_dims: the pair indices where the rotation at the
 * original context length n_ctx_orig completes beta_fast (low, floored) and beta_slow (high,
 * ceiled) turns, from corr(b) = n_rot * ln(n_ctx_orig / (2 pi b)) / (2 ln freq_base), clamped
 * to [0, n_rot - 1] as ggml does. */
void osr_kernels_rope_yarn_corr_dims(int n_rot, int n_ctx_orig, float freq_base, float beta_fast,
                                     float beta_slow, float dims[2]);

#endif
