/* test_model_bert.c - encoder-only models (model_bert.c) on small GGUF files built in memory.
 *
 * The numbers themselves are checked against a float64 numpy forward pass by
 * tests/scripts/bert_embed.py; here: loading (hyper-parameters, every refusal a clear error
 * naming its cause), that attention is bidirectional (the last token changes the first one's
 * state), that the pooled embedding is the normalised mean or first row of the hidden states,
 * that results do not depend on the thread count, and the errors of the context calls.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/buf.h"
#include "osr/gguf.h"
#include "osr/model.h"

enum { E = 16, H = 4, F = 32, V = 40, C = 16, NL = 2 };

struct gw {
    struct osr_buf kv, ti, data;
    uint64_t n_kv, n_t;
    uint64_t rng;
};

static void put_u32(struct osr_buf *b, uint32_t v)
{
    osr_buf_append(b, &v, 4);
}

static void put_u64(struct osr_buf *b, uint64_t v)
{
    osr_buf_append(b, &v, 8);
}

static void put_str(struct osr_buf *b, const char *s)
{
    put_u64(b, strlen(s));
    osr_buf_append(b, s, strlen(s));
}

static void kv_u32(struct gw *w, const char *key, uint32_t v)
{
    put_str(&w->kv, key);
    put_u32(&w->kv, OSR_GGUF_TYPE_UINT32);
    put_u32(&w->kv, v);
    w->n_kv++;
}

static void kv_bool(struct gw *w, const char *key, bool v)
{
    put_str(&w->kv, key);
    put_u32(&w->kv, OSR_GGUF_TYPE_BOOL);
    uint8_t b = v;
    osr_buf_append(&w->kv, &b, 1);
    w->n_kv++;
}

static void kv_str(struct gw *w, const char *key, const char *v)
{
    put_str(&w->kv, key);
    put_u32(&w->kv, OSR_GGUF_TYPE_STRING);
    put_str(&w->kv, v);
    w->n_kv++;
}

static float rnd(struct gw *w)
{
    w->rng = w->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(w->rng >> 11) / 9007199254740992.0 - 0.5);
}

/* Options for building broken files. */
struct opts {
    const char *arch;
    const char *skip;  /* leave this tensor out */
    const char *wrong; /* give this tensor one column too many */
    bool causal;
    uint32_t pooling;
};

/* A tensor of rows x cols random F32 values (rows 0: 1-D); norm weights around 1. */
static void tensor(struct gw *w, const struct opts *o, const char *name, int64_t rows, int64_t cols)
{
    if (o->skip && strcmp(name, o->skip) == 0)
        return;
    if (o->wrong && strcmp(name, o->wrong) == 0)
        cols++;
    put_str(&w->ti, name);
    put_u32(&w->ti, rows ? 2 : 1);
    put_u64(&w->ti, (uint64_t)cols);
    if (rows)
        put_u64(&w->ti, (uint64_t)rows);
    put_u32(&w->ti, OSR_GGML_TYPE_F32);
    put_u64(&w->ti, w->data.len);
    bool norm = strstr(name, "norm.weight") != NULL;
    for (int64_t i = 0; i < (rows ? rows : 1) * cols; i++) {
        float v = norm ? 1.0f + 0.2f * rnd(w) : rnd(w);
        osr_buf_append(&w->data, &v, sizeof(v));
    }
    while (w->data.len % 32)
        osr_buf_putc(&w->data, 0);
    w->n_t++;
}

static uint8_t *build(const struct opts *o, size_t *size)
{
    struct gw w;
    memset(&w, 0, sizeof(w));
    w.rng = 42;
    osr_buf_init(&w.kv, 1 << 20);
    osr_buf_init(&w.ti, 1 << 20);
    osr_buf_init(&w.data, 1 << 24);
    const char *a = o->arch;
    bool nomic = strcmp(a, "nomic-bert") == 0;
    char key[128], name[96];
    kv_str(&w, "general.architecture", a);
#define KU(suffix, v)                                                                              \
    do {                                                                                           \
        snprintf(key, sizeof(key), "%s." suffix, a);                                               \
        kv_u32(&w, key, v);                                                                        \
    } while (0)
    KU("context_length", C);
    KU("embedding_length", E);
    KU("block_count", NL);
    KU("feed_forward_length", F);
    KU("attention.head_count", H);
    KU("pooling_type", o->pooling);
    snprintf(key, sizeof(key), "%s.attention.causal", a);
    kv_bool(&w, key, o->causal);
    tensor(&w, o, "token_embd.weight", V, E);
    tensor(&w, o, "token_types.weight", 2, E);
    if (!nomic)
        tensor(&w, o, "position_embd.weight", C, E);
    tensor(&w, o, "token_embd_norm.weight", 0, E);
    tensor(&w, o, "token_embd_norm.bias", 0, E);
    for (int il = 0; il < NL; il++) {
#define T(suffix, rows, cols)                                                                      \
    do {                                                                                           \
        snprintf(name, sizeof(name), "blk.%d." suffix, il);                                        \
        tensor(&w, o, name, rows, cols);                                                           \
    } while (0)
        if (nomic) {
            T("attn_qkv.weight", 3 * E, E);
        } else {
            T("attn_q.weight", E, E);
            T("attn_q.bias", 0, E);
            T("attn_k.weight", E, E);
            T("attn_k.bias", 0, E);
            T("attn_v.weight", E, E);
            T("attn_v.bias", 0, E);
            T("attn_output.bias", 0, E);
            T("ffn_up.bias", 0, F);
            T("ffn_down.bias", 0, E);
        }
        T("attn_output.weight", E, E);
        T("attn_output_norm.weight", 0, E);
        T("attn_output_norm.bias", 0, E);
        T("ffn_up.weight", F, E);
        if (nomic)
            T("ffn_gate.weight", F, E);
        T("ffn_down.weight", E, F);
        T("layer_output_norm.weight", 0, E);
        T("layer_output_norm.bias", 0, E);
#undef T
    }
#undef KU
    struct osr_buf f;
    osr_buf_init(&f, 1 << 25);
    osr_buf_append(&f, "GGUF", 4);
    put_u32(&f, 3);
    put_u64(&f, w.n_t);
    put_u64(&f, w.n_kv);
    osr_buf_append(&f, w.kv.data, w.kv.len);
    osr_buf_append(&f, w.ti.data, w.ti.len);
    while (f.len % 32)
        osr_buf_putc(&f, 0);
    osr_buf_append(&f, w.data.data, w.data.len);
    osr_buf_release(&w.kv);
    osr_buf_release(&w.ti);
    osr_buf_release(&w.data);
    return (uint8_t *)osr_buf_detach(&f, size);
}

struct loaded {
    uint8_t *file;
    struct osr_gguf *g;
    struct osr_model *m;
};

static int load(const struct opts *o, struct loaded *l, struct osr_diag *diag)
{
    size_t size = 0;
    memset(l, 0, sizeof(*l));
    l->file = build(o, &size);
    int rc = osr_gguf_open_memory(l->file, size, &l->g, diag);
    if (rc == OSR_OK)
        rc = osr_model_from_gguf(l->g, &l->m, diag);
    return rc;
}

static void unload(struct loaded *l)
{
    osr_model_free(l->m);
    osr_gguf_close(l->g);
    free(l->file);
}

static struct osr_model_ctx *new_ctx(const struct osr_model *m, int threads)
{
    struct osr_model_ctx_params p;
    osr_model_ctx_params_init(&p);
    p.n_threads = threads;
    struct osr_model_ctx *c = NULL;
    struct osr_diag diag;
    if (osr_model_ctx_new(m, &p, &c, &diag) != OSR_OK) {
        fprintf(stderr, "context: %s\n", diag.msg);
        return NULL;
    }
    return c;
}

static const int32_t toks[] = {1, 7, 3, 39, 12, 0, 25, 2};
#define NT ((int)(sizeof(toks) / sizeof(toks[0])))

static void check_arch(const char *arch, uint32_t pooling)
{
    struct opts o = {.arch = arch, .pooling = pooling};
    struct loaded l;
    struct osr_diag diag;
    int rc = load(&o, &l, &diag);
    if (rc)
        fprintf(stderr, "%s: %s\n", arch, diag.msg);
    REQUIRE(rc == OSR_OK);
    const struct osr_model_hparams *hp = osr_model_hparams(l.m);
    CHECK(hp->encoder);
    CHECK_STR_EQ(hp->arch_name, arch);
    CHECK_INT_EQ(hp->n_vocab, V);
    CHECK_INT_EQ(hp->n_embd, E);
    CHECK_INT_EQ(hp->n_ctx_train, C);
    CHECK_INT_EQ(hp->pooling, (int)pooling);

    struct osr_model_ctx *c1 = new_ctx(l.m, 1), *c3 = new_ctx(l.m, 3);
    float hidden[NT * E], hidden2[NT * E], emb1[E], emb3[E];
    if (!c1 || !c3)
        goto out;
    CHECK_INT_EQ(osr_model_ctx_n_ctx(c1), C);
    CHECK(osr_model_ctx_embed(c1, toks, NT, emb1, &diag) == OSR_OK);
    CHECK(osr_model_ctx_embed(c3, toks, NT, emb3, &diag) == OSR_OK);
    CHECK(memcmp(emb1, emb3, sizeof(emb1)) == 0); /* thread count does not matter */
    double ss = 0;
    for (int i = 0; i < E; i++)
        ss += (double)emb1[i] * emb1[i];
    CHECK(fabs(ss - 1.0) < 1e-5);

    /* The embedding is the pooled, normalised hidden states. */
    CHECK(osr_model_ctx_hidden(c1, toks, NT, hidden, &diag) == OSR_OK);
    CHECK_INT_EQ(osr_model_ctx_n_past(c1), NT);
    double pool[E], n2 = 0;
    for (int e = 0; e < E; e++) {
        pool[e] = 0;
        for (int i = 0; i < NT; i++)
            pool[e] += pooling == OSR_POOLING_CLS ? (i == 0 ? hidden[e] : 0) : hidden[i * E + e];
        n2 += pool[e] * pool[e];
    }
    double worst = 0;
    for (int e = 0; e < E; e++)
        worst = fmax(worst, fabs(pool[e] / sqrt(n2) - emb1[e]));
    CHECK(worst < 1e-5);

    /* Bidirectional: changing the last token changes the first token's state; the states are
     * LayerNorm outputs (mean 0 before the affine part is not checked: it has a bias). */
    int32_t alt[NT];
    memcpy(alt, toks, sizeof(alt));
    alt[NT - 1] = 5;
    CHECK(osr_model_ctx_hidden(c1, alt, NT, hidden2, &diag) == OSR_OK);
    double d0 = 0;
    for (int e = 0; e < E; e++)
        d0 += fabs((double)hidden[e] - hidden2[e]);
    CHECK(d0 > 1e-3);

    /* Errors. */
    float logits[V];
    CHECK(osr_model_ctx_decode(c1, toks, 1, false, logits, &diag) == OSR_EUNSUPPORTED);
    CHECK(strstr(diag.msg, "embedding") != NULL);
    int32_t big[C + 1];
    memset(big, 0, sizeof(big));
    CHECK(osr_model_ctx_embed(c1, big, C + 1, emb1, &diag) == OSR_ETOOBIG);
    int32_t bad_tok[2] = {1, V};
    CHECK(osr_model_ctx_embed(c1, bad_tok, 2, emb1, &diag) == OSR_EINVAL);
    CHECK(strstr(diag.msg, "outside the vocabulary") != NULL);
    CHECK(osr_model_ctx_embed(c1, toks, 0, emb1, &diag) == OSR_EINVAL);
    if (strcmp(arch, "bert") == 0) { /* a context larger than the position table */
        struct osr_model_ctx_params p;
        osr_model_ctx_params_init(&p);
        p.n_ctx = C + 4;
        struct osr_model_ctx *cl = NULL;
        CHECK(osr_model_ctx_new(l.m, &p, &cl, &diag) == OSR_OK);
        CHECK(cl && osr_model_ctx_embed(cl, big, C + 1, emb1, &diag) == OSR_ETOOBIG);
        CHECK(strstr(diag.msg, "positions") != NULL);
        osr_model_ctx_free(cl);
    }
out:
    osr_model_ctx_free(c1);
    osr_model_ctx_free(c3);
    unload(&l);
}

static void test_bert_mean(void)
{
    check_arch("bert", OSR_POOLING_MEAN);
}

static void test_bert_cls(void)
{
    check_arch("bert", OSR_POOLING_CLS);
}

static void test_nomic_bert(void)
{
    check_arch("nomic-bert", OSR_POOLING_MEAN);
}

static void expect_load_error(const struct opts *o, int want_rc, const char *want_msg)
{
    struct loaded l;
    struct osr_diag diag;
    osr_diag_clear(&diag);
    int rc = load(o, &l, &diag);
    CHECK_INT_EQ(rc, want_rc);
    if (!strstr(diag.msg, want_msg)) {
        fprintf(stderr, "expected '%s' in: %s\n", want_msg, diag.msg);
        CHECK(false);
    }
    unload(&l);
}

static void test_load_errors(void)
{
    struct opts o = {.arch = "bert", .pooling = 1};
    o.skip = "blk.1.attn_output_norm.bias";
    expect_load_error(&o, OSR_ECORRUPT, "missing tensor 'blk.1.attn_output_norm.bias'");
    o.skip = "position_embd.weight";
    expect_load_error(&o, OSR_ECORRUPT, "missing tensor 'position_embd.weight'");
    o.skip = NULL;
    o.wrong = "blk.0.ffn_down.weight";
    expect_load_error(&o, OSR_ECORRUPT, "tensor 'blk.0.ffn_down.weight' has shape");
    o.wrong = "blk.1.attn_k.bias";
    expect_load_error(&o, OSR_ECORRUPT, "tensor 'blk.1.attn_k.bias' has");
    o.wrong = NULL;
    o.causal = true;
    expect_load_error(&o, OSR_EUNSUPPORTED, "causal bert models are not supported");
    struct opts n = {.arch = "nomic-bert", .pooling = 1, .skip = "blk.0.ffn_gate.weight"};
    expect_load_error(&n, OSR_ECORRUPT, "missing tensor 'blk.0.ffn_gate.weight'");

    /* An unknown pooling type loads but cannot embed. */
    struct opts p = {.arch = "bert", .pooling = 9};
    struct loaded l;
    struct osr_diag diag;
    REQUIRE(load(&p, &l, &diag) == OSR_OK);
    struct osr_model_ctx *c = new_ctx(l.m, 1);
    float emb[E];
    CHECK(c && osr_model_ctx_embed(c, toks, NT, emb, &diag) == OSR_EUNSUPPORTED);
    CHECK(strstr(diag.msg, "pooling type 9") != NULL);
    osr_model_ctx_free(c);
    unload(&l);
}

TEST_MAIN(test_bert_mean, test_bert_cls, test_nomic_bert, test_load_errors)
