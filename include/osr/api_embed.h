/* api_embed.h - embedding requests and answers: OpenAI /v1/embeddings, Ollama /api/embed and
 * the older Ollama /api/embeddings.
 *
 * Pure translation, like the chat protocols: decode a body into a struct osr_embed_request (or
 * an osr_api_error for osr_api_error_body), and write the protocol's answer for the vectors a
 * backend computed.
 *
 * Thread rules: a request belongs to one thread at a time; the functions are reentrant.
 */
#ifndef OSR_API_EMBED_H
#define OSR_API_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "osr/api.h"
#include "osr/arena.h"
#include "osr/buf.h"
#include "osr/chat.h"

#define OSR_EMBED_MAX_INPUTS 2048

enum osr_embed_api {
    OSR_EMBED_OPENAI,        /* {"model","input":string|[string],"encoding_format","dimensions"} */
    OSR_EMBED_OLLAMA,        /* {"model","input":string|[string],"truncate","keep_alive"} */
    OSR_EMBED_OLLAMA_LEGACY, /* {"model","prompt"} -> {"embedding":[...]} */
};

struct osr_embed_request {
    struct osr_arena arena; /* owns model and inputs */
    enum osr_embed_api api;
    const char *model;
    struct osr_str *inputs; /* n_inputs texts, NUL-terminated too */
    size_t n_inputs;        /* 0 is valid for Ollama (it loads the model) */
    bool base64;            /* OpenAI encoding_format "base64": float32 little-endian */
    int64_t dimensions;     /* OpenAI "dimensions", 0 when unset */
    bool truncate;          /* Ollama "truncate" (default true) */
    const char *keep_alive; /* Ollama, or NULL */
};

void osr_embed_request_init(struct osr_embed_request *req);
void osr_embed_request_release(struct osr_embed_request *req);

/* Decodes body for api into req (initialized by the caller; released by the caller in every
 * case).  Returns OSR_OK, or OSR_EINVAL / OSR_ETOOBIG with err filled. */
int osr_embed_decode(enum osr_embed_api api, struct osr_embed_request *req, const char *body,
                     size_t n, struct osr_api_error *err);

/* The protocol whose error shape api uses (OpenAI's or Ollama's). */
enum osr_api_proto osr_embed_error_proto(enum osr_embed_api api);

/* Appends the answer: n_vectors vectors of dim floats each, row after row, for req's inputs.
 * prompt_tokens is the token count of all inputs; timings (may be NULL) fill Ollama's
 * durations.  Returns OSR_OK, OSR_EINVAL for a non-finite value (JSON cannot carry it) or a
 * vector count that does not match the inputs, OSR_ETOOBIG when out is full. */
int osr_embed_encode(const struct osr_embed_request *req, const float *vectors, size_t n_vectors,
                     size_t dim, int64_t prompt_tokens, const struct osr_usage *timings,
                     struct osr_buf *out);

#endif
