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
};

#endif
