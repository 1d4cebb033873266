/* model_internal.h - the model structs shared by model.c (loading) and model_forward.c (the
 * forward pass).  Private to src/engine. */
#ifndef OSR_MODEL_INTERNAL_H
#define OSR_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/gguf.h"
#include "osr/model.h"
#include "osr/quant.h"

/* A 2-D weight: rows x cols values of type `type`, row r at data + r * row_bytes (in the
 * mapping). */
struct osr_weight {
    const void *data;
    enum osr_qtype type;
    size_t row_bytes;
    int64_t rows;
    int64_t cols;
};

struct osr_layer {
    const float *attn_norm;
    struct osr_weight wq, wk, wv, wo;
    struct osr_weight wqkv;    /* phi3: q, k and v rows in one tensor (then wq/wk/wv are unset) */
    const float *bq, *bk, *bv; /* NULL when absent */
    const float *q_norm, *k_norm;                /* qwen3; NULL otherwise */
    const float *post_attn_norm, *post_ffn_norm; /* gemma2; NULL otherwise */
    const float *ffn_norm;
    struct osr_weight w_gate, w_up, w_down;
    bool gate_up_fused; /* phi3: w_up holds the gate rows, then the up rows; no w_gate */
};

struct osr_model {
    struct osr_model_hparams hp;
    const struct osr_gguf *g;
    struct osr_gguf *owned_g;   /* set when osr_model_load opened the file */
    struct osr_weight tok_embd; /* rows = n_vocab, cols = n_embd */
    struct osr_weight output;   /* tok_embd when tied */
    const float *output_norm;
    const float *rope_freqs; /* n_rot / 2 factors or NULL */
    const float *rope_long;  /* LongRoPE factors (n_rot / 2 each) or NULL */
    const float *rope_short;
    struct osr_layer *layers;
    struct osr_bert *bert; /* encoder weights (model_bert.c); NULL for decoders */
};

/* ---- shared by model.c and model_bert.c ---- */

/* A 2-D weight of rows x cols (ggml order: dims[0] = cols) of any type with kernels; an absent
 * optional tensor leaves *w zeroed.  Returns OSR_OK, OSR_ECORRUPT (missing, wrong shape) or
 * OSR_EUNSUPPORTED (type) with a message naming the tensor. */
int osr_model_get_weight(const struct osr_gguf *g, const char *name, int64_t rows, int64_t cols,
                         bool optional, struct osr_weight *w, struct osr_diag *diag);
/* A 1-D F32 vector of n values (borrowed from the mapping); NULL when optional and absent. */
int osr_model_get_vec(const struct osr_gguf *g, const char *name, int64_t n, bool optional,
                      const float **out, struct osr_diag *diag);
/* The integer key <arch>.<suffix> into *out (def when absent and not required; > max is an
 * error). */
int osr_model_arch_u32(const struct osr_gguf *g, const char *suffix, bool required, uint32_t def,
                       uint32_t max, int *out, struct osr_diag *diag);
/* The float key <arch>.<suffix> into *out (def when absent; must be finite). */
int osr_model_arch_f32(const struct osr_gguf *g, const char *suffix, float def, float *out,
                       struct osr_diag *diag);

/* ---- model_bert.c: encoder-only models ---- */

struct osr_bert;
struct osr_bert_ctx;

/* True when general.architecture names an encoder model_bert.c loads. */
bool osr_bert_is_encoder(struct osr_str arch);
/* Fills m->hp and m->bert from g (borrowed, as osr_model_from_gguf).  Errors as
 * osr_model_from_gguf; on error m->bert may be partly set and osr_bert_free frees it. */
int osr_bert_load(const struct osr_gguf *g, struct osr_model *m, struct osr_diag *diag);
void osr_bert_free(struct osr_bert *b);
/* A context for sequences of up to n_ctx tokens on n_threads threads. */
int osr_bert_ctx_new(const struct osr_model *m, int n_ctx, int n_threads, struct osr_bert_ctx **out,
                     struct osr_diag *diag);
void osr_bert_ctx_free(struct osr_bert_ctx *c);
/* Runs the n tokens (1 <= n <= n_ctx, ids checked) as one sequence and writes either every
 * final hidden state (rows: n * n_embd floats) and/or the pooled, L2-normalised embedding
 * (pool: n_embd floats); either may be NULL.  Allocates nothing. */
int osr_bert_ctx_run(struct osr_bert_ctx *c, const int32_t *tokens, int n, float *rows, float *pool,
                     struct osr_diag *diag);

#endif
