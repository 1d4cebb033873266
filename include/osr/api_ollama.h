/* api_ollama.h - Ollama's own /api/chat and /api/generate bodies: decoding.
 *
 * The encoders are osr_api_encoder_new(OSR_API_OLLAMA_CHAT or OSR_API_OLLAMA_GENERATE, ...)
 * (api.h): NDJSON lines while streaming (Ollama streams unless "stream":false), one JSON object
 * otherwise, the last carrying done_reason and the timing statistics.
 *
 * Thread rules: reentrant.
 */
#ifndef OSR_API_OLLAMA_H
#define OSR_API_OLLAMA_H

#include <stddef.h>

#include "osr/api.h"
#include "osr/chat.h"

/* Decodes an /api/chat body into req (initialized by the caller; the caller releases it in
 * every case).  Returns OSR_OK, or an error with err filled. */
int osr_ollama_chat_decode(struct osr_chat_request *req, const char *body, size_t n,
                           struct osr_api_error *err);

/* Decodes an /api/generate body: "system" and "prompt" become a system and a user message
 * (raw, suffix, template and images are kept for the backend). */
int osr_ollama_generate_decode(struct osr_chat_request *req, const char *body, size_t n,
                               struct osr_api_error *err);

#endif
