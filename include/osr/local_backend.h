/* local_backend.h - the local engine as a chat-service backend.
 *
 * Claims the ids of the models in the registry (GGUF files in the Osaurus store, OSU_MODELS_DIR,
 * Ollama's store, the Hugging Face cache).  A model is loaded on first use and stays resident
 * until it has been idle for the idle timeout (default 15 minutes, as the original; Ollama's
 * keep_alive "0" unloads right after the request).  Before loading, the backend checks that the
 * model fits in the memory the kernel says is available and refuses with a 503 naming both
 * sizes rather than risk the OOM killer (models still loading count as taken).  A model loads
 * without blocking requests to the models already loaded; concurrent requests for a model
 * being loaded wait for that one load.  Requests to one model take turns in arrival order.
 *
 * A request is rendered with the model's own chat template (tokenizer.chat_template, or the
 * documented ChatML fallback) including tool definitions, tokenized, generated with the
 * request's sampling settings, and turned into canonical events by the output parser (stop
 * strings, <think> reasoning, tool calls).
 *
 * Embeddings (the embed op behind /v1/embeddings, /api/embed, /api/embeddings): each input is
 * tokenized with the vocabulary's special tokens and run on a fresh context; the vector is the
 * engine's pooled, unit-length final hidden state (n_embd floats).  An input longer than the
 * context is a 400 naming the limit.
 *
 * Thread rules: the backend is thread-safe; generation runs on the caller's (producer) thread
 * with the model's own compute threads.
 */
#ifndef OSR_LOCAL_BACKEND_H
#define OSR_LOCAL_BACKEND_H

#include <stdint.h>

#include "osr/chat_service.h"
#include "osr/registry.h"

struct osr_local_backend_opts {
    struct osr_registry *reg; /* borrowed; must outlive the backend */
    int n_threads;            /* compute threads; 0: one per core */
    int n_ctx_max;            /* context cap; 0: 8192 */
    int64_t idle_unload_ms;   /* 0: 15 minutes; < 0: never */
    bool single_model;        /* loading a model unloads the others (at once when idle, else
                               * when their requests end): the original's "Strict (One Model)" */
    /* Tests only (NULL in the daemon): called at the start of every model load, outside the
     * backend lock, with the model id; a non-zero return fails that load with diag. */
    int (*load_hook)(void *arg, const char *id, struct osr_diag *diag);
    void *load_hook_arg;
};

/* Returns a backend for osr_chat_service_add_backend (which takes ownership). */
struct osr_chat_backend *osr_local_backend_new(const struct osr_local_backend_opts *opts);

/* What is loaded right now, for /api/ps and /health: appends {"name","model","size",
 * "size_vram":0,"expires_at","details":{...}} objects to arr. */
struct json_object;
void osr_local_backend_loaded(struct osr_chat_backend *b, struct json_object *arr);

#endif
