/* model_forward.c - contexts and the forward pass of llama-style decoders.
 *
 * A context owns the KV cache, a thread pool and every scratch buffer, sized at creation for
 * n_batch tokens, so a decode step allocates nothing.  One step runs a batch of tokens at
 * consecutive positions: embedding rows dequantized from the file, then per layer RMSNorm,
 * Q/K/V projections (one fused product for phi3, optional biases, qwen3's per-head q/k norm),
 * RoPE, the K/V rows written to the cache, causal attention with grouped KV heads (scores and
 * softmax in F32; phi3's sliding window), the output projection and residual, RMSNorm, the
 * SwiGLU FFN and residual; finally the output norm and the vocabulary projection - or, for
 * embeddings, the normed hidden states themselves, per token or pooled into one unit vector.
 * Matmuls and attention run on the pool; the cheap elementwise ops run on the calling thread.
 *
 * With an F16 cache the numbers follow llama.cpp's non-flash attention: the query is rounded
 * to F16 before the K dot products and the attention weights are rounded to F16 before they
 * multiply V (both are F16 x F16 products there).  With an F32 cache everything is F32.
 *
 * It does not sample, tokenize, or know about chat; see sampler.c and model_generate.c.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "osr/alloc.h"
#include "osr/kernels.h"
#include "osr/model.h"
#include "osr/threadpool.h"

#define DEFAULT_N_CTX_MAX 4096
#define DEFAULT_N_BATCH 512
#define MAX_N_BATCH 8192

struct osr_model_ctx {
    const struct osr_model *m;
    const struct osr_kernels *k;
    struct osr_threadpool *tp;
    int n_threads;
    int n_ctx;
    int n_batch;
    int n_past;
    enum osr_kv_type kv_type;
    size_t kv_elt;  /* bytes per cached value */
    int64_t nk, nv; /* values per cached K row / V row (all KV heads) */
    uint8_t *kv;    /* per layer: K rows [n_ctx][nk] then V rows [n_ctx][nv] */
    size_t kv_layer_bytes;
    struct osr_rope rope;       /* global layers */
    struct osr_rope rope_local; /* local (windowed) layers */

    /* Scratch, n_batch rows each. */
    float *x;      /* residual stream [n_batch][n_embd] */
    float *xn;     /* normed input of the next matmuls [n_batch][max(n_embd, n_head*hd_v)] */
    float *q;      /* [n_batch][n_head * hd_k] */
    float *kb;     /* [n_batch][nk] */
    float *vb;     /* [n_batch][nv] */
    float *att;    /* attention output [n_batch][n_head * hd_v] */
    float *gate;   /* [n_batch][n_ff] */
    float *up;     /* [n_batch][n_ff] */
    float *proj;   /* projection output [n_batch][n_embd] */
    float *qkv;    /* fused q/k/v projection output [n_batch][nq + nk + nv], or NULL */
    void *mm_prep; /* quantized activations shared by several matmuls */
    size_t mm_bytes;
    float *scores; /* per thread: n_ctx scores + hd_k query + hd_v accumulator */
    size_t scores_stride;
    struct osr_bert_ctx *enc; /* encoder models: everything above but m, n_ctx, n_past unused */
};

void osr_model_ctx_params_init(struct osr_model_ctx_params *p)
{
    memset(p, 0, sizeof(*p));
    p->n_ctx_max = DEFAULT_N_CTX_MAX;
    p->n_batch = DEFAULT_N_BATCH;
    p->n_threads = 1;
    p->kv_type = OSR_KV_F16;
}

static size_t mm_need(const struct osr_weight *w, int64_t nvec, size_t cur)
{
    size_t s = osr_kernels_matmul_scratch(w->type, w->cols, nvec);
    return s != (size_t)-1 && s > cur ? s : cur;
}

static void *alloc_floats(size_t n, int *rc)
{
    void *p = NULL;
    if (*rc == OSR_OK && posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) {
        *rc = OSR_ENOMEM;
        p = NULL;
    }
    return p;
}

int osr_model_ctx_new(const struct osr_model *m, const struct osr_model_ctx_params *p,
                      struct osr_model_ctx **out, struct osr_diag *diag)
{
    const struct osr_model_hparams *hp = &m->hp;
    struct osr_model_ctx_params def;
    if (!p) {
        osr_model_ctx_params_init(&def);
        p = &def;
    }
    if (p->n_ctx < 0 || p->n_ctx_max < 0 || p->n_batch < 0 || p->n_batch > MAX_N_BATCH ||
        p->n_threads < 0 || p->n_threads > OSR_THREADPOOL_MAX ||
        (p->kv_type != OSR_KV_F16 && p->kv_type != OSR_KV_F32))
        return osr_diag_set(diag, OSR_EINVAL, "bad context parameters");
    int cap = p->n_ctx_max ? p->n_ctx_max : DEFAULT_N_CTX_MAX;
    int n_ctx = p->n_ctx ? p->n_ctx : (hp->n_ctx_train < cap ? hp->n_ctx_train : cap);
    if (n_ctx > (1 << 22))
        return osr_diag_set(diag, OSR_EINVAL, "context of %d positions is too large", n_ctx);

    struct osr_model_ctx *c = osr_xcalloc(1, sizeof(*c));
    int rc = OSR_OK;
    c->m = m;
    if (m->bert) { /* encoders run whole sequences in model_bert.c */
        c->n_ctx = n_ctx;
        if ((rc = osr_bert_ctx_new(m, n_ctx, p->n_threads ? p->n_threads : 1, &c->enc, diag)))
            goto out;
        *out = c;
        return OSR_OK;
    }
    c->k = osr_kernels_get();
    c->n_threads = p->n_threads ? p->n_threads : 1;
    c->n_ctx = n_ctx;
    c->n_batch = p->n_batch ? p->n_batch : DEFAULT_N_BATCH;
    if (c->n_batch > n_ctx)
        c->n_batch = n_ctx;
    c->kv_type = p->kv_type;
    c->kv_elt = p->kv_type == OSR_KV_F16 ? 2 : 4;
    c->nk = (int64_t)hp->n_head_kv * hp->head_dim_k;
    c->nv = (int64_t)hp->n_head_kv * hp->head_dim_v;
    c->kv_layer_bytes = (size_t)n_ctx * (size_t)(c->nk + c->nv) * c->kv_elt;
    if (c->kv_layer_bytes / (size_t)n_ctx / c->kv_elt != (size_t)(c->nk + c->nv) ||
        c->kv_layer_bytes > ((size_t)1 << 40) / (size_t)hp->n_layer) {
        rc = osr_diag_set(diag, OSR_ENOMEM, "KV cache too large");
        goto out;
    }
    c->kv = malloc(c->kv_layer_bytes * (size_t)hp->n_layer);
    if (!c->kv) {
        rc = osr_diag_set(diag, OSR_ENOMEM, "cannot allocate a KV cache of %zu MiB",
                          c->kv_layer_bytes * (size_t)hp->n_layer >> 20);
        goto out;
    }

    c->rope.n_rot = hp->n_rot;
    c->rope.neox = hp->rope_neox;
    c->rope.freq_base = hp->rope_base;
    c->rope.freq_scale = hp->rope_scale;
    c->rope.attn_factor = hp->rope_attn_factor;
    c->rope.freq_factors = m->rope_freqs;
    if (m->rope_long) /* LongRoPE: the long factors only when the context needs them */
        c->rope.freq_factors = n_ctx > hp->n_ctx_orig ? m->rope_long : m->rope_short;
    c->rope.ext_factor = hp->yarn_ext_factor;
    if (hp->yarn_ext_factor != 0.0f)
        osr_kernels_rope_yarn_corr_dims(hp->n_rot, hp->n_ctx_orig, hp->rope_base,
                                        hp->yarn_beta_fast, hp->yarn_beta_slow, c->rope.corr_dims);
    c->rope_local = c->rope;
    if (hp->rope_base_local != hp->rope_base) {
        /* unscaled: with freq_scale 1 YaRN's blend is the identity, so it is left off */
        c->rope_local.freq_base = hp->rope_base_local;
        c->rope_local.freq_scale = 1.0f;
        c->rope_local.ext_factor = 0.0f;
    }

    size_t B = (size_t)c->n_batch;
    size_t nq = (size_t)hp->n_head * (size_t)hp->head_dim_k;
    size_t no = (size_t)hp->n_head * (size_t)hp->head_dim_v;
    size_t E = (size_t)hp->n_embd;
    c->x = alloc_floats(B * E, &rc);
    c->xn = alloc_floats(B * (E > no ? E : no), &rc);
    c->q = alloc_floats(B * nq, &rc);
    c->kb = alloc_floats(B * (size_t)c->nk, &rc);
    c->vb = alloc_floats(B * (size_t)c->nv, &rc);
    c->att = alloc_floats(B * no, &rc);
    c->gate = alloc_floats(B * (size_t)hp->n_ff, &rc);
    c->up = alloc_floats(B * (size_t)hp->n_ff, &rc); /* 2 n_ff for fused gate/up, below */
    c->proj = alloc_floats(B * E, &rc);
    /* Per thread, for the heads of one KV group: scores, rounded queries, accumulators; then
     * one K or V row in F32 and the F16-rounded weights of one head. */
    size_t grp = (size_t)(hp->n_head / hp->n_head_kv);
    size_t hd_max = (size_t)(hp->head_dim_k > hp->head_dim_v ? hp->head_dim_k : hp->head_dim_v);
    size_t halves =
        (size_t)n_ctx > grp * (size_t)hp->head_dim_k ? (size_t)n_ctx : grp * (size_t)hp->head_dim_k;
    c->scores_stride = (grp * ((size_t)n_ctx + (size_t)hp->head_dim_k + (size_t)hp->head_dim_v) +
                        hd_max + halves / 2 + 1 + 15) &
                       ~(size_t)15;
    if (grp * (size_t)n_ctx > ((size_t)1 << 32)) {
        rc = osr_diag_set(diag, OSR_ENOMEM, "attention scratch too large");
        goto out;
    }
    c->scores = alloc_floats(c->scores_stride * (size_t)c->n_threads, &rc);
    size_t need = 0;
    bool fused_qkv = false, fused_ffn = false;
    for (int il = 0; il < hp->n_layer; il++) {
        const struct osr_layer *L = &m->layers[il];
        const struct osr_weight *ws[] = {&L->wq,     &L->wk,   &L->wv,     &L->wo,
                                         &L->w_gate, &L->w_up, &L->w_down, &L->wqkv};
        if (L->wqkv.data)
            fused_qkv = true;
        if (L->gate_up_fused)
            fused_ffn = true;
        for (size_t i = 0; i < sizeof(ws) / sizeof(ws[0]); i++)
            need = mm_need(ws[i], c->n_batch, need);
    }
    need = mm_need(&m->output, c->n_batch, need);
    if (fused_qkv)
        c->qkv = alloc_floats(B * (nq + (size_t)c->nk + (size_t)c->nv), &rc);
    if (fused_ffn) {
        free(c->up);
        c->up = alloc_floats(B * 2 * (size_t)hp->n_ff, &rc);
    }
    c->mm_bytes = need;
    c->mm_prep = alloc_floats(need / sizeof(float) + 1, &rc);
    if (rc) {
        osr_diag_set(diag, rc, "cannot allocate the scratch buffers");
        goto out;
    }
    if (c->n_threads > 1 && (rc = osr_threadpool_new(c->n_threads, &c->tp))) {
        osr_diag_set(diag, rc, "cannot start %d threads", c->n_threads);
        goto out;
    }
    *out = c;
    c = NULL;
out:
    osr_model_ctx_free(c);
    return rc;
}

void osr_model_ctx_free(struct osr_model_ctx *c)
{
    if (!c)
        return;
    osr_bert_ctx_free(c->enc);
    osr_threadpool_free(c->tp);
    free(c->kv);
    free(c->x);
    free(c->xn);
    free(c->q);
    free(c->kb);
    free(c->vb);
    free(c->att);
    free(c->gate);
    free(c->up);
    free(c->proj);
    free(c->qkv);
    free(c->mm_prep);
    free(c->scores);
    free(c);
}

int osr_model_ctx_n_ctx(const struct osr_model_ctx *c)
{
    return c->n_ctx;
}

int osr_model_ctx_n_past(const struct osr_model_ctx *c)
{
    return c->n_past;
}

void osr_model_ctx_truncate(struct osr_model_ctx *c, int n_past)
{
    if (n_past < 0)
        n_past = 0;
    if (n_past < c->n_past)
        c->n_past = n_past;
}

/* ---- matmul helpers --------------------------------------------------------------------- */

static enum osr_qtype dot_type(enum osr_qtype t)
{
    return osr_quant_type_info((uint32_t)t)->dot_type;
}

/* The matmuls of the forward pass, on the pool, with the kernels' per-row functions (gemm4 on
 * groups of 4 rows for batches, vec_dot for one vector, as osr_kernels_matmul) so the numbers
 * are those of the kernels.  Two things differ from osr_kernels_matmul:
 *   - several products over one input run in a single pool run (one quantization of the
 *     input, one wake-up and join instead of one per product);
 *   - for a single vector (decode) a work item is a long run of consecutive rows (up to
 *     DECODE_CHUNK_MAX) instead of 16: with 16-row items the threads interleave and each one
 *     reads the weights in 18-34 KB pieces, which defeats the hardware prefetchers; measured
 *     here, 2-thread decode went from below the 1-thread speed to nearly twice it.  Each row
 *     is still computed by one vec_dot, so the result does not depend on the chunking or the
 *     thread count.  Batches use 64-row x 8-vector items, taken row block by row block so a
 *     block's weights stay in cache across the vectors; gemm4 groups 4 rows from each item's
 *     start (a multiple of 4), so the results do not depend on the thread count either.
 *     Where the table has a panel kernel (gemm16: Q4_0/Q5_0/Q8_0 on AVX2 and up) and the batch's
 *     Q8_0 activations have their block-major view (filled here next to the quantization), an
 *     item is instead one 16-row panel against every vector; leftover rows of a matrix whose
 *     row count is not a multiple of 16 go through gemm4 / vec_dot as before. */
#define CHUNK_ROWS 16
#define DECODE_CHUNK_MAX 256
#ifndef BATCH_CHUNK_ROWS
#define BATCH_CHUNK_ROWS 64
#endif
#define TILE_VECS 8
#define MAX_PARTS 3

struct mm_part {
    const struct osr_weight *w;
    float *y;
    osr_vec_dot_fn dot;
    osr_gemm4_fn gemm4;
    osr_gemm16_fn gemm16; /* set only for batches with block summaries */
    int64_t chunk;        /* rows per work item */
    int64_t nchunks, items;
};

struct mm_job {
    struct osr_threadpool *tp;
    const float *x;
    int64_t cols, nvec;
    char *xq; /* quantized activations, or NULL when the weights take floats */
    size_t xq_stride;
    int block_values;
    osr_quantize_fn quant;
    struct osr_q8_0_batch batch; /* block-major copy of xq (batches of Q8_0), if has_batch */
    int has_batch;
    struct mm_part parts[MAX_PARTS];
    int nparts;
    int64_t total;
    atomic_llong next;
};

static void mm_worker(void *arg, int ith, int nth)
{
    struct mm_job *j = arg;
    const char *xq = (const char *)j->x;
    size_t stride = (size_t)j->cols * sizeof(float);
    if (j->xq) {
        int64_t per = j->cols / j->block_values, total = per * j->nvec;
        int64_t b0 = total * ith / nth, b1 = total * (ith + 1) / nth;
        size_t bbytes = j->xq_stride / (size_t)per;
        while (b0 < b1) {
            int64_t v = b0 / per, off = b0 % per;
            int64_t cnt = per - off < b1 - b0 ? per - off : b1 - b0;
            char *dst = j->xq + (size_t)v * j->xq_stride + (size_t)off * bbytes;
            j->quant(j->x + v * j->cols + off * j->block_values, dst, cnt * j->block_values);
            if (j->has_batch)
                osr_kernels_q8_0_batch_fill(&j->batch, dst, v, off, cnt);
            b0 += cnt;
        }
        osr_threadpool_barrier(j->tp);
        xq = j->xq;
        stride = j->xq_stride;
    }
    for (;;) {
        int64_t it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (it >= j->total)
            break;
        const struct mm_part *p = j->parts;
        while (it >= p->items) {
            it -= p->items;
            p++;
        }
        const struct osr_weight *w = p->w;
        const char *wd = w->data;
        int64_t ntiles = p->items / p->nchunks;
        int64_t r0 = (it / ntiles) * p->chunk;
        int64_t r1 = r0 + p->chunk < w->rows ? r0 + p->chunk : w->rows;
        if (p->gemm16 && r1 - r0 == CHUNK_ROWS) {
            p->gemm16(j->cols, wd + (size_t)r0 * w->row_bytes, w->row_bytes, &j->batch, 0, j->nvec,
                      p->y + r0, w->rows);
            continue;
        }
        int64_t v0 = p->gemm16 ? 0 : (it % ntiles) * TILE_VECS;
        int64_t v1 = p->gemm16 ? j->nvec : v0 + TILE_VECS < j->nvec ? v0 + TILE_VECS : j->nvec;
        int64_t r4 = p->gemm4 && j->nvec > 1 ? r0 + (r1 - r0) / 4 * 4 : r0;
        for (int64_t v = v0; v < v1; v += 4) {
            int nv = v1 - v < 4 ? (int)(v1 - v) : 4;
            for (int64_t r = r0; r < r4; r += 4)
                p->gemm4(j->cols, wd + (size_t)r * w->row_bytes, w->row_bytes,
                         xq + (size_t)v * stride, stride, nv, p->y + v * w->rows + r, w->rows);
        }
        for (int64_t v = v0; v < v1; v++) {
            const char *xv = xq + (size_t)v * stride;
            float *yv = p->y + v * w->rows;
            for (int64_t r = r4; r < r1; r++)
                yv[r] = p->dot(j->cols, wd + (size_t)r * w->row_bytes, xv);
        }
    }
}

/* ys[i] = ws[i] x for n vectors in one pool run; every weight must take the same activation
 * type and have the same number of columns (count <= MAX_PARTS). */
static int mm_run(struct osr_model_ctx *c, const struct osr_weight *const *ws, float **ys,
                  int count, const float *x, int n)
{
    enum osr_qtype dt = dot_type(ws[0]->type);
    int nth = osr_threadpool_size(c->tp);
    struct mm_job j = {.tp = c->tp, .x = x, .cols = ws[0]->cols, .nvec = n, .nparts = count};
    if (dt != OSR_QTYPE_F32) {
        size_t need = osr_kernels_matmul_scratch(ws[0]->type, j.cols, n);
        const struct osr_qtype_info *di = osr_quant_type_info((uint32_t)dt);
        j.quant = c->k->quantize[dt];
        j.xq_stride = osr_quant_row_bytes((uint32_t)dt, j.cols);
        j.block_values = di->block_values;
        j.xq = c->mm_prep;
        if (!j.quant || need == (size_t)-1 || need > c->mm_bytes)
            return OSR_EINVAL;
        j.has_batch = osr_kernels_prepared_batch(j.xq, ws[0]->type, j.cols, n, &j.batch);
    }
    int64_t ntiles = (n + TILE_VECS - 1) / TILE_VECS;
    for (int i = 0; i < count; i++) {
        struct mm_part *p = &j.parts[i];
        p->w = ws[i];
        p->y = ys[i];
        p->dot = c->k->vec_dot[ws[i]->type];
        p->gemm4 = c->k->gemm4[ws[i]->type];
        p->chunk = BATCH_CHUNK_ROWS;
        if (n == 1) { /* about 4 items per thread, in multiples of 16 rows */
            int64_t want = ws[i]->rows / (4 * (int64_t)nth) / CHUNK_ROWS * CHUNK_ROWS;
            p->chunk = want < CHUNK_ROWS         ? CHUNK_ROWS
                       : want > DECODE_CHUNK_MAX ? DECODE_CHUNK_MAX
                                                 : want;
        }
        if (j.has_batch && c->k->gemm16[ws[i]->type]) { /* 16-row panels against the whole batch */
            p->gemm16 = c->k->gemm16[ws[i]->type];
            p->chunk = CHUNK_ROWS;
        }
        p->nchunks = (ws[i]->rows + p->chunk - 1) / p->chunk;
        p->items = p->nchunks * (p->gemm16 ? 1 : ntiles);
        j.total += p->items;
        if (!p->dot)
            return OSR_EINVAL;
    }
    atomic_init(&j.next, 0);
    osr_threadpool_run(c->tp, mm_worker, &j);
    return OSR_OK;
}

/* y = W x for n vectors. */
static int matmul(struct osr_model_ctx *c, const struct osr_weight *w, const float *x, int n,
                  float *y)
{
    return mm_run(c, &w, &y, 1, x, n);
}

/* ys[i] = ws[i] x for n vectors: one pool run when every weight takes the same activation
 * type (the usual case), separate ones otherwise (mixed-type files). */
static int matmul_group(struct osr_model_ctx *c, const struct osr_weight *const *ws, float **ys,
                        int count, const float *x, int n)
{
    enum osr_qtype dt = dot_type(ws[0]->type);
    bool same = count <= MAX_PARTS;
    for (int i = 1; i < count; i++)
        same = same && dot_type(ws[i]->type) == dt && ws[i]->cols == ws[0]->cols;
    if (same)
        return mm_run(c, ws, ys, count, x, n);
    for (int i = 0; i < count; i++) {
        int rc = matmul(c, ws[i], x, n, ys[i]);
        if (rc)
            return rc;
    }
    return OSR_OK;
}

/* ---- attention ---------------------------------------------------------------------------- */

struct attn_job {
    struct osr_model_ctx *c;
    int n_swa;              /* this layer's window, 0 = none */
    const uint8_t *kc, *vc; /* this layer's K and V rows */
    int n;                  /* tokens in the batch */
    int pos0;               /* position of the first */
    atomic_int next;
};

/* One work item is (token, KV head): the heads sharing that KV head read each cached K and V
 * row once (converted to F32 once when the cache is F16) instead of once per head. */
static void attn_worker(void *arg, int ith, int nth)
{
    struct attn_job *j = arg;
    struct osr_model_ctx *c = j->c;
    const struct osr_kernels *k = c->k;
    const struct osr_model_hparams *hp = &c->m->hp;
    const int hdk = hp->head_dim_k, hdv = hp->head_dim_v;
    const int group = hp->n_head / hp->n_head_kv;
    const int64_t nq = (int64_t)hp->n_head * hdk, no = (int64_t)hp->n_head * hdv;
    const float scale = hp->attn_scale, cap = hp->attn_softcap;
    const bool f16 = c->kv_type == OSR_KV_F16;
    const osr_vec_dot_fn dot = k->vec_dot[OSR_QTYPE_F32];
    const osr_gemm4_fn gemm4 = k->gemm4[OSR_QTYPE_F16];
    float *scores = c->scores + (size_t)ith * c->scores_stride;  /* [group][n_ctx] */
    float *qh = scores + (size_t)group * c->n_ctx;               /* [group][hdk] */
    float *acc = qh + (size_t)group * hdk;                       /* [group][hdv] */
    float *row = acc + (size_t)group * hdv;                      /* one K or V row */
    uint16_t *p16 = (uint16_t *)(row + (hdk > hdv ? hdk : hdv)); /* max(n_ctx, group*hdk) */
    const size_t krow = (size_t)c->nk * c->kv_elt, vrow = (size_t)c->nv * c->kv_elt;
    const int total = j->n * hp->n_head_kv;
    (void)nth;

    for (;;) {
        int item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (item >= total)
            break;
        int i = item / hp->n_head_kv, kvh = item % hp->n_head_kv, h0 = kvh * group;
        int n_kv = j->pos0 + i + 1; /* causal: positions 0 .. pos */
        int t0 = j->n_swa > 0 && n_kv > j->n_swa ? n_kv - j->n_swa : 0; /* window start */
        const float *q = c->q + (int64_t)i * nq + (int64_t)h0 * hdk;
        if (f16) {
            /* llama.cpp multiplies an F16 cache by F16-rounded queries. */
            k->quantize[OSR_QTYPE_F16](q, p16, (int64_t)group * hdk);
            k->dequantize[OSR_QTYPE_F16](p16, qh, (int64_t)group * hdk);
            q = qh;
        }
        int tk = t0;
        if (f16 && gemm4 && group >= 2) {
            /* 4 cached K rows x up to 4 query heads per call, reading the F16 rows as they are
             * stored (the F16 weight kernel: F16 rows times F32 vectors). */
            for (; tk + 4 <= n_kv; tk += 4) {
                const uint8_t *kr = j->kc + (size_t)tk * krow + (size_t)kvh * hdk * 2;
                for (int g = 0; g < group; g += 4)
                    gemm4(hdk, kr, krow, q + (size_t)g * hdk, (size_t)hdk * sizeof(float),
                          group - g < 4 ? group - g : 4, scores + (size_t)g * c->n_ctx + tk,
                          c->n_ctx);
            }
            for (int g = 0; g < group; g++)
                k->scale(scores + (size_t)g * c->n_ctx + t0, scores + (size_t)g * c->n_ctx + t0,
                         scale, tk - t0);
        }
        for (; tk < n_kv; tk++) {
            const uint8_t *kr = j->kc + (size_t)tk * krow + (size_t)kvh * hdk * c->kv_elt;
            const float *kf = (const float *)kr;
            if (f16) {
                k->dequantize[OSR_QTYPE_F16](kr, row, hdk);
                kf = row;
            }
            for (int g = 0; g < group; g++)
                scores[(size_t)g * c->n_ctx + tk] = dot(hdk, kf, q + (size_t)g * hdk) * scale;
        }
        for (int g = 0; g < group; g++) {
            float *sc = scores + (size_t)g * c->n_ctx;
            if (cap > 0)
                for (int t = t0; t < n_kv; t++)
                    sc[t] = cap * tanhf(sc[t] / cap);
            k->softmax(sc + t0, n_kv - t0);
            if (f16) { /* ... and F16-rounded attention weights by the F16 V cache */
                k->quantize[OSR_QTYPE_F16](sc + t0, p16, n_kv - t0);
                k->dequantize[OSR_QTYPE_F16](p16, sc + t0, n_kv - t0);
            }
        }
        memset(acc, 0, (size_t)group * hdv * sizeof(float));
        for (int t = t0; t < n_kv; t++) {
            const uint8_t *vr = j->vc + (size_t)t * vrow + (size_t)kvh * hdv * c->kv_elt;
            const float *vf = (const float *)vr;
            if (f16) {
                k->dequantize[OSR_QTYPE_F16](vr, row, hdv);
                vf = row;
            }
            for (int g = 0; g < group; g++) {
                float p = scores[(size_t)g * c->n_ctx + t];
                if (p != 0.0f)
                    k->axpy(acc + (size_t)g * hdv, p, vf, hdv);
            }
        }
        for (int g = 0; g < group; g++)
            memcpy(c->att + (int64_t)i * no + (int64_t)(h0 + g) * hdv, acc + (size_t)g * hdv,
                   (size_t)hdv * sizeof(float));
    }
}

/* ---- one batch ---------------------------------------------------------------------------- */

static void store_rows(uint8_t *dst, const float *src, int64_t n, bool f16)
{
    if (!f16) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    uint16_t *h = (uint16_t *)dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = osr_quant_f32_to_f16(src[i]);
}

static void add_bias(float *y, const float *b, int n, int64_t width, const struct osr_kernels *k)
{
    if (!b)
        return;
    for (int i = 0; i < n; i++)
        k->add(y + (int64_t)i * width, y + (int64_t)i * width, b, width);
}

/* y = gelu(gate) * up with the tanh form of GELU (what gemma's GeGLU uses). */
static void geglu(float *y, const float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float x = gate[i];
        float g = 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
        y[i] = g * up[i];
    }
}

static int layer_forward(struct osr_model_ctx *c, int il, int n, int pos0)
{
    const struct osr_model_hparams *hp = &c->m->hp;
    const struct osr_layer *L = &c->m->layers[il];
    const struct osr_kernels *k = c->k;
    const int64_t E = hp->n_embd, nq = (int64_t)hp->n_head * hp->head_dim_k,
                  no = (int64_t)hp->n_head * hp->head_dim_v, F = hp->n_ff;
    const bool f16 = c->kv_type == OSR_KV_F16;
    uint8_t *kc = c->kv + (size_t)il * c->kv_layer_bytes;
    uint8_t *vc = kc + (size_t)c->n_ctx * (size_t)c->nk * c->kv_elt;
    const int P = hp->swa_pattern;
    const bool local = hp->n_swa > 0 && (P <= 1 || il % P < P - 1);
    const struct osr_rope *rope = local ? &c->rope_local : &c->rope;
    int rc;

    for (int i = 0; i < n; i++)
        k->rmsnorm(c->xn + i * E, c->x + i * E, L->attn_norm, E, hp->rms_eps);
    if (L->wqkv.data) {
        /* One product, then the rows split into q, k and v. */
        const int64_t w = nq + c->nk + c->nv;
        if ((rc = matmul(c, &L->wqkv, c->xn, n, c->qkv)))
            return rc;
        for (int i = 0; i < n; i++) {
            const float *r = c->qkv + i * w;
            memcpy(c->q + i * nq, r, (size_t)nq * sizeof(float));
            memcpy(c->kb + i * c->nk, r + nq, (size_t)c->nk * sizeof(float));
            memcpy(c->vb + i * c->nv, r + nq + c->nk, (size_t)c->nv * sizeof(float));
        }
    } else {
        const struct osr_weight *qkv[3] = {&L->wq, &L->wk, &L->wv};
        float *qkv_out[3] = {c->q, c->kb, c->vb};
        if ((rc = matmul_group(c, qkv, qkv_out, 3, c->xn, n)))
            return rc;
    }
    add_bias(c->q, L->bq, n, nq, k);
    add_bias(c->kb, L->bk, n, c->nk, k);
    add_bias(c->vb, L->bv, n, c->nv, k);
    for (int i = 0; i < n; i++) {
        float *qi = c->q + i * nq, *ki = c->kb + i * c->nk;
        if (L->q_norm) {
            for (int h = 0; h < hp->n_head; h++)
                k->rmsnorm(qi + h * hp->head_dim_k, qi + h * hp->head_dim_k, L->q_norm,
                           hp->head_dim_k, hp->rms_eps);
            for (int h = 0; h < hp->n_head_kv; h++)
                k->rmsnorm(ki + h * hp->head_dim_k, ki + h * hp->head_dim_k, L->k_norm,
                           hp->head_dim_k, hp->rms_eps);
        }
        osr_kernels_rope(qi, hp->n_head, hp->head_dim_k, pos0 + i, rope);
        osr_kernels_rope(ki, hp->n_head_kv, hp->head_dim_k, pos0 + i, rope);
        store_rows(kc + (size_t)(pos0 + i) * (size_t)c->nk * c->kv_elt, ki, c->nk, f16);
        store_rows(vc + (size_t)(pos0 + i) * (size_t)c->nv * c->kv_elt, c->vb + i * c->nv, c->nv,
                   f16);
    }

    struct attn_job job = {.c = c, .kc = kc, .vc = vc, .n = n, .pos0 = pos0};
    if (local)
        job.n_swa = hp->n_swa;
    atomic_init(&job.next, 0);
    osr_threadpool_run(c->tp, attn_worker, &job);

    if ((rc = matmul(c, &L->wo, c->att, n, c->proj)))
        return rc;
    if (L->post_attn_norm)
        for (int i = 0; i < n; i++)
            k->rmsnorm(c->proj + i * E, c->proj + i * E, L->post_attn_norm, E, hp->rms_eps);
    k->add(c->x, c->x, c->proj, n * E);
    (void)no;

    for (int i = 0; i < n; i++)
        k->rmsnorm(c->xn + i * E, c->x + i * E, L->ffn_norm, E, hp->rms_eps);
    if (L->gate_up_fused) {
        /* Each output row is n_ff gate values then n_ff up values. */
        if ((rc = matmul(c, &L->w_up, c->xn, n, c->up)))
            return rc;
        for (int i = 0; i < n; i++)
            k->swiglu(c->gate + i * F, c->up + i * 2 * F, c->up + i * 2 * F + F, F);
    } else {
        const struct osr_weight *gu[2] = {&L->w_gate, &L->w_up};
        float *gu_out[2] = {c->gate, c->up};
        if ((rc = matmul_group(c, gu, gu_out, 2, c->xn, n)))
            return rc;
        if (hp->ffn_gelu)
            geglu(c->gate, c->gate, c->up, n * F);
        else
            k->swiglu(c->gate, c->gate, c->up, n * F);
    }
    if ((rc = matmul(c, &L->w_down, c->gate, n, c->proj)))
        return rc;
    if (L->post_ffn_norm)
        for (int i = 0; i < n; i++)
            k->rmsnorm(c->proj + i * E, c->proj + i * E, L->post_ffn_norm, E, hp->rms_eps);
    k->add(c->x, c->x, c->proj, n * E);
    return OSR_OK;
}

static int embed(struct osr_model_ctx *c, const int32_t *tokens, int n)
{
    const struct osr_weight *te = &c->m->tok_embd;
    const int64_t E = c->m->hp.n_embd;
    osr_dequantize_fn deq = c->k->dequantize[te->type];
    if (!deq)
        return OSR_EINVAL;
    for (int i = 0; i < n; i++) {
        deq((const uint8_t *)te->data + (size_t)tokens[i] * te->row_bytes, c->x + i * E, E);
        if (c->m->hp.embd_scale != 1.0f)
            c->k->scale(c->x + i * E, c->x + i * E, c->m->hp.embd_scale, E);
    }
    return OSR_OK;
}

/* Where the final hidden states of a run go instead of logits: every row (rows, token i of
 * the whole run at rows + i * n_embd) and/or one pooled vector (pool, n_embd floats). */
struct hidden_out {
    float *rows;
    float *pool;
    int pooling; /* enum osr_pooling; NONE pools by mean */
    int total;   /* tokens in the whole run */
    int done;    /* tokens of the run before this batch */
};

static void hidden_write(struct osr_model_ctx *c, int n, const struct hidden_out *ho)
{
    const int64_t E = c->m->hp.n_embd;
    for (int i = 0; i < n; i++) {
        float *h = c->xn + i * E;
        c->k->rmsnorm(h, c->x + i * E, c->m->output_norm, E, c->m->hp.rms_eps);
        int at = ho->done + i;
        if (ho->rows)
            memcpy(ho->rows + (int64_t)at * E, h, (size_t)E * sizeof(float));
        if (!ho->pool)
            continue;
        if (ho->pooling == OSR_POOLING_CLS) {
            if (at == 0)
                memcpy(ho->pool, h, (size_t)E * sizeof(float));
        } else if (ho->pooling == OSR_POOLING_LAST) {
            if (at == ho->total - 1)
                memcpy(ho->pool, h, (size_t)E * sizeof(float));
        } else {
            c->k->add(ho->pool, ho->pool, h, E);
        }
    }
}

/* Runs n <= n_batch tokens at positions n_past ..; writes logits as osr_model_ctx_decode, or
 * hidden states when ho is set. */
static int decode_batch(struct osr_model_ctx *c, const int32_t *tokens, int n, bool all_logits,
                        float *logits, const struct hidden_out *ho)
{
    const struct osr_model_hparams *hp = &c->m->hp;
    const int64_t E = hp->n_embd;
    int pos0 = c->n_past;
    int rc = embed(c, tokens, n);
    for (int il = 0; il < hp->n_layer && rc == OSR_OK; il++)
        rc = layer_forward(c, il, n, pos0);
    if (rc == OSR_OK && ho)
        hidden_write(c, n, ho);
    if (rc || !logits)
        return rc;
    int rows = all_logits ? n : 1;
    const float *src = all_logits ? c->x : c->x + (int64_t)(n - 1) * E;
    for (int i = 0; i < rows; i++)
        c->k->rmsnorm(c->xn + i * E, src + i * E, c->m->output_norm, E, hp->rms_eps);
    rc = matmul(c, &c->m->output, c->xn, rows, logits);
    if (rc == OSR_OK && hp->final_softcap > 0) {
        const float cap = hp->final_softcap;
        for (int64_t i = 0; i < (int64_t)rows * hp->n_vocab; i++)
            logits[i] = cap * tanhf(logits[i] / cap);
    }
    return rc;
}

static int run_tokens(struct osr_model_ctx *c, const int32_t *tokens, int n, bool all_logits,
                      float *logits, struct hidden_out *ho, struct osr_diag *diag)
{
    const struct osr_model_hparams *hp = &c->m->hp;
    if (n < 1 || !tokens)
        return osr_diag_set(diag, OSR_EINVAL, "no tokens to decode");
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return osr_diag_set(diag, OSR_EINVAL, "token id %d is outside the vocabulary (%d)",
                                tokens[i], hp->n_vocab);
    if (n > c->n_ctx - c->n_past)
        return osr_diag_set(diag, OSR_ETOOBIG,
                            "%d tokens do not fit: %d of %d context positions are used", n,
                            c->n_past, c->n_ctx);
    int start = c->n_past;
    for (int done = 0; done < n;) {
        int chunk = n - done < c->n_batch ? n - done : c->n_batch;
        bool last = done + chunk == n;
        float *out = NULL;
        if (logits && all_logits)
            out = logits + (size_t)done * (size_t)hp->n_vocab;
        else if (logits && last)
            out = logits;
        if (ho)
            ho->done = done;
        int rc = decode_batch(c, tokens + done, chunk, all_logits, out, ho);
        if (rc) {
            c->n_past = start;
            return osr_diag_set(diag, rc, "forward pass failed: %s", osr_strerror(rc));
        }
        c->n_past += chunk;
        done += chunk;
    }
    return OSR_OK;
}

int osr_model_ctx_decode(struct osr_model_ctx *c, const int32_t *tokens, int n, bool all_logits,
                         float *logits, struct osr_diag *diag)
{
    if (c->enc)
        return osr_diag_set(diag, OSR_EUNSUPPORTED,
                            "%s is an encoder (embedding) model: it cannot generate text",
                            c->m->hp.arch_name);
    return run_tokens(c, tokens, n, all_logits, logits, NULL, diag);
}

int osr_model_ctx_hidden(struct osr_model_ctx *c, const int32_t *tokens, int n, float *hidden,
                         struct osr_diag *diag)
{
    if (c->enc) { /* whole sequences only: the input replaces what the context held */
        int rc = osr_bert_ctx_run(c->enc, tokens, n, hidden, NULL, diag);
        c->n_past = rc == OSR_OK ? n : 0;
        return rc;
    }
    struct hidden_out ho = {.rows = hidden, .total = n};
    return run_tokens(c, tokens, n, false, NULL, &ho, diag);
}

int osr_model_ctx_embed(struct osr_model_ctx *c, const int32_t *tokens, int n, float *out,
                        struct osr_diag *diag)
{
    const int E = c->m->hp.n_embd;
    int pooling = c->m->hp.pooling;
    if (c->enc) {
        int rc = osr_bert_ctx_run(c->enc, tokens, n, NULL, out, diag);
        c->n_past = rc == OSR_OK ? n : 0;
        return rc;
    }
    if (pooling < OSR_POOLING_NONE || pooling > OSR_POOLING_LAST)
        return osr_diag_set(diag, OSR_EUNSUPPORTED,
                            "pooling type %d of the model is not supported (mean, cls, last are)",
                            pooling);
    memset(out, 0, (size_t)E * sizeof(float));
    osr_model_ctx_truncate(c, 0);
    struct hidden_out ho = {.pool = out, .pooling = pooling, .total = n};
    int rc = run_tokens(c, tokens, n, false, NULL, &ho, diag);
    if (rc)
        return rc;
    if (pooling == OSR_POOLING_MEAN || pooling == OSR_POOLING_NONE)
        c->k->scale(out, out, 1.0f / (float)n, E);
    double ss = 0;
    for (int i = 0; i < E; i++)
        ss += (double)out[i] * out[i];
    if (ss > 0)
        c->k->scale(out, out, (float)(1.0 / sqrt(ss)), E);
    return OSR_OK;
}
