/* kernels.c - type descriptions, the run-time choice of kernel table, matmul and RoPE.
 *
 * The tables for every ISA the CPU supports are built once (under pthread_once) from the
 * scalar one upwards; osr_kernels_get returns the best, or the one OSR_KERNELS names.  The
 * matmul splits rows across the thread pool in small chunks taken from a shared counter, so a
 * thread slowed by a busy machine does less of the work instead of holding everyone back; each
 * output is computed by exactly one thread with the same code, so the result does not depend
 * on the thread count.
 *
 * It does not know about tensors, shapes beyond rows x cols, or the model graph.
 */
#include <math.h>
#include <cpuid.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_impl.h"
#include "osr/alloc.h"
#include "osr/err.h"
#include "osr/log.h"

/* ---- types ------------------------------------------------------------------------------ */

#define INFO(id, nm, bv, bb, k, dt) [id] = {nm, bv, bb, k, dt}
static const struct osr_qtype_info type_info[OSR_QTYPE_COUNT] = {
    INFO(OSR_QTYPE_F32, "f32", 1, 4, true, OSR_QTYPE_F32),
    INFO(OSR_QTYPE_F16, "f16", 1, 2, true, OSR_QTYPE_F32),
    INFO(OSR_QTYPE_Q4_0, "q4_0", OSR_QK, sizeof(struct osr_block_q4_0), true, OSR_QTYPE_Q8_0),
    INFO(OSR_QTYPE_Q4_1, "q4_1", OSR_QK, sizeof(struct osr_block_q4_1), true, OSR_QTYPE_Q8_1),
    INFO(OSR_QTYPE_Q5_0, "q5_0", OSR_QK, sizeof(struct osr_block_q5_0), true, OSR_QTYPE_Q8_0),
    INFO(OSR_QTYPE_Q5_1, "q5_1", OSR_QK, sizeof(struct osr_block_q5_1), true, OSR_QTYPE_Q8_1),
    INFO(OSR_QTYPE_Q8_0, "q8_0", OSR_QK, sizeof(struct osr_block_q8_0), true, OSR_QTYPE_Q8_0),
    INFO(OSR_QTYPE_Q8_1, "q8_1", OSR_QK, sizeof(struct osr_block_q8_1), false, OSR_QTYPE_Q8_1),
    INFO(OSR_QTYPE_Q2_K, "q2_K", OSR_QK_K, sizeof(struct osr_block_q2_k), true, OSR_QTYPE_Q8_K),
    INFO(OSR_QTYPE_Q3_K, "q3_K", OSR_QK_K, sizeof(struct osr_block_q3_k), true, OSR_QTYPE_Q8_K),
    INFO(OSR_QTYPE_Q4_K, "q4_K", OSR_QK_K, sizeof(struct osr_block_q4_k), true, OSR_QTYPE_Q8_K),
    INFO(OSR_QTYPE_Q5_K, "q5_K", OSR_QK_K, sizeof(struct osr_block_q5_k), true, OSR_QTYPE_Q8_K),
    INFO(OSR_QTYPE_Q6_K, "q6_K", OSR_QK_K, sizeof(struct osr_block_q6_k), true, OSR_QTYPE_Q8_K),
    INFO(OSR_QTYPE_Q8_K, "q8_K", OSR_QK_K, sizeof(struct osr_block_q8_k), false, OSR_QTYPE_Q8_K),
    INFO(OSR_QTYPE_BF16, "bf16", 1, 2, true, OSR_QTYPE_F32),
};
#undef INFO

const struct osr_qtype_info *osr_quant_type_info(uint32_t t)
{
    if (t >= OSR_QTYPE_COUNT || !type_info[t].name)
        return NULL;
    return &type_info[t];
}

size_t osr_quant_row_bytes(uint32_t t, int64_t n)
{
    const struct osr_qtype_info *ti = osr_quant_type_info(t);
    size_t out;
    if (!ti || n < 0 || n % ti->block_values != 0)
        return 0;
    if (!osr_size_mul((size_t)(n / ti->block_values), ti->block_bytes, &out))
        return 0;
    return out;
}

/* ---- dispatch --------------------------------------------------------------------------- */

static const char *const isa_names[OSR_ISA_COUNT] = {"scalar", "avx2", "avx512", "avx512vnni"};
static struct osr_kernels tables[OSR_ISA_COUNT];
static bool supported[OSR_ISA_COUNT];
static const struct osr_kernels *chosen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports has no "f16c". */
static bool cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return false;
    return (c >> 29) & 1u;
}

static void init_tables(void)
{
    __builtin_cpu_init();
    supported[OSR_ISA_SCALAR] = true;
    supported[OSR_ISA_AVX2] =
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    supported[OSR_ISA_AVX512] = supported[OSR_ISA_AVX2] && __builtin_cpu_supports("avx512f") &&
                                __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vl") &&
                                __builtin_cpu_supports("avx512dq");
    supported[OSR_ISA_AVX512VNNI] =
        supported[OSR_ISA_AVX512] && __builtin_cpu_supports("avx512vnni");

    osr_kernels_fill_scalar(&tables[OSR_ISA_SCALAR]);
    tables[OSR_ISA_AVX2] = tables[OSR_ISA_SCALAR];
    osr_kernels_fill_avx2(&tables[OSR_ISA_AVX2]);
    tables[OSR_ISA_AVX512] = tables[OSR_ISA_AVX2];
    osr_kernels_fill_avx512(&tables[OSR_ISA_AVX512]);
    tables[OSR_ISA_AVX512VNNI] = tables[OSR_ISA_AVX512];
    osr_kernels_fill_avx512vnni(&tables[OSR_ISA_AVX512VNNI]);
    const char *g16 = getenv("OSR_GEMM16");
    bool no_gemm16 = g16 && (strcmp(g16, "off") == 0 || strcmp(g16, "0") == 0);
    for (int i = 0; i < OSR_ISA_COUNT; i++) {
        tables[i].isa = (enum osr_isa)i;
        tables[i].name = isa_names[i];
        if (no_gemm16)
            memset(tables[i].gemm16, 0, sizeof(tables[i].gemm16));
    }

    int best = OSR_ISA_SCALAR;
    for (int i = 0; i < OSR_ISA_COUNT; i++)
        if (supported[i])
            best = i;
    const char *want = getenv("OSR_KERNELS");
    if (want && *want) {
        int found = -1;
        for (int i = 0; i < OSR_ISA_COUNT; i++)
            if (strcmp(want, isa_names[i]) == 0)
                found = i;
        if (found < 0)
            osr_log(OSR_LOG_WARN, "OSR_KERNELS='%s' is not a kernel set; using '%s'", want,
                    isa_names[best]);
        else if (!supported[found])
            osr_log(OSR_LOG_WARN, "this CPU cannot run the '%s' kernels; using '%s'", want,
                    isa_names[best]);
        else
            best = found;
    }
    chosen = &tables[best];
}

const struct osr_kernels *osr_kernels_get(void)
{
    pthread_once(&once, init_tables);
    return chosen;
}

const struct osr_kernels *osr_kernels_for_isa(enum osr_isa isa)
{
    pthread_once(&once, init_tables);
    if ((int)isa < 0 || isa >= OSR_ISA_COUNT || !supported[isa])
        return NULL;
    return &tables[isa];
}

const struct osr_kernels *osr_kernels_by_name(const char *name)
{
    for (int i = 0; name && i < OSR_ISA_COUNT; i++)
        if (strcmp(name, isa_names[i]) == 0)
            return osr_kernels_for_isa((enum osr_isa)i);
    return NULL;
}

/* ---- matmul ----------------------------------------------------------------------------- */

/* Rows per work item: enough to amortize the shared counter, few enough to balance load. */
#define CHUNK_ROWS 16
/* Activation vectors per tile: each weight chunk is reused against this many vectors while it
 * sits in cache. */
#define TILE_VECS 8

struct matmul_job {
    const struct osr_kernels *k;
    enum osr_qtype wtype;
    osr_vec_dot_fn dot;
    osr_quantize_fn quant;
    struct osr_threadpool *tp;
    const char *w;
    size_t row_bytes;
    int64_t rows, cols, nvec;
    const float *x;
    float *y;
    char *xq;         /* quantized activations, or NULL to use x as is */
    int quantize;     /* phase 1: quantize x into xq */
    int multiply;     /* phase 2: the dot products */
    size_t xq_stride; /* bytes per quantized vector */
    int block_values;
    struct osr_q8_0_batch batch; /* block-major copy inside the scratch, if has_batch */
    int has_batch;
    _Atomic int64_t next; /* next work item */
};

/* Bytes of quantized vectors before the batch view (a multiple of 64), or 0 when the
 * batch has none (fewer than OSR_GEMM16_MIN_NVEC vectors, or activations other than Q8_0). */
static size_t batch_offset(const struct osr_qtype_info *ti, int64_t cols, int64_t nvec)
{
    if (ti->dot_type != OSR_QTYPE_Q8_0 || nvec < OSR_GEMM16_MIN_NVEC || cols <= 0)
        return 0;
    size_t q = (size_t)(cols / OSR_QK) * sizeof(struct osr_block_q8_0) * (size_t)nvec;
    return (q + 63) / 64 * 64;
}

size_t osr_kernels_matmul_scratch(enum osr_qtype wtype, int64_t cols, int64_t nvec)
{
    const struct osr_qtype_info *ti = osr_quant_type_info(wtype);
    if (!ti || !ti->has_kernels || cols < 0 || nvec < 0)
        return (size_t)-1;
    if (ti->dot_type == OSR_QTYPE_F32)
        return 0;
    size_t per = osr_quant_row_bytes(ti->dot_type, cols), total, sums;
    if (per == 0 && cols != 0)
        return (size_t)-1;
    if (!osr_size_mul(per, (size_t)nvec, &total))
        return (size_t)-1;
    size_t off = batch_offset(ti, cols, nvec);
    if (off == 0)
        return total;
    size_t nblk = (size_t)(cols / OSR_QK) * (size_t)nvec;
    if (!osr_size_mul(nblk, OSR_QK + sizeof(float), &sums) || off + sums < off)
        return (size_t)-1;
    return off + sums;
}

void osr_kernels_q8_0_batch_fill(const struct osr_q8_0_batch *bt, const void *blocks, int64_t v,
                                 int64_t b0, int64_t nblocks)
{
    const struct osr_block_q8_0 *b = blocks;
    for (int64_t i = 0; i < nblocks; i++) {
        size_t at = (size_t)((b0 + i) * bt->nvec + v);
        for (int k = 0; k < OSR_QK; k += 8) { /* + 128 is a flip of each byte's top bit */
            uint64_t q;
            memcpy(&q, b[i].qs + k, 8);
            q ^= 0x8080808080808080ull;
            memcpy(bt->qs + at * OSR_QK + (size_t)k, &q, 8);
        }
        bt->d[at] = osr_quant_f16_to_f32(b[i].d);
    }
}

int osr_kernels_prepared_batch(const void *xq, enum osr_qtype wtype, int64_t cols, int64_t nvec,
                               struct osr_q8_0_batch *out)
{
    const struct osr_qtype_info *ti = osr_quant_type_info(wtype);
    if (!xq || !ti || !ti->has_kernels)
        return 0;
    size_t off = batch_offset(ti, cols, nvec);
    if (!off)
        return 0;
    char *base = (char *)(uintptr_t)xq + off;
    out->qs = (uint8_t *)base;
    out->d = (float *)(void *)(base + (size_t)cols * (size_t)nvec);
    out->nvec = nvec;
    return 1;
}

static void matmul_worker(void *arg, int ith, int nth)
{
    struct matmul_job *j = arg;
    const char *xq = (const char *)j->x;
    size_t xq_stride = (size_t)j->cols * sizeof(float);

    if (j->xq && j->quantize) {
        /* Quantize the activations: all vectors' blocks form one flat range split evenly. */
        int64_t blocks_per_vec = j->cols / j->block_values;
        int64_t total = blocks_per_vec * j->nvec;
        int64_t b0 = total * ith / nth, b1 = total * (ith + 1) / nth;
        size_t bbytes = j->xq_stride / (size_t)blocks_per_vec;
        while (b0 < b1) {
            int64_t v = b0 / blocks_per_vec, off = b0 % blocks_per_vec;
            int64_t cnt = blocks_per_vec - off < b1 - b0 ? blocks_per_vec - off : b1 - b0;
            char *dst = j->xq + (size_t)v * j->xq_stride + (size_t)off * bbytes;
            j->quant(j->x + v * j->cols + off * j->block_values, dst, cnt * j->block_values);
            if (j->has_batch)
                osr_kernels_q8_0_batch_fill(&j->batch, dst, v, off, cnt);
            b0 += cnt;
        }
        if (!j->multiply)
            return;
        osr_threadpool_barrier(j->tp);
    }
    if (j->xq) {
        xq = j->xq;
        xq_stride = j->xq_stride;
    }

    osr_gemm4_fn gemm4 = j->k->gemm4[j->wtype];
    osr_gemm16_fn gemm16 = j->has_batch ? j->k->gemm16[j->wtype] : NULL;
    int64_t nchunks = (j->rows + CHUNK_ROWS - 1) / CHUNK_ROWS;
    /* With a panel kernel an item is 16 rows against every vector: the rows are repacked once
     * per item and then reused across the whole batch. */
    int64_t ntiles = gemm16 ? 1 : (j->nvec + TILE_VECS - 1) / TILE_VECS;
    int64_t items = nchunks * ntiles;
    for (;;) {
        int64_t it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (it >= items)
            break;
        int64_t r0 = (it % nchunks) * CHUNK_ROWS;
        int64_t r1 = r0 + CHUNK_ROWS < j->rows ? r0 + CHUNK_ROWS : j->rows;
        if (gemm16 && r1 - r0 == CHUNK_ROWS) {
            gemm16(j->cols, j->w + (size_t)r0 * j->row_bytes, j->row_bytes, &j->batch, 0, j->nvec,
                   j->y + r0, j->rows);
            continue;
        }
        int64_t v0 = gemm16 ? 0 : (it / nchunks) * TILE_VECS;
        int64_t v1 = gemm16 ? j->nvec : v0 + TILE_VECS < j->nvec ? v0 + TILE_VECS : j->nvec;
        /* Chunks start at multiples of CHUNK_ROWS (a multiple of 4), so which rows go through
         * gemm4 and which through vec_dot does not depend on the thread count.  A single
         * vector goes through vec_dot: with nothing to share between vectors the row-at-a-time
         * kernels measured faster. */
        int64_t r4 = gemm4 && j->nvec > 1 ? r0 + (r1 - r0) / 4 * 4 : r0;
        for (int64_t v = v0; v < v1; v += 4) {
            int nv = v1 - v < 4 ? (int)(v1 - v) : 4;
            for (int64_t r = r0; r < r4; r += 4)
                gemm4(j->cols, j->w + (size_t)r * j->row_bytes, j->row_bytes,
                      xq + (size_t)v * xq_stride, xq_stride, nv, j->y + v * j->rows + r, j->rows);
        }
        for (int64_t v = v0; v < v1; v++) {
            const char *xv = xq + (size_t)v * xq_stride;
            float *yv = j->y + v * j->rows;
            for (int64_t r = r4; r < r1; r++)
                yv[r] = j->dot(j->cols, j->w + (size_t)r * j->row_bytes, xv);
        }
    }
}

/* Checks the arguments shared by all entry points; fills the job's type fields. */
static int matmul_setup(struct matmul_job *j, const struct osr_kernels *k, enum osr_qtype wtype,
                        int64_t cols, int64_t nvec)
{
    const struct osr_qtype_info *ti = osr_quant_type_info(wtype);
    if (!k || !ti || !ti->has_kernels || !k->vec_dot[wtype] || cols < 0 || nvec < 0)
        return OSR_EINVAL;
    if (cols % ti->block_values != 0)
        return OSR_EINVAL;
    j->k = k;
    j->wtype = wtype;
    j->dot = k->vec_dot[wtype];
    j->cols = cols;
    j->nvec = nvec;
    atomic_init(&j->next, 0);
    if (ti->dot_type != OSR_QTYPE_F32) {
        const struct osr_qtype_info *di = osr_quant_type_info(ti->dot_type);
        j->quant = k->quantize[ti->dot_type];
        j->xq_stride = osr_quant_row_bytes(ti->dot_type, cols);
        j->block_values = di->block_values;
        if (!j->quant)
            return OSR_EINVAL;
    }
    return OSR_OK;
}

int osr_kernels_matmul(const struct osr_kernels *k, struct osr_threadpool *tp, enum osr_qtype wtype,
                       const void *w, size_t row_bytes, int64_t rows, int64_t cols, const float *x,
                       int64_t nvec, float *y, void *scratch, size_t scratch_bytes)
{
    struct matmul_job j = {.tp = tp,
                           .w = w,
                           .row_bytes = row_bytes,
                           .rows = rows,
                           .x = x,
                           .y = y,
                           .quantize = 1,
                           .multiply = 1};
    int rc = matmul_setup(&j, k, wtype, cols, nvec);
    if (rc)
        return rc;
    if (rows < 0 || row_bytes < osr_quant_row_bytes(wtype, cols))
        return OSR_EINVAL;
    size_t need = osr_kernels_matmul_scratch(wtype, cols, nvec);
    if (need == (size_t)-1 || scratch_bytes < need || (need > 0 && !scratch))
        return OSR_EINVAL;
    if (rows == 0 || nvec == 0)
        return OSR_OK;
    if (cols == 0) {
        memset(y, 0, (size_t)(rows * nvec) * sizeof(float));
        return OSR_OK;
    }
    if (need > 0) {
        j.xq = scratch;
        j.has_batch = osr_kernels_prepared_batch(scratch, wtype, cols, nvec, &j.batch);
    }
    osr_threadpool_run(tp, matmul_worker, &j);
    return OSR_OK;
}

int osr_kernels_matmul_prepare(const struct osr_kernels *k, struct osr_threadpool *tp,
                               enum osr_qtype wtype, int64_t cols, const float *x, int64_t nvec,
                               void *scratch, size_t scratch_bytes)
{
    struct matmul_job j = {.tp = tp, .x = x, .quantize = 1, .multiply = 0};
    int rc = matmul_setup(&j, k, wtype, cols, nvec);
    if (rc)
        return rc;
    size_t need = osr_kernels_matmul_scratch(wtype, cols, nvec);
    if (need == (size_t)-1 || scratch_bytes < need || (need > 0 && !scratch))
        return OSR_EINVAL;
    if (need == 0 || nvec == 0 || cols == 0)
        return OSR_OK;
    j.xq = scratch;
    j.has_batch = osr_kernels_prepared_batch(scratch, wtype, cols, nvec, &j.batch);
    osr_threadpool_run(tp, matmul_worker, &j);
    return OSR_OK;
}

int osr_kernels_matmul_prepared(const struct osr_kernels *k, struct osr_threadpool *tp,
                                enum osr_qtype wtype, const void *w, size_t row_bytes, int64_t rows,
                                int64_t cols, const void *xq, int64_t nvec, float *y)
{
    struct matmul_job j = {.tp = tp,
                           .w = w,
                           .row_bytes = row_bytes,
                           .rows = rows,
                           .y = y,
                           .quantize = 0,
                           .multiply = 1};
    int rc = matmul_setup(&j, k, wtype, cols, nvec);
    if (rc)
        return rc;
    if (rows < 0 || row_bytes < osr_quant_row_bytes(wtype, cols) || (!xq && nvec > 0))
        return OSR_EINVAL;
    if (rows == 0 || nvec == 0)
        return OSR_OK;
    if (cols == 0) {
        memset(y, 0, (size_t)(rows * nvec) * sizeof(float));
        return OSR_OK;
    }
    if (j.quant) {
        j.xq = (char *)(uintptr_t)xq; /* read only in this phase */
        j.has_batch = osr_kernels_prepared_batch(xq, wtype, cols, nvec, &j.batch);
    } else
        j.x = xq;
    osr_threadpool_run(tp, matmul_worker, &j);
    return OSR_OK;
}

/* ---- RoPE ------------------------------------------------------------------------------- */

static void rope_rotate(float *x, int n_heads, int head_dim, int a, int b, float c, float s)
{
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * (size_t)head_dim;
        float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
    }
}

/* The YaRN ramp: 1 below low, 0 above high, linear in between. */
static float yarn_ramp(float low, float high, int i)
{
    float y = ((float)i - low) / fmaxf(0.001f, high - low);
    return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}

void osr_kernels_rope(float *x, int n_heads, int head_dim, int64_t pos, const struct osr_rope *p)
{
    int half = p->n_rot / 2;
    /* theta advances multiplicatively in float, as ggml does, so angles match its rounding */
    float theta_scale = powf(p->freq_base, -2.0f / (float)p->n_rot);
    if (p->ext_factor == 0.0f) {
        float theta = (float)pos * p->freq_scale;
        for (int i = 0; i < half; i++) {
            float t = p->freq_factors ? theta / p->freq_factors[i] : theta;
            float c = cosf(t) * p->attn_factor, s = sinf(t) * p->attn_factor;
            rope_rotate(x, n_heads, head_dim, p->neox ? i : 2 * i, p->neox ? i + half : 2 * i + 1,
                        c, s);
            theta *= theta_scale;
        }
        return;
    }
    float mscale = p->attn_factor * (1.0f + 0.1f * logf(1.0f / p->freq_scale));
    float theta_ex = (float)pos;
    for (int i = 0; i < half; i++) {
        float e = p->freq_factors ? theta_ex / p->freq_factors[i] : theta_ex;
        float mix = yarn_ramp(p->corr_dims[0], p->corr_dims[1], i) * p->ext_factor;
        float t = p->freq_scale * e * (1.0f - mix) + e * mix;
        float c = cosf(t) * mscale, s = sinf(t) * mscale;
        rope_rotate(x, n_heads, head_dim, p->neox ? i : 2 * i, p->neox ? i + half : 2 * i + 1, c,
                    s);
        theta_ex *= theta_scale;
    }
}

static float yarn_corr_dim(int n_rot, int n_ctx_orig, float turns, float base)
{
    return (float)n_rot * logf((float)n_ctx_orig / (turns * 2.0f * (float)M_PI)) /
           (2.0f * logf(base));
}

void osr_kernels_rope_yarn_corr_dims(int n_rot, int n_ctx_orig, float freq_base, float beta_fast,
                                     float beta_slow, float dims[2])
{
    float lo = floorf(yarn_corr_dim(n_rot, n_ctx_orig, beta_fast, freq_base));
    float hi = ceilf(yarn_corr_dim(n_rot, n_ctx_orig, beta_slow, freq_base));
    dims[0] = fmaxf(0.0f, lo);
    dims[1] = fminf((float)(n_rot - 1), hi);
}
