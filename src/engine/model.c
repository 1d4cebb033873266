/* model.c - building a model from a GGUF file: hyper-parameters, tensor lookup, validation.
 *
 * Reads the `<arch>.*` keys into struct osr_model_hparams, then finds every tensor the
 * architecture needs under llama.cpp's standard names (token_embd, blk.N.attn_q, ...) and checks
 * its shape and type against the hyper-parameters before anything uses it, so the forward pass
 * can trust every size.  Weights stay in the GGUF mapping.  It does not run anything (that is
 * model_forward.c) and knows nothing about tokenizers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "osr/alloc.h"
#include "osr/model.h"

/* Largest hyper-parameter values we accept: far above any real model, low enough that sizes
 * computed from them cannot overflow. */
#define MAX_DIM (1 << 20)
#define MAX_LAYERS 1024
#define MAX_VOCAB (1 << 22)

static int arch_u32(const struct osr_gguf *g, const char *suffix, bool required, uint32_t def,
                    uint32_t max, int *out, struct osr_diag *diag)
{
    uint32_t v = def;
    int rc = osr_gguf_get_arch_u32(g, suffix, &v);
    if (rc == OSR_ENOTFOUND && !required)
        v = def;
    else if (rc == OSR_ENOTFOUND)
        return osr_diag_set(diag, OSR_ECORRUPT, "missing key '%.*s.%s'", (int)osr_gguf_arch(g).n,
                            osr_gguf_arch(g).p, suffix);
    else if (rc)
        return osr_diag_set(diag, OSR_EUNSUPPORTED, "key '%.*s.%s' is not a single integer",
                            (int)osr_gguf_arch(g).n, osr_gguf_arch(g).p, suffix);
    if (v > max)
        return osr_diag_set(diag, OSR_ECORRUPT, "key '%.*s.%s' = %u is out of range",
                            (int)osr_gguf_arch(g).n, osr_gguf_arch(g).p, suffix, v);
    *out = (int)v;
    return OSR_OK;
}

static int arch_f32(const struct osr_gguf *g, const char *suffix, float def, float *out,
                    struct osr_diag *diag)
{
    float v = def;
    int rc = osr_gguf_get_arch_f32(g, suffix, &v);
    if (rc == OSR_ENOTFOUND)
        v = def;
    else if (rc)
        return osr_diag_set(diag, OSR_ECORRUPT, "key '%.*s.%s' is not a float",
                            (int)osr_gguf_arch(g).n, osr_gguf_arch(g).p, suffix);
    if (!isfinite(v))
        return osr_diag_set(diag, OSR_ECORRUPT, "key '%.*s.%s' is not finite",
                            (int)osr_gguf_arch(g).n, osr_gguf_arch(g).p, suffix);
    *out = v;
    return OSR_OK;
}

static int read_hparams(const struct osr_gguf *g, struct osr_model_hparams *hp,
                        struct osr_diag *diag)
{
    struct osr_str arch = osr_gguf_arch(g);
    int rc;
    if (arch.n == 0)
        return osr_diag_set(diag, OSR_ECORRUPT, "missing key 'general.architecture'");
    if (arch.n >= sizeof(hp->arch_name))
        return osr_diag_set(diag, OSR_EUNSUPPORTED, "unsupported architecture '%.*s'",
                            (int)(arch.n > 64 ? 64 : arch.n), arch.p);
    memcpy(hp->arch_name, arch.p, arch.n);
    hp->arch_name[arch.n] = '\0';
    if (strcmp(hp->arch_name, "llama") == 0) {
        hp->arch = OSR_ARCH_LLAMA;
    } else if (strcmp(hp->arch_name, "qwen2") == 0) {
        hp->arch = OSR_ARCH_QWEN2;
        hp->rope_neox = 1;
    } else if (strcmp(hp->arch_name, "qwen3") == 0) {
        hp->arch = OSR_ARCH_QWEN3;
        hp->rope_neox = 1;
    } else if (strcmp(hp->arch_name, "phi3") == 0) {
        hp->arch = OSR_ARCH_PHI3;
        hp->rope_neox = 1;
    } else if (strcmp(hp->arch_name, "gemma2") == 0) {
        hp->arch = OSR_ARCH_GEMMA2;
        hp->rope_neox = 1;
        hp->ffn_gelu = true;
    } else if (strcmp(hp->arch_name, "gemma3") == 0) {
        hp->arch = OSR_ARCH_GEMMA3;
        hp->rope_neox = 1;
        hp->ffn_gelu = true;
    } else {
        return osr_diag_set(diag, OSR_EUNSUPPORTED,
                            "unsupported architecture '%s' (supported: llama, qwen2, qwen3, phi3, "
                            "gemma2, gemma3, bert, nomic-bert)",
                            hp->arch_name);
    }

    if ((rc = arch_u32(g, "embedding_length", true, 0, MAX_DIM, &hp->n_embd, diag)) ||
        (rc = arch_u32(g, "block_count", true, 0, MAX_LAYERS, &hp->n_layer, diag)) ||
        (rc = arch_u32(g, "attention.head_count", true, 0, MAX_DIM, &hp->n_head, diag)) ||
        (rc = arch_u32(g, "feed_forward_length", true, 0, MAX_DIM, &hp->n_ff, diag)) ||
        (rc = arch_u32(g, "context_length", false, 2048, 1u << 24, &hp->n_ctx_train, diag)))
        return rc;
    if (hp->n_embd < 1 || hp->n_layer < 1 || hp->n_head < 1 || hp->n_ff < 1 || hp->n_ctx_train < 1)
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "bad hyper-parameters: embedding_length %d, block_count %d, "
                            "head_count %d, feed_forward_length %d, context_length %d",
                            hp->n_embd, hp->n_layer, hp->n_head, hp->n_ff, hp->n_ctx_train);
    if ((rc = arch_u32(g, "attention.head_count_kv", false, (uint32_t)hp->n_head, MAX_DIM,
                       &hp->n_head_kv, diag)))
        return rc;
    if (hp->n_head_kv < 1 || hp->n_head % hp->n_head_kv != 0)
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "head_count %d is not a multiple of head_count_kv %d", hp->n_head,
                            hp->n_head_kv);
    uint32_t def_hd = hp->n_embd % hp->n_head == 0 ? (uint32_t)(hp->n_embd / hp->n_head) : 0;
    if ((rc = arch_u32(g, "attention.key_length", false, def_hd, MAX_DIM, &hp->head_dim_k, diag)))
        return rc;
    if ((rc = arch_u32(g, "attention.value_length", false, (uint32_t)hp->head_dim_k, MAX_DIM,
                       &hp->head_dim_v, diag)))
        return rc;
    if (hp->head_dim_k < 2 || hp->head_dim_v < 1 || hp->head_dim_k % 2 != 0)
        return osr_diag_set(diag, OSR_ECORRUPT, "bad head size: key_length %d, value_length %d",
                            hp->head_dim_k, hp->head_dim_v);
    if ((rc = arch_u32(g, "rope.dimension_count", false, (uint32_t)hp->head_dim_k, MAX_DIM,
                       &hp->n_rot, diag)))
        return rc;
    if (hp->n_rot < 2 || hp->n_rot % 2 != 0 || hp->n_rot > hp->head_dim_k)
        return osr_diag_set(diag, OSR_ECORRUPT, "bad rope.dimension_count %d (head size %d)",
                            hp->n_rot, hp->head_dim_k);
    if ((rc = arch_f32(g, "rope.freq_base", 10000.0f, &hp->rope_base, diag)) ||
        (rc = arch_f32(g, "attention.layer_norm_rms_epsilon", 1e-5f, &hp->rms_eps, diag)))
        return rc;
    if (hp->rope_base <= 0 || hp->rms_eps < 0)
        return osr_diag_set(diag, OSR_ECORRUPT, "bad rope.freq_base %g or rms epsilon %g",
                            (double)hp->rope_base, (double)hp->rms_eps);

    bool gemma = hp->arch == OSR_ARCH_GEMMA2 || hp->arch == OSR_ARCH_GEMMA3;
    hp->swa_pattern = 1;
    hp->rope_base_local = hp->rope_base;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    hp->embd_scale = 1.0f;
    uint32_t pooling = 0;
    if (osr_gguf_get_arch_u32(g, "pooling_type", &pooling) == OSR_OK)
        hp->pooling = pooling > 255 ? 255 : (int)pooling; /* refused by embed, not by load */
    if ((hp->arch == OSR_ARCH_PHI3 || gemma) &&
        (rc = arch_u32(g, "attention.sliding_window", false, 0, 1u << 24, &hp->n_swa, diag)))
        return rc;
    if (gemma) {
        /* Queries are scaled by query_pre_attn_scalar^-1/2, which the file does not carry: as
         * llama.cpp, the head size, except n_embd / n_head for the 27B models (46 layers for
         * gemma2, 62 for gemma3). */
        hp->embd_scale = sqrtf((float)hp->n_embd);
        if (hp->n_layer == (hp->arch == OSR_ARCH_GEMMA2 ? 46 : 62))
            hp->attn_scale = 1.0f / sqrtf((float)hp->n_embd / (float)hp->n_head);
    }
    if (hp->arch == OSR_ARCH_GEMMA3) {
        /* Five local layers (window, RoPE base 10000 unscaled) then one global layer. */
        hp->swa_pattern = 6;
        hp->rope_base_local = 10000.0f;
    }
    if (hp->arch == OSR_ARCH_GEMMA2) {
        /* Even layers are local (windowed), odd ones global. */
        hp->swa_pattern = 2;
        if ((rc = arch_f32(g, "attn_logit_softcapping", 50.0f, &hp->attn_softcap, diag)) ||
            (rc = arch_f32(g, "final_logit_softcapping", 30.0f, &hp->final_softcap, diag)))
            return rc;
        if (hp->attn_softcap < 0 || hp->final_softcap < 0)
            return osr_diag_set(diag, OSR_ECORRUPT, "negative logit soft-capping");
    }

    /* RoPE scaling.  linear: a position scale.  yarn: the same scale blended back towards the
     * unscaled angle for the fast-turning pairs, plus a magnitude factor (ENGINE.md).  llama 3
     * and LongRoPE arrive as frequency-factor tensors (looked up later). */
    hp->rope_scale = 1.0f;
    hp->rope_attn_factor = 1.0f;
    hp->yarn_ext_factor = 0.0f;
    hp->yarn_beta_fast = 32.0f;
    hp->yarn_beta_slow = 1.0f;
    hp->n_ctx_orig = hp->n_ctx_train;
    if ((rc = arch_f32(g, "rope.scaling.attn_factor", 1.0f, &hp->rope_attn_factor, diag)) ||
        (rc = arch_u32(g, "rope.scaling.original_context_length", false, (uint32_t)hp->n_ctx_train,
                       1u << 24, &hp->n_ctx_orig, diag)))
        return rc;
    if (hp->rope_attn_factor <= 0 || hp->rope_attn_factor > 100 || hp->n_ctx_orig < 1)
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "bad rope.scaling.attn_factor %g or original_context_length %d",
                            (double)hp->rope_attn_factor, hp->n_ctx_orig);
    char key[96];
    snprintf(key, sizeof(key), "%s.rope.scaling.type", hp->arch_name);
    struct osr_str type = {0};
    if (osr_gguf_get_str(g, key, &type) != OSR_OK || type.n == 0 || osr_str_eq_cstr(type, "none") ||
        osr_str_eq_cstr(type, "llama3") || osr_str_eq_cstr(type, "longrope") ||
        osr_str_eq_cstr(type, "su"))
        return OSR_OK;
    bool yarn = osr_str_eq_cstr(type, "yarn");
    if (!yarn && !osr_str_eq_cstr(type, "linear"))
        return osr_diag_set(diag, OSR_EUNSUPPORTED, "unsupported rope scaling '%.*s'",
                            (int)(type.n > 32 ? 32 : type.n), type.p);
    float factor = 1.0f;
    if ((rc = arch_f32(g, "rope.scaling.factor", 1.0f, &factor, diag)))
        return rc;
    if (factor <= 0 || factor > 1e6f)
        return osr_diag_set(diag, OSR_ECORRUPT, "bad rope.scaling.factor %g", (double)factor);
    hp->rope_scale = 1.0f / factor;
    if (!yarn)
        return OSR_OK;
    if ((rc = arch_f32(g, "rope.scaling.yarn_ext_factor", 1.0f, &hp->yarn_ext_factor, diag)) ||
        (rc = arch_f32(g, "rope.scaling.yarn_beta_fast", 32.0f, &hp->yarn_beta_fast, diag)) ||
        (rc = arch_f32(g, "rope.scaling.yarn_beta_slow", 1.0f, &hp->yarn_beta_slow, diag)))
        return rc;
    if (hp->yarn_ext_factor < 0 || hp->yarn_ext_factor > 1 || hp->yarn_beta_fast <= 0 ||
        hp->yarn_beta_slow <= 0)
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "bad YaRN parameters: yarn_ext_factor %g (0..1), yarn_beta_fast %g, "
                            "yarn_beta_slow %g (> 0)",
                            (double)hp->yarn_ext_factor, (double)hp->yarn_beta_fast,
                            (double)hp->yarn_beta_slow);
    return OSR_OK;
}

static int find_tensor(const struct osr_gguf *g, const char *name, bool optional,
                       const struct osr_gguf_tensor **out, struct osr_diag *diag)
{
    *out = osr_gguf_find_tensor(g, name);
    if (!*out && !optional)
        return osr_diag_set(diag, OSR_ECORRUPT, "missing tensor '%s'", name);
    return OSR_OK;
}

/* A 2-D weight of rows x cols (ggml order: dims[0] = cols). */
static int get_weight(const struct osr_gguf *g, const char *name, int64_t rows, int64_t cols,
                      bool optional, struct osr_weight *w, struct osr_diag *diag)
{
    const struct osr_gguf_tensor *t;
    int rc = find_tensor(g, name, optional, &t, diag);
    memset(w, 0, sizeof(*w));
    if (rc || !t)
        return rc;
    if (t->n_dims > 2 || (int64_t)t->dims[0] != cols || (int64_t)t->dims[1] != rows)
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "tensor '%s' has shape [%llu, %llu], expected [%lld, %lld]", name,
                            (unsigned long long)t->dims[0], (unsigned long long)t->dims[1],
                            (long long)cols, (long long)rows);
    const struct osr_qtype_info *ti = osr_quant_type_info((uint32_t)t->type);
    if (!ti || !ti->has_kernels) {
        const char *tn = osr_ggml_type_name(t->type);
        return osr_diag_set(diag, OSR_EUNSUPPORTED, "tensor '%s' has unsupported type %s", name,
                            tn ? tn : "(unknown)");
    }
    size_t rb = osr_quant_row_bytes((uint32_t)t->type, cols);
    if (rb == 0 || rb * (uint64_t)rows != t->n_bytes)
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "tensor '%s': %lld values per row do not fit type %s", name,
                            (long long)cols, ti->name);
    w->data = t->data;
    w->type = (enum osr_qtype)t->type;
    w->row_bytes = rb;
    w->rows = rows;
    w->cols = cols;
    return OSR_OK;
}

/* A 1-D F32 vector of n values. */
static int get_vec(const struct osr_gguf *g, const char *name, int64_t n, bool optional,
                   const float **out, struct osr_diag *diag)
{
    const struct osr_gguf_tensor *t;
    int rc = find_tensor(g, name, optional, &t, diag);
    *out = NULL;
    if (rc || !t)
        return rc;
    if ((int64_t)t->n_elements != n || t->dims[0] != t->n_elements)
        return osr_diag_set(diag, OSR_ECORRUPT, "tensor '%s' has %llu values, expected %lld", name,
                            (unsigned long long)t->n_elements, (long long)n);
    if (t->type != OSR_GGML_TYPE_F32) {
        const char *tn = osr_ggml_type_name(t->type);
        return osr_diag_set(diag, OSR_EUNSUPPORTED, "tensor '%s' has type %s, expected F32", name,
                            tn ? tn : "(unknown)");
    }
    if ((uintptr_t)t->data % sizeof(float) != 0)
        return osr_diag_set(diag, OSR_ECORRUPT, "tensor '%s' is not aligned", name);
    *out = t->data;
    return OSR_OK;
}

int osr_model_get_weight(const struct osr_gguf *g, const char *name, int64_t rows, int64_t cols,
                         bool optional, struct osr_weight *w, struct osr_diag *diag)
{
    return get_weight(g, name, rows, cols, optional, w, diag);
}

int osr_model_get_vec(const struct osr_gguf *g, const char *name, int64_t n, bool optional,
                      const float **out, struct osr_diag *diag)
{
    return get_vec(g, name, n, optional, out, diag);
}

int osr_model_arch_u32(const struct osr_gguf *g, const char *suffix, bool required, uint32_t def,
                       uint32_t max, int *out, struct osr_diag *diag)
{
    return arch_u32(g, suffix, required, def, max, out, diag);
}

int osr_model_arch_f32(const struct osr_gguf *g, const char *suffix, float def, float *out,
                       struct osr_diag *diag)
{
    return arch_f32(g, suffix, def, out, diag);
}

static int load_layer(const struct osr_gguf *g, const struct osr_model_hparams *hp, int il,
                      struct osr_layer *L, struct osr_diag *diag)
{
    char name[96];
    int rc;
    const int64_t E = hp->n_embd, nq = (int64_t)hp->n_head * hp->head_dim_k,
                  nk = (int64_t)hp->n_head_kv * hp->head_dim_k,
                  nv = (int64_t)hp->n_head_kv * hp->head_dim_v,
                  no = (int64_t)hp->n_head * hp->head_dim_v, F = hp->n_ff;
    bool bias = hp->arch == OSR_ARCH_QWEN2;
#define W(suffix, rows, cols, field)                                                               \
    do {                                                                                           \
        snprintf(name, sizeof(name), "blk.%d." suffix ".weight", il);                              \
        if ((rc = get_weight(g, name, rows, cols, false, &L->field, diag)))                        \
            return rc;                                                                             \
    } while (0)
#define V(suffix, kind, n, optional, field)                                                        \
    do {                                                                                           \
        snprintf(name, sizeof(name), "blk.%d." suffix "." kind, il);                               \
        if ((rc = get_vec(g, name, n, optional, &L->field, diag)))                                 \
            return rc;                                                                             \
    } while (0)
    V("attn_norm", "weight", E, false, attn_norm);
    snprintf(name, sizeof(name), "blk.%d.attn_qkv.weight", il);
    if (hp->arch == OSR_ARCH_PHI3 && osr_gguf_find_tensor(g, name)) {
        if ((rc = get_weight(g, name, nq + nk + nv, E, false, &L->wqkv, diag)))
            return rc;
    } else {
        W("attn_q", nq, E, wq);
        W("attn_k", nk, E, wk);
        W("attn_v", nv, E, wv);
    }
    W("attn_output", E, no, wo);
    /* Biases are required for qwen2 (it always has them) and taken when present elsewhere. */
    V("attn_q", "bias", nq, !bias, bq);
    V("attn_k", "bias", nk, !bias, bk);
    V("attn_v", "bias", nv, !bias, bv);
    if (hp->arch == OSR_ARCH_QWEN3 || hp->arch == OSR_ARCH_GEMMA3) {
        V("attn_q_norm", "weight", hp->head_dim_k, false, q_norm);
        V("attn_k_norm", "weight", hp->head_dim_k, false, k_norm);
    }
    if (hp->arch == OSR_ARCH_GEMMA2 || hp->arch == OSR_ARCH_GEMMA3) {
        V("post_attention_norm", "weight", E, false, post_attn_norm);
        V("post_ffw_norm", "weight", E, false, post_ffn_norm);
    }
    V("ffn_norm", "weight", E, false, ffn_norm);
    snprintf(name, sizeof(name), "blk.%d.ffn_gate.weight", il);
    if (hp->arch == OSR_ARCH_PHI3 && !osr_gguf_find_tensor(g, name)) {
        L->gate_up_fused = true;
        W("ffn_up", 2 * F, E, w_up);
    } else {
        W("ffn_gate", F, E, w_gate);
        W("ffn_up", F, E, w_up);
    }
    W("ffn_down", E, F, w_down);
#undef W
#undef V
    return OSR_OK;
}

int osr_model_from_gguf(const struct osr_gguf *g, struct osr_model **out, struct osr_diag *diag)
{
    struct osr_model *m = osr_xcalloc(1, sizeof(*m));
    int rc;
    if (osr_bert_is_encoder(osr_gguf_arch(g))) { /* encoders: model_bert.c */
        m->g = g;
        if ((rc = osr_bert_load(g, m, diag)) == OSR_OK) {
            *out = m;
            m = NULL;
        }
        goto out;
    }
    rc = read_hparams(g, &m->hp, diag);
    if (rc)
        goto out;
    m->g = g;
    struct osr_model_hparams *hp = &m->hp;

    const struct osr_gguf_tensor *te;
    if ((rc = find_tensor(g, "token_embd.weight", false, &te, diag)))
        goto out;
    if (te->n_dims != 2 || te->dims[1] < 1 || te->dims[1] > MAX_VOCAB) {
        rc = osr_diag_set(diag, OSR_ECORRUPT, "tensor 'token_embd.weight' has a bad shape");
        goto out;
    }
    hp->n_vocab = (int)te->dims[1];
    if ((rc = get_weight(g, "token_embd.weight", hp->n_vocab, hp->n_embd, false, &m->tok_embd,
                         diag)) ||
        (rc = get_weight(g, "output.weight", hp->n_vocab, hp->n_embd, true, &m->output, diag)) ||
        (rc = get_vec(g, "output_norm.weight", hp->n_embd, false, &m->output_norm, diag)) ||
        (rc = get_vec(g, "rope_freqs.weight", hp->n_rot / 2, true, &m->rope_freqs, diag)))
        goto out;
    if (!m->output.data) {
        m->output = m->tok_embd;
        hp->tied_output = true;
    }
    hp->rope_freqs = m->rope_freqs != NULL;
    if ((rc = get_vec(g, "rope_factors_long.weight", hp->n_rot / 2, true, &m->rope_long, diag)) ||
        (rc = get_vec(g, "rope_factors_short.weight", hp->n_rot / 2, true, &m->rope_short, diag)))
        goto out;
    if (!m->rope_long != !m->rope_short || (m->rope_long && m->rope_freqs)) {
        rc = osr_diag_set(diag, OSR_ECORRUPT,
                          "LongRoPE needs both rope_factors_long and rope_factors_short, and no "
                          "rope_freqs");
        goto out;
    }
    hp->rope_longrope = m->rope_long != NULL;
    for (int i = 0; hp->rope_longrope && i < hp->n_rot / 2; i++) {
        if (!(m->rope_long[i] > 0 && m->rope_short[i] > 0 && isfinite(m->rope_long[i]) &&
              isfinite(m->rope_short[i]))) {
            rc = osr_diag_set(diag, OSR_ECORRUPT,
                              "LongRoPE factor %d is not a positive finite number", i);
            goto out;
        }
    }
    m->layers = osr_xcalloc((size_t)hp->n_layer, sizeof(*m->layers));
    for (int il = 0; il < hp->n_layer; il++)
        if ((rc = load_layer(g, hp, il, &m->layers[il], diag)))
            goto out;
    hp->file_type = (int)(m->layers[0].wqkv.data ? m->layers[0].wqkv.type : m->layers[0].wq.type);
    *out = m;
    m = NULL;
out:
    osr_model_free(m);
    return rc;
}

/* The part count of a first-part name "<stem>-00001-of-NNNNN.gguf" (llama.cpp's gguf-split
 * naming, five digits each), or 1 for any other name. */
static unsigned split_count_of_name(const char *path, size_t *stem_len)
{
    static const char tail[] = "-00001-of-00000.gguf";
    size_t len = strlen(path), tl = sizeof(tail) - 1;
    if (len <= tl)
        return 1;
    const char *t = path + len - tl;
    if (memcmp(t, "-00001-of-", 10) != 0 || strcmp(t + 15, ".gguf") != 0)
        return 1;
    unsigned count = 0;
    for (int i = 10; i < 15; i++) {
        if (t[i] < '0' || t[i] > '9')
            return 1;
        count = count * 10 + (unsigned)(t[i] - '0');
    }
    *stem_len = len - tl;
    return count > 1 ? count : 1;
}

int osr_model_load(const char *path, struct osr_model **out, struct osr_diag *diag)
{
    size_t stem = 0;
    unsigned n = split_count_of_name(path, &stem);
    if (n == 1)
        return osr_model_load_split(&path, 1, out, diag);
    /* the first part of a split model: its siblings are named after it */
    char **names = osr_xcalloc(n, sizeof(*names));
    for (unsigned i = 0; i < n; i++) {
        size_t cap = stem + 32;
        names[i] = osr_xmalloc(cap);
        snprintf(names[i], cap, "%.*s-%05u-of-%05u.gguf", (int)stem, path, i + 1, n);
    }
    int rc = osr_model_load_split((const char *const *)names, n, out, diag);
    for (unsigned i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int osr_model_load_split(const char *const *paths, size_t n, struct osr_model **out,
                         struct osr_diag *diag)
{
    struct osr_gguf *g = NULL;
    int rc = osr_gguf_open_split(paths, n, &g, diag);
    if (rc)
        return rc;
    rc = osr_model_from_gguf(g, out, diag);
    if (rc) {
        osr_gguf_close(g);
        return rc;
    }
    (*out)->owned_g = g;
    return OSR_OK;
}

void osr_model_free(struct osr_model *m)
{
    if (!m)
        return;
    free(m->layers);
    osr_bert_free(m->bert);
    osr_gguf_close(m->owned_g);
    free(m);
}

const struct osr_model_hparams *osr_model_hparams(const struct osr_model *m)
{
    return &m->hp;
}

const struct osr_gguf *osr_model_gguf(const struct osr_model *m)
{
    return m->g;
}

const char *osr_model_desc(const struct osr_model *m, char *out, size_t size)
{
    const struct osr_qtype_info *ti = osr_quant_type_info((uint32_t)m->hp.file_type);
    snprintf(out, size, "%s %d layers, %d embd, %d heads (%d kv), %s", m->hp.arch_name,
             m->hp.n_layer, m->hp.n_embd, m->hp.n_head, m->hp.n_head_kv, ti ? ti->name : "?");
    return out;
}
