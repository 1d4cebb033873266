/* model_bert.c - encoder-only embedding models: BERT and nomic-bert, loading and forward pass.
 *
 * Loading reads the `<arch>.*` hyper-parameters and finds the tensors under llama.cpp's names
 * (token_embd, token_types, position_embd, token_embd_norm, blk.N.attn_q/k/v or attn_qkv,
 * attn_output, attn_output_norm, ffn_up/ffn_gate/ffn_down, layer_output_norm), checking every
 * shape and type against the hyper-parameters so the forward pass can trust every size.
 *
 * The forward pass runs a whole sequence at once (attention is bidirectional, so there is no
 * cache and no incremental decoding): embeddings = token row + position row (bert) + token
 * type 0 row, LayerNorm; per layer Q/K/V with biases (nomic-bert: one fused product and RoPE
 * on q and k), attention of every token over every token, output projection, residual and
 * LayerNorm (post-norm), then the FFN (bert: GELU, tanh form as llama.cpp; nomic-bert:
 * SwiGLU), residual and LayerNorm.  The final states are pooled (mean, CLS or last token, as
 * the file's pooling_type says; mean when it says nothing) and scaled to unit length.
 * Matmuls run on the context's thread pool through osr_kernels_matmul; attention is split
 * over (token, head) items on the same pool.
 *
 * It does not tokenize (the WordPiece tokenizer adds [CLS] / [SEP]) and produces no logits.
 *
 * Its static functions carry a bert_ prefix, against the usual rule, because the model fuzzer
 * compiles model.c, model_forward.c and this file into one unit, where the plain names
 * (read_hparams, load_layer, matmul, ...) would collide.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "osr/alloc.h"
#include "osr/kernels.h"
#include "osr/threadpool.h"

#define MAX_DIM (1 << 20)
#define MAX_LAYERS 1024
#define MAX_VOCAB (1 << 22)
#define MAX_CTX (1 << 20)

struct bert_layer {
    struct osr_weight wq, wk, wv, wqkv, wo, w_up, w_gate, w_down;
    const float *bq, *bk, *bv, *bqkv, *bo, *b_up, *b_gate, *b_down; /* NULL when absent */
    const float *attn_norm_w, *attn_norm_b;                         /* attn_output_norm */
    const float *out_norm_w, *out_norm_b;                           /* layer_output_norm */
};

struct osr_bert {
    struct osr_weight tok_embd, pos_embd, type_embd; /* pos_embd unset for nomic-bert */
    const float *embd_norm_w, *embd_norm_b;
    struct bert_layer *layers;
};

struct osr_bert_ctx {
    const struct osr_model *m;
    const struct osr_bert *b;
    const struct osr_kernels *k;
    struct osr_threadpool *tp;
    int n_ctx;
    struct osr_rope rope;
    float *x;                        /* residual stream [n_ctx][E] */
    float *q, *kb, *vb, *att, *proj; /* [n_ctx][E] */
    float *qkv;                      /* [n_ctx][3E] (fused) */
    float *ff;                       /* [n_ctx][F] */
    float *gate;                     /* [n_ctx][F] (nomic-bert) */
    float *row;                      /* one dequantized embedding row [E] */
    float *scores;                   /* per thread: n_ctx scores + head_dim accumulator */
    size_t scores_stride;
    void *mm;
    size_t mm_bytes;
};

bool osr_bert_is_encoder(struct osr_str arch)
{
    return osr_str_eq_cstr(arch, "bert") || osr_str_eq_cstr(arch, "nomic-bert");
}

/* ---- loading ------------------------------------------------------------------------------ */

static int bert_read_hparams(const struct osr_gguf *g, struct osr_model_hparams *hp,
                             struct osr_diag *diag)
{
    struct osr_str arch = osr_gguf_arch(g);
    int rc;
    bool nomic = osr_str_eq_cstr(arch, "nomic-bert");
    snprintf(hp->arch_name, sizeof(hp->arch_name), "%s", nomic ? "nomic-bert" : "bert");
    hp->arch = nomic ? OSR_ARCH_NOMIC_BERT : OSR_ARCH_BERT;
    hp->encoder = true;
    if ((rc = osr_model_arch_u32(g, "embedding_length", true, 0, MAX_DIM, &hp->n_embd, diag)) ||
        (rc = osr_model_arch_u32(g, "block_count", true, 0, MAX_LAYERS, &hp->n_layer, diag)) ||
        (rc = osr_model_arch_u32(g, "attention.head_count", true, 0, MAX_DIM, &hp->n_head, diag)) ||
        (rc = osr_model_arch_u32(g, "feed_forward_length", true, 0, MAX_DIM, &hp->n_ff, diag)) ||
        (rc = osr_model_arch_u32(g, "context_length", false, 512, MAX_CTX, &hp->n_ctx_train,
                                 diag)) ||
        (rc = osr_model_arch_f32(g, "attention.layer_norm_epsilon", 1e-12f, &hp->rms_eps, diag)) ||
        (rc = osr_model_arch_f32(g, "rope.freq_base", nomic ? 1000.0f : 10000.0f, &hp->rope_base,
                                 diag)))
        return rc;
    if (hp->n_embd < 1 || hp->n_layer < 1 || hp->n_head < 1 || hp->n_ff < 1 ||
        hp->n_ctx_train < 1 || hp->n_embd % hp->n_head != 0)
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "bad hyper-parameters: embedding_length %d, block_count %d, "
                            "head_count %d, feed_forward_length %d, context_length %d",
                            hp->n_embd, hp->n_layer, hp->n_head, hp->n_ff, hp->n_ctx_train);
    if (hp->rms_eps < 0 || hp->rope_base <= 0)
        return osr_diag_set(diag, OSR_ECORRUPT, "bad layer_norm_epsilon %g or rope.freq_base %g",
                            (double)hp->rms_eps, (double)hp->rope_base);
    char key[96];
    snprintf(key, sizeof(key), "%s.attention.causal", hp->arch_name);
    bool causal = false;
    if (osr_gguf_get_bool(g, key, &causal) == OSR_OK && causal)
        return osr_diag_set(diag, OSR_EUNSUPPORTED, "causal %s models are not supported",
                            hp->arch_name);
    hp->n_head_kv = hp->n_head;
    hp->head_dim_k = hp->head_dim_v = hp->n_embd / hp->n_head;
    hp->n_rot = hp->head_dim_k;
    hp->rope_neox = 1;
    hp->rope_scale = 1.0f;
    hp->rope_base_local = hp->rope_base;
    hp->swa_pattern = 1;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    hp->embd_scale = 1.0f;
    if (nomic && hp->head_dim_k % 2 != 0)
        return osr_diag_set(diag, OSR_ECORRUPT, "odd head size %d cannot take RoPE",
                            hp->head_dim_k);
    uint32_t pooling = 0;
    if (osr_gguf_get_arch_u32(g, "pooling_type", &pooling) == OSR_OK)
        hp->pooling = pooling > 255 ? 255 : (int)pooling; /* refused by embed, not by load */
    return OSR_OK;
}

static int bert_load_layer(const struct osr_gguf *g, const struct osr_model_hparams *hp, int il,
                           struct bert_layer *L, struct osr_diag *diag)
{
    char name[96];
    int rc;
    const int64_t E = hp->n_embd, F = hp->n_ff;
    const bool nomic = hp->arch == OSR_ARCH_NOMIC_BERT;
#define W(suffix, rows, cols, optional, field)                                                     \
    do {                                                                                           \
        snprintf(name, sizeof(name), "blk.%d." suffix ".weight", il);                              \
        if ((rc = osr_model_get_weight(g, name, rows, cols, optional, &L->field, diag)))           \
            return rc;                                                                             \
    } while (0)
#define V(suffix, kind, n, optional, field)                                                        \
    do {                                                                                           \
        snprintf(name, sizeof(name), "blk.%d." suffix "." kind, il);                               \
        if ((rc = osr_model_get_vec(g, name, n, optional, &L->field, diag)))                       \
            return rc;                                                                             \
    } while (0)
    if (nomic) {
        W("attn_qkv", 3 * E, E, false, wqkv);
        V("attn_qkv", "bias", 3 * E, true, bqkv);
    } else {
        W("attn_q", E, E, false, wq);
        W("attn_k", E, E, false, wk);
        W("attn_v", E, E, false, wv);
        V("attn_q", "bias", E, false, bq);
        V("attn_k", "bias", E, false, bk);
        V("attn_v", "bias", E, false, bv);
    }
    W("attn_output", E, E, false, wo);
    V("attn_output", "bias", E, nomic, bo);
    V("attn_output_norm", "weight", E, false, attn_norm_w);
    V("attn_output_norm", "bias", E, false, attn_norm_b);
    W("ffn_up", F, E, false, w_up);
    V("ffn_up", "bias", F, nomic, b_up);
    if (nomic) {
        W("ffn_gate", F, E, false, w_gate);
        V("ffn_gate", "bias", F, true, b_gate);
    }
    W("ffn_down", E, F, false, w_down);
    V("ffn_down", "bias", E, nomic, b_down);
    V("layer_output_norm", "weight", E, false, out_norm_w);
    V("layer_output_norm", "bias", E, false, out_norm_b);
#undef W
#undef V
    return OSR_OK;
}

/* A 2-D table whose row count comes from the file (vocabulary, positions, token types). */
static int bert_get_table(const struct osr_gguf *g, const char *name, int64_t cols,
                          int64_t max_rows, struct osr_weight *w, struct osr_diag *diag)
{
    const struct osr_gguf_tensor *t = osr_gguf_find_tensor(g, name);
    if (!t)
        return osr_diag_set(diag, OSR_ECORRUPT, "missing tensor '%s'", name);
    int64_t rows = t->n_dims == 2 ? (int64_t)t->dims[1] : 1;
    if (t->n_dims > 2 || rows < 1 || rows > max_rows)
        return osr_diag_set(diag, OSR_ECORRUPT, "tensor '%s' has a bad shape", name);
    return osr_model_get_weight(g, name, rows, cols, false, w, diag);
}

int osr_bert_load(const struct osr_gguf *g, struct osr_model *m, struct osr_diag *diag)
{
    struct osr_model_hparams *hp = &m->hp;
    int rc = bert_read_hparams(g, hp, diag);
    if (rc)
        return rc;
    struct osr_bert *b = osr_xcalloc(1, sizeof(*b));
    m->bert = b;
    const int64_t E = hp->n_embd;
    if ((rc = bert_get_table(g, "token_embd.weight", E, MAX_VOCAB, &b->tok_embd, diag)) ||
        (rc = bert_get_table(g, "token_types.weight", E, 1 << 16, &b->type_embd, diag)) ||
        (rc = osr_model_get_vec(g, "token_embd_norm.weight", E, false, &b->embd_norm_w, diag)) ||
        (rc = osr_model_get_vec(g, "token_embd_norm.bias", E, false, &b->embd_norm_b, diag)))
        return rc;
    if (hp->arch == OSR_ARCH_BERT) {
        if ((rc = bert_get_table(g, "position_embd.weight", E, MAX_CTX, &b->pos_embd, diag)))
            return rc;
        /* Positions beyond the table have no embedding: the table bounds the context. */
        if (b->pos_embd.rows < hp->n_ctx_train)
            hp->n_ctx_train = (int)b->pos_embd.rows;
    }
    const struct osr_weight *tabs[3] = {&b->tok_embd, &b->type_embd, &b->pos_embd};
    for (int i = 0; i < 3; i++)
        if (tabs[i]->data && !osr_kernels_get()->dequantize[tabs[i]->type])
            return osr_diag_set(diag, OSR_EUNSUPPORTED,
                                "an embedding table has type %s, which "
                                "cannot be read row by row",
                                osr_quant_type_info((uint32_t)tabs[i]->type)->name);
    hp->n_vocab = (int)b->tok_embd.rows;
    b->layers = osr_xcalloc((size_t)hp->n_layer, sizeof(*b->layers));
    for (int il = 0; il < hp->n_layer; il++)
        if ((rc = bert_load_layer(g, hp, il, &b->layers[il], diag)))
            return rc;
    const struct bert_layer *L0 = &b->layers[0];
    hp->file_type = (int)(L0->wqkv.data ? L0->wqkv.type : L0->wq.type);
    return OSR_OK;
}

void osr_bert_free(struct osr_bert *b)
{
    if (!b)
        return;
    free(b->layers);
    free(b);
}

/* ---- contexts ----------------------------------------------------------------------------- */

static float *bert_alloc_floats(size_t n, int *rc)
{
    void *p = NULL;
    if (*rc == OSR_OK && posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) {
        *rc = OSR_ENOMEM;
        p = NULL;
    }
    return p;
}

static size_t bert_mm_need(const struct osr_weight *w, int64_t nvec, size_t cur)
{
    if (!w->data)
        return cur;
    size_t s = osr_kernels_matmul_scratch(w->type, w->cols, nvec);
    return s != (size_t)-1 && s > cur ? s : cur;
}

int osr_bert_ctx_new(const struct osr_model *m, int n_ctx, int n_threads, struct osr_bert_ctx **out,
                     struct osr_diag *diag)
{
    const struct osr_model_hparams *hp = &m->hp;
    if (!m->bert || n_ctx < 1 || n_ctx > MAX_CTX || n_threads < 1 || n_threads > OSR_THREADPOOL_MAX)
        return osr_diag_set(diag, OSR_EINVAL, "bad encoder context parameters");
    struct osr_bert_ctx *c = osr_xcalloc(1, sizeof(*c));
    int rc = OSR_OK;
    c->m = m;
    c->b = m->bert;
    c->k = osr_kernels_get();
    c->n_ctx = n_ctx;
    c->rope.n_rot = hp->n_rot;
    c->rope.neox = 1;
    c->rope.freq_base = hp->rope_base;
    c->rope.freq_scale = 1.0f;
    c->rope.attn_factor = 1.0f;
    const size_t N = (size_t)n_ctx, E = (size_t)hp->n_embd, F = (size_t)hp->n_ff;
    c->x = bert_alloc_floats(N * E, &rc);
    c->q = bert_alloc_floats(N * E, &rc);
    c->kb = bert_alloc_floats(N * E, &rc);
    c->vb = bert_alloc_floats(N * E, &rc);
    c->att = bert_alloc_floats(N * E, &rc);
    c->proj = bert_alloc_floats(N * E, &rc);
    c->ff = bert_alloc_floats(N * F, &rc);
    c->row = bert_alloc_floats(E, &rc);
    if (hp->arch == OSR_ARCH_NOMIC_BERT) {
        c->qkv = bert_alloc_floats(N * 3 * E, &rc);
        c->gate = bert_alloc_floats(N * F, &rc);
    }
    c->scores_stride = (N + (size_t)hp->head_dim_v + 15) & ~(size_t)15;
    c->scores = bert_alloc_floats(c->scores_stride * (size_t)n_threads, &rc);
    size_t need = 0;
    for (int il = 0; il < hp->n_layer; il++) {
        const struct bert_layer *L = &c->b->layers[il];
        const struct osr_weight *ws[] = {&L->wq, &L->wk,   &L->wv,     &L->wqkv,
                                         &L->wo, &L->w_up, &L->w_gate, &L->w_down};
        for (size_t i = 0; i < sizeof(ws) / sizeof(ws[0]); i++)
            need = bert_mm_need(ws[i], n_ctx, need);
    }
    c->mm_bytes = need;
    c->mm = bert_alloc_floats(need / sizeof(float) + 1, &rc);
    if (rc) {
        osr_diag_set(diag, rc, "cannot allocate the encoder's buffers for %d tokens", n_ctx);
        goto out;
    }
    if (n_threads > 1 && (rc = osr_threadpool_new(n_threads, &c->tp))) {
        osr_diag_set(diag, rc, "cannot start %d threads", n_threads);
        goto out;
    }
    *out = c;
    c = NULL;
out:
    osr_bert_ctx_free(c);
    return rc;
}

void osr_bert_ctx_free(struct osr_bert_ctx *c)
{
    if (!c)
        return;
    osr_threadpool_free(c->tp);
    free(c->x);
    free(c->q);
    free(c->kb);
    free(c->vb);
    free(c->att);
    free(c->proj);
    free(c->qkv);
    free(c->ff);
    free(c->gate);
    free(c->row);
    free(c->scores);
    free(c->mm);
    free(c);
}

/* ---- the forward pass --------------------------------------------------------------------- */

/* y = (x - mean) / sqrt(var + eps) * w + b over n values (y may equal x). */
static void bert_layernorm(float *y, const float *x, const float *w, const float *b, int64_t n,
                           float eps)
{
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    double mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++)
        sq += ((double)x[i] - mean) * ((double)x[i] - mean);
    float inv = (float)(1.0 / sqrt(sq / (double)n + (double)eps));
    for (int64_t i = 0; i < n; i++)
        y[i] = ((x[i] - (float)mean) * inv) * w[i] + b[i];
}

/* GELU, tanh form (as llama.cpp's ggml_gelu). */
static void bert_gelu(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
    }
}

static void bert_add_bias(const struct osr_kernels *k, float *y, const float *bias, int n,
                          int64_t width)
{
    if (!bias)
        return;
    for (int i = 0; i < n; i++)
        k->add(y + (int64_t)i * width, y + (int64_t)i * width, bias, width);
}

static int bert_matmul(struct osr_bert_ctx *c, const struct osr_weight *w, const float *x, int n,
                       float *y)
{
    return osr_kernels_matmul(c->k, c->tp, w->type, w->data, w->row_bytes, w->rows, w->cols, x, n,
                              y, c->mm, c->mm_bytes);
}

struct bert_attn_job {
    struct osr_bert_ctx *c;
    int n;
    atomic_int next;
};

/* Items are (token, head): scores against every token, softmax, weighted sum of V. */
static void bert_attn_worker(void *arg, int ith, int nth)
{
    struct bert_attn_job *j = arg;
    struct osr_bert_ctx *c = j->c;
    const struct osr_model_hparams *hp = &c->m->hp;
    const int64_t E = hp->n_embd, hd = hp->head_dim_k;
    const int total = j->n * hp->n_head;
    float *scores = c->scores + (size_t)ith * c->scores_stride;
    float *acc = scores + c->n_ctx;
    const osr_vec_dot_fn dot = c->k->vec_dot[OSR_QTYPE_F32];
    (void)nth;
    for (;;) {
        int item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (item >= total)
            break;
        int i = item / hp->n_head, h = item % hp->n_head;
        const float *q = c->q + i * E + h * hd;
        for (int t = 0; t < j->n; t++)
            scores[t] = dot(hd, c->kb + t * E + h * hd, q) * hp->attn_scale;
        c->k->softmax(scores, j->n);
        memset(acc, 0, (size_t)hd * sizeof(float));
        for (int t = 0; t < j->n; t++)
            c->k->axpy(acc, scores[t], c->vb + t * E + h * hd, hd);
        memcpy(c->att + i * E + h * hd, acc, (size_t)hd * sizeof(float));
    }
}

static int bert_layer_forward(struct osr_bert_ctx *c, int il, int n)
{
    const struct osr_model_hparams *hp = &c->m->hp;
    const struct bert_layer *L = &c->b->layers[il];
    const struct osr_kernels *k = c->k;
    const int64_t E = hp->n_embd, F = hp->n_ff;
    int rc;
    if (L->wqkv.data) {
        if ((rc = bert_matmul(c, &L->wqkv, c->x, n, c->qkv)))
            return rc;
        bert_add_bias(k, c->qkv, L->bqkv, n, 3 * E);
        for (int i = 0; i < n; i++) {
            const float *r = c->qkv + i * 3 * E;
            memcpy(c->q + i * E, r, (size_t)E * sizeof(float));
            memcpy(c->kb + i * E, r + E, (size_t)E * sizeof(float));
            memcpy(c->vb + i * E, r + 2 * E, (size_t)E * sizeof(float));
        }
    } else {
        if ((rc = bert_matmul(c, &L->wq, c->x, n, c->q)) ||
            (rc = bert_matmul(c, &L->wk, c->x, n, c->kb)) ||
            (rc = bert_matmul(c, &L->wv, c->x, n, c->vb)))
            return rc;
        bert_add_bias(k, c->q, L->bq, n, E);
        bert_add_bias(k, c->kb, L->bk, n, E);
        bert_add_bias(k, c->vb, L->bv, n, E);
    }
    if (hp->arch == OSR_ARCH_NOMIC_BERT)
        for (int i = 0; i < n; i++) {
            osr_kernels_rope(c->q + i * E, hp->n_head, hp->head_dim_k, i, &c->rope);
            osr_kernels_rope(c->kb + i * E, hp->n_head, hp->head_dim_k, i, &c->rope);
        }
    struct bert_attn_job job = {.c = c, .n = n};
    atomic_init(&job.next, 0);
    osr_threadpool_run(c->tp, bert_attn_worker, &job);
    if ((rc = bert_matmul(c, &L->wo, c->att, n, c->proj)))
        return rc;
    bert_add_bias(k, c->proj, L->bo, n, E);
    k->add(c->x, c->x, c->proj, n * E);
    for (int i = 0; i < n; i++)
        bert_layernorm(c->x + i * E, c->x + i * E, L->attn_norm_w, L->attn_norm_b, E, hp->rms_eps);

    if ((rc = bert_matmul(c, &L->w_up, c->x, n, c->ff)))
        return rc;
    bert_add_bias(k, c->ff, L->b_up, n, F);
    if (L->w_gate.data) {
        if ((rc = bert_matmul(c, &L->w_gate, c->x, n, c->gate)))
            return rc;
        bert_add_bias(k, c->gate, L->b_gate, n, F);
        k->swiglu(c->ff, c->gate, c->ff, n * F);
    } else {
        bert_gelu(c->ff, n * F);
    }
    if ((rc = bert_matmul(c, &L->w_down, c->ff, n, c->proj)))
        return rc;
    bert_add_bias(k, c->proj, L->b_down, n, E);
    k->add(c->x, c->x, c->proj, n * E);
    for (int i = 0; i < n; i++)
        bert_layernorm(c->x + i * E, c->x + i * E, L->out_norm_w, L->out_norm_b, E, hp->rms_eps);
    return OSR_OK;
}

static void bert_add_row(struct osr_bert_ctx *c, const struct osr_weight *w, int64_t r, float *y)
{
    c->k->dequantize[w->type]((const uint8_t *)w->data + (size_t)r * w->row_bytes, c->row, w->cols);
    c->k->add(y, y, c->row, w->cols);
}

int osr_bert_ctx_run(struct osr_bert_ctx *c, const int32_t *tokens, int n, float *rows, float *pool,
                     struct osr_diag *diag)
{
    const struct osr_model_hparams *hp = &c->m->hp;
    const struct osr_bert *b = c->b;
    const int64_t E = hp->n_embd;
    if (n < 1 || !tokens)
        return osr_diag_set(diag, OSR_EINVAL, "no tokens to embed");
    if (n > c->n_ctx)
        return osr_diag_set(diag, OSR_ETOOBIG, "%d tokens do not fit a context of %d", n, c->n_ctx);
    if (b->pos_embd.data && n > b->pos_embd.rows)
        return osr_diag_set(diag, OSR_ETOOBIG, "%d tokens exceed the model's %lld positions", n,
                            (long long)b->pos_embd.rows);
    int pooling = hp->pooling;
    if (pool && (pooling < OSR_POOLING_NONE || pooling > OSR_POOLING_LAST))
        return osr_diag_set(diag, OSR_EUNSUPPORTED,
                            "pooling type %d of the model is not supported (mean, cls, last are)",
                            pooling);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return osr_diag_set(diag, OSR_EINVAL, "token id %d is outside the vocabulary (%d)",
                                tokens[i], hp->n_vocab);
    for (int i = 0; i < n; i++) {
        float *x = c->x + i * E;
        memset(x, 0, (size_t)E * sizeof(float));
        bert_add_row(c, &b->tok_embd, tokens[i], x);
        bert_add_row(c, &b->type_embd, 0, x);
        if (b->pos_embd.data)
            bert_add_row(c, &b->pos_embd, i, x);
        bert_layernorm(x, x, b->embd_norm_w, b->embd_norm_b, E, hp->rms_eps);
    }
    for (int il = 0; il < hp->n_layer; il++) {
        int rc = bert_layer_forward(c, il, n);
        if (rc)
            return osr_diag_set(diag, rc, "forward pass failed: %s", osr_strerror(rc));
    }
    if (rows)
        memcpy(rows, c->x, (size_t)n * (size_t)E * sizeof(float));
    if (!pool)
        return OSR_OK;
    if (pooling == OSR_POOLING_CLS) {
        memcpy(pool, c->x, (size_t)E * sizeof(float));
    } else if (pooling == OSR_POOLING_LAST) {
        memcpy(pool, c->x + (int64_t)(n - 1) * E, (size_t)E * sizeof(float));
    } else {
        for (int64_t e = 0; e < E; e++) {
            double s = 0;
            for (int i = 0; i < n; i++)
                s += c->x[i * E + e];
            pool[e] = (float)(s / n);
        }
    }
    double ss = 0;
    for (int64_t e = 0; e < E; e++)
        ss += (double)pool[e] * pool[e];
    if (ss > 0)
        c->k->scale(pool, pool, (float)(1.0 / sqrt(ss)), E);
    return OSR_OK;
}
