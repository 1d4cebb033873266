/* test_model.c - model loading and the forward pass on small GGUF files built in memory.
 *
 * Each architecture (llama with llama-3 frequency factors, qwen2 with q/k/v biases and a tied
 * output, qwen3 with per-head q/k norms and a key length that is not n_embd / n_head) gets
 * random F32 weights (phi3: fused qkv and gate/up tensors, a sliding window shorter than the
 * prompt; gemma2: scaled embeddings, post-norms, GeGLU, logit soft-capping, a window on even
 * layers) and is checked against a plain float64 forward pass written here from the
 * definitions, with the F32 KV cache (tight) and the F16 one (looser).  Also: batch vs one
 * token at a time, thread counts, the generate loop, and loading errors (unknown architecture,
 * wrong shapes and types, missing tensors) that must be clear errors.
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
#include "osr/quant.h"
#include "osr/sampler.h"

/* ---- a GGUF writer ------------------------------------------------------------------------ */

struct gw {
    struct osr_buf kv, ti, data;
    uint64_t n_kv, n_t;
};

static void gw_init(struct gw *w)
{
    memset(w, 0, sizeof(*w));
    osr_buf_init(&w->kv, 1 << 20);
    osr_buf_init(&w->ti, 1 << 20);
    osr_buf_init(&w->data, 1 << 26);
}

static void gw_release(struct gw *w)
{
    osr_buf_release(&w->kv);
    osr_buf_release(&w->ti);
    osr_buf_release(&w->data);
}

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

static void kv_f32(struct gw *w, const char *key, float v)
{
    put_str(&w->kv, key);
    put_u32(&w->kv, OSR_GGUF_TYPE_FLOAT32);
    osr_buf_append(&w->kv, &v, 4);
    w->n_kv++;
}

static void kv_str(struct gw *w, const char *key, const char *v)
{
    put_str(&w->kv, key);
    put_u32(&w->kv, OSR_GGUF_TYPE_STRING);
    put_str(&w->kv, v);
    w->n_kv++;
}

/* A tensor of ne0 x ne1 F32 values (ne1 = 1: 1-D). */
static void tensor_f32(struct gw *w, const char *name, int64_t ne0, int64_t ne1, const float *v)
{
    put_str(&w->ti, name);
    put_u32(&w->ti, ne1 > 1 ? 2 : 1);
    put_u64(&w->ti, (uint64_t)ne0);
    if (ne1 > 1)
        put_u64(&w->ti, (uint64_t)ne1);
    put_u32(&w->ti, OSR_GGML_TYPE_F32);
    put_u64(&w->ti, w->data.len);
    osr_buf_append(&w->data, v, (size_t)(ne0 * ne1) * sizeof(float));
    while (w->data.len % 32)
        osr_buf_putc(&w->data, 0);
    w->n_t++;
}

/* The file: header, kv, tensor infos, padding, data.  Caller frees. */
static uint8_t *gw_finish(struct gw *w, size_t *size)
{
    struct osr_buf f;
    osr_buf_init(&f, 1 << 27);
    osr_buf_append(&f, "GGUF", 4);
    put_u32(&f, 3);
    put_u64(&f, w->n_t);
    put_u64(&f, w->n_kv);
    osr_buf_append(&f, w->kv.data, w->kv.len);
    osr_buf_append(&f, w->ti.data, w->ti.len);
    while (f.len % 32)
        osr_buf_putc(&f, 0);
    osr_buf_append(&f, w->data.data, w->data.len);
    return (uint8_t *)osr_buf_detach(&f, size);
}

/* ---- a random model ----------------------------------------------------------------------- */

struct spec {
    const char *arch;
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    bool key_length_key; /* write attention.key_length */
    bool bias, qk_norm, tied, freq_factors;
    int n_swa; /* phi3 sliding window; phi3 also gets fused qkv and gate/up tensors */
    /* Breakages for the error tests. */
    const char *skip_tensor;  /* leave this tensor out */
    const char *wrong_tensor; /* give this tensor one column too many */
};

struct weights { /* the model in float64 for the reference */
    int n;
    double **t; /* by tensor index in creation order */
    char **names;
    int64_t *sizes;
};

static uint64_t rng_state;
static int build_pooling; /* written as <arch>.pooling_type when > 0 */

static double rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(rng_state >> 11) * 0x1p-53) * 2.0 - 1.0;
}

static void add_tensor(struct gw *w, struct weights *ws, const struct spec *s, const char *name,
                       int64_t ne0, int64_t ne1, double scale, double offset)
{
    if (s->skip_tensor && strcmp(name, s->skip_tensor) == 0)
        return;
    if (s->wrong_tensor && strcmp(name, s->wrong_tensor) == 0)
        ne0++;
    size_t n = (size_t)(ne0 * ne1);
    float *f = malloc(n * sizeof(float));
    double *d = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        f[i] = (float)(offset + scale * rnd());
        d[i] = f[i];
    }
    tensor_f32(w, name, ne0, ne1, f);
    free(f);
    ws->t = realloc(ws->t, (size_t)(ws->n + 1) * sizeof(*ws->t));
    ws->names = realloc(ws->names, (size_t)(ws->n + 1) * sizeof(*ws->names));
    ws->t[ws->n] = d;
    ws->names[ws->n] = strdup(name);
    ws->n++;
}

static const double *wget(const struct weights *ws, const char *name)
{
    for (int i = 0; i < ws->n; i++)
        if (strcmp(ws->names[i], name) == 0)
            return ws->t[i];
    return NULL;
}

static void weights_free(struct weights *ws)
{
    for (int i = 0; i < ws->n; i++) {
        free(ws->t[i]);
        free(ws->names[i]);
    }
    free(ws->t);
    free(ws->names);
    memset(ws, 0, sizeof(*ws));
}

#define PHI3(s) (strcmp((s)->arch, "phi3") == 0)
#define GEMMA(s) (strcmp((s)->arch, "gemma2") == 0)
#define GEMMA3(s) (strcmp((s)->arch, "gemma3") == 0)

static uint8_t *build(const struct spec *s, struct weights *ws, size_t *size)
{
    struct gw w;
    char key[128];
    gw_init(&w);
    rng_state = 12345;
    kv_str(&w, "general.architecture", s->arch);
#define KEY(suffix) (snprintf(key, sizeof(key), "%s." suffix, s->arch), key)
    kv_u32(&w, KEY("embedding_length"), (uint32_t)s->n_embd);
    kv_u32(&w, KEY("block_count"), (uint32_t)s->n_layer);
    kv_u32(&w, KEY("attention.head_count"), (uint32_t)s->n_head);
    kv_u32(&w, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv);
    kv_u32(&w, KEY("feed_forward_length"), (uint32_t)s->n_ff);
    kv_u32(&w, KEY("context_length"), 64);
    kv_f32(&w, KEY("rope.freq_base"), GEMMA3(s) ? 1e6f : 10000.0f);
    if (GEMMA3(s)) { /* global layers: base 1e6, positions scaled by 1/8 */
        kv_str(&w, KEY("rope.scaling.type"), "linear");
        kv_f32(&w, KEY("rope.scaling.factor"), 8.0f);
    }
    kv_f32(&w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
    if (s->n_swa)
        kv_u32(&w, KEY("attention.sliding_window"), (uint32_t)s->n_swa);
    if (build_pooling > 0)
        kv_u32(&w, KEY("pooling_type"), (uint32_t)build_pooling);
    if (GEMMA(s)) { /* small caps so that they change the numbers */
        kv_f32(&w, KEY("attn_logit_softcapping"), 2.0f);
        kv_f32(&w, KEY("final_logit_softcapping"), 8.0f);
    }
    if (s->key_length_key) {
        kv_u32(&w, KEY("attention.key_length"), (uint32_t)s->head_dim);
        kv_u32(&w, KEY("attention.value_length"), (uint32_t)s->head_dim);
    }
#undef KEY
    const int E = s->n_embd, HD = s->head_dim, NQ = s->n_head * HD, NK = s->n_head_kv * HD;
    add_tensor(&w, ws, s, "token_embd.weight", E, s->n_vocab, 1.0, 0);
    add_tensor(&w, ws, s, "output_norm.weight", E, 1, 0.2, 1.0);
    if (!s->tied)
        add_tensor(&w, ws, s, "output.weight", E, s->n_vocab, 0.3, 0);
    if (s->freq_factors)
        add_tensor(&w, ws, s, "rope_freqs.weight", HD / 2, 1, 1.5, 2.5);
    for (int l = 0; l < s->n_layer; l++) {
        char n[64];
#define T(suffix, ne0, ne1, scale, off)                                                            \
    do {                                                                                           \
        snprintf(n, sizeof(n), "blk.%d." suffix, l);                                               \
        add_tensor(&w, ws, s, n, ne0, ne1, scale, off);                                            \
    } while (0)
        T("attn_norm.weight", E, 1, 0.2, 1.0);
        if (PHI3(s)) {
            T("attn_qkv.weight", E, NQ + 2 * NK, 0.4, 0);
        } else {
            T("attn_q.weight", E, NQ, 0.4, 0);
            T("attn_k.weight", E, NK, 0.4, 0);
            T("attn_v.weight", E, NK, 0.4, 0);
        }
        T("attn_output.weight", NQ, E, 0.3, 0);
        if (s->bias) {
            T("attn_q.bias", NQ, 1, 0.3, 0);
            T("attn_k.bias", NK, 1, 0.3, 0);
            T("attn_v.bias", NK, 1, 0.3, 0);
        }
        if (s->qk_norm) {
            T("attn_q_norm.weight", HD, 1, 0.3, 1.0);
            T("attn_k_norm.weight", HD, 1, 0.3, 1.0);
        }
        T("ffn_norm.weight", E, 1, 0.2, 1.0);
        if (GEMMA(s) || GEMMA3(s)) {
            T("post_attention_norm.weight", E, 1, 0.2, 1.0);
            T("post_ffw_norm.weight", E, 1, 0.2, 1.0);
        }
        if (PHI3(s)) {
            T("ffn_up.weight", E, 2 * s->n_ff, 0.3, 0);
        } else {
            T("ffn_gate.weight", E, s->n_ff, 0.3, 0);
            T("ffn_up.weight", E, s->n_ff, 0.3, 0);
        }
        T("ffn_down.weight", s->n_ff, E, 0.3, 0);
#undef T
    }
    uint8_t *file = gw_finish(&w, size);
    gw_release(&w);
    return file;
}

/* ---- the float64 reference ---------------------------------------------------------------- */

static void ref_rmsnorm(double *y, const double *x, const double *w, int n, double eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        y[i] = x[i] * r * w[i];
}

/* y[r] = sum_c W[r][c] x[c] (+ b[r]); W stored row-major with cols values per row. */
static void ref_matvec(double *y, const double *W, const double *b, const double *x, int rows,
                       int cols)
{
    for (int r = 0; r < rows; r++) {
        double s = b ? b[r] : 0;
        for (int c = 0; c < cols; c++)
            s += W[(size_t)r * cols + c] * x[c];
        y[r] = s;
    }
}

static void ref_rope(double *x, int n_heads, int hd, int pos, bool neox, const double *ff,
                     double base, double scale)
{
    for (int h = 0; h < n_heads; h++) {
        double *v = x + h * hd;
        for (int i = 0; i < hd / 2; i++) {
            double theta = pos * scale * pow(base, -2.0 * i / hd) / (ff ? ff[i] : 1.0);
            int a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
            double x0 = v[a], x1 = v[b];
            v[a] = x0 * cos(theta) - x1 * sin(theta);
            v[b] = x0 * sin(theta) + x1 * cos(theta);
        }
    }
}

/* Logits of every position of tokens[0..n) into out (n x n_vocab). */
/* out: n x n_vocab logits; hidden (may be NULL): n x n_embd final hidden states (after the
 * output norm). */
static void ref_forward(const struct spec *s, const struct weights *ws, const int32_t *tokens,
                        int n, double *out, double *hidden)
{
    const int E = s->n_embd, HD = s->head_dim, NQ = s->n_head * HD, NK = s->n_head_kv * HD,
              F = s->n_ff, V = s->n_vocab;
    const bool neox = strcmp(s->arch, "llama") != 0;
    double *kc = calloc((size_t)s->n_layer * n * NK, sizeof(double));
    double *vc = calloc((size_t)s->n_layer * n * NK, sizeof(double));
    double *x = malloc(E * sizeof(double)), *xn = malloc(E * sizeof(double)),
           *q = malloc(NQ * sizeof(double)), *k = malloc(NK * sizeof(double)),
           *v = malloc(NK * sizeof(double)), *att = malloc(NQ * sizeof(double)),
           *o = malloc(E * sizeof(double)), *g = malloc(F * sizeof(double)),
           *u = malloc(F * sizeof(double)), *sc = malloc(n * sizeof(double));
    char nm[64];
#define W(fmt) (snprintf(nm, sizeof(nm), fmt, l), wget(ws, nm))
    for (int p = 0; p < n; p++) {
        memcpy(x, wget(ws, "token_embd.weight") + (size_t)tokens[p] * E, E * sizeof(double));
        if (GEMMA(s) || GEMMA3(s))
            for (int i = 0; i < E; i++)
                x[i] *= sqrt((double)E);
        for (int l = 0; l < s->n_layer; l++) {
            ref_rmsnorm(xn, x, W("blk.%d.attn_norm.weight"), E, 1e-6);
            if (PHI3(s)) { /* fused: q rows, then k rows, then v rows */
                const double *wqkv = W("blk.%d.attn_qkv.weight");
                ref_matvec(q, wqkv, NULL, xn, NQ, E);
                ref_matvec(k, wqkv + (size_t)NQ * E, NULL, xn, NK, E);
                ref_matvec(v, wqkv + (size_t)(NQ + NK) * E, NULL, xn, NK, E);
            } else {
                ref_matvec(q, W("blk.%d.attn_q.weight"), s->bias ? W("blk.%d.attn_q.bias") : NULL,
                           xn, NQ, E);
                ref_matvec(k, W("blk.%d.attn_k.weight"), s->bias ? W("blk.%d.attn_k.bias") : NULL,
                           xn, NK, E);
                ref_matvec(v, W("blk.%d.attn_v.weight"), s->bias ? W("blk.%d.attn_v.bias") : NULL,
                           xn, NK, E);
            }
            if (s->qk_norm) {
                for (int h = 0; h < s->n_head; h++)
                    ref_rmsnorm(q + h * HD, q + h * HD, W("blk.%d.attn_q_norm.weight"), HD, 1e-6);
                for (int h = 0; h < s->n_head_kv; h++)
                    ref_rmsnorm(k + h * HD, k + h * HD, W("blk.%d.attn_k_norm.weight"), HD, 1e-6);
            }
            const double *ff = s->freq_factors ? wget(ws, "rope_freqs.weight") : NULL;
            /* gemma3: layers 0-4 of every 6 are local (window, base 1e4 unscaled), layer 5
             * global (the file's base and scaling); gemma2: even layers local; phi3: all. */
            bool local =
                s->n_swa && (PHI3(s) || (GEMMA(s) && l % 2 == 0) || (GEMMA3(s) && l % 6 < 5));
            double base = GEMMA3(s) && !local ? 1e6 : 10000.0;
            double pscale = GEMMA3(s) && !local ? 1.0 / 8.0 : 1.0;
            ref_rope(q, s->n_head, HD, p, neox, ff, base, pscale);
            ref_rope(k, s->n_head_kv, HD, p, neox, ff, base, pscale);
            memcpy(kc + ((size_t)l * n + p) * NK, k, NK * sizeof(double));
            memcpy(vc + ((size_t)l * n + p) * NK, v, NK * sizeof(double));
            for (int h = 0; h < s->n_head; h++) {
                int kvh = h / (s->n_head / s->n_head_kv);
                double mx = -INFINITY, sum = 0;
                int t0 = local && p - s->n_swa + 1 > 0 ? p - s->n_swa + 1 : 0;
                for (int t = t0; t <= p; t++) {
                    const double *kr = kc + ((size_t)l * n + t) * NK + kvh * HD;
                    double d = 0;
                    for (int i = 0; i < HD; i++)
                        d += q[h * HD + i] * kr[i];
                    sc[t] = d / sqrt((double)HD);
                    if (GEMMA(s))
                        sc[t] = 2.0 * tanh(sc[t] / 2.0);
                    if (sc[t] > mx)
                        mx = sc[t];
                }
                for (int t = t0; t <= p; t++)
                    sum += (sc[t] = exp(sc[t] - mx));
                for (int i = 0; i < HD; i++) {
                    double a = 0;
                    for (int t = t0; t <= p; t++)
                        a += sc[t] / sum * vc[((size_t)l * n + t) * NK + kvh * HD + i];
                    att[h * HD + i] = a;
                }
            }
            ref_matvec(o, W("blk.%d.attn_output.weight"), NULL, att, E, NQ);
            if (GEMMA(s) || GEMMA3(s))
                ref_rmsnorm(o, o, W("blk.%d.post_attention_norm.weight"), E, 1e-6);
            for (int i = 0; i < E; i++)
                x[i] += o[i];
            ref_rmsnorm(xn, x, W("blk.%d.ffn_norm.weight"), E, 1e-6);
            if (PHI3(s)) { /* fused: gate rows, then up rows */
                ref_matvec(g, W("blk.%d.ffn_up.weight"), NULL, xn, F, E);
                ref_matvec(u, W("blk.%d.ffn_up.weight") + (size_t)F * E, NULL, xn, F, E);
            } else {
                ref_matvec(g, W("blk.%d.ffn_gate.weight"), NULL, xn, F, E);
                ref_matvec(u, W("blk.%d.ffn_up.weight"), NULL, xn, F, E);
            }
            for (int i = 0; i < F; i++) {
                double x0 = g[i];
                g[i] = GEMMA(s) || GEMMA3(s)
                           ? 0.5 * x0 * (1 + tanh(sqrt(2 / M_PI) * (x0 + 0.044715 * x0 * x0 * x0)))
                           : x0 / (1 + exp(-x0));
                g[i] *= u[i];
            }
            ref_matvec(o, W("blk.%d.ffn_down.weight"), NULL, g, E, F);
            if (GEMMA(s) || GEMMA3(s))
                ref_rmsnorm(o, o, W("blk.%d.post_ffw_norm.weight"), E, 1e-6);
            for (int i = 0; i < E; i++)
                x[i] += o[i];
        }
        ref_rmsnorm(xn, x, wget(ws, "output_norm.weight"), E, 1e-6);
        if (hidden)
            memcpy(hidden + (size_t)p * E, xn, (size_t)E * sizeof(double));
        ref_matvec(out + (size_t)p * V, wget(ws, s->tied ? "token_embd.weight" : "output.weight"),
                   NULL, xn, V, E);
        if (GEMMA(s))
            for (int i = 0; i < V; i++)
                out[(size_t)p * V + i] = 8.0 * tanh(out[(size_t)p * V + i] / 8.0);
    }
#undef W
    free(kc);
    free(vc);
    free(x);
    free(xn);
    free(q);
    free(k);
    free(v);
    free(att);
    free(o);
    free(g);
    free(u);
    free(sc);
}

/* ---- tests -------------------------------------------------------------------------------- */

static const struct spec llama = {"llama", 40,    32,    2,     4,    2, 8,    48,
                                  false,   false, false, false, true, 0, NULL, NULL};
static const struct spec qwen2 = {"qwen2", 40,   32,    2,    4,     2, 8,    48,
                                  false,   true, false, true, false, 0, NULL, NULL};
static const struct spec qwen3 = {"qwen3", 40,    32,   2,     4,     1, 16,   48,
                                  true,    false, true, false, false, 0, NULL, NULL};
/* A window of 5 positions: the 12-token prompt runs past it. */
static const struct spec phi3 = {"phi3", 40,    32,    2,     4,     4, 8,    48,
                                 false,  false, false, false, false, 5, NULL, NULL};
/* Tied output, soft-capping, post-norms, GeGLU, a window of 5 on even layers. */
static const struct spec gemma2 = {"gemma2", 40,    32,    2,    4,     2, 8,    48,
                                   false,    false, false, true, false, 5, NULL, NULL};
/* q/k norms, post-norms, GeGLU, 7 layers: 0-4 and 6 local (window 5, base 1e4), 5 global
 * (base 1e6, linear scaling 8). */
static const struct spec gemma3 = {"gemma3", 40,    32,   7,    4,     2, 8,    48,
                                   false,    false, true, true, false, 5, NULL, NULL};

static const int32_t prompt[] = {1, 5, 9, 33, 2, 17, 17, 39, 0, 12, 25, 7};
#define N_PROMPT ((int)(sizeof(prompt) / sizeof(prompt[0])))

static int open_model(const struct spec *s, struct weights *ws, uint8_t **file, struct osr_gguf **g,
                      struct osr_model **m, struct osr_diag *d)
{
    size_t size = 0;
    *file = build(s, ws, &size);
    *g = NULL;
    *m = NULL;
    int rc = osr_gguf_open_memory(*file, size, g, d);
    if (rc == OSR_OK)
        rc = osr_model_from_gguf(*g, m, d);
    return rc;
}

static double l2(const float *v, int n)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)v[i] * v[i];
    return sqrt(ss);
}

/* Hidden states against the float64 reference; the embedding against the mean of the hidden
 * states computed one token at a time; unit length; same text, same vector. */
static void check_embed(const struct spec *s, struct osr_model *m, const double *ref_hidden)
{
    const int E = s->n_embd;
    struct osr_diag d = {0};
    struct osr_model_ctx_params cp;
    osr_model_ctx_params_init(&cp);
    cp.kv_type = OSR_KV_F32;
    cp.n_batch = 5; /* the 12-token prompt runs in three batches */
    struct osr_model_ctx *c = NULL;
    REQUIRE(osr_model_ctx_new(m, &cp, &c, &d) == OSR_OK);
    float *hid = malloc((size_t)N_PROMPT * E * sizeof(float));
    for (int i = 0; i < N_PROMPT; i++)
        CHECK(osr_model_ctx_hidden(c, &prompt[i], 1, hid + (size_t)i * E, &d) == OSR_OK);
    CHECK_INT_EQ(osr_model_ctx_n_past(c), N_PROMPT);
    double worst = 0;
    for (size_t i = 0; i < (size_t)N_PROMPT * E; i++) {
        double e = fabs(hid[i] - ref_hidden[i]);
        worst = e > worst ? e : worst;
    }
    fprintf(stderr, "  %s hidden states: max |diff| %.2e\n", s->arch, worst);
    CHECK(worst <= 1e-4);

    double mean[64] = {0};
    REQUIRE(E <= 64);
    for (int i = 0; i < N_PROMPT; i++)
        for (int j = 0; j < E; j++)
            mean[j] += hid[(size_t)i * E + j] / N_PROMPT;
    double norm = 0;
    for (int j = 0; j < E; j++)
        norm += mean[j] * mean[j];
    norm = sqrt(norm);
    float emb[64], again[64], other[64];
    CHECK(osr_model_ctx_embed(c, prompt, N_PROMPT, emb, &d) == OSR_OK);
    CHECK_INT_EQ(osr_model_ctx_n_past(c), N_PROMPT); /* emptied first, then filled */
    double werr = 0;
    for (int j = 0; j < E; j++) {
        double e = fabs(emb[j] - mean[j] / norm);
        werr = e > werr ? e : werr;
    }
    CHECK(werr <= 1e-5);
    CHECK(fabs(l2(emb, E) - 1.0) <= 1e-5);
    CHECK(osr_model_ctx_embed(c, prompt, N_PROMPT, again, &d) == OSR_OK);
    CHECK(memcmp(emb, again, (size_t)E * sizeof(float)) == 0);
    CHECK(osr_model_ctx_embed(c, prompt + 2, N_PROMPT - 2, other, &d) == OSR_OK);
    double diff = 0;
    for (int j = 0; j < E; j++)
        diff += fabs(other[j] - emb[j]);
    CHECK(diff > 1e-3);
    CHECK_INT_EQ(osr_model_ctx_embed(c, prompt, 0, other, &d), OSR_EINVAL);
    free(hid);
    osr_model_ctx_free(c);
}

static void check_arch(const struct spec *s)
{
    struct weights ws = {0};
    uint8_t *file;
    struct osr_gguf *g;
    struct osr_model *m;
    struct osr_diag d = {0};
    int rc = open_model(s, &ws, &file, &g, &m, &d);
    if (rc)
        fprintf(stderr, "%s: %s\n", s->arch, d.msg);
    REQUIRE(rc == OSR_OK);
    const struct osr_model_hparams *hp = osr_model_hparams(m);
    CHECK_INT_EQ(hp->n_vocab, s->n_vocab);
    CHECK_INT_EQ(hp->head_dim_k, s->head_dim);
    CHECK(hp->tied_output == s->tied);
    CHECK(hp->rope_freqs == s->freq_factors);

    const int V = s->n_vocab;
    double *ref = malloc((size_t)N_PROMPT * V * sizeof(double));
    float *all = malloc((size_t)N_PROMPT * V * sizeof(float));
    float *one = malloc((size_t)V * sizeof(float));
    float *first = malloc((size_t)N_PROMPT * V * sizeof(float));
    double *ref_hidden = malloc((size_t)N_PROMPT * s->n_embd * sizeof(double));
    ref_forward(s, &ws, prompt, N_PROMPT, ref, ref_hidden);
    check_embed(s, m, ref_hidden);
    free(ref_hidden);

    for (int variant = 0; variant < 4; variant++) {
        /* 0: F32 cache, 1 thread, one batch; 1: F32, 2 threads, batch of 5 (split);
         * 2: F16 cache, one batch; 3: F32, one token at a time. */
        struct osr_model_ctx_params cp;
        osr_model_ctx_params_init(&cp);
        cp.kv_type = variant == 2 ? OSR_KV_F16 : OSR_KV_F32;
        cp.n_threads = variant == 1 ? 2 : 1;
        cp.n_batch = variant == 1 ? 5 : 0;
        struct osr_model_ctx *c = NULL;
        REQUIRE(osr_model_ctx_new(m, &cp, &c, &d) == OSR_OK);
        CHECK_INT_EQ(osr_model_ctx_n_ctx(c), 64);
        if (variant < 3) {
            CHECK(osr_model_ctx_decode(c, prompt, N_PROMPT, true, all, &d) == OSR_OK);
        } else {
            for (int i = 0; i < N_PROMPT; i++) {
                CHECK(osr_model_ctx_decode(c, &prompt[i], 1, false, one, &d) == OSR_OK);
                memcpy(all + (size_t)i * V, one, (size_t)V * sizeof(float));
            }
        }
        CHECK_INT_EQ(osr_model_ctx_n_past(c), N_PROMPT);
        double worst = 0, scale = 0;
        for (size_t i = 0; i < (size_t)N_PROMPT * V; i++) {
            double e = fabs(all[i] - ref[i]);
            worst = e > worst ? e : worst;
            scale = fabs(ref[i]) > scale ? fabs(ref[i]) : scale;
        }
        double tol = (variant == 2 ? 1.5e-3 : 5e-6) * scale;
        CHECK(worst <= tol);
        fprintf(stderr, "  %s variant %d: max |diff| %.2e (logits up to %.2f, tolerance %.1e)\n",
                s->arch, variant, worst, scale, tol);

        /* F32 weights go through vec_dot row by row whatever the batch, chunking or thread
         * count: variants 1 (2 threads, batches of 5) and 3 (one token at a time) must give
         * the very same bits as variant 0. */
        if (variant == 0)
            memcpy(first, all, (size_t)N_PROMPT * V * sizeof(float));
        if (variant == 1 || variant == 3)
            CHECK(memcmp(first, all, (size_t)N_PROMPT * V * sizeof(float)) == 0);

        /* Last-only logits equal the last row of all-logits. */
        if (variant == 0) {
            osr_model_ctx_truncate(c, 0);
            CHECK(osr_model_ctx_decode(c, prompt, N_PROMPT, false, one, &d) == OSR_OK);
            CHECK(memcmp(one, all + (size_t)(N_PROMPT - 1) * V, (size_t)V * sizeof(float)) == 0);
        }
        osr_model_ctx_free(c);
    }
    free(ref);
    free(all);
    free(one);
    free(first);
    osr_model_free(m);
    osr_gguf_close(g);
    free(file);
    weights_free(&ws);
}

static void test_llama(void)
{
    check_arch(&llama);
}

static void test_qwen2(void)
{
    check_arch(&qwen2);
}

static void test_qwen3(void)
{
    check_arch(&qwen3);
}

static void test_phi3(void)
{
    check_arch(&phi3);
}

static void test_gemma2(void)
{
    check_arch(&gemma2);
}

static void test_gemma3(void)
{
    check_arch(&gemma3);
}

static void expect_error(const struct spec *s, int want_rc, const char *want_msg)
{
    struct weights ws = {0};
    uint8_t *file;
    struct osr_gguf *g;
    struct osr_model *m;
    struct osr_diag d = {0};
    int rc = open_model(s, &ws, &file, &g, &m, &d);
    CHECK_INT_EQ(rc, want_rc);
    CHECK(m == NULL);
    if (!strstr(d.msg, want_msg)) {
        CHECK(strstr(d.msg, want_msg) != NULL);
        fprintf(stderr, "  message: %s\n  wanted:  %s\n", d.msg, want_msg);
    }
    osr_model_free(m);
    osr_gguf_close(g);
    free(file);
    weights_free(&ws);
}

static void test_load_errors(void)
{
    struct spec s = llama;
    s.arch = "gpt2";
    expect_error(&s, OSR_EUNSUPPORTED, "unsupported architecture 'gpt2'");
    s = phi3;
    s.skip_tensor = "blk.1.attn_qkv.weight";
    expect_error(&s, OSR_ECORRUPT, "missing tensor 'blk.1.attn_q.weight'");
    s = phi3;
    s.wrong_tensor = "blk.0.ffn_up.weight";
    expect_error(&s, OSR_ECORRUPT, "tensor 'blk.0.ffn_up.weight' has shape [33, 96]");
    s = gemma2;
    s.skip_tensor = "blk.1.post_ffw_norm.weight";
    expect_error(&s, OSR_ECORRUPT, "missing tensor 'blk.1.post_ffw_norm.weight'");
    s = llama;
    s.arch = "gpt2";
    expect_error(&s, OSR_EUNSUPPORTED, "unsupported architecture 'gpt2'");
    s = llama;
    s.skip_tensor = "blk.1.ffn_up.weight";
    expect_error(&s, OSR_ECORRUPT, "missing tensor 'blk.1.ffn_up.weight'");
    s = llama;
    s.wrong_tensor = "blk.0.attn_k.weight";
    expect_error(&s, OSR_ECORRUPT, "tensor 'blk.0.attn_k.weight' has shape [33, 16]");
    s = llama;
    s.wrong_tensor = "output_norm.weight";
    expect_error(&s, OSR_ECORRUPT, "tensor 'output_norm.weight' has 33 values");
    s = qwen2;
    s.skip_tensor = "blk.0.attn_v.bias";
    expect_error(&s, OSR_ECORRUPT, "missing tensor 'blk.0.attn_v.bias'");
    s = llama;
    s.n_head_kv = 3;
    expect_error(&s, OSR_ECORRUPT, "not a multiple of head_count_kv 3");
    s = llama;
    s.skip_tensor = "token_embd.weight";
    expect_error(&s, OSR_ECORRUPT, "missing tensor 'token_embd.weight'");
}

static void test_decode_errors(void)
{
    struct weights ws = {0};
    uint8_t *file;
    struct osr_gguf *g;
    struct osr_model *m;
    struct osr_diag d = {0};
    REQUIRE(open_model(&llama, &ws, &file, &g, &m, &d) == OSR_OK);
    struct osr_model_ctx_params cp;
    osr_model_ctx_params_init(&cp);
    cp.n_ctx = 16;
    struct osr_model_ctx *c = NULL;
    REQUIRE(osr_model_ctx_new(m, &cp, &c, &d) == OSR_OK);
    float logits[40], again[40];
    int32_t bad = 40;
    CHECK_INT_EQ(osr_model_ctx_decode(c, &bad, 1, false, logits, &d), OSR_EINVAL);
    CHECK(strstr(d.msg, "token id 40") != NULL);
    CHECK_INT_EQ(osr_model_ctx_decode(c, prompt, 0, false, logits, &d), OSR_EINVAL);
    CHECK_INT_EQ(osr_model_ctx_decode(c, prompt, 10, false, logits, &d), OSR_OK);
    CHECK_INT_EQ(osr_model_ctx_decode(c, prompt, 7, false, logits, &d), OSR_ETOOBIG);
    CHECK_INT_EQ(osr_model_ctx_n_past(c), 10);
    /* Truncating and re-running a position gives the same logits. */
    CHECK_INT_EQ(osr_model_ctx_decode(c, &prompt[10], 1, false, logits, &d), OSR_OK);
    osr_model_ctx_truncate(c, 10);
    CHECK_INT_EQ(osr_model_ctx_decode(c, &prompt[10], 1, false, again, &d), OSR_OK);
    CHECK(memcmp(logits, again, sizeof(logits)) == 0);
    osr_model_ctx_free(c);

    cp.n_threads = 100000;
    CHECK_INT_EQ(osr_model_ctx_new(m, &cp, &c, &d), OSR_EINVAL);
    osr_model_free(m);
    osr_gguf_close(g);
    free(file);
    weights_free(&ws);
}

struct collect {
    int32_t toks[64];
    int n;
    int cancel_after;
};

static bool collect_cb(void *arg, int32_t t)
{
    struct collect *c = arg;
    c->toks[c->n++] = t;
    return c->cancel_after == 0 || c->n < c->cancel_after;
}

static void test_generate(void)
{
    struct weights ws = {0};
    uint8_t *file;
    struct osr_gguf *g;
    struct osr_model *m;
    struct osr_diag d = {0};
    REQUIRE(open_model(&llama, &ws, &file, &g, &m, &d) == OSR_OK);
    struct osr_model_ctx *c = NULL;
    REQUIRE(osr_model_ctx_new(m, NULL, &c, &d) == OSR_OK);
    struct osr_sampler_params sp;
    osr_sampler_params_init(&sp);
    sp.temperature = 0;
    struct osr_sampler *s = NULL;
    REQUIRE(osr_sampler_new(&sp, 40, &s, &d) == OSR_OK);
    float logits[40];

    /* The greedy sequence by hand. */
    int32_t want[6];
    CHECK(osr_model_ctx_decode(c, prompt, 4, false, logits, &d) == OSR_OK);
    for (int i = 0; i < 6; i++) {
        want[i] = osr_logits_argmax(logits, 40);
        CHECK(osr_model_ctx_decode(c, &want[i], 1, false, logits, &d) == OSR_OK);
    }

    struct osr_generate_params gp = {.max_tokens = 6};
    struct collect col = {.n = 0};
    enum osr_gen_stop why = 0;
    osr_model_ctx_truncate(c, 0);
    CHECK_INT_EQ(osr_model_generate(c, s, prompt, 4, &gp, logits, collect_cb, &col, &why, &d),
                 OSR_OK);
    CHECK_INT_EQ(why, OSR_GEN_STOP_LENGTH);
    CHECK_INT_EQ(col.n, 6);
    CHECK(memcmp(col.toks, want, sizeof(want)) == 0);

    /* Cancel from the callback. */
    osr_model_ctx_truncate(c, 0);
    memset(&col, 0, sizeof(col));
    col.cancel_after = 2;
    CHECK_INT_EQ(osr_model_generate(c, s, prompt, 4, &gp, logits, collect_cb, &col, &why, &d),
                 OSR_ECANCELED);
    CHECK_INT_EQ(col.n, 2);

    /* An end-of-generation id stops before it is passed on. */
    int32_t eog = want[2];
    gp.eog = &eog;
    gp.n_eog = 1;
    osr_model_ctx_truncate(c, 0);
    memset(&col, 0, sizeof(col));
    CHECK_INT_EQ(osr_model_generate(c, s, prompt, 4, &gp, logits, collect_cb, &col, &why, &d),
                 OSR_OK);
    CHECK_INT_EQ(why, OSR_GEN_STOP_EOG);
    CHECK(col.n <= 2);
    for (int i = 0; i < col.n; i++)
        CHECK(col.toks[i] != eog);

    osr_sampler_free(s);
    osr_model_ctx_free(c);
    osr_model_free(m);
    osr_gguf_close(g);
    free(file);
    weights_free(&ws);
}

/* pooling_type cls (2) and last (3) take one token's hidden state; rank (4) is refused. */
static void test_embed_pooling(void)
{
    const int E = llama.n_embd;
    float *hid = malloc((size_t)N_PROMPT * E * sizeof(float));
    for (int pooling = 2; pooling <= 4; pooling++) {
        build_pooling = pooling;
        struct weights ws = {0};
        uint8_t *file;
        struct osr_gguf *g;
        struct osr_model *m;
        struct osr_diag d = {0};
        REQUIRE(open_model(&llama, &ws, &file, &g, &m, &d) == OSR_OK);
        CHECK_INT_EQ(osr_model_hparams(m)->pooling, pooling);
        struct osr_model_ctx *c = NULL;
        REQUIRE(osr_model_ctx_new(m, NULL, &c, &d) == OSR_OK);
        REQUIRE(osr_model_ctx_hidden(c, prompt, N_PROMPT, hid, &d) == OSR_OK);
        float emb[64];
        int rc = osr_model_ctx_embed(c, prompt, N_PROMPT, emb, &d);
        if (pooling == 4) {
            CHECK_INT_EQ(rc, OSR_EUNSUPPORTED);
            CHECK(strstr(d.msg, "pooling type 4") != NULL);
        } else {
            CHECK_INT_EQ(rc, OSR_OK);
            const float *row = hid + (size_t)(pooling == 2 ? 0 : N_PROMPT - 1) * E;
            double n = l2(row, E), worst = 0;
            for (int j = 0; j < E; j++) {
                double e = fabs(emb[j] - row[j] / n);
                worst = e > worst ? e : worst;
            }
            CHECK(worst <= 1e-5);
        }
        osr_model_ctx_free(c);
        osr_model_free(m);
        osr_gguf_close(g);
        free(file);
        weights_free(&ws);
    }
    build_pooling = 0;
    free(hid);
}

TEST_MAIN(test_llama, test_qwen2, test_qwen3, test_phi3, test_gemma2, test_gemma3, test_load_errors,
          test_decode_errors, test_generate, test_embed_pooling)
