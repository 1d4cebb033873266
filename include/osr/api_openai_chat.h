/* api_openai_chat.h - OpenAI Chat Completions (/v1/chat/completions): decoding.
 *
 * The encoder is osr_api_encoder_new(OSR_API_OPENAI_CHAT, ...) (api.h).  The Ollama
 * /api/chat route of the original also took this body shape; ours takes Ollama's own.
 *
 * Thread rules: reentrant.
 */
#ifndef OSR_API_OPENAI_CHAT_H
#define OSR_API_OPENAI_CHAT_H

#include <stddef.h>

#include "osr/api.h"
#include "osr/chat.h"

/* Decodes a Chat Completions body into req (initialized by the caller with
 * osr_chat_request_init; the caller releases it in every case).  Returns OSR_OK, or OSR_EINVAL
 * / OSR_ETOOBIG with err filled (status 400 or 413) for osr_api_error_body. */
int osr_openai_chat_decode(struct osr_chat_request *req, const char *body, size_t n,
                           struct osr_api_error *err);

#endif
