/* api.h - what every protocol translator shares: error replies and the event encoder.
 *
 * A protocol translator is a pair of pure functions (no sockets, no threads):
 *   - decode: request body bytes -> struct osr_chat_request, or a struct osr_api_error that
 *     osr_api_error_body turns into the protocol's own error JSON with its HTTP status;
 *   - encode: an osr_api_encoder fed canonical events (osr_api_encoder_event) appends wire
 *     frames to an osr_buf: SSE or NDJSON while streaming, or one JSON body built from the
 *     same events at osr_api_encoder_end.
 * The per-protocol decoders are declared in api_openai_chat.h, api_openai_completions.h,
 * api_anthropic.h, api_responses.h and api_ollama.h; embeddings, which are not a chat, have
 * their own small translator in api_embed.h.
 *
 * Thread rules: an encoder belongs to one thread (the producer's); the functions are reentrant.
 */
#ifndef OSR_API_H
#define OSR_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/buf.h"
#include "osr/chat.h"
#include "osr/err.h"

enum osr_api_proto {
    OSR_API_OPENAI_CHAT,        /* /v1/chat/completions */
    OSR_API_ANTHROPIC,          /* /v1/messages */
    OSR_API_RESPONSES,          /* /v1/responses */
    OSR_API_OLLAMA_CHAT,        /* /api/chat */
    OSR_API_OLLAMA_GENERATE,    /* /api/generate */
    OSR_API_OPENAI_COMPLETIONS, /* /v1/completions (legacy text completions) */
};

/* A request the protocol refuses, described well enough to answer it. */
struct osr_api_error {
    int status;           /* HTTP status: 400, 404, 413, ... */
    char code[48];        /* OpenAI "code" ("model_not_found", ...) or "" */
    struct osr_diag diag; /* message, and the offending field in diag.param ("" when none) */
};

/* Fills err: status, a printf-style message, and param (may be NULL). */
void osr_api_error_set(struct osr_api_error *err, int status, const char *param, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

/* Returns the protocol's error "type" for an HTTP status ("invalid_request_error",
 * "not_found_error", ...); Ollama has none and gets the OpenAI names.  OpenAI answers an
 * unknown model with invalid_request_error: set err.code to "model_not_found" for it. */
const char *osr_api_error_type(enum osr_api_proto proto, int status);

/* Appends the protocol's error body for err to out:
 *   OpenAI, Responses, Completions:
 *                      {"error":{"message":..,"type":..,"param":..|null,"code":..|null}}
 *   Anthropic:         {"type":"error","error":{"type":..,"message":..}}
 *   Ollama:            {"error":".."}
 * Returns OSR_OK or OSR_ETOOBIG. */
int osr_api_error_body(enum osr_api_proto proto, const struct osr_api_error *err,
                       struct osr_buf *out);

/* The content type of an error body ("application/json; charset=utf-8"). */
#define OSR_API_JSON_CONTENT_TYPE "application/json; charset=utf-8"

/* Decodes body with proto's decoder (osr_openai_chat_decode, osr_anthropic_decode, ...), so a
 * route table can hold just the protocol.  Same contract as those functions. */
int osr_api_decode(enum osr_api_proto proto, struct osr_chat_request *req, const char *body,
                   size_t n, struct osr_api_error *err);

/* ---------------------------------------------------------------- encoder */

/* Writes prefix followed by a unique suffix into out (of size cap). */
typedef void (*osr_api_id_fn)(void *ctx, const char *prefix, char *out, size_t cap);

struct osr_api_encode_opts {
    const char *model;     /* echoed in every frame; copied */
    bool stream;           /* frames while streaming, else one body at the end */
    bool include_usage;    /* OpenAI chat: the final usage chunk */
    int64_t now_ms;        /* wall clock for "created" fields; 0: the real clock */
    osr_api_id_fn make_id; /* NULL: random hex ids as the original forms them */
    void *id_ctx;
    /* The decoded request, borrowed for the encoder's life, or NULL.  The Responses encoder
     * echoes its settings; Anthropic and Ollama estimate the prompt size from it when no
     * usage event says. */
    const struct osr_chat_request *req;
    size_t max_text; /* cap on text buffered for a body; 0: 64 MiB */
};

struct osr_api_encoder;

/* Returns a new encoder for proto; the caller frees it with osr_api_encoder_free. */
struct osr_api_encoder *osr_api_encoder_new(enum osr_api_proto proto,
                                            const struct osr_api_encode_opts *opts);
void osr_api_encoder_free(struct osr_api_encoder *enc);

/* Feeds one event; while streaming, appends the frames it produces to out.  Events after an
 * ERROR, a FINISH's trailing deltas and extension events without a frame are skipped.
 * Returns OSR_OK, OSR_ETOOBIG (out or the text cap is full), or OSR_EINVAL after end. */
int osr_api_encoder_event(struct osr_api_encoder *enc, const struct osr_event *ev,
                          struct osr_buf *out);

/* Ends the answer: appends the closing frames (finish/usage/[DONE]/message_stop/...) or, when
 * not streaming, the whole body.  A stream that saw neither FINISH nor ERROR ends as an
 * error ("the model stopped without finishing").  Call once. */
int osr_api_encoder_end(struct osr_api_encoder *enc, struct osr_buf *out);

/* The HTTP status of the answer: 200, or for a body whose events held an ERROR, that error's
 * status.  A stream's status is fixed at 200 once its first frame is out. */
int osr_api_encoder_status(const struct osr_api_encoder *enc);

/* Returns true when an ERROR event was seen, and fills err (when non-NULL) with its status and
 * message.  A handler that has sent nothing yet may answer such a stream with err's status and
 * osr_api_error_body instead of the in-stream error frame. */
bool osr_api_encoder_error(const struct osr_api_encoder *enc, struct osr_api_error *err);

/* The Content-Type of the answer ("text/event-stream", "application/x-ndjson", JSON). */
const char *osr_api_encoder_content_type(const struct osr_api_encoder *enc);

/* The id the answer carries ("chatcmpl-...", "msg_...", "resp_..."; "" for Ollama). */
const char *osr_api_encoder_id(const struct osr_api_encoder *enc);

/* Rough prompt size of req in tokens: a quarter of the bytes of the messages, tool calls and
 * tool declarations (schemas included), plus 4 bytes a message, at least 1.  What encoders
 * report when the backend gave no count, and what /v1/messages/count_tokens answers when the
 * backend cannot count exactly, so both agree. */
int64_t osr_api_estimate_tokens(const struct osr_chat_request *req);

/* ---------------------------------------------------------------- sink adapter */

/* A sink that encodes every event into buf and hands the frames to flush.  emit returns
 * non-zero when encoding fails or flush returns non-zero (the client is gone). */
struct osr_api_stream_sink {
    struct osr_sink sink;
    struct osr_api_encoder *enc; /* borrowed */
    struct osr_buf buf;
    int (*flush)(void *ctx, const char *p, size_t n);
    void *flush_ctx;
    int rc; /* first failure */
};

void osr_api_stream_sink_init(struct osr_api_stream_sink *s, struct osr_api_encoder *enc,
                              int (*flush)(void *ctx, const char *p, size_t n), void *ctx);
/* Ends the encoder and flushes the closing frames (nothing, once a flush has failed).
 * Returns the first failure or OSR_OK. */
int osr_api_stream_sink_end(struct osr_api_stream_sink *s);
void osr_api_stream_sink_release(struct osr_api_stream_sink *s);

#endif
