/* model.h - a decoder-only transformer loaded from a GGUF file, and contexts that run it.
 *
 * A struct osr_model holds the hyper-parameters read from the file's `<arch>.*` keys and
 * pointers to every weight tensor inside the GGUF mapping (weights are read in place: there is
 * no second copy).  Loading validates every tensor's shape and type against the
 * hyper-parameters, so a malformed or unsupported file gives an error naming the tensor, never a
 * crash.  Supported architectures: llama (llama 2/3, mistral, tinyllama, smollm, codellama),
 * qwen2 (q/k/v biases), qwen3 (q/k RMSNorm), phi3 (fused qkv and gate/up, sliding window) and
 * gemma2 (post-norms, GeGLU, soft-capping, sliding window on every other layer) and gemma3
 * (gemma2 without soft-capping, plus q/k norms and local layers with their own RoPE base);
 * anything else is refused by name.  Encoder-only embedding models (bert, nomic-bert) load too
 * (model_bert.c): their contexts embed (osr_model_ctx_embed, osr_model_ctx_hidden) but have no
 * logits, so osr_model_ctx_decode and generation refuse them.
 *
 * A struct osr_model_ctx is one sequence being evaluated: a KV cache (F16 by default, F32 on
 * request), a thread pool and every scratch buffer, all allocated when it is created, so
 * osr_model_ctx_decode allocates nothing.  The forward pass is described in
 * docs/internals/ENGINE.md.
 *
 * Thread rules: a loaded model is immutable and may be shared by any number of contexts on any
 * threads.  A context belongs to one thread at a time (its pool's threads are its own).
 */
#ifndef OSR_MODEL_H
#define OSR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/err.h"
#include "osr/gguf.h"

enum osr_arch {
    OSR_ARCH_LLAMA = 1,
    OSR_ARCH_QWEN2 = 2,
    OSR_ARCH_QWEN3 = 3,
    OSR_ARCH_PHI3 = 4,
    OSR_ARCH_GEMMA2 = 5,
    OSR_ARCH_GEMMA3 = 6,
    OSR_ARCH_BERT = 7,       /* encoder: learned positions, post-norm LayerNorm, GELU FFN */
    OSR_ARCH_NOMIC_BERT = 8, /* encoder: RoPE, fused qkv, SwiGLU FFN */
};

/* The hyper-parameters, after defaults and validation. */
struct osr_model_hparams {
    enum osr_arch arch;
    char arch_name[32]; /* general.architecture as in the file */
    int n_vocab;
    int n_embd;
    int n_layer;
    int n_head;
    int n_head_kv;
    int head_dim_k; /* key_length, default n_embd / n_head */
    int head_dim_v; /* value_length, default head_dim_k */
    int n_ff;
    int n_ctx_train;
    int n_rot;              /* rope.dimension_count, default head_dim_k */
    int rope_neox;          /* 1: rotate (i, i + n_rot/2) pairs (qwen2/3); 0: adjacent pairs */
    float rope_base;        /* rope.freq_base, default 10000 */
    float rope_scale;       /* position scale 1 / rope.scaling.factor (linear, yarn); 1 = none */
    bool rope_freqs;        /* rope_freqs.weight present (llama 3 frequency factors) */
    bool rope_longrope;     /* rope_factors_long/short present (LongRoPE, phi3): long factors
                             * for contexts longer than n_ctx_orig, short ones otherwise */
    float rope_attn_factor; /* rope.scaling.attn_factor: multiplies cos and sin; default 1 */
    float yarn_ext_factor;  /* YaRN extrapolation mix (rope.scaling.yarn_ext_factor, default 1
                             * for yarn); 0 = not YaRN */
    float yarn_beta_fast;   /* rope.scaling.yarn_beta_fast, default 32 */
    float yarn_beta_slow;   /* rope.scaling.yarn_beta_slow, default 1 */
    int n_ctx_orig;         /* rope.scaling.original_context_length, default n_ctx_train */
    float rms_eps;          /* attention.layer_norm_rms_epsilon */
    int n_swa;              /* attention.sliding_window: a query at p sees keys > p - n_swa;
                             * 0 = no window */
    int swa_pattern;        /* with P = swa_pattern, layer il is local (windowed) when P <= 1 or
                             * il % P < P - 1: phi3 1 (all), gemma2 2 (even), gemma3 6 (5 of 6) */
    float rope_base_local;  /* RoPE base of local layers, unscaled (gemma3 10000; else rope_base) */
    float attn_scale;       /* multiplies q.k: 1/sqrt(key_length); gemma2 has its own rule */
    float attn_softcap;     /* scores become cap * tanh(s / cap); 0 = off (gemma2) */
    float final_softcap;    /* the same on the output logits; 0 = off (gemma2) */
    float embd_scale;       /* multiplies the embedding rows: 1, gemma2 sqrt(n_embd) */
    bool ffn_gelu;          /* GeGLU (gelu(gate) * up) instead of SwiGLU (gemma2) */
    bool tied_output;       /* no output.weight: the token embedding is reused */
    int file_type;          /* the type id of most 2-D weights (the attn_q of layer 0) */
    int pooling;            /* <arch>.pooling_type as in the file (enum osr_pooling); 0 absent */
    bool encoder;           /* bidirectional encoder (bert, nomic-bert): embeddings only, no
                             * logits; rms_eps then holds attention.layer_norm_epsilon */
};

/* How osr_model_ctx_embed turns per-token hidden states into one vector (the values of the
 * GGUF key <arch>.pooling_type). */
enum osr_pooling {
    OSR_POOLING_NONE = 0, /* not set: decoders pool by mean */
    OSR_POOLING_MEAN = 1,
    OSR_POOLING_CLS = 2,  /* the first token */
    OSR_POOLING_LAST = 3, /* the last token */
};

struct osr_model;

/* Builds a model over an opened GGUF file, which it borrows: g must stay open until
 * osr_model_free.  On success the caller frees *out with osr_model_free.  Returns OSR_OK,
 * OSR_EUNSUPPORTED (unknown architecture, unsupported tensor type or rope scaling),
 * OSR_ECORRUPT (missing tensor, wrong shape or type, bad hyper-parameter) with a message in
 * diag, or OSR_ENOMEM. */
int osr_model_from_gguf(const struct osr_gguf *g, struct osr_model **out, struct osr_diag *diag);

/* Opens the GGUF file at path and builds a model over it; the model owns the file.  A path
 * named like the first part of a split model ("<stem>-00001-of-00003.gguf") loads every part
 * (<stem>-00002-of-00003.gguf ... from the same folder), as osr_model_load_split.  Returns
 * what osr_gguf_open and osr_model_from_gguf return. */
int osr_model_load(const char *path, struct osr_model **out, struct osr_diag *diag);

/* As osr_model_load over a model split into n files (paths in part order, see
 * osr_gguf_open_split); n = 1 is osr_model_load.  A lone part of a split model is refused. */
int osr_model_load_split(const char *const *paths, size_t n, struct osr_model **out,
                         struct osr_diag *diag);

/* Frees the model (and the file when osr_model_load opened it).  NULL is a no-op.  Every
 * context of the model must be freed first. */
void osr_model_free(struct osr_model *m);

const struct osr_model_hparams *osr_model_hparams(const struct osr_model *m);
/* The GGUF file the weights live in (borrowed; valid until osr_model_free). */
const struct osr_gguf *osr_model_gguf(const struct osr_model *m);
/* Writes a short description ("llama 2 layers, 64 embd, F32") into out (always
 * NUL-terminated); returns out. */
const char *osr_model_desc(const struct osr_model *m, char *out, size_t size);

/* ---- contexts ----------------------------------------------------------------------------- */

enum osr_kv_type {
    OSR_KV_F16 = 0,
    OSR_KV_F32 = 1,
};

struct osr_model_ctx_params {
    int n_ctx;     /* 0: the file's context length capped at n_ctx_max */
    int n_ctx_max; /* cap applied when n_ctx is 0; 0: 4096 */
    int n_batch;   /* tokens per forward step (longer inputs are split); 0: 512 */
    int n_threads; /* 0: 1 */
    enum osr_kv_type kv_type;
};

struct osr_model_ctx;

/* Fills p with the defaults described above. */
void osr_model_ctx_params_init(struct osr_model_ctx_params *p);

/* Creates a context for m (borrowed; must outlive the context) with its KV cache, thread pool
 * and scratch buffers.  The caller frees *out with osr_model_ctx_free.  Returns OSR_OK,
 * OSR_EINVAL for bad parameters, OSR_ENOMEM, or what osr_threadpool_new returns. */
int osr_model_ctx_new(const struct osr_model *m, const struct osr_model_ctx_params *p,
                      struct osr_model_ctx **out, struct osr_diag *diag);

/* Frees the context and stops its threads.  NULL is a no-op. */
void osr_model_ctx_free(struct osr_model_ctx *c);

/* Number of positions the context holds, and how many are filled. */
int osr_model_ctx_n_ctx(const struct osr_model_ctx *c);
int osr_model_ctx_n_past(const struct osr_model_ctx *c);

/* Forgets positions n_past and later (0 empties the cache).  n_past larger than the current
 * count is clamped. */
void osr_model_ctx_truncate(struct osr_model_ctx *c, int n_past);

/* Runs the n tokens at positions n_past .. n_past + n - 1 (where n_past is the number of
 * positions already in the cache) and appends them to the cache.  logits (borrowed, written)
 * receives n_vocab floats: for every token (n * n_vocab, token i at logits + i * n_vocab) when
 * all_logits is set, otherwise for the last token only; logits may be NULL to just fill the
 * cache.  Allocates nothing.  Returns OSR_OK, OSR_EINVAL (n < 1, a token id outside the
 * vocabulary), OSR_ETOOBIG (the context is full) with a message in diag.  On error the cache
 * is left as it was before the call. */
int osr_model_ctx_decode(struct osr_model_ctx *c, const int32_t *tokens, int n, bool all_logits,
                         float *logits, struct osr_diag *diag);

/* As osr_model_ctx_decode (same positions, cache, errors), but instead of logits writes the
 * final hidden state of every token - after the output norm, before the vocabulary
 * projection - into hidden (borrowed, written): n * n_embd floats, token i at
 * hidden + i * n_embd.  An encoder model's context has no cache: the tokens are always the
 * whole sequence (from position 0) and its final LayerNorm output is written. */
int osr_model_ctx_hidden(struct osr_model_ctx *c, const int32_t *tokens, int n, float *hidden,
                         struct osr_diag *diag);

/* Empties the cache, runs the n tokens from position 0 and writes their embedding into out
 * (borrowed, written: n_embd floats): the final hidden states pooled as the file's
 * pooling_type says (mean when it says nothing), then scaled to unit L2 length.  The cache
 * holds the tokens afterwards.  Allocates nothing.  Returns the errors of osr_model_ctx_decode,
 * or OSR_EUNSUPPORTED for a pooling type other than those of enum osr_pooling. */
int osr_model_ctx_embed(struct osr_model_ctx *c, const int32_t *tokens, int n, float *out,
                        struct osr_diag *diag);

/* ---- generation --------------------------------------------------------------------------- */

struct osr_sampler;

/* Called for every generated token; returning false stops generation (OSR_ECANCELED). */
typedef bool (*osr_generate_cb)(void *arg, int32_t token);

enum osr_gen_stop {
    OSR_GEN_STOP_EOG = 1,    /* an end-of-generation token was produced (not passed on) */
    OSR_GEN_STOP_LENGTH = 2, /* max_tokens were produced, or the context is full */
};

/* A hook that shapes generation (constrained decoding).  Before each sampled token, before()
 * may mask logits_buf (set forbidden tokens to -INFINITY) and return OSR_GEN_HOOK_SAMPLE, hand
 * back tokens to feed without sampling (OSR_GEN_HOOK_FORCE with *forced / *n_forced, borrowed
 * until the next call; they go to cb, the sampler's history and the context like sampled
 * tokens, and after() is not called for them), return OSR_GEN_HOOK_END to end generation as
 * an end-of-generation token would, or return a negative error code.  after() is told every
 * sampled token that is not an end-of-generation id. */
enum osr_gen_hook_step {
    OSR_GEN_HOOK_SAMPLE = 0,
    OSR_GEN_HOOK_FORCE = 1,
    OSR_GEN_HOOK_END = 2,
};

struct osr_gen_hook {
    int (*before)(void *arg, float *logits, const int32_t **forced, size_t *n_forced);
    void (*after)(void *arg, int32_t token);
    void *arg;
};

struct osr_generate_params {
    int max_tokens;     /* > 0 */
    const int32_t *eog; /* end-of-generation ids (EOS, EOT, ...), borrowed; may be NULL */
    size_t n_eog;
    const struct osr_gen_hook *hook; /* borrowed; NULL: plain sampling */
};

/* Evaluates the prompt (appended to what c already holds) and then samples one token at a
 * time with s until an end-of-generation id, max_tokens or a full context; each token is
 * passed to cb (an end-of-generation token is not).  logits_buf (borrowed) must hold n_vocab
 * floats.  Returns OSR_OK with *why set, OSR_ECANCELED when cb returned false, the error of
 * osr_model_ctx_decode, or the error a hook returned (OSR_EINVAL also when a hook's mask left
 * no token). */
int osr_model_generate(struct osr_model_ctx *c, struct osr_sampler *s, const int32_t *prompt,
                       size_t n_prompt, const struct osr_generate_params *p, float *logits_buf,
                       osr_generate_cb cb, void *arg, enum osr_gen_stop *why,
                       struct osr_diag *diag);

#endif
